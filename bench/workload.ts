/**
 * The load: 16-byte keys drawn uniformly from a key space (10,000 by default) and
 * fixed-size values, driven by N concurrent closed request loops (N in flight) that
 * share RaftClient instances, each client pipelining many requests over one
 * connection per node.
 */
import { RaftClient } from '../src/client/raft-client.js';
import type { TlsMaterial } from '../src/tls/tls-config.js';
import { LatencyRecorder } from './measure.js';
import type { LatencySummary } from './measure.js';

export const KEY_BYTES = 16;

export interface WorkloadShape {
  readonly keySpace: number;
  readonly valueBytes: number;
}

/** Key `i` as exactly 16 ASCII bytes: `key-` and 12 zero-padded digits. */
export function keyAt(index: number): string {
  return `key-${String(index).padStart(KEY_BYTES - 4, '0')}`;
}

export function randomKey(keySpace: number): string {
  return keyAt(Math.floor(Math.random() * keySpace));
}

/** A printable value of exactly `bytes` ASCII bytes (not all one character). */
export function makeValue(bytes: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let value = '';
  for (let i = 0; i < bytes; i += 1) value += alphabet[Math.floor(Math.random() * alphabet.length)];
  return value;
}

/** One request of the workload, sent through `client`. */
export type Operation = (client: RaftClient) => Promise<unknown>;

export function putOperation(shape: WorkloadShape, deadlineMs: number): Operation {
  const value = makeValue(shape.valueBytes);
  return (client) => client.put(randomKey(shape.keySpace), value, { deadlineMs });
}

export function getOperation(shape: WorkloadShape, deadlineMs: number, stale: boolean, found: { hits: number; misses: number }): Operation {
  return async (client) => {
    const value = await client.get(randomKey(shape.keySpace), { deadlineMs, stale });
    if (value === null) found.misses += 1;
    else found.hits += 1;
  };
}

export interface LoadOptions {
  readonly clients: readonly RaftClient[];
  /** Number of concurrent request loops (requests in flight). */
  readonly inflight: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  readonly operation: Operation;
  /** Called about every 100 ms with the fraction of the phase done. */
  readonly onProgress?: (fraction: number) => void;
}

export interface LoadResult {
  readonly inflight: number;
  readonly clients: number;
  readonly seconds: number;
  /** Requests acknowledged inside the measured window, per second. */
  readonly opsPerSec: number;
  readonly acknowledged: number;
  /** Every request acknowledged in the phase, warm-up and drain included. */
  readonly acknowledgedTotal: number;
  readonly errors: number;
  readonly firstError: string | null;
  readonly latency: LatencySummary;
}

interface Window {
  readonly start: number;
  readonly end: number;
}

interface Tally extends ErrorTally {
  readonly latency: LatencyRecorder;
  /** Every request acknowledged, measured window or not. */
  allAcknowledged: number;
}

/** Where failed requests are counted. */
export interface ErrorTally {
  errors: number;
  firstError: string | null;
}

/**
 * Sends one request and returns when it was sent and acknowledged, or undefined when
 * it failed: then it is counted, and the loop pauses 10 ms so that a node refusing
 * requests is not hammered.
 */
export async function timedRequest(client: RaftClient, operation: Operation, tally: ErrorTally): Promise<{ sent: number; acked: number } | undefined> {
  const sent = performance.now();
  try {
    await operation(client);
  } catch (err) {
    tally.errors += 1;
    tally.firstError ??= (err as Error).message ?? String(err);
    await new Promise((resolve) => setTimeout(resolve, 10));
    return undefined;
  }
  return { sent, acked: performance.now() };
}

/** One closed loop: send, wait for the answer, record, repeat until the window ends. */
async function requestLoop(client: RaftClient, operation: Operation, window: Window, tally: Tally): Promise<void> {
  while (performance.now() < window.end) {
    const timed = await timedRequest(client, operation, tally);
    if (timed === undefined) continue;
    const { sent, acked } = timed;
    tally.allAcknowledged += 1;
    // Every request acknowledged inside the window counts, whenever it was sent;
    // its latency is still send-to-acknowledgement.
    if (acked >= window.start && acked <= window.end) tally.latency.recordMs(acked - sent);
  }
}

/**
 * Runs `inflight` loops for warm-up plus the measured window, loop i on client
 * i mod clients. Throughput is the count of acknowledgements inside the window
 * divided by its length; each latency is one request's send-to-acknowledgement time.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const now = performance.now();
  const window: Window = { start: now + options.warmupMs, end: now + options.warmupMs + options.measureMs };
  const tally: Tally = { latency: new LatencyRecorder(), errors: 0, firstError: null, allAcknowledged: 0 };
  const total = options.warmupMs + options.measureMs;
  const progress = setInterval(() => options.onProgress?.(Math.min(1, (performance.now() - now) / total)), 100);
  try {
    const loops = Array.from({ length: options.inflight }, (_, i) => requestLoop(options.clients[i % options.clients.length]!, options.operation, window, tally));
    await Promise.all(loops);
  } finally {
    clearInterval(progress);
  }
  const seconds = options.measureMs / 1000;
  return {
    inflight: options.inflight,
    clients: Math.min(options.clients.length, options.inflight),
    seconds,
    opsPerSec: Math.round(tally.latency.count / seconds),
    acknowledged: tally.latency.count,
    acknowledgedTotal: tally.allAcknowledged,
    errors: tally.errors,
    firstError: tally.firstError,
    latency: tally.latency.summary(),
  };
}

/** `count` clients for `addresses` (with a client certificate when `tls` is given); the caller closes them. */
export function makeClients(addresses: readonly string[], count: number, deadlineMs: number, tls?: TlsMaterial): RaftClient[] {
  return Array.from({ length: Math.max(1, count) }, () => new RaftClient({ cluster: addresses, deadlineMs, tls }));
}

/** Sends one request on each client so connections and leader hints are warm. */
export async function warmClients(clients: readonly RaftClient[], shape: WorkloadShape): Promise<void> {
  await Promise.all(clients.map((client) => client.put(randomKey(shape.keySpace), makeValue(shape.valueBytes), { deadlineMs: 10_000 })));
}
