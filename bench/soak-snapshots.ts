/**
 * When each node took its snapshots, read back from the nodes' JSON log lines
 * ('snapshot taken' {index, bytes, ms} and the 'log compacted' that follows), and
 * the split of the soak's one-second latency windows into windows during which
 * some node was snapshotting and windows during which none was.
 */
import { readFileSync } from 'node:fs';
import { median } from './measure.js';

/** One snapshot of one node, in epoch ms: from the start of the save to the end of compaction. */
export interface SnapshotInterval {
  readonly node: number;
  readonly index: number;
  readonly bytes: number;
  /** Serializing and writing the snapshot file, as the node logged it. */
  readonly saveMs: number;
  readonly startEpochMs: number;
  /** End of the log compaction that followed (the save's end when none was logged). */
  readonly endEpochMs: number;
}

interface LogLine {
  readonly time?: unknown;
  readonly msg?: unknown;
  readonly index?: unknown;
  readonly bytes?: unknown;
  readonly ms?: unknown;
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** The snapshots node `node` logged in `logFile` (a restarted node appends to the same file). */
export function snapshotIntervals(node: number, logFile: string): SnapshotInterval[] {
  let text: string;
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return [];
  }
  const out: SnapshotInterval[] = [];
  let open: SnapshotInterval | undefined;
  for (const raw of text.split('\n')) {
    if (!raw.includes('"snapshot taken"') && !raw.includes('"log compacted"')) continue;
    let line: LogLine;
    try {
      line = JSON.parse(raw) as LogLine;
    } catch {
      continue;
    }
    if (!isNumber(line.time)) continue;
    if (line.msg === 'snapshot taken' && isNumber(line.index) && isNumber(line.ms)) {
      if (open !== undefined) out.push(open);
      open = { node, index: line.index, bytes: isNumber(line.bytes) ? line.bytes : 0, saveMs: line.ms, startEpochMs: line.time - line.ms, endEpochMs: line.time };
    } else if (line.msg === 'log compacted' && open !== undefined && line.index === open.index) {
      out.push({ ...open, endEpochMs: line.time });
      open = undefined;
    }
  }
  if (open !== undefined) out.push(open);
  return out;
}

/** The 99th percentile of `values` (nearest rank); 0 for none. */
export function p99(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
}

export interface WindowSummary {
  /** Seconds from the soak's start to the window's start. */
  readonly t: number;
  readonly count: number;
  readonly p99Ms: number;
  /** Nodes that were snapshotting at some point of the window. */
  readonly snapshotting: number[];
}

export interface WindowGroup {
  readonly windows: number;
  readonly medianP99Ms: number;
  readonly maxP99Ms: number;
}

export interface SnapshotLatencySplit {
  readonly note: string;
  readonly windowMs: number;
  readonly minWritesPerWindow: number;
  /** Windows during which some node (any) was taking a snapshot vs none. */
  readonly withSnapshot: WindowGroup;
  readonly withoutSnapshot: WindowGroup;
  /** withSnapshot.medianP99Ms / withoutSnapshot.medianP99Ms (target: at most 2). */
  readonly ratio: number | null;
  /** The same split, counting only the leader's snapshots. */
  readonly leaderSnapshot: { readonly leader: number; readonly withSnapshot: WindowGroup; readonly withoutSnapshot: WindowGroup; readonly ratio: number | null };
  readonly series: WindowSummary[];
}

const round3 = (value: number): number => Math.round(value * 1000) / 1000;

function group(windows: readonly WindowSummary[]): WindowGroup {
  const values = windows.map((w) => w.p99Ms);
  return { windows: windows.length, medianP99Ms: round3(median(values)), maxP99Ms: round3(Math.max(0, ...values)) };
}

const ratioOf = (a: WindowGroup, b: WindowGroup): number | null => (a.windows === 0 || b.windows === 0 || b.medianP99Ms === 0 ? null : Math.round((a.medianP99Ms / b.medianP99Ms) * 100) / 100);

/**
 * Classifies each window by the snapshot intervals that overlap it. Windows with
 * fewer than `minWritesPerWindow` acknowledgements (the last, partial one, say)
 * are left out: their p99 is noise.
 */
export function splitBySnapshot(windows: readonly number[][], startEpochMs: number, windowMs: number, intervals: readonly SnapshotInterval[], leader: number, minWritesPerWindow: number): SnapshotLatencySplit {
  const series: WindowSummary[] = windows.map((latencies, i) => {
    const from = startEpochMs + i * windowMs;
    const to = from + windowMs;
    const snapshotting = [...new Set(intervals.filter((s) => s.startEpochMs < to && s.endEpochMs >= from).map((s) => s.node))].sort((a, b) => a - b);
    return { t: (i * windowMs) / 1000, count: latencies.length, p99Ms: round3(p99(latencies)), snapshotting };
  });
  const counted = series.filter((w) => w.count >= minWritesPerWindow);
  const withSnapshot = group(counted.filter((w) => w.snapshotting.length > 0));
  const withoutSnapshot = group(counted.filter((w) => w.snapshotting.length === 0));
  const leaderWith = group(counted.filter((w) => w.snapshotting.includes(leader)));
  const leaderWithout = group(counted.filter((w) => !w.snapshotting.includes(leader)));
  return {
    note: `write p99 per ${windowMs} ms window of acknowledgement time; a window is "with snapshot" when it overlaps some node's snapshot, from the start of its save ('snapshot taken' time minus its ms) to the end of the log compaction that follows ('log compacted' time), as logged by the nodes; windows with fewer than ${minWritesPerWindow} writes are left out of the groups`,
    windowMs,
    minWritesPerWindow,
    withSnapshot,
    withoutSnapshot,
    ratio: ratioOf(withSnapshot, withoutSnapshot),
    leaderSnapshot: { leader, withSnapshot: leaderWith, withoutSnapshot: leaderWithout, ratio: ratioOf(leaderWith, leaderWithout) },
    series,
  };
}
