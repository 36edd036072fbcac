/**
 * raft-ts benchmark (`npm run bench`): starts real clusters of raft-node processes on
 * free loopback ports with fresh data dirs (fsync on, default flags), drives them from
 * this one process with the project's client library, prints one JSON object on
 * stdout (progress on stderr) and records it in bench/results/.
 *
 *   node dist/bench/run-bench.js [--quick] [--nodes 3,5] [--seconds 5]
 *     [--clients 1,16,64,256] [--value-bytes 100] [--read-inflight 64] [--kills 5]
 *     [--leader-stops 3] [--no-rolling-restart]
 *     [--loops-per-client 16] [--no-save]
 *   node dist/bench/run-bench.js --soak [--soak-writes 1000000] [--soak-max-seconds N] [--no-save]
 *   node dist/bench/run-bench.js --tls [--tls-rounds 3] [--seconds 5] [--no-save]
 *
 * `--soak` runs the soak phase (bench/soak.ts) instead of the regular phases; the
 * report then has `results: []` and a `soak` object. `--tls` likewise runs only the
 * TLS-to-plaintext comparison (bench/tls-ratio.ts): `results: []` and a `tls` object.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { installSignalHandlers, startWatchdog } from './cleanup.js';
import type { Cluster } from '../src/cluster/local-cluster.js';
import { runCluster, stepsPerCluster } from './cluster-run.js';
import type { BenchSettings, ClusterResult } from './cluster-run.js';
import { machineInfo } from './measure.js';
import type { MachineInfo } from './measure.js';
import { availabilitySummary } from './failover-report.js';
import { Progress } from './progress.js';
import { SOAK_STEPS, runSoak } from './soak.js';
import type { SoakResult, SoakSettings } from './soak.js';
import { soakSummary, verdict } from './soak-report.js';
import type { SoakVerdict } from './soak-report.js';
import { runTlsRatio, tlsSettingsFrom, tlsSteps, tlsSummary } from './tls-ratio.js';
import type { TlsBenchSettings, TlsResult } from './tls-ratio.js';

// This file runs from dist/bench/.
const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RESULTS_DIR = path.join(projectRoot, 'bench', 'results');

interface RawOptions {
  quick: boolean;
  nodes?: string;
  seconds?: string;
  clients: string;
  valueBytes: string;
  readInflight: string;
  kills?: string;
  leaderStops?: string;
  rollingRestart: boolean;
  loopsPerClient: string;
  save: boolean;
  soak: boolean;
  metrics: boolean;
  soakWrites: string;
  soakMaxSeconds?: string;
  tls: boolean;
  tlsRounds: string;
}

export interface BenchReport {
  readonly tool: 'raft-ts bench';
  readonly timestamp: string;
  readonly command: string;
  readonly settings: BenchSettings & { readonly quick: boolean; readonly nodeFlags: string };
  readonly machine: MachineInfo | null;
  readonly results: ClusterResult[];
  /** Only with --soak. */
  readonly soakSettings?: SoakSettings;
  readonly soak?: SoakResult;
  readonly soakVerdict?: SoakVerdict;
  /** Only with --tls. */
  readonly tlsSettings?: TlsBenchSettings;
  readonly tls?: TlsResult;
  readonly durationSeconds: number;
  /** Other work on the machine skews every figure; compare with machine.loadAverageAtStart. */
  readonly loadAverageAtEnd: number[];
  readonly resultFile: string | null;
  readonly error?: string;
}

function numberList(flag: string, text: string, min: number, max: number): number[] {
  const values = text.split(',').map((part) => Number(part.trim()));
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < min || v > max)) {
    throw new Error(`${flag} must be a comma-separated list of integers from ${min} to ${max}, got "${text}"`);
  }
  return values;
}

function number(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`${flag} must be a number from ${min} to ${max}, got "${text}"`);
  return value;
}

function settingsFrom(raw: RawOptions): BenchSettings & { quick: boolean; nodeFlags: string } {
  const quick = raw.quick;
  const seconds = number('--seconds', raw.seconds ?? (quick ? '1' : '5'), 0.1, 120);
  const nodeCounts = numberList('--nodes', raw.nodes ?? '3,5', 1, 9);
  if (nodeCounts.some((n) => n !== 3 && n !== 5)) throw new Error('--nodes takes 3, 5 or 3,5');
  return {
    quick,
    nodeFlags: 'default raft-node flags: --tick-ms 50 --election-ticks 6 --heartbeat-ticks 1, PreVote and CheckQuorum on, fsync (fdatasync) per append batch',
    nodeCounts,
    seconds,
    warmupSeconds: quick ? Math.min(0.2, seconds / 4) : Math.min(1, seconds / 5),
    idleSeconds: quick ? 0.5 : 2,
    inflight: numberList('--clients', raw.clients, 1, 4096),
    readInflight: number('--read-inflight', raw.readInflight, 0, 4096),
    loopsPerClient: number('--loops-per-client', raw.loopsPerClient, 1, 4096),
    keySpace: 10_000,
    valueBytes: number('--value-bytes', raw.valueBytes, 1, 1_000_000),
    kills: number('--kills', raw.kills ?? (quick ? '2' : '5'), 0, 20),
    leaderStops: number('--leader-stops', raw.leaderStops ?? (quick ? '1' : '3'), 0, 20),
    rollingRestart: raw.rollingRestart,
    requestDeadlineMs: 10_000,
    metrics: raw.metrics,
  };
}

/** The soak: 3 nodes, 64 in flight, 10,000 keys, the value size of the regular phases. */
function soakSettingsFrom(raw: RawOptions): SoakSettings {
  const writes = number('--soak-writes', raw.soakWrites, 100, 100_000_000);
  return {
    nodes: 3,
    writes: Math.round(writes),
    inflight: 64,
    loopsPerClient: number('--loops-per-client', raw.loopsPerClient, 1, 4096),
    keySpace: 10_000,
    valueBytes: number('--value-bytes', raw.valueBytes, 1, 1_000_000),
    // Even at 1,000 writes/s (a sixth of the usual rate) the load ends in time.
    maxSeconds: number('--soak-max-seconds', raw.soakMaxSeconds ?? String(Math.round(120 + writes / 1000)), 1, 86_400),
    sampleSeconds: 10,
    windowMs: 1000,
    requestDeadlineMs: 10_000,
    restartPollMs: 25,
    restartTimeoutMs: 60_000,
  };
}

interface ParsedArgs {
  readonly settings: BenchSettings & { quick: boolean; nodeFlags: string };
  readonly save: boolean;
  readonly soak: SoakSettings | null;
  readonly tls: TlsBenchSettings | null;
}

function parseArgs(argv: readonly string[]): ParsedArgs {
  const program = new Command('run-bench')
    .description('Benchmark real raft-node clusters on loopback; prints one JSON object.')
    .option('--quick', 'short phases and 2 kills: the whole run in under 30 s', false)
    .option('--nodes <list>', 'cluster sizes: 3, 5 or 3,5 (default both)')
    .option('--seconds <n>', 'measured seconds per phase (default 5; 1 with --quick)')
    .option('--clients <list>', 'requests in flight per write phase; 1 is the sequential phase', '1,16,64,256')
    .option('--value-bytes <n>', 'value size in bytes', '100')
    .option('--read-inflight <n>', 'requests in flight for the read phases (0: skip them)', '64')
    .option('--kills <n>', 'leader kills in the failover phase (default 5; 2 with --quick)')
    .option('--leader-stops <n>', 'SIGTERMs of the leader under a write trickle (default 3; 1 with --quick)')
    .option('--no-rolling-restart', 'skip the rolling restart (SIGTERM and restart each node in turn)')
    .option('--loops-per-client <n>', 'request loops sharing one RaftClient', '16')
    .option('--no-save', 'do not write the result to bench/results/')
    .option('--metrics', 'nodes serve /metrics, /status and /events (--http-port): the cost of observability', false)
    .option('--soak', 'run the soak (3 nodes, 64 in flight, default snapshot policy) instead of the regular phases', false)
    .option('--soak-writes <n>', 'writes in the soak', '1000000')
    .option('--soak-max-seconds <n>', 'bound on the soak load (default 120 + writes/1000)')
    .option('--tls', 'run only writes at 64 in flight on 3 nodes, TLS against plaintext, alternating rounds', false)
    .option('--tls-rounds <n>', 'rounds of each mode with --tls (median of each)', '3')
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  program.parse([...argv]);
  const raw = program.opts<RawOptions>();
  if (raw.soak && raw.tls) throw new Error('--soak and --tls are separate runs; give one');
  return { settings: settingsFrom(raw), save: raw.save, soak: raw.soak ? soakSettingsFrom(raw) : null, tls: raw.tls ? tlsSettingsFrom(raw) : null };
}

function save(report: BenchReport, nameTail: string): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = report.timestamp.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const file = path.join(RESULTS_DIR, `${stamp}-${nameTail}.json`);
  writeFileSync(file, JSON.stringify({ ...report, resultFile: path.relative(projectRoot, file) }, null, 2) + '\n');
  return path.relative(projectRoot, file);
}

function commandLine(): string {
  const argv = ['node', ...process.argv.slice(1).map((arg, i) => (i === 0 ? path.relative(process.cwd(), arg) : arg))].join(' ');
  return process.env.npm_lifecycle_event === 'bench' ? `npm run bench (${argv})` : argv;
}

const errorText = (err: unknown): string => (err instanceof Error ? (err.stack ?? err.message) : String(err));

/**
 * A run of one phase on its own instead of the regular ones (--soak, --tls): the
 * report has `results: []` and the phase's own fields.
 */
interface SolePhase<T> {
  readonly steps: number;
  readonly watchdogMs: number;
  readonly run: (progress: Progress, onCluster: (cluster: Cluster) => void) => Promise<T>;
  /** Settings shown in the report and the fields the phase adds to it. */
  readonly settings: BenchReport['settings'];
  readonly fields: (result: T | undefined) => Partial<BenchReport>;
  readonly fileTail: string;
  readonly summary: (result: T) => string;
}

async function solePhaseMain<T>(phase: SolePhase<T>, shouldSave: boolean): Promise<number> {
  const progress = new Progress(phase.steps);
  installSignalHandlers(() => progress.stop());
  startWatchdog(phase.watchdogMs, () => progress.stop());
  const timestamp = new Date().toISOString();
  const started = performance.now();
  let machine: MachineInfo | null = null;
  let result: T | undefined;
  let error: string | undefined;
  try {
    result = await phase.run(progress, (cluster) => (machine ??= machineInfo(cluster.workDir)));
  } catch (err) {
    error = errorText(err);
  } finally {
    progress.stop();
  }
  let report: BenchReport = {
    tool: 'raft-ts bench',
    timestamp,
    command: commandLine(),
    settings: phase.settings,
    machine: machine ?? machineInfo(os.tmpdir()),
    results: [],
    ...phase.fields(result),
    durationSeconds: Math.round(performance.now() - started) / 1000,
    loadAverageAtEnd: os.loadavg().map((v) => Math.round(v * 100) / 100),
    resultFile: null,
    ...(error === undefined ? {} : { error }),
  };
  if (shouldSave) report = { ...report, resultFile: save(report, phase.fileTail) };
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  if (result !== undefined) process.stderr.write(phase.summary(result));
  if (error !== undefined) process.stderr.write(`bench: failed: ${error}\n`);
  return error === undefined ? 0 : 1;
}

function soakMain(settings: BenchSettings & { quick: boolean; nodeFlags: string }, soakSettings: SoakSettings, shouldSave: boolean): Promise<number> {
  return solePhaseMain<SoakResult>(
    {
      steps: SOAK_STEPS,
      // Start-up, settling and the restart are bounded on their own (20 s, 30 s, 30 s, 60 s).
      watchdogMs: (soakSettings.maxSeconds + soakSettings.requestDeadlineMs / 1000 + 300) * 1000,
      run: (progress, onCluster) => runSoak(soakSettings, progress, onCluster),
      settings: { ...settings, nodeCounts: [soakSettings.nodes] },
      fields: (soak) => ({ soakSettings, ...(soak === undefined ? {} : { soak, soakVerdict: verdict(soak) }) }),
      fileTail: `${soakSettings.nodes}-soak${soakSettings.writes === 1_000_000 ? '' : `-${soakSettings.writes}`}`,
      summary: (soak) => soakSummary(soak, verdict(soak)),
    },
    shouldSave,
  );
}

function tlsMain(settings: BenchSettings & { quick: boolean; nodeFlags: string }, tlsSettings: TlsBenchSettings, shouldSave: boolean): Promise<number> {
  const expectedSeconds = 40 + 2 * tlsSettings.roundsPerMode * (settings.seconds + settings.warmupSeconds + 1);
  return solePhaseMain<TlsResult>(
    {
      steps: tlsSteps(tlsSettings),
      watchdogMs: expectedSeconds * 3 * 1000,
      run: (progress, onCluster) => runTlsRatio(settings, tlsSettings, progress, onCluster),
      settings: { ...settings, nodeCounts: [tlsSettings.nodes], inflight: [tlsSettings.inflight] },
      fields: (tls) => ({ tlsSettings, ...(tls === undefined ? {} : { tls }) }),
      fileTail: `${tlsSettings.nodes}-tls${settings.quick ? '-quick' : ''}`,
      summary: tlsSummary,
    },
    shouldSave,
  );
}

async function main(): Promise<number> {
  const { settings, save: shouldSave, soak, tls } = parseArgs(process.argv);
  if (soak !== null) return soakMain(settings, soak, shouldSave);
  if (tls !== null) return tlsMain(settings, tls, shouldSave);
  const progress = new Progress(settings.nodeCounts.length * stepsPerCluster(settings));
  installSignalHandlers(() => progress.stop());
  const expectedSeconds = settings.nodeCounts.length * (10 + (settings.inflight.length + 2) * (settings.seconds + settings.warmupSeconds + 0.5) + (settings.kills + settings.leaderStops) * 4 + (settings.rollingRestart ? 5 * 4 : 0));
  startWatchdog(Math.max(60, expectedSeconds * 3) * 1000, () => progress.stop());
  const timestamp = new Date().toISOString();
  const started = performance.now();
  const results: ClusterResult[] = [];
  let machine: MachineInfo | null = null;
  let error: string | undefined;
  try {
    for (const nodes of settings.nodeCounts) {
      results.push(await runCluster(nodes, settings, progress, (cluster) => (machine ??= machineInfo(cluster.workDir))));
    }
  } catch (err) {
    error = errorText(err);
  } finally {
    progress.stop();
  }
  const command = commandLine();
  const durationSeconds = Math.round(performance.now() - started) / 1000;
  let report: BenchReport = { tool: 'raft-ts bench', timestamp, command, settings, machine: machine ?? machineInfo(os.tmpdir()), results, durationSeconds, loadAverageAtEnd: os.loadavg().map((v) => Math.round(v * 100) / 100), resultFile: null, ...(error === undefined ? {} : { error }) };
  if (shouldSave) report = { ...report, resultFile: save(report, `${settings.nodeCounts.join('-')}${settings.quick ? '-quick' : ''}`) };
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  process.stderr.write(availabilitySummary(results));
  if (error !== undefined) process.stderr.write(`bench: failed: ${error}\n`);
  return error === undefined ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
