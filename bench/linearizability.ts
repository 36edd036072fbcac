/**
 * Benchmark of the linearizability checker: generates a linearizable history (by
 * default 100,000 operations over 50 keys from 10 concurrent clients, 1% info) and
 * prints one JSON object {ops, keys, ms, valid}, ms being the time of the check
 * alone. Options: --ops N --keys N --processes N --seed N --info RATE.
 *
 *   node dist/bench/linearizability.js
 */
import { generateHistory } from '../src/check/generate.js';
import { checkLinearizability } from '../src/check/linearizability.js';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at === -1) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isFinite(value)) throw new Error(`--${name} needs a number`);
  return value;
}

const ops = option('ops', 100_000);
const keys = option('keys', 50);
const history = generateHistory({
  seed: option('seed', 1),
  operations: ops,
  keys,
  processes: option('processes', 10),
  infoRate: option('info', 0.01),
});
const started = performance.now();
const result = checkLinearizability(history);
const ms = Math.round(performance.now() - started);
process.stdout.write(JSON.stringify({ ops, keys, ms, valid: result.valid }) + '\n');
