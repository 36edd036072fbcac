import CRC32C from 'crc-32/crc32c.js';
import type { Entry, EntryId, EntryKind, HardState } from '../../core/types.js';
import { sharedZeros } from '../../util/zeros.js';

/**
 * WAL records come in two layouts, chosen per segment by its magic:
 *
 * - format 1 (`RAFTWAL1`): `[length u32 BE | crc32c u32 BE | type u8 | payload]`;
 * - format 2 (`RAFTWAL2`, written now): `[length u32 BE | crc32c u32 BE | payload | 0xF0 | type]`.
 *
 * `length` counts the payload bytes and the checksum covers type and payload, in both.
 * Format 2 moves the type to the end, marked with four high bits, so that a record's
 * last byte is never zero. Segments are preallocated and zero-filled, so a write cut
 * short (or a crash that kept only its first bytes) leaves a record whose last byte
 * is still zero: that tells a torn record from a complete one that was damaged later,
 * which may have been acknowledged (see `looksUnwritten`). It takes more than four
 * flipped bits to turn a complete record's last byte into zero.
 */
export type RecordFormat = 1 | 2;
export const CURRENT_RECORD_FORMAT: RecordFormat = 2;
/** Bytes a record takes besides its payload, in both formats. */
export const RECORD_HEADER_BYTES = 9;
/** Larger than any record we write (entries are capped far below this), so a
 * garbage length is recognised as such instead of being trusted. */
export const RECORD_PAYLOAD_BYTES_MAX = 256 * 1024 * 1024;
/** The unit a disk writes atomically (or not at all) on a power loss. */
export const SECTOR_BYTES = 512;

const TRAILER_MARK = 0xf0;

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

/** Where the payload of the record at `offset` starts. */
function payloadOffset(offset: number, format: RecordFormat): number {
  return offset + (format === 1 ? RECORD_HEADER_BYTES : RECORD_HEADER_BYTES - 1);
}

/** Fills in the header (and format 2's trailer) of the record whose `length` payload
 * bytes are already at payloadOffset(offset); returns the offset after the record. */
function sealRecord(out: Buffer, offset: number, type: RecordType, length: number, format: RecordFormat): number {
  const payloadAt = payloadOffset(offset, format);
  out.writeUInt32BE(length, offset);
  out.writeUInt32BE(checksum(type, out.subarray(payloadAt, payloadAt + length)), offset + 4);
  if (format === 1) out.writeUInt8(type, offset + 8);
  else out.writeUInt8(TRAILER_MARK | type, payloadAt + length);
  return offset + RECORD_HEADER_BYTES + length;
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
export function encodeBatch(entries: readonly Entry[], hardState: HardState | undefined, format: RecordFormat = CURRENT_RECORD_FORMAT): Buffer {
  let bytes = hardState === undefined ? 0 : RECORD_HEADER_BYTES + HARD_STATE_BYTES;
  for (const entry of entries) bytes += RECORD_HEADER_BYTES + ENTRY_FIXED_BYTES + entry.data.byteLength;
  const out = Buffer.allocUnsafe(bytes);
  let offset = 0;
  for (const entry of entries) {
    const at = payloadOffset(offset, format);
    out.writeDoubleBE(entry.term, at);
    out.writeDoubleBE(entry.index, at + 8);
    out.writeUInt8(entry.kind, at + 16);
    out.set(entry.data, at + ENTRY_FIXED_BYTES);
    offset = sealRecord(out, offset, RecordType.Entry, ENTRY_FIXED_BYTES + entry.data.byteLength, format);
  }
  if (hardState !== undefined) {
    writeHardState(out, payloadOffset(offset, format), hardState);
    sealRecord(out, offset, RecordType.HardState, HARD_STATE_BYTES, format);
  }
  return out;
}

export function encodeEntryRecord(entry: Entry, format: RecordFormat = CURRENT_RECORD_FORMAT): Buffer {
  return encodeBatch([entry], undefined, format);
}

export function encodeHardStateRecord(state: HardState, format: RecordFormat = CURRENT_RECORD_FORMAT): Buffer {
  return encodeBatch([], state, format);
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
export function encodeCompactionRecord(
  base: EntryId,
  keepsSuffix: boolean,
  hardState: HardState,
  format: RecordFormat = CURRENT_RECORD_FORMAT,
): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + COMPACTION_BYTES);
  const at = payloadOffset(0, format);
  out.writeDoubleBE(base.term, at);
  out.writeDoubleBE(base.index, at + 8);
  out.writeUInt8(keepsSuffix ? 1 : 0, at + 16);
  writeHardState(out, at + 17, hardState);
  sealRecord(out, 0, RecordType.Compaction, COMPACTION_BYTES, format);
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
export function decodeRecord(data: Buffer, offset: number, format: RecordFormat = CURRENT_RECORD_FORMAT): DecodedRecord | RecordProblem {
  const available = data.byteLength - offset;
  if (available < RECORD_HEADER_BYTES) return { kind: 'torn', reason: 'partial record header' };
  const length = data.readUInt32BE(offset);
  if (length > RECORD_PAYLOAD_BYTES_MAX) return { kind: 'corrupt', reason: `record length ${length} is impossible` };
  if (available < RECORD_HEADER_BYTES + length) return { kind: 'torn', reason: 'record runs past the end of the file' };
  const payloadAt = payloadOffset(offset, format);
  const payload = data.subarray(payloadAt, payloadAt + length);
  let type: number;
  if (format === 1) {
    type = data.readUInt8(offset + 8);
  } else {
    const trailer = data.readUInt8(payloadAt + length);
    if ((trailer & TRAILER_MARK) !== TRAILER_MARK) return { kind: 'corrupt', reason: 'record trailer is not marked' };
    type = trailer & ~TRAILER_MARK;
  }
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

/**
 * Whether the record at `offset`, which does not verify, shows a write that never
 * reached the disk rather than damage to one that did. Unwritten preallocated space
 * is zero, so either:
 *
 * - it was cut short and nothing was written after it: its last byte (format 2's
 *   trailer, never zero when written) and everything after it are zero; or
 * - a sector of it is all zero (a power loss keeps or loses each sector of an
 *   unsynced write on its own, as etcd's WAL also assumes: isTornEntry).
 *
 * Either way no intact record may start inside it, which a damaged length would
 * otherwise hide. The sector rule cannot tell a lost sector from a damaged record
 * whose payload holds a sector of zeros (etcd has the same ambiguity): the caller
 * keeps a copy of what it cuts off.
 *
 * A record that runs past the end of `data` is the caller's case (a torn tail).
 */
export function looksUnwritten(data: Buffer, offset: number, format: RecordFormat): boolean {
  const end = offset + RECORD_HEADER_BYTES + data.readUInt32BE(offset);
  if (end > data.byteLength) return false;
  // A torn length only loses bits (unwritten bytes are zero), so it never reaches
  // past an intact record; a length that does was damaged after it was written.
  if (intactRecordWithin(data, offset + 1, end, format)) return false;
  if (format === 2 && endOfNonZero(data, offset) < end) return true;
  for (let start = offset; start < end; ) {
    const next = Math.min(end, (Math.floor(start / SECTOR_BYTES) + 1) * SECTOR_BYTES);
    if (isZero(data, start, next)) return true;
    start = next;
  }
  return false;
}

/** Whether a complete, checksummed record starts in [from, to). */
export function intactRecordWithin(data: Buffer, from: number, to: number, format: RecordFormat): boolean {
  for (let offset = from; offset < to && offset + RECORD_HEADER_BYTES <= data.byteLength; offset += 1) {
    if (data.readUInt32BE(offset) !== 0 && 'bytes' in decodeRecord(data, offset, format)) return true;
  }
  return false;
}

/** Whether data[from, to) is all zero bytes (compared a chunk at a time, natively). */
export function isZero(data: Buffer, from: number, to: number): boolean {
  const zeros = sharedZeros();
  for (let start = from; start < to; start += zeros.byteLength) {
    const end = Math.min(to, start + zeros.byteLength);
    if (data.compare(zeros, 0, end - start, start, end) !== 0) return false;
  }
  return true;
}

/** The offset just after the last non-zero byte at or after `from` (`from` when there is none). */
export function endOfNonZero(data: Buffer, from: number): number {
  let end = data.byteLength;
  while (end > from) {
    const start = Math.max(from, end - sharedZeros().byteLength);
    if (!isZero(data, start, end)) {
      while (data[end - 1] === 0) end -= 1;
      return end;
    }
    end = start;
  }
  return from;
}
