import { Command, Option } from 'commander';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { DEFAULT_CORE_CONFIG } from '../core/config.js';
import { validateCoreConfig } from '../core/config.js';
import type { CoreConfig } from '../core/config.js';
import type { NodeId } from '../core/types.js';
import { ConfigError, RaftError } from '../errors.js';
import { DEFAULT_KV_LIMITS } from '../kv/kv-command.js';
import type { KvLimits } from '../kv/kv-command.js';
import { KvStateMachine } from '../kv/kv-state-machine.js';
import { createRootLogger, LOG_LEVELS } from '../logger.js';
import { ClientService } from '../node/client-service.js';
import { createNode } from '../node/create-node.js';
import type { NodeHandle } from '../node/create-node.js';
import { restoreDataDir } from '../node/restore.js';
import type { SnapshotPolicy } from '../node/snapshot-storage.js';
import { DEFAULT_SNAPSHOT_POLICY } from '../node/snapshot-storage.js';
import type { KvResult } from '../protocol/client-messages.js';
import { NodeFileSystem } from '../storage/file-system.js';
import { writeSmallFileDurably } from '../storage/small-file.js';
import type { PeerAddress } from '../transport/address.js';
import { formatAddress, parseAddress } from '../transport/address.js';
import type { CoreStatus } from '../core/raft-core.js';
import type { CoreInitialState } from '../core/raft-core.js';
import type { RaftNode } from '../node/raft-node.js';
// Metrics, events and the HTTP endpoint are loaded only with --http-port: prom-client
// and its collectors are several megabytes of memory a node without them never needs.
import type { NodeEvents } from '../node/node-events.js';
import type { NodeMetrics } from '../node/metrics.js';
import type { NodeObserver } from '../node/node-observer.js';
import { makeDirs } from '../util/make-dirs.js';
import { deriveClusterId, loadOrCreateClusterId } from '../storage/cluster-id.js';
import type { TlsFiles, TlsMaterial } from '../tls/tls-config.js';
import { loadTlsMaterial, requireNodeIdentity } from '../tls/tls-config.js';
import { DEFAULT_PEERS_TEXT, parseCluster, parseIntegerOption, parsePeers } from './options.js';
import { RaftClient } from '../client/raft-client.js';
import { addMember } from '../client/membership.js';
import { isMemberOf, isVoter } from '../core/membership.js';

interface NodeSettings {
  readonly id: NodeId;
  readonly host: string;
  readonly port: number;
  readonly peers: Map<NodeId, PeerAddress>;
  readonly dataDir: string;
  readonly tickMs: number;
  readonly core: CoreConfig;
  readonly limits: KvLimits;
  readonly snapshotPolicy: SnapshotPolicy;
  /** A backup to seed the (empty) data dir from before starting. */
  readonly restore: string | undefined;
  readonly logLevel: string;
  readonly pretty: boolean;
  /** Port of the metrics/status/events endpoint; undefined = off. */
  readonly httpPort: number | undefined;
  readonly security: SecuritySettings;
  /** Members to ask for admission (--join); undefined: a founding member (--peers). */
  readonly join: readonly string[] | undefined;
  /** Budget for joining: being added, catching up and being promoted. */
  readonly joinTimeoutMs: number;
}

/** Exit code of a node that applied its own removal; scripts/keep-alive.mjs does not
 * restart it. */
export const EXIT_REMOVED = 10;

interface RawOptions extends RawSecurityOptions {
  id?: string;
  port?: string;
  host: string;
  peers: string;
  dataDir?: string;
  tickMs: string;
  electionTicks: string;
  heartbeatTicks: string;
  preVote: boolean;
  checkQuorum: boolean;
  keyBytesMax: string;
  valueBytesMax: string;
  snapshotEntries: string;
  snapshotTrailing: string;
  restore?: string;
  logLevel: string;
  pretty: boolean;
  httpPort?: string;
  join?: string;
  joinTimeoutMs: string;
}

function buildProgram(): Command {
  return new Command('raft-node')
    .description('Run one node of a raft-ts cluster (peers and clients share its port).')
    .requiredOption('--id <id>', 'this node\'s id; must appear in --peers')
    .option('--port <port>', 'TCP port to listen on (default: this node\'s port in --peers)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--peers <list>', 'every member as id=host:port, comma separated: where this node dials its peers', DEFAULT_PEERS_TEXT)
    .option('--data-dir <dir>', 'where the write-ahead log lives (default: data/node-<id>)')
    .option('--tick-ms <ms>', 'milliseconds per logical tick', '50')
    .option('--election-ticks <n>', 'election timeout base in ticks; each timeout is drawn from [n, 2n)', String(DEFAULT_CORE_CONFIG.electionTicks))
    .option('--heartbeat-ticks <n>', 'ticks between leader heartbeats', String(DEFAULT_CORE_CONFIG.heartbeatTicks))
    .option('--no-pre-vote', 'disable the PreVote round before elections (thesis §9.6)')
    .option('--no-check-quorum', 'disable leader step-down without a quorum (thesis §6.2)')
    .option('--key-bytes-max <n>', 'largest key accepted, in bytes', String(DEFAULT_KV_LIMITS.keyBytesMax))
    .option('--value-bytes-max <n>', 'largest value accepted, in bytes', String(DEFAULT_KV_LIMITS.valueBytesMax))
    .option('--snapshot-entries <n>', 'take a snapshot after this many entries applied since the last one', String(DEFAULT_SNAPSHOT_POLICY.entries))
    .option('--snapshot-trailing <n>', 'entries kept in the log behind a snapshot for slow followers', String(DEFAULT_SNAPSHOT_POLICY.trailing))
    .option('--restore <file>', 'seed an empty --data-dir from a backup (raft-cli snapshot save), then start')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .option('--pretty', 'one readable line per event instead of JSON', false)
    .option('--join <addresses>', 'join a running cluster through these members (host:port, comma separated) instead of --peers: added as a learner, promoted once caught up; needs --port')
    .option('--join-timeout-ms <ms>', 'how long joining may take (added, caught up, promoted) before the node gives up and exits', '120000')
    .option('--http-port <port>', 'serve /metrics (Prometheus), /status and /events (Server-Sent Events) on this port of --host (default: off)')
    // Security and hardening (TLS, cluster identity, connection limits).
    .option('--tls-cert <file>', 'this node\'s certificate (PEM, naming raftts://node/<id>); with --tls-key and --tls-ca makes every connection mutual TLS 1.3')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
    .option('--tls-ca <file>', 'the CA that issued every node and client certificate (PEM)')
    .option('--cluster-token <token>', 'mixed with the member ids into the cluster id of a fresh data dir; give each cluster its own (like etcd\'s --initial-cluster-token)', 'raft-ts')
    .option('--cluster-id <id>', 'use this cluster id for a fresh data dir instead of deriving one; an existing data dir must match it')
    .option('--max-connections <n>', 'open inbound connections (peers and clients) beyond which new ones are refused', '1024')
    .showHelpAfterError('(run raft-node --help for every option)')
    .configureOutput({ outputError: (text, write) => write(text.startsWith('error:') ? `raft-node: ${text}` : text) });
}

/** Turns command-line text into validated settings; throws ConfigError. */
function settingsFrom(raw: RawOptions, peersGiven: boolean): NodeSettings {
  const id = parseIntegerOption('--id', raw.id ?? '', 1, Number.MAX_SAFE_INTEGER);
  let peers: Map<NodeId, PeerAddress>;
  let port: number;
  let join: string[] | undefined;
  if (raw.join !== undefined) {
    if (peersGiven) throw new ConfigError('--join and --peers exclude each other: --peers founds a new cluster, --join enters a running one');
    if (raw.port === undefined) throw new ConfigError('--join needs --port: the port this node listens on and the cluster will reach it at');
    join = parseCluster(raw.join);
    port = parseIntegerOption('--port', raw.port, 1, 65535);
    peers = new Map([[id, { host: raw.host, port }]]);
  } else {
    peers = parsePeers(raw.peers);
    const self = peers.get(id);
    if (self === undefined) {
      throw new ConfigError(`--id ${id} is not in the peer list (${[...peers.keys()].join(', ')}); pick one of those ids, add ${id}=host:port to --peers, or join a running cluster with --join`);
    }
    port = raw.port === undefined ? self.port : parseIntegerOption('--port', raw.port, 0, 65535);
  }
  const core: CoreConfig = {
    ...DEFAULT_CORE_CONFIG,
    id,
    voters: [...peers.keys()],
    electionTicks: parseIntegerOption('--election-ticks', raw.electionTicks, 2, 10_000),
    heartbeatTicks: parseIntegerOption('--heartbeat-ticks', raw.heartbeatTicks, 1, 10_000),
    preVote: raw.preVote,
    checkQuorum: raw.checkQuorum,
  };
  validateCoreConfig(core);
  return {
    id,
    host: raw.host,
    port,
    peers,
    dataDir: raw.dataDir ?? path.join('data', `node-${id}`),
    tickMs: parseIntegerOption('--tick-ms', raw.tickMs, 1, 60_000),
    core,
    limits: {
      keyBytesMax: parseIntegerOption('--key-bytes-max', raw.keyBytesMax, 1, 64 * 1024),
      valueBytesMax: parseIntegerOption('--value-bytes-max', raw.valueBytesMax, 1, 8 * 1024 * 1024),
    },
    snapshotPolicy: {
      entries: parseIntegerOption('--snapshot-entries', raw.snapshotEntries, 1, 1_000_000_000),
      trailing: parseIntegerOption('--snapshot-trailing', raw.snapshotTrailing, 0, 1_000_000_000),
    },
    restore: raw.restore,
    logLevel: raw.logLevel,
    pretty: raw.pretty,
    httpPort: raw.httpPort === undefined ? undefined : parseIntegerOption('--http-port', raw.httpPort, 0, 65535),
    security: securityFrom(raw),
    join,
    joinTimeoutMs: parseIntegerOption('--join-timeout-ms', raw.joinTimeoutMs, 1, 86_400_000),
  };
}

// ---- security settings: TLS files, cluster identity, connection limits -----------------

interface RawSecurityOptions {
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  clusterToken: string;
  clusterId?: string;
  maxConnections: string;
}

interface SecuritySettings {
  readonly tlsFiles: TlsFiles | undefined;
  readonly clusterToken: string;
  readonly clusterId: string | undefined;
  readonly connectionsMax: number;
}

function securityFrom(raw: RawSecurityOptions): SecuritySettings {
  const given = [raw.tlsCert, raw.tlsKey, raw.tlsCa].filter((value) => value !== undefined).length;
  if (given !== 0 && given !== 3) throw new ConfigError('--tls-cert, --tls-key and --tls-ca go together: give all three, or none for plaintext');
  return {
    tlsFiles: given === 3 ? { certFile: raw.tlsCert!, keyFile: raw.tlsKey!, caFile: raw.tlsCa! } : undefined,
    clusterToken: raw.clusterToken,
    clusterId: raw.clusterId,
    connectionsMax: parseIntegerOption('--max-connections', raw.maxConnections, 1, 1_000_000),
  };
}

/** Loads the node's certificate (which must be its own) before anything is opened. */
async function loadNodeTls(settings: NodeSettings): Promise<TlsMaterial | undefined> {
  if (settings.security.tlsFiles === undefined) return undefined;
  const material = await loadTlsMaterial(settings.security.tlsFiles);
  requireNodeIdentity(material, settings.id);
  return material;
}

/** Fails early, with one line, when the data directory cannot hold a WAL. */
async function checkDataDir(dir: string): Promise<void> {
  try {
    await makeDirs(dir);
    const probe = path.join(dir, `.write-probe-${process.pid}`);
    const handle = await fs.open(probe, 'w');
    try {
      await handle.write('probe');
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await fs.rm(probe, { force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`data dir ${dir} cannot be created or written (${code}); choose another with --data-dir or fix its permissions`);
  }
}

function listenFailure(err: unknown, settings: NodeSettings): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${settings.host}:${settings.port}`;
  if (code === 'EADDRINUSE') return new ConfigError(`port ${where} is already in use; stop what is using it or choose another with --port`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new ConfigError(`cannot listen on ${where}: ${settings.host} is not an address of this machine; fix --host`);
  if (code === 'EACCES') return new ConfigError(`not allowed to listen on ${where}; choose a port above 1023 with --port`);
  return err as Error;
}

async function run(settings: NodeSettings): Promise<void> {
  await checkDataDir(settings.dataDir);
  const tlsMaterial = await loadNodeTls(settings);
  const logger = await createRootLogger({ node: settings.id, level: settings.logLevel, pretty: settings.pretty });
  // An invariant violation is a bug: log it with everything known and stop (etcd panics).
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception; stopping');
    exitSoon(logger, 1);
  });
  if (await wasRemoved(settings.dataDir)) {
    // As etcd does for a removed member: restarting it would only wait, unconfirmed,
    // for a leader that no longer talks to it.
    logger.warn({ dataDir: settings.dataDir, code: EXIT_REMOVED, marker: removedMarker(settings.dataDir) }, 'this node was removed from the cluster earlier; not starting (to join again, start it with an empty --data-dir and --join)');
    exitSoon(logger, EXIT_REMOVED);
    return;
  }
  if (settings.restore !== undefined && settings.join !== undefined) throw new ConfigError('--restore founds a cluster from a backup; it cannot be combined with --join');
  if (settings.restore !== undefined) {
    const meta = await restoreDataDir(new NodeFileSystem(), settings.dataDir, settings.restore, [...settings.peers.keys()]);
    logger.info({ file: settings.restore, index: meta.index, term: meta.term, dataDir: settings.dataDir }, 'data dir restored from backup');
  }
  // A node joining a cluster takes the cluster's id, as the members report it.
  const joinedId = settings.join !== undefined && settings.security.clusterId === undefined ? await discoverClusterId(settings.join, tlsMaterial, logger) : undefined;
  const cluster = await loadOrCreateClusterId(settings.dataDir, joinedId ?? deriveClusterId(settings.security.clusterToken, settings.peers.keys()), settings.security.clusterId);
  if (cluster.created) logger.info({ clusterId: cluster.clusterId }, 'cluster id created');
  const kv = new KvStateMachine();
  const observability = settings.httpPort === undefined ? undefined : await createObservability(settings);
  let handle: NodeHandle<KvResult> | undefined;
  let removing = false;
  const onRemoved = (): void => {
    if (removing) return;
    removing = true;
    void leaveCluster(handle, logger, settings.dataDir);
  };
  try {
    handle = await createNode<KvResult>({
      id: settings.id,
      peers: settings.peers,
      listen: { host: settings.host, port: settings.port },
      dataDir: settings.dataDir,
      joining: settings.join !== undefined,
      onRemoved: () => onRemoved(),
      stateMachine: kv,
      logger,
      core: settings.core,
      tickMs: settings.tickMs,
      snapshotPolicy: settings.snapshotPolicy,
      tls: tlsMaterial,
      clusterId: cluster.clusterId,
      connectionsMax: settings.security.connectionsMax,
      onFatal: () => exitSoon(logger, 1),
      observer: observability === undefined ? undefined : (initial) => observability.attach(initial),
      onPeerBytes: observability === undefined ? undefined : (direction, peer, bytes) => observability.metrics.peerBytes(direction, peer, bytes),
    });
  } catch (err) {
    throw listenFailure(err, settings);
  }
  const { node, transport, address: bound } = handle;
  if (node.status().removed) onRemoved();
  const addresses = new Map([...settings.peers].map(([id, address]) => [id, formatAddress(address)]));
  const clients = new ClientService({ node, kv, limits: settings.limits, addresses, logger, clusterId: cluster.clusterId });
  transport.onClientRequest((request, reply) => clients.handle(request, reply));
  if (observability !== undefined) {
    try {
      await startHttp(observability, settings, node, addresses, logger);
    } catch (err) {
      await handle.stop();
      throw listenFailure(err, { ...settings, port: settings.httpPort! });
    }
  }
  logger.info({ address: formatAddress(bound), peers: Object.fromEntries(addresses), dataDir: settings.dataDir, tickMs: settings.tickMs, clusterId: cluster.clusterId, tls: tlsMaterial !== undefined }, 'node ready');
  const shutdown = (signal: string): void => {
    logger.info({ signal }, 'stopping');
    node.stop().then(
      () => exitSoon(logger, 0),
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        exitSoon(logger, 1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  if (settings.join !== undefined) await joinCluster(settings, handle, logger);
}

/**
 * Asks the members named by --join to add this node, unless its own state already
 * makes it a voter (a restart after joining): added as a learner, its peer links
 * seeded from the answer (it needs a link back to the leader before it has a
 * configuration of its own), promoted once caught up.
 */
async function joinCluster(settings: NodeSettings, handle: NodeHandle<KvResult>, logger: Logger): Promise<void> {
  const { node, transport } = handle;
  if (isVoter(node.membership(), settings.id)) {
    logger.info({ voters: node.membership().voters }, 'already a voter of the cluster; not asking to join');
    return;
  }
  const address = formatAddress({ host: settings.host, port: settings.port });
  const client = new RaftClient({ cluster: settings.join!, deadlineMs: settings.joinTimeoutMs });
  logger.info({ join: settings.join, address }, 'asking the cluster to add this node');
  try {
    await addMember(client, {
      id: settings.id,
      address,
      learnerOnly: false,
      rejoin: true,
      deadlineMs: settings.joinTimeoutMs,
      onAdded: (config) => {
        if (isMemberOf(node.membership(), settings.id)) return;
        const peers = new Map<NodeId, PeerAddress>();
        for (const member of config.addresses) peers.set(member.id, parseAddress(member.address));
        transport.setPeers(peers);
      },
      onStep: (step, detail) => {
        if (step === 'learner-added') logger.info({ index: detail.index, voters: detail.configuration?.voters, learners: detail.configuration?.learners }, 'added as a learner; catching up');
        else if (step === 'caught-up') logger.info({ lag: detail.lag }, 'caught up with the leader; asking for promotion');
        else logger.info({ index: detail.index, voters: detail.configuration?.voters }, 'promoted to voter; joined the cluster');
      },
    });
  } catch (err) {
    logger.error({ err }, 'could not join the cluster; stopping');
    await node.stop().catch(() => undefined);
    exitSoon(logger, 1);
  } finally {
    client.close();
  }
}

/**
 * This node applied its own removal: it waits briefly for a leader other than
 * itself (a removed leader has just handed over with TimeoutNow, and the answer to
 * the client that asked is still going out), then stops and exits with
 * EXIT_REMOVED.
 */
async function leaveCluster(handle: NodeHandle<KvResult> | undefined, logger: Logger, dataDir: string): Promise<void> {
  try {
    await markRemoved(dataDir);
  } catch (err) {
    logger.warn({ err, dataDir }, 'could not record the removal in the data dir; a restart would wait for a confirmation that never comes');
  }
  const deadline = Date.now() + REMOVED_GRACE_MS;
  const self = handle?.node.status().id;
  while (handle !== undefined && Date.now() < deadline) {
    const leader = handle.node.status().leader;
    if (leader !== 0 && leader !== self) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  logger.info({ code: EXIT_REMOVED, leader: handle?.node.status().leader }, 'removed from the cluster; exiting');
  await handle?.node.stop().catch(() => undefined);
  exitSoon(logger, EXIT_REMOVED);
}

/** The file whose presence says this data dir's node was removed from its cluster (and knew it). */
export function removedMarker(dataDir: string): string {
  return path.join(dataDir, 'removed');
}

async function wasRemoved(dataDir: string): Promise<boolean> {
  try {
    await fs.access(removedMarker(dataDir));
    return true;
  } catch {
    return false;
  }
}

/** Writes the marker durably. */
async function markRemoved(dataDir: string): Promise<void> {
  await writeSmallFileDurably(removedMarker(dataDir), `removed from the cluster at ${new Date().toISOString()}\n`);
}

/** Longest wait, after its removal, for the node to see another leader before exiting. */
const REMOVED_GRACE_MS = 2000;

interface Observability {
  readonly metrics: NodeMetrics;
  /** Created once storage is open: the event stream starts from the recovered log. */
  events: NodeEvents | undefined;
  attach(initial: CoreInitialState): NodeObserver;
}

/** Metrics and the event stream, fed by the driver's observer hooks. */
async function createObservability(settings: NodeSettings): Promise<Observability> {
  const { NodeMetrics } = await import('../node/metrics.js');
  const { NodeEvents } = await import('../node/node-events.js');
  const { combineObservers } = await import('../node/node-observer.js');
  const metrics = new NodeMetrics();
  const observability: Observability = {
    metrics,
    events: undefined,
    attach(initial) {
      const events = new NodeEvents({ id: settings.id, initial: initial.hardState, entries: initial.entries });
      observability.events = events;
      return combineObservers(metrics, events);
    },
  };
  return observability;
}

async function startHttp(
  observability: Observability,
  settings: NodeSettings,
  node: RaftNode<KvResult>,
  addresses: ReadonlyMap<NodeId, string>,
  logger: Logger,
): Promise<void> {
  const events = observability.events;
  if (events === undefined) throw new Error('the event stream starts with the node');
  const { NodeHttpServer } = await import('../http/node-http-server.js');
  const { nodeStatusJson } = await import('../node/node-status.js');
  const status = (): CoreStatus => node.status();
  observability.metrics.bind(status);
  events.bind(status);
  let httpAddress = '';
  const server = new NodeHttpServer({
    host: settings.host,
    port: settings.httpPort!,
    metrics: observability.metrics,
    events,
    logger: logger.child({ component: 'http' }),
    status: () =>
      nodeStatusJson(node.status(), {
        addresses,
        httpAddress,
        electionTicks: settings.core.electionTicks,
        heartbeatTicks: settings.core.heartbeatTicks,
        tickMs: settings.tickMs,
        recentLog: () => events.recentLog(),
      }),
  });
  const bound = await server.listen();
  httpAddress = formatAddress({ host: settings.host, port: bound.port });
  logger.info({ http: httpAddress }, 'http endpoint listening');
}

/** The cluster id the --join members report (they all carry the same); undefined when
 * none answers with one (the join itself will then fail with a clear error). */
async function discoverClusterId(join: readonly string[], tls: TlsMaterial | undefined, logger: Logger): Promise<string | undefined> {
  const client = new RaftClient({ cluster: join, deadlineMs: 5_000, tls });
  try {
    const rows = await client.clusterStatus(2_000);
    for (const row of rows) {
      if ('status' in row && row.status.clusterId !== '') {
        logger.info({ clusterId: row.status.clusterId, from: row.address }, 'cluster id learned from the cluster');
        return row.status.clusterId;
      }
    }
    return undefined;
  } finally {
    client.close();
  }
}

function exitSoon(logger: Logger, code: number): void {
  logger.info({ code }, 'stopped');
  logger.flush();
  process.exit(code);
}

/** Prints one line for an expected failure, and exits non-zero; no stack trace. */
function failWith(err: unknown): never {
  const message = err instanceof RaftError ? err.message : (err as Error)?.message ?? String(err);
  process.stderr.write(`raft-node: error: ${message}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
}

export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  program.parse([...argv]);
  let settings: NodeSettings;
  try {
    settings = settingsFrom(program.opts<RawOptions>(), program.getOptionValueSource('peers') === 'cli');
  } catch (err) {
    failWith(err);
  }
  try {
    await run(settings);
  } catch (err) {
    failWith(err);
  }
}
