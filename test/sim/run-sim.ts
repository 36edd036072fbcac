// The simulator's command line:
//   npm run sim -- --seed 0x1f3a            replay one seed, printing its log
//   npm run sim -- --seeds 1000 [--from 0x5eed]   run consecutive seeds
import { Command } from 'commander';
import { performance } from 'node:perf_hooks';
import { REGRESSION_SEEDS } from './regressions.js';
import { describeOptions, swarmOptions } from './swarm-options.js';
import type { SimulationResult } from './simulator.js';
import { formatSeed, reportFailure, runSimulation } from './simulator.js';

function parseSeed(text: string): number {
  const value = text.startsWith('0x') ? Number.parseInt(text.slice(2), 16) : Number.parseInt(text, 10);
  if (!Number.isSafeInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`seed must be an integer in [0, 2^32), got ${text}`);
  return value;
}

async function replay(seed: number, logLevel: 'trace' | 'debug' | 'info'): Promise<number> {
  // A regression seed replays with the overrides it is kept with.
  const options = REGRESSION_SEEDS.find((r) => r.seed === seed)?.options;
  process.stdout.write(`seed=${formatSeed(seed)} options=${describeOptions({ ...swarmOptions(seed), ...options })}\n`);
  const result = await runSimulation(seed, { verbose: true, logLevel, options });
  const summary = { seed: formatSeed(seed), ok: result.ok, failure: result.failure, events: result.events, simulatedMs: result.simulatedMs, operations: result.operations, committed: result.committed, snapshots: result.snapshots, traceHash: result.traceHash };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (!result.ok) process.stdout.write(`${reportFailure(result)}\n`);
  return result.ok ? 0 : 1;
}

async function sweep(count: number, from: number): Promise<number> {
  process.stdout.write(`seeds ${formatSeed(from)}..${formatSeed(from + count - 1)} (${count})\n`);
  const started = performance.now();
  const failures: SimulationResult[] = [];
  let operations = 0;
  let membershipChanges = 0;
  const snapshots = { saved: 0, compactions: 0, received: 0, seedsWithInstall: 0 };
  const transfers = { requested: 0, completed: 0, refused: 0, aborted: 0 };
  for (let i = 0; i < count; i += 1) {
    const seed = (from + i) >>> 0;
    const result = await runSimulation(seed);
    operations += result.operations.ok + result.operations.fail + result.operations.info;
    snapshots.saved += result.snapshots.saved;
    for (const key of ['requested', 'completed', 'refused', 'aborted'] as const) transfers[key] += result.transfers[key];
    snapshots.compactions += result.snapshots.compactions;
    snapshots.received += result.snapshots.received;
    if (result.snapshots.received > 0) snapshots.seedsWithInstall += 1;
    membershipChanges += result.membershipChanges;
    if (!result.ok) {
      failures.push(result);
      process.stdout.write(`${reportFailure(result)}\n`);
    }
    if ((i + 1) % 50 === 0 || i + 1 === count) {
      const seconds = (performance.now() - started) / 1000;
      process.stderr.write(`${i + 1}/${count} seeds, ${failures.length} failed, ${(((i + 1) / seconds)).toFixed(2)} seeds/s\n`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ seeds: count, from: formatSeed(from), failures: failures.map((f) => formatSeed(f.seed)), seconds: Math.round(seconds * 10) / 10, seedsPerSecond: Math.round((count / seconds) * 100) / 100, operations, snapshots, membershipChanges, transfers })}\n`);
  return failures.length === 0 ? 0 : 1;
}

const program = new Command('sim')
  .description('Deterministic simulation of a raft-ts cluster: one seed fixes every run.')
  .option('--seed <seed>', 'replay one seed with its log (decimal or 0x hex)')
  .option('--seeds <count>', 'run this many consecutive seeds')
  .option('--from <seed>', 'first seed of --seeds (default: random, printed)')
  .option('--log-level <level>', 'log level for --seed: trace, debug or info', 'debug')
  .action(async (options: { seed?: string; seeds?: string; from?: string; logLevel: string }) => {
    if (options.seed !== undefined) {
      process.exitCode = await replay(parseSeed(options.seed), options.logLevel as 'trace' | 'debug' | 'info');
      return;
    }
    const count = Number.parseInt(options.seeds ?? '100', 10);
    const from = options.from !== undefined ? parseSeed(options.from) : Math.floor(Math.random() * 0xffff_0000);
    process.exitCode = await sweep(count, from);
  });

await program.parseAsync(process.argv);
