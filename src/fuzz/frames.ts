import type { PeerMessage } from '../core/messages.js';
import type { Random } from '../core/random.js';
import type { NodeId } from '../core/types.js';
import type { WireMessage } from '../transport/codec.js';
import { encodeMessage } from '../transport/codec.js';
import { encodeFrame } from '../transport/frame.js';
import type { PeerHello } from '../transport/hello.js';
import { snapshotChecksum } from '../transport/snapshot-assembler.js';
import type { SnapshotChunk } from '../transport/snapshot-messages.js';

/**
 * Frames for fuzzing a node's port: valid messages of every wire type (peer, client,
 * hello, and responses a server must refuse), mutated ones (bytes flipped, truncated,
 * extended, lengths that lie) and plain garbage.
 */

const pick = <T>(random: Random, items: readonly T[]): T => items[random.nextInt(items.length)]!;
const count = (random: Random): number => pick(random, [0, 1, 2, 7, 255, 65_536, 2 ** 31, Number.MAX_SAFE_INTEGER, random.nextInt(1000)]);

/** Sender and receiver of the peer messages on an authenticated connection: what its hello said. */
export interface Addressing {
  readonly from: NodeId;
  readonly to: NodeId;
}

/** The valid PeerHello that opens an authenticated connection. */
export function helloFrame(clusterId: string, addressing: Addressing): Buffer {
  const hello: PeerHello = { type: 'PeerHello', clusterId, ...addressing };
  return encodeFrame(encodeMessage(hello));
}

/**
 * One piece of a snapshot transfer. Its total is small or a lie; a third of the time
 * it is a whole small snapshot of random bytes with the right checksum, so the
 * receiver gets past reassembly to installing it.
 */
function randomSnapshotChunk(random: Random, from: NodeId, to: NodeId, term: number): SnapshotChunk {
  const data = new Uint8Array(random.nextInt(48));
  for (let i = 0; i < data.length; i += 1) data[i] = random.nextInt(256);
  const whole = random.nextInt(3) === 0;
  const total = whole ? data.length : pick(random, [data.length + 1 + random.nextInt(100), count(random)]);
  const snapshot = { index: count(random), term: count(random), config: { voters: [from], learners: [] } };
  return { type: 'SnapshotChunk', from, to, term, snapshot, transfer: count(random), offset: whole ? 0 : random.nextInt(4), total, checksum: whole ? snapshotChecksum(data) : random.nextInt(2 ** 32), data };
}

/** One valid peer message (or snapshot chunk) from `from` to `to`, of a random type. */
export function randomPeerMessage(random: Random, from: NodeId, to: NodeId): PeerMessage | SnapshotChunk {
  const term = count(random);
  switch (random.nextInt(8)) {
    case 0:
      return { type: 'VoteRequest', from, to, term, pre: random.nextInt(2) === 0, lastLogIndex: count(random), lastLogTerm: 0, transfer: random.nextInt(2) === 0 };
    case 1:
      return { type: 'VoteResponse', from, to, term, pre: false, granted: random.nextInt(2) === 0 };
    case 2: {
      // Mostly just past a young log, where an append may match and be applied.
      const prevLogIndex = pick(random, [3, random.nextInt(8), count(random)]);
      const prevLogTerm = Math.min(term, random.nextInt(3));
      return {
        type: 'AppendRequest', from, to, term, prevLogIndex, prevLogTerm, commit: count(random),
        entries: Array.from({ length: random.nextInt(4) }, (_, i) => ({ term, index: prevLogIndex + 1 + i, kind: 1 as const, data: new Uint8Array(random.nextInt(64)) })),
      };
    }
    case 3:
      return { type: 'AppendResponse', from, to, term, success: random.nextInt(2) === 0, index: count(random), hintIndex: 0, hintTerm: 0 };
    case 4:
      return { type: 'HeartbeatRequest', from, to, term, commit: count(random), context: count(random) };
    case 5:
      return { type: 'HeartbeatResponse', from, to, term, context: count(random) };
    case 6:
      return { type: 'TimeoutNow', from, to, term };
    default:
      return randomSnapshotChunk(random, from, to, term);
  }
}

/** One valid message of a random type, with random field values. */
export function randomMessage(random: Random): WireMessage {
  const from = 1 + random.nextInt(5);
  const to = 1 + random.nextInt(5);
  const term = count(random);
  const requestId = count(random);
  const key = `k${random.nextInt(100)}`;
  switch (random.nextInt(13)) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
      return randomPeerMessage(random, from, to);
    case 7:
      return { type: 'StatusRequest', requestId };
    case 8:
      return { type: 'KvRequest', requestId, operation: { op: 'put', key: `fuzz-${key}`, value: 'x'.repeat(random.nextInt(100)) }, clientId: `fuzz-${random.nextInt(50)}`, seq: 1 + random.nextInt(1000), firstUnackedSeq: 0, stale: false };
    case 9:
      return { type: 'KvRequest', requestId, operation: { op: 'get', key: `fuzz-${key}` }, clientId: 'fuzz', seq: 0, firstUnackedSeq: 0, stale: random.nextInt(2) === 0 };
    case 10:
      return { type: 'PeerHello', clusterId: `c${random.nextInt(10)}`, from, to };
    case 11:
      return { type: 'StatusResponse', requestId, status: { id: from, role: 'leader', term, leader: from, leaderAddress: null, commit: 0, applied: 0, lastIndex: 0, snapshotIndex: 0, firstIndex: 1, clusterId: '', membership: 'voter', pid: 1 } };
    default:
      return { type: 'ErrorResponse', requestId, code: 'BUSY', message: 'fuzz', leader: 0, leaderAddress: null };
  }
}

/** The kinds of frame produced, for the report. */
export type FrameKind = 'valid' | 'flipped' | 'truncated' | 'extended' | 'bad-length' | 'garbage';

/**
 * One frame: most are valid or nearly so, since those reach the deepest code. With
 * `addressing` (an authenticated connection), nine in ten messages are peer messages
 * from and to the nodes its hello named, so they pass the connection's checks and
 * reach the handlers; the rest are of any type.
 */
export function randomFrame(random: Random, addressing?: Addressing): { kind: FrameKind; bytes: Buffer } {
  const message = addressing !== undefined && random.nextInt(10) < 9 ? randomPeerMessage(random, addressing.from, addressing.to) : randomMessage(random);
  const body = encodeMessage(message);
  const roll = random.nextInt(100);
  if (roll < 35) return { kind: 'valid', bytes: encodeFrame(body) };
  if (roll < 65) {
    const flipped = Buffer.from(body);
    for (let i = 0, n = 1 + random.nextInt(4); i < n; i += 1) flipped[random.nextInt(flipped.length)] = random.nextInt(256);
    return { kind: 'flipped', bytes: encodeFrame(flipped) };
  }
  if (roll < 75) return { kind: 'truncated', bytes: encodeFrame(body.subarray(0, random.nextInt(body.length))) };
  if (roll < 85) return { kind: 'extended', bytes: encodeFrame(Buffer.concat([body, Buffer.from([random.nextInt(256)])])) };
  if (roll < 93) {
    const frame = encodeFrame(body);
    frame.writeUInt32BE(pick(random, [0, 1, body.length + 1, 0xffff_ffff, 16 * 1024 * 1024 + 1, random.nextInt(1 << 20)]), 0);
    return { kind: 'bad-length', bytes: frame };
  }
  const garbage = Buffer.alloc(1 + random.nextInt(64));
  for (let i = 0; i < garbage.length; i += 1) garbage[i] = random.nextInt(256);
  return { kind: 'garbage', bytes: garbage };
}
