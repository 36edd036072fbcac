/**
 * The cost of mutual TLS (`npm run bench -- --tls`): two 3-node clusters run side by
 * side, one plaintext and one with certificates from `raft-cli certs init` (made here
 * into a temporary directory with the same code), and the same write phase (64 in
 * flight) runs on them in turn: plaintext, TLS, plaintext, TLS, ... Alternating
 * spreads slow drifts of the machine (other work, page cache, thermal) over both
 * modes; the medians of each mode give the ratio. While one cluster is measured the
 * other idles (heartbeats only), so each mode has the same neighbour.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Cluster } from '../src/cluster/local-cluster.js';
import { certsInit } from '../src/tls/certs.js';
import { loadTlsMaterial } from '../src/tls/tls-config.js';
import { teardown } from './cleanup.js';
import type { BenchSettings, ClusterTls } from './cluster-run.js';
import { ClusterBench, startCluster } from './cluster-run.js';
import type { CpuShare } from './measure.js';
import { median } from './measure.js';
import type { Progress } from './progress.js';
import { putOperation } from './workload.js';

export type TlsMode = 'plaintext' | 'tls';

/** The target of issue 13: TLS writes at 64 in flight at least this share of plaintext's. */
export const TLS_RATIO_TARGET = 0.7;

export interface TlsBenchSettings {
  readonly nodes: number;
  readonly inflight: number;
  /** Measured rounds of each mode (so 2 × this phases in all). */
  readonly roundsPerMode: number;
}

/** One measured phase. */
export interface TlsRound {
  readonly round: number;
  readonly mode: TlsMode;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly cpu: CpuShare;
}

/** `tls` in the saved report. */
export interface TlsResult {
  readonly nodes: number;
  readonly inflight: number;
  readonly seconds: number;
  /** Median writes/s over the plaintext rounds. */
  readonly plaintextOpsPerSec: number;
  /** Median writes/s over the TLS rounds. */
  readonly tlsOpsPerSec: number;
  /** tlsOpsPerSec / plaintextOpsPerSec, 3 decimals; 0 when plaintext did nothing. */
  readonly ratio: number;
  readonly target: number;
  readonly rounds: readonly TlsRound[];
  readonly note: string;
}

/**
 * Reads `--tls-rounds` (rounds of each mode, at least 2 so a median means something).
 * @throws Error with the flag's name on a bad value.
 */
export function tlsSettingsFrom(raw: { readonly tlsRounds: string }): TlsBenchSettings {
  const rounds = Number(raw.tlsRounds);
  if (!Number.isInteger(rounds) || rounds < 2 || rounds > 20) throw new Error(`--tls-rounds must be an integer from 2 to 20, got "${raw.tlsRounds}"`);
  return { nodes: 3, inflight: 64, roundsPerMode: rounds };
}

/** The order of the phases: plaintext first, then alternating, `roundsPerMode` of each. */
export function roundSchedule(roundsPerMode: number): TlsMode[] {
  return Array.from({ length: 2 * roundsPerMode }, (_, i) => (i % 2 === 0 ? 'plaintext' : 'tls'));
}

/** The medians of each mode and their ratio. */
export function tlsRatio(rounds: readonly Pick<TlsRound, 'mode' | 'opsPerSec'>[]): { plaintextOpsPerSec: number; tlsOpsPerSec: number; ratio: number } {
  const of = (mode: TlsMode): number => median(rounds.filter((r) => r.mode === mode).map((r) => r.opsPerSec));
  const plaintextOpsPerSec = of('plaintext');
  const tlsOpsPerSec = of('tls');
  const ratio = plaintextOpsPerSec > 0 ? Math.round((tlsOpsPerSec / plaintextOpsPerSec) * 1000) / 1000 : 0;
  return { plaintextOpsPerSec, tlsOpsPerSec, ratio };
}

/** Progress steps of `runTlsRatio`: two start-ups and every round. */
export function tlsSteps(tls: TlsBenchSettings): number {
  return 2 + 2 * tls.roundsPerMode;
}

/** Certificates for nodes 1..n and the client, made with raft-cli certs init's code into `dir`. */
async function makeCertificates(dir: string, nodes: number): Promise<ClusterTls> {
  const ids = Array.from({ length: nodes }, (_, i) => i + 1);
  await certsInit({ outDir: dir, nodes: ids });
  const file = (name: string): string => path.join(dir, name);
  const clientTls = await loadTlsMaterial({ certFile: file('client.crt'), keyFile: file('client.key'), caFile: file('ca.crt') });
  return {
    nodeArgs: (id) => ['--tls-cert', file(`node-${id}.crt`), '--tls-key', file(`node-${id}.key`), '--tls-ca', file('ca.crt')],
    clientTls,
  };
}

/**
 * Runs the alternating rounds on a plaintext and a TLS cluster (both torn down, and
 * the certificates removed, whatever happens). `settings` gives the phase length,
 * warm-up, value size and loops per client, as for the regular phases.
 */
export async function runTlsRatio(settings: BenchSettings, tls: TlsBenchSettings, progress: Progress, onCluster: (cluster: Cluster) => void): Promise<TlsResult> {
  const certDir = mkdtempSync(path.join(os.tmpdir(), 'raft-ts-bench-certs-'));
  const clusters: Cluster[] = [];
  try {
    const material = await makeCertificates(path.join(certDir, 'certs'), tls.nodes);
    const plain = await startCluster(tls.nodes, progress, false, undefined, 'plaintext');
    clusters.push(plain.cluster);
    onCluster(plain.cluster);
    const secure = await startCluster(tls.nodes, progress, false, material, 'tls');
    clusters.push(secure.cluster);
    const benches: Record<TlsMode, ClusterBench> = {
      plaintext: new ClusterBench(plain.cluster, settings, progress),
      tls: new ClusterBench(secure.cluster, settings, progress, material.clientTls),
    };
    const rounds: TlsRound[] = [];
    for (const [i, mode] of roundSchedule(tls.roundsPerMode).entries()) {
      const phase = await benches[mode].phase(`${mode} round ${Math.floor(i / 2) + 1}: writes, ${tls.inflight} in flight`, tls.inflight, (shape) => putOperation(shape, settings.requestDeadlineMs), true);
      rounds.push({ round: i + 1, mode, opsPerSec: phase.opsPerSec, p50Ms: phase.latency.p50Ms, p99Ms: phase.latency.p99Ms, errors: phase.errors, cpu: phase.cpu });
    }
    return {
      nodes: tls.nodes,
      inflight: tls.inflight,
      seconds: settings.seconds,
      ...tlsRatio(rounds),
      target: TLS_RATIO_TARGET,
      rounds,
      note: `two ${tls.nodes}-node clusters side by side, one plaintext and one with mutual TLS 1.3 (ECDSA P-256 certificates from certs init; the load uses the client certificate); rounds alternate plaintext, TLS, ...; each round is ${settings.warmupSeconds} s warm-up + ${settings.seconds} s measured on fresh clients; ops/s are medians over each mode's rounds; cpu is % of one core per node during the round`,
    };
  } finally {
    for (const cluster of clusters) await teardown(cluster);
    rmSync(certDir, { recursive: true, force: true });
  }
}

/** The summary line on stderr. */
export function tlsSummary(result: TlsResult): string {
  const rounds = result.rounds.map((r) => `${r.mode} ${r.opsPerSec}`).join(', ');
  const met = result.ratio >= result.target ? 'met' : 'MISSED';
  return `tls: ${result.tlsOpsPerSec} writes/s with TLS vs ${result.plaintextOpsPerSec} plaintext at ${result.inflight} in flight on ${result.nodes} nodes (medians): ratio ${result.ratio} (target >= ${result.target} ${met}); rounds: ${rounds}\n`;
}
