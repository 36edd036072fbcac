/**
 * Graceful stops under a steady write trickle (the same trickle as the failover
 * phase): SIGTERM of the leader, which hands leadership over before it exits, and a
 * rolling restart of every node the way an operator does it (followers first, the
 * leader last; each one SIGTERMed, restarted and caught up before the next). What a
 * client sees is the longest pause between acknowledged writes and the writes that
 * failed; both are measured over the whole step, restart included.
 */
import type { Cluster } from '../src/cluster/local-cluster.js';
import { largestAckGap } from './ack-gaps.js';
import { WriteTrickle, pollNewLeader, round1, spread, waitCaughtUp } from './failover.js';
import type { WorkloadShape } from './workload.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The trickle's settings and what happened to its writes. */
export interface TrickleSummary {
  readonly intervalMs: number;
  readonly deadlineMs: number;
  readonly acknowledged: number;
  readonly failed: number;
  readonly firstError: string | null;
}

/** One SIGTERM of the leader. Times are from the signal. */
export interface LeaderStopResult {
  readonly stopped: number;
  readonly oldTerm: number;
  readonly newLeader: number | null;
  readonly newTerm: number | null;
  /** First status poll where a survivor is leader in a newer term. */
  readonly leaderKnownMs: number | null;
  /** The stopped process exited (after its hand-over). */
  readonly exitMs: number;
  /** Acknowledgement of the first write sent after the signal. */
  readonly nextWriteAckMs: number | null;
  /** Longest pause between acknowledged writes from the signal to the end of the restart. */
  readonly largestWriteGapMs: number;
  /** Writes that failed from the signal to the end of the restart (must be 0). */
  readonly failedWrites: number;
  /** Restart of the stopped node to it having applied the leader's commit index. */
  readonly restartCaughtUpMs: number;
}

/** Every SIGTERM of the leader, with medians and maxima. */
export interface LeaderStopsResult {
  readonly stops: LeaderStopResult[];
  readonly largestWriteGapMs: { readonly median: number; readonly max: number };
  readonly leaderKnownMs: { readonly median: number; readonly max: number };
  readonly failedWrites: number;
  readonly trickle: TrickleSummary;
}

/** One node of a rolling restart. Times are from its signal. */
export interface RollingStep {
  readonly id: number;
  readonly wasLeader: boolean;
  readonly exitMs: number;
  readonly restartCaughtUpMs: number;
}

/** A rolling restart of the whole cluster. */
export interface RollingRestartResult {
  /** Node ids in the order they were restarted (the leader at the start is last). */
  readonly order: number[];
  readonly steps: RollingStep[];
  /** First signal to the last node caught up. */
  readonly totalMs: number;
  /** Longest pause between acknowledged writes over the whole restart. */
  readonly largestWriteGapMs: number;
  /** Writes that failed over the whole restart (must be 0). */
  readonly failedWrites: number;
  readonly trickle: TrickleSummary;
}

/** Settings shared by both phases. */
export interface GracefulOptions {
  readonly cluster: Cluster;
  readonly shape: WorkloadShape;
  readonly intervalMs: number;
  readonly writeDeadlineMs: number;
  readonly pollMs: number;
  /** Longest wait for any one step (exit, new leader, first write, catch-up). */
  readonly stepTimeoutMs: number;
}

function summary(trickle: WriteTrickle, options: GracefulOptions): TrickleSummary {
  return { intervalMs: options.intervalMs, deadlineMs: options.writeDeadlineMs, acknowledged: trickle.acknowledged, failed: trickle.failed, firstError: trickle.firstError };
}

/** Runs `body` with a started trickle; stops it (waiting for writes in flight) afterwards. */
async function withTrickle<T>(options: GracefulOptions, body: (trickle: WriteTrickle) => Promise<T>): Promise<{ value: T; trickle: WriteTrickle }> {
  const trickle = new WriteTrickle(options.cluster.addresses(), options.shape, options.intervalMs, options.writeDeadlineMs);
  trickle.start();
  try {
    // Let the trickle's client find the leader before the first signal.
    await sleep(200);
    return { value: await body(trickle), trickle };
  } finally {
    await trickle.stop();
  }
}

/** SIGTERMs node `id`, waits for its exit, restarts it and waits until it has caught up. */
async function restartGracefully(cluster: Cluster, id: number, signalAt: number, timeoutMs: number): Promise<{ exitMs: number; restartCaughtUpMs: number }> {
  const exited = cluster.kill(id, 'SIGTERM');
  const timedOut = sleep(timeoutMs).then(() => 'timeout' as const);
  if ((await Promise.race([exited, timedOut])) === 'timeout') throw new Error(`node ${id} did not exit within ${timeoutMs} ms of SIGTERM`);
  const exitMs = round1(performance.now() - signalAt);
  const restarted = performance.now();
  cluster.startNode(id);
  await waitCaughtUp(cluster, id, timeoutMs);
  return { exitMs, restartCaughtUpMs: round1(performance.now() - restarted) };
}

async function stopLeaderOnce(trickle: WriteTrickle, options: GracefulOptions): Promise<LeaderStopResult> {
  const { cluster } = options;
  const leader = await cluster.waitForLeader(options.stepTimeoutMs);
  const survivors = cluster.ids.filter((id) => id !== leader.id).map((id) => cluster.address(id));
  const failedBefore = trickle.failed;
  const signalAt = performance.now();
  const nextAck = trickle.nextAckSentAfter(signalAt, options.stepTimeoutMs);
  const poll = pollNewLeader(survivors, leader.term, signalAt, options);
  const { exitMs, restartCaughtUpMs } = await restartGracefully(cluster, leader.id, signalAt, options.stepTimeoutMs);
  const [polled, ackedAt] = await Promise.all([poll, nextAck]);
  return {
    stopped: leader.id,
    oldTerm: leader.term,
    newLeader: polled.leader,
    newTerm: polled.term,
    leaderKnownMs: polled.knownMs,
    exitMs,
    nextWriteAckMs: ackedAt === null ? null : round1(ackedAt - signalAt),
    largestWriteGapMs: round1(largestAckGap(trickle.ackTimes, signalAt, performance.now())),
    failedWrites: trickle.failed - failedBefore,
    restartCaughtUpMs,
  };
}

/** SIGTERMs the leader `stops` times under a write trickle, restarting it each time. */
export async function runLeaderStops(options: GracefulOptions & { readonly stops: number; readonly onStop?: (done: number) => void }): Promise<LeaderStopsResult> {
  const { value: stops, trickle } = await withTrickle(options, async (trickle) => {
    const results: LeaderStopResult[] = [];
    for (let i = 0; i < options.stops; i += 1) {
      results.push(await stopLeaderOnce(trickle, options));
      options.onStop?.(i + 1);
    }
    return results;
  });
  return {
    stops,
    largestWriteGapMs: spread(stops.map((s) => s.largestWriteGapMs), options.stepTimeoutMs),
    leaderKnownMs: spread(stops.map((s) => s.leaderKnownMs), options.stepTimeoutMs),
    failedWrites: trickle.failed,
    trickle: summary(trickle, options),
  };
}

/** Restarts every node in turn (followers first, the leader last) under a write trickle. */
export async function runRollingRestart(options: GracefulOptions): Promise<RollingRestartResult> {
  const { cluster } = options;
  const { value, trickle } = await withTrickle(options, async (trickle) => {
    const first = await cluster.waitForLeader(options.stepTimeoutMs);
    const order = [...cluster.ids.filter((id) => id !== first.id), first.id];
    const started = performance.now();
    const steps: RollingStep[] = [];
    for (const id of order) {
      const leader = await cluster.waitForLeader(options.stepTimeoutMs);
      const signalAt = performance.now();
      steps.push({ id, wasLeader: leader.id === id, ...(await restartGracefully(cluster, id, signalAt, options.stepTimeoutMs)) });
    }
    const ended = performance.now();
    return { order, steps, totalMs: round1(ended - started), largestWriteGapMs: round1(largestAckGap(trickle.ackTimes, started, ended)) };
  });
  return { ...value, failedWrites: trickle.failed, trickle: summary(trickle, options) };
}
