import type { HistoryEvent, OperationName } from '../check/index.js';
import { ClientTimeoutError, NoReachableNodeError, RequestRefusedError } from '../client/errors.js';
import { RaftClient } from '../client/raft-client.js';
import { SeededRandom } from '../core/random.js';
import type { HistoryWriter } from './history-writer.js';

export interface WorkloadOptions {
  /** Concurrent clients (each one operation at a time). */
  readonly clients: number;
  readonly keys: readonly string[];
  /** The addresses each client group dials (its proxies); client i is in group i % groups. */
  readonly groupAddresses: readonly (readonly string[])[];
  /** Each operation's deadline is drawn from [min, max] ms. */
  readonly deadlineMs: readonly [number, number];
  /** Pause between one client's operations, drawn from [min, max] ms. */
  readonly thinkMs: readonly [number, number];
  /** No operation is invoked after this (performance.now() time). */
  readonly endAt: number;
  /** No more than this many operations in all. */
  readonly maxOps: number;
  readonly history: HistoryWriter;
  readonly seed: number;
}

export interface WorkloadCounts {
  ops: number;
  ok: number;
  fail: number;
  info: number;
  byOperation: Record<OperationName, { ok: number; fail: number; info: number }>;
  /** Errors other than the client library's documented ones (recorded as info). */
  unexpectedErrors: string[];
}

type Completion = Pick<HistoryEvent, 'value' | 'expect' | 'previous'>;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Clients doing put/get/cas/delete on a small key set through RaftClient, recording
 * every invocation and completion. An operation whose outcome is unknown (timeout,
 * no node reachable) completes as `info`, and the client then carries on as a new
 * process with a new RaftClient (a new session): a process never issues again after
 * an info.
 */
export class Workload {
  readonly counts: WorkloadCounts = {
    ops: 0,
    ok: 0,
    fail: 0,
    info: 0,
    byOperation: {
      put: { ok: 0, fail: 0, info: 0 },
      get: { ok: 0, fail: 0, info: 0 },
      cas: { ok: 0, fail: 0, info: 0 },
      delete: { ok: 0, fail: 0, info: 0 },
    },
    unexpectedErrors: [],
  };
  private readonly options: WorkloadOptions;
  private readonly random: SeededRandom;
  private nextProcess: number;
  /** The last value seen per key by any client: cas expectations come from here so
   * that some of them match. */
  private readonly lastSeen = new Map<string, string | null>();
  private stopped = false;
  private readonly clients = new Set<RaftClient>();
  private valueCounter = 0;

  constructor(options: WorkloadOptions) {
    this.options = options;
    this.random = new SeededRandom(options.seed);
    this.nextProcess = options.clients;
  }

  /** Runs every client until the end time or the operation budget; resolves when all
   * have finished their last operation. */
  async run(): Promise<void> {
    await Promise.all(Array.from({ length: this.options.clients }, (_, index) => this.client(index)));
  }

  /** No new operation starts after this; operations in flight finish (bounded by their deadlines). */
  stop(): void {
    this.stopped = true;
  }

  private done(): boolean {
    return this.stopped || performance.now() >= this.options.endAt || this.counts.ops >= this.options.maxOps;
  }

  private newClient(group: number): RaftClient {
    const client = new RaftClient({
      cluster: this.options.groupAddresses[group]!,
      deadlineMs: this.options.deadlineMs[1],
      attemptTimeoutMs: 1_000,
      connectTimeoutMs: 1_000,
    });
    this.clients.add(client);
    return client;
  }

  private retire(client: RaftClient): void {
    client.close();
    this.clients.delete(client);
  }

  private async client(index: number): Promise<void> {
    const group = index % this.options.groupAddresses.length;
    let process = index;
    let client = this.newClient(group);
    try {
      while (!this.done()) {
        const outcome = await this.operation(client, process);
        if (outcome === 'info') {
          this.retire(client);
          process = this.nextProcess;
          this.nextProcess += 1;
          client = this.newClient(group);
          // A short pause so that clients cut off from every node do not spin.
          await sleep(50 + this.random.nextInt(100));
        }
        const [thinkMin, thinkMax] = this.options.thinkMs;
        if (thinkMax > 0) await sleep(thinkMin + this.random.nextInt(thinkMax - thinkMin + 1));
      }
    } finally {
      this.retire(client);
    }
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.random.nextInt(items.length)]!;
  }

  private freshValue(process: number): string {
    this.valueCounter += 1;
    return `${process}.${this.valueCounter}`;
  }

  private async operation(client: RaftClient, process: number): Promise<'ok' | 'fail' | 'info'> {
    const key = this.pick(this.options.keys);
    const [deadlineMin, deadlineMax] = this.options.deadlineMs;
    const deadlineMs = deadlineMin + this.random.nextInt(deadlineMax - deadlineMin + 1);
    const roll = this.random.nextInt(100);
    const history = this.options.history;
    this.counts.ops += 1;
    let f: OperationName;
    let run: () => Promise<{ type: 'ok' | 'fail'; completion: Completion }>;
    let invoke: Completion = {};
    if (roll < 40) {
      f = 'get';
      run = async () => {
        const value = await client.get(key, { deadlineMs });
        this.lastSeen.set(key, value);
        return { type: 'ok', completion: { value } };
      };
    } else if (roll < 65) {
      f = 'put';
      const value = this.freshValue(process);
      invoke = { value };
      run = async () => {
        const previous = await client.put(key, value, { deadlineMs });
        this.lastSeen.set(key, value);
        return { type: 'ok', completion: { value, previous } };
      };
    } else if (roll < 87) {
      f = 'cas';
      const value = this.freshValue(process);
      const seen = this.lastSeen.get(key);
      const expect = seen !== undefined && this.random.nextInt(10) < 8 ? seen : this.random.nextInt(2) === 0 ? null : `${this.random.nextInt(process + 1)}.${this.random.nextInt(this.valueCounter + 1)}`;
      invoke = { value, expect };
      run = async () => {
        const result = await client.cas(key, expect, value, { deadlineMs });
        this.lastSeen.set(key, result.value);
        return { type: result.ok ? 'ok' : 'fail', completion: { value, expect } };
      };
    } else {
      f = 'delete';
      run = async () => {
        const previous = await client.delete(key, { deadlineMs });
        this.lastSeen.set(key, null);
        return { type: 'ok', completion: { previous } };
      };
    }
    history.record({ process, type: 'invoke', f, key, ...invoke });
    let type: 'ok' | 'fail' | 'info';
    let completion: Completion;
    try {
      ({ type, completion } = await run());
    } catch (err) {
      // A refusal means the operation never reached the log: fail. Except for a cas,
      // where the checker reads `fail` as "compared and did not match", which a
      // refusal is not; `info` (may or may not have happened) is the sound record.
      type = err instanceof RequestRefusedError && f !== 'cas' ? 'fail' : 'info';
      // Every request here is small and well-formed, so a refusal is as unexpected as
      // an error outside the client's contract.
      if (!(err instanceof ClientTimeoutError || err instanceof NoReachableNodeError)) {
        if (this.counts.unexpectedErrors.length < 20) this.counts.unexpectedErrors.push(`${f} ${key}: ${String(err)}`);
      }
      completion = f === 'put' || f === 'cas' ? { ...invoke } : {};
    }
    history.record({ process, type, f, key, ...completion });
    this.counts[type] += 1;
    this.counts.byOperation[f][type] += 1;
    return type;
  }

  /** Closes every client still open (after run() resolved this is a no-op). */
  close(): void {
    for (const client of this.clients) client.close();
    this.clients.clear();
  }
}
