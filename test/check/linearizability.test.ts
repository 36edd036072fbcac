// What this proves: the linearizability checker accepts exactly the KV histories
// that have a linearization. Hand-written histories pin down each rule (real-time
// order with strict <, info operations that land late or never, failed cas as a
// read, refused operations dropped, previous values checked) and each classic
// anomaly (stale read, lost write, double-applied cas, value out of thin air, write
// visible before its invocation). A differential test then compares the checker,
// with all its search pruning, against a brute-force enumeration of every order on
// thousands of small random histories. Histories from the simulated register in
// src/check/generate.ts pass, and break when one read is corrupted. Also covered:
// the JSONL format and pairing of events, failure reports (the smallest failing
// window), timeouts, and the final-read check of acknowledged writes. Timing is not
// asserted here; bench/linearizability.ts measures it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../src/core/random.js';
import { generateHistory } from '../../src/check/generate.js';
import type { HistoryEvent, Operation, OperationName } from '../../src/check/history.js';
import { formatHistoryJsonl, pairHistory, parseHistoryJsonl } from '../../src/check/history.js';
import { checkAcknowledgedWritesVisible, checkLinearizability } from '../../src/check/linearizability.js';

// ---------------------------------------------------------------------------------
// History builders: each returns the invoke event and its completion.

type Ending = 'ok' | 'fail' | 'info';
interface Fields {
  value?: string | null;
  expect?: string | null;
  previous?: string | null;
}

/** One operation; `end` undefined means it never completes. The completion's
 * `value` for a get is the value read (`read`). */
function call(process: number, f: OperationName, key: string, inputs: Fields, start: number, end: number | undefined, ending: Ending = 'ok', result: Fields = {}): HistoryEvent[] {
  const invoke: HistoryEvent = { process, type: 'invoke', f, key, ...inputs, time: start };
  if (end === undefined) return [invoke];
  return [invoke, { process, type: ending, f, key, ...inputs, ...result, time: end }];
}
const put = (p: number, key: string, value: string, start: number, end?: number, ending: Ending = 'ok', previous?: string | null): HistoryEvent[] =>
  call(p, 'put', key, { value }, start, end, ending, previous === undefined ? {} : { previous });
const get = (p: number, key: string, read: string | null, start: number, end: number, ending: Ending = 'ok'): HistoryEvent[] =>
  call(p, 'get', key, {}, start, end, ending, ending === 'ok' ? { value: read } : {});
const cas = (p: number, key: string, expect: string | null, value: string, start: number, end?: number, ending: Ending = 'ok'): HistoryEvent[] =>
  call(p, 'cas', key, { expect, value }, start, end, ending);
const del = (p: number, key: string, start: number, end?: number, ending: Ending = 'ok', previous?: string | null): HistoryEvent[] =>
  call(p, 'delete', key, {}, start, end, ending, previous === undefined ? {} : { previous });

function history(...calls: HistoryEvent[][]): HistoryEvent[] {
  return calls.flat();
}

function assertValid(events: HistoryEvent[]): void {
  const result = checkLinearizability(events);
  assert.equal(result.valid, true, JSON.stringify(result, null, 1));
}

function assertInvalid(events: HistoryEvent[]): Extract<ReturnType<typeof checkLinearizability>, { valid: false }> {
  const result = checkLinearizability(events);
  assert.equal(result.valid, false, JSON.stringify(result));
  if (result.valid !== false) throw new Error('unreachable');
  return result;
}

// ---------------------------------------------------------------------------------

describe('pairHistory', () => {
  it('pairs each invocation with its completion, in invocation order', () => {
    const ops = pairHistory(history(put(1, 'k', 'a', 0, 10, 'ok', null), get(2, 'k', 'a', 5, 20), cas(3, 'k', 'x', 'y', 6, 8, 'fail')));
    assert.deepEqual(ops, [
      { process: 1, f: 'put', key: 'k', value: 'a', previous: null, outcome: 'ok', invokeTime: 0, completeTime: 10 },
      { process: 2, f: 'get', key: 'k', output: 'a', outcome: 'ok', invokeTime: 5, completeTime: 20 },
      { process: 3, f: 'cas', key: 'k', value: 'y', expect: 'x', outcome: 'fail', invokeTime: 6, completeTime: 8 },
    ]);
  });

  it('gives info operations, and invocations never completed, an infinite completion time', () => {
    const ops = pairHistory(history(del(1, 'k', 0, 10, 'info'), put(2, 'k', 'a', 3)));
    assert.equal(ops[0]!.outcome, 'info');
    assert.equal(ops[0]!.completeTime, Infinity);
    assert.equal(ops[1]!.outcome, 'info');
    assert.equal(ops[1]!.completeTime, Infinity);
  });

  it('rejects a completion with no outstanding invocation', () => {
    assert.throws(() => pairHistory([{ process: 1, type: 'ok', f: 'get', key: 'k', value: null, time: 1 }]), /no outstanding invocation on process 1/);
  });

  it('rejects a completion of a different operation or key', () => {
    assert.throws(() => pairHistory([...put(1, 'k', 'a', 0, undefined), { process: 1, type: 'ok', f: 'get', key: 'k', value: null, time: 1 }]), /outstanding invocation of process 1 is put "k"/);
    assert.throws(() => pairHistory([...put(1, 'k', 'a', 0, undefined), { process: 1, type: 'ok', f: 'put', key: 'j', value: 'a', time: 1 }]), /completes put "j"/);
  });

  it('rejects a second invocation while one is outstanding, and any after an info', () => {
    assert.throws(() => pairHistory(history(put(1, 'k', 'a', 0), put(1, 'k', 'b', 1))), /already has put "k" outstanding/);
    assert.throws(() => pairHistory(history(put(1, 'k', 'a', 0, 1, 'info'), put(1, 'k', 'b', 2, 3))), /issues again after an info/);
  });

  it('rejects a completion before its invocation, and malformed inputs', () => {
    assert.throws(() => pairHistory(put(1, 'k', 'a', 10, 5)), /completes before its invocation/);
    assert.throws(() => pairHistory(call(1, 'put', 'k', {}, 0, 1)), /needs a string value/);
    assert.throws(() => pairHistory(call(1, 'cas', 'k', { value: 'a' }, 0, 1)), /needs expect/);
    assert.throws(() => pairHistory(call(1, 'put', 'k', { value: 'a' }, 0, 1, 'ok', { value: 'b' })), /differs from the invocation's "a"/);
  });
});

describe('parseHistoryJsonl', () => {
  it('round-trips a history through JSON Lines', () => {
    const events = history(put(3, 'k1', 'v7', 123456789, 123459999, 'ok', null), get(4, 'k1', null, 1, 2), cas(5, 'k1', 'v7', 'v8', 3, 4, 'fail'), del(6, 'k1', 5, 6, 'info'));
    const text = formatHistoryJsonl(events);
    assert.equal(text.split('\n').length, events.length + 1);
    assert.deepEqual(parseHistoryJsonl(text), events);
  });

  it('parses the documented line format and skips blank lines', () => {
    const text = [
      '{"process":3,"type":"invoke","f":"put","key":"k1","value":"v7","time":123456789}',
      '',
      '{"process":3,"type":"ok","f":"put","key":"k1","value":"v7","time":123459999}',
      '  ',
    ].join('\n');
    const events = parseHistoryJsonl(text);
    assert.equal(events.length, 2);
    assert.deepEqual(pairHistory(events), [{ process: 3, f: 'put', key: 'k1', value: 'v7', outcome: 'ok', invokeTime: 123456789, completeTime: 123459999 }]);
  });

  it('names the line of a malformed event', () => {
    assert.throws(() => parseHistoryJsonl('{"process":1,"type":"invoke","f":"get","key":"k","time":1}\nnot json'), /history line 2: invalid JSON/);
    assert.throws(() => parseHistoryJsonl('{"process":1,"type":"begin","f":"get","key":"k","time":1}'), /history line 1: type must be/);
    assert.throws(() => parseHistoryJsonl('{"process":1,"type":"invoke","f":"get","key":"k"}'), /history line 1: time must be/);
  });
});

describe('checkLinearizability: linearizable histories pass', () => {
  it('accepts an empty history', () => {
    assert.deepEqual(checkLinearizability([]), { valid: true, keys: 0, operations: 0 });
  });

  it('accepts a sequential history of every operation', () => {
    assertValid(
      history(
        get(1, 'k', null, 0, 1),
        put(1, 'k', 'a', 2, 3, 'ok', null),
        get(1, 'k', 'a', 4, 5),
        cas(1, 'k', 'a', 'b', 6, 7),
        cas(1, 'k', 'a', 'c', 8, 9, 'fail'),
        get(1, 'k', 'b', 10, 11),
        del(1, 'k', 12, 13, 'ok', 'b'),
        get(1, 'k', null, 14, 15),
        cas(1, 'k', null, 'd', 16, 17),
      ),
    );
  });

  it('accepts a get overlapping a put that sees the old value, or the new one', () => {
    assertValid(history(put(1, 'k', 'a', 0, 1), put(1, 'k', 'b', 10, 20), get(2, 'k', 'a', 12, 15)));
    assertValid(history(put(1, 'k', 'a', 0, 1), put(1, 'k', 'b', 10, 20), get(2, 'k', 'b', 12, 15)));
  });

  it('treats an operation completing exactly when another is invoked as concurrent', () => {
    assertValid(history(put(1, 'k', 'a', 0, 10), get(2, 'k', null, 10, 12)));
  });

  it('accepts an info put that takes effect later, even after later operations', () => {
    assertValid(history(put(1, 'k', 'a', 0, 10, 'info'), get(2, 'k', null, 20, 21), put(2, 'k', 'b', 22, 23), get(2, 'k', 'a', 30, 31)));
  });

  it('accepts an info put that never takes effect', () => {
    assertValid(history(put(1, 'k', 'a', 0, 10, 'info'), get(2, 'k', null, 20, 21), get(2, 'k', null, 30, 31)));
    assertValid(history(put(1, 'k', 'a', 0), get(2, 'k', null, 20, 21)));
  });

  it('accepts interleaved cas ops where one wins and the other fails', () => {
    assertValid(
      history(
        put(1, 'k', 'a', 0, 1),
        cas(2, 'k', 'a', 'b', 10, 20),
        cas(3, 'k', 'a', 'c', 11, 21, 'fail'),
        get(4, 'k', 'b', 30, 31),
        cas(2, 'k', 'b', 'd', 40, 50, 'fail'),
        cas(3, 'k', 'b', 'e', 41, 49),
        get(4, 'k', 'e', 60, 61),
      ),
    );
  });

  it('accepts a failed cas explained by an info write, which a later get then sees', () => {
    assertValid(history(put(1, 'k', 'a', 0, 1), put(2, 'k', 'w', 2, 3, 'info'), cas(1, 'k', 'a', 'b', 5, 6, 'fail'), get(1, 'k', 'w', 10, 11)));
    // ...or which a later put overwrites with the expected value again.
    assertValid(history(put(1, 'k', 'a', 0, 1), put(2, 'k', 'w', 2, 3, 'info'), cas(1, 'k', 'a', 'b', 5, 6, 'fail'), put(1, 'k', 'a', 7, 8), get(1, 'k', 'a', 10, 11)));
  });

  it('drops refused operations and info gets', () => {
    assertValid(history(put(1, 'k', 'a', 0, 1, 'fail'), get(2, 'k', 'zzz', 2, 3, 'info'), get(3, 'k', null, 5, 6), del(1, 'k', 7, 8, 'fail')));
  });

  it('checks each key on its own and counts keys and operations', () => {
    const result = checkLinearizability(
      history(put(1, 'x', 'a', 0, 10), put(2, 'y', 'b', 1, 11), get(3, 'x', 'a', 12, 13), get(3, 'y', 'b', 14, 15), get(4, 'z', null, 0, 1)),
    );
    assert.deepEqual(result, { valid: true, keys: 3, operations: 5 });
  });

  it('accepts paired operations as well as raw events', () => {
    assert.equal(checkLinearizability(pairHistory(history(put(1, 'k', 'a', 0, 1), get(2, 'k', 'a', 2, 3)))).valid, true);
  });
});

describe('checkLinearizability: anomalies are caught', () => {
  it('catches a stale read, reporting the operations that prove it', () => {
    const result = assertInvalid(history(put(1, 'k', 'a', 0, 1), put(1, 'k', 'b', 2, 3), get(3, 'k', null, 2, 3), get(2, 'k', 'a', 4, 5)));
    assert.equal(result.key, 'k');
    assert.deepEqual(
      result.operations.map((op) => [op.f, op.value ?? op.output]),
      [
        ['put', 'a'],
        ['put', 'b'],
        ['get', 'a'],
      ],
    );
    assert.match(result.reason, /get\("k"\) -> "a" ok \[4, 5\] observes "a", written only by process 1 put\("k", "a"\)/);
  });

  it('catches a stale read of a value written more than once', () => {
    assertInvalid(history(put(1, 'k', 'a', 0, 1), put(1, 'k', 'b', 2, 3), put(1, 'k', 'a', 4, 5), put(1, 'k', 'b', 6, 7), get(2, 'k', 'a', 8, 9)));
  });

  it('catches a lost write', () => {
    assertInvalid(history(put(1, 'k', 'a', 0, 1), get(2, 'k', null, 4, 5)));
    assertInvalid(history(put(1, 'k', 'a', 0, 1), put(2, 'k', 'b', 2, 3), get(3, 'k', 'a', 4, 5)));
  });

  it('catches a cas applied twice', () => {
    assertInvalid(history(put(1, 'k', 'a', 0, 1), cas(2, 'k', 'a', 'b', 2, 3), cas(3, 'k', 'a', 'c', 4, 5)));
  });

  it('catches a failed cas that should have succeeded', () => {
    assertInvalid(history(put(1, 'k', 'a', 0, 1), cas(2, 'k', 'a', 'b', 2, 3, 'fail')));
  });

  it('catches a read of a value never written', () => {
    assertInvalid(history(put(1, 'k', 'a', 0, 1), get(2, 'k', 'x', 2, 3)));
  });

  it('catches a write visible before its invocation', () => {
    assertInvalid(history(get(1, 'k', 'a', 0, 5), put(2, 'k', 'a', 6, 10)));
  });

  it('catches a read of a refused write', () => {
    assertInvalid(history(put(1, 'k', 'a', 0, 1, 'fail'), get(2, 'k', 'a', 2, 3)));
  });

  it('catches a wrong previous value', () => {
    assertInvalid(history(put(1, 'k', 'a', 0, 1, 'ok', null), put(1, 'k', 'b', 2, 3, 'ok', null)));
    assertInvalid(history(put(1, 'k', 'a', 0, 1), del(1, 'k', 2, 3, 'ok', 'x')));
  });

  it('does not let an info write be undone', () => {
    // The failed cas needs the info put to have landed; nothing writes "a" again.
    assertInvalid(history(put(1, 'k', 'a', 0, 1), put(2, 'k', 'w', 2, 3, 'info'), cas(1, 'k', 'a', 'b', 5, 6, 'fail'), get(1, 'k', 'a', 10, 11)));
  });

  it('reports the smallest failing window, ending where the history breaks', () => {
    // Values repeat, so only the search can refute the stale read.
    const value = (i: number): string => (i % 2 === 0 ? 'a' : 'b');
    const before = Array.from({ length: 50 }, (_, i) => history(put(1, 'k', value(i), 10 * i, 10 * i + 5), get(2, 'k', value(i), 10 * i + 6, 10 * i + 8)));
    const stale = get(2, 'k', 'a', 1000, 1005);
    const after = Array.from({ length: 50 }, (_, i) => put(1, 'k', `w${i}`, 2000 + 10 * i, 2000 + 10 * i + 5));
    const result = assertInvalid(history(...before, stale, ...after));
    assert.equal(result.operations.length, 101);
    assert.deepEqual(result.operations.at(-1), { process: 2, f: 'get', key: 'k', output: 'a', outcome: 'ok', invokeTime: 1000, completeTime: 1005 });
    assert.match(result.reason, /invoked by time 1005 have no linearization once process 2 get\("k"\) -> "a" ok \[1000, 1005\] completes/);
    assert.equal(checkLinearizability(result.operations).valid, false);
  });

  it('reports the failing key among valid ones', () => {
    const result = assertInvalid(history(put(1, 'a', 'x', 0, 1), get(1, 'a', 'x', 2, 3), put(2, 'b', 'y', 0, 1), get(2, 'b', null, 2, 3)));
    assert.equal(result.key, 'b');
  });
});

describe('checkLinearizability: timeout', () => {
  it('answers unknown when out of time', () => {
    const result = checkLinearizability(history(put(1, 'k', 'a', 0, 1)), { timeoutMs: 0 });
    assert.deepEqual(result, { valid: 'unknown', key: 'k', reason: 'timeout' });
  });
});

// ---------------------------------------------------------------------------------
// Differential test against brute force.

/** The register semantics, written plainly: the value after `op`, or undefined if
 * `op` cannot run on `state`. */
function apply(op: Operation, state: string | null): string | null | undefined {
  const info = op.outcome === 'info';
  const previousOk = info || op.previous === undefined || op.previous === state;
  switch (op.f) {
    case 'put':
      return previousOk ? op.value! : undefined;
    case 'delete':
      return previousOk ? null : undefined;
    case 'get':
      return op.output === state ? state : undefined;
    case 'cas':
      if (info) return state === op.expect ? op.value! : state;
      if (op.outcome === 'fail') return state !== op.expect ? state : undefined;
      return state === op.expect ? op.value! : undefined;
  }
}

/**
 * Whether some order of the operations explains them: every ok operation and failed
 * cas placed, info ones placed or not, refused ones and info gets ignored, and an
 * operation placed only when no unplaced operation completed before it was invoked.
 */
function bruteForceLinearizable(all: readonly Operation[]): boolean {
  const ops = all.filter((op) => (op.outcome === 'ok' || (op.outcome === 'fail' && op.f === 'cas') || (op.outcome === 'info' && op.f !== 'get')));
  const mustPlace = ops.reduce((mask, op, i) => (op.outcome === 'info' ? mask : mask | (1 << i)), 0);
  const failed = new Set<string>();
  const search = (placed: number, state: string | null): boolean => {
    if ((placed & mustPlace) === mustPlace) return true;
    const memo = `${placed}:${state}`;
    if (failed.has(memo)) return false;
    for (let i = 0; i < ops.length; i++) {
      if (placed & (1 << i)) continue;
      const op = ops[i]!;
      const blocked = ops.some((other, j) => !(placed & (1 << j)) && j !== i && other.completeTime < op.invokeTime);
      if (blocked) continue;
      const after = apply(op, state);
      if (after !== undefined && search(placed | (1 << i), after)) return true;
    }
    failed.add(memo);
    return false;
  };
  return search(0, null);
}

/**
 * A small random single-key history on a coarse clock (so times tie), from a few
 * processes, over a few values: simulated against a real register (each operation
 * takes effect at a random instant of its interval; info ones maybe never), then,
 * half the time, one result changed at random.
 */
function randomSmallHistory(random: SeededRandom): Operation[] {
  const values = ['a', 'b', 'c'];
  const pick = <T>(items: readonly T[]): T => items[random.nextInt(items.length)]!;
  const drafts: { op: Omit<Operation, 'outcome' | 'output' | 'previous'>; ending: Ending; effectAt: number | undefined }[] = [];
  const processes = 2 + random.nextInt(3);
  const total = 3 + random.nextInt(6);
  const clock = Array.from({ length: processes }, () => random.nextInt(3));
  const stopped = new Set<number>();
  for (let n = 0; n < total && stopped.size < processes; n++) {
    const process = pick([...Array(processes).keys()].filter((p) => !stopped.has(p)));
    const start = clock[process]!;
    const end = start + random.nextInt(4);
    clock[process] = end + random.nextInt(3);
    const f = pick<OperationName>(['put', 'get', 'delete', 'cas', 'cas']);
    const ending: Ending = random.nextFloat() < 0.2 ? 'info' : f !== 'cas' && random.nextFloat() < 0.1 ? 'fail' : 'ok';
    if (ending === 'info') stopped.add(process);
    const op = { process, f, key: 'k', invokeTime: start, completeTime: ending === 'info' ? Infinity : end, ...(f === 'put' || f === 'cas' ? { value: pick(values) } : {}), ...(f === 'cas' ? { expect: pick([null, ...values]) } : {}) };
    const effectAt = ending === 'fail' ? undefined : ending === 'info' ? (random.nextFloat() < 0.5 ? undefined : start + random.nextInt(8)) : start + random.nextInt(end - start + 1);
    drafts.push({ op, ending, effectAt });
  }
  // Run the register in effect order.
  let state: string | null = null;
  const results = new Map<number, { ok: boolean; read: string | null }>();
  const order = drafts.map((_, i) => i).filter((i) => drafts[i]!.effectAt !== undefined);
  order.sort((x, y) => drafts[x]!.effectAt! - drafts[y]!.effectAt! || x - y);
  for (const i of order) {
    const { op } = drafts[i]!;
    const read = state;
    const ok = op.f !== 'cas' || state === op.expect;
    if (op.f === 'put' || (op.f === 'cas' && ok)) state = op.value!;
    if (op.f === 'delete') state = null;
    results.set(i, { ok, read });
  }
  const ops: Operation[] = drafts.map(({ op, ending }, i) => {
    const result = results.get(i);
    if (ending !== 'ok' || result === undefined) return { ...op, outcome: ending };
    if (op.f === 'get') return { ...op, outcome: 'ok', output: result.read };
    if (op.f === 'cas') return { ...op, outcome: result.ok ? 'ok' : 'fail' };
    return random.nextFloat() < 0.5 ? { ...op, outcome: 'ok', previous: result.read } : { ...op, outcome: 'ok' };
  });
  if (random.nextFloat() < 0.5) corruptOne(ops, random, pick);
  return ops;
}

function corruptOne(ops: Operation[], random: SeededRandom, pick: <T>(items: readonly T[]) => T): void {
  const i = random.nextInt(ops.length);
  const op = ops[i]!;
  const other = pick([null, 'a', 'b', 'c']);
  if (op.f === 'get' && op.outcome === 'ok') ops[i] = { ...op, output: other };
  else if (op.f === 'cas' && op.outcome !== 'info') ops[i] = { ...op, outcome: op.outcome === 'ok' ? 'fail' : 'ok' };
  else if (op.outcome === 'ok') ops[i] = { ...op, previous: other };
  else ops[i] = { ...op, invokeTime: Math.max(0, op.invokeTime - 1 - random.nextInt(3)) };
}

describe('checkLinearizability agrees with brute force', () => {
  it('on 3,000 small random histories, and its failing windows fail too', () => {
    const random = new SeededRandom(20240611);
    let valid = 0;
    let invalid = 0;
    for (let n = 0; n < 3000; n++) {
      const ops = randomSmallHistory(random);
      const expected = bruteForceLinearizable(ops);
      const result = checkLinearizability(ops);
      assert.equal(result.valid, expected, `history #${n}: ${JSON.stringify(ops)}`);
      if (result.valid === false) {
        invalid++;
        assert.equal(bruteForceLinearizable(result.operations), false, `window of history #${n}`);
      } else {
        valid++;
      }
    }
    // Both answers must be well represented for the comparison to mean anything.
    assert.ok(valid > 600 && invalid > 600, `valid ${valid}, invalid ${invalid}`);
  });
});

// ---------------------------------------------------------------------------------

describe('generated histories', () => {
  const events = generateHistory({ seed: 7, operations: 2000, keys: 5, processes: 10 });
  const ops = pairHistory(events);

  it('are linearizable, with info operations and failed cas ops among them', () => {
    assert.equal(ops.length, 2000);
    assert.ok(ops.some((op) => op.outcome === 'info'));
    assert.ok(ops.some((op) => op.f === 'cas' && op.outcome === 'fail'));
    assert.deepEqual(checkLinearizability(events), { valid: true, keys: 5, operations: 2000 });
  });

  it('are the same for the same seed', () => {
    assert.deepEqual(generateHistory({ seed: 7, operations: 2000, keys: 5, processes: 10 }), events);
  });

  it('fail when one get returns a value never written', () => {
    const target = ops.findIndex((op, i) => i > 1000 && op.f === 'get' && op.outcome === 'ok');
    const corrupted = ops.map((op, i) => (i === target ? { ...op, output: 'never-written' } : op));
    const result = checkLinearizability(corrupted);
    assert.equal(result.valid, false);
    if (result.valid === false) assert.ok(result.operations.some((op) => op.output === 'never-written'));
  });

  it('fail when one get returns a value written only after it completed', () => {
    const target = ops.findIndex(
      (op, i) => i > 1000 && op.f === 'get' && op.outcome === 'ok' && ops.some((w) => w.key === op.key && w.f === 'put' && w.invokeTime > op.completeTime),
    );
    const getOp = ops[target]!;
    const later = ops.find((w) => w.key === getOp.key && w.f === 'put' && w.invokeTime > getOp.completeTime)!;
    const corrupted = ops.map((op, i) => (i === target ? { ...op, output: later.value } : op));
    assert.equal(checkLinearizability(corrupted).valid, false);
  });
});

describe('checkAcknowledgedWritesVisible', () => {
  it('accepts a final value that is the last acknowledged write', () => {
    const events = history(put(1, 'k', 'a', 0, 1), put(1, 'k', 'b', 2, 3), del(1, 'j', 0, 1));
    assert.deepEqual(checkAcknowledgedWritesVisible(events, new Map([['k', 'b'], ['j', null]])), []);
  });

  it('reports an acknowledged write that nothing could have overwritten', () => {
    const violations = checkAcknowledgedWritesVisible(history(put(1, 'k', 'a', 0, 1), put(1, 'k', 'b', 2, 3)), new Map([['k', 'a']]));
    assert.equal(violations.length, 1);
    assert.match(violations[0]!, /key "k": final value "a" but nothing could have overwritten the acknowledged process 1 put\("k", "b"\)/);
  });

  it('accepts a final value from a concurrent write or a possible info write', () => {
    assert.deepEqual(checkAcknowledgedWritesVisible(history(put(1, 'k', 'a', 0, 10), put(2, 'k', 'b', 5, 6)), new Map([['k', 'a']])), []);
    assert.deepEqual(checkAcknowledgedWritesVisible(history(put(1, 'k', 'a', 0, 1, 'info'), put(2, 'k', 'b', 5, 6)), new Map([['k', 'a']])), []);
    assert.deepEqual(checkAcknowledgedWritesVisible(history(put(1, 'k', 'a', 0, 1), del(2, 'k', 5, 6, 'info')), new Map([['k', null]])), []);
  });

  it('does not count refused writes', () => {
    const violations = checkAcknowledgedWritesVisible(history(put(1, 'k', 'a', 0, 1), put(2, 'k', 'b', 5, 6, 'fail')), new Map([['k', 'b']]));
    assert.equal(violations.length, 2);
    assert.match(violations[0]!, /final value "b" was never written/);
  });

  it('reports a lost delete and a value never written, and ignores keys not read', () => {
    const events = history(put(1, 'k', 'a', 0, 1), del(1, 'k', 2, 3), put(2, 'x', 'y', 0, 1));
    assert.equal(checkAcknowledgedWritesVisible(events, new Map([['k', 'a']])).length, 1);
    assert.deepEqual(checkAcknowledgedWritesVisible(events, new Map([['j', 'zzz']])), ['key "j": final value "zzz" was never written']);
  });
});
