import CRC32C from 'crc-32/crc32c.js';
import type { SnapshotChunk } from './snapshot-messages.js';

/** CRC-32C of a whole snapshot, as carried in every chunk. */
export function snapshotChecksum(data: Uint8Array): number {
  return CRC32C.buf(data, 0) >>> 0;
}

/** Splits `data` into chunks of at most `chunkBytes` (one empty chunk for no data). */
export function* splitSnapshot(
  head: Omit<SnapshotChunk, 'offset' | 'total' | 'checksum' | 'data'>,
  data: Uint8Array,
  chunkBytes: number,
): Generator<SnapshotChunk> {
  const checksum = snapshotChecksum(data);
  let offset = 0;
  do {
    const end = Math.min(data.byteLength, offset + chunkBytes);
    yield { ...head, offset, total: data.byteLength, checksum, data: data.subarray(offset, end) };
    offset = end;
  } while (offset < data.byteLength);
}

export type AssemblyResult =
  | { readonly status: 'incomplete' }
  | { readonly status: 'complete'; readonly data: Uint8Array }
  | { readonly status: 'invalid'; readonly reason: string };

/**
 * Reassembles one snapshot transfer from its chunks, in any order, ignoring
 * duplicates: the simulator's network reorders and duplicates them, and TCP
 * delivers them in order, so one implementation serves both. Every chunk must agree
 * on the transfer's identity and size, and the whole must match its checksum.
 */
export class SnapshotAssembler {
  private readonly buffer: Uint8Array;
  /** Received byte ranges as [start, end), disjoint; merged when adjacent. */
  private readonly received: Array<[number, number]> = [];
  private receivedBytes = 0;

  constructor(readonly first: SnapshotChunk, bytesMax: number) {
    if (first.total > bytesMax) throw new RangeError(`snapshot of ${first.total} bytes exceeds the limit of ${bytesMax}`);
    this.buffer = new Uint8Array(first.total);
  }

  add(chunk: SnapshotChunk): AssemblyResult {
    const first = this.first;
    if (chunk.transfer !== first.transfer || chunk.total !== first.total || chunk.checksum !== first.checksum || chunk.snapshot.index !== first.snapshot.index || chunk.snapshot.term !== first.snapshot.term) {
      return { status: 'invalid', reason: 'chunk does not belong to this transfer' };
    }
    const end = chunk.offset + chunk.data.byteLength;
    if (end > chunk.total) return { status: 'invalid', reason: `chunk [${chunk.offset}, ${end}) runs past the snapshot's ${chunk.total} bytes` };
    if (!this.covered(chunk.offset, end)) {
      this.buffer.set(chunk.data, chunk.offset);
      this.markReceived(chunk.offset, end);
    }
    if (this.receivedBytes < chunk.total) return { status: 'incomplete' };
    if (snapshotChecksum(this.buffer) !== first.checksum) return { status: 'invalid', reason: 'snapshot checksum mismatch' };
    return { status: 'complete', data: this.buffer };
  }

  private covered(start: number, end: number): boolean {
    if (start === end) return true;
    return this.received.some(([s, e]) => s <= start && end <= e);
  }

  private markReceived(start: number, end: number): void {
    // Merge [start, end) into the disjoint list, counting only new bytes.
    let newStart = start;
    let newEnd = end;
    const kept: Array<[number, number]> = [];
    for (const [s, e] of this.received) {
      if (e < newStart || s > newEnd) kept.push([s, e]);
      else {
        newStart = Math.min(newStart, s);
        newEnd = Math.max(newEnd, e);
      }
    }
    kept.push([newStart, newEnd]);
    kept.sort((a, b) => a[0] - b[0]);
    this.received.length = 0;
    this.received.push(...kept);
    this.receivedBytes = kept.reduce((sum, [s, e]) => sum + (e - s), 0);
  }
}
