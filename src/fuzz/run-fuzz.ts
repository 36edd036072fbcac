/**
 * `npm run fuzz -- --frames 1000000 [--concurrency 32] [--seed 1] [--authenticated-share 0.5]`: fuzzes a live
 * raft-node's port (see fuzz-run.ts) and prints one JSON report; exits 1 when the
 * node was not healthy afterwards.
 */
import { Command } from 'commander';
import { parseIntegerOption } from '../cli/options.js';
import { runFuzz } from './fuzz-run.js';

const program = new Command('raft-fuzz')
  .option('--frames <n>', 'frames to send', '100000')
  .option('--concurrency <n>', 'connections open at once', '32')
  .option('--seed <n>', 'random seed', '1')
  .option('--authenticated-share <x>', 'share of connections that open with a valid peer hello (0 to 1)', '0.5')
  .parse();
const raw = program.opts<{ frames: string; concurrency: string; seed: string; authenticatedShare: string }>();
const authenticatedShare = Number(raw.authenticatedShare);
if (raw.authenticatedShare.trim() === '' || !(authenticatedShare >= 0 && authenticatedShare <= 1)) {
  process.stderr.write(`raft-fuzz: --authenticated-share must be a number from 0 to 1, got "${raw.authenticatedShare}"\n`);
  process.exit(2);
}
const frames = parseIntegerOption('--frames', raw.frames, 1, 1_000_000_000);
const report = await runFuzz({
  frames,
  concurrency: parseIntegerOption('--concurrency', raw.concurrency, 1, 1024),
  seed: parseIntegerOption('--seed', raw.seed, 0, 2 ** 31),
  authenticatedShare,
  onProgress: (sent) => process.stderr.write(`\r${sent} / ${frames} frames`),
});
process.stderr.write('\n');
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
process.exit(report.healthy ? 0 : 1);
