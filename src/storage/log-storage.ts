import type { Entry, EntryId, HardState } from '../core/types.js';

/**
 * Where the driver makes the core's promises durable (hashicorp's LogStore and
 * StableStore in one, etcd's Storage write side). Reads are not part of it: the core
 * keeps the log since the last snapshot in memory, so it never awaits storage.
 */
export interface LogStorage {
  /**
   * Appends `entries` (an entry at index i replaces any at i or later) and then
   * `hardState`; resolves once durable when `sync`. A rejection means nothing may be
   * acknowledged: the node must stop.
   */
  append(entries: readonly Entry[], hardState: HardState | undefined, sync: boolean): Promise<void>;
  /**
   * Durably records that the log now starts after `base`, with the rule of Raft paper
   * Figure 13: if the log holds an entry with base's index and term, the entries after
   * it are kept and those up to it dropped; otherwise every entry is dropped (a
   * follower installing a snapshot that conflicts with its log).
   */
  compact(base: EntryId): Promise<void>;
  close(): Promise<void>;
}

/** The in-memory twin, for core and driver tests. Everything is "durable" at once. */
export class MemoryStorage implements LogStorage {
  hardState: HardState | undefined;
  /** The log after `base`, contiguous from base.index + 1. */
  entries: Entry[] = [];
  base: EntryId = { index: 0, term: 0 };
  syncs = 0;

  async append(entries: readonly Entry[], hardState: HardState | undefined, sync: boolean): Promise<void> {
    for (const entry of entries) {
      this.entries.length = Math.max(0, entry.index - 1 - this.base.index);
      this.entries.push(entry);
    }
    if (hardState !== undefined) this.hardState = hardState;
    if (sync) this.syncs += 1;
  }

  async compact(base: EntryId): Promise<void> {
    const at = this.entries[base.index - this.base.index - 1];
    const holds = base.index === this.base.index ? base.term === this.base.term : at !== undefined && at.term === base.term;
    this.entries = holds ? this.entries.slice(base.index - this.base.index) : [];
    this.base = base;
  }

  async close(): Promise<void> {}
}
