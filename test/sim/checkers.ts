import type { CoreStatus } from '../../src/core/raft-core.js';
import type { Entry, Index, NodeId, Term } from '../../src/core/types.js';

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
 * - State Machine Safety: one entry applied per index, on every node, in order;
 * - commit never moves backwards while a node runs.
 */
export class SafetyChecker {
  private readonly leaderOfTerm = new Map<Term, NodeId>();
  /** "index:term" → fingerprint and previous term, for Log Matching. */
  private readonly entries = new Map<string, { fingerprint: string; prevTerm: Term }>();
  /** What each node has durably appended, mirrored (terms by index, 1-based). */
  private readonly logs = new Map<NodeId, { terms: Term[]; fingerprints: string[] }>();
  /** Committed command entries, learned from applies: index → term and fingerprint
   * (no-ops never reach the state machine, so indexes can skip). */
  private readonly committed = new Map<Index, { term: Term; fingerprint: string }>();
  private readonly appliedIndex = new Map<NodeId, Index>();
  private readonly lastCommit = new Map<NodeId, Index>();
  private readonly leadersChecked = new Set<string>();
  checks = 0;

  /** A node (re)started with this durable log. */
  onRecovered(node: NodeId, entries: readonly Entry[]): void {
    this.logs.set(node, { terms: entries.map((e) => e.term), fingerprints: entries.map(fingerprint) });
    this.appliedIndex.set(node, 0);
    this.lastCommit.delete(node);
    this.checkLogMatching(node, entries);
  }

  /** Entries a node made durable (the first may replace a suffix). */
  onDurable(node: NodeId, entries: readonly Entry[]): void {
    const log = this.logs.get(node)!;
    for (const entry of entries) {
      log.terms.length = entry.index - 1;
      log.fingerprints.length = entry.index - 1;
      log.terms.push(entry.term);
      log.fingerprints.push(fingerprint(entry));
    }
    this.checkLogMatching(node, entries);
  }

  private checkLogMatching(node: NodeId, entries: readonly Entry[]): void {
    const log = this.logs.get(node)!;
    for (const entry of entries) {
      const key = `${entry.index}:${entry.term}`;
      const prevTerm = entry.index === 1 ? 0 : log.terms[entry.index - 2]!;
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
      if (log.terms[index - 1] !== entry.term || log.fingerprints[index - 1] !== entry.fingerprint) {
        throw new SafetyViolation(`leader completeness: leader ${leader} of term ${term} lacks committed entry ${index}:${entry.term}`);
      }
    }
  }

  committedCount(): number {
    return this.committed.size;
  }
}
