import { createPrivateKey, X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type tls from 'node:tls';

import type { NodeId } from '../core/types.js';
import { ConfigError } from '../errors.js';
import type { Identity } from './identity.js';
import { describeIdentity, identityFromSubjectAltName } from './identity.js';

/** Paths given on the command line (`--tls-cert`, `--tls-key`, `--tls-ca`). */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

/**
 * The loaded PEM material of one TLS endpoint, plus the identity its own certificate
 * names. Every connection made or accepted with it is TLS 1.3 with a certificate from
 * `ca` required on both sides.
 */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
  readonly identity: Identity;
}

export const TLS_MIN_VERSION = 'TLSv1.3';

async function readPem(flag: string, file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`${flag} ${file} cannot be read (${code})`);
  }
}

/**
 * Reads and checks the three files: the certificate parses, names one raftts identity,
 * matches the key and was issued by the CA file. Throws ConfigError with a line that
 * names the flag at fault.
 */
export async function loadTlsMaterial(files: TlsFiles): Promise<TlsMaterial> {
  const [cert, key, ca] = await Promise.all([
    readPem('--tls-cert', files.certFile),
    readPem('--tls-key', files.keyFile),
    readPem('--tls-ca', files.caFile),
  ]);
  let parsed: X509Certificate;
  let caCert: X509Certificate;
  try {
    parsed = new X509Certificate(cert);
  } catch {
    throw new ConfigError(`--tls-cert ${files.certFile} is not a PEM certificate`);
  }
  try {
    caCert = new X509Certificate(ca);
  } catch {
    throw new ConfigError(`--tls-ca ${files.caFile} is not a PEM certificate`);
  }
  try {
    if (!parsed.checkPrivateKey(createPrivateKey(key))) throw new Error('mismatch');
  } catch {
    throw new ConfigError(`--tls-key ${files.keyFile} is not the private key of --tls-cert ${files.certFile}`);
  }
  if (!parsed.checkIssued(caCert) || !parsed.verify(caCert.publicKey)) {
    throw new ConfigError(`--tls-cert ${files.certFile} was not issued by --tls-ca ${files.caFile}`);
  }
  const identity = identityFromSubjectAltName(parsed.subjectAltName);
  if (identity === undefined) {
    throw new ConfigError(`--tls-cert ${files.certFile} names no raftts identity (a subjectAltName URI such as raftts://node/1); make certificates with raft-cli certs init`);
  }
  return { cert, key, ca, identity };
}

/** Fails unless `material` is node `id`'s: a node must not run on another's certificate. */
export function requireNodeIdentity(material: TlsMaterial, id: NodeId): void {
  const { identity } = material;
  if (identity.kind !== 'node' || identity.id !== id) {
    throw new ConfigError(`--tls-cert names ${describeIdentity(identity)}, but this is node ${id}; give it node ${id}'s certificate`);
  }
}

/**
 * Options for tls.connect. The server's certificate must chain to the CA and, when
 * `expect` is given, name exactly that identity: a node dialling node 3 must reach
 * node 3, whatever answers at the address. Host names are not checked; the raftts
 * identity is what matters.
 */
export function clientTlsOptions(material: TlsMaterial, expect?: Identity): tls.ConnectionOptions {
  return {
    cert: material.cert,
    key: material.key,
    ca: material.ca,
    minVersion: TLS_MIN_VERSION,
    rejectUnauthorized: true,
    checkServerIdentity: (_host, peer) => {
      if (expect === undefined) return undefined;
      const found = identityFromSubjectAltName(peer.subjectaltname);
      if (found !== undefined && describeIdentity(found) === describeIdentity(expect)) return undefined;
      const err = new Error(`the server's certificate names ${describeIdentity(found)}, expected ${describeIdentity(expect)}`) as NodeJS.ErrnoException;
      err.code = 'ERR_RAFTTS_IDENTITY';
      return err;
    },
  };
}
