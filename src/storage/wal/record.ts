import CRC32C from 'crc-32/crc32c.js';
import type { Entry, EntryId, EntryKind, HardState } from '../../core/types.js';

/**
 * One WAL record: `[length u32 BE | crc32c u32 BE | type u8 | payload]`, where
 * `length` counts the payload bytes and the checksum covers type and payload. A torn
 * write shows up as a record that runs past the end of the file or fails its
 * checksum.
 */
export const RECORD_HEADER_BYTES = 9;
/** Larger than any record we write (entries are capped far below this), so a
 * garbage length is recognised as such instead of being trusted. */
export const RECORD_PAYLOAD_BYTES_MAX = 256 * 1024 * 1024;

export const enum RecordType {
  Entry = 1,
  HardState = 2,
  /** The log now starts after `base` (a compaction or an installed snapshot). */
  Compaction = 3,
}

const ENTRY_FIXED_BYTES = 17;
const HARD_STATE_BYTES = 24;
const COMPACTION_BYTES = 17 + HARD_STATE_BYTES;

// crc-32 (pure JavaScript, slice-by-16) rather than a native module: the native
// one mapped about 15 MB into every node's resident memory for no measurable gain at
// the record sizes here.
function checksum(type: number, payload: Uint8Array): number {
  return CRC32C.buf(payload, CRC32C.buf([type])) >>> 0;
}

function frameRecord(type: RecordType, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.byteLength);
  out.writeUInt32BE(payload.byteLength, 0);
  out.writeUInt32BE(checksum(type, payload), 4);
  out.writeUInt8(type, 8);
  payload.copy(out, RECORD_HEADER_BYTES);
  return out;
}

// Terms and indexes are safe integers; a float64 holds them exactly.
export function encodeEntryRecord(entry: Entry): Buffer {
  const payload = Buffer.allocUnsafe(ENTRY_FIXED_BYTES + entry.data.byteLength);
  payload.writeDoubleBE(entry.term, 0);
  payload.writeDoubleBE(entry.index, 8);
  payload.writeUInt8(entry.kind, 16);
  payload.set(entry.data, ENTRY_FIXED_BYTES);
  return frameRecord(RecordType.Entry, payload);
}

export function encodeHardStateRecord(state: HardState): Buffer {
  const payload = Buffer.allocUnsafe(HARD_STATE_BYTES);
  payload.writeDoubleBE(state.term, 0);
  payload.writeDoubleBE(state.vote, 8);
  payload.writeDoubleBE(state.commit, 16);
  return frameRecord(RecordType.HardState, payload);
}

/**
 * The compaction record: term f64 | index f64 | flags u8 | hard state (term, vote,
 * commit f64). Flags bit 0 says whether the entries after `base` were kept (the log
 * held `base`) or all were dropped (it did not: Raft paper Figure 13). The outcome is
 * written down rather than recomputed on replay because compaction then deletes the
 * segment that held the entry at `base`, and a replay without it could not tell the
 * two cases apart. The hard state rides in the same record, under one checksum, so
 * the compaction and the commit index it implies are durable together, and older
 * hard-state records can be deleted with their segments.
 */
export function encodeCompactionRecord(base: EntryId, keepsSuffix: boolean, hardState: HardState): Buffer {
  const payload = Buffer.allocUnsafe(COMPACTION_BYTES);
  payload.writeDoubleBE(base.term, 0);
  payload.writeDoubleBE(base.index, 8);
  payload.writeUInt8(keepsSuffix ? 1 : 0, 16);
  payload.writeDoubleBE(hardState.term, 17);
  payload.writeDoubleBE(hardState.vote, 25);
  payload.writeDoubleBE(hardState.commit, 33);
  return frameRecord(RecordType.Compaction, payload);
}

export type DecodedRecord =
  | { readonly kind: 'entry'; readonly entry: Entry; readonly bytes: number }
  | { readonly kind: 'hard-state'; readonly hardState: HardState; readonly bytes: number }
  | {
      readonly kind: 'compaction';
      readonly base: EntryId;
      readonly keepsSuffix: boolean;
      readonly hardState: HardState;
      readonly bytes: number;
    };

/** Why a record could not be read at some offset. `torn` means the record runs past
 * the end of the data (a write cut short); `corrupt` means it is complete but wrong. */
export type RecordProblem = { readonly kind: 'torn' | 'corrupt'; readonly reason: string };

function isSafeNonNegative(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function decodeHardState(payload: Buffer, offset: number): HardState | undefined {
  const hardState = { term: payload.readDoubleBE(offset), vote: payload.readDoubleBE(offset + 8), commit: payload.readDoubleBE(offset + 16) };
  if (!isSafeNonNegative(hardState.term) || !isSafeNonNegative(hardState.vote) || !isSafeNonNegative(hardState.commit)) return undefined;
  return hardState;
}

/** Decodes the record at `offset`, or says why it cannot. */
export function decodeRecord(data: Buffer, offset: number): DecodedRecord | RecordProblem {
  const available = data.byteLength - offset;
  if (available < RECORD_HEADER_BYTES) return { kind: 'torn', reason: 'partial record header' };
  const length = data.readUInt32BE(offset);
  if (length > RECORD_PAYLOAD_BYTES_MAX) return { kind: 'corrupt', reason: `record length ${length} is impossible` };
  if (available < RECORD_HEADER_BYTES + length) return { kind: 'torn', reason: 'record runs past the end of the file' };
  const type = data.readUInt8(offset + 8);
  const payload = data.subarray(offset + RECORD_HEADER_BYTES, offset + RECORD_HEADER_BYTES + length);
  if (checksum(type, payload) !== data.readUInt32BE(offset + 4)) return { kind: 'corrupt', reason: 'checksum mismatch' };
  const bytes = RECORD_HEADER_BYTES + length;
  if (type === RecordType.Entry && length >= ENTRY_FIXED_BYTES) {
    const term = payload.readDoubleBE(0);
    const index = payload.readDoubleBE(8);
    const kind = payload.readUInt8(16);
    if (!isSafeNonNegative(term) || !isSafeNonNegative(index) || index === 0 || kind > 2) {
      return { kind: 'corrupt', reason: 'entry fields out of range' };
    }
    const entry: Entry = { term, index, kind: kind as EntryKind, data: Uint8Array.prototype.slice.call(payload, ENTRY_FIXED_BYTES) };
    return { kind: 'entry', entry, bytes };
  }
  if (type === RecordType.HardState && length === HARD_STATE_BYTES) {
    const hardState = decodeHardState(payload, 0);
    if (hardState === undefined) return { kind: 'corrupt', reason: 'hard state fields out of range' };
    return { kind: 'hard-state', hardState, bytes };
  }
  if (type === RecordType.Compaction && length === COMPACTION_BYTES) {
    const base = { term: payload.readDoubleBE(0), index: payload.readDoubleBE(8) };
    const flags = payload.readUInt8(16);
    const hardState = decodeHardState(payload, 17);
    if (!isSafeNonNegative(base.term) || !isSafeNonNegative(base.index) || flags > 1 || hardState === undefined) {
      return { kind: 'corrupt', reason: 'compaction fields out of range' };
    }
    return { kind: 'compaction', base, keepsSuffix: flags === 1, hardState, bytes };
  }
  return { kind: 'corrupt', reason: `unknown record type ${type} of ${length} bytes` };
}
