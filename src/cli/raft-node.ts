import { Command, Option } from 'commander';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { DEFAULT_CORE_CONFIG } from '../core/config.js';
import { validateCoreConfig } from '../core/config.js';
import type { CoreConfig } from '../core/config.js';
import { SeededRandom } from '../core/random.js';
import type { NodeId } from '../core/types.js';
import { ConfigError, RaftError } from '../errors.js';
import { DEFAULT_KV_LIMITS } from '../kv/kv-command.js';
import type { KvLimits } from '../kv/kv-command.js';
import { KvStateMachine } from '../kv/kv-state-machine.js';
import { createRootLogger, LOG_LEVELS } from '../logger.js';
import { ClientService } from '../node/client-service.js';
import { RaftNode } from '../node/raft-node.js';
import { IntervalTicker } from '../node/ticker.js';
import type { KvResult } from '../protocol/client-messages.js';
import { NodeFileSystem } from '../storage/file-system.js';
import { Wal } from '../storage/wal/wal.js';
import type { PeerAddress } from '../transport/address.js';
import { formatAddress } from '../transport/address.js';
import { TcpTransport } from '../transport/tcp-transport.js';
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
  readonly logLevel: string;
  readonly pretty: boolean;
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
  logLevel: string;
  pretty: boolean;
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
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .option('--pretty', 'one readable line per event instead of JSON', false)
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
    logLevel: raw.logLevel,
    pretty: raw.pretty,
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
  const { wal, contents } = await Wal.open(new NodeFileSystem(), path.join(settings.dataDir, 'wal'), {
    onWarning: (fields, message) => logger.child({ component: 'storage' }).warn(fields, message),
  });
  const cluster = await loadOrCreateClusterId(settings.dataDir, deriveClusterId(settings.security.clusterToken, settings.peers.keys()), settings.security.clusterId);
  if (cluster.created) logger.info({ clusterId: cluster.clusterId }, 'cluster id created');
  const transport = new TcpTransport({
    self: settings.id,
    listen: { host: settings.host, port: settings.port },
    peers: settings.peers,
    logger: logger.child({ component: 'transport' }),
    tls: tlsMaterial,
    clusterId: cluster.clusterId,
    connectionsMax: settings.security.connectionsMax,
  });
  const kv = new KvStateMachine();
  const node = new RaftNode<KvResult>({
    config: settings.core,
    initial: { hardState: contents.hardState, entries: contents.entries, applied: 0 },
    storage: wal,
    transport,
    stateMachine: kv,
    ticker: new IntervalTicker(settings.tickMs),
    random: new SeededRandom((settings.id * 0x9e3779b1) ^ Date.now() ^ process.pid),
    logger,
    summaryTicks: Math.max(1, Math.round(5000 / settings.tickMs)),
    onFatal: () => exitSoon(logger, 1),
  });
  const addresses = new Map([...settings.peers].map(([id, address]) => [id, formatAddress(address)]));
  const clients = new ClientService({ node, kv, limits: settings.limits, addresses, logger });
  transport.onClientRequest((request, reply) => clients.handle(request, reply));
  let bound: PeerAddress;
  try {
    bound = await transport.start();
  } catch (err) {
    await wal.close();
    throw listenFailure(err, settings);
  }
  logger.info({ address: formatAddress(bound), peers: Object.fromEntries(addresses), dataDir: settings.dataDir, tickMs: settings.tickMs, clusterId: cluster.clusterId, tls: tlsMaterial !== undefined }, 'node ready');
  node.start();
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
