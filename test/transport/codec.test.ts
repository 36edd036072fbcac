/**
 * The codec is the gateway: every wire type must round-trip unchanged (binary entry
 * payloads included), and every field rule must turn a bad body into a
 * FrameDecodeError that names the field, never into a typed object.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import msgpack from 'msgpack-lite';

import { EntryKind } from '../../src/core/types.js';
import type { Entry } from '../../src/core/types.js';
import { FrameDecodeError } from '../../src/errors.js';
import { TERM_MAX, decodeMessage, encodeFrameMessage, encodeMessage, type WireMessage } from '../../src/transport/codec.js';
import { FrameDecoder } from '../../src/transport/frame.js';

function entry(index: number, term: number, data: number[] = [index], kind = EntryKind.Command): Entry {
  return { index, term, kind, data: new Uint8Array(data) };
}

const EXAMPLES: readonly WireMessage[] = [
  { type: 'VoteRequest', from: 1, to: 2, term: 5, pre: true, lastLogIndex: 10, lastLogTerm: 4, transfer: false },
  { type: 'VoteResponse', from: 2, to: 1, term: 5, pre: false, granted: true },
  {
    type: 'AppendRequest',
    from: 1,
    to: 3,
    term: 7,
    prevLogIndex: 9,
    prevLogTerm: 6,
    entries: [entry(10, 6, [0, 255, 128]), entry(11, 7, [], EntryKind.Noop), entry(12, 7, [1, 2, 3, 4])],
    commit: 9,
  },
  { type: 'AppendRequest', from: 1, to: 2, term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], commit: 0 },
  { type: 'AppendResponse', from: 3, to: 1, term: 7, success: false, index: 9, hintIndex: 4, hintTerm: 3 },
  { type: 'HeartbeatRequest', from: 1, to: 2, term: 7, commit: 12, context: 3 },
  { type: 'HeartbeatResponse', from: 2, to: 1, term: 7, context: 3 },
  { type: 'TimeoutNow', from: 1, to: 2, term: 2 ** 52 },
  { type: 'InstallSnapshot', from: 1, to: 2, term: 4, snapshot: { index: 10, term: 3, config: { voters: [1, 2, 3], learners: [4] } } },
  {
    type: 'SnapshotChunk',
    from: 1,
    to: 2,
    term: 4,
    snapshot: { index: 10, term: 3, config: { voters: [1, 2, 3], learners: [] } },
    transfer: 7,
    offset: 3,
    total: 6,
    checksum: 0xdeadbeef,
    data: Buffer.from([1, 2, 3]),
  },
  { type: 'SnapshotAck', from: 2, to: 1, transfer: 7, ok: false, reason: 'snapshot checksum mismatch' },
  { type: 'StatusRequest', requestId: 0 },
  { type: 'KvRequest', requestId: 1, operation: { op: 'put', key: 'k', value: 'v' }, clientId: 'c1', seq: 1, firstUnackedSeq: 1, stale: false },
  { type: 'KvRequest', requestId: 2, operation: { op: 'get', key: 'k' }, clientId: 'c1', seq: 2, firstUnackedSeq: 1, stale: true },
  { type: 'KvRequest', requestId: 3, operation: { op: 'delete', key: 'k' }, clientId: 'c1', seq: 3, firstUnackedSeq: 1, stale: false },
  { type: 'KvRequest', requestId: 4, operation: { op: 'cas', key: 'k', expect: null, value: 'v' }, clientId: 'c', seq: 4, firstUnackedSeq: 1, stale: false },
  { type: 'KvRequest', requestId: 5, operation: { op: 'cas', key: 'k', expect: 'old', value: 'new' }, clientId: 'c', seq: 5, firstUnackedSeq: 1, stale: false },
  {
    type: 'StatusResponse',
    requestId: 6,
    status: { id: 1, role: 'pre-candidate', term: 3, leader: 0, leaderAddress: null, commit: 2, applied: 2, lastIndex: 4, snapshotIndex: 0, firstIndex: 1, clusterId: '', pid: 1234, membership: 'voter' },
  },
  {
    type: 'StatusResponse',
    requestId: 7,
    status: { id: 2, role: 'leader', term: 3, leader: 2, leaderAddress: '127.0.0.1:8002', commit: 5, applied: 5, lastIndex: 5, snapshotIndex: 0, firstIndex: 1, clusterId: '', pid: 1, membership: 'learner' },
  },
  { type: 'KvResponse', requestId: 8, result: { ok: true, value: null, index: 12 } },
  { type: 'KvResponse', requestId: 9, result: { ok: false, value: 'current', index: 0 } },
  { type: 'ErrorResponse', requestId: 10, code: 'NOT_LEADER', message: 'not the leader', leader: 2, leaderAddress: '127.0.0.1:8002' },
  { type: 'ErrorResponse', requestId: 11, code: 'BUSY', message: '', leader: 0, leaderAddress: null },
  { type: 'ErrorResponse', requestId: 12, code: 'CHANGE_REFUSED', message: 'node 3 is already a member', leader: 1, leaderAddress: '127.0.0.1:8001' },
  { type: 'ErrorResponse', requestId: 13, code: 'CHANGE_PENDING', message: 'retry shortly', leader: 1, leaderAddress: null },
  { type: 'MemberListRequest', requestId: 14 },
  {
    type: 'MemberListResponse',
    requestId: 15,
    members: [
      { id: 1, address: '127.0.0.1:8001', role: 'voter', match: 40, lag: 0 },
      { id: 6, address: '127.0.0.1:8006', role: 'learner', match: 12, lag: 28 },
    ],
  },
  { type: 'MemberListResponse', requestId: 16, members: [] },
  { type: 'MemberChangeRequest', requestId: 17, change: { op: 'add-learner', id: 6, address: '127.0.0.1:8006' } },
  { type: 'MemberChangeRequest', requestId: 18, change: { op: 'add-voter', id: 7, address: '[::1]:8007' } },
  { type: 'MemberChangeRequest', requestId: 19, change: { op: 'promote', id: 6 } },
  { type: 'MemberChangeRequest', requestId: 20, change: { op: 'remove', id: 1 } },
  {
    type: 'MemberChangeResponse',
    requestId: 21,
    index: 44,
    voters: [1, 2, 3],
    learners: [6],
    addresses: [
      { id: 1, address: '127.0.0.1:8001' },
      { id: 6, address: '127.0.0.1:8006' },
    ],
  },
];

/** Encodes an arbitrary value the way a (possibly hostile) peer could. */
function raw(value: unknown): Buffer {
  return msgpack.encode(value);
}

/** Compares messages with entry payloads as plain byte arrays (Buffer vs Uint8Array). */
function normalize(message: WireMessage): unknown {
  if (message.type !== 'AppendRequest') return message;
  return { ...message, entries: message.entries.map((e) => ({ ...e, data: [...e.data] })) };
}

function assertRejected(body: Buffer, fieldMention: string | RegExp): void {
  assert.throws(
    () => decodeMessage(body),
    (err: unknown) => {
      assert.ok(err instanceof FrameDecodeError, `expected FrameDecodeError, got ${String(err)}`);
      assert.equal(err.code, 'RAFT_FRAME_DECODE');
      if (typeof fieldMention === 'string') assert.ok(err.message.includes(fieldMention), err.message);
      else assert.match(err.message, fieldMention);
      return true;
    },
  );
}

const VOTE_REQUEST = { type: 'VoteRequest', from: 1, to: 2, term: 5, pre: false, lastLogIndex: 3, lastLogTerm: 2, transfer: false };
const APPEND_REQUEST = {
  type: 'AppendRequest',
  from: 1,
  to: 2,
  term: 3,
  prevLogIndex: 4,
  prevLogTerm: 2,
  entries: [
    { term: 2, index: 5, kind: 1, data: Buffer.from([1]) },
    { term: 3, index: 6, kind: 0, data: Buffer.alloc(0) },
  ],
  commit: 4,
};
const KV_REQUEST = { type: 'KvRequest', requestId: 1, operation: { op: 'get', key: 'k' }, clientId: 'c', seq: 1, firstUnackedSeq: 1, stale: false };

function withEntry(position: number, patch: Record<string, unknown>): Record<string, unknown> {
  const entries = APPEND_REQUEST.entries.map((e, i) => (i === position ? { ...e, ...patch } : e));
  return { ...APPEND_REQUEST, entries };
}

describe('codec round trip', () => {
  for (const [position, message] of EXAMPLES.entries()) {
    it(`round-trips example ${position}, a ${message.type}`, () => {
      const decoded = decodeMessage(encodeMessage(message));
      assert.deepEqual(normalize(decoded), normalize(message));
    });
  }

  it('sends entry data as msgpack bin and decodes it to bytes', () => {
    const data = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
    const message: WireMessage = { type: 'AppendRequest', from: 1, to: 2, term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [entry(1, 1)], commit: 0 };
    const body = encodeMessage({ ...message, entries: [{ ...entry(1, 1), data }] });
    // bin 8 (0xc4), length 4, then the bytes: not an ext type, not a map of indexes.
    assert.ok(body.includes(Buffer.from([0xc4, 4, 0xde, 0xad, 0xbe, 0xef])));
    const decoded = decodeMessage(body);
    assert.equal(decoded.type, 'AppendRequest');
    const decodedData = decoded.type === 'AppendRequest' ? decoded.entries[0]?.data : undefined;
    assert.ok(decodedData instanceof Uint8Array);
    assert.deepEqual([...decodedData], [0xde, 0xad, 0xbe, 0xef]);
  });

  it('encodes a Uint8Array view into a larger buffer as just the view', () => {
    const backing = new Uint8Array([9, 9, 1, 2, 9]);
    const message: WireMessage = {
      type: 'AppendRequest', from: 1, to: 2, term: 1, prevLogIndex: 0, prevLogTerm: 0,
      entries: [{ index: 1, term: 1, kind: EntryKind.Command, data: backing.subarray(2, 4) }], commit: 0,
    };
    const decoded = decodeMessage(encodeMessage(message));
    assert.deepEqual(decoded.type === 'AppendRequest' ? [...(decoded.entries[0]?.data ?? [])] : undefined, [1, 2]);
  });

  it('encodeFrameMessage frames the encoded body', () => {
    const message = EXAMPLES[0] as WireMessage;
    const [body] = new FrameDecoder(1024).push(encodeFrameMessage(message));
    assert.deepEqual(decodeMessage(body as Buffer), message);
  });

  it('frames appends that share entries alike for every follower, and never reuses the encoding of other entries', () => {
    const frameBody = (message: WireMessage): Buffer => new FrameDecoder(1 << 20).push(encodeFrameMessage(message))[0] as Buffer;
    const shared = [entry(5, 2, [1, 2, 3]), entry(6, 2, [4]), entry(7, 3, [5, 6])];
    const base = { type: 'AppendRequest', from: 1, term: 3, prevLogIndex: 4, prevLogTerm: 2, commit: 4 } as const;
    const toTwo: WireMessage = { ...base, to: 2, entries: shared.slice() };
    const toThree: WireMessage = { ...base, to: 3, entries: shared.slice(), commit: 5 };
    // Same first and last entry, same count, one entry in between replaced: a new slice.
    const middleReplaced: WireMessage = { ...base, to: 2, entries: [shared[0]!, entry(6, 3, [9, 9]), shared[2]!] };
    const shorter: WireMessage = { ...base, to: 3, entries: shared.slice(0, 2) };
    for (const message of [toTwo, toThree, shorter, toTwo, middleReplaced, toThree]) {
      assert.deepEqual(normalize(decodeMessage(frameBody(message))), normalize(message));
    }
  });

  it('returns a fresh object with only the known fields', () => {
    const hostile: unknown = { ...JSON.parse('{"__proto__": {"admin": true}}'), ...VOTE_REQUEST, extra: 'ignored' };
    const decoded = decodeMessage(raw(hostile));
    assert.deepEqual(Object.keys(decoded).sort(), Object.keys(VOTE_REQUEST).sort());
    assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
  });

  it('takes terms up to TERM_MAX, which leaves 2^52 campaigns of headroom below 2^53', () => {
    assert.equal(TERM_MAX, 2 ** 52);
    assert.equal(decodeMessage(raw({ ...VOTE_REQUEST, term: TERM_MAX })).type, 'VoteRequest');
  });

  it('does not let inherited properties pass for fields', () => {
    // A map whose only key is __proto__ must not supply `type` and friends.
    assertRejected(raw(JSON.parse('{"__proto__": {"type": "StatusRequest", "requestId": 1}}')), 'message.type');
  });
});

describe('codec validation', () => {
  const cases: readonly { name: string; body: Buffer; mention: string | RegExp }[] = [
    { name: 'msgpack garbage', body: Buffer.from([0xc1, 0x00]), mention: 'undecodable' },
    { name: 'truncated msgpack', body: raw(VOTE_REQUEST).subarray(0, 10), mention: 'undecodable' },
    { name: 'empty body', body: Buffer.alloc(0), mention: 'undecodable' },
    { name: 'trailing bytes', body: Buffer.concat([raw(VOTE_REQUEST), Buffer.from([1])]), mention: 'trailing' },
    { name: 'a non-map body (array)', body: raw([1, 2, 3]), mention: 'expected a map' },
    { name: 'a non-map body (number)', body: raw(42), mention: 'expected a map' },
    { name: 'a non-map body (binary)', body: raw(Buffer.from('VoteRequest')), mention: 'expected a map' },
    { name: 'unknown type', body: raw({ ...VOTE_REQUEST, type: 'Snapshot' }), mention: 'message.type' },
    { name: 'inherited type name', body: raw({ ...VOTE_REQUEST, type: 'constructor' }), mention: 'message.type' },
    { name: 'missing type', body: raw({ from: 1 }), mention: 'message.type' },
    { name: 'negative term', body: raw({ ...VOTE_REQUEST, term: -1 }), mention: 'VoteRequest.term' },
    { name: 'fractional term', body: raw({ ...VOTE_REQUEST, term: 1.5 }), mention: 'VoteRequest.term' },
    { name: 'unsafe integer term', body: raw({ ...VOTE_REQUEST, term: 2 ** 60 }), mention: 'VoteRequest.term' },
    // Adopted, it would let the next campaign leave the safe integers (found by the fuzzer).
    { name: 'largest safe integer as term', body: raw({ ...VOTE_REQUEST, term: Number.MAX_SAFE_INTEGER }), mention: 'VoteRequest.term' },
    { name: 'term just above TERM_MAX', body: raw({ ...VOTE_REQUEST, term: TERM_MAX + 1 }), mention: 'VoteRequest.term' },
    { name: 'from = 0', body: raw({ ...VOTE_REQUEST, from: 0 }), mention: 'VoteRequest.from' },
    { name: 'to = 0', body: raw({ ...VOTE_REQUEST, to: 0 }), mention: 'VoteRequest.to' },
    { name: 'string where a number belongs', body: raw({ ...VOTE_REQUEST, lastLogIndex: '3' }), mention: 'VoteRequest.lastLogIndex' },
    { name: 'number where a boolean belongs', body: raw({ ...VOTE_REQUEST, pre: 1 }), mention: 'VoteRequest.pre' },
    { name: 'missing field', body: raw({ ...VOTE_REQUEST, transfer: undefined }), mention: 'VoteRequest.transfer' },
    { name: 'entries not an array', body: raw({ ...APPEND_REQUEST, entries: {} }), mention: 'AppendRequest.entries' },
    { name: 'entry not a map', body: raw({ ...APPEND_REQUEST, entries: [5] }), mention: 'AppendRequest.entries[0]' },
    { name: 'first entry not at prevLogIndex + 1', body: raw(withEntry(0, { index: 6 })), mention: 'AppendRequest.entries[0].index' },
    { name: 'non-contiguous entries', body: raw(withEntry(1, { index: 7 })), mention: 'AppendRequest.entries[1].index' },
    { name: 'decreasing entry terms', body: raw(withEntry(1, { term: 1 })), mention: 'AppendRequest.entries[1].term' },
    { name: 'entry term below prevLogTerm', body: raw(withEntry(0, { term: 1 })), mention: 'AppendRequest.entries[0].term' },
    { name: 'entry term above the message term', body: raw(withEntry(1, { term: 4 })), mention: 'AppendRequest.entries[1].term' },
    { name: 'prevLogTerm above the message term', body: raw({ ...APPEND_REQUEST, prevLogTerm: 4, entries: [] }), mention: 'AppendRequest.prevLogTerm' },
    { name: 'wrong entry kind', body: raw(withEntry(0, { kind: 3 })), mention: 'AppendRequest.entries[0].kind' },
    { name: 'entry data as a string', body: raw(withEntry(0, { data: 'abc' })), mention: 'AppendRequest.entries[0].data' },
    { name: 'entry data as an array', body: raw(withEntry(0, { data: [1, 2] })), mention: 'AppendRequest.entries[0].data' },
    { name: 'negative requestId', body: raw({ type: 'StatusRequest', requestId: -1 }), mention: 'StatusRequest.requestId' },
    { name: 'unknown KV op', body: raw({ ...KV_REQUEST, operation: { op: 'incr', key: 'k' } }), mention: 'KvRequest.operation.op' },
    { name: 'operation not a map', body: raw({ ...KV_REQUEST, operation: 'get k' }), mention: 'KvRequest.operation' },
    { name: 'key not a string', body: raw({ ...KV_REQUEST, operation: { op: 'get', key: 1 } }), mention: 'KvRequest.operation.key' },
    { name: 'put without value', body: raw({ ...KV_REQUEST, operation: { op: 'put', key: 'k' } }), mention: 'KvRequest.operation.value' },
    {
      name: 'bad cas expect type',
      body: raw({ ...KV_REQUEST, operation: { op: 'cas', key: 'k', expect: 5, value: 'v' } }),
      mention: 'KvRequest.operation.expect',
    },
    { name: 'negative firstUnackedSeq', body: raw({ ...KV_REQUEST, firstUnackedSeq: -1 }), mention: 'KvRequest.firstUnackedSeq' },
    { name: 'clientId not a string', body: raw({ ...KV_REQUEST, clientId: 7 }), mention: 'KvRequest.clientId' },
    {
      name: 'unknown error code',
      body: raw({ type: 'ErrorResponse', requestId: 1, code: 'NOPE', message: '', leader: 0, leaderAddress: null }),
      mention: 'ErrorResponse.code',
    },
    {
      name: 'leaderAddress not a string or null',
      body: raw({ type: 'ErrorResponse', requestId: 1, code: 'BUSY', message: '', leader: 0, leaderAddress: 5 }),
      mention: 'ErrorResponse.leaderAddress',
    },
    {
      name: 'unknown role',
      body: raw({
        type: 'StatusResponse',
        requestId: 1,
        status: { id: 1, role: 'king', term: 1, leader: 0, leaderAddress: null, commit: 0, applied: 0, lastIndex: 0, snapshotIndex: 0, firstIndex: 1, pid: 1 },
      }),
      mention: 'StatusResponse.status.role',
    },
    {
      name: 'unknown membership in a status',
      body: raw({
        type: 'StatusResponse',
        requestId: 1,
        status: { id: 1, role: 'leader', term: 1, leader: 1, leaderAddress: null, commit: 0, applied: 0, lastIndex: 0, snapshotIndex: 0, firstIndex: 1, clusterId: '', pid: 1, membership: 'observer' },
      }),
      mention: 'StatusResponse.status.membership',
    },
    { name: 'a bootstrap change from a client', body: raw({ type: 'MemberChangeRequest', requestId: 1, change: { op: 'bootstrap', id: 1 } }), mention: 'MemberChangeRequest.change.op' },
    { name: 'a change naming node 0', body: raw({ type: 'MemberChangeRequest', requestId: 1, change: { op: 'remove', id: 0 } }), mention: 'MemberChangeRequest.change.id' },
    { name: 'an add without an address', body: raw({ type: 'MemberChangeRequest', requestId: 1, change: { op: 'add-learner', id: 6 } }), mention: 'MemberChangeRequest.change.address' },
    {
      name: 'a member of an unknown role',
      body: raw({ type: 'MemberListResponse', requestId: 1, members: [{ id: 1, address: 'a:1', role: 'witness', match: 0, lag: 0 }] }),
      mention: 'MemberListResponse.members[0].role',
    },
    {
      name: 'a change response listing a member twice',
      body: raw({ type: 'MemberChangeResponse', requestId: 1, index: 3, voters: [1, 2], learners: [2], addresses: [] }),
      mention: 'MemberChangeResponse.voters',
    },
    {
      name: 'a change response without addresses',
      body: raw({ type: 'MemberChangeResponse', requestId: 1, index: 3, voters: [1], learners: [] }),
      mention: 'MemberChangeResponse.addresses',
    },
    {
      name: 'KvResult value of the wrong type',
      body: raw({ type: 'KvResponse', requestId: 1, result: { ok: true, value: 3, index: 0 } }),
      mention: 'KvResponse.result.value',
    },
  ];

  for (const { name, body, mention } of cases) {
    it(`rejects ${name}`, () => assertRejected(body, mention));
  }
});
