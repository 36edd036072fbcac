import type { Entry, EntryId, HardState, Index, Term } from '../../core/types.js';
import { EMPTY_HARD_STATE } from '../../core/types.js';
import type { DecodedRecord } from './record.js';

/** Where a record sits, for error messages. */
export interface RecordPosition {
  readonly file: string;
  readonly offset: number;
}

/** A break in the entries replayed so far: the log before `index` is unknown. */
interface Gap extends RecordPosition {
  readonly index: Index;
  readonly follows: Index;
}

/**
 * Rebuilds the log from records in order.
 *
 * An entry at an existing index replaces it and everything after it (Raft paper
 * §5.3). A compaction record says the log now starts after its base: the entries
 * after it are kept or all dropped, as the record says (Figure 13, decided when it
 * was written).
 *
 * Gaps: compaction deletes the oldest segments once a compaction record covering
 * them is durable, so a replay may legitimately start at any index, or meet an old
 * compaction record and then entries far after it (the segments between were
 * deleted by a later compaction). A gap is therefore only corruption when no later
 * compaction record covers it: `unexplainedGap()` says so at the end. A lost segment
 * that a compaction covers held nothing the log still needs.
 */
export class Replay {
  hardState: HardState = EMPTY_HARD_STATE;
  base: EntryId = { index: 0, term: 0 };
  /** Contiguous from `firstIndex`. */
  entries: Entry[] = [];
  private firstIndex: Index = 1;
  private gap: Gap | undefined;
  private compacted = false;

  get lastIndex(): Index {
    return this.firstIndex + this.entries.length - 1;
  }

  /** Applies one record; returns why it cannot be, if it cannot. */
  apply(record: DecodedRecord, at: RecordPosition): string | undefined {
    switch (record.kind) {
      case 'hard-state':
        this.hardState = record.hardState;
        return undefined;
      case 'entry':
        return this.applyEntry(record.entry, at);
      case 'compaction': {
        const problem = this.applyCompaction(record.base, record.keepsSuffix);
        if (problem === undefined) this.hardState = record.hardState;
        return problem;
      }
    }
  }

  /** The gap no compaction record explains, if any: the log is then missing entries it needs. */
  unexplainedGap(): (RecordPosition & { readonly reason: string }) | undefined {
    if (this.gap === undefined) return undefined;
    return { file: this.gap.file, offset: this.gap.offset, reason: `entry ${this.gap.index} follows ${this.gap.follows}, leaving a gap` };
  }

  private applyEntry(entry: Entry, at: RecordPosition): string | undefined {
    if (this.compacted && entry.index <= this.base.index) {
      return `entry ${entry.index} is at or before the compaction base ${this.base.index}`;
    }
    if (entry.index > this.lastIndex + 1) {
      this.gap = { file: at.file, offset: at.offset, index: entry.index, follows: this.lastIndex };
      this.restartAt(entry);
      return undefined;
    }
    if (entry.index < this.firstIndex) {
      // A truncation reaching back before everything held: only possible after a
      // gap, and it moves the unknown part of the log back with it.
      this.restartAt(entry);
      if (this.gap !== undefined) this.gap = { ...this.gap, index: entry.index };
      this.explainGap();
      return undefined;
    }
    this.entries.length = entry.index - this.firstIndex;
    this.entries.push(entry);
    return undefined;
  }

  private applyCompaction(base: EntryId, keepsSuffix: boolean): string | undefined {
    if (this.compacted && base.index < this.base.index) {
      return `compaction base ${base.index} is before the previous one ${this.base.index}`;
    }
    const held = this.termAt(base.index);
    if (keepsSuffix && held !== undefined && held !== base.term) {
      return `compaction at ${base.index} (term ${base.term}) keeps the entries after it, but the log holds term ${held} there`;
    }
    if (!keepsSuffix && held === base.term) {
      return `compaction at ${base.index} (term ${base.term}) drops every entry, but the log holds that very entry`;
    }
    if (!keepsSuffix) {
      this.entries = [];
      this.firstIndex = base.index + 1;
      this.gap = undefined;
    } else if (base.index >= this.firstIndex) {
      this.entries = this.entries.slice(Math.min(this.entries.length, base.index + 1 - this.firstIndex));
      this.firstIndex = base.index + 1;
    }
    this.base = { index: base.index, term: base.term };
    this.compacted = true;
    this.explainGap();
    return undefined;
  }

  private restartAt(entry: Entry): void {
    this.entries = [entry];
    this.firstIndex = entry.index;
  }

  /** A gap right after the base hides nothing: everything up to the base is compacted. */
  private explainGap(): void {
    if (this.gap !== undefined && this.gap.index <= this.base.index + 1) this.gap = undefined;
  }

  private termAt(index: Index): Term | undefined {
    if (index >= this.firstIndex && index <= this.lastIndex) return this.entries[index - this.firstIndex]!.term;
    if (this.compacted && index === this.base.index && this.firstIndex === this.base.index + 1) return this.base.term;
    return undefined;
  }
}
