import { ConfigError } from '../errors.js';
import type { NodeId } from '../core/types.js';
import type { PeerAddress } from '../transport/address.js';
import { parseAddress } from '../transport/address.js';


export const DEFAULT_CLUSTER_SIZE = 5;
export const DEFAULT_BASE_PORT = 8000;

/** The default cluster: nodes 1..5 on 127.0.0.1:8001..8005. */
export function defaultPeers(): Map<NodeId, PeerAddress> {
  const peers = new Map<NodeId, PeerAddress>();
  for (let id = 1; id <= DEFAULT_CLUSTER_SIZE; id += 1) peers.set(id, { host: '127.0.0.1', port: DEFAULT_BASE_PORT + id });
  return peers;
}

export const DEFAULT_PEERS_TEXT = [...defaultPeers()].map(([id, a]) => `${id}=${a.host}:${a.port}`).join(',');

/** Parses an integer option within [min, max], or throws a ConfigError naming it. */
export function parseIntegerOption(name: string, text: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(text.trim())) throw new ConfigError(`${name} must be an integer, got "${text}"`);
  const value = Number(text.trim());
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be between ${min} and ${max}, got ${text}`);
  }
  return value;
}

/** `1=127.0.0.1:8001,2=127.0.0.1:8002` → id → address. */
export function parsePeers(text: string): Map<NodeId, PeerAddress> {
  const peers = new Map<NodeId, PeerAddress>();
  const items = text.split(',').map((item) => item.trim()).filter((item) => item !== '');
  if (items.length === 0) throw new ConfigError('--peers is empty; give it like 1=127.0.0.1:8001,2=127.0.0.1:8002,3=127.0.0.1:8003');
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--peers entry "${item}" is not of the form id=host:port (for example 1=127.0.0.1:8001)`);
    const id = parseIntegerOption(`peer id in "${item}"`, item.slice(0, eq), 1, Number.MAX_SAFE_INTEGER);
    if (peers.has(id)) throw new ConfigError(`--peers names node ${id} twice`);
    peers.set(id, parseAddress(item.slice(eq + 1)));
  }
  return peers;
}

/** `127.0.0.1:8001,127.0.0.1:8002` → addresses (for the client's --cluster). */
export function parseCluster(text: string): string[] {
  const items = text.split(',').map((item) => item.trim()).filter((item) => item !== '');
  if (items.length === 0) throw new ConfigError('--cluster is empty; give it like 127.0.0.1:8001,127.0.0.1:8002');
  for (const item of items) parseAddress(item);
  return items;
}
