import type { KvResult } from '../protocol/client-messages.js';
import type { FrozenMap } from './persistent-map.js';
import { ChunkWriter, SnapshotReader } from './snapshot-codec.js';

/**
 * The key-value snapshot format, version 1 (all integers little-endian):
 *
 *   magic u32 'RKVS' | version u8 | keyCount u32 | sessionCount u32
 *   keyCount × (key string, value string)                 strictly increasing keys
 *   sessionCount × session                                 least recently used first
 *   crc32c u32 of everything before it
 *
 * where a session is `clientId string | firstUnackedSeq f64 | lastAppliedIndex f64 |
 * resultCount u32 | resultCount × (seq f64 | flags u8 (1 ok, 2 value present) |
 * [value string] | index f64)`, results in the order they were remembered, and a
 * string is `encoding u8 | byteLength u32 | bytes` (see snapshot-codec.ts).
 *
 * Keys in sorted order and sessions in LRU order make the bytes a function of the
 * state alone, not of the tree's shape or the history that built it, so nodes that
 * applied the same entries write the same bytes whether or not one of them was
 * restored from a snapshot along the way.
 */
const MAGIC = 0x53_56_4b_52; // 'RKVS' read as a little-endian u32
const VERSION = 1;
const RESULT_OK = 1;
const RESULT_HAS_VALUE = 2;

/** A client session as the snapshot holds it. */
export interface SessionRecord {
  readonly clientId: string;
  readonly firstUnackedSeq: number;
  readonly lastAppliedIndex: number;
  /** seq -> result, in the order the results were remembered. */
  readonly results: ReadonlyMap<number, KvResult>;
}

/** What a decoded snapshot holds; built only once every byte has been checked. */
export interface DecodedKvSnapshot {
  readonly keys: string[];
  readonly values: string[];
  /** Least recently used first. */
  readonly sessions: SessionRecord[];
}

/** Serializes a frozen view; yields each chunk as soon as it is full. */
export function* encodeKvSnapshot(
  data: FrozenMap<string, string>,
  sessions: readonly SessionRecord[],
): Generator<Uint8Array> {
  const w = new ChunkWriter();
  w.u32(MAGIC);
  w.u8(VERSION);
  w.u32(data.size);
  w.u32(sessions.length);
  for (const { keys, values } of data.leaves()) {
    for (let i = 0; i < keys.length; i += 1) {
      w.string(keys[i]!);
      w.string(values[i]!);
    }
    yield* w.take();
  }
  for (const session of sessions) {
    w.string(session.clientId);
    w.f64(session.firstUnackedSeq);
    w.f64(session.lastAppliedIndex);
    w.u32(session.results.size);
    for (const [seq, result] of session.results) {
      w.f64(seq);
      w.u8((result.ok ? RESULT_OK : 0) | (result.value !== null ? RESULT_HAS_VALUE : 0));
      if (result.value !== null) w.string(result.value);
      w.f64(result.index);
    }
    yield* w.take();
  }
  w.finish();
  yield* w.take();
}

/** Parses and validates snapshot bytes; throws InvalidSnapshotDataError on anything malformed. */
export function decodeKvSnapshot(bytes: Uint8Array): DecodedKvSnapshot {
  const r = new SnapshotReader(bytes);
  const magic = r.u32('magic');
  if (magic !== MAGIC) throw r.corrupt(`not a key-value snapshot (magic 0x${magic.toString(16)})`, 0);
  const version = r.u8('version');
  if (version !== VERSION) throw r.corrupt(`unsupported snapshot version ${version}`, 4);
  const keyCount = r.u32('key count');
  const sessionCount = r.u32('session count');

  const keys: string[] = [];
  const values: string[] = [];
  for (let i = 0; i < keyCount; i += 1) {
    const at = r.offset;
    const key = r.string('key');
    if (i > 0 && !(keys[i - 1]! < key)) throw r.corrupt(`key ${i} is not after key ${i - 1} in sorted order`, at);
    keys.push(key);
    values.push(r.string('value'));
  }

  const sessions: SessionRecord[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < sessionCount; i += 1) {
    const at = r.offset;
    const clientId = r.string('client id');
    if (seen.has(clientId)) throw r.corrupt(`session ${i} repeats a client id`, at);
    seen.add(clientId);
    const firstUnackedSeq = r.count('firstUnackedSeq');
    const lastAppliedIndex = r.count('lastAppliedIndex');
    const resultCount = r.u32('result count');
    const results = new Map<number, KvResult>();
    for (let j = 0; j < resultCount; j += 1) {
      const resultAt = r.offset;
      const seq = r.count('seq');
      const flags = r.u8('result flags');
      if ((flags & ~(RESULT_OK | RESULT_HAS_VALUE)) !== 0) throw r.corrupt(`unknown result flags ${flags}`, resultAt);
      const value = (flags & RESULT_HAS_VALUE) !== 0 ? r.string('result value') : null;
      const index = r.count('result index');
      if (results.has(seq)) throw r.corrupt(`session ${i} repeats seq ${seq}`, resultAt);
      results.set(seq, { ok: (flags & RESULT_OK) !== 0, value, index });
    }
    sessions.push({ clientId, firstUnackedSeq, lastAppliedIndex, results });
  }
  r.expectEnd();
  return { keys, values, sessions };
}
