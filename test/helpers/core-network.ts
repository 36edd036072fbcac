import type { CoreConfig } from '../../src/core/config.js';
import { DEFAULT_CORE_CONFIG } from '../../src/core/config.js';
import type { CoreLogger } from '../../src/core/logger.js';
import { silentLogger } from '../../src/core/logger.js';
import type { PeerMessage } from '../../src/core/messages.js';
import { RaftCore } from '../../src/core/raft-core.js';
import { SeededRandom } from '../../src/core/random.js';
import type { ReadState } from '../../src/core/ready.js';
import type { Entry, EntryId, HardState, Index, NodeId, SnapshotMeta } from '../../src/core/types.js';
import { EMPTY_HARD_STATE, EntryKind } from '../../src/core/types.js';
import { encodeConfChange } from '../../src/core/membership.js';

/** What a node has made durable: survives restart() in these tests. */
export interface Durable {
  hardState: HardState;
  /** The log after `base` (0/0 unless compacted or replaced by a snapshot). */
  entries: Entry[];
  base?: EntryId;
  snapshot?: SnapshotMeta;
}

/**
 * A synchronous in-process cluster of RaftCores for protocol tests (etcd raft_test.go
 * `network`): Ready handling persists to an in-memory "disk", queues messages, and
 * `stabilize()` delivers until nothing moves. Links can be cut or nodes isolated.
 */
export class CoreNetwork {
  readonly cores = new Map<NodeId, RaftCore>();
  readonly disks = new Map<NodeId, Durable>();
  /** Committed entries each node applied, in order. */
  readonly applied = new Map<NodeId, Entry[]>();
  /** ReadIndex confirmations each node released, in order. */
  readonly reads = new Map<NodeId, ReadState[]>();
  private queue: PeerMessage[] = [];
  private readonly cut = new Set<string>();
  private readonly down = new Set<NodeId>();
  private interceptor: ((message: PeerMessage) => PeerMessage | undefined) | undefined;
  /** Every message that was delivered, for assertions. */
  readonly delivered: PeerMessage[] = [];
  /** The "state machine" a snapshot stands for: the entries applied up to it, by
   * `index/term` (a snapshot of the same point is the same everywhere). */
  private readonly snapshotStates = new Map<string, Entry[]>();
  private readonly bootstrap: readonly NodeId[];
  /** When false, InstallSnapshot deliveries are reported as failed to the sender. */
  snapshotTransfersSucceed = true;
  /** When true, InstallSnapshot messages are kept in `heldSnapshots` instead of being
   * delivered: a transfer still in progress. */
  holdSnapshots = false;
  readonly heldSnapshots: PeerMessage[] = [];

  constructor(
    readonly ids: readonly NodeId[],
    private readonly overrides: Partial<CoreConfig> = {},
    private readonly seed = 1,
    private readonly loggerFor: (id: NodeId) => CoreLogger = () => silentLogger,
    /** The founding voters (default: every id, with no bootstrap entry). When given,
     * the founders' logs start with the bootstrap membership entry, as createNode
     * writes it, and the others start knowing no configuration, as a node that joins. */
    bootstrap?: readonly NodeId[],
  ) {
    this.bootstrap = bootstrap ?? ids;
    for (const id of ids) {
      const founder = bootstrap !== undefined && bootstrap.includes(id);
      const entry = { index: 1, term: 1, kind: EntryKind.ConfChange, data: encodeConfChange({ op: 'bootstrap', config: { voters: bootstrap ?? [], learners: [] } }) };
      this.disks.set(id, founder ? { hardState: { term: 1, vote: 0, commit: 1 }, entries: [entry] } : { hardState: EMPTY_HARD_STATE, entries: [] });
      this.start(id);
    }
  }

  config(id: NodeId): CoreConfig {
    return { ...DEFAULT_CORE_CONFIG, id, voters: this.bootstrap.includes(id) ? this.bootstrap : [], ...this.overrides };
  }

  private start(id: NodeId): void {
    const disk = this.disks.get(id)!;
    this.applied.set(id, disk.snapshot === undefined ? [] : [...this.snapshotState(disk.snapshot)]);
    this.reads.set(id, []);
    this.cores.set(
      id,
      new RaftCore({
        config: this.config(id),
        initial: {
          hardState: disk.hardState,
          base: disk.base,
          entries: [...disk.entries],
          snapshot: disk.snapshot,
          applied: disk.snapshot?.index ?? 0,
        },
        random: new SeededRandom(this.seed * 1000 + id),
        logger: this.loggerFor(id),
      }),
    );
  }

  core(id: NodeId): RaftCore {
    return this.cores.get(id)!;
  }

  /** Simulates a crash and restart: only what was persisted survives. */
  restart(id: NodeId): void {
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
    this.start(id);
  }

  /** Replaces node `id`'s durable state and restarts it from there. */
  load(id: NodeId, durable: Durable): void {
    this.disks.set(id, { hardState: durable.hardState, entries: [...durable.entries] });
    this.restart(id);
  }

  /** Drops every message for which `predicate` is true (until cleared with undefined). */
  dropIf(predicate: ((message: PeerMessage) => boolean) | undefined): void {
    this.interceptor = predicate === undefined ? undefined : (m) => (predicate(m) ? undefined : m);
  }

  /** Replaces each message by what `rewrite` returns (undefined drops it). */
  intercept(rewrite: ((message: PeerMessage) => PeerMessage | undefined) | undefined): void {
    this.interceptor = rewrite;
  }

  /** Drops traffic between a and b in both directions. */
  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}-${b}`);
    this.cut.add(`${b}-${a}`);
  }

  isolate(id: NodeId): void {
    for (const other of this.ids) if (other !== id) this.cutLink(id, other);
  }

  heal(): void {
    this.cut.clear();
    this.down.clear();
  }

  /** Handles every pending Ready: persist, queue messages, record applied entries. */
  processReadies(): boolean {
    let any = false;
    for (const id of this.ids) {
      const core = this.core(id);
      while (core.hasReady()) {
        any = true;
        const ready = core.ready();
        const disk = this.disks.get(id)!;
        if (ready.snapshot !== undefined) {
          // The core installs only a snapshot that conflicts with its log: the whole
          // log goes (Figure 13), and the state machine becomes the snapshot's.
          disk.snapshot = ready.snapshot;
          disk.base = { index: ready.snapshot.index, term: ready.snapshot.term };
          disk.entries = [];
          this.applied.set(id, [...this.snapshotState(ready.snapshot)]);
        }
        for (const entry of ready.entries) {
          disk.entries.length = entry.index - 1 - (disk.base?.index ?? 0);
          disk.entries.push(entry);
        }
        if (ready.hardState !== undefined) disk.hardState = ready.hardState;
        this.queue.push(...ready.messages);
        this.applied.get(id)!.push(...ready.committedEntries);
        this.reads.get(id)!.push(...ready.readStates);
        core.advance();
      }
    }
    return any;
  }

  /** Delivers queued messages (and the ones they cause) until nothing moves. */
  stabilize(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round += 1) {
      const moved = this.processReadies();
      if (this.queue.length === 0 && !moved) return;
      const batch = this.queue;
      this.queue = [];
      for (const message of batch) this.deliver(message);
    }
    throw new Error('network did not stabilize');
  }

  deliver(original: PeerMessage): void {
    const lost = (): void => {
      // The driver reports a snapshot stream that failed (etcd ReportSnapshot).
      if (original.type === 'InstallSnapshot') this.core(original.from).step({ type: 'ReportSnapshot', peer: original.to, ok: false });
    };
    if (this.cut.has(`${original.from}-${original.to}`)) return lost();
    const message = this.interceptor === undefined ? original : this.interceptor(original);
    if (message === undefined) return lost();
    if (message.type === 'InstallSnapshot' && !this.snapshotTransfersSucceed) return lost();
    if (message.type === 'InstallSnapshot' && this.holdSnapshots) {
      this.heldSnapshots.push(message);
      return;
    }
    this.delivered.push(message);
    this.core(message.to).step(message);
    if (message.type === 'InstallSnapshot') this.core(message.from).step({ type: 'ReportSnapshot', peer: message.to, ok: true });
  }

  /**
   * What the driver does after saving a snapshot of node `id` at its applied index:
   * the core may compact its log up to `trailing` entries behind it, and the disk
   * follows. Returns the snapshot.
   */
  takeSnapshot(id: NodeId, trailing = 0): SnapshotMeta {
    const core = this.core(id);
    const applied = this.applied.get(id)!;
    const index = core.status().applied;
    const term = core.termAt(index)!;
    const snapshot: SnapshotMeta = { index, term, config: core.clusterConfig() };
    this.snapshotStates.set(`${index}/${term}`, applied.slice(0, index));
    const base = core.snapshotSaved(snapshot, index - trailing);
    const disk = this.disks.get(id)!;
    disk.snapshot = snapshot;
    if (base !== undefined) {
      disk.entries = disk.entries.filter((e) => e.index > base.index);
      disk.base = base;
    }
    return snapshot;
  }

  private snapshotState(snapshot: SnapshotMeta): readonly Entry[] {
    const state = this.snapshotStates.get(`${snapshot.index}/${snapshot.term}`);
    if (state === undefined) throw new Error(`no state recorded for snapshot ${snapshot.index}/${snapshot.term}`);
    return state;
  }

  /** The commands node `id` has applied, as text, in order (its state machine). */
  stateOf(id: NodeId): string[] {
    return this.applied.get(id)!.filter((e) => e.kind === EntryKind.Command).map((e) => new TextDecoder().decode(e.data));
  }

  /** The first index node `id` still holds in memory. */
  firstIndex(id: NodeId): Index {
    return this.core(id).status().firstIndex;
  }

  /** Delivers what is queued now, without handling the Readies it causes. */
  deliverAll(): void {
    const batch = this.queue;
    this.queue = [];
    for (const message of batch) this.deliver(message);
  }

  /** Messages produced so far and not yet delivered (handles Readies first). */
  takeMessages(): PeerMessage[] {
    this.processReadies();
    const out = this.queue;
    this.queue = [];
    return out;
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i += 1) this.core(id).tick();
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i += 1) {
      for (const id of this.ids) this.core(id).tick();
      this.stabilize();
    }
  }

  /** Makes `id` campaign at once (a local Campaign input) and settles the result. */
  elect(id: NodeId): void {
    // Apply what is committed first (a bootstrap membership entry, say): a node does
    // not campaign while committed membership changes wait to be applied.
    this.processReadies();
    this.core(id).step({ type: 'Campaign' });
    this.stabilize();
  }

  leaders(): NodeId[] {
    return this.ids.filter((id) => this.core(id).status().role === 'leader');
  }
}

/** A CoreLogger that keeps every line, for tests of what the core reports. */
export class RecordingLogger implements CoreLogger {
  readonly lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  private record(level: string, fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level, message, fields });
  }
  trace(fields: Record<string, unknown>, message: string): void {
    this.record('trace', fields, message);
  }
  debug(fields: Record<string, unknown>, message: string): void {
    this.record('debug', fields, message);
  }
  info(fields: Record<string, unknown>, message: string): void {
    this.record('info', fields, message);
  }
  warn(fields: Record<string, unknown>, message: string): void {
    this.record('warn', fields, message);
  }
  error(fields: Record<string, unknown>, message: string): void {
    this.record('error', fields, message);
  }
  isLevelEnabled(): boolean {
    return false;
  }
  messages(level: string): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.message);
  }
}
