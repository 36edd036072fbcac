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
import type { PeerAddress } from '../transport/address.js';
import { formatAddress } from '../transport/address.js';
import type { CoreStatus } from '../core/raft-core.js';
import type { CoreInitialState } from '../core/raft-core.js';
import type { RaftNode } from '../node/raft-node.js';
import { NodeHttpServer } from '../http/node-http-server.js';
import { NodeEvents } from '../node/node-events.js';
import { NodeMetrics } from '../node/metrics.js';
import type { NodeObserver } from '../node/node-observer.js';
import { combineObservers } from '../node/node-observer.js';
import { nodeStatusJson } from '../node/node-status.js';
import { makeDirs } from '../util/make-dirs.js';
import { deriveClusterId, loadOrCreateClusterId } from '../storage/cluster-id.js';
import type { TlsFiles, TlsMaterial } from '../tls/tls-config.js';
import { loadTlsMaterial, requireNodeIdentity } from '../tls/tls-config.js';
import { DEFAULT_PEERS_TEXT, parseIntegerOption, parsePeers } from './options.js';

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
}

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
function settingsFrom(raw: RawOptions): NodeSettings {
  const id = parseIntegerOption('--id', raw.id ?? '', 1, Number.MAX_SAFE_INTEGER);
  const peers = parsePeers(raw.peers);
  const self = peers.get(id);
  if (self === undefined) {
    throw new ConfigError(`--id ${id} is not in the peer list (${[...peers.keys()].join(', ')}); pick one of those ids or add ${id}=host:port to --peers`);
  }
  const port = raw.port === undefined ? self.port : parseIntegerOption('--port', raw.port, 0, 65535);
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
  if (settings.restore !== undefined) {
    const meta = await restoreDataDir(new NodeFileSystem(), settings.dataDir, settings.restore, [...settings.peers.keys()]);
    logger.info({ file: settings.restore, index: meta.index, term: meta.term, dataDir: settings.dataDir }, 'data dir restored from backup');
  }
  const cluster = await loadOrCreateClusterId(settings.dataDir, deriveClusterId(settings.security.clusterToken, settings.peers.keys()), settings.security.clusterId);
  if (cluster.created) logger.info({ clusterId: cluster.clusterId }, 'cluster id created');
  const kv = new KvStateMachine();
  const observability = settings.httpPort === undefined ? undefined : createObservability(settings);
  let handle: NodeHandle<KvResult>;
  try {
    handle = await createNode<KvResult>({
      id: settings.id,
      peers: settings.peers,
      listen: { host: settings.host, port: settings.port },
      dataDir: settings.dataDir,
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
  const addresses = new Map([...settings.peers].map(([id, address]) => [id, formatAddress(address)]));
  const clients = new ClientService({ node, kv, limits: settings.limits, addresses, logger });
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
}

interface Observability {
  readonly metrics: NodeMetrics;
  /** Created once storage is open: the event stream starts from the recovered log. */
  events: NodeEvents | undefined;
  attach(initial: CoreInitialState): NodeObserver;
}

/** Metrics and the event stream, fed by the driver's observer hooks. */
function createObservability(settings: NodeSettings): Observability {
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
    settings = settingsFrom(program.opts<RawOptions>());
  } catch (err) {
    failWith(err);
  }
  try {
    await run(settings);
  } catch (err) {
    failWith(err);
  }
}
