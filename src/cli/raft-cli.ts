import { Command } from 'commander';
import { ClientTimeoutError, ClientTlsError, MemberChangePendingError, MemberChangeRefusedError, NoReachableNodeError, RequestRefusedError } from '../client/errors.js';
import { RaftClient } from '../client/raft-client.js';
import type { StatusRow } from '../client/raft-client.js';
import type { NodeStatus } from '../protocol/client-messages.js';
import { DashboardServer } from '../dashboard/dashboard-server.js';
import { ConfigError } from '../errors.js';
import type { ErrorCode } from '../protocol/client-messages.js';
import { statusRow } from '../node/node-status.js';
import { NodeFileSystem } from '../storage/file-system.js';
import { writeSnapshotFile } from '../storage/snapshot-store.js';
import type { TlsMaterial } from '../tls/tls-config.js';
import { loadTlsMaterial } from '../tls/tls-config.js';
import { addMemberCommands } from './member-commands.js';
import { DEFAULT_PEERS_TEXT, parseCluster, parseIntegerOption } from './options.js';

/** Exit codes, documented in the README and `raft-cli --help`. */
export const EXIT = {
  ok: 0,
  /** get: the key is absent; cas: the expected value did not match. */
  negative: 1,
  usage: 2,
  unreachable: 3,
  /** No definite answer in time: a write may or may not have been applied. */
  timeout: 4,
  refused: 5,
  /** TLS failed: no certificate, one from another CA, or a node without TLS. */
  tls: 6,
  /** transfer-leader: the target is not a voter (unknown id, learner, or no other voter). */
  transferNotVoter: 7,
  /** transfer-leader: the target already leads. */
  transferToSelf: 8,
  /** transfer-leader: the target did not catch up with the leader's log in time. */
  transferLagging: 9,
  /** transfer-leader: the target caught up but no successor was seen in time. */
  transferAborted: 10,
  /** A membership change the leader refused: an id already present, an address in
   * use, the last voter, a learner far behind, no live quorum after the change. */
  changeRefused: 11,
  /** Another membership change stayed pending until the deadline. */
  changePending: 12,
} as const;

const TRANSFER_EXITS: Partial<Record<ErrorCode, number>> = {
  TRANSFER_NOT_MEMBER: EXIT.transferNotVoter,
  TRANSFER_TO_LEARNER: EXIT.transferNotVoter,
  TRANSFER_NO_TARGET: EXIT.transferNotVoter,
  TRANSFER_TO_SELF: EXIT.transferToSelf,
  TRANSFER_TARGET_LAGGING: EXIT.transferLagging,
  TRANSFER_ABORTED: EXIT.transferAborted,
};

const DEFAULT_CLUSTER = DEFAULT_PEERS_TEXT.split(',').map((item) => item.slice(item.indexOf('=') + 1)).join(',');

interface GlobalOptions extends TlsOptions {
  cluster: string;
  json: boolean;
  timeoutMs: string;
}

async function clientFrom(options: GlobalOptions): Promise<RaftClient> {
  const cluster = parseCluster(options.cluster);
  const deadlineMs = parseIntegerOption('--timeout-ms', options.timeoutMs, 1, 3_600_000);
  const tls = await tlsFrom(options);
  return new RaftClient({ cluster, deadlineMs, attemptTimeoutMs: Math.min(1000, deadlineMs), tls });
}

// ---- TLS: flags, or RAFTTS_CERT / RAFTTS_KEY / RAFTTS_CA (like etcdctl's ETCDCTL_CERT) ----

interface TlsOptions {
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

async function tlsFrom(options: TlsOptions): Promise<TlsMaterial | undefined> {
  const certFile = options.tlsCert ?? process.env['RAFTTS_CERT'];
  const keyFile = options.tlsKey ?? process.env['RAFTTS_KEY'];
  const caFile = options.tlsCa ?? process.env['RAFTTS_CA'];
  const given = [certFile, keyFile, caFile].filter((value) => value !== undefined && value !== '').length;
  if (given === 0) return undefined;
  if (given !== 3) throw new ConfigError('--tls-cert, --tls-key and --tls-ca (or RAFTTS_CERT, RAFTTS_KEY, RAFTTS_CA) go together: give all three');
  return loadTlsMaterial({ certFile: certFile!, keyFile: keyFile!, caFile: caFile! });
}

/** `raft-cli certs init`: a CA and every certificate a cluster needs, in one directory. */
async function certsInitCommand(options: { out: string; nodes: string }): Promise<number> {
  const nodes = options.nodes.split(',').map((item) => item.trim()).filter((item) => item !== '')
    .map((item) => parseIntegerOption('--nodes entry', item, 1, Number.MAX_SAFE_INTEGER));
  if (nodes.length === 0) throw new ConfigError('--nodes is empty; give node ids like 1,2,3,4,5');
  if (new Set(nodes).size !== nodes.length) throw new ConfigError('--nodes names a node twice');
  // Loaded only here: issuing certificates needs a library nothing else does.
  const { certsInit } = await import('../tls/certs.js');
  try {
    const result = await certsInit({ outDir: options.out, nodes });
    process.stdout.write(`wrote ${result.files.map((file) => `${options.out}/${file}`).join(' ')}\n`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ConfigError(`${options.out} already holds certificates; choose an empty --out directory (an existing CA is never replaced)`);
    if (code !== undefined) throw new ConfigError(`cannot write certificates to ${options.out} (${code})`);
    throw err;
  }
  return EXIT.ok;
}

function print(options: GlobalOptions, json: unknown, text: string): void {
  process.stdout.write(options.json ? `${JSON.stringify(json)}\n` : `${text}\n`);
}

/** A learner shows as such: it follows, but neither votes nor counts for commit. */
function roleText(status: NodeStatus): string {
  if (status.membership === 'learner') return 'learner';
  if (status.membership === 'none' && status.role === 'follower') return 'follower (not a member)';
  return status.role;
}

function statusTable(rows: readonly StatusRow[]): string {
  const header = ['ID', 'ADDRESS', 'ROLE', 'TERM', 'LEADER', 'COMMIT', 'APPLIED', 'LAST', 'SNAPSHOT', 'FIRST', 'PID'];
  const lines = rows.map((row) =>
    'status' in row
      ? [row.status.id, row.address, roleText(row.status), row.status.term, row.status.leader || '-', row.status.commit, row.status.applied, row.status.lastIndex, row.status.snapshotIndex, row.status.firstIndex, row.status.pid].map(String)
      : ['?', row.address, `unreachable: ${row.error}`, '', '', '', '', '', '', '', ''],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((line) => line[i]!.length)));
  return [header, ...lines].map((line) => line.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

async function status(options: GlobalOptions): Promise<number> {
  const client = await clientFrom(options);
  try {
    const rows = await client.clusterStatus(Math.min(1000, parseIntegerOption('--timeout-ms', options.timeoutMs, 1, 3_600_000)));
    const json = rows.map((row) => ('status' in row ? statusRow(row.status, row.address) : { address: row.address, error: row.error }));
    print(options, json, statusTable(rows));
    if (rows.some((row) => 'status' in row)) return EXIT.ok;
    return rows.some((row) => 'error' in row && row.error.includes('TLS')) ? EXIT.tls : EXIT.unreachable;
  } finally {
    client.close();
  }
}

/** Runs one key-value command, mapping failures to one line and an exit code. */
async function runKv(options: GlobalOptions, action: (client: RaftClient) => Promise<number>): Promise<number> {
  const client = await clientFrom(options);
  try {
    return await action(client);
  } finally {
    client.close();
  }
}

function failureExit(err: unknown): number {
  const message = (err as Error)?.message ?? String(err);
  process.stderr.write(`raft-cli: error: ${message}\n`);
  if (err instanceof ConfigError) return EXIT.usage;
  if (err instanceof NoReachableNodeError) return EXIT.unreachable;
  if (err instanceof ClientTimeoutError) return EXIT.timeout;
  if (err instanceof RequestRefusedError) return TRANSFER_EXITS[err.reason] ?? EXIT.refused;
  if (err instanceof ClientTlsError) return EXIT.tls;
  if (err instanceof MemberChangeRefusedError) return EXIT.changeRefused;
  if (err instanceof MemberChangePendingError) return EXIT.changePending;
  return 1;
}

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('raft-cli')
    .description('Talk to a raft-ts cluster: read and write keys, show each node\'s state.')
    .option('--cluster <addresses>', 'node addresses, comma separated', DEFAULT_CLUSTER)
    .option('--json', 'print JSON instead of text', false)
    .option('--timeout-ms <ms>', 'give up after this long (retries included)', '10000')
    .option('--tls-cert <file>', 'client certificate (PEM) for a TLS cluster; env RAFTTS_CERT')
    .option('--tls-key <file>', 'its private key (PEM); env RAFTTS_KEY')
    .option('--tls-ca <file>', 'the cluster\'s CA (PEM); env RAFTTS_CA')
    .addHelpText(
      'after',
      '\nExit codes: 0 ok; 1 get found no key, or cas did not match; 2 bad usage;\n3 no node reachable; 4 timed out (a write may or may not have happened); 5 refused (too large or malformed);\n' +
        '6 TLS failed (no certificate, another CA, or a node without TLS);\n' +
        'transfer-leader: 7 the target is not a voter; 8 the target already leads; 9 the target could not catch up;\n' +
        '10 the transfer was aborted (no successor within an election timeout);\n' +
        'member: 11 change refused (id present, address in use, last voter, learner far behind, no live quorum after it);\n' +
        '12 another membership change still pending.',
    )
    .showHelpAfterError('(run raft-cli --help for usage)')
    .configureOutput({ outputError: (text, write) => write(text.startsWith('error:') ? `raft-cli: ${text}` : text) });
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const wrap = (fn: (...args: string[]) => Promise<number>) => async (...args: unknown[]) => {
    try {
      setExit(await fn(...(args.filter((a) => typeof a === 'string') as string[])));
    } catch (err) {
      setExit(failureExit(err));
    }
  };

  program.command('status').description('one row per node: id, address, role, term, leader, commit, applied, last index, snapshot index, first index')
    .action(wrap(() => status(globals())));
  program.command('put <key> <value>').description('set key to value')
    .action(wrap((key, value) => runKv(globals(), async (client) => {
      const previous = await client.put(key!, value!);
      print(globals(), { ok: true, key, value, previous }, 'OK');
      return EXIT.ok;
    })));
  program.command('get <key>').description('print the value of key (exit 1 when absent)')
    .option('--stale', 'read from any node without confirming leadership (may be stale)', false)
    .action(wrap((key) => runKv(globals(), async (client) => {
      const stale = program.commands.find((c) => c.name() === 'get')!.opts<{ stale: boolean }>().stale;
      const value = await client.get(key!, { stale });
      print(globals(), { key, value }, value ?? '(absent)');
      return value === null ? EXIT.negative : EXIT.ok;
    })));
  program.command('del <key>').alias('delete').description('delete key')
    .action(wrap((key) => runKv(globals(), async (client) => {
      const previous = await client.delete(key!);
      print(globals(), { ok: true, key, previous }, previous === null ? 'OK (was absent)' : 'OK');
      return EXIT.ok;
    })));
  program.command('cas <key> <expected> <value>').description('set key to value if its value is expected (use --absent for "no value")')
    .option('--absent', 'expect the key to be absent (the expected argument is ignored)', false)
    .action(wrap((key, expected, value) => runKv(globals(), async (client) => {
      const absent = program.commands.find((c) => c.name() === 'cas')!.opts<{ absent: boolean }>().absent;
      const result = await client.cas(key!, absent ? null : expected!, value!);
      print(globals(), { ok: result.ok, key, value: result.value }, result.ok ? 'OK' : `FAILED (current: ${result.value ?? '(absent)'})`);
      return result.ok ? EXIT.ok : EXIT.negative;
    })));
  const snapshot = program.command('snapshot').description('backups: a consistent copy of the state, for raft-node --restore');
  const save = snapshot.command('save <file>').description('write a consistent snapshot, taken through the leader, to file; prints its index and size')
    .option('--stale', 'copy whichever node answers, without confirming leadership (may be stale)', false);
  save.action(wrap((file) => runKv(globals(), async (client) => {
    const stale = save.opts<{ stale: boolean }>().stale;
    const { snapshot: meta, data } = await client.snapshot({ stale });
    const { bytes } = await writeSnapshotFile(new NodeFileSystem(), file!, meta, [data]);
    print(globals(), { file, index: meta.index, term: meta.term, bytes }, `saved ${file}: index ${meta.index}, term ${meta.term}, ${bytes} bytes`);
    return EXIT.ok;
  })));
  program.command('transfer-leader [id]').description('hand leadership to node id (default: the most caught-up voter); prints the new leader')
    .action(wrap((id) => runKv(globals(), async (client) => {
      const target = id === undefined ? 0 : parseIntegerOption('id', id, 1, Number.MAX_SAFE_INTEGER);
      const leader = await client.transferLeader(target);
      print(globals(), { ok: true, leader }, `leader is now node ${leader}`);
      return EXIT.ok;
    })));
  addMemberCommands(program, {
    run: (action) => runKv(globals(), action),
    print: (json, text) => print(globals(), json, text),
    deadlineMs: () => parseIntegerOption('--timeout-ms', globals().timeoutMs, 1, 3_600_000),
    wrap,
  });
  addDashboardCommand(program, globals);
  const certs = program.command('certs').description('certificates for a TLS cluster');
  certs.command('init').description('create a CA, a certificate per node, a client and an admin certificate (keys mode 0600)')
    .requiredOption('--out <dir>', 'directory to write them to (must not already hold them)')
    .option('--nodes <ids>', 'node ids, comma separated', '1,2,3,4,5')
    .action(wrap(() => certsInitCommand(certs.commands.find((c) => c.name() === 'init')!.opts<{ out: string; nodes: string }>())));
  return program;
}

/** The Procfile's nodes serve HTTP on 9001..9005 (their raft port + 1000). */
const DEFAULT_NODES_HTTP = [1, 2, 3, 4, 5].map((id) => `127.0.0.1:${9000 + id}`).join(',');

/** `raft-cli dashboard`: serves the live page until interrupted. */
function addDashboardCommand(program: Command, globals: () => GlobalOptions): void {
  program.command('dashboard').description('serve a live web page of the cluster: elections, heartbeats, replication (needs raft-node --http-port)')
    .option('--port <port>', 'port to serve the page on', '8080')
    .option('--host <host>', 'address to serve the page on', '127.0.0.1')
    .option('--http <addresses>', 'each node\'s --http-port address, comma separated', DEFAULT_NODES_HTTP)
    .action(async (opts: { port: string; host: string; http: string }) => {
      try {
        const server = new DashboardServer({
          host: opts.host,
          port: parseIntegerOption('--port', opts.port, 0, 65535),
          nodes: parseCluster(opts.http),
          cluster: parseCluster(globals().cluster),
        });
        const bound = await server.listen();
        process.stdout.write(`dashboard on http://${opts.host}:${bound.port}/\n`);
        const stop = (): void => {
          void server.close().then(() => process.exit(0));
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      } catch (err) {
        process.exit(failureExit(err));
      }
    });
}

export async function main(argv: readonly string[]): Promise<void> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  program.exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : EXIT.usage);
  });
  await program.parseAsync([...argv]);
  process.exitCode = exitCode;
}
