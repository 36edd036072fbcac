import { InvariantError } from '../../errors.js';
import type { Entry, EntryId, Index, Term } from '../../core/types.js';

/**
 * The (index, term) shape of the log the WAL holds, without the payloads: what
 * `compact` needs to apply the Raft paper's Figure 13 rule, and what `append` needs
 * to refuse a batch that would leave a WAL that cannot be replayed. Terms are kept
 * as runs (first index, term), since a term usually spans thousands of entries.
 */
export class LogTerms {
  private base: EntryId;
  private lastIndexValue: Index;
  /** Run i covers runStarts[i] .. runStarts[i + 1] - 1 (or lastIndex) with runTerms[i]. */
  private runStarts: Index[] = [];
  private runTerms: Term[] = [];

  constructor(base: EntryId, entries: readonly Entry[]) {
    this.base = { index: base.index, term: base.term };
    this.lastIndexValue = base.index;
    for (const entry of entries) this.push(entry);
  }

  /** The entry just before the first one held (0/0 when never compacted). */
  get compactedThrough(): EntryId {
    return this.base;
  }

  get lastIndex(): Index {
    return this.lastIndexValue;
  }

  /** The term of the entry at `index`, counting the base itself; undefined when not held. */
  termAt(index: Index): Term | undefined {
    if (index === this.base.index) return this.base.term;
    if (index < this.base.index || index > this.lastIndexValue) return undefined;
    let low = 0;
    let high = this.runStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.runStarts[middle]! <= index) low = middle;
      else high = middle - 1;
    }
    return this.runTerms[low];
  }

  /**
   * Throws InvariantError unless `entries` are contiguous and start after the base
   * and at most one past the last entry (anything else would replay as a gap).
   */
  checkAppend(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    if (first <= this.base.index || first > this.lastIndexValue + 1) {
      throw new InvariantError(
        `cannot append entry ${first}: the log holds ${this.base.index + 1}..${this.lastIndexValue} after compaction at ${this.base.index}`,
      );
    }
    for (let i = 1; i < entries.length; i += 1) {
      if (entries[i]!.index !== first + i) throw new InvariantError(`appended entries are not contiguous at ${entries[i]!.index}`);
    }
  }

  /** Records an append (already checked): each entry replaces its index and everything after. */
  append(entries: readonly Entry[]): void {
    for (const entry of entries) this.push(entry);
  }

  /** Figure 13: whether compacting at `base` keeps the entries after it. */
  keepsSuffix(base: EntryId): boolean {
    return this.termAt(base.index) === base.term;
  }

  /** The log now starts after `base`: drops what is at or before it, or everything when `keepsSuffix` is false. */
  compact(base: EntryId, keepsSuffix: boolean): void {
    if (!keepsSuffix || base.index >= this.lastIndexValue) {
      this.runStarts = [];
      this.runTerms = [];
      this.lastIndexValue = base.index;
    } else {
      let drop = 0;
      while (drop + 1 < this.runStarts.length && this.runStarts[drop + 1]! <= base.index + 1) drop += 1;
      this.runStarts.splice(0, drop);
      this.runTerms.splice(0, drop);
      if (this.runStarts.length > 0) this.runStarts[0] = Math.max(this.runStarts[0]!, base.index + 1);
    }
    this.base = { index: base.index, term: base.term };
  }

  private push(entry: Entry): void {
    this.truncateFrom(entry.index);
    const runs = this.runTerms.length;
    if (runs === 0 || this.runTerms[runs - 1] !== entry.term) {
      this.runStarts.push(entry.index);
      this.runTerms.push(entry.term);
    }
    this.lastIndexValue = entry.index;
  }

  /** Removes `index` and everything after it. */
  private truncateFrom(index: Index): void {
    if (index > this.lastIndexValue) return;
    while (this.runStarts.length > 0 && this.runStarts[this.runStarts.length - 1]! >= index) {
      this.runStarts.pop();
      this.runTerms.pop();
    }
    this.lastIndexValue = index - 1;
  }
}
