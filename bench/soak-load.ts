/**
 * The soak's load: a fixed number of writes (not a fixed time) driven by N closed
 * request loops sharing RaftClient instances, with every latency kept in the
 * one-second window (of wall-clock time) in which it was acknowledged, so windows
 * can later be split by whether some node was taking a snapshot.
 */
import type { RaftClient } from '../src/client/raft-client.js';
import type { Operation } from './workload.js';
import { timedRequest } from './workload.js';

/** Milliseconds since the epoch, with sub-millisecond precision (node logs use Date.now()). */
export const epochMs = (): number => performance.timeOrigin + performance.now();

export interface CountedLoadOptions {
  readonly clients: readonly RaftClient[];
  readonly inflight: number;
  /** Requests to send in all (each attempt counts, failed ones too). */
  readonly writes: number;
  /** No request is sent after this long; the ones in flight end by their deadline. */
  readonly maxMs: number;
  readonly windowMs: number;
  readonly operation: Operation;
  /** Called about every 100 ms with the fraction of the writes sent. */
  readonly onProgress?: (fraction: number) => void;
}

export interface CountedLoadResult {
  /** Epoch ms of the load's start; window i covers [startEpochMs + i*windowMs, +windowMs). */
  readonly startEpochMs: number;
  readonly endEpochMs: number;
  readonly sent: number;
  readonly acknowledged: number;
  readonly errors: number;
  readonly firstError: string | null;
  /** True when the time bound stopped the load before every write was sent. */
  readonly timedOut: boolean;
  /** Latencies in ms, by the window of their acknowledgement. */
  readonly windows: readonly number[][];
}

/** Sends `writes` requests through `inflight` closed loops and keeps every latency by window. */
export async function runCountedLoad(options: CountedLoadOptions): Promise<CountedLoadResult> {
  const startEpochMs = epochMs();
  const stopAt = performance.now() + options.maxMs;
  const windows: number[][] = [];
  const tally = { sent: 0, acknowledged: 0, errors: 0, firstError: null as string | null };
  const record = (ackedEpoch: number, latencyMs: number): void => {
    const index = Math.floor((ackedEpoch - startEpochMs) / options.windowMs);
    for (let i = windows.length; i <= index; i += 1) windows.push([]);
    windows[index]!.push(latencyMs);
  };
  const loop = async (client: RaftClient): Promise<void> => {
    while (tally.sent < options.writes && performance.now() < stopAt) {
      tally.sent += 1;
      const timed = await timedRequest(client, options.operation, tally);
      if (timed === undefined) continue;
      const { sent, acked } = timed;
      tally.acknowledged += 1;
      record(performance.timeOrigin + acked, acked - sent);
    }
  };
  const progress = setInterval(() => options.onProgress?.(Math.min(1, tally.sent / options.writes)), 100);
  try {
    await Promise.all(Array.from({ length: options.inflight }, (_, i) => loop(options.clients[i % options.clients.length]!)));
  } finally {
    clearInterval(progress);
  }
  return { startEpochMs, endEpochMs: epochMs(), ...tally, timedOut: tally.sent < options.writes, windows };
}
