// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as x509 from '@peculiar/x509';

import type { NodeId } from '../core/types.js';
import type { Identity } from './identity.js';
import { describeIdentity, identityUri } from './identity.js';

/**
 * Issues the cluster's certificates (`raft-cli certs init`). Node's crypto can make
 * keys but not X.509 certificates, so @peculiar/x509 builds them on WebCrypto.
 * ECDSA P-256 with SHA-256: small, fast handshakes, supported by every TLS 1.3 stack.
 */

const crypto = webcrypto as unknown as Crypto;
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

/** A PEM certificate and its PEM (PKCS#8) private key. */
export interface IssuedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CertificateAuthority extends IssuedCertificate {
  readonly cert: x509.X509Certificate;
  readonly keys: CryptoKeyPair;
}

export interface CertsInitOptions {
  readonly outDir: string;
  readonly nodes: readonly NodeId[];
  /** Name of the plain client certificate. Default `client`. */
  readonly clientName?: string;
  /** Name of the admin client certificate. Default `admin`. */
  readonly adminName?: string;
  /** Validity of every certificate. Default 825 days. */
  readonly days?: number;
}

/** What certs init wrote, relative to outDir. */
export interface CertsInitResult {
  readonly files: readonly string[];
}

function serial(): string {
  // Positive 16-byte serial: RFC 5280 asks for at most 20 octets, non-negative.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f;
  return Buffer.from(bytes).toString('hex');
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
}

/** A self-signed CA that may only sign leaf certificates (pathLength 0). */
export async function createCertificateAuthority(commonName: string, days = 3650): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: `CN=${commonName}`,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + days * DAY_MS),
      keys,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { cert, keys, certPem: cert.toString('pem'), keyPem: await keyPem(keys.privateKey) };
}

/**
 * A leaf certificate for `identity`, signed by `ca`. Every leaf can act as TLS server
 * and client: a node is both, and one kind of file is simpler to reason about.
 * `dnsNames` are added for tools that check host names (raft-ts itself checks the
 * raftts URI, not the host name).
 */
export async function issueCertificate(ca: CertificateAuthority, identity: Identity, days = 825, dnsNames: readonly string[] = ['localhost']): Promise<IssuedCertificate> {
  const keys = await generateKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: `CN=raft-ts ${describeIdentity(identity)}`,
      issuer: ca.cert.subject,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + days * DAY_MS),
      publicKey: keys.publicKey,
      signingKey: ca.keys.privateKey,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([
          { type: 'url', value: identityUri(identity) },
          ...dnsNames.map((name) => ({ type: 'dns' as const, value: name })),
          { type: 'ip', value: '127.0.0.1' },
        ]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: cert.toString('pem'), keyPem: await keyPem(keys.privateKey) };
}

/** Writes a file with `mode`, failing rather than overwriting an existing one. */
async function writeNew(file: string, text: string, mode: number): Promise<void> {
  const handle = await fs.open(file, 'wx', mode);
  try {
    await handle.writeFile(text);
    // open's mode is filtered by the umask; keys must be 0600 whatever it is.
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

/**
 * Creates `outDir` with a CA (`ca.crt`, `ca.key`), `node-<id>.crt/.key` per node,
 * `client.crt/.key` and `admin.crt/.key`. Keys are mode 0600, certificates 0644.
 * Refuses to overwrite existing files (EEXIST), so a CA is never replaced by accident.
 */
export async function certsInit(options: CertsInitOptions): Promise<CertsInitResult> {
  const days = options.days ?? 825;
  await fs.mkdir(options.outDir, { recursive: false }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const ca = await createCertificateAuthority('raft-ts cluster CA');
  const leaves: [string, Identity][] = [
    ...options.nodes.map((id): [string, Identity] => [`node-${id}`, { kind: 'node', id }]),
    ['client', { kind: 'client', name: options.clientName ?? 'client' }],
    ['admin', { kind: 'admin', name: options.adminName ?? 'admin' }],
  ];
  const files: string[] = [];
  const write = async (name: string, text: string, mode: number): Promise<void> => {
    await writeNew(path.join(options.outDir, name), text, mode);
    files.push(name);
  };
  await write('ca.crt', ca.certPem, 0o644);
  await write('ca.key', ca.keyPem, 0o600);
  for (const [base, identity] of leaves) {
    const issued = await issueCertificate(ca, identity, days);
    await write(`${base}.crt`, issued.certPem, 0o644);
    await write(`${base}.key`, issued.keyPem, 0o600);
  }
  return { files };
}
