/**
 * Client histories of the replicated KV store, in the Jepsen/Knossos style: every
 * client operation is an `invoke` event followed (on the same process) by one
 * completion: `ok` (it happened), `fail` (it definitely did not happen, or for a cas:
 * it happened as a comparison that did not match) or `info` (unknown: it may take
 * effect at any time after its invocation, or never).
 *
 * Real-process tests write histories as JSON Lines; the simulator builds them in
 * memory. `pairHistory` turns the event stream into one `Operation` per invocation,
 * which is what the checkers work on.
 */

export type OperationName = 'put' | 'get' | 'delete' | 'cas';
export type EventType = 'invoke' | 'ok' | 'fail' | 'info';
export type Outcome = 'ok' | 'fail' | 'info';

/** One line of a history, exactly as written to JSONL. */
export interface HistoryEvent {
  /** The client process; it has at most one operation outstanding, and after an
   * `info` it never issues again. */
  readonly process: number;
  readonly type: EventType;
  readonly f: OperationName;
  readonly key: string;
  /** put/cas: the value written (on the invoke and, repeated, on the completion).
   * get ok: the value read, null when absent. */
  readonly value?: string | null;
  /** cas: the value expected, null meaning "absent". */
  readonly expect?: string | null;
  /** put/delete ok: the previous value when the client reported it; unchecked when
   * missing. */
  readonly previous?: string | null;
  /** Monotonic nanoseconds. */
  readonly time: number;
}

/** An invocation paired with its completion. */
export interface Operation {
  readonly process: number;
  readonly f: OperationName;
  readonly key: string;
  /** put/cas: the value written. */
  readonly value?: string;
  /** cas: the expected value (null = absent). */
  readonly expect?: string | null;
  /** put/delete ok: the reported previous value; undefined when not reported. */
  readonly previous?: string | null;
  /** get ok: the value read (null = absent). */
  readonly output?: string | null;
  readonly outcome: Outcome;
  readonly invokeTime: number;
  /** Infinity for `info`: the operation may take effect at any time after its
   * invocation. */
  readonly completeTime: number;
}

const OPERATION_NAMES: ReadonlySet<string> = new Set<OperationName>(['put', 'get', 'delete', 'cas']);
const EVENT_TYPES: ReadonlySet<string> = new Set<EventType>(['invoke', 'ok', 'fail', 'info']);

/** A short human-readable form of an operation, for checker reports. */
export function describeOperation(op: Operation): string {
  const show = (v: string | null | undefined): string => (v === null || v === undefined ? 'null' : JSON.stringify(v));
  let call: string;
  switch (op.f) {
    case 'put':
      call = `put(${JSON.stringify(op.key)}, ${show(op.value)})`;
      break;
    case 'delete':
      call = `delete(${JSON.stringify(op.key)})`;
      break;
    case 'get':
      call = `get(${JSON.stringify(op.key)})`;
      break;
    case 'cas':
      call = `cas(${JSON.stringify(op.key)}, ${show(op.expect)}, ${show(op.value)})`;
      break;
  }
  let result = '';
  if (op.outcome === 'ok' && op.f === 'get') result = ` -> ${show(op.output)}`;
  if (op.outcome === 'ok' && op.previous !== undefined) result = ` -> previous ${show(op.previous)}`;
  const end = op.completeTime === Infinity ? 'never' : String(op.completeTime);
  return `process ${op.process} ${call}${result} ${op.outcome} [${op.invokeTime}, ${end}]`;
}

function eventLabel(event: HistoryEvent, index: number): string {
  return `event #${index} (process ${event.process} ${event.type} ${event.f} ${JSON.stringify(event.key)} at ${event.time})`;
}

/** Throws unless the invocation carries the inputs its operation needs. */
function validateInvoke(event: HistoryEvent, index: number): void {
  if ((event.f === 'put' || event.f === 'cas') && typeof event.value !== 'string') {
    throw new Error(`${eventLabel(event, index)}: a ${event.f} invocation needs a string value`);
  }
  if (event.f === 'cas' && event.expect !== null && typeof event.expect !== 'string') {
    throw new Error(`${eventLabel(event, index)}: a cas invocation needs expect (a string or null)`);
  }
}

/** Throws unless `completion` can be the completion of `invoke`. */
function validateCompletion(invoke: HistoryEvent, completion: HistoryEvent, index: number): void {
  const label = eventLabel(completion, index);
  if (completion.f !== invoke.f || completion.key !== invoke.key) {
    throw new Error(
      `${label}: completes ${completion.f} ${JSON.stringify(completion.key)} but the outstanding invocation of process ` +
        `${invoke.process} is ${invoke.f} ${JSON.stringify(invoke.key)}`,
    );
  }
  if (completion.time < invoke.time) {
    throw new Error(`${label}: completes before its invocation at ${invoke.time}`);
  }
  // A completion that repeats the inputs must repeat them unchanged: a different
  // value usually means the recorder put the previous value in the wrong field.
  if ((invoke.f === 'put' || invoke.f === 'cas') && completion.value !== undefined && completion.value !== invoke.value) {
    throw new Error(`${label}: value ${JSON.stringify(completion.value)} differs from the invocation's ${JSON.stringify(invoke.value)}`);
  }
  if (invoke.f === 'cas' && completion.expect !== undefined && completion.expect !== invoke.expect) {
    throw new Error(`${label}: expect ${JSON.stringify(completion.expect)} differs from the invocation's ${JSON.stringify(invoke.expect)}`);
  }
  if (invoke.f === 'get' && completion.type === 'ok' && completion.value !== null && typeof completion.value !== 'string') {
    throw new Error(`${label}: a get ok needs the value read (a string, or null when absent)`);
  }
}

/** Builds the operation for an invocation and its completion (undefined: never completed). */
function toOperation(invoke: HistoryEvent, completion: HistoryEvent | undefined): Operation {
  const outcome: Outcome = completion === undefined || completion.type === 'info' ? 'info' : completion.type === 'ok' ? 'ok' : 'fail';
  const completeTime = outcome === 'info' || completion === undefined ? Infinity : completion.time;
  const op: {
    process: number;
    f: OperationName;
    key: string;
    value?: string;
    expect?: string | null;
    previous?: string | null;
    output?: string | null;
    outcome: Outcome;
    invokeTime: number;
    completeTime: number;
  } = { process: invoke.process, f: invoke.f, key: invoke.key, outcome, invokeTime: invoke.time, completeTime };
  if (typeof invoke.value === 'string' && (invoke.f === 'put' || invoke.f === 'cas')) op.value = invoke.value;
  if (invoke.f === 'cas') op.expect = invoke.expect ?? null;
  if (outcome === 'ok' && completion !== undefined) {
    if (invoke.f === 'get') op.output = completion.value ?? null;
    if ((invoke.f === 'put' || invoke.f === 'delete') && completion.previous !== undefined) op.previous = completion.previous;
  }
  return op;
}

/**
 * Pairs every invocation with its process's next completion, in event order. Throws
 * on a malformed history: a completion with nothing outstanding on its process, a
 * completion of a different operation or key, a second invocation while one is
 * outstanding, an invocation after the process's `info`, a completion earlier than
 * its invocation. An invocation still outstanding at the end counts as `info`.
 * Operations come back in invocation order.
 */
export function pairHistory(events: readonly HistoryEvent[]): Operation[] {
  const outstanding = new Map<number, { event: HistoryEvent; slot: number }>();
  const crashed = new Set<number>();
  const paired: (Operation | undefined)[] = [];
  const invokes: HistoryEvent[] = [];
  events.forEach((event, index) => {
    validateEventShape(event, `event #${index}`);
    const pending = outstanding.get(event.process);
    if (event.type === 'invoke') {
      if (pending !== undefined) {
        throw new Error(`${eventLabel(event, index)}: process ${event.process} already has ${pending.event.f} ${JSON.stringify(pending.event.key)} outstanding`);
      }
      if (crashed.has(event.process)) {
        throw new Error(`${eventLabel(event, index)}: process ${event.process} issues again after an info`);
      }
      validateInvoke(event, index);
      outstanding.set(event.process, { event, slot: paired.length });
      paired.push(undefined);
      invokes.push(event);
      return;
    }
    if (pending === undefined) {
      throw new Error(`${eventLabel(event, index)}: no outstanding invocation on process ${event.process}`);
    }
    validateCompletion(pending.event, event, index);
    outstanding.delete(event.process);
    if (event.type === 'info') crashed.add(event.process);
    paired[pending.slot] = toOperation(pending.event, event);
  });
  return paired.map((op, slot) => op ?? toOperation(invokes[slot]!, undefined));
}

function isStringOrNull(value: unknown): boolean {
  return value === null || typeof value === 'string';
}

/** Throws unless `value` has the shape of a HistoryEvent. */
function validateEventShape(value: unknown, where: string): asserts value is HistoryEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where}: not an object`);
  const record = value as Record<string, unknown>;
  if (typeof record['process'] !== 'number' || !Number.isInteger(record['process'])) throw new Error(`${where}: process must be an integer`);
  if (typeof record['type'] !== 'string' || !EVENT_TYPES.has(record['type'])) throw new Error(`${where}: type must be invoke, ok, fail or info`);
  if (typeof record['f'] !== 'string' || !OPERATION_NAMES.has(record['f'])) throw new Error(`${where}: f must be put, get, delete or cas`);
  if (typeof record['key'] !== 'string') throw new Error(`${where}: key must be a string`);
  if (typeof record['time'] !== 'number' || !Number.isFinite(record['time'])) throw new Error(`${where}: time must be a finite number`);
  for (const field of ['value', 'expect', 'previous']) {
    if (record[field] !== undefined && !isStringOrNull(record[field])) throw new Error(`${where}: ${field} must be a string or null`);
  }
}

/** Parses a JSON Lines history; blank lines are skipped. Throws naming the line. */
export function parseHistoryJsonl(text: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new Error(`history line ${index + 1}: invalid JSON (${(error as Error).message})`);
    }
    validateEventShape(parsed, `history line ${index + 1}`);
    events.push(parsed);
  });
  return events;
}

/** Writes events as JSON Lines (one event per line, trailing newline). */
export function formatHistoryJsonl(events: readonly HistoryEvent[]): string {
  return events.map((event) => JSON.stringify(event) + '\n').join('');
}
