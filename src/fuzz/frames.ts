import type { Random } from '../core/random.js';
import type { WireMessage } from '../transport/codec.js';
import { encodeMessage } from '../transport/codec.js';
import { encodeFrame } from '../transport/frame.js';

/**
 * Frames for fuzzing a node's port: valid messages of every wire type (peer, client,
 * hello, and responses a server must refuse), mutated ones (bytes flipped, truncated,
 * extended, lengths that lie) and plain garbage.
 */

const pick = <T>(random: Random, items: readonly T[]): T => items[random.nextInt(items.length)]!;
const count = (random: Random): number => pick(random, [0, 1, 2, 7, 255, 65_536, 2 ** 31, Number.MAX_SAFE_INTEGER, random.nextInt(1000)]);

/** One valid message of a random type, with random field values. */
export function randomMessage(random: Random): WireMessage {
  const from = 1 + random.nextInt(5);
  const to = 1 + random.nextInt(5);
  const term = count(random);
  const requestId = count(random);
  const key = `k${random.nextInt(100)}`;
  switch (random.nextInt(13)) {
    case 0:
      return { type: 'VoteRequest', from, to, term, pre: random.nextInt(2) === 0, lastLogIndex: count(random), lastLogTerm: 0, transfer: random.nextInt(2) === 0 };
    case 1:
      return { type: 'VoteResponse', from, to, term, pre: false, granted: random.nextInt(2) === 0 };
    case 2:
      return {
        type: 'AppendRequest', from, to, term, prevLogIndex: 3, prevLogTerm: 0, commit: count(random),
        entries: Array.from({ length: random.nextInt(4) }, (_, i) => ({ term, index: 4 + i, kind: 1 as const, data: new Uint8Array(random.nextInt(64)) })),
      };
    case 3:
      return { type: 'AppendResponse', from, to, term, success: random.nextInt(2) === 0, index: count(random), hintIndex: 0, hintTerm: 0 };
    case 4:
      return { type: 'HeartbeatRequest', from, to, term, commit: count(random), context: count(random) };
    case 5:
      return { type: 'HeartbeatResponse', from, to, term, context: count(random) };
    case 6:
      return { type: 'TimeoutNow', from, to, term };
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

/** One frame: most are valid or nearly so, since those reach the deepest code. */
export function randomFrame(random: Random): { kind: FrameKind; bytes: Buffer } {
  const body = encodeMessage(randomMessage(random));
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
