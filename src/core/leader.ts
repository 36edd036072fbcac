import type { ConfChange } from './membership.js';
import { checkConfChange, encodeConfChange } from './membership.js';
import { majority } from './quorum.js';
import type { AppendResponse, HeartbeatResponse, PeerMessage, ProposedEntry } from './messages.js';
import type { Raft } from './raft.js';
import type { StepResult } from './raft-core.js';
import { ReadIndexQueue } from './read-index.js';
import { broadcastAppends, broadcastHeartbeat, maybeSendAppend } from './replication.js';
import type { Progress } from './tracker/progress.js';
import { ProgressTracker } from './tracker/progress-tracker.js';
import { LeaderTransfer } from './transfer.js';
import type { Index, NodeId } from './types.js';
import { EntryKind, NO_NODE } from './types.js';

/** A follower this many entries behind is reported as having fallen behind. */
const FOLLOWER_LAG_ENTRIES = 1000;

/** A learner may be promoted only when at most this many entries behind the leader. */
export const PROMOTE_LAG_ENTRIES_MAX = 1000;

/**
 * Everything only a leader has: the progress of its followers, its pending reads,
 * and whether new entries still wait to be sent. Created by Raft.becomeLeader and
 * dropped with it by becomeFollower, so no other role can reach this state.
 */
export class Leader {
  readonly tracker: ProgressTracker;
  readonly reads = new ReadIndexQueue();
  /** Appends are sent when the next Ready is built, so proposals that arrive in the
   * same turn share one append, one fsync and one message per follower. */
  appendsPending = false;
  /**
   * The index of the last membership change proposed, or of this leader's no-op: no
   * change may be proposed until it is applied. Starting at the no-op is the fix for
   * the single-server-change bug (raft-dev, 2015): a new leader commits an entry of
   * its own term before it changes the configuration (etcd sets pendingConfIndex to
   * its last index on election).
   */
  pendingConfIndex: Index = 0;
  /** A leadership transfer in progress, if any (transfer.ts). */
  readonly transfer: LeaderTransfer;

  constructor(private readonly r: Raft) {
    this.tracker = new ProgressTracker({
      self: r.id,
      voters: r.membership.voters,
      learners: r.membership.learners,
      next: r.log.lastIndex() + 1,
      inflightAppendsMax: r.config.inflightAppendsMax,
      inflightBytesMax: r.config.appendBytesMax * r.config.inflightAppendsMax,
      tick: r.tickCount,
    });
    this.transfer = new LeaderTransfer(r, this.tracker);
  }

  /**
   * A no-op of the new term lets the leader commit entries of earlier terms and learn
   * the commit index before serving reads (paper §5.4.2, §8; thesis §6.4).
   */
  takeOffice(votes: readonly NodeId[]): void {
    const r = this.r;
    const index = r.log.lastIndex() + 1;
    r.log.append([{ term: r.term, index, kind: EntryKind.Noop, data: new Uint8Array(0) }]);
    this.pendingConfIndex = index;
    this.appendsPending = true;
    r.logger.info({ term: r.term, votes, lastIndex: r.log.lastIndex() }, 'became leader');
    for (const peer of this.tracker.peers()) maybeSendAppend(r, this.tracker, peer, true);
    this.appendsPending = false;
    // Elected by the new configuration after its own removal: only to hand over.
    const removal = r.unconfirmedRemoval();
    if (removal > 0 && !r.membership.voters.includes(r.id)) this.startHandover(removal);
  }

  step(m: PeerMessage): void {
    const progress = this.tracker.get(m.from);
    if (progress !== undefined) {
      progress.recentActive = true;
      progress.lastContactTick = this.r.tickCount;
    }
    switch (m.type) {
      case 'AppendResponse':
        this.onAppendResponse(m);
        break;
      case 'HeartbeatResponse':
        this.onHeartbeatResponse(m);
        break;
      case 'AppendRequest':
      case 'HeartbeatRequest':
      case 'InstallSnapshot':
        // Election Safety (paper §5.2) forbids two leaders in one term.
        this.r.logger.error({ from: m.from, term: m.term, type: m.type }, 'second leader in the same term');
        break;
      default:
        this.r.logger.debug({ from: m.from, type: m.type }, 'leader ignored message');
    }
  }

  private onAppendResponse(m: AppendResponse): void {
    const r = this.r;
    const progress = this.tracker.progressOf(m.from);
    if (!m.success) {
      // Back up past the whole conflicting term at once (paper §5.3 end; etcd).
      const hint = m.hintTerm > 0 ? r.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
      if (progress.maybeDecreaseTo(m.index, hint)) {
        r.logger.debug({ peer: m.from, index: m.index, hintIndex: m.hintIndex, hintTerm: m.hintTerm, next: progress.next }, 'append rejected by follower');
        this.markLagging(m.from, progress);
        maybeSendAppend(r, this.tracker, m.from, false);
      }
      return;
    }
    const wasProbe = progress.state === 'probe';
    if (progress.maybeUpdate(m.index)) {
      if (wasProbe) progress.becomeReplicate();
      else if (progress.state === 'snapshot' && progress.match >= r.log.base().index) {
        // The follower has the snapshot (or caught up by other means): what it needs
        // next is in the log again (etcd: StateSnapshot with Match+1 >= firstIndex).
        r.logger.info({ peer: m.from, index: progress.match }, 'follower acknowledged snapshot');
        progress.becomeProbe();
        progress.becomeReplicate();
      }
      if (progress.lagging && progress.match >= r.log.lastIndex()) {
        progress.lagging = false;
        r.logger.info({ peer: m.from, index: progress.match }, 'follower caught up');
      }
      if (this.maybeCommit()) this.onCommitAdvanced();
      this.transfer.onResponse(m.from);
    }
    while (maybeSendAppend(r, this.tracker, m.from, false)) {
      // Keep the pipeline full up to the inflight window.
    }
  }

  private onHeartbeatResponse(m: HeartbeatResponse): void {
    const r = this.r;
    const progress = this.tracker.progressOf(m.from);
    // Appends can be lost without a rejection ever coming back (a cut link, a full
    // queue). The follower is alive, so make sure it hears from us: unpause a probe,
    // free one slot of a full window, and send from `next` — an empty append there
    // is itself a probe the follower accepts or rejects (etcd does the same).
    progress.onHeartbeatResponse();
    this.transfer.onResponse(m.from);
    if (r.log.lastIndex() - progress.match > FOLLOWER_LAG_ENTRIES) this.markLagging(m.from, progress);
    if (progress.match < r.log.lastIndex()) maybeSendAppend(r, this.tracker, m.from, true);
    if (this.handover !== undefined) {
      this.maybeHandOver(m.context, m.from);
      if (this.r.state.role !== 'leader') return;
    }
    // Only voters confirm leadership for a read (a learner's answer proves nothing).
    if (m.context > 0 && this.tracker.isVoter(m.from)) r.readStates.push(...this.reads.acknowledge(m.from, m.context, this.tracker.quorum()));
  }

  /** The transport lost `peer`: stop pipelining to it until it answers again. */
  onUnreachable(peer: NodeId): void {
    const progress = this.tracker.get(peer);
    if (progress === undefined) return;
    if (progress.state === 'replicate') progress.becomeProbe();
    if (progress.match < this.r.log.lastIndex()) this.markLagging(peer, progress);
  }

  /**
   * The driver's word on a snapshot transfer (etcd ReportSnapshot). Either way the
   * follower is probed next; after a success the probe waits for the follower's own
   * answer to the snapshot, after a failure for the next heartbeat answer, so a
   * broken link is not hammered with snapshots.
   */
  onSnapshotReport(peer: NodeId, ok: boolean): void {
    const progress = this.tracker.get(peer);
    if (progress === undefined || progress.state !== 'snapshot') return;
    const index = progress.pendingSnapshot;
    if (ok) progress.becomeProbe();
    else progress.abortSnapshot();
    progress.probeSent = true;
    if (ok) this.r.logger.info({ peer, index }, 'snapshot delivered');
    else this.r.logger.warn({ peer, index }, 'snapshot transfer failed; will retry');
  }

  private markLagging(peer: NodeId, progress: Progress): void {
    if (progress.lagging) return;
    progress.lagging = true;
    this.r.logger.info({ peer, match: progress.match, lastIndex: this.r.log.lastIndex() }, 'follower fell behind');
  }

  tick(): void {
    const r = this.r;
    this.tracker.tickLeaving();
    r.heartbeatElapsed += 1;
    r.electionElapsed += 1;
    this.transfer.tick();
    if (r.electionElapsed >= r.config.electionTicks) {
      r.electionElapsed = 0;
      if (r.config.checkQuorum && !this.checkQuorum()) return;
    }
    if (this.handover !== undefined) {
      this.maybeHandOver();
      if (r.state.role !== 'leader') return;
    }
    if (r.heartbeatElapsed >= r.config.heartbeatTicks) {
      r.heartbeatElapsed = 0;
      // Carry the newest pending read's round so regular beats confirm reads too.
      broadcastHeartbeat(r, this.tracker, this.reads.lastContext());
    }
  }

  /** Thesis §6.2: a leader that cannot reach a majority steps down. */
  private checkQuorum(): boolean {
    const r = this.r;
    const active = this.tracker.takeRecentlyActiveVoters();
    if (active >= this.tracker.quorum()) return true;
    r.logger.warn({ term: r.term, active, voters: this.tracker.voters.length }, 'stepped down: no quorum heard within an election timeout');
    r.becomeFollower(r.term, NO_NODE, 'no quorum');
    return false;
  }

  propose(entries: readonly ProposedEntry[]): StepResult {
    const r = this.r;
    // A removed leader handing over takes nothing new: clients go to its successor.
    if (this.handover !== undefined) return { ok: false, reason: 'not-leader', leader: NO_NODE };
    // The log must stop growing for the target to catch up; clients go to it at once
    // (thesis §3.10; etcd drops proposals during a transfer).
    if (this.transfer.target !== NO_NODE) return { ok: false, reason: 'transferring', leader: this.transfer.target };
    const firstIndex = r.log.lastIndex() + 1;
    r.log.append(entries.map((e, i) => ({ term: r.term, index: firstIndex + i, kind: e.kind, data: e.data })));
    this.appendsPending = true;
    return { ok: true, firstIndex, lastIndex: r.log.lastIndex(), term: r.term };
  }

  /**
   * Proposes one membership change (thesis §4.1: one server at a time). Refused when
   * a change is still pending (or this leader's own no-op is not yet applied), when
   * it does not apply to the configuration, when it would promote a learner far
   * behind, or when the new configuration would lack a quorum of voters heard from
   * recently, the node being added counted as down (etcd's strict reconfiguration
   * check).
   */
  proposeConfChange(change: ConfChange): StepResult {
    const r = this.r;
    if (this.handover !== undefined) return { ok: false, reason: 'not-leader', leader: NO_NODE };
    if (r.applied < this.pendingConfIndex) {
      return { ok: false, reason: 'change-pending', message: `a membership change (or this leader's first entry) at index ${this.pendingConfIndex} is not applied yet; retry shortly` };
    }
    const problem = checkConfChange(r.membership, change);
    if (problem !== undefined) return { ok: false, reason: 'invalid-change', message: problem };
    if (change.op === 'bootstrap') return { ok: false, reason: 'invalid-change', message: 'the cluster is already bootstrapped' };
    if (change.op === 'promote') {
      const lag = r.log.lastIndex() - this.tracker.progressOf(change.id).match;
      if (lag > PROMOTE_LAG_ENTRIES_MAX) return { ok: false, reason: 'learner-behind', message: `learner ${change.id} is ${lag} entries behind; promote it once it has caught up` };
    }
    const liveProblem = this.quorumAfter(change);
    if (liveProblem !== undefined) return { ok: false, reason: 'no-quorum', message: liveProblem };
    const index = r.log.lastIndex() + 1;
    r.log.append([{ term: r.term, index, kind: EntryKind.ConfChange, data: encodeConfChange(change) }]);
    this.pendingConfIndex = index;
    this.appendsPending = true;
    r.logger.info({ index, term: r.term, change }, 'membership change proposed');
    return { ok: true, firstIndex: index, lastIndex: index, term: r.term };
  }

  /** Why the configuration after `change` would lack a live quorum, if it would. */
  private quorumAfter(change: ConfChange): string | undefined {
    const r = this.r;
    let voters = [...r.membership.voters];
    if (change.op === 'add-voter' || change.op === 'promote') voters.push(change.id);
    if (change.op === 'remove') voters = voters.filter((id) => id !== change.id);
    const live = voters.filter((id) => {
      if (id === r.id) return true;
      if (change.op === 'add-voter' && id === change.id) return false;
      const progress = this.tracker.get(id);
      return progress !== undefined && r.tickCount - progress.lastContactTick <= r.config.electionTicks;
    }).length;
    const needed = majority(voters.length);
    return live >= needed ? undefined : `after this change only ${live} of ${voters.length} voters would be reachable, fewer than the ${needed} a quorum needs`;
  }

  /**
   * The applied configuration changed at `index`. New members are probed from the
   * end of the log; removed ones are still sent the log for two election timeouts, so
   * they learn of their removal and stop. A leader that removed itself hands over to
   * the most caught-up voter with TimeoutNow (thesis §3.10) and steps down.
   */
  onMembershipChanged(index: Index): void {
    const r = this.r;
    this.tracker.applyConfig(r.membership, r.log.lastIndex() + 1, r.tickCount, 2 * r.config.electionTicks, index);
    this.reads.keepAcksOf((id) => r.membership.voters.includes(id));
    if (r.membership.voters.includes(r.id) || this.handover !== undefined) return;
    this.startHandover(index);
  }

  /**
   * Removed (its removal at `index` applied): keep leading, without counting itself,
   * until a successor has heard the commit index of the removal, or the successor
   * could not apply it and would campaign in the old configuration, which may need
   * this node's vote (etcd keeps a removed leader leading for the same reason).
   */
  private startHandover(index: Index): void {
    const r = this.r;
    this.handover = { removalIndex: index, since: r.tickCount, round: 0, successor: NO_NODE };
    // A transfer's TimeoutNow could reach the successor before it knows the removal
    // committed, and it would campaign in the old configuration.
    this.transfer.supersede();
    r.logger.info({ index, term: r.term }, 'leader removed from the configuration; handing over');
    this.maybeHandOver();
  }

  /** A removed leader's hand-over in progress. */
  private handover: { removalIndex: Index; since: number; round: number; successor: NodeId } | undefined;

  /** Whether this leader was removed and is handing over (it takes no proposals). */
  handingOver(): boolean {
    return this.handover !== undefined;
  }

  /**
   * Hands over once the most caught-up voter holds the removal entry and answered a
   * heartbeat round sent after it did (so it knows the entry is committed): then
   * TimeoutNow makes it campaign at once (thesis §3.10), and this node steps down.
   * Gives up waiting after two election timeouts.
   */
  private maybeHandOver(context = 0, from: NodeId = NO_NODE): void {
    const r = this.r;
    const handover = this.handover;
    if (handover === undefined) return;
    if (handover.round > 0 && context >= handover.round && from === handover.successor) {
      r.send({ type: 'TimeoutNow', from: r.id, to: from, term: r.term });
      r.logger.info({ to: from, term: r.term, index: handover.removalIndex }, 'removed leader hands over');
      // The successor knows the removal is committed: the rest go on without us.
      r.markRemoved();
      this.stepDownRemoved();
      return;
    }
    if (r.tickCount - handover.since > 2 * r.config.electionTicks) {
      r.logger.warn({ term: r.term, index: handover.removalIndex }, 'removed leader found no successor in time; stepping down, staying to vote until a leader confirms the removal');
      this.stepDownRemoved();
      return;
    }
    if (handover.round > 0) return;
    const successor = this.mostCaughtUpVoter();
    if (successor === undefined) {
      // No voter to hand to (removing the last voter is refused, so only a bug gets here).
      r.markRemoved();
      this.stepDownRemoved();
      return;
    }
    if (this.tracker.progressOf(successor).match < handover.removalIndex) return;
    handover.successor = successor;
    handover.round = this.reads.newRound();
    broadcastHeartbeat(r, this.tracker, handover.round);
  }

  private stepDownRemoved(): void {
    const r = this.r;
    r.becomeFollower(r.term, NO_NODE, 'leader removed from the configuration');
  }

  /** The voter (not this node) whose log matches the leader's furthest, ties to the lowest id. */
  mostCaughtUpVoter(): NodeId | undefined {
    let best: NodeId | undefined;
    let bestMatch = -1;
    for (const id of this.r.membership.voters) {
      if (id === this.r.id) continue;
      const match = this.tracker.get(id)?.match ?? -1;
      if (match > bestMatch) {
        best = id;
        bestMatch = match;
      }
    }
    return best;
  }

  /** Raft paper §5.3, §5.4.2: commit the highest index stored on a majority, but only
   * by counting replicas of an entry of the current term (Figure 8). */
  maybeCommit(): boolean {
    const r = this.r;
    const index = this.tracker.committedIndex(r.log.stableIndex());
    if (index <= r.log.committed || r.log.term(index) !== r.term) return false;
    return r.log.commitTo(index);
  }

  onCommitAdvanced(): void {
    const r = this.r;
    if (this.reads.hasDeferred() && r.log.term(r.log.committed) === r.term) {
      for (const requestId of this.reads.takeDeferred()) this.readIndex(requestId);
    }
  }

  /** Raft thesis §6.4: record the commit index, confirm leadership with a heartbeat
   * round, and release the read once a majority answered. */
  readIndex(requestId: number): StepResult {
    const r = this.r;
    // A removed leader handing over serves no reads: it is not in the configuration
    // whose quorum could confirm it, and a successor may already lead.
    if (this.handover !== undefined) return { ok: false, reason: 'not-leader', leader: NO_NODE };
    if (r.log.term(r.log.committed) !== r.term) {
      this.reads.deferUntilOwnCommit(requestId);
      return { ok: true };
    }
    // A sole voter is its own quorum (learners confirm nothing).
    if (this.tracker.quorum() <= 1) {
      r.readStates.push({ requestId, index: r.log.committed });
      return { ok: true };
    }
    const context = this.reads.register(requestId, r.log.committed, r.id);
    broadcastHeartbeat(r, this.tracker, context);
    return { ok: true };
  }

  /** Sends what proposals of this turn appended (called when a Ready is built). */
  flushAppends(): void {
    this.appendsPending = false;
    broadcastAppends(this.r, this.tracker);
  }
}
