import type { CoreConfig } from '../core/config.js';
import { DEFAULT_CORE_CONFIG } from '../core/config.js';
import type { Logger } from 'pino';
import { SeededRandom } from '../core/random.js';
import type { NodeId } from '../core/types.js';
import { EntryKind } from '../core/types.js';
import type { StateMachine } from '../kv/state-machine.js';
import type { CoreInitialState } from '../core/raft-core.js';
import type { FileSystem } from '../storage/file-system.js';
import { NodeFileSystem } from '../storage/file-system.js';
import type { PeerAddress } from '../transport/address.js';
import type { TcpTransportOptions } from '../transport/tcp-transport.js';
import { TcpTransport } from '../transport/tcp-transport.js';
import type { NodeObserver } from './node-observer.js';
import { openNodeStorage } from './node-storage.js';
import { RaftNode } from './raft-node.js';
import type { SnapshotPolicy } from './snapshot-storage.js';
import { IntervalTicker } from './ticker.js';

export interface CreateNodeOptions<Result> {
  /** This node's id; a key of `peers`. */
  readonly id: NodeId;
  /** Every voter of the bootstrap configuration with the address it is reached at.
   * Used only to bootstrap a brand-new cluster; afterwards the snapshot and the log
   * are the truth (a disagreement is logged as a warning). */
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  /** This node joins an existing cluster (raft-node --join): it bootstraps nothing,
   * never campaigns until a configuration it received makes it a voter, and learns
   * the members from the leader. `peers` then needs only this node's own address. */
  readonly joining?: boolean;
  /** Called when this node applied its own removal; default: log it. */
  readonly onRemoved?: () => void;
  /** Where to listen (default: this node's address in `peers`). Port 0 picks one. */
  readonly listen?: PeerAddress;
  /** Holds the write-ahead log (wal/) and snapshots (snap/). */
  readonly dataDir: string;
  /** The application the log drives, with the snapshot contract of StateMachine. */
  readonly stateMachine: StateMachine<Result>;
  /** The node's root pino logger; components log through children of it. */
  readonly logger: Logger;
  /** Protocol settings beyond the defaults (DEFAULT_CORE_CONFIG). */
  readonly core?: Partial<Omit<CoreConfig, 'id' | 'voters'>>;
  /** Milliseconds per tick. Default 50. */
  readonly tickMs?: number;
  readonly snapshotPolicy?: SnapshotPolicy;
  /** Ticks between the info-level liveness summaries. Default: every 5 s. */
  readonly summaryTicks?: number;
  /** The node stopped because it cannot continue safely (storage failed, an
   * invariant broke). Default: log it; the process should exit. */
  readonly onFatal?: (err: Error) => void;
  /** Default: the real file system. */
  readonly fs?: FileSystem;
  /** Builds the driver's observer (metrics, events) once the recovered state is known. */
  readonly observer?: (initial: CoreInitialState) => NodeObserver;
  /** Counts peer traffic (metrics). */
  readonly onPeerBytes?: TcpTransportOptions['onPeerBytes'];
  /** Mutual TLS for every peer link and inbound connection (see loadTlsMaterial). */
  readonly tls?: TcpTransportOptions['tls'];
  /** The cluster id every peer hello carries; peers of another cluster are refused. */
  readonly clusterId?: string;
  /** Inbound connections beyond this are refused. Default 1024. */
  readonly connectionsMax?: number;
}

/** A running node: its driver, its transport (for client requests) and where it listens. */
export interface NodeHandle<Result> {
  readonly node: RaftNode<Result>;
  readonly transport: TcpTransport;
  readonly address: PeerAddress;
  /** Stops the driver, the transport and storage. */
  stop(): Promise<void>;
}

/**
 * The one composition root: data dir → snapshot and WAL → state machine restored →
 * TCP transport → RaftNode. The CLI builds every node through it, and so can an
 * application with its own state machine (see examples/). Resolves once the node
 * listens and has started; rejects (with storage closed) if it cannot listen.
 */
export async function createNode<Result>(options: CreateNodeOptions<Result>): Promise<NodeHandle<Result>> {
  const fs = options.fs ?? new NodeFileSystem();
  const joining = options.joining ?? false;
  const addresses = [...options.peers].map(([id, address]) => ({ id, address: `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}` }));
  const bootstrap = joining ? undefined : { voters: [...options.peers.keys()].sort((a, b) => a - b), learners: [], addresses };
  const storage = await openNodeStorage(fs, options.dataDir, options.stateMachine, options.logger, { bootstrap });
  const persisted = storage.persistedConfig;
  if (!storage.bootstrapped && !joining && persisted !== undefined) {
    const given = bootstrap!.voters.join(',');
    const members = [...persisted.voters, ...persisted.learners].sort((a, b) => a - b).join(',');
    if (given !== members) {
      options.logger.warn({ peers: bootstrap!.voters, voters: persisted.voters, learners: persisted.learners }, 'ignoring --peers: this node has a configuration of its own');
    }
  }
  const listen = options.listen ?? options.peers.get(options.id);
  if (listen === undefined) throw new Error(`node ${options.id} has no address in the peer list`);
  const transport = new TcpTransport({
    self: options.id,
    listen,
    peers: options.peers,
    logger: options.logger.child({ component: 'transport' }),
    onPeerBytes: options.onPeerBytes,
    tls: options.tls,
    clusterId: options.clusterId,
    connectionsMax: options.connectionsMax,
  });
  const tickMs = options.tickMs ?? 50;
  // The core starts from the snapshot's configuration, or from none when the log
  // begins with the bootstrap entry: applying the log rebuilds it, change by change.
  // Only a data dir from before membership entries existed falls back to --peers.
  const first = storage.initial.entries[0];
  const selfDescribing = storage.initial.snapshot !== undefined || (first?.index === 1 && first.kind === EntryKind.ConfChange);
  const voters = joining || selfDescribing ? [] : [...options.peers.keys()];
  const config: CoreConfig = { ...DEFAULT_CORE_CONFIG, ...options.core, id: options.id, voters };
  const node = new RaftNode<Result>({
    config,
    initial: storage.initial,
    storage: storage.wal,
    snapshots: storage.snapshots,
    snapshotPolicy: options.snapshotPolicy,
    transport,
    stateMachine: options.stateMachine,
    ticker: new IntervalTicker(tickMs),
    random: new SeededRandom((options.id * 0x9e3779b1) ^ Date.now() ^ process.pid),
    logger: options.logger,
    summaryTicks: options.summaryTicks ?? Math.max(1, Math.round(5000 / tickMs)),
    onFatal: options.onFatal ?? ((err) => options.logger.fatal({ err }, 'node stopped')),
    observer: options.observer?.(storage.initial),
    addressBook: options.peers,
    onRemoved: options.onRemoved ?? (() => options.logger.info({}, 'removed from the cluster; stopping')),
  });
  let address: PeerAddress;
  try {
    address = await transport.start();
  } catch (err) {
    await transport.close();
    await storage.wal.close();
    throw err;
  }
  node.start();
  return { node, transport, address, stop: () => node.stop() };
}
