/** Reading WAL segment files in tests: where the records end, and preallocated copies. */
import { promises as fsp } from 'node:fs';
import path from 'node:path';

import { decodeRecord } from '../../src/storage/wal/record.js';

/** Bytes of the magic that starts every segment. */
export const SEGMENT_HEADER_BYTES = 8;

/** Where the records of a segment end (the rest, in a preallocated one, is zeros). */
export function recordsEnd(bytes: Buffer): number {
  let offset = SEGMENT_HEADER_BYTES;
  for (;;) {
    const record = decodeRecord(bytes, offset);
    if (!('bytes' in record)) return offset;
    offset += record.bytes;
  }
}

/** The bytes of records in all the segments of `dir`: what appends and compactions wrote. */
export async function recordBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of (await fsp.readdir(dir)).filter((file) => file.endsWith('.wal'))) {
    total += recordsEnd(await fsp.readFile(path.join(dir, name)));
  }
  return total;
}

/** `bytes` followed by zeros up to `length`: a preallocated segment. */
export function preallocated(bytes: Uint8Array, length = 4096): Buffer {
  const out = Buffer.alloc(Math.max(length, bytes.byteLength));
  out.set(bytes);
  return out;
}
