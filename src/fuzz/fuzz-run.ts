import { readFileSync } from 'node:fs';
import net from 'node:net';

import { Cluster } from '../cluster/local-cluster.js';
import { SeededRandom } from '../core/random.js';
import type { FrameKind } from './frames.js';
import { randomFrame } from './frames.js';

export interface FuzzOptions {
  /** Frames to send in all. */
  readonly frames: number;
  /** Connections open at once. Default 32. */
  readonly concurrency?: number;
  readonly seed?: number;
  /** Called now and then with the frames sent so far. */
  readonly onProgress?: (sent: number) => void;
}

export interface FuzzReport {
  readonly frames: number;
  readonly connections: number;
  readonly byKind: Readonly<Record<FrameKind, number>>;
  readonly seconds: number;
  readonly rssStartBytes: number;
  readonly rssMaxBytes: number;
  readonly rssEndBytes: number;
  /** The node answered correct reads and writes afterwards and never exited. */
  readonly healthy: boolean;
  readonly problems: readonly string[];
}

/** Resident set size of `pid` (Linux /proc), 0 where unknown. */
function rssBytes(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0;
  }
}

/** Sends `frames` on one connection, then closes it; resolves when it is gone. */
function blast(port: number, frames: readonly Buffer[]): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => socket.destroy(), 2000);
    socket.on('error', () => undefined);
    socket.on('data', () => undefined); // read replies so the node never waits on us
    socket.once('connect', () => {
      for (const frame of frames) socket.write(frame);
      socket.end();
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Starts a one-node cluster of a real raft-node process, writes a canary, throws
 * `frames` random and mutated frames at its port over many short connections, then
 * checks it still serves correct reads and writes. The process is killed at the end.
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const random = new SeededRandom(options.seed ?? 1);
  const concurrency = options.concurrency ?? 32;
  const cluster = new Cluster({ nodes: 1 });
  const problems: string[] = [];
  const byKind: Record<FrameKind, number> = { valid: 0, flipped: 0, truncated: 0, extended: 0, 'bad-length': 0, garbage: 0 };
  try {
    await cluster.start();
    await cluster.waitForLeader(15_000);
    const client = cluster.raftClient();
    await client.put('canary', 'alive');
    const pid = cluster.pid(1);
    const rssStartBytes = rssBytes(pid);
    let rssMaxBytes = rssStartBytes;
    let sent = 0;
    let connections = 0;
    const started = Date.now();
    const worker = async (): Promise<void> => {
      while (sent < options.frames) {
        const batch: Buffer[] = [];
        for (let i = 0, n = 1 + random.nextInt(64); i < n && sent < options.frames; i += 1) {
          const frame = randomFrame(random);
          byKind[frame.kind] += 1;
          batch.push(frame.bytes);
          sent += 1;
        }
        connections += 1;
        await blast(cluster.port(1), batch);
        if (connections % 200 === 0) {
          rssMaxBytes = Math.max(rssMaxBytes, rssBytes(pid));
          options.onProgress?.(sent);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
    const seconds = (Date.now() - started) / 1000;
    rssMaxBytes = Math.max(rssMaxBytes, rssBytes(pid));
    if (!cluster.isRunning(1)) problems.push('the node exited');
    try {
      if ((await client.get('canary')) !== 'alive') problems.push('the canary was lost');
      await client.put('after-fuzz', 'ok');
      if ((await client.get('after-fuzz')) !== 'ok') problems.push('a write after the fuzz did not read back');
    } catch (err) {
      problems.push(`reads and writes failed after the fuzz: ${(err as Error).message}`);
    }
    const rssEndBytes = rssBytes(pid);
    return { frames: sent, connections, byKind, seconds, rssStartBytes, rssMaxBytes, rssEndBytes, healthy: problems.length === 0, problems };
  } finally {
    await cluster.destroy();
  }
}
