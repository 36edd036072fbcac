import { assert } from '../errors.js';
import type { CoreConfig } from './config.js';
import { validateCoreConfig } from './config.js';
import type { CoreLogger } from './logger.js';
import type {
  AppendRequest,
  AppendResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  LocalInput,
  PeerMessage,
  ProposedEntry,
  VoteRequest,
  VoteResponse,
} from './messages.js';
import { isPeerMessage } from './messages.js';
import { Progress } from './progress.js';
import { majority, quorumMatchIndex, voteOutcome } from './quorum.js';
import type { Random } from './random.js';
import { RaftLog } from './raft-log.js';
import type { ReadState, Ready, SoftState } from './ready.js';
import type { Entry, EntryId, HardState, Index, NodeId, Role, Term } from './types.js';
import { EntryKind, NO_NODE, entryBytes, isHardStateEqual } from './types.js';

/** What a node recovered from storage when it starts. */
export interface CoreInitialState {
  readonly hardState: HardState;
  /** Every entry in the log, contiguous from index 1. */
  readonly entries: readonly Entry[];
  /** Highest index already applied to the state machine (0 for a fresh one). */
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
  | { readonly ok: false; readonly reason: 'unknown-peer' };

export interface PeerStatus {
  readonly id: NodeId;
  readonly match: Index;
  readonly next: Index;
  readonly state: 'probe' | 'replicate';
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
  /** Ticks since this node last heard from its leader (followers), or since it
   * became leader or candidate. */
  readonly electionElapsed: number;
  /** Leader only: one row per follower, in id order. */
  readonly peers: readonly PeerStatus[];
}

interface PendingRead {
  readonly requestId: number;
  readonly index: Index;
  readonly context: number;
  readonly acks: Set<NodeId>;
}

/** A follower this many entries behind is reported as having fallen behind. */
const FOLLOWER_LAG_ENTRIES = 1000;

/** Committed entries handed to the driver per Ready, so one turn stays short. */
const COMMITTED_ENTRIES_PER_READY_MAX = 4096;

/**
 * One node's Raft protocol state machine (the state of Raft paper Figure 2 plus
 * PreVote and CheckQuorum from the thesis), with no I/O: it is driven by `tick()` and
 * `step()`, and reports what it wants done as a `Ready` (etcd raft's RawNode shape).
 *
 * Term rules are applied once in `step`; role behaviour lives in the `step*` and
 * `tick*` methods that the `become*` methods select. `become*` are the only places
 * that set `role`.
 */
export class RaftCore {
  private readonly config: CoreConfig;
  private readonly random: Random;
  private readonly logger: CoreLogger;
  private readonly peers: readonly NodeId[];
  private readonly log: RaftLog;

  private term: Term;
  private vote: NodeId;
  private role: Role = 'follower';
  private leader: NodeId = NO_NODE;

  /** Ticks since the last reset: leader contact (followers), campaign start
   * (candidates), or the last CheckQuorum round (leaders). */
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  /** Drawn from [electionTicks, 2 * electionTicks) at every reset (Raft paper §5.2). */
  private randomizedElectionTicks: number;
  /** Ticks since start; used for contact ages only. */
  private tickCount = 0;

  private votes = new Map<NodeId, boolean>();
  private readonly progress = new Map<NodeId, Progress>();
  /** Leader: appends are sent when the next Ready is built, so proposals that arrive
   * in the same turn share one append, one fsync and one message per follower. */
  private appendsPending = false;

  private pendingReads: PendingRead[] = [];
  /** ReadIndex requests received before this leader committed an entry of its own
   * term: it cannot yet know the cluster's commit index (Raft thesis §6.4 step 1). */
  private readsAwaitingOwnCommit: number[] = [];
  private readContextSeq = 0;

  private messages: PeerMessage[] = [];
  private readStates: ReadState[] = [];
  /** What the driver has made durable / been told, to compute the next Ready. */
  private persistedHardState: HardState;
  private reportedSoftState: SoftState;
  private applied: Index;
  /** What the outstanding Ready handed out, acknowledged by advance(). */
  private outstanding: { lastEntry: EntryId | undefined; hardState: HardState; applyingTo: Index } | undefined;

  constructor(deps: CoreDeps) {
    validateCoreConfig(deps.config);
    this.config = deps.config;
    this.random = deps.random;
    this.logger = deps.logger;
    this.peers = [...deps.config.voters].filter((id) => id !== deps.config.id).sort((a, b) => a - b);
    const { hardState, entries, applied } = deps.initial;
    this.log = new RaftLog(entries, hardState.commit);
    assert(applied <= hardState.commit, `applied ${applied} beyond commit ${hardState.commit}`);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.applied = applied;
    this.persistedHardState = hardState;
    this.randomizedElectionTicks = this.drawElectionTimeout();
    this.reportedSoftState = { role: this.role, leader: this.leader };
  }

  get id(): NodeId {
    return this.config.id;
  }

  // ---------------------------------------------------------------- inputs

  /** One unit of logical time. */
  tick(): void {
    this.tickCount += 1;
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  step(input: PeerMessage | LocalInput): StepResult {
    if (!isPeerMessage(input)) return this.stepLocal(input);
    if (input.to !== this.id || input.from === this.id || !this.isMember(input.from)) return { ok: false, reason: 'unknown-peer' };
    if (this.logger.isLevelEnabled('trace')) this.logger.trace({ message: input }, 'message received');
    if (input.term > this.term) {
      if (!this.stepHigherTerm(input)) return { ok: true };
    } else if (input.term < this.term) {
      this.stepLowerTerm(input);
      return { ok: true };
    }
    if (input.type === 'VoteRequest') {
      this.handleVoteRequest(input);
      return { ok: true };
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(input);
        break;
      case 'candidate':
      case 'pre-candidate':
        this.stepCandidate(input);
        break;
      case 'follower':
        this.stepFollower(input);
        break;
      default: {
        const unreachable: never = this.role;
        throw new Error(`unknown role ${String(unreachable)}`);
      }
    }
    return { ok: true };
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
      const inLease = this.config.checkQuorum && this.leader !== NO_NODE && this.electionElapsed < this.config.electionTicks;
      if (inLease && !m.transfer) {
        this.logger.info(
          { candidate: m.from, term: m.term, pre: m.pre, leader: this.leader, reason: 'leader is alive' },
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

  /** Raft paper §5.2 and §5.4.1: one vote per term, only for an up-to-date log. */
  private handleVoteRequest(m: VoteRequest): void {
    const canVote =
      this.vote === m.from || (this.vote === NO_NODE && this.leader === NO_NODE) || (m.pre && m.term > this.term);
    const upToDate = this.log.isUpToDate(m.lastLogTerm, m.lastLogIndex);
    if (canVote && upToDate) {
      this.logger.info({ candidate: m.from, term: m.term, pre: m.pre }, 'vote granted');
      this.send({ type: 'VoteResponse', from: this.id, to: m.from, term: m.term, pre: m.pre, granted: true });
      if (!m.pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
      return;
    }
    const reason = !canVote
      ? this.vote !== NO_NODE
        ? `already voted for ${this.vote}`
        : `following leader ${this.leader}`
      : 'candidate log is not up to date';
    this.logger.info(
      { candidate: m.from, term: m.term, pre: m.pre, reason, lastIndex: this.log.lastIndex(), lastTerm: this.log.lastTerm() },
      'vote refused',
    );
    this.send({ type: 'VoteResponse', from: this.id, to: m.from, term: this.term, pre: m.pre, granted: false });
  }

  private stepLocal(input: LocalInput): StepResult {
    switch (input.type) {
      case 'Campaign':
        if (this.role !== 'leader') this.hup();
        return { ok: true };
      case 'Propose':
        return this.propose(input.entries);
      case 'ReadIndex':
        return this.readIndex(input.requestId);
      case 'ReportUnreachable': {
        const progress = this.progress.get(input.peer);
        if (this.role === 'leader' && progress !== undefined) {
          if (progress.state === 'replicate') progress.becomeProbe();
          if (progress.match < this.log.lastIndex()) this.markLagging(input.peer, progress);
        }
        return { ok: true };
      }
      default: {
        const unreachable: never = input;
        throw new Error(`unknown local input ${JSON.stringify(unreachable)}`);
      }
    }
  }

  // ---------------------------------------------------------------- follower

  private stepFollower(m: PeerMessage): void {
    switch (m.type) {
      case 'AppendRequest':
        this.heardFromLeader(m.from);
        this.handleAppend(m);
        break;
      case 'HeartbeatRequest':
        this.heardFromLeader(m.from);
        this.handleHeartbeat(m);
        break;
      case 'TimeoutNow':
        // The leader hands over leadership: campaign now, skipping PreVote, with a
        // request that voters accept despite a live leader (thesis §3.10).
        this.logger.info({ from: m.from, term: this.term }, 'leadership transfer requested, campaigning');
        this.campaign(false, true);
        break;
      default:
        this.logger.debug({ from: m.from, type: m.type }, 'follower ignored message');
    }
  }

  private heardFromLeader(leader: NodeId): void {
    this.electionElapsed = 0;
    if (this.leader !== leader) {
      this.leader = leader;
      this.logger.info({ leader, term: this.term }, 'following leader');
    }
  }

  /** Raft paper §5.3, AppendEntries receiver implementation. */
  private handleAppend(m: AppendRequest): void {
    const reply = (success: boolean, index: Index, hint: EntryId = { index: 0, term: 0 }): void =>
      this.send({ type: 'AppendResponse', from: this.id, to: m.from, term: this.term, success, index, hintIndex: hint.index, hintTerm: hint.term });
    if (m.prevLogIndex < this.log.committed) {
      // Everything up to our commit index is settled; a stale or duplicated append.
      reply(true, this.log.committed);
      return;
    }
    if (!this.log.matchTerm(m.prevLogIndex, m.prevLogTerm)) {
      const hint = this.log.findConflictByTerm(Math.min(m.prevLogIndex, this.log.lastIndex()), m.prevLogTerm);
      this.logger.debug({ from: m.from, index: m.prevLogIndex, logTerm: m.prevLogTerm, hintIndex: hint.index, hintTerm: hint.term }, 'append rejected');
      reply(false, m.prevLogIndex, hint);
      return;
    }
    const lastNew = m.entries.length === 0 ? m.prevLogIndex : this.log.appendFromLeader(m.entries);
    this.log.commitTo(Math.min(m.commit, lastNew));
    if (m.entries.length > 0) this.logger.debug({ from: m.from, index: lastNew, entries: m.entries.length }, 'append accepted');
    reply(true, lastNew);
  }

  private handleHeartbeat(m: HeartbeatRequest): void {
    // The leader sends min(commit, what it knows we match), so our log matches the
    // leader's up to that point.
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.logger.debug({ from: m.from, term: m.term, commit: m.commit }, 'heartbeat received');
    this.send({ type: 'HeartbeatResponse', from: this.id, to: m.from, term: this.term, context: m.context });
  }

  // ---------------------------------------------------------------- candidate

  private stepCandidate(m: PeerMessage): void {
    switch (m.type) {
      case 'AppendRequest':
        // Raft paper §5.2: a candidate that hears from a leader of its term steps down.
        this.becomeFollower(this.term, NO_NODE, 'leader of this term exists');
        this.heardFromLeader(m.from);
        this.handleAppend(m);
        break;
      case 'HeartbeatRequest':
        this.becomeFollower(this.term, NO_NODE, 'leader of this term exists');
        this.heardFromLeader(m.from);
        this.handleHeartbeat(m);
        break;
      case 'VoteResponse':
        this.onVoteResponse(m);
        break;
      default:
        this.logger.debug({ from: m.from, type: m.type }, 'candidate ignored message');
    }
  }

  private onVoteResponse(m: VoteResponse): void {
    if (m.pre !== (this.role === 'pre-candidate')) return;
    if (this.votes.has(m.from)) return;
    this.votes.set(m.from, m.granted);
    this.logger.debug({ from: m.from, granted: m.granted, pre: m.pre, term: m.term }, 'vote received');
    const outcome = voteOutcome(this.config.voters, this.votes);
    if (outcome === 'won') {
      if (this.role === 'pre-candidate') this.campaign(false, false);
      else this.becomeLeader();
    } else if (outcome === 'lost') {
      this.becomeFollower(this.term, NO_NODE, m.pre ? 'pre-vote lost' : 'election lost');
    }
  }

  private tickElection(): void {
    this.electionElapsed += 1;
    if (this.electionElapsed < this.randomizedElectionTicks) return;
    this.electionElapsed = 0;
    this.logger.warn({ term: this.term, leader: this.leader, ticks: this.randomizedElectionTicks }, 'election timeout, campaigning');
    this.hup();
  }

  private hup(): void {
    this.campaign(this.config.preVote, false);
  }

  /** Starts a PreVote round (thesis §9.6) or a real election (paper §5.2). */
  private campaign(pre: boolean, transfer: boolean): void {
    if (pre) this.becomePreCandidate();
    else this.becomeCandidate();
    const voteTerm = pre ? this.term + 1 : this.term;
    this.votes.set(this.id, true);
    if (voteOutcome(this.config.voters, this.votes) === 'won') {
      // A single-node cluster wins at once.
      if (pre) this.campaign(false, transfer);
      else this.becomeLeader();
      return;
    }
    const last = this.log.lastEntryId();
    for (const peer of this.peers) {
      this.send({ type: 'VoteRequest', from: this.id, to: peer, term: voteTerm, pre, lastLogIndex: last.index, lastLogTerm: last.term, transfer });
    }
  }

  // ---------------------------------------------------------------- leader

  private stepLeader(m: PeerMessage): void {
    const progress = this.progress.get(m.from);
    if (progress !== undefined) {
      progress.recentActive = true;
      progress.lastContactTick = this.tickCount;
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
        // Election Safety (paper §5.2) forbids two leaders in one term.
        this.logger.error({ from: m.from, term: m.term, type: m.type }, 'second leader in the same term');
        break;
      default:
        this.logger.debug({ from: m.from, type: m.type }, 'leader ignored message');
    }
  }

  private onAppendResponse(m: AppendResponse): void {
    const progress = this.progress.get(m.from)!;
    if (!m.success) {
      // Back up past the whole conflicting term at once (paper §5.3 end; etcd).
      const hint = m.hintTerm > 0 ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
      if (progress.maybeDecreaseTo(m.index, hint)) {
        this.logger.debug({ peer: m.from, index: m.index, hintIndex: m.hintIndex, hintTerm: m.hintTerm, next: progress.next }, 'append rejected by follower');
        this.markLagging(m.from, progress);
        this.maybeSendAppend(m.from, false);
      }
      return;
    }
    const wasProbe = progress.state === 'probe';
    if (progress.maybeUpdate(m.index)) {
      if (wasProbe) progress.becomeReplicate();
      if (progress.lagging && progress.match >= this.log.lastIndex()) {
        progress.lagging = false;
        this.logger.info({ peer: m.from, index: progress.match }, 'follower caught up');
      }
      if (this.maybeCommit()) this.onCommitAdvanced();
    }
    while (this.maybeSendAppend(m.from, false)) {
      // Keep the pipeline full up to the inflight window.
    }
  }

  private markLagging(peer: NodeId, progress: Progress): void {
    if (progress.lagging) return;
    progress.lagging = true;
    this.logger.info({ peer, match: progress.match, lastIndex: this.log.lastIndex() }, 'follower fell behind');
  }

  private onHeartbeatResponse(m: HeartbeatResponse): void {
    const progress = this.progress.get(m.from)!;
    // Appends can be lost without a rejection ever coming back (a cut link, a full
    // queue). The follower is alive, so make sure it hears from us: unpause a probe,
    // free one slot of a full window, and send from `next` — an empty append there
    // is itself a probe the follower accepts or rejects (etcd does the same).
    progress.onHeartbeatResponse();
    if (this.log.lastIndex() - progress.match > FOLLOWER_LAG_ENTRIES) this.markLagging(m.from, progress);
    if (progress.match < this.log.lastIndex()) this.maybeSendAppend(m.from, true);
    if (m.context > 0) this.ackReads(m.from, m.context);
  }

  private tickLeader(): void {
    this.heartbeatElapsed += 1;
    this.electionElapsed += 1;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum && !this.checkQuorum()) return;
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      // Carry the newest pending read's round so regular beats confirm reads too.
      const lastRead = this.pendingReads[this.pendingReads.length - 1];
      this.broadcastHeartbeat(lastRead === undefined ? 0 : lastRead.context);
    }
  }

  /** Thesis §6.2: a leader that cannot reach a majority steps down. */
  private checkQuorum(): boolean {
    let active = 1;
    for (const progress of this.progress.values()) {
      if (progress.recentActive) active += 1;
      progress.recentActive = false;
    }
    if (active >= majority(this.config.voters.length)) return true;
    this.logger.warn({ term: this.term, active, voters: this.config.voters.length }, 'stepped down: no quorum heard within an election timeout');
    this.becomeFollower(this.term, NO_NODE, 'no quorum');
    return false;
  }

  private propose(entries: readonly ProposedEntry[]): StepResult {
    if (this.role !== 'leader') return { ok: false, reason: 'not-leader', leader: this.leader };
    const firstIndex = this.log.lastIndex() + 1;
    this.log.append(entries.map((e, i) => ({ term: this.term, index: firstIndex + i, kind: e.kind, data: e.data })));
    this.appendsPending = true;
    return { ok: true, firstIndex, lastIndex: this.log.lastIndex(), term: this.term };
  }

  /** Raft paper §5.3, §5.4.2: commit the highest index stored on a majority, but only
   * by counting replicas of an entry of the current term (Figure 8). */
  private maybeCommit(): boolean {
    const matches = [this.log.stableIndex()];
    for (const progress of this.progress.values()) matches.push(progress.match);
    const index = quorumMatchIndex(matches);
    if (index <= this.log.committed || this.log.term(index) !== this.term) return false;
    return this.log.commitTo(index);
  }

  private onCommitAdvanced(): void {
    if (this.readsAwaitingOwnCommit.length > 0 && this.log.term(this.log.committed) === this.term) {
      const waiting = this.readsAwaitingOwnCommit;
      this.readsAwaitingOwnCommit = [];
      for (const requestId of waiting) this.readIndex(requestId);
    }
  }

  /** Sends the next append to `peer` if flow control allows; returns whether it sent. */
  private maybeSendAppend(peer: NodeId, sendIfEmpty: boolean): boolean {
    const progress = this.progress.get(peer)!;
    if (progress.isPaused()) return false;
    const lastIndex = this.log.lastIndex();
    const entries = progress.next <= lastIndex ? this.log.slice(progress.next, lastIndex + 1, this.config.appendBytesMax) : [];
    if (entries.length === 0 && !sendIfEmpty) return false;
    const prevLogIndex = progress.next - 1;
    const prevLogTerm = this.log.term(prevLogIndex);
    assert(prevLogTerm !== undefined, `no term for prevLogIndex ${prevLogIndex}`);
    this.send({ type: 'AppendRequest', from: this.id, to: peer, term: this.term, prevLogIndex, prevLogTerm, entries, commit: this.log.committed });
    const last = entries[entries.length - 1];
    if (last !== undefined) {
      let bytes = 0;
      for (const entry of entries) bytes += entryBytes(entry);
      progress.sentEntries(last.index, bytes);
      this.logger.debug({ peer, index: prevLogIndex + 1, entries: entries.length, bytes }, 'append sent');
    } else {
      progress.sentEntries(prevLogIndex, 0);
    }
    return true;
  }

  private broadcastAppends(): void {
    for (const peer of this.peers) {
      while (this.maybeSendAppend(peer, false)) {
        // Fill the window.
      }
    }
  }

  private broadcastHeartbeat(context: number): void {
    for (const peer of this.peers) {
      const progress = this.progress.get(peer)!;
      const commit = Math.min(progress.match, this.log.committed);
      this.send({ type: 'HeartbeatRequest', from: this.id, to: peer, term: this.term, commit, context });
    }
    if (this.peers.length > 0) this.logger.debug({ term: this.term, peers: this.peers.length, context }, 'heartbeat sent');
  }

  // ---------------------------------------------------------------- ReadIndex

  /** Raft thesis §6.4: record the commit index, confirm leadership with a heartbeat
   * round, and release the read once a majority answered. */
  private readIndex(requestId: number): StepResult {
    if (this.role !== 'leader') return { ok: false, reason: 'not-leader', leader: this.leader };
    if (this.log.term(this.log.committed) !== this.term) {
      this.readsAwaitingOwnCommit.push(requestId);
      return { ok: true };
    }
    if (this.peers.length === 0) {
      this.readStates.push({ requestId, index: this.log.committed });
      return { ok: true };
    }
    this.readContextSeq += 1;
    this.pendingReads.push({ requestId, index: this.log.committed, context: this.readContextSeq, acks: new Set([this.id]) });
    this.broadcastHeartbeat(this.readContextSeq);
    return { ok: true };
  }

  /**
   * A heartbeat answer for round `context` proves this node was still leader after
   * every read registered in that round or earlier, so it acknowledges all of them.
   * Reads are released in order, up to the last one a majority acknowledged.
   */
  private ackReads(peer: NodeId, context: number): void {
    const needed = majority(this.config.voters.length);
    let lastConfirmed = -1;
    for (let i = 0; i < this.pendingReads.length; i += 1) {
      const read = this.pendingReads[i]!;
      if (read.context > context) break;
      read.acks.add(peer);
      if (read.acks.size >= needed) lastConfirmed = i;
    }
    const confirmed = this.pendingReads.splice(0, lastConfirmed + 1);
    for (const read of confirmed) this.readStates.push({ requestId: read.requestId, index: read.index });
  }

  // ---------------------------------------------------------------- role changes

  private becomeFollower(term: Term, leader: NodeId, reason: string): void {
    const previousRole = this.role;
    if (term !== this.term) {
      this.logger.info({ from: this.term, to: term, reason }, 'term changed');
      this.term = term;
      this.vote = NO_NODE;
    }
    this.role = 'follower';
    this.leader = leader;
    this.resetTimers();
    this.votes.clear();
    this.progress.clear();
    this.appendsPending = false;
    this.dropReads();
    if (previousRole !== 'follower') {
      if (previousRole === 'leader') this.logger.info({ term, reason }, 'stepped down');
      this.logger.info({ term, leader, previous: previousRole }, 'became follower');
    }
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a pre-candidate');
    // PreVote changes neither term nor vote (thesis §9.6).
    this.role = 'pre-candidate';
    this.leader = NO_NODE;
    this.votes.clear();
    this.resetTimers();
    this.logger.info({ term: this.term, campaignTerm: this.term + 1 }, 'became pre-candidate');
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a candidate');
    this.logger.info({ from: this.term, to: this.term + 1, reason: 'campaign' }, 'term changed');
    this.term += 1;
    this.vote = this.id;
    this.role = 'candidate';
    this.leader = NO_NODE;
    this.votes.clear();
    this.resetTimers();
    this.logger.info({ term: this.term }, 'became candidate');
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', `only a candidate can become leader, not a ${this.role}`);
    const votes = [...this.votes].filter(([, granted]) => granted).map(([id]) => id).sort((a, b) => a - b);
    this.role = 'leader';
    this.leader = this.id;
    this.resetTimers();
    this.progress.clear();
    const next = this.log.lastIndex() + 1;
    const inflightBytesMax = this.config.appendBytesMax * this.config.inflightAppendsMax;
    for (const peer of this.peers) {
      const progress = new Progress(next, this.config.inflightAppendsMax, inflightBytesMax);
      // Count every follower as active for the first CheckQuorum round.
      progress.recentActive = true;
      progress.lastContactTick = this.tickCount;
      this.progress.set(peer, progress);
    }
    // A no-op of the new term lets the leader commit entries of earlier terms and
    // learn the commit index before serving reads (paper §5.4.2, §8; thesis §6.4).
    this.log.append([{ term: this.term, index: next, kind: EntryKind.Noop, data: new Uint8Array(0) }]);
    this.appendsPending = true;
    this.logger.info({ term: this.term, votes, lastIndex: this.log.lastIndex() }, 'became leader');
    for (const peer of this.peers) this.maybeSendAppend(peer, true);
    this.appendsPending = false;
  }

  private resetTimers(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTicks = this.drawElectionTimeout();
  }

  private drawElectionTimeout(): number {
    return this.config.electionTicks + this.random.nextInt(this.config.electionTicks);
  }

  private dropReads(): void {
    // Pending reads of a deposed leader are simply never answered by the core; the
    // driver fails them when it sees the role change (their outcome is harmless).
    this.pendingReads = [];
    this.readsAwaitingOwnCommit = [];
  }

  private send(message: PeerMessage): void {
    this.messages.push(message);
  }

  private isMember(id: NodeId): boolean {
    return this.config.voters.includes(id);
  }

  // ---------------------------------------------------------------- Ready

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private softState(): SoftState {
    return { role: this.role, leader: this.leader };
  }

  hasReady(): boolean {
    if (this.outstanding !== undefined) return false;
    const soft = this.softState();
    return (
      this.appendsPending ||
      this.messages.length > 0 ||
      this.readStates.length > 0 ||
      this.log.hasUnstable() ||
      this.log.committed > this.applied ||
      !isHardStateEqual(this.hardState(), this.persistedHardState) ||
      soft.role !== this.reportedSoftState.role ||
      soft.leader !== this.reportedSoftState.leader
    );
  }

  ready(): Ready {
    assert(this.outstanding === undefined, 'ready() called while a Ready is outstanding');
    if (this.appendsPending) {
      this.appendsPending = false;
      if (this.role === 'leader') this.broadcastAppends();
    }
    const hardState = this.hardState();
    const hardStateChanged = !isHardStateEqual(hardState, this.persistedHardState);
    const entries = this.log.unstableEntries();
    const soft = this.softState();
    const softChanged = soft.role !== this.reportedSoftState.role || soft.leader !== this.reportedSoftState.leader;
    const applyingTo = Math.min(this.log.committed, this.applied + COMMITTED_ENTRIES_PER_READY_MAX);
    const committedEntries = applyingTo > this.applied ? this.log.slice(this.applied + 1, applyingTo + 1) : [];
    const ready: Ready = {
      softState: softChanged ? soft : undefined,
      hardState: hardStateChanged ? hardState : undefined,
      entries,
      mustSync:
        entries.length > 0 || hardState.term !== this.persistedHardState.term || hardState.vote !== this.persistedHardState.vote,
      messages: this.messages,
      committedEntries,
      readStates: this.readStates,
    };
    assert(hardState.commit <= this.log.lastIndex(), 'hard state commit beyond last index');
    this.messages = [];
    this.readStates = [];
    this.reportedSoftState = soft;
    const lastEntry = entries[entries.length - 1];
    this.outstanding = {
      lastEntry: lastEntry === undefined ? undefined : { term: lastEntry.term, index: lastEntry.index },
      hardState,
      applyingTo,
    };
    return ready;
  }

  /** The driver persisted, sent and applied the outstanding Ready. */
  advance(): void {
    const outstanding = this.outstanding;
    assert(outstanding !== undefined, 'advance() without an outstanding Ready');
    this.outstanding = undefined;
    if (outstanding.lastEntry !== undefined) this.log.stableTo(outstanding.lastEntry);
    this.persistedHardState = outstanding.hardState;
    if (outstanding.applyingTo > this.applied) this.applied = outstanding.applyingTo;
    // The leader counts its own vote for an entry only once it is durable.
    if (this.role === 'leader' && this.maybeCommit()) this.onCommitAdvanced();
  }

  status(): CoreStatus {
    const peers: PeerStatus[] = [];
    if (this.role === 'leader') {
      for (const peer of this.peers) {
        const progress = this.progress.get(peer)!;
        peers.push({ id: peer, match: progress.match, next: progress.next, state: progress.state, ticksSinceContact: this.tickCount - progress.lastContactTick });
      }
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.applied,
      lastIndex: this.log.lastIndex(),
      lastTerm: this.log.lastTerm(),
      electionElapsed: this.electionElapsed,
      peers,
    };
  }

  /** Read-only access to the log for the driver and tests. */
  entry(index: Index): Entry | undefined {
    return this.log.entry(index);
  }
}
