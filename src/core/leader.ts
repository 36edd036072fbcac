import type { AppendResponse, HeartbeatResponse, PeerMessage, ProposedEntry } from './messages.js';
import type { Raft } from './raft.js';
import type { StepResult } from './raft-core.js';
import { ReadIndexQueue } from './read-index.js';
import { broadcastAppends, broadcastHeartbeat, maybeSendAppend } from './replication.js';
import type { Progress } from './tracker/progress.js';
import { ProgressTracker } from './tracker/progress-tracker.js';
import { LeaderTransfer } from './transfer.js';
import type { NodeId } from './types.js';
import { EntryKind, NO_NODE } from './types.js';

/** A follower this many entries behind is reported as having fallen behind. */
const FOLLOWER_LAG_ENTRIES = 1000;

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
  /** A leadership transfer in progress, if any (transfer.ts). */
  readonly transfer: LeaderTransfer;

  constructor(private readonly r: Raft) {
    this.tracker = new ProgressTracker({
      self: r.id,
      voters: r.config.voters,
      learners: [],
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
    this.appendsPending = true;
    r.logger.info({ term: r.term, votes, lastIndex: r.log.lastIndex() }, 'became leader');
    for (const peer of this.tracker.peers()) maybeSendAppend(r, this.tracker, peer, true);
    this.appendsPending = false;
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
    if (m.context > 0) r.readStates.push(...this.reads.acknowledge(m.from, m.context, this.tracker.quorum()));
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
    r.heartbeatElapsed += 1;
    r.electionElapsed += 1;
    this.transfer.tick();
    if (r.electionElapsed >= r.config.electionTicks) {
      r.electionElapsed = 0;
      if (r.config.checkQuorum && !this.checkQuorum()) return;
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
    // The log must stop growing for the target to catch up; clients go to it at once
    // (thesis §3.10; etcd drops proposals during a transfer).
    if (this.transfer.target !== NO_NODE) return { ok: false, reason: 'transferring', leader: this.transfer.target };
    const firstIndex = r.log.lastIndex() + 1;
    r.log.append(entries.map((e, i) => ({ term: r.term, index: firstIndex + i, kind: e.kind, data: e.data })));
    this.appendsPending = true;
    return { ok: true, firstIndex, lastIndex: r.log.lastIndex(), term: r.term };
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
    if (r.log.term(r.log.committed) !== r.term) {
      this.reads.deferUntilOwnCommit(requestId);
      return { ok: true };
    }
    if (this.tracker.peers().length === 0) {
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
