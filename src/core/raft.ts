import { assert } from '../errors.js';
import { campaign, stepCandidate, tickElection } from './candidate.js';
import type { CoreConfig } from './config.js';
import { stepFollower } from './follower.js';
import { Leader } from './leader.js';
import type { CoreLogger } from './logger.js';
import type { PeerMessage } from './messages.js';
import type { Random } from './random.js';
import type { RaftLog } from './raft-log.js';
import type { ReadState, SoftState } from './ready.js';
import type { ClusterConfig, HardState, NodeId, Role, SnapshotMeta, Term } from './types.js';
import { EntryKind, NO_NODE } from './types.js';
import type { ConfChange } from './membership.js';
import { applyConfChange, checkConfChange, isMemberOf, isVoter } from './membership.js';
import { handleVoteRequest } from './vote.js';

/**
 * What a node holds in each role. Candidate tallies exist only on candidates and the
 * leader's replication state only on a leader, by type: becomeFollower drops both.
 */
export type RoleState =
  | { readonly role: 'follower' }
  | { readonly role: 'pre-candidate' | 'candidate'; readonly votes: Map<NodeId, boolean> }
  | { readonly role: 'leader'; readonly leader: Leader };

export interface RaftOptions {
  readonly config: CoreConfig;
  readonly random: Random;
  readonly logger: CoreLogger;
  readonly log: RaftLog;
  readonly hardState: HardState;
  /** The newest durable snapshot, if any. */
  readonly snapshot: SnapshotMeta | undefined;
  /** Highest index applied to the state machine. */
  readonly applied: number;
}

/**
 * The protocol state of one node (Raft paper Figure 2 plus the thesis's PreVote and
 * CheckQuorum): the term rules every message passes, the role transitions, and the
 * outbox. Role behaviour lives in follower.ts, candidate.ts, leader.ts and vote.ts,
 * which read and change this state; RaftCore (raft-core.ts) is the public face that
 * assembles Ready batches from it (etcd's raft and RawNode).
 *
 * Internal to src/core: its fields are public for the handlers, not for users.
 */
export class Raft {
  readonly config: CoreConfig;
  readonly random: Random;
  readonly logger: CoreLogger;
  readonly log: RaftLog;
  /** The configuration of the entries applied so far (changes take effect on apply,
   * as in etcd; see membership.ts). */
  membership: ClusterConfig;
  /** Every other member (voters and learners), in id order. */
  peers: readonly NodeId[] = [];
  /** Highest index applied to the state machine (RaftCore advances it). Invariant:
   * base <= applied <= committed. */
  applied: number;
  /** Set once this node applied its own removal: it takes no further part. */
  removed = false;
  /**
   * Index of this node's own removal, once applied without a leader having told it
   * that the removal is committed (0: none): applied while it led, or after it
   * stepped down from the term that committed it, or on a restart. It is not yet
   * `removed`: the remaining voters may not know that the removal is committed, and
   * until they do they need this node's vote and acknowledgements (apply on commit,
   * as in etcd: a voter that has not learned the commit still counts us). See
   * confirmRemoval.
   */
  private unconfirmedRemovalAt = 0;
  /** The highest commit index a leader's message carried since this node started. */
  private leaderCommitHeard = 0;
  /**
   * Set when this node restarted from a snapshot whose configuration leaves it out.
   * That is a node removed before the snapshot, or a learner that a leader caught up
   * from a snapshot taken before it added the learner, restarted while still catching
   * up (seed 0xe0945). A leader's commit alone cannot tell them apart; see
   * confirmRemoval.
   */
  private restartedOutside = false;
  /** For a node restartedOutside: the first full commit index a leader sent covering
   * unconfirmedRemovalAt. Still out of the configuration once it applied that far,
   * the node was removed. */
  private removalCheckAt = 0;

  term: Term;
  vote: NodeId;
  /** The leader of `term` as far as this node knows (NO_NODE when unknown). */
  leaderId: NodeId = NO_NODE;
  state: RoleState = { role: 'follower' };
  /** The newest snapshot this node holds durably: what a leader sends to a follower
   * that needs compacted entries. */
  snapshot: SnapshotMeta | undefined;

  /** Ticks since the last reset: leader contact (followers), campaign start
   * (candidates), or the last CheckQuorum round (leaders). */
  electionElapsed = 0;
  heartbeatElapsed = 0;
  /** Drawn from [electionTicks, 2 * electionTicks) at every reset (Raft paper §5.2). */
  randomizedElectionTicks: number;
  /** Ticks since start; used for contact ages only. */
  tickCount = 0;

  /** Messages and confirmed reads for the next Ready. */
  messages: PeerMessage[] = [];
  readStates: ReadState[] = [];

  constructor(options: RaftOptions) {
    this.config = options.config;
    this.random = options.random;
    this.logger = options.logger;
    this.log = options.log;
    this.membership = options.snapshot?.config ?? { voters: [...options.config.voters].sort((a, b) => a - b), learners: [] };
    // Restarted from a snapshot taken after its own removal (only a member has one):
    // whether the others know the removal committed is unknown, as after replaying it.
    if (options.snapshot !== undefined && !isMemberOf(this.membership, this.id)) {
      this.unconfirmedRemovalAt = options.snapshot.index;
      this.restartedOutside = true;
    }
    this.peers = this.otherMembers();
    this.applied = options.applied;
    this.term = options.hardState.term;
    this.vote = options.hardState.vote;
    this.snapshot = options.snapshot;
    this.randomizedElectionTicks = this.drawElectionTimeout();
  }

  get id(): NodeId {
    return this.config.id;
  }

  get role(): Role {
    return this.state.role;
  }

  /** The leader's state when this node leads, else undefined. */
  leading(): Leader | undefined {
    return this.state.role === 'leader' ? this.state.leader : undefined;
  }

  tick(): void {
    this.tickCount += 1;
    if (this.state.role === 'leader') this.state.leader.tick();
    else tickElection(this);
  }

  /** A message from a member (already checked by RaftCore). */
  step(m: PeerMessage): void {
    if (m.term > this.term) {
      if (!this.stepHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.stepLowerTerm(m);
      return;
    }
    if (m.type === 'VoteRequest') {
      handleVoteRequest(this, m);
      return;
    }
    const state = this.state;
    switch (state.role) {
      case 'leader':
        state.leader.step(m);
        break;
      case 'candidate':
      case 'pre-candidate':
        stepCandidate(this, state.votes, m);
        break;
      case 'follower':
        stepFollower(this, m);
        break;
      default: {
        const unreachable: never = state;
        throw new Error(`unknown role ${JSON.stringify(unreachable)}`);
      }
    }
  }

  /**
   * A message from a higher term (Raft paper §5.1: "If RPC request or response
   * contains term T > currentTerm: set currentTerm = T, convert to follower"), with
   * the thesis §9.6 exceptions. Returns false when the message must be dropped.
   */
  private stepHigherTerm(m: PeerMessage): boolean {
    if (m.type === 'VoteRequest') {
      // A node that hears from a live leader ignores (pre)votes: a partitioned node
      // coming back must not depose a healthy leader (thesis §4.2.3, §9.6).
      const inLease = this.config.checkQuorum && this.leaderId !== NO_NODE && this.electionElapsed < this.config.electionTicks;
      if (inLease && !m.transfer) {
        this.logger.info(
          { candidate: m.from, term: m.term, pre: m.pre, leader: this.leaderId, reason: 'leader is alive' },
          'vote refused',
        );
        return false;
      }
      // A PreVote never changes our term.
      if (m.pre) return true;
      this.becomeFollower(m.term, NO_NODE, 'vote request with a higher term');
      return true;
    }
    // A granted PreVote response carries the term we would campaign in; it is not a
    // reason to change ours.
    if (m.type === 'VoteResponse' && m.pre && m.granted) return true;
    // The leader, if this is one, is recorded when the message is handled below.
    this.becomeFollower(m.term, NO_NODE, `message with a higher term (${m.type})`);
    return true;
  }

  private stepLowerTerm(m: PeerMessage): void {
    if ((this.config.checkQuorum || this.config.preVote) && (m.type === 'AppendRequest' || m.type === 'HeartbeatRequest')) {
      // A stale leader that never hears a higher term would keep its followers'
      // (pre)votes blocked forever; tell it our term so it steps down (etcd).
      this.send({ type: 'AppendResponse', from: this.id, to: m.from, term: this.term, success: false, index: 0, hintIndex: 0, hintTerm: 0 });
      return;
    }
    if (m.type === 'VoteRequest' && m.pre) {
      this.send({ type: 'VoteResponse', from: this.id, to: m.from, term: this.term, pre: true, granted: false });
      return;
    }
    this.logger.debug({ from: m.from, type: m.type, msgTerm: m.term, term: this.term }, 'ignored message from an older term');
  }

  /**
   * Starts a campaign, if this node may: only a voter campaigns (a learner or a node
   * still joining never does), and not while committed membership changes wait to be
   * applied, since the configuration it would campaign in may be stale (etcd).
   */
  hup(): void {
    if (!this.isPromotable()) {
      this.logger.debug({ term: this.term }, 'not campaigning: not a voter');
      return;
    }
    if (this.hasUnappliedConfChange()) {
      this.logger.info({ term: this.term, applied: this.applied, commit: this.log.committed }, 'not campaigning: membership changes to apply first');
      return;
    }
    campaign(this, this.config.preVote, false);
  }

  /**
   * A voter in the configuration it has applied, or a node whose removal is applied
   * but unconfirmed: it may lead only to hand over (Leader.takeOffice), counting the
   * votes and acknowledgements of the new configuration and never its own. Without
   * that, a removed leader whose hand-over was cut short (it lost its quorum, or
   * restarted) could hold the only log with the entries after the removal, refuse
   * every candidate as less up to date, and never campaign itself (seed 0x80ed1).
   */
  isPromotable(): boolean {
    return !this.removed && (isVoter(this.membership, this.id) || this.unconfirmedRemovalAt > 0);
  }

  /** The index of this node's own removal while it is applied but unconfirmed (0: none). */
  unconfirmedRemoval(): number {
    return this.removed ? 0 : this.unconfirmedRemovalAt;
  }

  hasUnappliedConfChange(): boolean {
    const from = Math.max(this.applied + 1, this.log.firstIndexHeld());
    for (let index = from; index <= this.log.committed; index += 1) {
      if (this.log.entry(index)?.kind === EntryKind.ConfChange) return true;
    }
    return false;
  }

  /** Voters other than this node, in id order: whom a candidate asks for votes. */
  voterPeers(): NodeId[] {
    return this.membership.voters.filter((id) => id !== this.id);
  }

  private otherMembers(): NodeId[] {
    return [...this.membership.voters, ...this.membership.learners].filter((id) => id !== this.id).sort((a, b) => a - b);
  }

  /**
   * Applies a committed membership change at `index` (its entry is being applied). An
   * invalid change is skipped on every node alike: each checks the same change
   * against the same configuration.
   */
  applyConfChange(change: ConfChange, index: number): void {
    const problem = checkConfChange(this.membership, change);
    if (problem !== undefined) {
      this.logger.error({ index, change, reason: problem }, 'membership change skipped');
      return;
    }
    const before = this.membership;
    this.membership = applyConfChange(before, change);
    this.peers = this.otherMembers();
    this.logger.info({ index, op: change.op, voters: this.membership.voters, learners: this.membership.learners }, 'membership changed');
    const leader = this.leading();
    leader?.onMembershipChanged(index);
    if (isMemberOf(before, this.id) && !isMemberOf(this.membership, this.id)) {
      // A follower that learned from a leader that its removal is committed can go:
      // that leader goes on without it. A leader hands over first
      // (Leader.maybeHandOver). Any other node knows the commit only from its own
      // leadership or its own disk (it led when the removal committed, then stepped
      // down before applying it; or it restarted), and the voters left may not know.
      // A learner's vote and acknowledgements were never needed: it just goes.
      if (leader === undefined && (this.leaderCommitHeard >= index || !isVoter(before, this.id))) this.markRemoved();
      else this.unconfirmedRemovalAt = index;
    } else if (isMemberOf(this.membership, this.id)) {
      this.clearUnconfirmedRemoval();
    }
    if (this.state.role !== 'leader' && this.state.role !== 'follower' && !this.isPromotable()) {
      this.becomeFollower(this.term, NO_NODE, 'no longer a voter');
    }
  }

  /**
   * A leader's message says its commit index is `commit`. Once that covers this
   * node's own removal, applied unconfirmed (see unconfirmedRemovalAt: for example
   * applied while it led, then it stepped down before a successor confirmed: lost
   * quorum, a higher term, no successor in time), the cluster has a leader that
   * knows, and this node is removed. Until then it stays to vote and acknowledge;
   * exiting at once could leave the rest unable to elect anyone: a voter that has
   * not learned the commit still needs this node's vote.
   */
  confirmRemoval(commit: number, full: boolean): void {
    if (commit > this.leaderCommitHeard) this.leaderCommitHeard = commit;
    if (this.unconfirmedRemovalAt === 0 || commit < this.unconfirmedRemovalAt) return;
    if (!this.restartedOutside) {
      this.markRemoved();
      return;
    }
    // A leader that replicates to a learner it added has applied the addition, so its
    // full commit index (an append's; a heartbeat's is capped at the follower's
    // match) covers it: applied that far, a learner is a member again.
    if (full && this.removalCheckAt === 0) this.removalCheckAt = commit;
    this.decideRestartedOutside();
  }

  private decideRestartedOutside(): void {
    if (this.removalCheckAt > 0 && this.applied >= this.removalCheckAt && !isMemberOf(this.membership, this.id)) this.markRemoved();
  }

  private clearUnconfirmedRemoval(): void {
    this.unconfirmedRemovalAt = 0;
    this.restartedOutside = false;
    this.removalCheckAt = 0;
  }

  /** This node left the configuration: it takes no further part. */
  markRemoved(): void {
    if (this.removed) return;
    this.removed = true;
    this.logger.info({ term: this.term }, 'removed from the cluster');
  }

  /** A TimeoutNow that arrived while membership changes waited to be applied: the
   * campaign starts once they are (the configuration to campaign in must be current). */
  campaignAfterApply = false;

  /** Called after entries were applied: a deferred transfer campaign may start now. */
  afterApply(): void {
    if (this.restartedOutside && !this.removed) this.decideRestartedOutside();
    if (!this.campaignAfterApply || this.hasUnappliedConfChange()) return;
    this.campaignAfterApply = false;
    if (this.state.role === 'follower' && this.isPromotable()) {
      this.logger.info({ term: this.term }, 'leadership transfer requested, campaigning');
      campaign(this, false, true);
    }
  }

  /** Replaces the configuration with a snapshot's (InstallSnapshot). */
  restoreMembership(config: ClusterConfig): void {
    const wasMember = isMemberOf(this.membership, this.id);
    this.membership = config;
    this.peers = this.otherMembers();
    if (wasMember && !isMemberOf(config, this.id)) {
      this.removed = true;
      this.logger.info({ term: this.term }, 'removed from the cluster');
    } else if (isMemberOf(config, this.id)) {
      this.clearUnconfirmedRemoval();
    }
  }

  // ---------------------------------------------------------------- role changes

  becomeFollower(term: Term, leader: NodeId, reason: string): void {
    const previousRole = this.state.role;
    this.leading()?.transfer.onStepDown(term);
    if (term !== this.term) {
      this.logger.info({ from: this.term, to: term, reason }, 'term changed');
      this.term = term;
      this.vote = NO_NODE;
      this.campaignAfterApply = false;
    }
    // Dropping the leader's state drops its pending reads too: the core never answers
    // them, and the driver fails them when it sees the role change (harmless).
    this.state = { role: 'follower' };
    this.leaderId = leader;
    this.resetTimers();
    if (previousRole !== 'follower') {
      if (previousRole === 'leader') this.logger.info({ term, reason }, 'stepped down');
      this.logger.info({ term, leader, previous: previousRole }, 'became follower');
    }
  }

  becomePreCandidate(): Map<NodeId, boolean> {
    assert(this.state.role !== 'leader', 'a leader cannot become a pre-candidate');
    // PreVote changes neither term nor vote (thesis §9.6).
    const votes = new Map<NodeId, boolean>();
    this.state = { role: 'pre-candidate', votes };
    this.leaderId = NO_NODE;
    this.resetTimers();
    this.logger.info({ term: this.term, campaignTerm: this.term + 1 }, 'became pre-candidate');
    return votes;
  }

  becomeCandidate(): Map<NodeId, boolean> {
    assert(this.state.role !== 'leader', 'a leader cannot become a candidate');
    this.logger.info({ from: this.term, to: this.term + 1, reason: 'campaign' }, 'term changed');
    this.term += 1;
    this.vote = this.id;
    const votes = new Map<NodeId, boolean>();
    this.state = { role: 'candidate', votes };
    this.leaderId = NO_NODE;
    this.resetTimers();
    this.logger.info({ term: this.term }, 'became candidate');
    return votes;
  }

  becomeLeader(): void {
    const state = this.state;
    assert(state.role === 'candidate', `only a candidate can become leader, not a ${state.role}`);
    const votes = [...state.votes].filter(([, granted]) => granted).map(([id]) => id).sort((a, b) => a - b);
    this.leaderId = this.id;
    this.resetTimers();
    const leader = new Leader(this);
    this.state = { role: 'leader', leader };
    leader.takeOffice(votes);
  }

  resetTimers(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTicks = this.drawElectionTimeout();
  }

  private drawElectionTimeout(): number {
    return this.config.electionTicks + this.random.nextInt(this.config.electionTicks);
  }

  send(message: PeerMessage): void {
    this.messages.push(message);
  }

  /** A member of the applied configuration, or one a leader still says goodbye to. */
  isMember(id: NodeId): boolean {
    return isMemberOf(this.membership, id) || (this.leading()?.tracker.get(id) !== undefined);
  }

  /** The configuration of the applied entries. */
  clusterConfig(): ClusterConfig {
    return this.membership;
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { role: this.state.role, leader: this.leaderId };
  }
}
