import { readFileSync } from 'node:fs';
import net from 'node:net';

import { Cluster } from '../cluster/local-cluster.js';
import { SeededRandom } from '../core/random.js';
import type { NodeStatus } from '../protocol/client-messages.js';
import { decodeMessage, encodeFrameMessage } from '../transport/codec.js';
import { FRAME_BYTES_MAX_DEFAULT, FrameDecoder } from '../transport/frame.js';
import type { Addressing, FrameKind } from './frames.js';
import { helloFrame, randomFrame } from './frames.js';

export interface FuzzOptions {
  /** Frames to send in all. */
  readonly frames: number;
  /** Connections open at once. Default 32. */
  readonly concurrency?: number;
  readonly seed?: number;
  /** Share of connections (0..1) that open with a valid PeerHello carrying the node's
   * cluster id, so their frames get past the handshake to the message handlers. Default 0.5. */
  readonly authenticatedShare?: number;
  /** Called now and then with the frames sent so far. */
  readonly onProgress?: (sent: number) => void;
}

export interface FuzzReport {
  readonly frames: number;
  readonly connections: number;
  readonly byKind: Readonly<Record<FrameKind, number>>;
  /** The node's cluster id, read from its status over the client protocol. */
  readonly clusterId: string;
  readonly authenticated: AuthenticatedFigures;
  readonly seconds: number;
  readonly rssStartBytes: number;
  readonly rssMaxBytes: number;
  readonly rssEndBytes: number;
  /** The node answered correct reads and writes afterwards and never exited. */
  readonly healthy: boolean;
  readonly problems: readonly string[];
  /** The node's log, kept when it was not healthy (null otherwise). */
  readonly nodeLog: string | null;
}

/** Connections that opened with a valid hello, and what came of it. */
export interface AuthenticatedFigures {
  readonly connections: number;
  /** Hellos the node accepted: it still answered a status request on that connection. */
  readonly hellosAccepted: number;
  /** Frames sent after an accepted hello (counted in `frames` too). */
  readonly framesAfterHello: number;
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

/** A request whose answer proves the connection survived its hello. */
const PROBE = encodeFrameMessage({ type: 'StatusRequest', requestId: 1 });

/**
 * Opens a connection with a valid hello and a status request; once the status answer
 * shows the node accepted the hello (a refused one closes the connection), sends
 * `frames` on it and closes it. Resolves with whether the hello was accepted; frames
 * are only sent when it was.
 */
function blastAuthenticated(port: number, hello: Buffer, frames: readonly Buffer[]): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const decoder = new FrameDecoder(FRAME_BYTES_MAX_DEFAULT);
    let accepted = false;
    const timer = setTimeout(() => socket.destroy(), 2000);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      if (accepted) return;
      try {
        for (const body of decoder.push(chunk)) {
          const message = decodeMessage(body);
          if (message.type !== 'StatusResponse' || message.requestId !== 1) continue;
          accepted = true;
          for (const frame of frames) socket.write(frame);
          socket.end();
          return;
        }
      } catch {
        socket.destroy();
      }
    });
    socket.once('connect', () => socket.write(Buffer.concat([hello, PROBE])));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(accepted);
    });
  });
}

/** The node's status over the client protocol (its cluster id and node id). */
async function statusOf(cluster: Cluster): Promise<NodeStatus> {
  const [status] = await cluster.statuses();
  if (status === undefined) throw new Error('the node did not answer a status request');
  return status;
}

/**
 * Starts a one-node cluster of a real raft-node process, writes a canary, throws
 * `frames` random and mutated frames at its port over many short connections, then
 * checks it still serves correct reads and writes. Some connections (authenticatedShare)
 * first send a valid PeerHello with the node's cluster id from a made-up peer, then
 * frames that are mostly peer messages from that peer: these reach the core and the
 * snapshot receiver, not only the decoder. The process is killed at the end.
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const random = new SeededRandom(options.seed ?? 1);
  const concurrency = options.concurrency ?? 32;
  const authenticatedShare = options.authenticatedShare ?? 0.5;
  if (!(authenticatedShare >= 0 && authenticatedShare <= 1)) throw new RangeError(`authenticatedShare must be from 0 to 1, got ${authenticatedShare}`);
  const cluster = new Cluster({ nodes: 1 });
  const problems: string[] = [];
  const byKind: Record<FrameKind, number> = { valid: 0, flipped: 0, truncated: 0, extended: 0, 'bad-length': 0, garbage: 0 };
  try {
    await cluster.start();
    await cluster.waitForLeader(15_000);
    const client = cluster.raftClient();
    await client.put('canary', 'alive');
    const { clusterId, id: self } = await statusOf(cluster);
    const pid = cluster.pid(1);
    const rssStartBytes = rssBytes(pid);
    let rssMaxBytes = rssStartBytes;
    let sent = 0;
    let connections = 0;
    const authenticated = { connections: 0, hellosAccepted: 0, framesAfterHello: 0 };
    let helloWorks = true;
    const started = Date.now();
    const worker = async (): Promise<void> => {
      while (sent < options.frames) {
        // A made-up peer (never the node itself, whose own id the core refuses).
        const addressing: Addressing | undefined = helloWorks && random.nextFloat() < authenticatedShare ? { from: self + 1 + random.nextInt(4), to: self } : undefined;
        const kinds: FrameKind[] = [];
        const batch: Buffer[] = [];
        for (let i = 0, n = 1 + random.nextInt(64); i < n && sent + batch.length < options.frames; i += 1) {
          const frame = randomFrame(random, addressing);
          kinds.push(frame.kind);
          batch.push(frame.bytes);
        }
        // Counted before the await: the workers share the budget of frames.
        sent += batch.length;
        connections += 1;
        let delivered = true;
        if (addressing === undefined) {
          await blast(cluster.port(1), batch);
        } else {
          authenticated.connections += 1;
          delivered = await blastAuthenticated(cluster.port(1), helloFrame(clusterId, addressing), batch);
          if (delivered) {
            authenticated.hellosAccepted += 1;
            authenticated.framesAfterHello += batch.length;
          }
        }
        // A refused hello sends nothing after it: those frames go back to the budget.
        if (delivered) {
          for (const kind of kinds) byKind[kind] += 1;
        } else {
          sent -= batch.length;
        }
        if (helloWorks && authenticated.hellosAccepted === 0 && authenticated.connections >= 100) {
          helloWorks = false;
          problems.push(`the node refused ${authenticated.connections} valid hellos with cluster id ${clusterId}`);
        }
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
    const nodeLog = problems.length === 0 ? null : cluster.logFile(1);
    return { frames: sent, connections, byKind, clusterId, authenticated, seconds, rssStartBytes, rssMaxBytes, rssEndBytes, healthy: problems.length === 0, problems, nodeLog };
  } finally {
    // The node's log is kept when something went wrong, for the post-mortem.
    await cluster.destroy(problems.length > 0);
  }
}
