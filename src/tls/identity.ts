import type { NodeId } from '../core/types.js';

/**
 * Who is at the other end of a TLS connection, read from its certificate. The
 * identity is a URI in the certificate's subjectAltName (SPIFFE-like):
 *
 * - `raftts://node/<id>`    a cluster member: may send peer traffic as node <id> only;
 * - `raftts://client/<name>` a client: key-value and status requests;
 * - `raftts://admin/<name>`  a client that may also send admin requests.
 *
 * A certificate must carry exactly one such URI; anything else is no identity.
 */
export type Identity =
  | { readonly kind: 'node'; readonly id: NodeId }
  | { readonly kind: 'client'; readonly name: string }
  | { readonly kind: 'admin'; readonly name: string };

export const IDENTITY_URI_PREFIX = 'raftts://';

const NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** The SAN URI naming `identity`, e.g. `raftts://node/3`. */
export function identityUri(identity: Identity): string {
  return identity.kind === 'node' ? `${IDENTITY_URI_PREFIX}node/${identity.id}` : `${IDENTITY_URI_PREFIX}${identity.kind}/${identity.name}`;
}

/** Parses one `raftts://...` URI; undefined when it is not a well-formed identity. */
export function parseIdentityUri(uri: string): Identity | undefined {
  if (!uri.startsWith(IDENTITY_URI_PREFIX)) return undefined;
  const rest = uri.slice(IDENTITY_URI_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash < 0) return undefined;
  const kind = rest.slice(0, slash);
  const value = rest.slice(slash + 1);
  if (kind === 'node') {
    if (!/^[1-9]\d{0,15}$/.test(value)) return undefined;
    const id = Number(value);
    return Number.isSafeInteger(id) ? { kind, id } : undefined;
  }
  if ((kind === 'client' || kind === 'admin') && NAME_PATTERN.test(value)) return { kind, name: value };
  return undefined;
}

/**
 * The identity in a certificate's `subjectaltname` as Node reports it
 * (`URI:raftts://node/3, DNS:localhost`). Undefined unless exactly one raftts URI is
 * present and it parses: two identities in one certificate would be ambiguous.
 */
export function identityFromSubjectAltName(subjectAltName: string | undefined): Identity | undefined {
  if (subjectAltName === undefined) return undefined;
  const uris = subjectAltName
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`URI:${IDENTITY_URI_PREFIX}`))
    .map((part) => part.slice('URI:'.length));
  if (uris.length !== 1) return undefined;
  return parseIdentityUri(uris[0]!);
}

/** For log lines: `node 3`, `client alice`, `admin ops`. */
export function describeIdentity(identity: Identity | undefined): string {
  if (identity === undefined) return 'no identity';
  return identity.kind === 'node' ? `node ${identity.id}` : `${identity.kind} ${identity.name}`;
}
