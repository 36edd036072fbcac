/**
 * Measurement helpers for the benchmark: HDR latency histograms (one value per
 * request, send to acknowledgement), /proc sampling of the node processes, data-dir
 * sizes and a description of the machine.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

/** Latency percentiles in milliseconds (microsecond resolution). */
export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

const round3 = (value: number): number => Math.round(value * 1000) / 1000;

/** Records request latencies in microseconds in an HDR histogram (3 significant digits). */
export class LatencyRecorder {
  private readonly histogram: Histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });

  /** One request's latency, from `performance.now()` differences. */
  recordMs(ms: number): void {
    this.histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  summary(): LatencySummary {
    const at = (percentile: number): number => (this.count === 0 ? 0 : round3(this.histogram.getValueAtPercentile(percentile) / 1000));
    return { count: this.count, p50Ms: at(50), p99Ms: at(99), p999Ms: at(99.9), maxMs: this.count === 0 ? 0 : round3(this.histogram.maxValue / 1000) };
  }
}

/** One reading of a process's counters from /proc. */
export interface ProcSample {
  readonly rssBytes: number;
  readonly hwmBytes: number;
  readonly cpuSeconds: number;
  /** /proc/<pid>/io write_bytes: bytes of page cache this process dirtied (sent to storage). */
  readonly writeBytes: number;
}

const CLOCK_TICKS = clockTicks();

function clockTicks(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

function statusKb(text: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match === null ? 0 : Number(match[1]) * 1024;
}

function ioField(text: string, field: string): number {
  const match = new RegExp(`^${field}: (\\d+)`, 'm').exec(text);
  return match === null ? 0 : Number(match[1]);
}

/** utime + stime in seconds; fields after the parenthesised command name. */
function cpuSecondsFromStat(text: string): number {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Reads /proc for `pid`; undefined when the process is gone (or /proc is missing). */
export function sampleProcess(pid: number): ProcSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    let io = '';
    try {
      io = readFileSync(`/proc/${pid}/io`, 'utf8');
    } catch {
      // Not readable in some containers; the io figures stay 0.
    }
    return {
      rssBytes: statusKb(status, 'VmRSS'),
      hwmBytes: statusKb(status, 'VmHWM'),
      cpuSeconds: cpuSecondsFromStat(stat),
      writeBytes: ioField(io, 'write_bytes'),
    };
  } catch {
    return undefined;
  }
}

/** Totals for one node id over every process (incarnation) that ran as it. */
export interface NodeUsage {
  readonly id: number;
  readonly pids: number[];
  readonly peakRssBytes: number;
  readonly cpuSeconds: number;
  readonly writeBytes: number;
}

interface Incarnation {
  readonly pid: number;
  first: ProcSample;
  last: ProcSample;
  peakRss: number;
}

/**
 * Samples every node's process every `intervalMs`. A node restarted after a kill is
 * a new pid; its counters add to the node's totals. Counters are deltas from a
 * baseline (`resetCounters`), except the peak RSS, which is a maximum over samples
 * and VmHWM. What a process did between its last sample and its death is lost (at
 * most one interval).
 */
export class ProcessSampler {
  private readonly incarnations = new Map<number, Incarnation[]>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pids: () => ReadonlyMap<number, number>,
    private readonly intervalMs = 200,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
  }

  /** Forgets dead incarnations and makes the live ones count from now. */
  resetCounters(): void {
    this.sample();
    for (const [id, list] of this.incarnations) {
      const live = list.slice(-1).map((inc) => ({ ...inc, first: inc.last, peakRss: inc.last.rssBytes }));
      this.incarnations.set(id, live);
    }
  }

  sample(): void {
    for (const [id, pid] of this.pids()) {
      const reading = sampleProcess(pid);
      if (reading !== undefined) this.record(id, pid, reading);
    }
  }

  /** Current RSS of each live node. */
  currentRss(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [id, pid] of this.pids()) out[String(id)] = sampleProcess(pid)?.rssBytes ?? 0;
    return out;
  }

  usage(): NodeUsage[] {
    return [...this.incarnations].sort(([a], [b]) => a - b).map(([id, list]) => ({
      id,
      pids: list.map((inc) => inc.pid),
      peakRssBytes: Math.max(0, ...list.map((inc) => inc.peakRss)),
      cpuSeconds: round3(sum(list.map((inc) => inc.last.cpuSeconds - inc.first.cpuSeconds))),
      writeBytes: sum(list.map((inc) => inc.last.writeBytes - inc.first.writeBytes)),
    }));
  }

  private record(id: number, pid: number, reading: ProcSample): void {
    const list = this.incarnations.get(id) ?? [];
    this.incarnations.set(id, list);
    let inc = list.find((candidate) => candidate.pid === pid);
    if (inc === undefined) {
      // A process first seen now started at zero (it is a fresh restart) unless it
      // is the baseline sample; the caller resets counters after start-up.
      inc = { pid, first: zeroSample(), last: reading, peakRss: 0 };
      list.push(inc);
    }
    inc.last = reading;
    inc.peakRss = Math.max(inc.peakRss, reading.rssBytes, reading.hwmBytes);
  }
}

function zeroSample(): ProcSample {
  return { rssBytes: 0, hwmBytes: 0, cpuSeconds: 0, writeBytes: 0 };
}

export function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Total size in bytes of the regular files under `dir` (0 if it does not exist). */
export function directoryBytes(dir: string): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const full = path.join(dir, name);
    try {
      const stats = statSync(full);
      total += stats.isDirectory() ? directoryBytes(full) : stats.size;
    } catch {
      // Removed while we looked.
    }
  }
  return total;
}

export interface DiskInfo {
  readonly filesystem: string;
  readonly type: string;
  readonly mountedOn: string;
  readonly sizeBytes: number;
  /** /sys/block/<dev>/queue/rotational as the kernel reports it (virtual disks often
   * say true whatever backs them); null when the device cannot be found. */
  readonly kernelRotationalFlag: boolean | null;
}

/** What `df` says about the filesystem holding `dir`; null when df is unavailable. */
export function diskOf(dir: string): DiskInfo | null {
  try {
    const text = execFileSync('df', ['-P', '-T', '-B1', dir], { encoding: 'utf8', timeout: 5000 });
    const fields = text.trim().split('\n').at(-1)!.split(/\s+/);
    const filesystem = fields[0]!;
    return { filesystem, type: fields[1]!, sizeBytes: Number(fields[2]), mountedOn: fields.slice(6).join(' '), kernelRotationalFlag: rotational(filesystem) };
  } catch {
    return null;
  }
}

function rotational(device: string): boolean | null {
  const name = path.basename(device).replace(/p?\d+$/, '');
  try {
    return readFileSync(`/sys/block/${name}/queue/rotational`, 'utf8').trim() === '1';
  } catch {
    return null;
  }
}

export interface MachineInfo {
  readonly os: string;
  readonly cpuModel: string;
  readonly cpuCount: number;
  readonly totalMemoryBytes: number;
  readonly nodeVersion: string;
  readonly loadAverageAtStart: number[];
  readonly disk: DiskInfo | null;
}

export function machineInfo(dataDir: string): MachineInfo {
  const cpus = os.cpus();
  return {
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    totalMemoryBytes: os.totalmem(),
    nodeVersion: process.version,
    loadAverageAtStart: os.loadavg().map((value) => Math.round(value * 100) / 100),
    disk: diskOf(dataDir),
  };
}

/** CPU used during one phase, as a percentage of one core: the load process and each node. */
export interface CpuShare {
  readonly loadProcessPercent: number;
  readonly nodesPercent: Record<string, number>;
}

/** Call `begin` at a phase's start and `end` at its end. */
export class CpuWindow {
  private startedAt = 0;
  private loadStart: NodeJS.CpuUsage = { user: 0, system: 0 };
  private nodesStart = new Map<number, { pid: number; cpu: number }>();

  constructor(private readonly pids: () => ReadonlyMap<number, number>) {}

  begin(): void {
    this.startedAt = performance.now();
    this.loadStart = process.cpuUsage();
    this.nodesStart = new Map([...this.pids()].map(([id, pid]) => [id, { pid, cpu: sampleProcess(pid)?.cpuSeconds ?? 0 }]));
  }

  end(): CpuShare {
    const wallSeconds = Math.max(1e-3, (performance.now() - this.startedAt) / 1000);
    const load = process.cpuUsage(this.loadStart);
    const percent = (seconds: number): number => Math.round((seconds / wallSeconds) * 1000) / 10;
    const nodesPercent: Record<string, number> = {};
    for (const [id, pid] of this.pids()) {
      const start = this.nodesStart.get(id);
      const now = sampleProcess(pid)?.cpuSeconds;
      if (start !== undefined && start.pid === pid && now !== undefined) nodesPercent[String(id)] = percent(now - start.cpu);
    }
    return { loadProcessPercent: percent((load.user + load.system) / 1e6), nodesPercent };
  }
}
