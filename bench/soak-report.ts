/**
 * The soak's figures against the targets of issue 9 §3, for the JSON report and a
 * short readable summary on stderr.
 */
import type { SoakResult } from './soak.js';

export const SOAK_TARGETS = {
  rssEndMaxMB: 120,
  /** "Flat after the first snapshot": last sample within this much of the first one after it. */
  rssFlatToleranceMB: 10,
  snapshotP99RatioMax: 2,
  restartCaughtUpMaxMs: 1_000,
} as const;

export interface SoakVerdict {
  readonly targets: typeof SOAK_TARGETS;
  readonly rssAtEndWithinTarget: boolean;
  /** Strict: the last sample against the first one after the first snapshot. */
  readonly rssFlatAfterFirstSnapshot: boolean;
  /** Plateau: the second half's mean against the first half's, after the first snapshot. */
  readonly rssNoDriftAfterFirstSnapshot: boolean;
  readonly snapshotP99RatioWithinTarget: boolean | null;
  readonly restartCaughtUpWithinTarget: boolean;
  readonly note: string;
}

export function verdict(soak: SoakResult): SoakVerdict {
  const flat = soak.memory.every((n) => n.firstRssAfterFirstSnapshotMB !== null && n.lastRssMB - n.firstRssAfterFirstSnapshotMB <= SOAK_TARGETS.rssFlatToleranceMB);
  const noDrift = soak.memory.every((n) => n.meanRssFirstHalfAfterSnapshotMB !== null && n.meanRssSecondHalfAfterSnapshotMB !== null && n.meanRssSecondHalfAfterSnapshotMB - n.meanRssFirstHalfAfterSnapshotMB <= SOAK_TARGETS.rssFlatToleranceMB);
  return {
    targets: SOAK_TARGETS,
    rssAtEndWithinTarget: soak.memory.every((n) => n.lastRssMB <= SOAK_TARGETS.rssEndMaxMB),
    rssFlatAfterFirstSnapshot: flat,
    rssNoDriftAfterFirstSnapshot: noDrift,
    snapshotP99RatioWithinTarget: soak.latency.ratio === null ? null : soak.latency.ratio <= SOAK_TARGETS.snapshotP99RatioMax,
    restartCaughtUpWithinTarget: soak.restart?.caughtUpMs !== null && soak.restart?.caughtUpMs !== undefined && soak.restart.caughtUpMs <= SOAK_TARGETS.restartCaughtUpMaxMs,
    note: `MB = 2^20 bytes; no drift = the mean of the second half of the RSS samples after a node's first snapshot is at most ${SOAK_TARGETS.rssFlatToleranceMB} MB above the mean of the first half; flat = the last RSS sample is at most ${SOAK_TARGETS.rssFlatToleranceMB} MB above the first sample after the node's first snapshot; disk boundedness is read from disk[].maxSampledMB and samples[].nodes[].diskBytes`,
  };
}

/** A few lines for a person; the JSON on stdout has everything. */
export function soakSummary(soak: SoakResult, v: SoakVerdict): string {
  const yes = (ok: boolean | null): string => (ok === null ? 'n/a' : ok ? 'met' : 'MISSED');
  const lines = [
    `soak: ${soak.acknowledged} writes acknowledged of ${soak.writesSent} sent in ${soak.seconds} s = ${soak.writesPerSec} writes/s (${soak.errors} errors${soak.timedOut ? ', stopped by the time bound' : ''})`,
    ...soak.memory.map((n) => `  node ${n.id}: RSS last ${n.lastRssMB} MB, max after first snapshot ${n.maxRssAfterFirstSnapshotMB ?? '-'} MB (first after it ${n.firstRssAfterFirstSnapshotMB ?? '-'} MB, at ${n.firstSnapshotAtSeconds ?? '-'} s), mean ${n.meanRssFirstHalfAfterSnapshotMB ?? '-'} then ${n.meanRssSecondHalfAfterSnapshotMB ?? '-'} MB over the two halves after it, VmHWM ${Math.round(n.peakRssBytes / 1048576)} MB`),
    ...soak.disk.map((d) => `  node ${d.id}: disk wal ${d.walBytes} B (${d.walFiles} files) + snap ${d.snapBytes} B (${d.snapFiles} files) = ${d.totalMB} MB, max sampled ${d.maxSampledMB} MB`),
    `  snapshots per node ${JSON.stringify(soak.snapshots.perNode)}, save mean ${soak.snapshots.meanSaveMs} ms, max ${soak.snapshots.maxSaveMs} ms, ${soak.snapshots.lastBytes} B`,
    `  write p99 per 1 s window: median ${soak.latency.withSnapshot.medianP99Ms} ms in ${soak.latency.withSnapshot.windows} windows with a snapshot, ${soak.latency.withoutSnapshot.medianP99Ms} ms in ${soak.latency.withoutSnapshot.windows} without: ratio ${soak.latency.ratio ?? '-'} (leader's snapshots only: ${soak.latency.leaderSnapshot.ratio ?? '-'}); overall p99 ${soak.latency.overallP99Ms} ms`,
    soak.restart === null
      ? '  restart: not measured'
      : `  restart of follower ${soak.restart.node}: status answered after ${soak.restart.statusAnswerMs ?? '-'} ms, caught up to commit ${soak.restart.targetCommit} after ${soak.restart.caughtUpMs ?? '-'} ms (snapshot restored at ${soak.restart.restoredSnapshotMs ?? '-'} ms, node started at ${soak.restart.nodeStartedMs ?? '-'} ms)`,
    `  targets: RSS <= ${SOAK_TARGETS.rssEndMaxMB} MB at the end ${yes(v.rssAtEndWithinTarget)}; flat after the first snapshot ${yes(v.rssFlatAfterFirstSnapshot)} (no drift between its halves ${yes(v.rssNoDriftAfterFirstSnapshot)}); snapshot p99 ratio <= ${SOAK_TARGETS.snapshotP99RatioMax} ${yes(v.snapshotP99RatioWithinTarget)}; restart caught up <= ${SOAK_TARGETS.restartCaughtUpMaxMs} ms ${yes(v.restartCaughtUpWithinTarget)}`,
  ];
  return lines.join('\n') + '\n';
}
