import type { CoreConfig } from '../../src/core/config.js';
import { DEFAULT_CORE_CONFIG } from '../../src/core/config.js';
import type { NodeLogger } from '../../src/core/logger.js';
import type { PeerMessage } from '../../src/core/messages.js';
import type { CoreStatus } from '../../src/core/raft-core.js';
import { SeededRandom } from '../../src/core/random.js';
import type { Entry, EntryId, HardState, NodeId } from '../../src/core/types.js';
import { DEFAULT_KV_LIMITS } from '../../src/kv/kv-command.js';
import { KvStateMachine } from '../../src/kv/kv-state-machine.js';
import type { StateMachine, StateMachineSnapshot } from '../../src/kv/state-machine.js';
import { ClientService } from '../../src/node/client-service.js';
import { NotLeaderError, TransferAbortedError, TransferRefusedError } from '../../src/node/pending-requests.js';
import { RaftNode } from '../../src/node/raft-node.js';
import type { Ticker } from '../../src/node/ticker.js';
import type { KvResult } from '../../src/protocol/client-messages.js';
import type { LogStorage } from '../../src/storage/log-storage.js';
import { openNodeStorage } from '../../src/node/node-storage.js';
import type { SnapshotStorage } from '../../src/node/snapshot-storage.js';
import type { SnapshotMeta } from '../../src/core/types.js';
import { createHash } from 'node:crypto';
import type { SnapshotEnvelope } from './sim-transport.js';
import { SimTransport } from './sim-transport.js';
import type { ConfChange } from '../../src/core/membership.js';
import { checkAcknowledgedWritesVisible, checkLinearizability } from '../../src/check/index.js';
import { SafetyChecker } from './checkers.js';
import type { SimHistoryEvent } from './sim-client.js';
import type { ClientEnvelope } from './sim-connection.js';
import { SimClient, SimHistory } from './sim-client.js';
import { SimDisk } from './sim-disk.js';
import { SimLogBuffer } from './sim-logger.js';
import { SimNetwork } from './sim-network.js';
import { SimWorld } from './sim-world.js';
import type { PartitionMode, PartitionPlan } from '../../src/chaos/partition-plan.js';
import { connectedTo, describeCuts, planPartition } from '../../src/chaos/partition-plan.js';
import type { SwarmOptions } from './swarm-options.js';
import { describeOptions, swarmOptions } from './swarm-options.js';

export interface SimulationSettings {
  /** Overrides of the seed's swarm options. */
  readonly options?: Partial<SwarmOptions>;
  /** Print every log line as it happens (replaying one seed). */
  readonly verbose?: boolean;
  readonly logLevel?: 'trace' | 'debug' | 'info';
  /** Core settings for deliberately broken builds in experiments (never in tests). */
  readonly core?: Partial<CoreConfig>;
}

export interface SimulationResult {
  readonly seed: number;
  readonly options: SwarmOptions;
  readonly ok: boolean;
  readonly failure: string | undefined;
  readonly traceHash: string;
  readonly events: number;
  readonly simulatedMs: number;
  readonly operations: { ok: number; fail: number; info: number };
  readonly committed: number;
  /** Snapshots saved (taken or installed), log compactions, and snapshots that
   * arrived whole at a follower. */
  readonly snapshots: { saved: number; compactions: number; received: number };
  /** Membership changes requested of the leader (applied or refused). */
  readonly membershipChanges: number;
  /** Leadership transfer requests the nemesis made, and how each ended. */
  readonly transfers: { requested: number; completed: number; refused: number; aborted: number };
  readonly logTail: readonly string[];
  readonly history: readonly SimHistoryEvent[];
}

/** Sim time allowed, after healing, for a leader to emerge and all work to finish. */
const LIVENESS_MS = 30_000;

/** A node process in the simulation: dies with `crash()`, comes back from its disk. */
class SimNode {
  running = false;
  private incarnation = 0;
  node: RaftNode<KvResult> | undefined;
  readonly disk: SimDisk;

  constructor(private readonly sim: Simulation, readonly id: NodeId) {
    this.disk = new SimDisk(sim.world, { latencyMsMin: sim.options.diskLatencyMsMin, latencyMsMax: sim.options.diskLatencyMsMax }, `n${id}`);
  }

  async start(): Promise<void> {
    this.incarnation += 1;
    const incarnation = this.incarnation;
    const alive = (): boolean => this.running && this.incarnation === incarnation;
    this.running = true;
    this.disk.alive = alive;
    const { world, network, checker } = this.sim;
    const logger = this.sim.logs.logger({ node: this.id });
    const kv = new KvStateMachine();
    // Founders bootstrap the cluster with a membership entry; spares start empty and
    // learn the configuration from the leader once they are added.
    const bootstrap = this.sim.founders.includes(this.id) ? { voters: this.sim.founders, learners: [] } : undefined;
    const storage = await openNodeStorage(this.disk, `/data/n${this.id}`, kv, logger, { bootstrap });
    if (!alive()) return;
    const { initial } = storage;
    checker.onRecovered(this.id, initial.base ?? { index: 0, term: 0 }, initial.entries, initial.applied);
    const transport = new SimTransport({
      world,
      network,
      id: this.id,
      alive,
      snapshotChunkBytes: this.sim.options.snapshotChunkBytes,
      snapshotTimeoutMs: 2_000,
      snapshotReplayRate: this.sim.options.snapshotReplayRate,
      onSnapshotReceived: () => (this.sim.snapshotsReceived += 1),
    });
    const node = new RaftNode<KvResult>({
      config: {
        ...DEFAULT_CORE_CONFIG,
        id: this.id,
        // The configuration comes from the log (the bootstrap entry) and snapshots.
        voters: [],
        electionTicks: this.sim.options.electionTicks,
        appendBytesMax: this.sim.options.appendBytesMax,
        inflightAppendsMax: this.sim.options.inflightAppendsMax,
        ...this.sim.settings.core,
      },
      initial,
      storage: new CheckedStorage(storage.wal, (entries) => checker.onDurable(this.id, entries), (base) => checker.onCompacted(this.id, base)),
      snapshots: new CheckedSnapshots(storage.snapshots, (meta, digest) => checker.onSnapshot(this.id, meta.index, digest)),
      snapshotPolicy: { entries: this.sim.options.snapshotEntries, trailing: this.sim.options.snapshotTrailing },
      transport,
      stateMachine: new CheckedStateMachine(kv, (entry) => checker.onApply(this.id, entry)),
      ticker: new SimTicker(world, this.sim.options.tickMs, alive, `n${this.id} tick`),
      random: new SeededRandom(world.random.nextUint32()),
      logger,
      schedule: (fn) => world.at(0, `n${this.id} turn`, fn, alive),
      summaryTicks: 1_000_000,
      onFatal: (err) => this.sim.fail(`node ${this.id} stopped: ${err.message}`),
      now: () => world.now(),
      onRemoved: () => this.sim.onRemoved(this.id),
    });
    const clients = new ClientService({ node, kv, limits: DEFAULT_KV_LIMITS, addresses: this.sim.addresses, logger });
    network.register(`n${this.id}`, (message) => {
      const envelope = message as ClientEnvelope | SnapshotEnvelope | PeerMessage;
      if ('kind' in envelope) {
        if (envelope.kind === 'snapshot-chunk' || envelope.kind === 'snapshot-ack') {
          transport.deliverSnapshotTraffic(envelope);
          return;
        }
        if (envelope.kind !== 'client-request') return;
        const from = envelope.from;
        clients.handle(envelope.request, (response) => {
          if (alive()) network.send(`n${this.id}`, from, { kind: 'client-response', response } satisfies ClientEnvelope, response.type);
        });
      } else {
        transport.deliver(envelope);
      }
    }, alive);
    this.node = node;
    node.start();
  }

  /** A graceful stop (SIGTERM): a leader hands over first; then the process is gone. */
  async shutdown(): Promise<void> {
    const node = this.node;
    if (node === undefined) return;
    await node.stop();
    if (this.node === node) this.crash();
  }

  crash(): void {
    this.running = false;
    this.node = undefined;
    this.disk.crash();
  }

  status(): CoreStatus | undefined {
    return this.running ? this.node?.status() : undefined;
  }
}

class SimTicker implements Ticker {
  private stopped = false;
  constructor(private readonly world: SimWorld, private readonly tickMs: number, private readonly alive: () => boolean, private readonly label: string) {}
  start(onTick: () => void): void {
    const loop = (): void => {
      if (this.stopped) return;
      onTick();
      this.world.at(this.tickMs, this.label, loop, this.alive);
    };
    // A random phase, so nodes do not tick in lockstep.
    this.world.at(this.world.between(1, this.tickMs), this.label, loop, this.alive);
  }
  stop(): void {
    this.stopped = true;
  }
}

/** Tells the checker what became durable, after it did. */
class CheckedStorage implements LogStorage {
  constructor(
    private readonly inner: LogStorage,
    private readonly onDurable: (entries: readonly Entry[]) => void,
    private readonly onCompacted: (base: EntryId) => void,
  ) {}
  async append(entries: readonly Entry[], hardState: HardState | undefined, sync: boolean): Promise<void> {
    await this.inner.append(entries, hardState, sync);
    if (entries.length > 0) this.onDurable(entries);
  }
  async compact(base: EntryId, hardState?: HardState): Promise<void> {
    await this.inner.compact(base, hardState);
    this.onCompacted(base);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Tells the checker the digest of every snapshot saved, taken here or received. */
class CheckedSnapshots implements SnapshotStorage {
  constructor(private readonly inner: SnapshotStorage, private readonly onSaved: (meta: SnapshotMeta, digest: string) => void) {}
  async save(meta: SnapshotMeta, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<{ bytes: number }> {
    const hash = createHash('sha256');
    async function* tee(): AsyncGenerator<Uint8Array> {
      for await (const chunk of chunks) {
        hash.update(chunk);
        yield chunk;
      }
    }
    const saved = await this.inner.save(meta, tee());
    this.onSaved(meta, hash.digest('hex'));
    return saved;
  }
  read(meta: SnapshotMeta): Promise<Uint8Array> {
    return this.inner.read(meta);
  }
}

class CheckedStateMachine implements StateMachine<KvResult> {
  constructor(private readonly inner: KvStateMachine, private readonly onApply: (entry: Entry) => void) {}
  apply(entry: Entry): KvResult {
    this.onApply(entry);
    return this.inner.apply(entry);
  }
  snapshot(): StateMachineSnapshot {
    return this.inner.snapshot();
  }
  restore(data: Uint8Array): void {
    this.inner.restore(data);
  }
}

/** One seeded run: the world, the nodes, the clients, the nemesis and the checkers. */
class Simulation {
  readonly world: SimWorld;
  readonly network: SimNetwork;
  readonly checker = new SafetyChecker();
  readonly history: SimHistory;
  readonly logs: SimLogBuffer;
  /** Every node, founders and spares. */
  readonly ids: NodeId[];
  /** The bootstrap voters. */
  readonly founders: NodeId[];
  /** Nodes that applied their own removal: stopped for good. */
  readonly removed = new Set<NodeId>();
  /** Spares ever proposed for addition (an id is never reused after removal). */
  private readonly added = new Set<NodeId>();
  membershipChanges = 0;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly addresses: Map<NodeId, string>;
  private failure: string | undefined;
  private nemesisRunning = true;
  /** The highest term a leader was seen in (burst seeds aim at new leaders). */
  private highestLeaderTerm = 0;
  snapshotsReceived = 0;
  /** Leadership transfer requests come from their own stream, so adding them left
   * every other fault of a seed where it was until the first transfer. */
  private readonly transferRandom: SeededRandom;
  /** Chance per nemesis step of a TransferLeader request to a leader (0 for a third
   * of the seeds). */
  private readonly transferRate: number;
  transfers = { requested: 0, completed: 0, refused: 0, aborted: 0 };

  constructor(readonly seed: number, readonly options: SwarmOptions, readonly settings: SimulationSettings) {
    this.world = new SimWorld(seed);
    this.network = new SimNetwork(this.world, options);
    this.history = new SimHistory(this.world);
    this.logs = new SimLogBuffer(this.world, 200, settings.logLevel ?? (settings.verbose === true ? 'debug' : 'info'), settings.verbose === true);
    this.founders = Array.from({ length: options.nodes }, (_, i) => i + 1);
    this.ids = Array.from({ length: options.nodes + options.spareNodes }, (_, i) => i + 1);
    // host:port like a real cluster's, for the real client; the client's simulated
    // connections map them to node endpoints.
    this.addresses = new Map(this.ids.map((id) => [id, `n${id}:7000`]));
    for (const id of this.ids) this.nodes.set(id, new SimNode(this, id));
    this.transferRandom = new SeededRandom(seed ^ 0x7a2f_11e5);
    this.transferRate = this.transferRandom.nextFloat() < 1 / 3 ? 0 : this.transferRandom.nextFloat() * 0.3;
  }

  fail(reason: string): void {
    this.failure ??= reason;
  }

  failed(): boolean {
    return this.failure !== undefined;
  }

  log(): NodeLogger {
    return this.logs.logger({ node: 'sim', component: 'nemesis' });
  }

  private check(): void {
    const statuses: CoreStatus[] = [];
    for (const node of this.nodes.values()) {
      const status = node.status();
      if (status !== undefined) statuses.push(status);
    }
    this.checker.afterEvent(statuses);
    this.onStatuses(statuses);
  }

  /** Runs the world until `until`, checking safety after every event. */
  private async run(until: number, done: () => boolean = () => false): Promise<boolean> {
    let finished = false;
    await this.world.runUntil(until, () => {
      this.check();
      if (this.failed()) return true;
      finished = done();
      return finished;
    });
    return finished;
  }

  async execute(): Promise<void> {
    let started = 0;
    for (const node of this.nodes.values()) void node.start().then(() => (started += 1));
    await this.run(this.world.now() + 10_000, () => started === this.nodes.size);
    if (this.failed()) return;
    if (started !== this.nodes.size) {
      this.fail('nodes did not start within 10 s of simulated time');
      return;
    }

    const clients = Array.from({ length: this.options.clients }, (_, i) => new SimClient(this.world, this.network, `c${i + 1}`, this.history, {
      addresses: this.addresses,
      keys: Array.from({ length: this.options.keys }, (_, k) => `k${k}`),
      attemptTimeoutMs: 400,
      deadlineMs: 3_000,
      thinkMsMax: 50,
      onUnexpected: (reason) => this.fail(reason),
    }));
    for (const client of clients) void client.runWorkload();
    this.scheduleNemesis();
    await this.run(this.world.now() + this.options.faultMs);
    if (this.failed()) return;

    // Heal: stop faults, reconnect everything, restart every crashed node.
    this.nemesisRunning = false;
    for (const client of clients) client.stopping = true;
    this.network.heal();
    this.network.setOptions({ ...this.options, lossRate: 0, duplicateRate: 0 });
    for (const node of this.nodes.values()) if (!node.running && !this.removed.has(node.id)) void node.start();
    this.log().info({}, 'healed: faults stopped, all nodes restarting');
    const settled = await this.run(this.world.now() + LIVENESS_MS, () => this.agreedLeader() !== undefined && clients.every((c) => c.finished));
    if (this.failed()) return;
    if (!settled) {
      this.fail(`liveness: no agreed leader with all client work finished within ${LIVENESS_MS} ms after healing`);
      return;
    }
    await this.finalReads();
  }

  /** Reads every key once more after healing: the values the history must end with. */
  private async finalReads(): Promise<void> {
    const reader = new SimClient(this.world, this.network, 'final', this.history, {
      addresses: this.addresses, keys: [], attemptTimeoutMs: 400, deadlineMs: LIVENESS_MS, thinkMsMax: 0, onUnexpected: (reason) => this.fail(reason),
    });
    const finalValues = new Map<string, string | null>();
    for (let k = 0; k < this.options.keys; k += 1) {
      const key = `k${k}`;
      const outcome = reader.perform({ op: 'get', key });
      await this.run(this.world.now() + LIVENESS_MS, () => !reader.busy);
      const type = await outcome;
      if (this.failed()) return;
      if (type !== 'ok') {
        this.fail(`liveness: the final read of ${key} did not complete (${type})`);
        return;
      }
      const last = this.history.events[this.history.events.length - 1]!;
      finalValues.set(key, last.value ?? null);
    }
    // Bounded: a search that cannot finish proves nothing, and fails the seed.
    const linearizable = checkLinearizability(this.history.events, { timeoutMs: 30_000 });
    if (linearizable.valid !== true) {
      this.fail(`linearizability: ${linearizable.reason} (key ${linearizable.key})`);
      return;
    }
    const lost = checkAcknowledgedWritesVisible(this.history.events, finalValues);
    if (lost.length > 0) this.fail(`acknowledged writes lost: ${lost.join('; ')}`);
  }

  /** One leader that every member of its configuration (all running) follows. */
  private agreedLeader(): NodeId | undefined {
    const leaders = [...this.nodes.values()].map((n) => n.status()).filter((s) => s !== undefined && s.role === 'leader');
    if (leaders.length !== 1) return undefined;
    const leader = leaders[0]!;
    for (const id of [...leader.voters, ...leader.learners]) {
      const status = this.nodes.get(id)?.status();
      if (status === undefined || status.leader !== leader.id || status.term !== leader.term) return undefined;
    }
    return leader.id;
  }

  /** A node applied its own removal: it stops, for good. */
  onRemoved(id: NodeId): void {
    this.removed.add(id);
    this.log().warn({ node: id }, 'removed from the cluster; stopping it');
    const node = this.nodes.get(id)!;
    // It lingers a little, as raft-node does before it exits: a member that has not
    // applied the removal yet may still need its vote or its acknowledgement.
    this.world.at(2_000, `n${id} removed`, () => node.crash());
  }

  /** The node that believes it leads, if one does. */
  private leaderNode(): SimNode | undefined {
    return [...this.nodes.values()].find((n) => n.node !== undefined && n.running && n.node.status().role === 'leader');
  }

  /** Asks the leader for one random membership change; refusals are fine. */
  private changeMembership(): void {
    const leader = this.leaderNode();
    if (leader !== undefined) this.requestChange(leader);
  }

  /** Picks a change against `target`'s configuration now and asks it, if it still leads. */
  private requestChange(target: SimNode): void {
    const { world } = this;
    const leader = target.node;
    if (leader === undefined || !target.running || leader.status().role !== 'leader') return;
    const config = leader.membership();
    const members = [...config.voters, ...config.learners];
    const spares = this.ids.filter((id) => !members.includes(id) && !this.added.has(id) && !this.founders.includes(id));
    // Learner-heavy seeds mostly keep their learners as learners.
    const keepLearners = this.options.learnerHeavy && world.chance(0.85);
    const options: ConfChange[] = [];
    for (const id of spares) {
      options.push({ op: 'add-learner', id, address: `n${id}:7000` });
      if (!keepLearners) options.push({ op: 'add-voter', id, address: `n${id}:7000` });
    }
    if (!keepLearners) for (const id of config.learners) options.push({ op: 'promote', id });
    for (const id of members) options.push({ op: 'remove', id });
    if (options.length === 0) return;
    const change = options[world.random.nextInt(options.length)]!;
    if (change.op === 'add-learner' || change.op === 'add-voter') this.added.add(change.id);
    this.membershipChanges += 1;
    this.log().warn({ change, leader: target.id }, 'membership change requested');
    leader.changeMembership(change).then(
      (index) => this.log().warn({ change, index }, 'membership change applied'),
      (err: Error) => this.log().warn({ change, err: err.message }, 'membership change refused'),
    );
  }

  /**
   * Two to four changes a few ms apart at one leader, as an operator script (or two
   * operators) would send them; half the time the leader is then cut off with a
   * minority of its voters a little later, while the changes may still be in flight.
   */
  private membershipBurst(target: SimNode): void {
    const { world } = this;
    const count = 2 + world.random.nextInt(3);
    this.log().warn({ leader: target.id, count }, 'membership burst');
    let at = 0;
    for (let i = 0; i < count; i += 1) {
      world.at(at, 'membership burst', () => {
        if (this.nemesisRunning) this.requestChange(target);
      });
      at += world.between(0, 5);
    }
    if (world.chance(0.5)) {
      world.at(world.between(1, 80), 'partition after burst', () => {
        if (this.nemesisRunning && target.running) this.isolateWithMinority([target.id], 'leader with a minority');
      });
    }
  }

  /** Voters of the current leader's configuration (or the founders when none leads). */
  private currentVoters(): readonly NodeId[] {
    return this.leaderNode()?.node?.membership().voters ?? this.founders;
  }

  /**
   * Cuts `core` and fewer than half of the other voters (at random) off from the
   * rest; nodes that are not voters land on either side. Clients are placed on a
   * random side each.
   */
  private isolateWithMinority(core: readonly NodeId[], label: string): void {
    const { world } = this;
    const voters = this.currentVoters();
    const others = voters.filter((id) => !core.includes(id));
    const room = Math.max(0, Math.floor(voters.length / 2) - core.filter((id) => voters.includes(id)).length);
    const side = new Set(core);
    for (const id of shuffled(others, world.random).slice(0, world.random.nextInt(room + 1))) side.add(id);
    for (const id of this.ids) if (!voters.includes(id) && !core.includes(id) && world.chance(0.5)) side.add(id);
    this.cutSides([...side].sort((a, b) => a - b), label);
  }

  /** Cuts every link between `side` and the other nodes, both ways; places the clients. */
  private cutSides(side: readonly NodeId[], label: string): void {
    const { world, network, ids } = this;
    network.heal();
    const rest = ids.filter((id) => !side.includes(id));
    for (const a of side) for (const b of rest) network.cutBoth(`n${a}`, `n${b}`);
    for (let c = 1; c <= this.options.clients; c += 1) {
      const reach = world.chance(0.5) ? side : rest;
      for (const id of ids) if (!reach.includes(id)) network.cutBoth(`c${c}`, `n${id}`);
    }
    this.log().warn({ side, rest }, `partition: ${label}`);
  }

  /** Learner-heavy seeds: the leader with all its learners, or the learners apart
   * (lagging), each with fewer than half of the other voters. */
  private learnerPartition(): void {
    const leader = this.leaderNode();
    const learners = leader?.node?.membership().learners ?? [];
    if (leader === undefined || learners.length === 0) return;
    if (this.world.chance(0.5)) this.isolateWithMinority([leader.id, ...learners], 'leader with its learners');
    else this.isolateWithMinority(learners, 'learners apart');
  }

  /** Burst seeds: a newly elected leader is sometimes asked for changes at once. */
  private onStatuses(statuses: readonly CoreStatus[]): void {
    if (!this.options.membershipBursts || !this.nemesisRunning) return;
    for (const status of statuses) {
      if (status.role !== 'leader' || status.term <= this.highestLeaderTerm) continue;
      this.highestLeaderTerm = status.term;
      const target = this.nodes.get(status.id);
      if (target !== undefined && this.world.chance(0.3)) this.world.at(this.world.between(0, 3), 'burst at a new leader', () => this.membershipBurst(target));
    }
  }

  private scheduleNemesis(): void {
    const step = (): void => {
      if (!this.nemesisRunning) return;
      this.nemesisStep();
      this.world.at(this.world.between(this.options.nemesisIntervalMsMin, this.options.nemesisIntervalMsMax), 'nemesis', step);
    };
    this.world.at(this.world.between(this.options.nemesisIntervalMsMin, this.options.nemesisIntervalMsMax), 'nemesis', step);
  }

  private nemesisStep(): void {
    const { world } = this;
    if (world.chance(this.options.membershipRate)) {
      const leader = this.options.membershipBursts && world.chance(0.5) ? this.leaderNode() : undefined;
      if (leader !== undefined) this.membershipBurst(leader);
      else this.changeMembership();
    }
    if (world.chance(this.options.crashRate)) {
      const running = [...this.nodes.values()].filter((n) => n.running);
      if (running.length > 0) {
        const victim = running[world.random.nextInt(running.length)]!;
        const graceful = this.transferRate > 0 && this.transferRandom.nextFloat() < 0.5;
        const restartLater = (): void => {
          world.at(world.between(10, this.options.restartDelayMsMax), `restart n${victim.id}`, () => {
            if (this.nemesisRunning && !victim.running && !this.removed.has(victim.id)) {
              this.log().warn({ node: victim.id }, 'restart');
              void victim.start();
            }
          });
        };
        if (graceful) {
          this.log().warn({ victim: victim.id }, 'graceful stop');
          victim.shutdown().then(
            () => {
              // Healing restarts only nodes already down when it began.
              if (!victim.running && !this.nemesisRunning && !this.removed.has(victim.id)) void victim.start();
              else restartLater();
            },
            (err: unknown) => this.fail(`graceful stop of ${victim.id} failed: ${(err as Error).message}`),
          );
        } else {
          victim.crash();
          this.log().warn({ victim: victim.id }, 'crash');
          restartLater();
        }
      }
    }
    if (this.transferRate > 0 && this.transferRandom.nextFloat() < this.transferRate) this.requestTransfer();
    if (this.options.learnerHeavy && world.chance(0.25)) {
      this.learnerPartition();
    } else if (world.chance(this.options.partitionRate)) {
      this.network.heal();
      const mode = this.options.partitionModes[world.random.nextInt(this.options.partitionModes.length)]!;
      this.partition(mode);
    } else if (this.network.cutLinks() > 0 && world.chance(0.3)) {
      this.network.heal();
      this.log().warn({}, 'partition healed');
    }
  }

  /**
   * Asks a node that believes it leads to hand over: to the most caught-up voter (0),
   * a random member (itself included) or an id that is no member. Only the documented
   * outcomes may come back; a successor it names must be another member.
   */
  private requestTransfer(): void {
    const leaders = [...this.nodes.values()].filter((n) => n.running && n.status()?.role === 'leader');
    if (leaders.length === 0) return;
    const random = this.transferRandom;
    const from = leaders[random.nextInt(leaders.length)]!;
    const choice = random.nextInt(this.ids.length + 2);
    const target = choice === 0 ? 0 : choice <= this.ids.length ? this.ids[choice - 1]! : 40 + random.nextInt(10);
    const node = from.node;
    if (node === undefined) return;
    this.transfers.requested += 1;
    this.log().warn({ from: from.id, target }, 'transfer leadership');
    node.transferLeadership(target).then(
      (leader) => {
        this.transfers.completed += 1;
        if (!this.ids.includes(leader) || leader === from.id) this.fail(`transfer from ${from.id} to ${target} reported successor ${leader}`);
        else this.log().warn({ from: from.id, target, leader }, 'transfer completed');
      },
      (err: unknown) => {
        if (err instanceof TransferRefusedError || err instanceof NotLeaderError) this.transfers.refused += 1;
        else if (err instanceof TransferAbortedError) this.transfers.aborted += 1;
        else this.fail(`transfer from ${from.id} to ${target} failed unexpectedly: ${(err as Error).message}`);
        // A voter of the leader's configuration must never be refused (learners and
        // non-members must be).
        const voters = node.membership().voters;
        if (err instanceof TransferRefusedError && target !== 0 && voters.includes(target) && target !== from.id && err.reason !== 'no-transfer-target') {
          this.fail(`transfer from ${from.id} to voter ${target} refused: ${err.message}`);
        }
        this.log().warn({ from: from.id, target, code: (err as { code?: string }).code, reason: (err as { reason?: string }).reason }, 'transfer not done');
      },
    );
  }

  /** Cuts what the shared planner says, then places each client next to a random
   * node: it reaches only the nodes that node reaches both ways. */
  private partition(mode: PartitionMode): void {
    const { world, network, ids } = this;
    const plan = planPartition(mode, ids, world.random);
    for (const { from, to } of plan.cuts) network.cut(`n${from}`, `n${to}`);
    if (mode !== 'one-way') {
      for (let c = 1; c <= this.options.clients; c += 1) {
        const anchor = ids[world.random.nextInt(ids.length)]!;
        const reach = new Set(connectedTo(plan.cuts, ids, anchor));
        for (const id of ids) if (!reach.has(id)) network.cutBoth(`c${c}`, `n${id}`);
      }
    }
    this.log().warn({ ...layout(plan), cuts: describeCuts(plan.cuts) }, `partition: ${mode}`);
  }

  result(): SimulationResult {
    const counts = { ok: 0, fail: 0, info: 0 };
    for (const event of this.history.events) if (event.type !== 'invoke') counts[event.type] += 1;
    return {
      seed: this.seed,
      options: this.options,
      ok: this.failure === undefined,
      failure: this.failure,
      traceHash: this.world.traceHash(),
      events: this.world.eventsRun,
      simulatedMs: this.world.now(),
      operations: counts,
      committed: this.checker.committedCount(),
      snapshots: { saved: this.checker.snapshotsChecked, compactions: this.checker.compactions, received: this.snapshotsReceived },
      membershipChanges: this.membershipChanges,
      transfers: { ...this.transfers },
      logTail: this.logs.tail(),
      history: this.history.events,
    };
  }
}

/** `items` in a random order (Fisher–Yates). */
function shuffled<T>(items: readonly T[], random: SeededRandom): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = random.nextInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The layout of a plan, for the nemesis log line. */
function layout(plan: PartitionPlan): Record<string, unknown> {
  switch (plan.mode) {
    case 'isolate-one':
      return { victim: plan.victim };
    case 'random-halves':
      return { sides: plan.sides };
    case 'one-way':
      return { victim: plan.victim, direction: plan.direction, peers: plan.peers };
    case 'majority-ring':
      return { ring: plan.ring };
  }
}

/** Runs one seed to completion and reports what happened. Never throws for a
 * failure of the system under test: that is the result. */
export async function runSimulation(seed: number, settings: SimulationSettings = {}): Promise<SimulationResult> {
  const options = { ...swarmOptions(seed), ...settings.options };
  const simulation = new Simulation(seed, options, settings);
  try {
    await simulation.execute();
  } catch (err) {
    simulation.fail(`${(err as Error).name}: ${(err as Error).message}`);
  }
  return simulation.result();
}

export function formatSeed(seed: number): string {
  return `0x${(seed >>> 0).toString(16)}`;
}

/** What a failing seed prints: the seed, its options, the log tail, the replay command. */
export function reportFailure(result: SimulationResult): string {
  return [
    `FAILED seed=${formatSeed(result.seed)}: ${result.failure}`,
    `options=${describeOptions(result.options)}`,
    `--- last ${result.logTail.length} simulated log lines ---`,
    ...result.logTail,
    `--- replay: npm run sim -- --seed ${formatSeed(result.seed)} ---`,
  ].join('\n');
}

