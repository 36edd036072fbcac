/**
 * Failover: under a steady trickle of writes (one every `intervalMs`, each with its
 * own deadline), SIGKILL the leader, measure how long until a new leader is known
 * (status of the survivors polled every ~10 ms) and until the next write sent after
 * the kill is acknowledged; restart the killed node and wait until it has caught up
 * before the next kill.
 */
import type { Cluster } from '../src/cluster/local-cluster.js';
import { RaftClient } from '../src/client/raft-client.js';
import type { NodeStatus } from '../src/protocol/client-messages.js';
import { median } from './measure.js';
import { makeValue, randomKey } from './workload.js';
import type { WorkloadShape } from './workload.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** Rounds to 0.1 ms. */
export const round1 = (value: number): number => Math.round(value * 10) / 10;

interface AckWaiter {
  readonly sentAfter: number;
  readonly resolve: (ackedAt: number) => void;
}

/** One loop sending a write every `intervalMs` without waiting for earlier ones. */
export class WriteTrickle {
  private readonly client: RaftClient;
  private readonly value: string;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private readonly inflight = new Set<Promise<void>>();
  private waiters: AckWaiter[] = [];
  acknowledged = 0;
  failed = 0;
  /** performance.now() of every acknowledgement, in the order they arrived. */
  readonly ackTimes: number[] = [];
  firstError: string | null = null;

  constructor(
    addresses: readonly string[],
    private readonly shape: WorkloadShape,
    private readonly intervalMs: number,
    private readonly deadlineMs: number,
  ) {
    this.client = new RaftClient({ cluster: addresses, deadlineMs });
    this.value = makeValue(shape.valueBytes);
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Stops sending and waits (bounded by the deadline) for writes in flight. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.all(this.inflight);
    this.client.close();
  }

  /** Resolves with the acknowledgement time of the first write sent at or after
   * `sentAfter`, or null after `timeoutMs`. */
  nextAckSentAfter(sentAfter: number, timeoutMs: number): Promise<number | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(null);
      }, timeoutMs);
      const waiter: AckWaiter = {
        sentAfter,
        resolve: (ackedAt) => {
          clearTimeout(timer);
          resolve(ackedAt);
        },
      };
      this.waiters.push(waiter);
    });
  }

  private async run(): Promise<void> {
    let next = performance.now();
    while (this.running) {
      this.send();
      next += this.intervalMs;
      await sleep(Math.max(0, next - performance.now()));
    }
  }

  private send(): void {
    const sent = performance.now();
    const request = this.client.put(randomKey(this.shape.keySpace), this.value, { deadlineMs: this.deadlineMs }).then(
      () => this.acked(sent, performance.now()),
      (err: unknown) => {
        this.failed += 1;
        this.firstError ??= (err as Error).message ?? String(err);
      },
    );
    this.inflight.add(request);
    void request.finally(() => this.inflight.delete(request));
  }

  private acked(sent: number, ackedAt: number): void {
    this.acknowledged += 1;
    this.ackTimes.push(ackedAt);
    const ready = this.waiters.filter((w) => sent >= w.sentAfter);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => sent < w.sentAfter);
    for (const waiter of ready) waiter.resolve(ackedAt);
  }
}

export interface KillResult {
  readonly killed: number;
  readonly oldTerm: number;
  readonly newLeader: number | null;
  readonly newTerm: number | null;
  /** Kill to the first status poll where a survivor is leader in a newer term. */
  readonly leaderKnownMs: number | null;
  /** Kill to the first poll where every survivor names that leader. */
  readonly leaderAgreedMs: number | null;
  /** Kill to the acknowledgement of the first write sent after the kill. */
  readonly nextWriteAckMs: number | null;
  /** Restart of the killed node to it having applied the leader's commit index;
   * null after the last kill, which is not restarted (the cluster is torn down). */
  readonly restartCaughtUpMs: number | null;
}

export interface FailoverResult {
  readonly kills: KillResult[];
  readonly nextWriteAckMs: { readonly median: number; readonly max: number };
  readonly leaderKnownMs: { readonly median: number; readonly max: number };
  readonly trickle: { readonly intervalMs: number; readonly deadlineMs: number; readonly acknowledged: number; readonly failed: number; readonly firstError: string | null };
}

export interface FailoverOptions {
  readonly cluster: Cluster;
  readonly shape: WorkloadShape;
  readonly kills: number;
  readonly intervalMs: number;
  readonly writeDeadlineMs: number;
  readonly pollMs: number;
  /** Longest wait for any one step (new leader, first write, catch-up). */
  readonly stepTimeoutMs: number;
  readonly onKill?: (done: number) => void;
}

/** What `pollNewLeader` saw; times are from `since`. */
export interface LeaderPoll {
  leader: number | null;
  term: number | null;
  knownMs: number | null;
  agreedMs: number | null;
}

/** Polls the survivors' status every `pollMs` until they agree on a leader newer than `oldTerm`. */
export async function pollNewLeader(addresses: readonly string[], oldTerm: number, killedAt: number, options: Pick<FailoverOptions, 'pollMs' | 'stepTimeoutMs'>): Promise<LeaderPoll> {
  const client = new RaftClient({ cluster: addresses, connectTimeoutMs: 200 });
  const result: LeaderPoll = { leader: null, term: null, knownMs: null, agreedMs: null };
  const deadline = killedAt + options.stepTimeoutMs;
  try {
    while (performance.now() < deadline && result.agreedMs === null) {
      const started = performance.now();
      const rows = await client.clusterStatus(Math.max(options.pollMs * 5, 50));
      const statuses = rows.flatMap((row): NodeStatus[] => ('status' in row ? [row.status] : []));
      const leader = statuses.find((s) => s.role === 'leader' && s.term > oldTerm);
      if (leader !== undefined && result.knownMs === null) {
        Object.assign(result, { leader: leader.id, term: leader.term, knownMs: round1(performance.now() - killedAt) });
      }
      const agreed = leader !== undefined && statuses.length === addresses.length && statuses.every((s) => s.leader === leader.id && s.term === leader.term);
      if (agreed) result.agreedMs = round1(performance.now() - killedAt);
      await sleep(Math.max(0, options.pollMs - (performance.now() - started)));
    }
  } finally {
    client.close();
  }
  return result;
}

/**
 * Waits until every node answers and all agree on one leader, then until `id` has
 * applied what the leader had committed at that moment (writes keep arriving, so
 * the leader's commit index is a moving target).
 */
export async function waitCaughtUp(cluster: Cluster, id: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let target: number | undefined;
  while (performance.now() < deadline) {
    const statuses = await cluster.statuses();
    const leader = statuses.find((s) => s.role === 'leader');
    const node = statuses.find((s) => s.id === id);
    const agreed = leader !== undefined && statuses.length === cluster.ids.length && statuses.every((s) => s.leader === leader.id && s.term === leader.term);
    if (agreed) target ??= leader.commit;
    if (target !== undefined && node !== undefined && node.applied >= target) return;
    await sleep(25);
  }
  throw new Error(`node ${id} did not catch up within ${timeoutMs} ms after its restart`);
}

/** Kills the leader, measures, and (unless `last`) restarts it and waits for it to catch up. */
async function killOnce(cluster: Cluster, trickle: WriteTrickle, options: FailoverOptions, last: boolean): Promise<KillResult> {
  const leader = await cluster.waitForLeader(options.stepTimeoutMs);
  const survivors = cluster.ids.filter((id) => id !== leader.id).map((id) => cluster.address(id));
  const killedAt = performance.now();
  const nextAck = trickle.nextAckSentAfter(killedAt, options.stepTimeoutMs);
  await cluster.kill(leader.id, 'SIGKILL');
  const [poll, ackedAt] = await Promise.all([pollNewLeader(survivors, leader.term, killedAt, options), nextAck]);
  let restartCaughtUpMs: number | null = null;
  if (!last) {
    const restarted = performance.now();
    cluster.startNode(leader.id);
    await waitCaughtUp(cluster, leader.id, options.stepTimeoutMs);
    restartCaughtUpMs = round1(performance.now() - restarted);
  }
  return {
    killed: leader.id,
    oldTerm: leader.term,
    newLeader: poll.leader,
    newTerm: poll.term,
    leaderKnownMs: poll.knownMs,
    leaderAgreedMs: poll.agreedMs,
    nextWriteAckMs: ackedAt === null ? null : round1(ackedAt - killedAt),
    restartCaughtUpMs,
  };
}

/** Median and max of a step's times; a step that never happened counts as `timeoutMs`. */
export function spread(values: readonly (number | null)[], timeoutMs: number): { median: number; max: number } {
  // A step that never happened counts as the whole timeout, so it cannot flatter.
  const filled = values.map((value) => value ?? timeoutMs);
  return { median: round1(median(filled)), max: round1(Math.max(0, ...filled)) };
}

/** Kills the leader `options.kills` times under a write trickle. */
export async function runFailover(options: FailoverOptions): Promise<FailoverResult> {
  const trickle = new WriteTrickle(options.cluster.addresses(), options.shape, options.intervalMs, options.writeDeadlineMs);
  const kills: KillResult[] = [];
  trickle.start();
  try {
    await sleep(200);
    for (let i = 0; i < options.kills; i += 1) {
      kills.push(await killOnce(options.cluster, trickle, options, i === options.kills - 1));
      options.onKill?.(i + 1);
    }
  } finally {
    await trickle.stop();
  }
  return {
    kills,
    nextWriteAckMs: spread(kills.map((k) => k.nextWriteAckMs), options.stepTimeoutMs),
    leaderKnownMs: spread(kills.map((k) => k.leaderKnownMs), options.stepTimeoutMs),
    trickle: { intervalMs: options.intervalMs, deadlineMs: options.writeDeadlineMs, acknowledged: trickle.acknowledged, failed: trickle.failed, firstError: trickle.firstError },
  };
}
