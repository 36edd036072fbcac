/**
 * Random KV histories that are linearizable by construction, for the checker's tests
 * and benchmark. A discrete-event simulation runs concurrent client processes
 * against one atomic map: every operation takes effect at a single instant strictly
 * between its invocation and its completion, so the order of those instants is a
 * linearization. Seeded: the same options give the same history.
 */
import { SeededRandom } from '../core/random.js';
import type { HistoryEvent, OperationName } from './history.js';
import { TimedQueue } from '../util/timed-queue.js';

export interface GenerateHistoryOptions {
  readonly seed: number;
  /** Invocations in total. */
  readonly operations: number;
  readonly keys: number;
  /** Clients running at once; a client that gets an info is replaced by a new process. */
  readonly processes: number;
  /** Fraction of operations whose outcome is unknown (info); half of them take
   * effect, possibly long after the client gave up. Default 0.01. */
  readonly infoRate?: number;
  /** Fraction of put/get/delete refused before the log (fail, no effect). Default 0.005. */
  readonly refuseRate?: number;
  /** Whether put/delete completions report the previous value. Default true. */
  readonly reportPrevious?: boolean;
}

/** One simulated latency unit: 1 ms in nanoseconds. */
const LATENCY_NS = 1_000_000;
/** Recent values per key that a cas may expect, so that some cas ops succeed. */
const RECENT_VALUES = 4;

interface PendingOperation {
  readonly process: number;
  readonly f: OperationName;
  readonly key: string;
  readonly value?: string;
  readonly expect?: string | null;
  /** Filled in when the operation takes effect. */
  result?: { readonly ok: boolean; readonly read: string | null };
}

type SimulationEvent =
  | { readonly time: number; readonly seq: number; readonly kind: 'invoke'; readonly worker: number }
  | { readonly time: number; readonly seq: number; readonly kind: 'apply'; readonly op: PendingOperation }
  | {
      readonly time: number;
      readonly seq: number;
      readonly kind: 'complete';
      readonly op: PendingOperation;
      readonly worker: number;
      readonly outcome: 'ok' | 'fail' | 'info';
    };

/** The event queue plus the counter that numbers events in scheduling order. */
class EventQueue extends TimedQueue<SimulationEvent> {
  private seq = 0;

  nextSeq(): number {
    return this.seq++;
  }
}

/** A strictly positive latency of up to `units` latency units. */
function latency(random: SeededRandom, units = 1): number {
  return 1 + random.nextInt(units * LATENCY_NS);
}

/**
 * Generates a linearizable history. Each client repeatedly picks a random key and
 * operation (40% get, 30% put, 20% cas, 10% delete; written values are unique),
 * which takes effect at a random instant after its invocation and completes a
 * random time later.
 */
export function generateHistory(options: GenerateHistoryOptions): HistoryEvent[] {
  const random = new SeededRandom(options.seed);
  const infoRate = options.infoRate ?? 0.01;
  const refuseRate = options.refuseRate ?? 0.005;
  const reportPrevious = options.reportPrevious ?? true;
  const store = new Map<string, string>();
  const recent = new Map<string, (string | null)[]>();
  const processOf = Array.from({ length: options.processes }, (_, worker) => worker);
  const queue = new EventQueue();
  const events: HistoryEvent[] = [];
  let invoked = 0;
  let written = 0;

  const chooseOperation = (process: number): PendingOperation => {
    const key = `k${random.nextInt(options.keys)}`;
    const roll = random.nextFloat();
    if (roll < 0.4) return { process, f: 'get', key };
    if (roll < 0.7) return { process, f: 'put', key, value: `v${written++}` };
    if (roll < 0.9) {
      const candidates = recent.get(key) ?? [null];
      return { process, f: 'cas', key, expect: candidates[random.nextInt(candidates.length)]!, value: `v${written++}` };
    }
    return { process, f: 'delete', key };
  };

  // The atomic map: runs the operation at this instant and remembers its result.
  const apply = (op: PendingOperation): void => {
    const current = store.get(op.key) ?? null;
    let next: string | null = current;
    if (op.f === 'put') next = op.value!;
    if (op.f === 'delete') next = null;
    const ok = op.f !== 'cas' || current === op.expect;
    if (op.f === 'cas' && ok) next = op.value!;
    if (next === null) store.delete(op.key);
    else store.set(op.key, next);
    if (next !== current) {
      const values = recent.get(op.key) ?? [null];
      values.push(next);
      if (values.length > RECENT_VALUES) values.shift();
      recent.set(op.key, values);
    }
    op.result = { ok, read: current };
  };

  const invoke = (time: number, worker: number): void => {
    if (invoked >= options.operations) return;
    invoked++;
    const op = chooseOperation(processOf[worker]!);
    events.push({ process: op.process, type: 'invoke', f: op.f, key: op.key, ...inputs(op), time });
    const roll = random.nextFloat();
    if (roll < infoRate) {
      // The client gives up after a while; the operation may still land, even later.
      if (random.nextFloat() < 0.5) queue.push({ time: time + latency(random, 20), seq: queue.nextSeq(), kind: 'apply', op });
      queue.push({ time: time + latency(random, 5), seq: queue.nextSeq(), kind: 'complete', op, worker, outcome: 'info' });
    } else if (roll < infoRate + refuseRate && op.f !== 'cas') {
      queue.push({ time: time + latency(random), seq: queue.nextSeq(), kind: 'complete', op, worker, outcome: 'fail' });
    } else {
      const applyAt = time + latency(random);
      queue.push({ time: applyAt, seq: queue.nextSeq(), kind: 'apply', op });
      queue.push({ time: applyAt + latency(random), seq: queue.nextSeq(), kind: 'complete', op, worker, outcome: 'ok' });
    }
  };

  const complete = (event: Extract<SimulationEvent, { kind: 'complete' }>): void => {
    const { op, outcome } = event;
    const base = { process: op.process, f: op.f, key: op.key, ...inputs(op), time: event.time };
    if (outcome !== 'ok') {
      events.push({ ...base, type: outcome });
    } else if (op.result === undefined) {
      throw new Error('simulation bug: an operation completed ok before taking effect');
    } else if (op.f === 'cas') {
      events.push({ ...base, type: op.result.ok ? 'ok' : 'fail' });
    } else if (op.f === 'get') {
      events.push({ ...base, type: 'ok', value: op.result.read });
    } else {
      events.push({ ...base, type: 'ok', ...(reportPrevious ? { previous: op.result.read } : {}) });
    }
    if (outcome === 'info') processOf[event.worker] = processOf[event.worker]! + options.processes;
    queue.push({ time: event.time + random.nextInt(LATENCY_NS / 2), seq: queue.nextSeq(), kind: 'invoke', worker: event.worker });
  };

  for (let worker = 0; worker < options.processes; worker++) {
    queue.push({ time: LATENCY_NS + random.nextInt(LATENCY_NS), seq: queue.nextSeq(), kind: 'invoke', worker });
  }
  while (queue.size > 0) {
    const event = queue.pop();
    if (event.kind === 'invoke') invoke(event.time, event.worker);
    else if (event.kind === 'apply') apply(event.op);
    else complete(event);
  }
  return events;
}

function inputs(op: PendingOperation): { value?: string; expect?: string | null } {
  if (op.f === 'put') return { value: op.value! };
  if (op.f === 'cas') return { expect: op.expect ?? null, value: op.value! };
  return {};
}
