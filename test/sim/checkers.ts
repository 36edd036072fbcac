import type { CoreStatus } from '../../src/core/raft-core.js';
import type { Entry, EntryId, Index, NodeId, Term } from '../../src/core/types.js';

/** A broken safety property; the message names it and the evidence. */
export class SafetyViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetyViolation';
  }
}

function fingerprint(entry: Entry): string {
  let h = 0x811c9dc5;
  for (const byte of entry.data) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return `${entry.kind}:${entry.data.byteLength}:${(h >>> 0).toString(16)}`;
}

/**
 * Raft's safety properties (paper Figure 3), checked from outside the nodes after
 * every simulated event (TigerBeetle's StateChecker):
 * - Election Safety: at most one leader per term;
 * - Log Matching: an (index, term) pair names one entry, whose predecessor has one
 *   term — so equal pairs imply equal prefixes;
 * - Leader Completeness: a new leader holds every entry committed before it;
 * - State Machine Safety: one entry applied per index, on every node, in order, and
 *   every snapshot of index i (taken or received) holds the same state;
 * - commit never moves backwards while a node runs.
 * Logs are mirrored from what each node made durable, after its compaction point:
 * entries before it live in a snapshot, which the state digests check instead.
 */
export class SafetyChecker {
  private readonly leaderOfTerm = new Map<Term, NodeId>();
  /** "index:term" → fingerprint and previous term, for Log Matching. */
  private readonly entries = new Map<string, { fingerprint: string; prevTerm: Term }>();
  /** What each node has durably appended after its base, mirrored: terms[i] is the
   * term of index base.index + 1 + i. */
  private readonly logs = new Map<NodeId, { base: EntryId; terms: Term[]; fingerprints: string[] }>();
  /** Digest of the state every snapshot of an index holds. */
  private readonly snapshotDigests = new Map<Index, { digest: string; node: NodeId }>();
  snapshotsChecked = 0;
  compactions = 0;
  /** Committed command entries, learned from applies: index → term and fingerprint
   * (no-ops never reach the state machine, so indexes can skip). */
  private readonly committed = new Map<Index, { term: Term; fingerprint: string }>();
  private readonly appliedIndex = new Map<NodeId, Index>();
  private readonly lastCommit = new Map<NodeId, Index>();
  private readonly leadersChecked = new Set<string>();
  checks = 0;

  /** A node (re)started with this durable log after `base`, its state machine at `applied`. */
  onRecovered(node: NodeId, base: EntryId, entries: readonly Entry[], applied: Index): void {
    this.logs.set(node, { base, terms: entries.map((e) => e.term), fingerprints: entries.map(fingerprint) });
    this.appliedIndex.set(node, applied);
    this.lastCommit.delete(node);
    this.checkLogMatching(node, entries);
  }

  /** Entries a node made durable (the first may replace a suffix). */
  onDurable(node: NodeId, entries: readonly Entry[]): void {
    const log = this.logs.get(node)!;
    for (const entry of entries) {
      const at = entry.index - log.base.index - 1;
      if (at < 0) throw new SafetyViolation(`node ${node} wrote entry ${entry.index} at or before its compaction point ${log.base.index}`);
      log.terms.length = at;
      log.fingerprints.length = at;
      log.terms.push(entry.term);
      log.fingerprints.push(fingerprint(entry));
    }
    this.checkLogMatching(node, entries);
  }

  /** A node's log now starts after `base`, by the Figure 13 rule its WAL applies. */
  onCompacted(node: NodeId, base: EntryId): void {
    const log = this.logs.get(node)!;
    if (base.index <= log.base.index) return;
    this.compactions += 1;
    const at = base.index - log.base.index - 1;
    const holds = log.terms[at] === base.term;
    log.terms = holds ? log.terms.slice(at + 1) : [];
    log.fingerprints = holds ? log.fingerprints.slice(at + 1) : [];
    log.base = base;
  }

  /** A node saved a snapshot of index `index` (its own, or one it received). */
  onSnapshot(node: NodeId, index: Index, digest: string): void {
    this.snapshotsChecked += 1;
    const known = this.snapshotDigests.get(index);
    if (known === undefined) this.snapshotDigests.set(index, { digest, node });
    else if (known.digest !== digest) {
      throw new SafetyViolation(`state machine safety: node ${node}'s snapshot of index ${index} differs from node ${known.node}'s`);
    }
  }

  private termOf(node: NodeId, index: Index): Term | undefined {
    const log = this.logs.get(node)!;
    if (index === log.base.index) return log.base.term;
    return log.terms[index - log.base.index - 1];
  }

  private checkLogMatching(node: NodeId, entries: readonly Entry[]): void {
    for (const entry of entries) {
      const key = `${entry.index}:${entry.term}`;
      const prevTerm = entry.index === 1 ? 0 : this.termOf(node, entry.index - 1)!;
      const seen = this.entries.get(key);
      const print = fingerprint(entry);
      if (seen === undefined) {
        this.entries.set(key, { fingerprint: print, prevTerm });
      } else if (seen.fingerprint !== print || seen.prevTerm !== prevTerm) {
        throw new SafetyViolation(`log matching: node ${node} holds a different entry ${key} (or predecessor term ${prevTerm} vs ${seen.prevTerm})`);
      }
    }
  }

  /** A node applied `entry` to its state machine. */
  onApply(node: NodeId, entry: Entry): void {
    const last = this.appliedIndex.get(node) ?? 0;
    if (entry.index <= last) throw new SafetyViolation(`node ${node} applied index ${entry.index} after ${last}`);
    this.appliedIndex.set(node, entry.index);
    const print = fingerprint(entry);
    const known = this.committed.get(entry.index);
    if (known === undefined) {
      this.committed.set(entry.index, { term: entry.term, fingerprint: print });
    } else if (known.term !== entry.term || known.fingerprint !== print) {
      throw new SafetyViolation(`state machine safety: node ${node} applied ${entry.index}:${entry.term}, another node applied ${entry.index}:${known.term}`);
    }
  }

  /** Checks the statuses of the running nodes after an event. */
  afterEvent(statuses: readonly CoreStatus[]): void {
    this.checks += 1;
    for (const status of statuses) {
      const previousCommit = this.lastCommit.get(status.id) ?? 0;
      if (status.commit < previousCommit) throw new SafetyViolation(`node ${status.id}'s commit went back from ${previousCommit} to ${status.commit}`);
      this.lastCommit.set(status.id, status.commit);
      if (status.role !== 'leader') continue;
      const other = this.leaderOfTerm.get(status.term);
      if (other !== undefined && other !== status.id) throw new SafetyViolation(`election safety: nodes ${other} and ${status.id} both lead term ${status.term}`);
      this.leaderOfTerm.set(status.term, status.id);
      const key = `${status.id}@${status.term}`;
      if (!this.leadersChecked.has(key)) {
        this.leadersChecked.add(key);
        this.checkLeaderCompleteness(status.id, status.term);
      }
    }
  }

  private checkLeaderCompleteness(leader: NodeId, term: Term): void {
    const log = this.logs.get(leader)!;
    for (const [index, entry] of this.committed) {
      // Entries up to the leader's compaction point are in its snapshot, whose state
      // the snapshot digests check.
      if (index <= log.base.index) continue;
      const at = index - log.base.index - 1;
      if (log.terms[at] !== entry.term || log.fingerprints[at] !== entry.fingerprint) {
        throw new SafetyViolation(`leader completeness: leader ${leader} of term ${term} lacks committed entry ${index}:${entry.term}`);
      }
    }
  }

  committedCount(): number {
    return this.committed.size;
  }
}
