import { assert } from '../errors.js';
import type { Entry, EntryId, Index, SnapshotMeta, Term } from './types.js';
import { entryBytes } from './types.js';

/**
 * The log as the core sees it: every entry after the compaction point (the base),
 * in memory, so the core never awaits storage (etcd raftLog = storage + unstable).
 * Entries at or after `unstableOffset` have been appended here but are not yet known
 * to be durable; the driver writes them from the next Ready and acknowledges them
 * with `stableTo`. A leader's snapshot accepted by a follower replaces the whole log
 * and waits in `pendingSnapshot` until the driver has made it durable.
 *
 * Invariants: entries are contiguous from `firstIndex` = base + 1; terms never
 * decrease; `base <= committed <= lastIndex()`; committed entries are never truncated.
 */
export class RaftLog {
  private entries: Entry[];
  /** Index of entries[0]. */
  private firstIndex: Index;
  /** Index and term of the entry just before firstIndex: the compaction point, or a
   * snapshot installed here (0/0 for a log that never lost a prefix). */
  private baseIndex: Index;
  private baseTerm: Term;
  /** A snapshot accepted from the leader that the driver has not yet made durable. */
  pendingSnapshot: SnapshotMeta | undefined;
  /** First index that is not yet durable. */
  private unstableOffset: Index;
  /** Invariant: committed <= lastIndex(). Raft paper Figure 2 commitIndex. */
  committed: Index;

  constructor(entries: readonly Entry[], committed: Index, baseIndex: Index = 0, baseTerm: Term = 0) {
    this.entries = [...entries];
    this.baseIndex = baseIndex;
    this.baseTerm = baseTerm;
    this.firstIndex = baseIndex + 1;
    for (let i = 0; i < this.entries.length; i += 1) {
      assert(this.entries[i]!.index === this.firstIndex + i, 'log entries must be contiguous');
    }
    this.unstableOffset = this.lastIndex() + 1;
    assert(committed <= this.lastIndex(), `committed ${committed} beyond last index ${this.lastIndex()}`);
    this.committed = committed;
  }

  /** The compaction point: entries at or before it are in a snapshot, not here. */
  base(): EntryId {
    return { index: this.baseIndex, term: this.baseTerm };
  }

  /** The first index still held (base + 1; lastIndex() + 1 when the log is empty). */
  firstIndexHeld(): Index {
    return this.firstIndex;
  }

  lastIndex(): Index {
    return this.firstIndex + this.entries.length - 1;
  }

  lastTerm(): Term {
    const last = this.entries[this.entries.length - 1];
    return last === undefined ? this.baseTerm : last.term;
  }

  lastEntryId(): EntryId {
    return { term: this.lastTerm(), index: this.lastIndex() };
  }

  /** The term of the entry at `index`, or undefined when it is not in the log. */
  term(index: Index): Term | undefined {
    if (index === this.baseIndex) return this.baseTerm;
    if (index < this.firstIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.firstIndex]!.term;
  }

  matchTerm(index: Index, term: Term): boolean {
    return this.term(index) === term;
  }

  entry(index: Index): Entry | undefined {
    if (index < this.firstIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.firstIndex];
  }

  /**
   * Entries in [lo, hi), at most `bytesMax` of payload but always at least one
   * entry when the range is not empty (etcd limitSize), so a huge entry still moves.
   */
  slice(lo: Index, hi: Index, bytesMax: number = Infinity): Entry[] {
    assert(lo >= this.firstIndex && hi <= this.lastIndex() + 1, `slice [${lo}, ${hi}) out of range`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let index = lo; index < hi; index += 1) {
      const entry = this.entries[index - this.firstIndex]!;
      bytes += entryBytes(entry);
      if (out.length > 0 && bytes > bytesMax) break;
      out.push(entry);
    }
    return out;
  }

  /** Raft paper §5.4.1: is a log ending at (lastTerm, lastIndex) at least as
   * up-to-date as ours? Compare last terms first, then lengths. */
  isUpToDate(lastTerm: Term, lastIndex: Index): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Leader side: append entries that follow the last one. */
  append(entries: readonly Entry[]): void {
    for (const entry of entries) {
      assert(entry.index === this.lastIndex() + 1, `appended index ${entry.index} does not follow ${this.lastIndex()}`);
      assert(entry.term >= this.lastTerm(), 'appended term goes backwards');
      this.entries.push(entry);
    }
  }

  /**
   * Follower side (Raft paper §5.3, receiver rules 3 and 4): given entries that
   * directly follow a matching prevLogIndex, skip the ones we already have, cut our
   * log at the first conflicting entry, and append the rest. Returns the index of the
   * last entry of the request.
   */
  appendFromLeader(entries: readonly Entry[]): Index {
    for (let i = 0; i < entries.length; i += 1) {
      const entry = entries[i]!;
      const ours = this.term(entry.index);
      if (ours === entry.term) continue;
      if (ours !== undefined) this.truncateFrom(entry.index);
      this.append(entries.slice(i));
      break;
    }
    const last = entries[entries.length - 1];
    return last === undefined ? 0 : last.index;
  }

  private truncateFrom(index: Index): void {
    assert(index > this.committed, `conflict at ${index} would truncate committed entries (commit ${this.committed})`);
    this.entries.length = index - this.firstIndex;
    if (this.unstableOffset > index) this.unstableOffset = index;
  }

  /**
   * For a rejected append at (index, term): the largest index <= `index` whose term
   * is <= `term`, with that term. Entries between it and `index` cannot match, so the
   * next probe skips them: one round trip per conflicting term (etcd
   * findConflictByTerm; the optimisation at the end of Raft paper §5.3).
   */
  findConflictByTerm(index: Index, term: Term): EntryId {
    let probe = Math.min(index, this.lastIndex());
    while (probe > this.baseIndex) {
      const probeTerm = this.term(probe)!;
      if (probeTerm <= term) return { index: probe, term: probeTerm };
      probe -= 1;
    }
    return { index: this.baseIndex, term: this.baseTerm };
  }

  /** Advances the commit index; it never moves backwards. */
  commitTo(index: Index): boolean {
    if (index <= this.committed) return false;
    assert(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  /**
   * Replaces the whole log with a leader's snapshot (Raft paper Figure 13, step 7:
   * "discard the entire log"); the caller has checked that no entry of ours matches
   * it. Everything up to its index counts as committed.
   */
  restore(snapshot: SnapshotMeta): void {
    assert(snapshot.index > this.committed, `snapshot ${snapshot.index} is not beyond commit ${this.committed}`);
    this.entries = [];
    this.baseIndex = snapshot.index;
    this.baseTerm = snapshot.term;
    this.firstIndex = snapshot.index + 1;
    this.unstableOffset = this.firstIndex;
    this.committed = snapshot.index;
    this.pendingSnapshot = snapshot;
  }

  /** The driver made the pending snapshot durable. */
  snapshotStable(snapshot: SnapshotMeta): void {
    if (this.pendingSnapshot !== undefined && this.pendingSnapshot.index === snapshot.index && this.pendingSnapshot.term === snapshot.term) {
      this.pendingSnapshot = undefined;
    }
  }

  /**
   * Drops the entries up to `index`, which a durable snapshot covers (Raft paper §7).
   * Only applied, durable entries go: the caller passes at most both.
   */
  compact(index: Index): boolean {
    if (index <= this.baseIndex) return false;
    assert(index <= this.stableIndex(), `compaction to ${index} beyond the durable log (${this.stableIndex()})`);
    assert(index <= this.committed, `compaction to ${index} beyond commit ${this.committed}`);
    this.baseTerm = this.term(index)!;
    this.entries = this.entries.slice(index - this.firstIndex + 1);
    this.baseIndex = index;
    this.firstIndex = index + 1;
    return true;
  }

  /** Entries not yet handed to storage (or handed but not acknowledged). */
  unstableEntries(): Entry[] {
    return this.entries.slice(this.unstableOffset - this.firstIndex);
  }

  hasUnstable(): boolean {
    return this.unstableOffset <= this.lastIndex();
  }

  /** Last index known durable. */
  stableIndex(): Index {
    return this.unstableOffset - 1;
  }

  /**
   * Storage made entries up to `id` durable. Ignored when that entry was replaced
   * meanwhile (a conflicting append arrived while the write was in flight): then a
   * later Ready rewrites the suffix (etcd unstable.stableTo).
   */
  stableTo(id: EntryId): void {
    if (id.index < this.unstableOffset) return;
    if (this.term(id.index) !== id.term) return;
    this.unstableOffset = id.index + 1;
  }
}
