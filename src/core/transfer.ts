import type { Raft } from './raft.js';
import { maybeSendAppend } from './replication.js';
import type { ProgressTracker } from './tracker/progress-tracker.js';
import type { NodeId, Term } from './types.js';
import { NO_NODE } from './types.js';

/** Why a leader refused a TransferLeader request; the driver maps each to an error. */
export type TransferRefusal =
  /** The target is this node, which already leads. */
  | 'transfer-to-self'
  /** The target is a learner: it cannot be elected. */
  | 'transfer-to-learner'
  /** The target is not a member of the configuration. */
  | 'transfer-to-non-member'
  /** No target was named and no other voter exists. */
  | 'no-transfer-target';

/** Why a transfer in progress ended without this node seeing a successor. */
export type TransferAbortReason =
  /** An election timeout passed before the target held the whole log. */
  | 'target-lagging'
  /** An election timeout passed after TimeoutNow without a successor. */
  | 'timeout'
  /** A request for another target replaced this one. */
  | 'superseded'
  /** The leader stepped down in its own term (lost its quorum). */
  | 'stepped-down';

/** The outcome of a TransferLeader request on the leader. */
export type TransferStart = { readonly ok: true; readonly target: NodeId } | { readonly ok: false; readonly reason: TransferRefusal };

/**
 * Leadership transfer on the leader's side (Raft thesis §3.10; etcd MsgTransferLeader
 * and MsgTimeoutNow). The leader brings the target's log up to its own last index,
 * then tells it to campaign at once (TimeoutNow); the target's campaign skips PreVote
 * and its vote requests pass the voters' leader lease, so it wins in one round trip.
 * New proposals are refused meanwhile (see Leader.propose), so the target can catch
 * up with a log that stops growing. A transfer that has not handed over within an
 * election timeout is abandoned: the target is too slow or cut off, and the leader
 * must serve again.
 *
 * Owned by Leader, so a new term or a step-down (which drops the Leader) clears it.
 */
export class LeaderTransfer {
  /** The node leadership is being handed to (NO_NODE: none). */
  private current: NodeId = NO_NODE;
  /** Leader ticks since the transfer started. */
  private elapsed = 0;
  /** Whether the target was told to campaign (it had caught up). */
  private timeoutNowSent = false;

  constructor(
    private readonly r: Raft,
    private readonly tracker: ProgressTracker,
  ) {}

  /** The transfer target, or NO_NODE when no transfer is in progress. */
  get target(): NodeId {
    return this.current;
  }

  /** A TransferLeader request; `requested` NO_NODE picks the most caught-up voter. */
  start(requested: NodeId): TransferStart {
    const r = this.r;
    if (requested === NO_NODE && this.current !== NO_NODE) return { ok: true, target: this.current };
    const target = requested === NO_NODE ? this.mostCaughtUpVoter() : requested;
    const refusal = this.refusal(target);
    if (refusal !== undefined) {
      r.logger.info({ target: requested, term: r.term, reason: refusal }, 'leadership transfer refused');
      return { ok: false, reason: refusal };
    }
    if (this.current === target) {
      // etcd ignores a repeated request for the same target: it is on its way.
      r.logger.debug({ target, term: r.term }, 'leadership transfer already in progress');
      return { ok: true, target };
    }
    if (this.current !== NO_NODE) this.abort('superseded');
    this.current = target;
    this.elapsed = 0;
    this.timeoutNowSent = false;
    r.logger.info({ target, term: r.term }, 'leadership transfer started');
    const progress = this.tracker.progressOf(target);
    if (progress.match === r.log.lastIndex()) this.sendTimeoutNow();
    else maybeSendAppend(r, this.tracker, target, true);
    return { ok: true, target };
  }

  /**
   * The target answered (an append or a heartbeat): once it holds the whole log, tell
   * it to campaign. Repeated on each answer until it does, since a TimeoutNow can be
   * lost; a duplicate that arrives after its campaign started carries an older term
   * and is dropped there.
   */
  onResponse(from: NodeId): void {
    if (from !== this.current || from === NO_NODE) return;
    if (this.tracker.progressOf(from).match === this.r.log.lastIndex()) this.sendTimeoutNow();
  }

  /** One leader tick: give up after an election timeout (etcd abortLeaderTransfer). */
  tick(): void {
    if (this.current === NO_NODE) return;
    this.elapsed += 1;
    if (this.elapsed >= this.r.config.electionTicks) this.abort(this.timeoutNowSent ? 'timeout' : 'target-lagging');
  }

  /**
   * The leader is about to become a follower. Stepping down for a higher term while
   * handing over is the old leader's half of the transfer done (the target, or
   * whoever won instead, campaigns in that term); stepping down otherwise (lost
   * quorum) abandons it.
   */
  onStepDown(term: Term): void {
    const target = this.current;
    if (target === NO_NODE) return;
    this.current = NO_NODE;
    if (term > this.r.term) this.r.logger.info({ target, term }, 'leadership transfer completed');
    else this.r.logger.info({ target, reason: 'stepped-down' satisfies TransferAbortReason, term }, 'leadership transfer aborted');
  }

  /** The leader applied its own removal: its hand-over (Leader) takes over, and only
   * sends TimeoutNow once the successor knows the removal is committed. */
  supersede(): void {
    if (this.current !== NO_NODE) this.abort('superseded');
  }

  private abort(reason: TransferAbortReason): void {
    const target = this.current;
    this.current = NO_NODE;
    this.elapsed = 0;
    this.r.logger.info({ target, reason, term: this.r.term }, 'leadership transfer aborted');
  }

  private sendTimeoutNow(): void {
    const r = this.r;
    r.send({ type: 'TimeoutNow', from: r.id, to: this.current, term: r.term });
    this.timeoutNowSent = true;
    r.logger.debug({ target: this.current, term: r.term, lastIndex: r.log.lastIndex() }, 'sent TimeoutNow');
  }

  private refusal(target: NodeId): TransferRefusal | undefined {
    if (target === NO_NODE) return 'no-transfer-target';
    if (target === this.r.id) return 'transfer-to-self';
    if (this.tracker.get(target) === undefined) return 'transfer-to-non-member';
    if (!this.tracker.isVoter(target)) return 'transfer-to-learner';
    return undefined;
  }

  /** The voter other than this node with the highest match index, lowest id first. */
  private mostCaughtUpVoter(): NodeId {
    let best = NO_NODE;
    let bestMatch = -1;
    for (const peer of this.tracker.peers()) {
      if (!this.tracker.isVoter(peer)) continue;
      const match = this.tracker.progressOf(peer).match;
      if (match > bestMatch) {
        best = peer;
        bestMatch = match;
      }
    }
    return best;
  }
}
