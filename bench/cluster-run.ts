/**
 * Everything measured on one cluster size: start a fresh cluster (default flags,
 * fsync on), let it idle, then sequential writes, concurrent writes, linearizable and
 * stale reads, SIGTERM of the leader, a rolling restart, failover (SIGKILL), and the
 * nodes' resource use; tear it down in a `finally`.
 */
import path from 'node:path';
import { Cluster, freePorts } from '../src/cluster/local-cluster.js';
import type { RaftClient } from '../src/client/raft-client.js';
import type { TlsMaterial } from '../src/tls/tls-config.js';
import { register, teardown } from './cleanup.js';
import { runFailover } from './failover.js';
import type { FailoverResult } from './failover.js';
import { runLeaderStops, runRollingRestart } from './graceful.js';
import type { GracefulOptions, LeaderStopsResult, RollingRestartResult } from './graceful.js';
import { CpuWindow, ProcessSampler, directoryBytes, sum } from './measure.js';
import type { CpuShare, NodeUsage } from './measure.js';
import type { Progress } from './progress.js';
import { getOperation, makeClients, putOperation, runLoad, warmClients } from './workload.js';
import type { LoadResult, Operation, WorkloadShape } from './workload.js';

export interface BenchSettings {
  readonly nodeCounts: readonly number[];
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly idleSeconds: number;
  /** In-flight levels; 1 is the sequential-write phase. */
  readonly inflight: readonly number[];
  readonly readInflight: number;
  /** Request loops sharing one RaftClient. */
  readonly loopsPerClient: number;
  readonly keySpace: number;
  readonly valueBytes: number;
  readonly kills: number;
  /** SIGTERMs of the leader (each restarted and caught up before the next). */
  readonly leaderStops: number;
  readonly rollingRestart: boolean;
  readonly requestDeadlineMs: number;
  /** Nodes serve /metrics (--http-port), which turns on the driver's observers. */
  readonly metrics?: boolean;
}

export type PhaseResult = LoadResult & { readonly cpu: CpuShare };

export interface ClusterResult {
  readonly nodes: number;
  readonly dataDir: string;
  readonly startupMs: number;
  readonly idleRssBytes: Record<string, number>;
  readonly sequentialWrites: PhaseResult | null;
  readonly concurrentWrites: PhaseResult[];
  readonly linearizableReads: (PhaseResult & { readonly foundFraction: number }) | null;
  readonly staleReads: (PhaseResult & { readonly foundFraction: number }) | null;
  readonly failover: FailoverResult | null;
  /** SIGTERM of the leader under the failover phase's write trickle. */
  readonly leaderStops: LeaderStopsResult | null;
  readonly rollingRestart: RollingRestartResult | null;
  readonly resources: ResourceResult;
}

export interface ResourceResult {
  readonly note: string;
  readonly perNode: NodeUsage[];
  readonly maxPeakRssBytes: number;
  readonly maxCpuSeconds: number;
  readonly totalCpuSeconds: number;
  readonly loadProcessCpuSeconds: number;
  readonly acknowledgedWrites: number;
  readonly dataDirGrowthBytes: number;
  readonly dataDirBytesPerWrite: number;
  readonly writeBytesPerWrite: number;
}

/** The number of progress steps `runCluster` reports for these settings. */
export function stepsPerCluster(settings: BenchSettings): number {
  return 2 + settings.inflight.length + (settings.readInflight > 0 ? 2 : 0) + settings.kills + settings.leaderStops + (settings.rollingRestart ? 1 : 0);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Live node pids by id. */
function pidsOf(cluster: Cluster): ReadonlyMap<number, number> {
  const pids = new Map<number, number>();
  for (const id of cluster.ids) {
    const pid = cluster.pid(id);
    if (pid !== undefined) pids.set(id, pid);
  }
  return pids;
}

/** The load phases on one running cluster; `clientTls` makes every load client use that certificate. */
export class ClusterBench {
  readonly sampler: ProcessSampler;
  private readonly cpu: CpuWindow;
  private readonly shape: WorkloadShape;
  acknowledgedWrites = 0;

  constructor(
    readonly cluster: Cluster,
    private readonly settings: BenchSettings,
    private readonly progress: Progress,
    private readonly clientTls?: TlsMaterial,
  ) {
    this.sampler = new ProcessSampler(() => pidsOf(cluster));
    this.cpu = new CpuWindow(() => pidsOf(cluster));
    this.shape = { keySpace: settings.keySpace, valueBytes: settings.valueBytes };
  }

  /** One load phase on fresh clients (one per `loopsPerClient` loops). */
  async phase(name: string, inflight: number, operation: (shape: WorkloadShape) => Operation, isWrite: boolean): Promise<PhaseResult> {
    this.progress.begin(`${this.cluster.ids.length} nodes: ${name}`);
    const clients = makeClients(this.cluster.addresses(), Math.ceil(inflight / this.settings.loopsPerClient), this.settings.requestDeadlineMs, this.clientTls);
    try {
      await warmClients(clients, this.shape);
      this.acknowledgedWrites += clients.length;
      this.cpu.begin();
      const result = await runLoad({
        clients,
        inflight,
        warmupMs: this.settings.warmupSeconds * 1000,
        measureMs: this.settings.seconds * 1000,
        operation: operation(this.shape),
        onProgress: (fraction) => this.progress.within(fraction),
      });
      if (isWrite) this.acknowledgedWrites += result.acknowledgedTotal;
      return { ...result, cpu: this.cpu.end() };
    } finally {
      closeAll(clients);
      this.progress.end();
    }
  }

  async writes(inflight: number): Promise<PhaseResult> {
    const name = inflight === 1 ? 'sequential writes' : `writes, ${inflight} in flight`;
    return this.phase(name, inflight, (shape) => putOperation(shape, this.settings.requestDeadlineMs), true);
  }

  async reads(stale: boolean): Promise<PhaseResult & { foundFraction: number }> {
    const found = { hits: 0, misses: 0 };
    const name = `${stale ? 'stale' : 'linearizable'} reads, ${this.settings.readInflight} in flight`;
    const result = await this.phase(name, this.settings.readInflight, (shape) => getOperation(shape, this.settings.requestDeadlineMs, stale, found), false);
    const foundFraction = Math.round((found.hits / Math.max(1, found.hits + found.misses)) * 1000) / 1000;
    return { ...result, foundFraction };
  }

  private gracefulOptions(): GracefulOptions {
    return { cluster: this.cluster, shape: this.shape, intervalMs: 10, writeDeadlineMs: 5_000, pollMs: 10, stepTimeoutMs: 15_000 };
  }

  async leaderStops(): Promise<LeaderStopsResult> {
    const nodes = this.cluster.ids.length;
    const stops = this.settings.leaderStops;
    this.progress.begin(`${nodes} nodes: SIGTERM of the leader, 1 of ${stops}`);
    const result = await runLeaderStops({
      ...this.gracefulOptions(),
      stops,
      onStop: (done) => {
        this.progress.end();
        if (done < stops) this.progress.begin(`${nodes} nodes: SIGTERM of the leader, ${done + 1} of ${stops}`);
      },
    });
    this.acknowledgedWrites += result.trickle.acknowledged;
    return result;
  }

  async rollingRestart(): Promise<RollingRestartResult> {
    this.progress.begin(`${this.cluster.ids.length} nodes: rolling restart`);
    try {
      const result = await runRollingRestart(this.gracefulOptions());
      this.acknowledgedWrites += result.trickle.acknowledged;
      return result;
    } finally {
      this.progress.end();
    }
  }

  async failover(): Promise<FailoverResult> {
    const nodes = this.cluster.ids.length;
    this.progress.begin(`${nodes} nodes: failover, kill 1 of ${this.settings.kills}`);
    const result = await runFailover({
      cluster: this.cluster,
      shape: this.shape,
      kills: this.settings.kills,
      intervalMs: 10,
      writeDeadlineMs: 5_000,
      pollMs: 10,
      stepTimeoutMs: 15_000,
      onKill: (done) => {
        this.progress.end();
        if (done < this.settings.kills) this.progress.begin(`${nodes} nodes: failover, kill ${done + 1} of ${this.settings.kills}`);
      },
    });
    this.acknowledgedWrites += result.trickle.acknowledged;
    return result;
  }
}

/** The nodes' data dirs only (the work dir also holds the node logs, which the load process writes). */
function dataDirBytes(cluster: Cluster): number {
  return sum(cluster.ids.map((id) => directoryBytes(path.join(cluster.workDir, `data-${id}`))));
}

function closeAll(clients: readonly RaftClient[]): void {
  for (const client of clients) client.close();
}

function resources(bench: ClusterBench, dataDirStart: number, loadCpuStart: NodeJS.CpuUsage): ResourceResult {
  bench.sampler.stop();
  const perNode = bench.sampler.usage();
  const growth = dataDirBytes(bench.cluster) - dataDirStart;
  const writes = Math.max(1, bench.acknowledgedWrites);
  const load = process.cpuUsage(loadCpuStart);
  return {
    note: `from the end of the idle period to the end of the run, over every process that ran as each node (restarts included; up to 200 ms of a killed process's last activity is missed); peak RSS is the max of VmHWM/VmRSS samples every 200 ms; CPU is utime+stime from /proc/<pid>/stat; per-write figures divide by every acknowledged write: dataDirBytesPerWrite = growth of the data dirs of all nodes (the WALs: logical bytes), writeBytesPerWrite = /proc/<pid>/io write_bytes summed over nodes (page-cache pages dirtied, so 4 KiB per page touched per fsync batch: what the disk is asked to write)`,
    perNode,
    maxPeakRssBytes: Math.max(0, ...perNode.map((n) => n.peakRssBytes)),
    maxCpuSeconds: Math.max(0, ...perNode.map((n) => n.cpuSeconds)),
    totalCpuSeconds: Math.round(sum(perNode.map((n) => n.cpuSeconds)) * 1000) / 1000,
    loadProcessCpuSeconds: Math.round(((load.user + load.system) / 1e6) * 1000) / 1000,
    acknowledgedWrites: bench.acknowledgedWrites,
    dataDirGrowthBytes: growth,
    dataDirBytesPerWrite: Math.round(growth / writes),
    writeBytesPerWrite: Math.round(sum(perNode.map((n) => n.writeBytes)) / writes),
  };
}

/** Node arguments and client certificate of a TLS cluster (see bench/tls-ratio.ts). */
export interface ClusterTls {
  readonly nodeArgs: (id: number) => readonly string[];
  readonly clientTls: TlsMaterial;
}

/**
 * Node.js options for every node, from the environment: RAFT_BENCH_CPU_PROF=DIR
 * writes a V8 CPU profile per node process into DIR; RAFT_BENCH_NODE_FLAGS='--flag
 * ...' adds options after raft-node's own (the later one wins), to compare launch
 * settings on one build.
 */
function nodeExecArgv(): string[] {
  const profileDir = process.env['RAFT_BENCH_CPU_PROF'] ?? '';
  const profile = profileDir === '' ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
  const flags = (process.env['RAFT_BENCH_NODE_FLAGS'] ?? '').split(' ').filter((flag) => flag !== '');
  return [...profile, ...flags];
}

/** Starts a fresh cluster (registered for teardown) and waits for its leader; `label` names it in the progress bar. */
export async function startCluster(nodes: number, progress: Progress, metrics: boolean, tls?: ClusterTls, label = `${nodes} nodes`): Promise<{ cluster: Cluster; startupMs: number }> {
  progress.begin(`${label}: starting`);
  const httpPorts = metrics ? await freePorts(nodes) : [];
  const metricsArgs = (id: number): readonly string[] => (metrics ? ['--http-port', String(httpPorts[id - 1])] : []);
  const cluster = new Cluster({
    nodes,
    nodeArgs: metrics || tls !== undefined ? (id) => [...metricsArgs(id), ...(tls?.nodeArgs(id) ?? [])] : undefined,
    clientTls: tls?.clientTls,
    execArgv: nodeExecArgv(),
  });
  register(cluster);
  const started = performance.now();
  await cluster.start();
  await cluster.waitForLeader(20_000);
  progress.end();
  return { cluster, startupMs: Math.round(performance.now() - started) };
}

/** Runs every phase on a fresh cluster of `nodes` nodes; the cluster is always torn down. */
export async function runCluster(nodes: number, settings: BenchSettings, progress: Progress, onCluster: (cluster: Cluster) => void): Promise<ClusterResult> {
  const { cluster, startupMs } = await startCluster(nodes, progress, settings.metrics ?? false);
  try {
    onCluster(cluster);
    return await measureCluster(cluster, startupMs, settings, progress);
  } finally {
    await teardown(cluster);
  }
}

async function measureCluster(cluster: Cluster, startupMs: number, settings: BenchSettings, progress: Progress): Promise<ClusterResult> {
  const bench = new ClusterBench(cluster, settings, progress);
  bench.sampler.start();
  progress.begin(`${cluster.ids.length} nodes: idle`);
  await sleep(settings.idleSeconds * 1000);
  const idleRssBytes = bench.sampler.currentRss();
  bench.sampler.resetCounters();
  progress.end();
  const dataDirStart = dataDirBytes(cluster);
  const loadCpuStart = process.cpuUsage();
  const sequentialWrites = settings.inflight.includes(1) ? await bench.writes(1) : null;
  const concurrentWrites: PhaseResult[] = [];
  for (const inflight of settings.inflight.filter((n) => n > 1)) concurrentWrites.push(await bench.writes(inflight));
  const linearizableReads = settings.readInflight > 0 ? await bench.reads(false) : null;
  const staleReads = settings.readInflight > 0 ? await bench.reads(true) : null;
  // The graceful phases restart every node they stop; the failover phase leaves its last victim down, so it runs last.
  const leaderStops = settings.leaderStops > 0 ? await bench.leaderStops() : null;
  const rollingRestart = settings.rollingRestart ? await bench.rollingRestart() : null;
  const failover = settings.kills > 0 ? await bench.failover() : null;
  const usage = resources(bench, dataDirStart, loadCpuStart);
  return { nodes: cluster.ids.length, dataDir: cluster.workDir, startupMs, idleRssBytes, sequentialWrites, concurrentWrites, linearizableReads, staleReads, failover, leaderStops, rollingRestart, resources: usage };
}
