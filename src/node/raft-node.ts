import type { NodeLogger } from '../core/logger.js';
import type { CoreConfig } from '../core/config.js';
import type { CoreInitialState, CoreStatus } from '../core/raft-core.js';
import { RaftCore } from '../core/raft-core.js';
import type { InstallSnapshot, PeerMessage } from '../core/messages.js';
import type { Random } from '../core/random.js';
import type { Ready } from '../core/ready.js';
import { canSendBeforePersist } from '../core/ready.js';
import type { ConfChange } from '../core/membership.js';
import { addressOf } from '../core/membership.js';
import type { ClusterConfig, Entry, HardState, Index, NodeId, SnapshotMeta, Term } from '../core/types.js';
import type { PeerAddress } from '../transport/address.js';
import { parseAddress } from '../transport/address.js';
import { EntryKind } from '../core/types.js';
import type { StateMachine, StateMachineSnapshot } from '../kv/state-machine.js';
import type { LogStorage } from '../storage/log-storage.js';
import type { Transport } from '../transport/tcp-transport.js';
import type { NodeObserver } from './node-observer.js';
import type { TransferFailure } from './pending-requests.js';
import { MembershipChangeError, NotLeaderError, PendingProposals, PendingReads, TransferAbortedError, TransferRefusedError, UnknownOutcomeError } from './pending-requests.js';
import { SerialQueue } from '../util/serial-queue.js';
import type { SnapshotPolicy, SnapshotStorage } from './snapshot-storage.js';
import { DEFAULT_SNAPSHOT_POLICY } from './snapshot-storage.js';
import type { Ticker } from './ticker.js';

export interface RaftNodeOptions<Result> {
  readonly config: CoreConfig;
  readonly initial: CoreInitialState;
  readonly storage: LogStorage;
  /** Where snapshots are saved and read back for followers. */
  readonly snapshots: SnapshotStorage;
  /** When to snapshot and how much log to keep. Default: every 10,000 entries,
   * keeping 5,000 behind. */
  readonly snapshotPolicy?: SnapshotPolicy;
  readonly transport: Transport;
  readonly stateMachine: StateMachine<Result>;
  readonly ticker: Ticker;
  readonly random: Random;
  /** The node's root logger; the driver and the core take children of it. */
  readonly logger: NodeLogger;
  /** Runs `fn` on a later turn of the event loop (setImmediate in production; the
   * simulator passes its own queue). */
  readonly schedule?: (fn: () => void) => void;
  /** Ticks between the info-level "cluster alive" summaries. Default 100. */
  readonly summaryTicks?: number;
  /** Storage failed or an invariant broke: the node has stopped and must exit. */
  readonly onFatal: (err: Error) => void;
  /** Milliseconds since some fixed point, for durations in logs (performance.now in
   * production; the simulator passes its clock). */
  readonly now?: () => number;
  /** Addresses of the bootstrap peers (--peers), for members whose configuration
   * entry carries none. */
  readonly addressBook?: ReadonlyMap<NodeId, PeerAddress>;
  /** This node applied its own removal from the cluster: it has stopped taking part
   * and should exit. */
  readonly onRemoved?: () => void;
  /** Told of each Ready, write, message received, apply and proposal (metrics and
   * the event stream); absent, the driver does no such work. */
  readonly observer?: NodeObserver;
}

export interface StopOptions {
  /** On a leader, hand leadership to the most caught-up voter first and wait for a
   * successor (bounded), so clients move on without an election timeout (etcd
   * TryTransferLeadershipOnShutdown). Default true; false stops at once, as a crash
   * would look to the others. */
  readonly transferLeadership?: boolean;
}

/** A caller waiting for a leadership transfer it started to settle. */
interface TransferWaiter {
  readonly target: NodeId;
  readonly term: Term;
  ticks: number;
  readonly resolve: (leader: NodeId) => void;
  readonly reject: (err: Error) => void;
}

/** A snapshot received from a leader that the core accepted, until it is installed. */
interface ReceivedSnapshot {
  readonly message: InstallSnapshot;
  readonly data: Uint8Array;
}

/**
 * The driver: the only place where the core, storage, transport, state machine and
 * timers meet. Inputs (ticks, peer messages, proposals) are stepped into the core
 * at once; whenever the core has a Ready and none is being handled, one turn runs:
 *
 *   1. append entries and hard state to storage, fsync when the Ready says so
 *      (a leader's appends and heartbeats are flushed to the network first and
 *      the followers write meanwhile: thesis §10.2.1);
 *   2. apply committed entries and answer the proposals and reads they settle,
 *      while that write is in flight (a membership change waits for it); a leader
 *      also applies what its followers commit meanwhile;
 *   3. send the other messages once the write is durable, because a vote or an
 *      append acknowledgement is a promise about what is on disk (thesis §3.8);
 *   4. advance the core.
 */
export class RaftNode<Result> {
  private readonly core: RaftCore;
  private readonly log: NodeLogger;
  private readonly proposals = new PendingProposals<Result>();
  /** Membership changes waiting to be applied; they resolve with their index. */
  private readonly confChanges = new PendingProposals<Index>();
  private removedReported = false;
  private readonly reads = new PendingReads();
  private readonly schedule: (fn: () => void) => void;
  private readonly summaryTicks: number;
  private appliedIndex: Index;
  /** A commit-only hard state not yet written (see hardStateToWrite). */
  private deferredHardState: HardState | undefined;
  private turnScheduled = false;
  private earlySendScheduled = false;
  private turnRunning = false;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private ticks = 0;
  /** Leadership transfers started here and not yet settled. */
  private transfers: TransferWaiter[] = [];
  /** WAL appends and compactions, one at a time. */
  private readonly storageQueue = new SerialQueue();
  /** Snapshot saves (our own, and installs of a leader's), one at a time. */
  private readonly snapshotQueue = new SerialQueue();
  private readonly snapshotPolicy: SnapshotPolicy;
  private readonly now: () => number;
  /** Index of the newest snapshot taken or installed here. */
  private snapshotIndex: Index;
  private snapshotInProgress = false;
  private received: ReceivedSnapshot | undefined;
  /** Every peer's address as last given to the transport (see peerAddresses). */
  private readonly lastAddresses = new Map<NodeId, PeerAddress>();
  /** The newest snapshot's bytes, kept while they are being sent to followers. */
  private sendCache: { meta: SnapshotMeta; data: Promise<Uint8Array> } | undefined;

  constructor(private readonly options: RaftNodeOptions<Result>) {
    this.log = options.logger.child({ component: 'node' });
    this.core = new RaftCore({
      config: options.config,
      initial: options.initial,
      random: options.random,
      logger: options.logger.child({ component: 'core' }),
    });
    this.appliedIndex = options.initial.applied;
    this.schedule = options.schedule ?? ((fn) => setImmediate(fn));
    this.summaryTicks = options.summaryTicks ?? 100;
    this.snapshotPolicy = options.snapshotPolicy ?? DEFAULT_SNAPSHOT_POLICY;
    this.now = options.now ?? (() => performance.now());
    this.snapshotIndex = options.initial.snapshot?.index ?? 0;
  }

  start(): void {
    this.options.transport.onMessage((message) => this.receive(message));
    this.options.transport.onUnreachable((peer) => this.stepLocal({ type: 'ReportUnreachable', peer }));
    this.options.transport.onSnapshot((message, data) => this.receiveSnapshot(message, data));
    this.syncPeers(this.core.clusterConfig());
    this.options.ticker.start(() => this.tick());
    const status = this.core.status();
    this.log.info(
      { term: status.term, vote: status.vote, lastIndex: status.lastIndex, commit: status.commit, snapshotIndex: status.snapshotIndex, firstIndex: status.firstIndex },
      'raft node started',
    );
    this.requestTurn();
  }

  /**
   * Stops the node. A leader first hands over leadership (unless told not to), waiting
   * at most two election timeouts for a successor, then stops anyway with a warning.
   */
  stop(options: StopOptions = {}): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.stopping ??= this.handOverThenStop(options.transferLeadership ?? true);
    return this.stopping;
  }

  private async handOverThenStop(transfer: boolean): Promise<void> {
    const status = this.core.status();
    if (transfer && status.role === 'leader' && status.voters.length > 1) {
      const started = this.now();
      try {
        const leader = await this.transferLeadership();
        this.log.info({ leader, ms: Math.round(this.now() - started) }, 'leadership handed over before shutdown');
      } catch (err) {
        this.log.warn({ err, ms: Math.round(this.now() - started) }, 'leadership not handed over before shutdown; stopping anyway');
      }
    }
    await this.stopNow();
  }

  private async stopNow(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.options.ticker.stop();
    const err = new UnknownOutcomeError('the node is shutting down');
    this.proposals.failAll(err);
    this.confChanges.failAll(err);
    this.reads.failAll(err);
    this.settleTransfers((w) => w.reject(new TransferAbortedError('shutting-down', w.target)));
    this.options.observer?.stopped();
    await this.options.transport.close();
    await this.options.storage.close();
  }

  status(): CoreStatus {
    return { ...this.core.status(), applied: this.appliedIndex };
  }

  /** Proposes a command; resolves with its state machine result once applied here. */
  propose(data: Uint8Array): Promise<Result> {
    const result = this.core.step({ type: 'Propose', entries: [{ kind: EntryKind.Command, data }] });
    if (!result.ok) {
      this.options.observer?.proposalRefused();
      // During a leadership transfer the hint is its target, so clients go there at once.
      return Promise.reject(new NotLeaderError(result.reason === 'not-leader' || result.reason === 'transferring' ? result.leader : 0));
    }
    this.requestTurn();
    const outcome = this.proposals.add(result.firstIndex!, result.term!);
    this.options.observer?.proposed(outcome);
    return outcome;
  }

  /**
   * Hands leadership to `target` (default: the most caught-up voter) and resolves with
   * the new leader's id once this node learns of it. Rejects with NotLeaderError on a
   * follower, TransferRefusedError when the leader refuses the target, and
   * TransferAbortedError when the transfer is abandoned (the core gives up after an
   * election timeout; this node waits at most two for a successor).
   */
  transferLeadership(target: NodeId = 0): Promise<NodeId> {
    if (this.stopped) return Promise.reject(new TransferAbortedError('shutting-down', target));
    const result = this.core.step({ type: 'TransferLeader', target });
    if (!result.ok) {
      if (result.reason === 'not-leader' || result.reason === 'transferring') return Promise.reject(new NotLeaderError(result.reason === 'not-leader' ? result.leader : 0));
      if (result.reason === 'unknown-peer') return Promise.reject(new TransferRefusedError('transfer-to-non-member', target));
      if ('message' in result) return Promise.reject(new TransferRefusedError('no-transfer-target', target));
      return Promise.reject(new TransferRefusedError(result.reason, target));
    }
    const status = this.core.status();
    this.requestTurn();
    return new Promise<NodeId>((resolve, reject) => {
      this.transfers.push({ target: status.transferTarget, term: status.term, ticks: 0, resolve, reject });
    });
  }

  private settleTransfers(settle: (waiter: TransferWaiter) => void, which: (waiter: TransferWaiter) => boolean = () => true): void {
    if (this.transfers.length === 0) return;
    const remaining: TransferWaiter[] = [];
    for (const waiter of this.transfers) {
      if (which(waiter)) settle(waiter);
      else remaining.push(waiter);
    }
    this.transfers = remaining;
  }

  /** After a tick: transfers the core abandoned, or that found no successor in time. */
  private checkTransfers(): void {
    if (this.transfers.length === 0) return;
    const status = this.core.status();
    const boundTicks = 2 * this.options.config.electionTicks;
    const failure = (waiter: TransferWaiter): TransferFailure | undefined => {
      waiter.ticks += 1;
      if (status.role === 'leader') {
        if (status.term !== waiter.term) return 're-elected';
        if (status.transferTarget === waiter.target) return undefined;
        if (status.transferTarget !== 0) return 'superseded';
        const match = status.peers.find((p) => p.id === waiter.target)?.match ?? 0;
        return match < status.lastIndex ? 'target-lagging' : 'timeout';
      }
      return waiter.ticks > boundTicks ? (status.term === waiter.term ? 'stepped-down' : 'timeout') : undefined;
    };
    const failed = new Map<TransferWaiter, TransferFailure>();
    for (const waiter of this.transfers) {
      const reason = failure(waiter);
      if (reason !== undefined) failed.set(waiter, reason);
    }
    this.settleTransfers((w) => w.reject(new TransferAbortedError(failed.get(w)!, w.target)), (w) => failed.has(w));
  }

  /**
   * An immutable view of the state machine at the applied index, with the metadata a
   * snapshot file needs; the caller releases the view. Undefined before anything
   * was applied.
   */
  snapshotView(): { meta: SnapshotMeta; view: StateMachineSnapshot } | undefined {
    const term = this.core.termAt(this.appliedIndex);
    if (this.appliedIndex === 0 || term === undefined) return undefined;
    return { meta: { index: this.appliedIndex, term, config: this.core.clusterConfig() }, view: this.options.stateMachine.snapshot() };
  }

  /**
   * Proposes one membership change; resolves with its log index once it is applied
   * here (and so in force on this leader). Rejects with MembershipChangeError when
   * the leader refuses it, NotLeaderError elsewhere.
   */
  changeMembership(change: ConfChange): Promise<Index> {
    const result = this.core.step({ type: 'ProposeConfChange', change });
    if (!result.ok) {
      if (result.reason === 'not-leader') return Promise.reject(new NotLeaderError(result.leader));
      if (result.reason === 'unknown-peer') return Promise.reject(new NotLeaderError(0));
      if (result.reason === 'transferring') return Promise.reject(new NotLeaderError(result.leader));
      if (!('message' in result)) return Promise.reject(new MembershipChangeError('invalid-change', result.reason));
      return Promise.reject(new MembershipChangeError(result.reason, result.message));
    }
    this.requestTurn();
    return this.confChanges.add(result.firstIndex!, result.term!);
  }

  /** The configuration this node has applied. */
  membership(): ClusterConfig {
    return this.core.clusterConfig();
  }

  /**
   * Where each peer is reached: its configuration entry's address, else --peers, else
   * the last address it had. The peers are the members, the followers a leader still
   * tells of their removal, and the leader this node follows even when it is no
   * longer a member: the core takes a leader's messages from anyone, and a leader
   * that removed itself hands over only once a successor answers it.
   */
  private peerAddresses(config: ClusterConfig): Map<NodeId, PeerAddress> {
    const peers = new Map<NodeId, PeerAddress>();
    const status = this.core.status();
    const ids = new Set([...config.voters, ...config.learners, ...status.peers.map((p) => p.id)]);
    if (status.leader !== 0 && status.leader !== this.core.id) ids.add(status.leader);
    for (const id of ids) {
      const text = addressOf(config, id);
      let address = this.options.addressBook?.get(id) ?? this.lastAddresses.get(id);
      if (text !== undefined) {
        try {
          address = parseAddress(text);
        } catch {
          this.log.warn({ peer: id, address: text }, 'member address unusable; keeping the one known');
        }
      }
      if (address !== undefined) peers.set(id, address);
    }
    for (const [id, address] of peers) this.lastAddresses.set(id, address);
    return peers;
  }

  private syncPeers(config: ClusterConfig): void {
    // Knowing no configuration yet (the log is still being applied, or this node is
    // joining), keep the links there are.
    if (config.voters.length === 0 && config.learners.length === 0) return;
    this.options.transport.setPeers?.(this.peerAddresses(config));
  }

  /** Resolves once a linearizable read may be served from the local state machine. */
  readBarrier(): Promise<void> {
    const { requestId, done } = this.reads.add();
    const result = this.core.step({ type: 'ReadIndex', requestId });
    if (!result.ok) {
      this.reads.cancel(requestId);
      return Promise.reject(new NotLeaderError(result.reason === 'not-leader' || result.reason === 'transferring' ? result.leader : 0));
    }
    this.requestTurn();
    return done;
  }

  private receive(message: PeerMessage): void {
    if (this.stopped) return;
    const result = this.core.step(message);
    if (!result.ok) this.log.warn({ from: message.from, to: message.to, type: message.type }, 'message from an unknown peer dropped');
    else this.options.observer?.received(message);
    this.requestTurn();
  }

  /** A leader's snapshot arrived whole; the core decides whether to install it. */
  private receiveSnapshot(message: InstallSnapshot, data: Uint8Array): void {
    if (this.stopped) return;
    // Checked before the core sees it: once the core takes a snapshot its log is
    // replaced, and bytes the state machine then cannot restore would stop the node.
    try {
      this.options.stateMachine.verifySnapshot?.(data);
    } catch (err) {
      this.log.warn({ from: message.from, index: message.snapshot.index, term: message.snapshot.term, bytes: data.byteLength, reason: (err as Error).message }, 'snapshot refused: the state machine cannot restore it');
      return;
    }
    const result = this.core.step(message);
    if (!result.ok) {
      this.log.warn({ from: message.from, type: message.type }, 'message from an unknown peer dropped');
      return;
    }
    const pending = this.core.pendingSnapshot();
    if (pending !== undefined && pending.index === message.snapshot.index && pending.term === message.snapshot.term) {
      this.received = { message, data };
    }
    this.requestTurn();
  }

  private stepLocal(input: Parameters<RaftCore['step']>[0]): void {
    if (this.stopped) return;
    this.core.step(input);
    this.requestTurn();
  }

  private tick(): void {
    if (this.stopped) return;
    this.core.tick();
    this.ticks += 1;
    // Links kept for a removed member (a leader telling it, a follower answering it
    // while it leads) are dropped once no longer needed.
    if (this.ticks % 20 === 0) this.syncPeers(this.core.clusterConfig());
    if (this.ticks % this.summaryTicks === 0) this.logSummary();
    this.checkTransfers();
    this.requestTurn();
  }

  private requestTurn(): void {
    if (this.turnRunning) this.requestEarlySend();
    if (this.turnScheduled || this.turnRunning || this.stopped) return;
    if (!this.core.hasReady()) return;
    this.turnScheduled = true;
    this.schedule(() => {
      this.turnScheduled = false;
      void this.runTurn();
    });
  }

  /**
   * While a turn waits for its write, a leader's new appends and heartbeats go out,
   * and the entries its followers committed are applied, once per turn of the event
   * loop (not once per message, so they still batch); see RaftCore.takeEarlyMessages
   * and takeEarlyCommitted.
   */
  private requestEarlySend(): void {
    if (this.earlySendScheduled || this.stopped || (!this.core.hasEarlyMessages() && !this.core.hasEarlyCommitted())) return;
    this.earlySendScheduled = true;
    this.schedule(() => {
      this.earlySendScheduled = false;
      if (this.stopped) return;
      const messages = this.core.takeEarlyMessages();
      if (messages.length > 0) this.options.observer?.sentEarly(messages);
      for (const message of messages) this.options.transport.send(message);
      // Entries the followers' acknowledgements committed meanwhile: answered now,
      // not after this node's own write (RaftCore.takeEarlyCommitted), and after
      // the new appends are on their way.
      const committed = this.core.takeEarlyCommitted();
      if (messages.length > 0 && committed.length > 0) this.options.transport.flush?.();
      if (committed.length > 0) {
        this.apply(committed);
        this.options.observer?.applied(committed, this.appliedIndex);
      }
    });
  }

  private async runTurn(): Promise<void> {
    if (this.turnRunning || this.stopped || !this.core.hasReady()) return;
    this.turnRunning = true;
    try {
      await this.handleReady(this.core.ready());
    } catch (err) {
      this.fail(err as Error);
      return;
    } finally {
      this.turnRunning = false;
    }
    this.requestTurn();
  }

  private async handleReady(ready: Ready): Promise<void> {
    const observer = this.options.observer;
    observer?.ready(ready);
    if (ready.softState !== undefined && ready.softState.role !== 'leader') {
      // Proposals and reads of a deposed leader cannot be settled here any more.
      const err = new UnknownOutcomeError('leadership lost before the request completed');
      this.proposals.failAll(err);
      this.confChanges.failAll(err);
      this.reads.failAll(new NotLeaderError(ready.softState.leader));
    }
    const successor = ready.softState?.leader ?? 0;
    if (successor !== 0 && successor !== this.core.id) this.settleTransfers((w) => w.resolve(successor));
    const afterPersist: PeerMessage[] = [];
    for (const message of ready.messages) {
      if (message.type === 'InstallSnapshot') this.sendSnapshot(message);
      else if (canSendBeforePersist(message)) this.options.transport.send(message);
      else afterPersist.push(message);
    }
    if (ready.membership !== undefined) this.syncPeers(ready.membership);
    if (ready.snapshot !== undefined) await this.installSnapshot(ready.snapshot);
    const hardState = this.hardStateToWrite(ready);
    let persisted: Promise<void> | undefined;
    if (ready.entries.length > 0 || hardState !== undefined) {
      // The followers' appends leave before this node's own write and its fsync are
      // started, not after: their fsyncs, not ours, are on a write's critical path.
      this.options.transport.flush?.();
      const started = observer === undefined ? 0 : performance.now();
      persisted = this.storageQueue.run(() => this.options.storage.append(ready.entries, hardState, ready.mustSync));
      if (observer !== undefined) {
        persisted = persisted.then(() => observer.persisted((performance.now() - started) / 1000, ready.entries.length, ready.mustSync));
      }
    }
    // Committed entries are durable on a quorum already, so they are applied while
    // this batch's write is in flight (etcd hands them to its applier before it
    // saves): the client's answer does not wait for an fsync of later entries. A
    // membership change is the exception: it takes effect only once its commit is
    // on this node's disk (see RaftCore.advance), so its batch applies after.
    const applyNow = persisted === undefined || !ready.committedEntries.some((entry) => entry.kind === EntryKind.ConfChange);
    if (applyNow) this.applyReady(ready);
    if (persisted !== undefined) await persisted;
    if (this.stopped) return;
    for (const message of afterPersist) this.options.transport.send(message);
    // An acknowledgement is the leader's commit: it goes now, not after this turn.
    if (afterPersist.length > 0) this.options.transport.flush?.();
    if (!applyNow) this.applyReady(ready);
    this.core.advance();
    this.maybeStartSnapshot();
    // Reported once what the core still had to say (a hand-over's TimeoutNow) is out.
    if (!this.removedReported && this.core.isRemoved() && !this.core.hasReady()) {
      this.removedReported = true;
      this.options.onRemoved?.();
    }
  }

  /**
   * Makes a leader's snapshot durable and restores the state machine from it, before
   * the acknowledgement goes out: the snapshot file first, then the WAL's new base
   * (which drops the log as the core did, Figure 13), so a crash between the two
   * restarts from the snapshot and reconciles the WAL the same way.
   */
  private async installSnapshot(snapshot: SnapshotMeta): Promise<void> {
    const received = this.received;
    if (received === undefined || received.message.snapshot.index !== snapshot.index || received.message.snapshot.term !== snapshot.term) {
      throw new Error(`the core accepted snapshot ${snapshot.index}/${snapshot.term} but its bytes are not here`);
    }
    this.received = undefined;
    const started = this.now();
    const { bytes } = await this.snapshotQueue.run(() => this.options.snapshots.save(snapshot, [received.data]));
    await this.storageQueue.run(() => this.options.storage.compact({ index: snapshot.index, term: snapshot.term }));
    this.options.stateMachine.restore(received.data);
    this.appliedIndex = snapshot.index;
    this.snapshotIndex = Math.max(this.snapshotIndex, snapshot.index);
    this.proposals.replacedUpTo(snapshot.index);
    this.log.info({ index: snapshot.index, term: snapshot.term, bytes, ms: Math.round(this.now() - started), from: received.message.from }, 'installed snapshot');
    this.options.observer?.snapshotSaved(snapshot.index, bytes, (this.now() - started) / 1000, true);
  }

  /** Streams the newest snapshot to a follower and reports the outcome to the core. */
  private sendSnapshot(message: InstallSnapshot): void {
    const meta = message.snapshot;
    if (this.sendCache === undefined || this.sendCache.meta.index !== meta.index || this.sendCache.meta.term !== meta.term) {
      this.sendCache = { meta, data: this.options.snapshots.read(meta) };
    }
    const started = this.now();
    this.sendCache.data
      .then((data) => this.options.transport.sendSnapshot(message, data).then(() => data.byteLength))
      .then(
        (bytes) => {
          this.log.info({ peer: message.to, index: meta.index, bytes, ms: Math.round(this.now() - started) }, 'snapshot sent');
          this.stepLocal({ type: 'ReportSnapshot', peer: message.to, ok: true });
        },
        (err: unknown) => {
          this.log.warn({ peer: message.to, index: meta.index, err }, 'snapshot not delivered');
          this.stepLocal({ type: 'ReportSnapshot', peer: message.to, ok: false });
        },
      );
  }

  /**
   * Takes a snapshot once enough entries were applied since the last one. The state
   * machine hands out an immutable view at once; serializing and writing it happen in
   * the background while applying goes on, yielding to the event loop between chunks.
   * Then the log is compacted, keeping a trailing window for slow followers.
   */
  private maybeStartSnapshot(): void {
    if (this.snapshotInProgress || this.stopped) return;
    if (this.appliedIndex - this.snapshotIndex < this.snapshotPolicy.entries) return;
    const term = this.core.termAt(this.appliedIndex);
    if (term === undefined) return;
    const meta: SnapshotMeta = { index: this.appliedIndex, term, config: this.core.clusterConfig() };
    const view = this.options.stateMachine.snapshot();
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      view.release();
    };
    this.snapshotInProgress = true;
    const started = this.now();
    const yieldBetween = async function* (this: RaftNode<Result>): AsyncGenerator<Uint8Array> {
      try {
        for (const chunk of view.chunks()) {
          yield chunk;
          await new Promise<void>((resolve) => this.schedule(resolve));
        }
      } finally {
        // Serialized: the state machine stops preserving this state now, not after
        // the file's fsync and rename. While a view lives, every write copies the
        // nodes on its path (see PersistentMap).
        release();
      }
    }.bind(this);
    this.snapshotQueue
      .run(() => this.options.snapshots.save(meta, yieldBetween()))
      .then(async ({ bytes }) => {
        release();
        if (this.stopped) return;
        this.snapshotIndex = Math.max(this.snapshotIndex, meta.index);
        this.log.info({ index: meta.index, term: meta.term, bytes, ms: Math.round(this.now() - started) }, 'snapshot taken');
        this.options.observer?.snapshotSaved(meta.index, bytes, (this.now() - started) / 1000, false);
        const base = this.core.snapshotSaved(meta, meta.index - this.snapshotPolicy.trailing);
        if (base !== undefined) {
          await this.storageQueue.run(() => this.options.storage.compact(base));
          this.log.info({ firstIndex: base.index + 1, index: meta.index }, 'log compacted');
        }
        this.snapshotInProgress = false;
        this.requestTurn();
      })
      .catch((err: unknown) => {
        release();
        this.fail(err as Error);
      });
  }

  /**
   * A change of the commit index alone is not a promise to anyone: a node that
   * loses it relearns it from the leader (hashicorp/raft never stores it). Writing
   * it would put a storage round trip between commit and apply on every write, so
   * it rides along with the next write that happens anyway; term and vote changes
   * are written (and fsynced) at once.
   */
  private hardStateToWrite(ready: Ready): HardState | undefined {
    if (ready.hardState !== undefined && ready.entries.length === 0 && !ready.mustSync) {
      this.deferredHardState = ready.hardState;
      return undefined;
    }
    const hardState = ready.hardState ?? (ready.entries.length > 0 ? this.deferredHardState : undefined);
    if (hardState !== undefined) this.deferredHardState = undefined;
    return hardState;
  }

  private applyReady(ready: Ready): void {
    this.apply(ready.committedEntries);
    if (ready.committedEntries.length > 0) this.options.observer?.applied(ready.committedEntries, this.appliedIndex);
    for (const read of ready.readStates) this.reads.confirmed(read.requestId, read.index, this.appliedIndex);
  }

  private apply(entries: readonly Entry[]): void {
    for (const entry of entries) {
      this.appliedIndex = entry.index;
      if (entry.kind === EntryKind.Command) {
        this.proposals.applied(entry.index, entry.term, this.options.stateMachine.apply(entry));
      } else if (entry.kind === EntryKind.ConfChange) {
        // The core applies the change itself when it is told this entry is applied.
        this.confChanges.applied(entry.index, entry.term, entry.index);
        this.proposals.replaced(entry.index, entry.term);
      } else {
        // A leader's no-op can only replace a proposal of an earlier term.
        this.proposals.replaced(entry.index, entry.term);
      }
    }
    if (entries.length > 0) this.reads.applied(this.appliedIndex);
  }

  private fail(err: Error): void {
    if (this.stopped) return;
    this.log.fatal({ err, status: this.core.status() }, 'node stopped: cannot continue safely');
    void this.stop({ transferLeadership: false }).catch(() => undefined);
    this.options.onFatal(err);
  }

  /** Makes the cluster's liveness watchable at info without logging every beat. */
  private logSummary(): void {
    const status = this.core.status();
    if (status.role === 'leader') {
      const fresh = (ticks: number): boolean => ticks <= this.options.config.electionTicks;
      const acked = status.peers.filter((p) => fresh(p.ticksSinceContact)).map((p) => p.id);
      const silent = status.peers.filter((p) => !fresh(p.ticksSinceContact)).map((p) => p.id);
      this.log.info({ term: status.term, acked, silent, commit: status.commit, lastIndex: status.lastIndex }, 'leading: followers acknowledging heartbeats');
    } else if (status.role === 'follower' && status.leader !== 0) {
      this.log.info(
        { term: status.term, leader: status.leader, ticksSinceLeader: status.electionElapsed, commit: status.commit, applied: this.appliedIndex },
        'following: hearing leader',
      );
    } else {
      this.log.info({ term: status.term, role: status.role }, 'no leader known');
    }
  }
}
