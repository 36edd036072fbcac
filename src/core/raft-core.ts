import { assert } from '../errors.js';
import type { CoreConfig } from './config.js';
import { validateCoreConfig } from './config.js';
import type { CoreLogger } from './logger.js';
import type { LocalInput, PeerMessage } from './messages.js';
import { isPeerMessage } from './messages.js';
import type { Random } from './random.js';
import type { TransferRefusal } from './transfer.js';
import { Raft } from './raft.js';
import { RaftLog } from './raft-log.js';
import type { Ready, SoftState } from './ready.js';
import type { ClusterConfig, Entry, EntryId, HardState, Index, NodeId, Role, SnapshotMeta, Term } from './types.js';
import { EntryKind, isHardStateEqual } from './types.js';
import { decodeConfChange } from './membership.js';
/** What a node recovered from storage when it starts. */
export interface CoreInitialState {
  readonly hardState: HardState;
  /** The log's compaction point (0/0, the default, for a log that starts at 1). */
  readonly base?: EntryId;
  /** The log after `base`, contiguous from base.index + 1. */
  readonly entries: readonly Entry[];
  /** The newest durable snapshot, which the state machine was restored from. */
  readonly snapshot?: SnapshotMeta;
  /** Highest index already applied to the state machine (0 for a fresh one; the
   * snapshot's index after a restore). */
  readonly applied: Index;
}

export interface CoreDeps {
  readonly config: CoreConfig;
  readonly initial: CoreInitialState;
  readonly random: Random;
  readonly logger: CoreLogger;
}

export type StepResult =
  | { readonly ok: true; readonly firstIndex?: Index; readonly lastIndex?: Index; readonly term?: Term }
  | { readonly ok: false; readonly reason: 'not-leader'; readonly leader: NodeId }
  | { readonly ok: false; readonly reason: 'unknown-peer' }
  /** A membership change refused by the leader, with a sentence saying why. */
  | { readonly ok: false; readonly reason: 'change-pending' | 'invalid-change' | 'learner-behind' | 'no-quorum'; readonly message: string }
  /** A leadership transfer is in progress; `leader` is its target, where to retry. */
  | { readonly ok: false; readonly reason: 'transferring'; readonly leader: NodeId }
  | { readonly ok: false; readonly reason: TransferRefusal };

export interface PeerStatus {
  readonly id: NodeId;
  readonly match: Index;
  readonly next: Index;
  readonly state: 'probe' | 'replicate' | 'snapshot';
  /** Ticks since the leader last heard from this follower. */
  readonly ticksSinceContact: number;
}

export interface CoreStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: Term;
  readonly vote: NodeId;
  readonly leader: NodeId;
  readonly commit: Index;
  readonly applied: Index;
  readonly lastIndex: Index;
  readonly lastTerm: Term;
  /** Index of the newest snapshot this node holds (0: none). */
  readonly snapshotIndex: Index;
  /** The applied configuration. */
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** This node applied its own removal and takes no further part. */
  readonly removed: boolean;
  /** The first index still in the log (entries before it were compacted). */
  readonly firstIndex: Index;
  /** Ticks since this node last heard from its leader (followers), or since it
   * became leader or candidate. */
  readonly electionElapsed: number;
  /** Leader only: one row per follower, in id order. */
  readonly peers: readonly PeerStatus[];
  /** Leader only: the node leadership is being handed to (0: no transfer). */
  readonly transferTarget: NodeId;
}

/** Committed entries handed to the driver per Ready, so one turn stays short. */
const COMMITTED_ENTRIES_PER_READY_MAX = 4096;

/** What a leader may send before the outstanding Ready is written (takeEarlyMessages). */
function isEarlyMessage(message: PeerMessage): boolean {
  return message.type === 'AppendRequest' || message.type === 'HeartbeatRequest';
}

/**
 * One node's Raft protocol state machine, with no I/O: it is driven by `tick()` and
 * `step()`, and reports what it wants done as a `Ready` (etcd raft's RawNode shape).
 * The protocol itself lives in Raft (raft.ts) and the role modules; this class is
 * the public face: it routes inputs, assembles Ready batches, and learns from
 * `advance()` what the driver made durable.
 */
export class RaftCore {
  private readonly r: Raft;
  /** What the driver has made durable / been told, to compute the next Ready. */
  private persistedHardState: HardState;
  private reportedSoftState: SoftState;
  /** The configuration the last Ready reported. */
  private reportedMembership: ClusterConfig;
  /** What the outstanding Ready handed out, acknowledged by advance(). */
  private outstanding:
    | {
        lastEntry: EntryId | undefined;
        hardState: HardState;
        /** Applied once advance() is called: the Ready's committed entries and any
         * taken since by takeEarlyCommitted. */
        applyingTo: Index;
        snapshot: SnapshotMeta | undefined;
        /** The Ready commits a membership change, which the driver applies only once
         * the write is durable: nothing after it may be applied before. */
        appliesConfChange: boolean;
      }
    | undefined;

  constructor(deps: CoreDeps) {
    validateCoreConfig(deps.config);
    const { entries, applied, snapshot } = deps.initial;
    const base = deps.initial.base ?? { index: 0, term: 0 };
    // A snapshot holds only committed entries; the commit index recorded beside the
    // log may lag it (a commit-only change is not written at once).
    const hardState = { ...deps.initial.hardState, commit: Math.max(deps.initial.hardState.commit, snapshot?.index ?? 0) };
    assert(snapshot === undefined || snapshot.index >= base.index, `snapshot ${snapshot?.index} is older than the log's base ${base.index}`);
    const log = new RaftLog(entries, hardState.commit, base.index, base.term);
    assert(applied <= hardState.commit, `applied ${applied} beyond commit ${hardState.commit}`);
    assert(applied >= base.index, `applied ${applied} is before the log's base ${base.index}: entries are missing`);
    this.r = new Raft({ config: deps.config, random: deps.random, logger: deps.logger, log, hardState, snapshot, applied });
    this.persistedHardState = hardState;
    this.reportedSoftState = this.r.softState();
    this.reportedMembership = this.r.membership;
  }

  get id(): NodeId {
    return this.r.id;
  }

  // ---------------------------------------------------------------- inputs

  /** One unit of logical time. */
  tick(): void {
    this.r.tick();
  }

  step(input: PeerMessage | LocalInput): StepResult {
    if (!isPeerMessage(input)) return this.stepLocal(input);
    const r = this.r;
    // A node still joining knows no configuration yet and hears from the leader first.
    const joining = r.membership.voters.length === 0 && r.membership.learners.length === 0;
    // A leader's messages are taken from anyone, as etcd does: a node whose
    // configuration lags (it has not applied the change that added this leader) can
    // only catch up by listening to it, and a leader that removed itself is still
    // heard while it hands over. Votes and answers still need a member.
    const leaderMessage = input.type === 'AppendRequest' || input.type === 'HeartbeatRequest' || input.type === 'InstallSnapshot' || input.type === 'TimeoutNow';
    if (input.to !== r.id || input.from === r.id || (!joining && !leaderMessage && !r.isMember(input.from))) return { ok: false, reason: 'unknown-peer' };
    if (r.logger.isLevelEnabled('trace')) r.logger.trace({ message: input }, 'message received');
    r.step(input);
    return { ok: true };
  }

  private stepLocal(input: LocalInput): StepResult {
    const r = this.r;
    const leader = r.leading();
    switch (input.type) {
      case 'Campaign':
        if (leader === undefined) r.hup();
        return { ok: true };
      case 'Propose':
        if (leader === undefined) return { ok: false, reason: 'not-leader', leader: r.leaderId };
        return leader.propose(input.entries);
      case 'ReadIndex':
        if (leader === undefined) return { ok: false, reason: 'not-leader', leader: r.leaderId };
        return leader.readIndex(input.requestId);
      case 'ReportUnreachable':
        leader?.onUnreachable(input.peer);
        return { ok: true };
      case 'ReportSnapshot':
        leader?.onSnapshotReport(input.peer, input.ok);
        return { ok: true };
      case 'ProposeConfChange':
        if (leader === undefined) return { ok: false, reason: 'not-leader', leader: r.leaderId };
        return leader.proposeConfChange(input.change);
      case 'TransferLeader': {
        if (leader === undefined) return { ok: false, reason: 'not-leader', leader: r.leaderId };
        const started = leader.transfer.start(input.target);
        return started.ok ? { ok: true } : started;
      }
      default: {
        const unreachable: never = input;
        throw new Error(`unknown local input ${JSON.stringify(unreachable)}`);
      }
    }
  }

  // ---------------------------------------------------------------- Ready

  hasReady(): boolean {
    if (this.outstanding !== undefined) return false;
    const r = this.r;
    const soft = r.softState();
    return (
      (r.leading()?.appendsPending ?? false) ||
      r.messages.length > 0 ||
      r.readStates.length > 0 ||
      r.log.hasUnstable() ||
      r.log.pendingSnapshot !== undefined ||
      r.log.committed > this.r.applied ||
      !isHardStateEqual(r.hardState(), this.persistedHardState) ||
      soft.role !== this.reportedSoftState.role ||
      soft.leader !== this.reportedSoftState.leader ||
      r.membership !== this.reportedMembership
    );
  }

  ready(): Ready {
    assert(this.outstanding === undefined, 'ready() called while a Ready is outstanding');
    const r = this.r;
    const leader = r.leading();
    if (leader?.appendsPending === true) leader.flushAppends();
    const hardState = r.hardState();
    const hardStateChanged = !isHardStateEqual(hardState, this.persistedHardState);
    const entries = r.log.unstableEntries();
    const soft = r.softState();
    const softChanged = soft.role !== this.reportedSoftState.role || soft.leader !== this.reportedSoftState.leader;
    // A snapshot to install comes before any entry after it can be applied.
    const snapshot = r.log.pendingSnapshot;
    const applyingTo = snapshot !== undefined ? snapshot.index : Math.min(r.log.committed, this.r.applied + COMMITTED_ENTRIES_PER_READY_MAX);
    const committedEntries = snapshot === undefined && applyingTo > this.r.applied ? r.log.slice(this.r.applied + 1, applyingTo + 1) : [];
    const membership = r.membership !== this.reportedMembership ? r.membership : undefined;
    this.reportedMembership = r.membership;
    const ready: Ready = {
      softState: softChanged ? soft : undefined,
      membership,
      snapshot,
      hardState: hardStateChanged ? hardState : undefined,
      entries,
      mustSync:
        entries.length > 0 ||
        hardState.term !== this.persistedHardState.term ||
        hardState.vote !== this.persistedHardState.vote ||
        this.commitsConfChange(this.persistedHardState.commit, hardState.commit),
      messages: r.messages,
      committedEntries,
      readStates: r.readStates,
    };
    assert(hardState.commit <= r.log.lastIndex(), 'hard state commit beyond last index');
    r.messages = [];
    r.readStates = [];
    this.reportedSoftState = soft;
    const lastEntry = entries[entries.length - 1];
    this.outstanding = {
      lastEntry: lastEntry === undefined ? undefined : { term: lastEntry.term, index: lastEntry.index },
      hardState,
      applyingTo,
      snapshot,
      appliesConfChange: committedEntries.some((entry) => entry.kind === EntryKind.ConfChange),
    };
    return ready;
  }

  /**
   * Whether a leader has appends or heartbeats to send now, while a Ready is
   * outstanding (see takeEarlyMessages).
   */
  hasEarlyMessages(): boolean {
    const leader = this.r.leading();
    if (leader === undefined || this.outstanding === undefined) return false;
    return leader.appendsPending || this.r.messages.some(isEarlyMessage);
  }

  /**
   * A leader's appends and heartbeats, taken out while the driver is still writing
   * the outstanding Ready: entries proposed during that write are replicated at
   * once instead of after it (thesis §10.2.1: followers write while the leader
   * does). They promise nothing about this node's disk, and the leader counts its
   * own copy of an entry only once advance() says it is durable. Every other
   * message waits for the next Ready. Empty unless a Ready is outstanding.
   */
  takeEarlyMessages(): PeerMessage[] {
    const r = this.r;
    const leader = r.leading();
    if (leader === undefined || this.outstanding === undefined) return [];
    if (leader.appendsPending) leader.flushAppends();
    const early: PeerMessage[] = [];
    const later: PeerMessage[] = [];
    for (const message of r.messages) (isEarlyMessage(message) ? early : later).push(message);
    r.messages = later;
    return early;
  }

  /**
   * Whether a leader has entries to apply now, while a Ready is outstanding (see
   * takeEarlyCommitted).
   */
  hasEarlyCommitted(): boolean {
    const o = this.outstanding;
    const r = this.r;
    if (o === undefined || o.snapshot !== undefined || o.appliesConfChange || r.leading() === undefined) return false;
    return r.log.committed > o.applyingTo && r.log.entry(o.applyingTo + 1)?.kind !== EntryKind.ConfChange;
  }

  /**
   * Entries a leader learned are committed while the driver is still writing the
   * outstanding Ready, for the driver to apply at once (after that Ready's own
   * committed entries) rather than after the write: followers' acknowledgements
   * commit an entry whether or not the leader's own copy is durable yet (thesis
   * §10.2.1), and the client's answer need not wait for the leader's fsync of later
   * entries. They stop before a membership change, which is applied only from a
   * Ready whose write is durable (see commitsConfChange). advance() counts them as
   * applied. Empty unless a Ready is outstanding.
   */
  takeEarlyCommitted(): Entry[] {
    if (!this.hasEarlyCommitted()) return [];
    const o = this.outstanding!;
    const r = this.r;
    const to = Math.min(r.log.committed, o.applyingTo + COMMITTED_ENTRIES_PER_READY_MAX);
    const entries = r.log.slice(o.applyingTo + 1, to + 1);
    const confChange = entries.findIndex((entry) => entry.kind === EntryKind.ConfChange);
    if (confChange >= 0) entries.length = confChange;
    const last = entries[entries.length - 1];
    if (last !== undefined) o.applyingTo = last.index;
    return entries;
  }

  /** The driver persisted, sent and applied the outstanding Ready. */
  advance(): void {
    const outstanding = this.outstanding;
    assert(outstanding !== undefined, 'advance() without an outstanding Ready');
    this.outstanding = undefined;
    const r = this.r;
    if (outstanding.snapshot !== undefined) {
      r.log.snapshotStable(outstanding.snapshot);
      if (r.snapshot === undefined || outstanding.snapshot.index > r.snapshot.index) r.snapshot = outstanding.snapshot;
    }
    if (outstanding.lastEntry !== undefined) r.log.stableTo(outstanding.lastEntry);
    this.persistedHardState = outstanding.hardState;
    if (outstanding.applyingTo > r.applied) {
      const from = r.applied + 1;
      r.applied = outstanding.applyingTo;
      // Membership changes take effect as they are applied (etcd), in log order.
      if (outstanding.snapshot === undefined) this.applyConfChanges(from, outstanding.applyingTo);
      r.afterApply();
    }
    // The leader counts its own vote for an entry only once it is durable.
    const leader = r.leading();
    if (leader !== undefined && leader.maybeCommit()) leader.onCommitAdvanced();
  }

  status(): CoreStatus {
    const r = this.r;
    const peers: PeerStatus[] = [];
    const leader = r.leading();
    if (leader !== undefined) {
      for (const peer of leader.tracker.peers()) {
        const progress = leader.tracker.progressOf(peer);
        peers.push({ id: peer, match: progress.match, next: progress.next, state: progress.state, ticksSinceContact: r.tickCount - progress.lastContactTick });
      }
    }
    return {
      id: r.id,
      role: r.role,
      term: r.term,
      vote: r.vote,
      leader: r.leaderId,
      commit: r.log.committed,
      applied: this.r.applied,
      lastIndex: r.log.lastIndex(),
      lastTerm: r.log.lastTerm(),
      snapshotIndex: r.snapshot?.index ?? 0,
      firstIndex: r.log.firstIndexHeld(),
      voters: r.membership.voters,
      learners: r.membership.learners,
      removed: r.removed,
      electionElapsed: r.electionElapsed,
      peers,
      transferTarget: leader?.transfer.target ?? 0,
    };
  }

  /**
   * Whether commit moving from `from` to `to` commits a membership change. Such a
   * commit index is made durable before the change is applied: a node that lost it
   * in a crash would restart in the old configuration, which may need the vote of a
   * member that has since applied its removal and gone (found by the simulator).
   */
  private commitsConfChange(from: Index, to: Index): boolean {
    const log = this.r.log;
    for (let index = Math.max(from + 1, log.firstIndexHeld()); index <= to; index += 1) {
      if (log.entry(index)?.kind === EntryKind.ConfChange) return true;
    }
    return false;
  }

  private applyConfChanges(from: Index, to: Index): void {
    const r = this.r;
    for (let index = Math.max(from, r.log.firstIndexHeld()); index <= to; index += 1) {
      const entry = r.log.entry(index);
      if (entry?.kind !== EntryKind.ConfChange) continue;
      const change = decodeConfChange(entry.data);
      if (change === undefined) r.logger.error({ index }, 'membership change entry undecodable; skipped');
      else r.applyConfChange(change, index);
    }
  }

  /**
   * The driver saved a snapshot of the state machine at `snapshot.index` durably.
   * It becomes what this node sends to followers that need compacted entries, and
   * the log may drop entries up to `compactTo` (the snapshot index less a trailing
   * window for slow followers, etcd's SnapshotCatchUpEntries). Compaction never goes
   * past what is applied and durable, nor past a snapshot being sent to a follower,
   * whose entries after it that follower needs next. Returns the new compaction point
   * for the driver to record in storage, or undefined when the log did not shrink.
   */
  snapshotSaved(snapshot: SnapshotMeta, compactTo: Index): EntryId | undefined {
    const r = this.r;
    if (r.snapshot === undefined || snapshot.index > r.snapshot.index) r.snapshot = snapshot;
    let limit = Math.min(compactTo, snapshot.index, this.r.applied, r.log.stableIndex());
    const leader = r.leading();
    if (leader !== undefined) {
      for (const peer of leader.tracker.peers()) {
        const progress = leader.tracker.progressOf(peer);
        if (progress.state === 'snapshot') limit = Math.min(limit, progress.pendingSnapshot);
      }
    }
    if (!r.log.compact(limit)) return undefined;
    return r.log.base();
  }

  /** This node applied its own removal (status().removed, without building a status). */
  isRemoved(): boolean {
    return this.r.removed;
  }

  /** The snapshot this follower accepted and the driver has yet to make durable. */
  pendingSnapshot(): SnapshotMeta | undefined {
    return this.r.log.pendingSnapshot;
  }

  /** The configuration in force, for snapshot metadata. */
  clusterConfig(): ClusterConfig {
    return this.r.clusterConfig();
  }

  /** The term of the entry at `index` if the log still knows it (its base included). */
  termAt(index: Index): Term | undefined {
    return this.r.log.term(index);
  }

  /** Read-only access to the log for the driver and tests. */
  entry(index: Index): Entry | undefined {
    return this.r.log.entry(index);
  }
}
