/**
 * The soak (`run-bench --soak`): a fresh 3-node cluster with default flags (fsync
 * on, default snapshot policy) takes a fixed number of writes at a fixed number in
 * flight. Every `sampleSeconds` each node's RSS (VmRSS by pid), bytes on disk
 * (wal/ + snap/) and log bounds are sampled; write latency is kept per one-second
 * window and split by whether some node was snapshotting. After the load, a
 * follower that was up the whole time is SIGKILLed and started again on its data
 * dir, and the time until it answers status and until it has applied the leader's
 * commit index is measured. Everything is bounded in count and time, and the
 * cluster is torn down by pid in a `finally`.
 */
import { dataDirLayout } from '../src/node/node-storage.js';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Cluster } from '../src/cluster/local-cluster.js';
import { RaftClient } from '../src/client/raft-client.js';
import type { NodeStatus } from '../src/protocol/client-messages.js';
import { register, teardown } from './cleanup.js';
import { directoryBytes, sampleProcess } from './measure.js';
import type { Progress } from './progress.js';
import { epochMs, runCountedLoad } from './soak-load.js';
import { p99, snapshotIntervals, splitBySnapshot } from './soak-snapshots.js';
import type { SnapshotInterval, SnapshotLatencySplit } from './soak-snapshots.js';
import { makeClients, putOperation, warmClients } from './workload.js';

export interface SoakSettings {
  readonly nodes: number;
  readonly writes: number;
  readonly inflight: number;
  readonly loopsPerClient: number;
  readonly keySpace: number;
  readonly valueBytes: number;
  /** Bound on the load phase; no write is sent after it. */
  readonly maxSeconds: number;
  readonly sampleSeconds: number;
  readonly windowMs: number;
  readonly requestDeadlineMs: number;
  readonly restartPollMs: number;
  readonly restartTimeoutMs: number;
}

/** Progress steps `runSoak` reports. */
export const SOAK_STEPS = 4;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const round1 = (value: number): number => Math.round(value * 10) / 10;
const MB = 1024 * 1024;
const mb = (bytes: number): number => Math.round((bytes / MB) * 10) / 10;

export interface NodeSample {
  readonly rssBytes: number;
  readonly diskBytes: number;
  readonly applied: number | null;
  readonly snapshotIndex: number | null;
  readonly firstIndex: number | null;
}

export interface SoakSample {
  /** Seconds since the load started. */
  readonly t: number;
  readonly epochMs: number;
  readonly nodes: Record<string, NodeSample>;
}

export interface NodeMemory {
  readonly id: number;
  readonly pid: number;
  readonly lastRssBytes: number;
  readonly lastRssMB: number;
  /** Max of the samples taken after this node's first snapshot (null: it took none). */
  readonly maxRssAfterFirstSnapshotBytes: number | null;
  readonly maxRssAfterFirstSnapshotMB: number | null;
  /** The first sample after the first snapshot, to compare `last` with (flatness). */
  readonly firstRssAfterFirstSnapshotMB: number | null;
  readonly firstSnapshotAtSeconds: number | null;
  /** Mean RSS of the first and the second half of the samples after the first
   * snapshot: a drift shows as a second half above the first. */
  readonly meanRssFirstHalfAfterSnapshotMB: number | null;
  readonly meanRssSecondHalfAfterSnapshotMB: number | null;
  /** VmHWM at the end: the process's lifetime peak. */
  readonly peakRssBytes: number;
}

export interface NodeDisk {
  readonly id: number;
  readonly walBytes: number;
  readonly snapBytes: number;
  readonly totalBytes: number;
  readonly totalMB: number;
  readonly walFiles: number;
  readonly snapFiles: number;
  /** Largest wal/ + snap/ total seen in the samples. */
  readonly maxSampledMB: number;
}

export interface RestartResult {
  readonly node: number;
  readonly leader: number;
  /** The leader's commit index once the cluster was idle, before the kill. */
  readonly targetCommit: number;
  /** Spawn of the new process to its first answer to a status request. */
  readonly statusAnswerMs: number | null;
  /** Spawn to the first status poll with applied >= targetCommit. */
  readonly caughtUpMs: number | null;
  readonly statusAtFirstAnswer: NodeStatus | null;
  /** The restarted process's log, relative to its spawn. */
  readonly restoredSnapshotMs: number | null;
  readonly nodeStartedMs: number | null;
  readonly rssAfterCatchUpBytes: number;
  readonly pollMs: number;
}

export interface SoakResult {
  readonly nodes: number;
  readonly dataDir: string;
  readonly leaderAtStart: number;
  readonly leaderAtEnd: number | null;
  readonly writesSent: number;
  readonly acknowledged: number;
  readonly errors: number;
  readonly firstError: string | null;
  readonly timedOut: boolean;
  readonly seconds: number;
  /** Acknowledged writes per second over the whole load. */
  readonly writesPerSec: number;
  readonly memory: NodeMemory[];
  readonly disk: NodeDisk[];
  readonly snapshots: { readonly perNode: Record<string, number>; readonly meanSaveMs: number; readonly maxSaveMs: number; readonly lastBytes: number };
  readonly latency: Omit<SnapshotLatencySplit, 'series'> & { readonly overallP99Ms: number };
  readonly restart: RestartResult | null;
  readonly samples: SoakSample[];
  readonly windows: SnapshotLatencySplit['series'];
  readonly snapshotIntervals: SnapshotInterval[];
}

function dataDir(cluster: Cluster, id: number): string {
  return path.join(cluster.workDir, `data-${id}`);
}

function diskOf(cluster: Cluster, id: number): { wal: number; snap: number } {
  const layout = dataDirLayout(dataDir(cluster, id));
  return { wal: directoryBytes(layout.wal), snap: directoryBytes(layout.snapshots) };
}

function fileCount(dir: string): number {
  try {
    return readdirSync(dir).length;
  } catch {
    return 0;
  }
}

/** VmRSS of node `id`'s live process; 0 when it is not running. */
function rssOf(cluster: Cluster, id: number): number {
  const pid = cluster.pid(id);
  return pid === undefined ? 0 : (sampleProcess(pid)?.rssBytes ?? 0);
}

/** Samples RSS, disk and log bounds of every live node every `intervalMs`. */
class SoakSampler {
  readonly samples: SoakSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private readonly client: RaftClient;

  private startEpochMs = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly intervalMs: number,
  ) {
    this.client = new RaftClient({ cluster: cluster.addresses(), connectTimeoutMs: 500 });
  }

  /** Sample times count from `startEpochMs`. */
  start(startEpochMs: number): void {
    this.startEpochMs = startEpochMs;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    while (this.busy) await sleep(10);
    await this.sample();
    this.client.close();
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const at = epochMs();
      // RSS first, at the sample's time; the status round trip comes after.
      const rss = new Map(this.cluster.ids.map((id) => [id, rssOf(this.cluster, id)]));
      const rows = await this.client.clusterStatus(1_000);
      const byId = new Map(rows.flatMap((row): [number, NodeStatus][] => ('status' in row ? [[row.status.id, row.status]] : [])));
      const nodes: Record<string, NodeSample> = {};
      for (const id of this.cluster.ids) {
        const disk = diskOf(this.cluster, id);
        const status = byId.get(id);
        nodes[String(id)] = { rssBytes: rss.get(id) ?? 0, diskBytes: disk.wal + disk.snap, applied: status?.applied ?? null, snapshotIndex: status?.snapshotIndex ?? null, firstIndex: status?.firstIndex ?? null };
      }
      this.samples.push({ t: round1((at - this.startEpochMs) / 1000), epochMs: Math.round(at), nodes });
    } finally {
      this.busy = false;
    }
  }
}

/** Waits until every node agrees on a leader and has applied its commit index. */
async function waitSettled(cluster: Cluster, timeoutMs: number): Promise<NodeStatus> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const statuses = await cluster.statuses();
    const leader = statuses.find((s) => s.role === 'leader');
    if (leader !== undefined && statuses.length === cluster.ids.length && statuses.every((s) => s.leader === leader.id && s.term === leader.term && s.applied >= leader.commit)) return leader;
    await sleep(50);
  }
  throw new Error(`the cluster did not settle (one leader, everything applied) within ${timeoutMs} ms after the load`);
}

/** Epoch ms of the first line with message `msg` at or after `sinceEpochMs` in a node log. */
function logTime(logFile: string, msg: string, sinceEpochMs: number): number | null {
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return null;
  }
  for (const raw of text.split('\n')) {
    if (!raw.includes(`"${msg}"`)) continue;
    try {
      const line = JSON.parse(raw) as { time?: unknown; msg?: unknown };
      if (line.msg === msg && typeof line.time === 'number' && line.time >= sinceEpochMs) return line.time;
    } catch {
      // A torn line: the process was killed while writing it.
    }
  }
  return null;
}

/**
 * SIGKILLs a follower of the idle cluster, starts it again on its data dir and
 * polls its status every `pollMs` until it has applied the leader's commit index.
 */
async function measureRestart(cluster: Cluster, settings: SoakSettings): Promise<RestartResult> {
  const leader = await waitSettled(cluster, 30_000);
  const node = cluster.ids.find((id) => id !== leader.id)!;
  await cluster.kill(node, 'SIGKILL');
  // Whole milliseconds: the node's log times are Date.now() values.
  const spawnEpoch = Math.floor(epochMs());
  const spawned = performance.now();
  cluster.startNode(node);
  const client = new RaftClient({ cluster: [cluster.address(node)], connectTimeoutMs: 100 });
  let statusAnswerMs: number | null = null;
  let caughtUpMs: number | null = null;
  let statusAtFirstAnswer: NodeStatus | null = null;
  try {
    while (caughtUpMs === null && performance.now() - spawned < settings.restartTimeoutMs) {
      const polled = performance.now();
      const [row] = await client.clusterStatus(Math.max(50, settings.restartPollMs * 4));
      if (row !== undefined && 'status' in row) {
        const now = performance.now();
        if (statusAnswerMs === null) {
          statusAnswerMs = round1(now - spawned);
          statusAtFirstAnswer = row.status;
        }
        if (row.status.applied >= leader.commit) caughtUpMs = round1(now - spawned);
      }
      if (caughtUpMs === null) await sleep(Math.max(0, settings.restartPollMs - (performance.now() - polled)));
    }
  } finally {
    client.close();
  }
  const logFile = path.join(cluster.workDir, `node-${node}.log`);
  const since = (msg: string): number | null => {
    const time = logTime(logFile, msg, spawnEpoch);
    return time === null ? null : time - spawnEpoch;
  };
  return {
    node,
    leader: leader.id,
    targetCommit: leader.commit,
    statusAnswerMs,
    caughtUpMs,
    statusAtFirstAnswer,
    restoredSnapshotMs: since('restored snapshot'),
    nodeStartedMs: since('raft node started'),
    rssAfterCatchUpBytes: rssOf(cluster, node),
    pollMs: settings.restartPollMs,
  };
}

function memoryOf(cluster: Cluster, samples: readonly SoakSample[], intervals: readonly SnapshotInterval[], startEpochMs: number): NodeMemory[] {
  return cluster.ids.map((id) => {
    const key = String(id);
    const series = samples.map((s) => ({ epochMs: s.epochMs, rss: s.nodes[key]?.rssBytes ?? 0 })).filter((s) => s.rss > 0);
    const first = intervals.find((s) => s.node === id);
    const after = first === undefined ? [] : series.filter((s) => s.epochMs >= first.endEpochMs);
    const last = series.at(-1)?.rss ?? 0;
    const maxAfter = after.length === 0 ? null : Math.max(...after.map((s) => s.rss));
    const pid = cluster.pid(id) ?? 0;
    const half = Math.floor(after.length / 2);
    const meanMB = (part: readonly { rss: number }[]): number | null => (part.length === 0 ? null : mb(part.reduce((total, s) => total + s.rss, 0) / part.length));
    return {
      id,
      pid,
      lastRssBytes: last,
      lastRssMB: mb(last),
      maxRssAfterFirstSnapshotBytes: maxAfter,
      maxRssAfterFirstSnapshotMB: maxAfter === null ? null : mb(maxAfter),
      firstRssAfterFirstSnapshotMB: after.length === 0 ? null : mb(after[0]!.rss),
      firstSnapshotAtSeconds: first === undefined ? null : round1((first.endEpochMs - startEpochMs) / 1000),
      meanRssFirstHalfAfterSnapshotMB: half === 0 ? null : meanMB(after.slice(0, half)),
      meanRssSecondHalfAfterSnapshotMB: half === 0 ? null : meanMB(after.slice(half)),
      peakRssBytes: sampleProcess(pid)?.hwmBytes ?? 0,
    };
  });
}

function diskAtEnd(cluster: Cluster, samples: readonly SoakSample[]): NodeDisk[] {
  return cluster.ids.map((id) => {
    const { wal, snap } = diskOf(cluster, id);
    const sampled = samples.map((s) => s.nodes[String(id)]?.diskBytes ?? 0);
    return {
      id,
      walBytes: wal,
      snapBytes: snap,
      totalBytes: wal + snap,
      totalMB: mb(wal + snap),
      walFiles: fileCount(dataDirLayout(dataDir(cluster, id)).wal),
      snapFiles: fileCount(dataDirLayout(dataDir(cluster, id)).snapshots),
      maxSampledMB: mb(Math.max(wal + snap, ...sampled)),
    };
  });
}

/** Runs the soak on a fresh cluster; the cluster is always torn down. */
export async function runSoak(settings: SoakSettings, progress: Progress, onCluster: (cluster: Cluster) => void): Promise<SoakResult> {
  progress.begin(`soak: starting ${settings.nodes} nodes`);
  const cluster = new Cluster({ nodes: settings.nodes });
  register(cluster);
  try {
    await cluster.start();
    const leaderAtStart = await cluster.waitForLeader(20_000);
    onCluster(cluster);
    progress.end();
    return await soakCluster(cluster, leaderAtStart.id, settings, progress);
  } finally {
    await teardown(cluster);
  }
}

async function soakCluster(cluster: Cluster, leaderAtStart: number, settings: SoakSettings, progress: Progress): Promise<SoakResult> {
  progress.begin(`soak: ${settings.writes} writes, ${settings.inflight} in flight`);
  const shape = { keySpace: settings.keySpace, valueBytes: settings.valueBytes };
  const clients = makeClients(cluster.addresses(), Math.ceil(settings.inflight / settings.loopsPerClient), settings.requestDeadlineMs);
  const sampler = new SoakSampler(cluster, settings.sampleSeconds * 1000);
  let load;
  try {
    await warmClients(clients, shape);
    sampler.start(epochMs());
    load = await runCountedLoad({
      clients,
      inflight: settings.inflight,
      writes: settings.writes,
      maxMs: settings.maxSeconds * 1000,
      windowMs: settings.windowMs,
      operation: putOperation(shape, settings.requestDeadlineMs),
      onProgress: (fraction) => progress.within(fraction),
    });
  } finally {
    for (const client of clients) client.close();
    await sampler.stop();
  }
  progress.end();
  const samples = sampler.samples;

  progress.begin('soak: settling');
  const leaderAtEnd = (await waitSettled(cluster, 30_000)).id;
  const intervals = cluster.ids.flatMap((id) => snapshotIntervals(id, path.join(cluster.workDir, `node-${id}.log`)));
  const memory = memoryOf(cluster, samples, intervals, load.startEpochMs);
  const disk = diskAtEnd(cluster, samples);
  progress.end();

  progress.begin('soak: restarting a follower');
  const restart = await measureRestart(cluster, settings);
  progress.end();

  const seconds = (load.endEpochMs - load.startEpochMs) / 1000;
  const minWritesPerWindow = Math.max(10, Math.round((load.acknowledged / Math.max(1, seconds)) * (settings.windowMs / 1000) * 0.25));
  const { series, ...split } = splitBySnapshot(load.windows, load.startEpochMs, settings.windowMs, intervals, leaderAtStart, minWritesPerWindow);
  const saveMs = intervals.map((s) => s.saveMs);
  const perNode: Record<string, number> = {};
  for (const id of cluster.ids) perNode[String(id)] = intervals.filter((s) => s.node === id).length;
  return {
    nodes: cluster.ids.length,
    dataDir: cluster.workDir,
    leaderAtStart,
    leaderAtEnd,
    writesSent: load.sent,
    acknowledged: load.acknowledged,
    errors: load.errors,
    firstError: load.firstError,
    timedOut: load.timedOut,
    seconds: round1(seconds),
    writesPerSec: Math.round(load.acknowledged / Math.max(1e-3, seconds)),
    memory,
    disk,
    snapshots: {
      perNode,
      meanSaveMs: round1(saveMs.reduce((a, b) => a + b, 0) / Math.max(1, saveMs.length)),
      maxSaveMs: Math.max(0, ...saveMs),
      lastBytes: intervals.at(-1)?.bytes ?? 0,
    },
    latency: { ...split, overallP99Ms: Math.round(p99(load.windows.flat()) * 1000) / 1000 },
    restart,
    samples,
    windows: series,
    snapshotIntervals: intervals,
  };
}
