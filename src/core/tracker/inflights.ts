import { assert } from '../../errors.js';
import type { Index } from '../types.js';

/**
 * The appends in flight to one follower, oldest first, bounded by count and by bytes
 * (etcd tracker/inflights.go). A ring buffer: the leader adds at the tail as it sends
 * and frees from the head as the follower acknowledges, so neither end shifts an array.
 *
 * Invariant: the indexes held never decrease from head to tail (an empty append,
 * sent as a probe after a heartbeat answer, repeats the previous last index).
 */
export class Inflights {
  /** Last index of each append in flight, and its bytes; slots [head, head + count). */
  private readonly indexes: Index[];
  private readonly sizes: number[];
  private head = 0;
  private count = 0;
  private bytes = 0;

  constructor(
    private readonly countMax: number,
    private readonly bytesMax: number,
  ) {
    assert(countMax >= 1, 'inflight count max must be positive');
    this.indexes = new Array<Index>(countMax).fill(0);
    this.sizes = new Array<number>(countMax).fill(0);
  }

  /** Nothing more may be sent: full by count, or by bytes (etcd Inflights.Full). */
  full(): boolean {
    return this.count >= this.countMax || this.bytes >= this.bytesMax;
  }

  /** Records an append whose last entry is `index`, carrying `bytes` of entries. */
  add(index: Index, bytes: number): void {
    assert(this.count < this.countMax, 'inflights overflow: add() while full by count');
    if (this.count > 0) assert(index >= this.indexes[(this.head + this.count - 1) % this.countMax]!, 'inflight indexes must not decrease');
    const slot = (this.head + this.count) % this.countMax;
    this.indexes[slot] = index;
    this.sizes[slot] = bytes;
    this.count += 1;
    this.bytes += bytes;
  }

  /** Frees every append whose last index is at or below `index` (it was acknowledged). */
  freeTo(index: Index): void {
    while (this.count > 0 && this.indexes[this.head]! <= index) this.freeFirst();
  }

  /** Frees the oldest append (a heartbeat answer proves the follower alive). */
  freeFirst(): void {
    if (this.count === 0) return;
    this.bytes -= this.sizes[this.head]!;
    this.head = (this.head + 1) % this.countMax;
    this.count -= 1;
  }

  reset(): void {
    this.head = 0;
    this.count = 0;
    this.bytes = 0;
  }

  size(): number {
    return this.count;
  }

  totalBytes(): number {
    return this.bytes;
  }
}
