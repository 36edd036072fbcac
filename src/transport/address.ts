import { ConfigError } from '../errors.js';

/** Where a node listens: one port serves both peers and clients. */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

const PORT_PATTERN = /^[0-9]{1,5}$/;

/**
 * Parses `host:port` (`127.0.0.1:8001`, `localhost:8001`, `[::1]:8001`).
 * @throws ConfigError naming the input and the expected form.
 */
export function parseAddress(text: string): PeerAddress {
  const { host, portText } = splitHostPort(text);
  if (host.length === 0) throw invalidAddress(text, 'missing host');
  if (/\s/.test(host)) throw invalidAddress(text, 'host contains whitespace');
  const port = Number(portText);
  if (!PORT_PATTERN.test(portText) || port < 1 || port > 65535) {
    throw invalidAddress(text, 'port must be an integer from 1 to 65535');
  }
  return { host, port };
}

function splitHostPort(text: string): { host: string; portText: string } {
  if (text.startsWith('[')) {
    const match = /^\[([^\]]*)\]:(.*)$/.exec(text);
    if (match === null) throw invalidAddress(text, 'expected [ipv6-host]:port');
    return { host: match[1] as string, portText: match[2] as string };
  }
  const separator = text.lastIndexOf(':');
  if (separator < 0) throw invalidAddress(text, 'missing ":port"');
  const host = text.slice(0, separator);
  // An unbracketed IPv6 host is ambiguous: which colon starts the port?
  if (host.includes(':')) throw invalidAddress(text, 'write IPv6 hosts in brackets, e.g. [::1]:8001');
  return { host, portText: text.slice(separator + 1) };
}

/** The inverse of parseAddress, for logs and status replies. */
export function formatAddress(address: PeerAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

function invalidAddress(text: string, reason: string): ConfigError {
  return new ConfigError(`invalid address ${JSON.stringify(text)}: ${reason} (expected host:port, e.g. 127.0.0.1:8001)`);
}
