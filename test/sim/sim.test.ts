// The deterministic simulator in `npm test`: a fixed list of seeds, each running the
// real core, driver, write-ahead log and key-value store against a simulated network,
// disk and clock with the seed's own mix of faults, checked for Raft's safety
// properties after every event and for linearizability at the end. Plus the
// simulator's own promise: one seed, one trace.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { REGRESSION_SEEDS } from './regressions.js';
import { formatSeed, reportFailure, runSimulation } from './simulator.js';

const RUN_SIM = path.join(path.dirname(fileURLToPath(import.meta.url)), 'run-sim.js');

/** Seeds 0x5eed0000.. : a fixed range, so a failure here is reproducible by anyone. */
const FIXED_SEEDS_FROM = 0x5eed0000;
const FIXED_SEEDS = 300;

describe('simulation', () => {
  it('replays a seed identically: the same event trace hash and history', async () => {
    const seed = 0x1f3a;
    const first = await runSimulation(seed);
    const second = await runSimulation(seed);
    assert.ok(first.events > 1000, `a real run (${first.events} events)`);
    assert.equal(second.traceHash, first.traceHash);
    assert.equal(second.events, first.events);
    assert.deepEqual(second.history, first.history);
    const other = await runSimulation(seed + 1);
    assert.notEqual(other.traceHash, first.traceHash, 'another seed takes another path');
  });

  it(`${FIXED_SEEDS} fixed seeds keep every safety property and a linearizable history`, () => {
    // In a child process: node's test runner tracks every promise, which slows the
    // simulator's millions of microtasks several times over.
    const result = spawnSync(process.execPath, [RUN_SIM, '--seeds', String(FIXED_SEEDS), '--from', formatSeed(FIXED_SEEDS_FROM)], {
      encoding: 'utf8',
      timeout: 170_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const lines = result.stdout.trim().split('\n');
    const summary = JSON.parse(lines[lines.length - 1]!) as { seeds: number; failures: string[]; operations: number; seedsPerSecond: number };
    if (summary.failures.length > 0) process.stderr.write(result.stdout);
    assert.deepEqual(summary.failures, []);
    assert.equal(result.status, 0);
    assert.equal(summary.seeds, FIXED_SEEDS);
    // The runs did real work: clients completed operations.
    assert.ok(summary.operations > FIXED_SEEDS * 50, `${summary.operations} operations`);
    process.stderr.write(`simulator: ${FIXED_SEEDS} seeds at ${summary.seedsPerSecond} seeds/s, ${summary.operations} client operations\n`);
  });

  for (const { seed, bug, options } of REGRESSION_SEEDS) {
    it(`regression ${formatSeed(seed)}: ${bug}`, async () => {
      const result = await runSimulation(seed, { options });
      if (!result.ok) process.stderr.write(`${reportFailure(result)}\n`);
      assert.equal(result.failure, undefined);
      assert.ok(result.operations.ok > 0, 'clients completed operations');
    });
  }
});
