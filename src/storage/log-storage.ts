import type { Entry, HardState } from '../core/types.js';

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
  close(): Promise<void>;
}

/** The in-memory twin, for core and driver tests. Everything is "durable" at once. */
export class MemoryStorage implements LogStorage {
  hardState: HardState | undefined;
  entries: Entry[] = [];
  syncs = 0;

  async append(entries: readonly Entry[], hardState: HardState | undefined, sync: boolean): Promise<void> {
    for (const entry of entries) {
      this.entries.length = entry.index - 1;
      this.entries.push(entry);
    }
    if (hardState !== undefined) this.hardState = hardState;
    if (sync) this.syncs += 1;
  }

  async close(): Promise<void> {}
}
