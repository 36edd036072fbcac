#!/usr/bin/env node
// npm run chaos -- --nodes 5 --seconds 60 --seed 42 --history out/history.jsonl
//
// Runs real raft-node processes behind fault proxies under a seeded nemesis and a
// concurrent client workload, then heals, reads every key and checks the history.
// Prints one summary JSON on stdout; exits 1 on any violation (keeping the history
// and the node logs), 2 on bad usage, 130 on Ctrl-C.
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { parseIntegerOption } from '../cli/options.js';
import { ConfigError } from '../errors.js';
import { killStartedProcesses, runChaos } from './chaos-run.js';
import type { ChaosOptions } from './chaos-run.js';
import { FAULT_KINDS, isFaultKind } from './nemesis.js';
import type { FaultKind } from './nemesis.js';

interface RawOptions {
  nodes: string;
  seconds: string;
  seed?: string;
  history?: string;
  clients: string;
  keys: string;
  faultMs: string;
  quietMs: string;
  deadlineMs: string;
  thinkMs: string;
  maxOps: string;
  kinds?: string;
  workDir?: string;
  keepLogs: boolean;
  nodeLogLevel: string;
}

function parseRange(name: string, text: string, min: number, max: number): [number, number] {
  const parts = text.split('-');
  if (parts.length === 1) {
    const value = parseIntegerOption(name, parts[0]!, min, max);
    return [value, value];
  }
  if (parts.length !== 2) throw new ConfigError(`${name} must be N or MIN-MAX, got "${text}"`);
  const low = parseIntegerOption(name, parts[0]!, min, max);
  const high = parseIntegerOption(name, parts[1]!, min, max);
  if (low > high) throw new ConfigError(`${name}: ${low} is greater than ${high}`);
  return [low, high];
}

function parseKinds(text: string): FaultKind[] {
  const kinds = text.split(',').map((k) => k.trim()).filter((k) => k !== '');
  for (const kind of kinds) if (!isFaultKind(kind)) throw new ConfigError(`--kinds: unknown fault kind "${kind}"; known: ${FAULT_KINDS.join(', ')}`);
  if (kinds.length === 0) throw new ConfigError('--kinds is empty');
  return kinds as FaultKind[];
}

function buildProgram(): Command {
  return new Command('run-chaos')
    .description('Fault-test a real raft-ts cluster: partitions, SIGKILL, SIGSTOP, delays and resets under a client workload; checks linearizability.')
    .option('--nodes <n>', 'cluster size', '5')
    .option('--seconds <s>', 'how long the workload and the faults run', '60')
    .option('--seed <n>', 'the fault schedule\'s seed (default: random, printed)')
    .option('--history <file>', 'where the JSON Lines history goes (default out/chaos-<seed>.history.jsonl); the faults log goes next to it')
    .option('--clients <n>', 'concurrent clients', '10')
    .option('--keys <n>', 'size of the key set', '5')
    .option('--fault-ms <min-max>', 'how long each fault lasts', '1000-3000')
    .option('--quiet-ms <min-max>', 'quiet time before each fault', '500-1500')
    .option('--deadline-ms <min-max>', 'each client operation\'s deadline', '2000-4000')
    .option('--think-ms <min-max>', 'pause between one client\'s operations', '0-10')
    .option('--max-ops <n>', 'stop the workload after this many operations', '1000000')
    .option('--kinds <list>', `fault kinds to inject, comma separated (default all: ${FAULT_KINDS.join(',')})`)
    .option('--work-dir <dir>', 'node data dirs and logs (default: a fresh directory next to the history)')
    .option('--keep-logs', 'keep the node logs even when the run is valid', false)
    .option('--node-log-level <level>', 'raft-node --log-level', 'info')
    .showHelpAfterError('(run-chaos --help lists every option)');
}

function optionsFrom(raw: RawOptions, controller: AbortController): ChaosOptions {
  const seed = raw.seed === undefined ? randomInt(0, 2 ** 31) : parseIntegerOption('--seed', raw.seed, 0, 2 ** 32 - 1);
  const nodes = parseIntegerOption('--nodes', raw.nodes, 1, 15);
  return {
    nodes,
    seconds: parseIntegerOption('--seconds', raw.seconds, 1, 24 * 3600),
    seed,
    history: raw.history ?? path.join('out', `chaos-${seed}.history.jsonl`),
    clients: parseIntegerOption('--clients', raw.clients, 1, 1000),
    keys: parseIntegerOption('--keys', raw.keys, 1, 1000),
    faultMs: parseRange('--fault-ms', raw.faultMs, 1, 600_000),
    quietMs: parseRange('--quiet-ms', raw.quietMs, 0, 600_000),
    deadlineMs: parseRange('--deadline-ms', raw.deadlineMs, 100, 600_000),
    thinkMs: parseRange('--think-ms', raw.thinkMs, 0, 60_000),
    maxOps: parseIntegerOption('--max-ops', raw.maxOps, 1, Number.MAX_SAFE_INTEGER),
    ...(raw.kinds !== undefined ? { kinds: parseKinds(raw.kinds) } : {}),
    ...(raw.workDir !== undefined ? { workDir: raw.workDir } : {}),
    keepLogs: raw.keepLogs,
    nodeArgs: ['--log-level', raw.nodeLogLevel],
    signal: controller.signal,
  };
}

export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  program.parse([...argv]);
  const controller = new AbortController();
  let options: ChaosOptions;
  try {
    options = optionsFrom(program.opts<RawOptions>(), controller);
  } catch (err) {
    process.stderr.write(`run-chaos: error: ${(err as Error).message}\n`);
    process.exit(2);
  }

  // Every node started is killed by PID however this process ends.
  process.on('exit', () => killStartedProcesses());
  let interrupted = false;
  const interrupt = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      killStartedProcesses();
      process.exit(130);
    }
    interrupted = true;
    process.stderr.write(`run-chaos: ${signal}: stopping, killing every node\n`);
    killStartedProcesses();
    controller.abort();
    // The run cleans up (proxies, files) and rejects; do not wait for it forever.
    setTimeout(() => process.exit(130), 5_000).unref();
  };
  process.on('SIGINT', () => interrupt('SIGINT'));
  process.on('SIGTERM', () => interrupt('SIGTERM'));
  process.on('uncaughtException', (err) => {
    process.stderr.write(`run-chaos: uncaught exception: ${err.stack ?? String(err)}\n`);
    killStartedProcesses();
    process.exit(1);
  });

  process.stderr.write(`run-chaos: seed ${options.seed}\n`);
  try {
    const summary = await runChaos(options);
    process.stdout.write(JSON.stringify(summary) + '\n');
    if (!summary.valid) {
      process.stderr.write(`run-chaos: ${summary.violations.length} violation line(s); seed ${summary.seed}; history ${summary.history}; node logs ${summary.logs}\n`);
    }
    process.exitCode = summary.valid ? 0 : 1;
  } catch (err) {
    if (interrupted) {
      process.exit(130);
    }
    process.stderr.write(`run-chaos: error: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv);
}
