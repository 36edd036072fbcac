import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PeerMessage } from '../core/messages.js';
import type { CoreStatus } from '../core/raft-core.js';
import type { Ready } from '../core/ready.js';
import type { Entry, Index, NodeId } from '../core/types.js';
import type { NodeObserver } from './node-observer.js';

const PREFIX = 'raftts_';

/** Latency buckets from 100 µs to ~8 s (etcd's fsync buckets are 1 ms .. 8 s). */
const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192];

interface PeerCounts {
  sentBytes: number;
  receivedBytes: number;
  /** performance.now() of the heartbeat awaiting an answer, or -1. */
  heartbeatSentAt: number;
}

export interface NodeMetricsOptions {
  /** Include prom-client's process and event-loop metrics. Default true. */
  readonly defaultMetrics?: boolean;
}

/**
 * The node's Prometheus metrics, with etcd's names under a `raftts_` prefix. The hot
 * path only adds to plain numbers; gauges and counters are brought up to date when
 * Prometheus scrapes (collect), so metrics cost nothing between scrapes.
 */
export class NodeMetrics implements NodeObserver {
  readonly registry = new Registry();
  readonly #peers = new Map<NodeId, PeerCounts>();
  #status: (() => CoreStatus) | undefined;
  #leader: NodeId = 0;
  #leaderChanges = 0;
  #pending = 0;
  #failed = 0;
  #applied: Index = 0;
  readonly #fsync: Histogram;
  readonly #snapshotSave: Histogram;
  readonly #snapshotsInstalled: Counter;
  readonly #roundTrip: Histogram<'peer'>;

  constructor(options: NodeMetricsOptions = {}) {
    const registers = [this.registry];
    const status = (): CoreStatus | undefined => this.#status?.();
    new Gauge({ name: `${PREFIX}has_leader`, help: 'Whether a leader is known (1) or not (0).', registers, collect() { this.set(status()?.leader ? 1 : 0); } });
    new Gauge({ name: `${PREFIX}is_leader`, help: 'Whether this node is the leader.', registers, collect() { this.set(status()?.role === 'leader' ? 1 : 0); } });
    new Gauge({ name: `${PREFIX}term`, help: 'The current term.', registers, collect() { this.set(status()?.term ?? 0); } });
    new Gauge({ name: `${PREFIX}commit_index`, help: 'The highest log index known committed.', registers, collect() { this.set(status()?.commit ?? 0); } });
    new Gauge({ name: `${PREFIX}applied_index`, help: 'The highest log index applied to the state machine.', registers, collect() { this.set(status()?.applied ?? 0); } });
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- collect() gets the metric as `this`.
    const self = this;
    new Gauge({ name: `${PREFIX}proposals_pending`, help: 'Proposals accepted here and not yet applied or failed.', registers, collect() { this.set(self.#pending); } });
    const synced = (name: string, help: string, read: () => number): void => {
      let reported = 0;
      new Counter({
        name, help, registers,
        collect() {
          const value = read();
          if (value > reported) this.inc(value - reported);
          reported = Math.max(reported, value);
        },
      });
    };
    synced(`${PREFIX}leader_changes_seen_total`, 'Leader changes seen by this node.', () => self.#leaderChanges);
    // etcd counts these as indexes: commits and applies of every entry, here since start.
    synced(`${PREFIX}proposals_committed_total`, 'Log entries committed (the commit index reached).', () => status()?.commit ?? 0);
    synced(`${PREFIX}proposals_applied_total`, 'Log entries applied (the applied index reached).', () => self.#applied);
    synced(`${PREFIX}proposals_failed_total`, 'Proposals refused (not the leader) or failed (leadership lost, shutdown).', () => self.#failed);
    const peerBytes = (name: string, help: string, pick: (c: PeerCounts) => number): void => {
      const reported = new Map<NodeId, number>();
      new Counter({
        name, help, labelNames: ['peer'], registers,
        collect() {
          for (const [peer, counts] of self.#peers) {
            const value = pick(counts);
            const before = reported.get(peer) ?? 0;
            if (value > before) this.inc({ peer: String(peer) }, value - before);
            reported.set(peer, value);
          }
        },
      });
    };
    peerBytes(`${PREFIX}peer_sent_bytes_total`, 'Bytes sent to each peer.', (c) => c.sentBytes);
    peerBytes(`${PREFIX}peer_received_bytes_total`, 'Bytes received from each peer.', (c) => c.receivedBytes);
    this.#fsync = new Histogram({ name: `${PREFIX}wal_fsync_duration_seconds`, help: 'Latency of WAL writes that fsync.', buckets: DURATION_BUCKETS, registers });
    this.#snapshotSave = new Histogram({ name: `${PREFIX}snapshot_save_duration_seconds`, help: 'Time to serialize and save a snapshot taken here.', buckets: DURATION_BUCKETS, registers });
    this.#snapshotsInstalled = new Counter({ name: `${PREFIX}snapshots_installed_total`, help: 'Snapshots received from a leader and installed.', registers });
    this.#roundTrip = new Histogram({ name: `${PREFIX}peer_round_trip_seconds`, help: 'Heartbeat round trip to each peer (leader only).', labelNames: ['peer'], buckets: DURATION_BUCKETS, registers });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }

  /** Gauges read the node's status at scrape time; call once the node exists. */
  bind(status: () => CoreStatus): void {
    this.#status = status;
  }

  /** The transport's byte counts (TcpTransportOptions.onPeerBytes). */
  peerBytes(direction: 'sent' | 'received', peer: NodeId, bytes: number): void {
    const counts = this.#peer(peer);
    if (direction === 'sent') counts.sentBytes += bytes;
    else counts.receivedBytes += bytes;
  }

  /** The Prometheus text exposition. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  ready(ready: Ready): void {
    if (ready.softState !== undefined && ready.softState.leader !== this.#leader) {
      this.#leader = ready.softState.leader;
      if (this.#leader !== 0) this.#leaderChanges += 1;
    }
    this.sentEarly(ready.messages);
  }

  sentEarly(messages: readonly PeerMessage[]): void {
    for (const message of messages) {
      // One heartbeat outstanding per peer: its answer times the round trip.
      if (message.type === 'HeartbeatRequest') {
        const counts = this.#peer(message.to);
        if (counts.heartbeatSentAt < 0) counts.heartbeatSentAt = performance.now();
      }
    }
  }

  snapshotSaved(_index: number, _bytes: number, seconds: number, installed: boolean): void {
    if (installed) this.#snapshotsInstalled.inc();
    else this.#snapshotSave.observe(seconds);
  }

  persisted(seconds: number, _entries: number, synced: boolean): void {
    if (synced) this.#fsync.observe(seconds);
  }

  received(message: PeerMessage): void {
    if (message.type !== 'HeartbeatResponse') return;
    const counts = this.#peers.get(message.from);
    if (counts === undefined || counts.heartbeatSentAt < 0) return;
    this.#roundTrip.observe({ peer: String(message.from) }, (performance.now() - counts.heartbeatSentAt) / 1000);
    counts.heartbeatSentAt = -1;
  }

  applied(_entries: readonly Entry[], applied: Index): void {
    this.#applied = applied;
  }

  proposed(outcome: Promise<unknown>): void {
    this.#pending += 1;
    outcome.then(
      () => {
        this.#pending -= 1;
      },
      () => {
        this.#pending -= 1;
        this.#failed += 1;
      },
    );
  }

  proposalRefused(): void {
    this.#failed += 1;
  }

  stopped(): void {}

  #peer(peer: NodeId): PeerCounts {
    let counts = this.#peers.get(peer);
    if (counts === undefined) {
      counts = { sentBytes: 0, receivedBytes: 0, heartbeatSentAt: -1 };
      this.#peers.set(peer, counts);
    }
    return counts;
  }
}
