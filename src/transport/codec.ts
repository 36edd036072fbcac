import msgpack from 'msgpack-lite';

import type { ClusterConfig, Entry, Index, NodeId, Role, SnapshotMeta, Term } from '../core/types.js';
import type {
  AppendRequest,
  AppendResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  InstallSnapshot,
  PeerMessage,
  TimeoutNow,
  VoteRequest,
  VoteResponse,
} from '../core/messages.js';
import { PEER_MESSAGE_TYPES } from '../core/messages.js';
import type {
  ClientRequest,
  ClientResponse,
  ErrorCode,
  ErrorResponse,
  KvOperation,
  KvRequest,
  KvResponse,
  KvResult,
  MemberChange,
  MemberChangeRequest,
  MemberChangeResponse,
  MemberInfo,
  MemberListRequest,
  MemberListResponse,
  MemberRole,
  NodeStatus,
  SnapshotRequest,
  SnapshotResponse,
  StatusRequest,
  StatusResponse,
  TransferLeaderRequest,
  TransferLeaderResponse,
} from '../protocol/client-messages.js';
import { CLIENT_REQUEST_TYPES, CLIENT_RESPONSE_TYPES, ERROR_CODES, KV_OPERATIONS } from '../protocol/client-messages.js';
import { FrameDecodeError } from '../errors.js';
import { SlabEncoder } from './slab-encoder.js';
import { createFastCodec, decodeFirst } from './msgpack-codec.js';
import { ByteArena } from '../util/byte-arena.js';
import type { SnapshotAck, SnapshotChunk, SnapshotWireMessage } from './snapshot-messages.js';
import { SNAPSHOT_MESSAGE_TYPES } from './snapshot-messages.js';
import type { PeerHello } from './hello.js';
import { CLUSTER_ID_PATTERN } from './hello.js';

/**
 * The gateway between bytes and typed messages (STYLE.md D.4, etcd's `logSlice`):
 * decodeMessage checks every field and builds a fresh object holding only the known
 * fields, so the rest of the code can trust the types without re-checking shapes.
 */

/** Everything that travels in a frame: peer traffic and the client protocol share a port. */
export type WireMessage = PeerMessage | ClientRequest | ClientResponse | SnapshotWireMessage | PeerHello;

/**
 * No preset extensions: nothing on the wire turns into a Date, RegExp, Error or typed
 * array, and unknown extension types stay inert. Maps decode to `Map`, so a key such
 * as `__proto__` is just a key and inherited properties can never pass for fields.
 */
const codec = createFastCodec({ preset: false, usemap: true }, [
  ...PEER_MESSAGE_TYPES, ...CLIENT_REQUEST_TYPES, ...CLIENT_RESPONSE_TYPES, ...SNAPSHOT_MESSAGE_TYPES, 'PeerHello',
  // The fields of the messages a write takes (append, acknowledgement, request, answer).
  'type', 'from', 'to', 'term', 'prevLogIndex', 'prevLogTerm', 'entries', 'commit', 'index', 'kind', 'data',
  'success', 'hintIndex', 'hintTerm', 'context', 'requestId', 'operation', 'op', 'key', 'value', 'expect',
  'clientId', 'seq', 'firstUnackedSeq', 'stale', 'result', 'ok', 'code', 'message', 'leader', 'leaderAddress',
  ...KV_OPERATIONS,
]);
const frameEncoder = new SlabEncoder(codec);

export function encodeMessage(message: WireMessage): Buffer {
  return msgpack.encode(toWireShape(message), { codec });
}

/** Encodes `message` as one frame (length header and body in one buffer). */
export function encodeFrameMessage(message: WireMessage): Buffer {
  if (message.type === 'AppendRequest' && message.entries.length > 0) return encodeAppendFrame(message);
  return frameEncoder.frame(toWireShape(message));
}

/** The entries encoded last, kept for the next AppendRequest that carries the same ones. */
let lastEntries: { entries: readonly Entry[]; encoded: Buffer } | undefined;
const entriesEncoder = new SlabEncoder(codec);

/**
 * A leader sends the same new entries to every follower that is up to date, in
 * messages that differ only in their envelope. Log entries are immutable objects,
 * so the same entry objects mean the same bytes: their encoding is reused instead
 * of being made once per follower.
 */
function encodeAppendFrame(message: AppendRequest): Buffer {
  const { entries } = message;
  let cached = lastEntries;
  if (cached === undefined || !sameEntries(cached.entries, entries)) {
    cached = { entries, encoded: entriesEncoder.body(entries.map(entryToWireShape)) };
    lastEntries = cached;
  }
  const { type, from, to, term, prevLogIndex, prevLogTerm, commit } = message;
  return frameEncoder.frameWithEncoded({ type, from, to, term, prevLogIndex, prevLogTerm, commit }, 'entries', cached.encoded);
}

/** @throws FrameDecodeError unless `body` is exactly one well-formed message. */
export function decodeMessage(body: Buffer): WireMessage {
  const value = decodeMsgpack(body);
  if (!(value instanceof Map)) throw new FrameDecodeError('message: expected a map');
  const fields = new Fields(value, 'message');
  const type = fields.string('type');
  const validate = VALIDATORS.get(type);
  if (validate === undefined) throw new FrameDecodeError(`message.type: unknown type ${describeValue(type)}`);
  return validate(new Fields(value, type));
}

export function isWirePeerMessage(message: WireMessage): message is PeerMessage {
  return (PEER_MESSAGE_TYPES as readonly string[]).includes(message.type);
}

export function isWireSnapshotMessage(message: WireMessage): message is SnapshotWireMessage {
  return (SNAPSHOT_MESSAGE_TYPES as readonly string[]).includes(message.type);
}

export function isWireClientResponse(message: WireMessage): message is ClientResponse {
  return (CLIENT_RESPONSE_TYPES as readonly string[]).includes(message.type);
}

export function isWireClientRequest(message: WireMessage): message is ClientRequest {
  return (CLIENT_REQUEST_TYPES as readonly string[]).includes(message.type);
}

export function isPeerHello(message: WireMessage): message is PeerHello {
  return message.type === 'PeerHello';
}

// ---------------------------------------------------------------------------------
// Encoding

/**
 * msgpack-lite writes a Buffer as msgpack `bin` but a plain Uint8Array as a map of
 * indexes (without presets), so entry payloads are re-viewed as Buffers (no copy).
 */
function toWireShape(message: WireMessage): unknown {
  if (message.type === 'SnapshotChunk' || message.type === 'SnapshotResponse') return { ...message, data: asBuffer(message.data) };
  if (message.type !== 'AppendRequest') return message;
  return { ...message, entries: message.entries.map(entryToWireShape) };
}

function sameEntries(a: readonly Entry[], b: readonly Entry[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

function entryToWireShape(entry: Entry): unknown {
  return { term: entry.term, index: entry.index, kind: entry.kind, data: asBuffer(entry.data) };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// ---------------------------------------------------------------------------------
// Decoding

function decodeMsgpack(body: Buffer): unknown {
  let decoded: { value: unknown; end: number };
  try {
    decoded = decodeFirst(codec, body);
  } catch (err) {
    throw new FrameDecodeError(`message: undecodable msgpack (${describeError(err)})`, { cause: err });
  }
  // One frame holds exactly one message; trailing bytes mean the sender is confused.
  if (decoded.end !== body.byteLength) {
    throw new FrameDecodeError(`message: ${body.byteLength - decoded.end} trailing bytes after the message`);
  }
  return decoded.value;
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Typed reads of one decoded map; every failure names the field by its path, e.g.
 * `AppendRequest.entries[2].index`.
 */
class Fields {
  constructor(
    private readonly values: Map<unknown, unknown>,
    /** The path, or what makes it: built only for an error, not for every entry. */
    private readonly where: string | (() => string),
  ) {}

  private get path(): string {
    return typeof this.where === 'string' ? this.where : this.where();
  }

  fail(key: string, expected: string): never {
    const value = this.values.get(key);
    throw new FrameDecodeError(`${this.path}.${key}: expected ${expected}, got ${describeValue(value)}`);
  }

  raw(key: string): unknown {
    return this.values.get(key);
  }

  string(key: string): string {
    const value = this.values.get(key);
    if (typeof value !== 'string') this.fail(key, 'a string');
    return value;
  }

  nullableString(key: string): string | null {
    const value = this.values.get(key);
    if (value !== null && typeof value !== 'string') this.fail(key, 'a string or null');
    return value;
  }

  boolean(key: string): boolean {
    const value = this.values.get(key);
    if (typeof value !== 'boolean') this.fail(key, 'a boolean');
    return value;
  }

  /** A non-negative safe integer: terms, indexes, counters, request ids. */
  count(key: string): number {
    const value = this.values.get(key);
    if (!isCount(value)) this.fail(key, 'a non-negative safe integer');
    return value;
  }

  /** A node id that must name a node (0 means "none" and is refused). */
  nodeId(key: string): NodeId {
    const value = this.values.get(key);
    if (!isCount(value) || value === 0) this.fail(key, 'a positive safe integer');
    return value;
  }

  /** A node id where 0 means "none" (e.g. an unknown leader). */
  optionalNodeId(key: string): NodeId {
    return this.count(key);
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T {
    const value = this.values.get(key);
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.fail(key, `one of ${allowed.join('|')}`);
    }
    return value as T;
  }

  map(key: string): Fields {
    const value = this.values.get(key);
    if (!(value instanceof Map)) this.fail(key, 'a map');
    return new Fields(value, `${this.path}.${key}`);
  }

  array(key: string): unknown[] {
    const value = this.values.get(key);
    if (!Array.isArray(value)) this.fail(key, 'an array');
    return value;
  }

  element(key: string, index: number, value: unknown): Fields {
    if (!(value instanceof Map)) throw new FrameDecodeError(`${this.path}.${key}[${index}]: expected a map, got ${describeValue(value)}`);
    return new Fields(value, () => `${this.path}.${key}[${index}]`);
  }

  /** msgpack `bin`, which the decoder yields as a Buffer. */
  bytes(key: string): Buffer {
    const value = this.values.get(key);
    if (!Buffer.isBuffer(value)) this.fail(key, 'binary data');
    return value;
  }

  /** Reports a relation between fields that does not hold. */
  violated(key: string, rule: string): never {
    throw new FrameDecodeError(`${this.path}.${key}: ${rule}`);
  }
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Buffer.isBuffer(value)) return `${value.byteLength} bytes of binary`;
  if (value instanceof Map) return 'a map';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

type Validator = (fields: Fields) => WireMessage;

/**
 * The highest term a peer message may carry. A node adopts any higher term it hears
 * and later campaigns at term + 1; were a message of term 2^53 - 1 accepted, the next
 * campaign would leave the safe integers (2^53 + 1 rounds to 2^53, so the term would
 * stop growing and the node's status would no longer decode). 2^52 keeps 2^52 terms
 * of headroom above any term the wire lets in: no cluster ever campaigns that often.
 */
export const TERM_MAX = 2 ** 52;

// ---- peer messages ---------------------------------------------------------------

interface EnvelopeFields {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
}

function envelope(fields: Fields): EnvelopeFields {
  const term = fields.count('term');
  if (term > TERM_MAX) fields.violated('term', `${term} exceeds the largest term a peer may send, ${TERM_MAX}`);
  return { from: fields.nodeId('from'), to: fields.nodeId('to'), term };
}

function validateVoteRequest(fields: Fields): VoteRequest {
  return {
    type: 'VoteRequest',
    ...envelope(fields),
    pre: fields.boolean('pre'),
    lastLogIndex: fields.count('lastLogIndex'),
    lastLogTerm: fields.count('lastLogTerm'),
    transfer: fields.boolean('transfer'),
  };
}

function validateVoteResponse(fields: Fields): VoteResponse {
  return { type: 'VoteResponse', ...envelope(fields), pre: fields.boolean('pre'), granted: fields.boolean('granted') };
}

function validateAppendRequest(fields: Fields): AppendRequest {
  const head = envelope(fields);
  const prevLogIndex = fields.count('prevLogIndex');
  const prevLogTerm = fields.count('prevLogTerm');
  // The entry before the batch is in the leader's log, so its term cannot exceed the leader's.
  if (prevLogTerm > head.term) fields.violated('prevLogTerm', `${prevLogTerm} exceeds the message term ${head.term}`);
  const entries = validateEntries(fields, prevLogIndex, prevLogTerm, head.term);
  return { type: 'AppendRequest', ...head, prevLogIndex, prevLogTerm, entries, commit: fields.count('commit') };
}

/**
 * The batch must be a log slice that can follow (prevLogIndex, prevLogTerm) in a
 * leader's log of term `term` (etcd `logSlice.valid`): contiguous indexes, and terms
 * that never decrease (Raft paper §5.3, Log Matching).
 */
function validateEntries(fields: Fields, prevLogIndex: Index, prevLogTerm: Term, term: Term): Entry[] {
  const list = fields.array('entries');
  const entries: Entry[] = [];
  let lastTerm = prevLogTerm;
  for (let position = 0; position < list.length; position += 1) {
    const entryFields = fields.element('entries', position, list[position]);
    const entry = validateEntry(entryFields);
    const expectedIndex = prevLogIndex + 1 + position;
    if (entry.index !== expectedIndex) entryFields.violated('index', `expected ${expectedIndex} (contiguous after prevLogIndex), got ${entry.index}`);
    if (entry.term < lastTerm) entryFields.violated('term', `${entry.term} is lower than the preceding term ${lastTerm}`);
    if (entry.term > term) entryFields.violated('term', `${entry.term} exceeds the message term ${term}`);
    lastTerm = entry.term;
    entries.push(entry);
  }
  return entries;
}

/** Where the payloads of entries received from a leader are kept (see ByteArena). */
const entryArena = new ByteArena();

const ENTRY_KINDS: readonly number[] = [0, 1, 2]; // EntryKind.Noop, EntryKind.Command, EntryKind.ConfChange

function validateEntry(fields: Fields): Entry {
  const term = fields.count('term');
  const index = fields.count('index');
  const kind = fields.raw('kind');
  if (typeof kind !== 'number' || !ENTRY_KINDS.includes(kind)) fields.fail('kind', '0 (noop), 1 (command) or 2 (membership change)');
  // Copy: the decoded payload shares memory with other decoded bytes, which would
  // otherwise stay in memory for as long as the entry does.
  const data = entryArena.copy(fields.bytes('data'));
  return { term, index, kind: kind as Entry['kind'], data };
}

function validateAppendResponse(fields: Fields): AppendResponse {
  return {
    type: 'AppendResponse',
    ...envelope(fields),
    success: fields.boolean('success'),
    index: fields.count('index'),
    hintIndex: fields.count('hintIndex'),
    hintTerm: fields.count('hintTerm'),
  };
}

function validateHeartbeatRequest(fields: Fields): HeartbeatRequest {
  return { type: 'HeartbeatRequest', ...envelope(fields), commit: fields.count('commit'), context: fields.count('context') };
}

function validateHeartbeatResponse(fields: Fields): HeartbeatResponse {
  return { type: 'HeartbeatResponse', ...envelope(fields), context: fields.count('context') };
}

function validateClusterConfig(fields: Fields): ClusterConfig {
  const ids = (key: string): NodeId[] =>
    fields.array(key).map((value, position) => {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) fields.violated(`${key}[${position}]`, 'expected a positive safe integer');
      return value;
    });
  const voters = ids('voters');
  const learners = ids('learners');
  if (new Set([...voters, ...learners]).size !== voters.length + learners.length) fields.violated('voters', 'a member is listed twice');
  if (fields.raw('addresses') === undefined) return { voters, learners };
  const addresses = fields.array('addresses').map((value, position) => {
    const member = fields.element('addresses', position, value);
    return { id: member.nodeId('id'), address: member.string('address') };
  });
  return { voters, learners, addresses };
}

function validateSnapshotMeta(fields: Fields): SnapshotMeta {
  const index = fields.count('index');
  const term = fields.count('term');
  if (index === 0) fields.violated('index', 'a snapshot covers at least one entry');
  return { index, term, config: validateClusterConfig(fields.map('config')) };
}

function validateInstallSnapshot(fields: Fields): InstallSnapshot {
  return { type: 'InstallSnapshot', ...envelope(fields), snapshot: validateSnapshotMeta(fields.map('snapshot')) };
}

function validateSnapshotChunk(fields: Fields): SnapshotChunk {
  const head = envelope(fields);
  const offset = fields.count('offset');
  const total = fields.count('total');
  const data = fields.bytes('data');
  if (offset + data.byteLength > total) fields.violated('data', `chunk [${offset}, ${offset + data.byteLength}) runs past total ${total}`);
  const checksum = fields.count('checksum');
  if (checksum > 0xffff_ffff) fields.violated('checksum', 'expected a 32-bit value');
  return {
    type: 'SnapshotChunk',
    ...head,
    snapshot: validateSnapshotMeta(fields.map('snapshot')),
    transfer: fields.count('transfer'),
    offset,
    total,
    checksum,
    data,
  };
}

function validateSnapshotAck(fields: Fields): SnapshotAck {
  return {
    type: 'SnapshotAck',
    from: fields.nodeId('from'),
    to: fields.nodeId('to'),
    transfer: fields.count('transfer'),
    ok: fields.boolean('ok'),
    reason: fields.string('reason'),
  };
}

function validateTimeoutNow(fields: Fields): TimeoutNow {
  return { type: 'TimeoutNow', ...envelope(fields) };
}

// ---- client requests ---------------------------------------------------------------

function validateStatusRequest(fields: Fields): StatusRequest {
  return { type: 'StatusRequest', requestId: fields.count('requestId') };
}

function validateKvRequest(fields: Fields): KvRequest {
  return {
    type: 'KvRequest',
    requestId: fields.count('requestId'),
    operation: validateKvOperation(fields.map('operation')),
    clientId: fields.string('clientId'),
    seq: fields.count('seq'),
    firstUnackedSeq: fields.count('firstUnackedSeq'),
    stale: fields.boolean('stale'),
  };
}

function validateKvOperation(fields: Fields): KvOperation {
  const op = fields.oneOf('op', KV_OPERATIONS);
  const key = fields.string('key');
  switch (op) {
    case 'put':
      return { op, key, value: fields.string('value') };
    case 'get':
    case 'delete':
      return { op, key };
    case 'cas':
      return { op, key, expect: fields.nullableString('expect'), value: fields.string('value') };
  }
}

function validateMemberListRequest(fields: Fields): MemberListRequest {
  return { type: 'MemberListRequest', requestId: fields.count('requestId') };
}

const CHANGE_OPS = ['add-learner', 'add-voter', 'promote', 'remove'] as const;

function validateMemberChange(fields: Fields): MemberChange {
  const op = fields.oneOf('op', CHANGE_OPS);
  const id = fields.nodeId('id');
  switch (op) {
    case 'add-learner':
    case 'add-voter':
      return { op, id, address: fields.string('address') };
    case 'promote':
    case 'remove':
      return { op, id };
  }
}

function validateMemberChangeRequest(fields: Fields): MemberChangeRequest {
  return { type: 'MemberChangeRequest', requestId: fields.count('requestId'), change: validateMemberChange(fields.map('change')) };
}

// ---- client responses --------------------------------------------------------------

const ROLES: readonly Role[] = ['follower', 'pre-candidate', 'candidate', 'leader'];

function validateStatusResponse(fields: Fields): StatusResponse {
  return { type: 'StatusResponse', requestId: fields.count('requestId'), status: validateNodeStatus(fields.map('status')) };
}

const NODE_MEMBERSHIPS: readonly NodeStatus['membership'][] = ['voter', 'learner', 'none'];

function validateNodeStatus(fields: Fields): NodeStatus {
  return {
    id: fields.nodeId('id'),
    role: fields.oneOf('role', ROLES),
    term: fields.count('term'),
    leader: fields.optionalNodeId('leader'),
    leaderAddress: fields.nullableString('leaderAddress'),
    commit: fields.count('commit'),
    applied: fields.count('applied'),
    lastIndex: fields.count('lastIndex'),
    snapshotIndex: fields.count('snapshotIndex'),
    firstIndex: fields.count('firstIndex'),
    clusterId: fields.string('clusterId'),
    pid: fields.count('pid'),
    membership: fields.oneOf('membership', NODE_MEMBERSHIPS),
  };
}

function validateKvResponse(fields: Fields): KvResponse {
  return { type: 'KvResponse', requestId: fields.count('requestId'), result: validateKvResult(fields.map('result')) };
}

function validateKvResult(fields: Fields): KvResult {
  return { ok: fields.boolean('ok'), value: fields.nullableString('value'), index: fields.count('index') };
}

function validateSnapshotRequest(fields: Fields): SnapshotRequest {
  return { type: 'SnapshotRequest', requestId: fields.count('requestId'), stale: fields.boolean('stale') };
}

function validateSnapshotResponse(fields: Fields): SnapshotResponse {
  return { type: 'SnapshotResponse', requestId: fields.count('requestId'), snapshot: validateSnapshotMeta(fields.map('snapshot')), data: fields.bytes('data') };
}

function validateTransferLeaderRequest(fields: Fields): TransferLeaderRequest {
  return { type: 'TransferLeaderRequest', requestId: fields.count('requestId'), target: fields.optionalNodeId('target') };
}

function validateTransferLeaderResponse(fields: Fields): TransferLeaderResponse {
  return { type: 'TransferLeaderResponse', requestId: fields.count('requestId'), leader: fields.nodeId('leader') };
}

const MEMBER_ROLES: readonly MemberRole[] = ['voter', 'learner'];

function validateMemberInfo(fields: Fields): MemberInfo {
  return { id: fields.nodeId('id'), address: fields.string('address'), role: fields.oneOf('role', MEMBER_ROLES), match: fields.count('match'), lag: fields.count('lag') };
}

function validateMemberListResponse(fields: Fields): MemberListResponse {
  const members = fields.array('members').map((value, position) => validateMemberInfo(fields.element('members', position, value)));
  return { type: 'MemberListResponse', requestId: fields.count('requestId'), members };
}

function validateMemberChangeResponse(fields: Fields): MemberChangeResponse {
  const config = validateClusterConfig(fields);
  return {
    type: 'MemberChangeResponse',
    requestId: fields.count('requestId'),
    index: fields.count('index'),
    voters: config.voters,
    learners: config.learners,
    addresses: config.addresses ?? fields.fail('addresses', 'an array'),
  };
}

function validateErrorResponse(fields: Fields): ErrorResponse {
  return {
    type: 'ErrorResponse',
    requestId: fields.count('requestId'),
    code: fields.oneOf<ErrorCode>('code', ERROR_CODES),
    message: fields.string('message'),
    leader: fields.optionalNodeId('leader'),
    leaderAddress: fields.nullableString('leaderAddress'),
  };
}

// ---- peer connection handshake ----------------------------------------------------

function validatePeerHello(fields: Fields): PeerHello {
  const clusterId = fields.string('clusterId');
  if (!CLUSTER_ID_PATTERN.test(clusterId)) fields.fail('clusterId', 'a cluster id (1-64 of A-Z a-z 0-9 . _ -)');
  return { type: 'PeerHello', clusterId, from: fields.nodeId('from'), to: fields.nodeId('to') };
}

/** One validator per wire type; `satisfies` makes the compiler check the table is complete. */
const VALIDATOR_TABLE = {
  VoteRequest: validateVoteRequest,
  VoteResponse: validateVoteResponse,
  AppendRequest: validateAppendRequest,
  AppendResponse: validateAppendResponse,
  HeartbeatRequest: validateHeartbeatRequest,
  HeartbeatResponse: validateHeartbeatResponse,
  InstallSnapshot: validateInstallSnapshot,
  TimeoutNow: validateTimeoutNow,
  SnapshotChunk: validateSnapshotChunk,
  SnapshotAck: validateSnapshotAck,
  StatusRequest: validateStatusRequest,
  KvRequest: validateKvRequest,
  SnapshotRequest: validateSnapshotRequest,
  TransferLeaderRequest: validateTransferLeaderRequest,
  TransferLeaderResponse: validateTransferLeaderResponse,
  MemberListRequest: validateMemberListRequest,
  MemberChangeRequest: validateMemberChangeRequest,
  MemberListResponse: validateMemberListResponse,
  MemberChangeResponse: validateMemberChangeResponse,
  StatusResponse: validateStatusResponse,
  SnapshotResponse: validateSnapshotResponse,
  KvResponse: validateKvResponse,
  ErrorResponse: validateErrorResponse,
  PeerHello: validatePeerHello,
} satisfies { [T in WireMessage['type']]: (fields: Fields) => Extract<WireMessage, { type: T }> };

/** A Map, not an object lookup, so `type: "constructor"` cannot find an inherited function. */
const VALIDATORS: ReadonlyMap<string, Validator> = new Map(Object.entries(VALIDATOR_TABLE));
