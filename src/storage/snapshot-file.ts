import CRC32C from 'crc-32/crc32c.js';
import path from 'node:path';
import type { NodeId, SnapshotMeta } from '../core/types.js';
import { CorruptSnapshotError, StorageError } from '../errors.js';
import type { AppendHandle, FileSystem } from './file-system.js';

/**
 * One snapshot file. The data is streamed while the state machine serializes it, so
 * its size and checksum are only known at the end: they go in a footer.
 *
 * ```
 * header   0      magic 'RAFTSNAP' (8 bytes)
 *          8      format version u32 BE (1)
 *          12     meta length M u32 BE
 *          16     meta: index f64 | term f64 | voters u32, each f64 | learners u32, each f64
 *          16+M   crc32c u32 BE of bytes 0 .. 16+M
 * data     20+M   N bytes
 * footer   20+M+N data bytes N f64 | crc32c of the data u32 | crc32c of the previous 12 bytes u32 | 'RAFTSEND'
 * ```
 *
 * All integers big-endian; ids, terms and indexes are safe integers, which a float64
 * holds exactly (as in the WAL). A file cut short anywhere lacks a valid footer, so a
 * torn write is never mistaken for a snapshot.
 */
const MAGIC = Buffer.from('RAFTSNAP', 'ascii');
const END_MAGIC = Buffer.from('RAFTSEND', 'ascii');
/** 2 added member addresses to the configuration; version 1 files still load. */
const VERSION = 2;
const META_OFFSET = 16;
const FOOTER_BYTES = 24;
/** Far above any real membership; a larger count is a damaged header. */
const MEMBERS_MAX = 10_000;
/** Small chunks are gathered into writes of this size. */
const WRITE_BYTES = 1024 * 1024;

/** The cluster membership in force at a snapshot's index (voters vote; learners only replicate). */
// The metadata types are the core's: a snapshot file stores exactly what the core
// knows a snapshot by.
export type { ClusterConfig, SnapshotMeta } from '../core/types.js';

/** A snapshot read and verified from disk. */
export interface LoadedSnapshot {
  readonly meta: SnapshotMeta;
  /** The state machine's serialized state. */
  readonly data: Uint8Array;
  readonly file: string;
  /** The file's size on disk (header, data and footer). */
  readonly bytes: number;
}

function isSafeNonNegative(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function crc(data: Uint8Array, seed = 0): number {
  return CRC32C.buf(data, seed);
}

function encodeHeader(meta: SnapshotMeta): Buffer {
  const { voters, learners } = meta.config;
  const addresses = (meta.config.addresses ?? []).map((a) => ({ id: a.id, bytes: Buffer.from(a.address, 'utf8') }));
  const addressBytes = 4 + addresses.reduce((sum, a) => sum + 8 + 4 + a.bytes.byteLength, 0);
  const metaBytes = 16 + 4 + voters.length * 8 + 4 + learners.length * 8 + addressBytes;
  const out = Buffer.alloc(META_OFFSET + metaBytes + 4);
  MAGIC.copy(out, 0);
  out.writeUInt32BE(VERSION, 8);
  out.writeUInt32BE(metaBytes, 12);
  let offset = META_OFFSET;
  offset = out.writeDoubleBE(meta.index, offset);
  offset = out.writeDoubleBE(meta.term, offset);
  for (const members of [voters, learners]) {
    offset = out.writeUInt32BE(members.length, offset);
    for (const id of members) offset = out.writeDoubleBE(id, offset);
  }
  offset = out.writeUInt32BE(addresses.length, offset);
  for (const { id, bytes } of addresses) {
    offset = out.writeDoubleBE(id, offset);
    offset = out.writeUInt32BE(bytes.byteLength, offset);
    offset += bytes.copy(out, offset);
  }
  out.writeUInt32BE(crc(out.subarray(0, offset)) >>> 0, offset);
  return out;
}

function encodeFooter(dataBytes: number, dataCrc: number): Buffer {
  const out = Buffer.alloc(FOOTER_BYTES);
  out.writeDoubleBE(dataBytes, 0);
  out.writeUInt32BE(dataCrc >>> 0, 8);
  out.writeUInt32BE(crc(out.subarray(0, 12)) >>> 0, 12);
  END_MAGIC.copy(out, 16);
  return out;
}

/** Parses and verifies a whole snapshot file; throws CorruptSnapshotError with the offset of what fails. */
export function decodeSnapshot(file: string, bytes: Uint8Array): LoadedSnapshot {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (offset: number, reason: string): never => {
    throw new CorruptSnapshotError(file, offset, reason);
  };
  if (data.byteLength < META_OFFSET || !data.subarray(0, MAGIC.byteLength).equals(MAGIC)) fail(0, 'not a snapshot file: bad magic');
  const version = data.readUInt32BE(8);
  if (version !== VERSION && version !== 1) fail(8, `unsupported snapshot format version ${version}`);
  const metaBytes = data.readUInt32BE(12);
  const headerBytes = META_OFFSET + metaBytes + 4;
  if (headerBytes + FOOTER_BYTES > data.byteLength) fail(12, `header of ${headerBytes} bytes does not fit in a file of ${data.byteLength}`);
  if ((crc(data.subarray(0, META_OFFSET + metaBytes)) >>> 0) !== data.readUInt32BE(META_OFFSET + metaBytes)) {
    fail(0, 'header checksum mismatch');
  }
  const meta = decodeMeta(data.subarray(META_OFFSET, META_OFFSET + metaBytes), version);
  if (typeof meta === 'string') return fail(META_OFFSET, meta);
  const footerStart = data.byteLength - FOOTER_BYTES;
  const footer = data.subarray(footerStart);
  if (!footer.subarray(16).equals(END_MAGIC) || (crc(footer.subarray(0, 12)) >>> 0) !== footer.readUInt32BE(12)) {
    fail(footerStart, 'missing or damaged footer (an interrupted write?)');
  }
  const dataBytes = footer.readDoubleBE(0);
  if (dataBytes !== footerStart - headerBytes) {
    fail(footerStart, `footer says ${dataBytes} bytes of data but the file holds ${footerStart - headerBytes}`);
  }
  const payload = data.subarray(headerBytes, footerStart);
  if ((crc(payload) >>> 0) !== footer.readUInt32BE(8)) fail(headerBytes, `data checksum mismatch over ${dataBytes} bytes`);
  return { meta, data: payload, file, bytes: data.byteLength };
}

function decodeMeta(meta: Buffer, version: number): SnapshotMeta | string {
  if (meta.byteLength < 24) return 'meta too short';
  const index = meta.readDoubleBE(0);
  const term = meta.readDoubleBE(8);
  if (!isSafeNonNegative(index) || !isSafeNonNegative(term)) return 'index or term out of range';
  let offset = 16;
  const lists: NodeId[][] = [];
  for (let list = 0; list < 2; list += 1) {
    if (offset + 4 > meta.byteLength) return 'meta too short for the configuration';
    const count = meta.readUInt32BE(offset);
    offset += 4;
    if (count > MEMBERS_MAX || offset + count * 8 > meta.byteLength) return `impossible member count ${count}`;
    const ids: NodeId[] = [];
    for (let i = 0; i < count; i += 1, offset += 8) {
      const id = meta.readDoubleBE(offset);
      if (!Number.isSafeInteger(id) || id <= 0) return 'member id out of range';
      ids.push(id);
    }
    lists.push(ids);
  }
  const addresses: { id: NodeId; address: string }[] = [];
  if (version >= 2) {
    if (offset + 4 > meta.byteLength) return 'meta too short for the addresses';
    const count = meta.readUInt32BE(offset);
    offset += 4;
    if (count > MEMBERS_MAX) return `impossible address count ${count}`;
    for (let i = 0; i < count; i += 1) {
      if (offset + 12 > meta.byteLength) return 'meta too short for an address';
      const id = meta.readDoubleBE(offset);
      const length = meta.readUInt32BE(offset + 8);
      offset += 12;
      if (!Number.isSafeInteger(id) || id <= 0 || offset + length > meta.byteLength) return 'address entry out of range';
      addresses.push({ id, address: meta.toString('utf8', offset, offset + length) });
      offset += length;
    }
  }
  if (offset !== meta.byteLength) return 'meta length does not match its contents';
  const config = version >= 2 ? { voters: lists[0]!, learners: lists[1]!, addresses } : { voters: lists[0]!, learners: lists[1]! };
  return { index, term, config };
}

/** Reads and verifies one snapshot file (a backup written by `raft-cli snapshot save`); throws CorruptSnapshotError. */
export async function readSnapshotFile(fs: FileSystem, file: string): Promise<LoadedSnapshot> {
  return decodeSnapshot(file, await fs.readFile(file));
}

/**
 * Writes a snapshot file at an explicit path, atomically: a temp file beside it
 * (`<file>.tmp`), fsync, rename, fsync of the directory. A crash at any point leaves
 * either the previous file at `file` or the whole new one, and at most a temp file.
 * Chunks must not be changed after they are yielded. A failure removes the temp file
 * (best effort) and rejects: with StorageError for the disk, or the chunk source's own
 * error.
 */
export async function writeSnapshotFile(
  fs: FileSystem,
  file: string,
  meta: SnapshotMeta,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<{ bytes: number }> {
  const temp = `${file}.tmp`;
  let handle: AppendHandle | undefined;
  let sourceFailed = false;
  try {
    await fs.remove(temp);
    handle = await fs.openAppend(temp);
    const writer = new GatheringWriter(handle);
    const header = encodeHeader(meta);
    await writer.add(header);
    let dataBytes = 0;
    let dataCrc = 0;
    try {
      for await (const chunk of chunks) {
        dataCrc = crc(chunk, dataCrc);
        dataBytes += chunk.byteLength;
        await writer.add(chunk);
      }
    } catch (err) {
      if (!writer.failed) sourceFailed = true;
      throw err;
    }
    await writer.add(encodeFooter(dataBytes, dataCrc));
    await writer.flush();
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(temp, file);
    await fs.syncDir(path.dirname(file));
    return { bytes: header.byteLength + dataBytes + FOOTER_BYTES };
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await fs.remove(temp).catch(() => undefined);
    if (sourceFailed) throw err;
    throw new StorageError(`snapshot write failed for ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Gathers small chunks into large writes; each write completes before its buffer is reused. */
class GatheringWriter {
  private buffer = Buffer.allocUnsafe(WRITE_BYTES);
  private used = 0;
  /** Set when a write to the disk failed (as opposed to the chunk source). */
  failed = false;

  constructor(private readonly handle: AppendHandle) {}

  async add(chunk: Uint8Array): Promise<void> {
    if (chunk.byteLength >= WRITE_BYTES) {
      await this.flush();
      await this.write(chunk);
      return;
    }
    if (this.used + chunk.byteLength > WRITE_BYTES) await this.flush();
    this.buffer.set(chunk, this.used);
    this.used += chunk.byteLength;
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    const full = this.buffer.subarray(0, this.used);
    this.buffer = Buffer.allocUnsafe(WRITE_BYTES);
    this.used = 0;
    await this.write(full);
  }

  private async write(data: Uint8Array): Promise<void> {
    try {
      await this.handle.write(data);
    } catch (err) {
      this.failed = true;
      throw err;
    }
  }
}
