import { Command } from 'commander';
import { ClientTimeoutError, ClientTlsError, NoReachableNodeError, RequestRefusedError } from '../client/errors.js';
import { RaftClient } from '../client/raft-client.js';
import type { StatusRow } from '../client/raft-client.js';
import { ConfigError } from '../errors.js';
import type { TlsMaterial } from '../tls/tls-config.js';
import { loadTlsMaterial } from '../tls/tls-config.js';
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
} as const;

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

function statusTable(rows: readonly StatusRow[]): string {
  const header = ['ID', 'ADDRESS', 'ROLE', 'TERM', 'LEADER', 'COMMIT', 'APPLIED', 'LAST', 'PID'];
  const lines = rows.map((row) =>
    'status' in row
      ? [row.status.id, row.address, row.status.role, row.status.term, row.status.leader || '-', row.status.commit, row.status.applied, row.status.lastIndex, row.status.pid].map(String)
      : ['?', row.address, `unreachable: ${row.error}`, '', '', '', '', '', ''],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((line) => line[i]!.length)));
  return [header, ...lines].map((line) => line.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

async function status(options: GlobalOptions): Promise<number> {
  const client = await clientFrom(options);
  try {
    const rows = await client.clusterStatus(Math.min(1000, parseIntegerOption('--timeout-ms', options.timeoutMs, 1, 3_600_000)));
    const json = rows.map((row) =>
      'status' in row
        ? { id: row.status.id, address: row.address, role: row.status.role, term: row.status.term, leader: row.status.leader, commit: row.status.commit, applied: row.status.applied, lastIndex: row.status.lastIndex, pid: row.status.pid }
        : { address: row.address, error: row.error },
    );
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
  if (err instanceof RequestRefusedError) return EXIT.refused;
  if (err instanceof ClientTlsError) return EXIT.tls;
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
      '\nExit codes: 0 ok; 1 get found no key, or cas did not match; 2 bad usage;\n3 no node reachable; 4 timed out (a write may or may not have happened); 5 refused (too large or malformed);\n6 TLS failed (no certificate, another CA, or a node without TLS).',
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

  program.command('status').description('one row per node: id, address, role, term, leader, commit, applied, last index')
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
  const certs = program.command('certs').description('certificates for a TLS cluster');
  certs.command('init').description('create a CA, a certificate per node, a client and an admin certificate (keys mode 0600)')
    .requiredOption('--out <dir>', 'directory to write them to (must not already hold them)')
    .option('--nodes <ids>', 'node ids, comma separated', '1,2,3,4,5')
    .action(wrap(() => certsInitCommand(certs.commands.find((c) => c.name() === 'init')!.opts<{ out: string; nodes: string }>())));
  return program;
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
