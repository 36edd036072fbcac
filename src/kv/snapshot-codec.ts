import { isUtf8 } from 'node:buffer';
import CRC32C from 'crc-32/crc32c.js';

import { InvalidSnapshotDataError } from '../errors.js';
import { isWellFormed, utf8Write } from '../util/utf8.js';

/**
 * The primitives snapshot bytes are made of: little-endian integers, float64s
 * (indexes and seqs are safe integers, which a float64 holds exactly) and strings,
 * written as a stream cut into chunks, with a CRC-32C of everything before it as the
 * last four bytes. Chunk boundaries carry no meaning: a value may straddle two
 * chunks, and the reader sees only their concatenation.
 */
export const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

/** How a string's bytes are stored: UTF-8 when that is lossless, else UTF-16 code
 * units (a lone surrogate survives UTF-16 but would become U+FFFD in UTF-8). */
const enum StringEncoding {
  Utf8 = 0,
  Utf16 = 1,
}

const TRAILER_BYTES = 4;
const INITIAL_BUFFER_BYTES = 16 * 1024;

/** A string's header: its encoding (u8), then its length in bytes (u32). */
const STRING_HEADER_BYTES = 5;

/** Accumulates a byte stream into chunks of at most `chunkBytes`; `take()` hands over the full ones. */
export class ChunkWriter {
  private buffer: Buffer;
  private at = 0;
  /** Bytes of `buffer` already folded into `crc`. */
  private checked = 0;
  private crc = 0;
  private ready: Uint8Array[] = [];

  constructor(private readonly chunkBytes: number = SNAPSHOT_CHUNK_BYTES) {
    // Small snapshots (and stateDigest() in tests) should not cost a 1 MiB buffer:
    // start small and grow until a chunk is full size.
    this.buffer = Buffer.allocUnsafe(Math.min(INITIAL_BUFFER_BYTES, chunkBytes));
  }

  /** The chunks completed so far, each a fresh buffer the caller may keep. */
  take(): Uint8Array[] {
    const chunks = this.ready;
    this.ready = [];
    return chunks;
  }

  u8(value: number): void {
    this.room(1);
    this.buffer[this.at] = value;
    this.at += 1;
  }

  u32(value: number): void {
    this.room(4);
    this.buffer.writeUInt32LE(value, this.at);
    this.at += 4;
  }

  f64(value: number): void {
    this.room(8);
    this.buffer.writeDoubleLE(value, this.at);
    this.at += 8;
  }

  string(value: string): void {
    if (isWellFormed(value)) {
      // At most 3 UTF-8 bytes per UTF-16 unit: when that fits in this chunk, write
      // the bytes after room for the header and fill the length in after, instead
      // of scanning the string once to measure it and once to copy it.
      const most = STRING_HEADER_BYTES + value.length * 3;
      if (this.at + most <= this.chunkBytes) {
        this.room(most); // fits in this chunk: at most grows the buffer, never flushes
        const length = utf8Write(this.buffer, value, this.at + STRING_HEADER_BYTES);
        this.buffer[this.at] = StringEncoding.Utf8;
        this.buffer.writeUInt32LE(length, this.at + 1);
        this.at += STRING_HEADER_BYTES + length;
        return;
      }
      const encoded = Buffer.from(value, 'utf8');
      this.u8(StringEncoding.Utf8);
      this.u32(encoded.byteLength);
      this.bytes(encoded);
      return;
    }
    const units = Buffer.from(value, 'utf16le');
    this.u8(StringEncoding.Utf16);
    this.u32(units.byteLength);
    this.bytes(units);
  }

  /** Ends the stream with its checksum; `take()` then returns the last chunks. */
  finish(): void {
    this.fold();
    const crc = this.crc >>> 0;
    this.u32(crc);
    this.checked = this.at; // the trailer is not part of what it checks
    this.flush(false);
  }

  private bytes(source: Uint8Array): void {
    let from = 0;
    while (from < source.byteLength) {
      if (this.at === this.buffer.byteLength) this.room(1);
      const n = Math.min(source.byteLength - from, this.buffer.byteLength - this.at);
      this.buffer.set(source.subarray(from, from + n), this.at);
      this.at += n;
      from += n;
    }
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.buffer.byteLength) return;
    if (this.buffer.byteLength < this.chunkBytes) {
      let size = this.buffer.byteLength * 2;
      while (size < this.at + bytes && size < this.chunkBytes) size *= 2;
      const grown = Buffer.allocUnsafe(Math.min(size, this.chunkBytes));
      this.buffer.copy(grown, 0, 0, this.at);
      this.buffer = grown;
      if (this.at + bytes <= this.buffer.byteLength) return;
    }
    this.flush();
  }

  private fold(): void {
    if (this.at > this.checked) this.crc = CRC32C.buf(this.buffer.subarray(this.checked, this.at), this.crc);
    this.checked = this.at;
  }

  private flush(more = true): void {
    if (this.at === 0) return;
    this.fold();
    // The buffer is handed over whole and never written again, so a view of it is safe.
    this.ready.push(this.buffer.subarray(0, this.at));
    this.buffer = more ? Buffer.allocUnsafe(this.chunkBytes) : Buffer.alloc(0);
    this.at = 0;
    this.checked = 0;
  }
}

/** Reads what a ChunkWriter wrote; every read is bounds-checked and throws InvalidSnapshotDataError. */
export class SnapshotReader {
  private readonly buffer: Buffer;
  private at = 0;
  /** Where the checksum trailer starts: reads never reach into it. */
  private readonly end: number;

  constructor(data: Uint8Array) {
    this.buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (data.byteLength < TRAILER_BYTES) throw new InvalidSnapshotDataError(`snapshot of ${data.byteLength} bytes is too short to hold its checksum`);
    this.end = data.byteLength - TRAILER_BYTES;
    const expected = this.buffer.readUInt32LE(this.end);
    const actual = CRC32C.buf(this.buffer.subarray(0, this.end), 0) >>> 0;
    if (expected !== actual) {
      throw new InvalidSnapshotDataError(`snapshot checksum mismatch over ${this.end} bytes (stored ${expected}, computed ${actual}): truncated or corrupt`);
    }
  }

  get offset(): number {
    return this.at;
  }

  u8(what: string): number {
    this.need(1, what);
    const value = this.buffer[this.at]!;
    this.at += 1;
    return value;
  }

  u32(what: string): number {
    this.need(4, what);
    const value = this.buffer.readUInt32LE(this.at);
    this.at += 4;
    return value;
  }

  f64(what: string): number {
    this.need(8, what);
    const value = this.buffer.readDoubleLE(this.at);
    this.at += 8;
    return value;
  }

  /** A float64 that must be a non-negative safe integer (an index, a seq). */
  count(what: string): number {
    const at = this.at;
    const value = this.f64(what);
    if (!Number.isSafeInteger(value) || value < 0) throw this.corrupt(`${what} is ${value}, not a non-negative integer`, at);
    return value;
  }

  string(what: string): string {
    const at = this.at;
    const encoding = this.u8(what);
    const length = this.u32(what);
    this.need(length, what);
    const bytes = this.buffer.subarray(this.at, this.at + length);
    this.at += length;
    if (encoding === StringEncoding.Utf8) {
      if (!isUtf8(bytes)) throw this.corrupt(`${what} is not valid UTF-8`, at);
      return bytes.toString('utf8');
    }
    if (encoding === StringEncoding.Utf16 && length % 2 === 0) return bytes.toString('utf16le');
    throw this.corrupt(`${what} has an unknown string encoding ${encoding} (length ${length})`, at);
  }

  /** Throws unless every byte before the trailer was read. */
  expectEnd(): void {
    if (this.at !== this.end) throw this.corrupt(`${this.end - this.at} unexpected bytes after the last record`, this.at);
  }

  corrupt(message: string, at: number = this.at): InvalidSnapshotDataError {
    return new InvalidSnapshotDataError(`corrupt snapshot at offset ${at}: ${message}`);
  }

  private need(bytes: number, what: string): void {
    if (this.at + bytes > this.end) throw this.corrupt(`${what} needs ${bytes} bytes, ${this.end - this.at} left`);
  }
}
