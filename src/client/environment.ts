import type { ClientResponse } from '../protocol/client-messages.js';
import type { RequestBody } from './connection.js';
import { Connection } from './connection.js';
import type { TlsMaterial } from '../tls/tls-config.js';

/** One connection to one node as the client uses it: pipelined requests, each
 * answered, timed out (ClientTimeoutError) or failed with the connection
 * (ConnectionLostError). */
export interface ClientConnection {
  /** Settles once: resolved when usable, rejected (ConnectionLostError) if never. */
  readonly ready: Promise<void>;
  /** True once the connection failed or was closed; the client then opens a new one. */
  readonly closed: boolean;
  request(body: RequestBody, timeoutMs: number): Promise<ClientResponse>;
  /** Fails everything outstanding with ConnectionLostError. */
  close(): void;
}

/**
 * How a RaftClient reaches nodes and tells time. The default is TCP and the system
 * clock; the deterministic simulator passes simulated connections and its own clock,
 * so that it runs the client's real retry logic.
 */
export interface ClientEnvironment {
  /** `tls`: the client's certificate material, when the cluster runs mutual TLS. */
  connect(address: string, connectTimeoutMs: number, tls?: TlsMaterial): ClientConnection;
  /** Milliseconds on a clock that does not go back (deadlines are measured on it). */
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** TCP connections, Date.now and setTimeout. */
export const TCP_ENVIRONMENT: ClientEnvironment = {
  connect: (address, connectTimeoutMs, tls) => new Connection(address, connectTimeoutMs, tls),
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
