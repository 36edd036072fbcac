import { createRequire } from 'node:module';
import type * as Tls from 'node:tls';

const require = createRequire(import.meta.url);
let loaded: typeof Tls | undefined;

/**
 * `node:tls`, loaded on first use rather than imported, so that a plaintext node
 * (the default) does not carry it: about 1.4 MB of resident memory per process.
 * Synchronous, like the import it replaces.
 */
export function nodeTls(): typeof Tls {
  loaded ??= require('node:tls') as typeof Tls;
  return loaded;
}
