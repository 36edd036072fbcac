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
// the record sizes here. The checksum covers the type byte, then the payload.
const TYPE_SEED: Readonly<Record<RecordType, number>> = {
  [RecordType.Entry]: CRC32C.buf([RecordType.Entry]),
  [RecordType.HardState]: CRC32C.buf([RecordType.HardState]),
  [RecordType.Compaction]: CRC32C.buf([RecordType.Compaction]),
};

function checksum(type: number, payload: Uint8Array): number {
  const seed = TYPE_SEED[type as RecordType];
  return CRC32C.buf(payload, seed ?? CRC32C.buf([type])) >>> 0;
}

/** Fills in the header of the record whose `length` payload bytes are already at
 * `offset + RECORD_HEADER_BYTES`; returns the offset after the record. */
function sealRecord(out: Buffer, offset: number, type: RecordType, length: number): number {
  const payloadAt = offset + RECORD_HEADER_BYTES;
  out.writeUInt32BE(length, offset);
  out.writeUInt32BE(checksum(type, out.subarray(payloadAt, payloadAt + length)), offset + 4);
  out.writeUInt8(type, offset + 8);
  return payloadAt + length;
}

function writeHardState(out: Buffer, at: number, state: HardState): void {
  out.writeDoubleBE(state.term, at);
  out.writeDoubleBE(state.vote, at + 8);
  out.writeDoubleBE(state.commit, at + 16);
}

/**
 * The records of one append, in one buffer: an entry record per entry, then the hard
 * state's (when given). Written in place, with one allocation for the whole batch.
 * Entry payload: term f64 | index f64 | kind u8 | data (terms and indexes are safe
 * integers; a float64 holds them exactly). Hard state: term, vote, commit f64.
 */
export function encodeBatch(entries: readonly Entry[], hardState: HardState | undefined): Buffer {
  let bytes = hardState === undefined ? 0 : RECORD_HEADER_BYTES + HARD_STATE_BYTES;
  for (const entry of entries) bytes += RECORD_HEADER_BYTES + ENTRY_FIXED_BYTES + entry.data.byteLength;
  const out = Buffer.allocUnsafe(bytes);
  let offset = 0;
  for (const entry of entries) {
    const at = offset + RECORD_HEADER_BYTES;
    out.writeDoubleBE(entry.term, at);
    out.writeDoubleBE(entry.index, at + 8);
    out.writeUInt8(entry.kind, at + 16);
    out.set(entry.data, at + ENTRY_FIXED_BYTES);
    offset = sealRecord(out, offset, RecordType.Entry, ENTRY_FIXED_BYTES + entry.data.byteLength);
  }
  if (hardState !== undefined) {
    writeHardState(out, offset + RECORD_HEADER_BYTES, hardState);
    sealRecord(out, offset, RecordType.HardState, HARD_STATE_BYTES);
  }
  return out;
}

export function encodeEntryRecord(entry: Entry): Buffer {
  return encodeBatch([entry], undefined);
}

export function encodeHardStateRecord(state: HardState): Buffer {
  return encodeBatch([], state);
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
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + COMPACTION_BYTES);
  const at = RECORD_HEADER_BYTES;
  out.writeDoubleBE(base.term, at);
  out.writeDoubleBE(base.index, at + 8);
  out.writeUInt8(keepsSuffix ? 1 : 0, at + 16);
  writeHardState(out, at + 17, hardState);
  sealRecord(out, 0, RecordType.Compaction, COMPACTION_BYTES);
  return out;
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
