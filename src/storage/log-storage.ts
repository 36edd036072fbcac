import type { Entry, EntryId, HardState } from '../core/types.js';
import { assert } from '../errors.js';

/**
 * Where the driver makes the core's promises durable (hashicorp's LogStore and
 * StableStore in one, etcd's Storage write side). Reads are not part of it: the core
 * keeps the log since the last snapshot in memory, so it never awaits storage.
 */
export interface LogStorage {
  /**
   * Appends `entries` (an entry at index i replaces any at i or later) and then
   * `hardState`; resolves once durable when `sync`. A rejection means nothing may be
   * acknowledged: the node must stop. Entries must start after the compaction base
   * and at most one past the last entry.
   */
  append(entries: readonly Entry[], hardState: HardState | undefined, sync: boolean): Promise<void>;
  /**
   * Durably records that the log now starts after `base` (Raft paper Figure 13): if
   * it holds the entry (base.index, base.term), the entries after it are kept;
   * otherwise all are dropped. A base at or before the current one changes nothing.
   * `hardState`, when given, is made durable together with the compaction (the
   * commit index an installed snapshot implies).
   */
  compact(base: EntryId, hardState?: HardState): Promise<void>;
  close(): Promise<void>;
}

/** The in-memory twin, for core and driver tests. Everything is "durable" at once. */
export class MemoryStorage implements LogStorage {
  hardState: HardState | undefined;
  /** The entry just before `entries[0]` (0/0 until compacted). */
  base: EntryId = { index: 0, term: 0 };
  /** Contiguous from base.index + 1. */
  entries: Entry[] = [];
  syncs = 0;
  compactions = 0;

  async append(entries: readonly Entry[], hardState: HardState | undefined, sync: boolean): Promise<void> {
    for (const entry of entries) {
      const position = entry.index - this.base.index - 1;
      assert(position >= 0 && position <= this.entries.length, `cannot append entry ${entry.index} after ${this.lastIndex()} (compacted through ${this.base.index})`);
      this.entries.length = position;
      this.entries.push(entry);
    }
    if (hardState !== undefined) this.hardState = hardState;
    if (sync) this.syncs += 1;
  }

  async compact(base: EntryId, hardState?: HardState): Promise<void> {
    if (hardState !== undefined) this.hardState = hardState;
    if (base.index < this.base.index || (base.index === this.base.index && base.term === this.base.term)) return;
    const held = base.index === this.base.index ? this.base.term : this.entries[base.index - this.base.index - 1]?.term;
    this.entries = held === base.term ? this.entries.slice(base.index - this.base.index) : [];
    this.base = { index: base.index, term: base.term };
    this.compactions += 1;
  }

  /** Index of the last entry held (the base's when none is). */
  lastIndex(): number {
    return this.base.index + this.entries.length;
  }

  async close(): Promise<void> {}
}
