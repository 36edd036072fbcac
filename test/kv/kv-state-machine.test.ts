/**
 * KvStateMachine driven only through apply() with log entries built by
 * encodeKvCommand, as the node applies committed entries. It proves:
 * - put/delete/cas/get return what the client protocol promises (previous value,
 *   current value, ok false only for a failed cas) and read() sees the effect;
 * - no-op entries change nothing;
 * - client sessions make a write apply at most once (Raft thesis §6.3): a duplicate
 *   (clientId, seq) returns the FIRST result and does not mutate again, seqs below
 *   firstUnackedSeq are forgotten and refused, sessions are per client;
 * - determinism: the same entries give byte-identical snapshots on every machine,
 *   including which sessions are evicted beyond sessionsMax;
 * - snapshot()/restore() carry data and sessions (dedup still works after restore).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { SeededRandom } from '../../src/core/random.js';
import type { Entry } from '../../src/core/types.js';
import { EntryKind } from '../../src/core/types.js';
import { encodeKvCommand } from '../../src/kv/kv-command.js';
import type { KvStateMachineOptions } from '../../src/kv/kv-state-machine.js';
import { KvStateMachine } from '../../src/kv/kv-state-machine.js';
import type { KvOperation, KvResult } from '../../src/protocol/client-messages.js';
import { snapshotBytes } from './snapshot-bytes.js';

/** Builds a log: each added entry gets the next index. */
class LogBuilder {
  readonly entries: Entry[] = [];

  /** A client write; firstUnackedSeq defaults to seq (a client with one request in flight). */
  command(clientId: string, seq: number, operation: KvOperation, firstUnackedSeq = seq): Entry {
    const data = encodeKvCommand({ operation, clientId, seq, firstUnackedSeq });
    return this.push(EntryKind.Command, data);
  }

  /** The same command bytes again at a new index: a retried request that landed twice. */
  duplicate(of: Entry): Entry {
    return this.push(EntryKind.Command, Uint8Array.from(of.data));
  }

  noop(): Entry {
    return this.push(EntryKind.Noop, new Uint8Array(0));
  }

  private push(kind: EntryKind, data: Uint8Array): Entry {
    const e: Entry = { term: 1, index: this.entries.length + 1, kind, data };
    this.entries.push(e);
    return e;
  }
}

const put = (key: string, value: string): KvOperation => ({ op: 'put', key, value });
const del = (key: string): KvOperation => ({ op: 'delete', key });
const cas = (key: string, expect: string | null, value: string): KvOperation => ({ op: 'cas', key, expect, value });
const get = (key: string): KvOperation => ({ op: 'get', key });

function result(ok: boolean, value: string | null, index: number): KvResult {
  return { ok, value, index };
}

function applyAll(machine: KvStateMachine, entries: readonly Entry[]): KvResult[] {
  return entries.map((e) => ({ ...machine.apply(e) }));
}

function snapshotHex(machine: KvStateMachine): string {
  return Buffer.from(snapshotBytes(machine)).toString('hex');
}

describe('KvStateMachine operations', () => {
  it('put returns the previous value (null when absent) and read() sees the new one', () => {
    const kv = new KvStateMachine();
    const log = new LogBuilder();
    assert.deepEqual(kv.apply(log.command('a', 1, put('k', 'v1'))), result(true, null, 1));
    assert.equal(kv.read('k'), 'v1');
    assert.deepEqual(kv.apply(log.command('a', 2, put('k', 'v2'))), result(true, 'v1', 2));
    assert.equal(kv.read('k'), 'v2');
    assert.deepEqual(kv.apply(log.command('a', 3, put('ключ', ''))), result(true, null, 3));
    assert.equal(kv.read('ключ'), '', 'an empty value is a value, not absence');
    assert.equal(kv.read('other'), null);
    assert.equal(kv.size(), 2);
  });

  it('delete returns the previous value and removes the key; deleting an absent key returns null', () => {
    const kv = new KvStateMachine();
    const log = new LogBuilder();
    kv.apply(log.command('a', 1, put('k', 'v')));
    assert.deepEqual(kv.apply(log.command('a', 2, del('k'))), result(true, 'v', 2));
    assert.equal(kv.read('k'), null);
    assert.equal(kv.size(), 0);
    assert.deepEqual(kv.apply(log.command('a', 3, del('k'))), result(true, null, 3));
  });

  it('cas applies only when the expectation holds; expect null means absent', () => {
    const kv = new KvStateMachine();
    const log = new LogBuilder();
    assert.deepEqual(kv.apply(log.command('a', 1, cas('k', null, 'created'))), result(true, 'created', 1), 'expect null on an absent key creates it');
    assert.equal(kv.read('k'), 'created');
    assert.deepEqual(kv.apply(log.command('a', 2, cas('k', null, 'again'))), result(false, 'created', 2), 'expect null on a present key fails');
    assert.equal(kv.read('k'), 'created');
    assert.deepEqual(kv.apply(log.command('a', 3, cas('k', 'wrong', 'x'))), result(false, 'created', 3), 'a mismatch reports the current value');
    assert.equal(kv.read('k'), 'created');
    assert.deepEqual(kv.apply(log.command('a', 4, cas('k', 'created', 'swapped'))), result(true, 'swapped', 4));
    assert.equal(kv.read('k'), 'swapped');
    assert.deepEqual(kv.apply(log.command('a', 5, cas('absent', 'something', 'x'))), result(false, null, 5));
    assert.equal(kv.read('absent'), null);
    kv.apply(log.command('a', 6, put('empty', '')));
    assert.deepEqual(kv.apply(log.command('a', 7, cas('empty', null, 'x'))), result(false, '', 7), "'' is present, not absent");
    assert.deepEqual(kv.apply(log.command('a', 8, cas('empty', '', 'filled'))), result(true, 'filled', 8));
  });

  it('a get through the log returns the current value and changes nothing', () => {
    const kv = new KvStateMachine();
    const log = new LogBuilder();
    assert.deepEqual(kv.apply(log.command('a', 1, get('k'))), result(true, null, 1));
    kv.apply(log.command('a', 2, put('k', 'v')));
    assert.deepEqual(kv.apply(log.command('b', 1, get('k'))), result(true, 'v', 3));
    assert.equal(kv.read('k'), 'v');
    assert.equal(kv.size(), 1);
  });

  it('no-op entries change nothing', () => {
    const kv = new KvStateMachine();
    const log = new LogBuilder();
    kv.apply(log.command('a', 1, put('k', 'v')));
    const before = snapshotHex(kv);
    assert.deepEqual(kv.apply(log.noop()), result(true, null, 2));
    assert.deepEqual(kv.apply(log.noop()), result(true, null, 3));
    assert.equal(snapshotHex(kv), before);
    assert.equal(kv.read('k'), 'v');
  });
});

describe('KvStateMachine sessions (Raft thesis §6.3)', () => {
  it('a duplicate (clientId, seq) mutates once and returns the first result, even after another client wrote', () => {
    const kv = new KvStateMachine();
    const log = new LogBuilder();
    const first = log.command('a', 1, put('k', 'from-a'));
    assert.deepEqual(kv.apply(first), result(true, null, 1));
    assert.deepEqual(kv.apply(log.command('b', 1, put('k', 'from-b'))), result(true, 'from-a', 2));
    // a's request was retried and committed a second time.
    assert.deepEqual(kv.apply(log.duplicate(first)), result(true, null, 1), 'the first result, with its index');
    assert.equal(kv.read('k'), 'from-b', "the retry must not overwrite b's value");
    assert.deepEqual(kv.apply(log.duplicate(first)), result(true, null, 1), 'a third delivery too');
    assert.equal(kv.read('k'), 'from-b');
  });

  it('a duplicated delete, and a duplicated cas, apply once', () => {
    const kv = new KvStateMachine();
    const log = new LogBuilder();
    kv.apply(log.command('setup', 1, put('d', 'x')));
    const deletion = log.command('a', 1, del('d'));
    assert.deepEqual(kv.apply(deletion), result(true, 'x', 2));
    kv.apply(log.command('b', 1, put('d', 'y')));
    assert.deepEqual(kv.apply(log.duplicate(deletion)), result(true, 'x', 2));
    assert.equal(kv.read('d'), 'y');

    const swap = log.command('a', 2, cas('c', null, 'first'));
    assert.deepEqual(kv.apply(swap), result(true, 'first', 5));
    kv.apply(log.command('b', 2, del('c')));
    assert.deepEqual(kv.apply(log.duplicate(swap)), result(true, 'first', 5));
    assert.equal(kv.read('c'), null, 'the duplicate cas did not recreate the key');
  });

  it('the same seq from a different client is a different request', () => {
    const kv = new KvStateMachine();
    const log = new LogBuilder();
    assert.deepEqual(kv.apply(log.command('a', 1, put('k', '1'))), result(true, null, 1));
    assert.deepEqual(kv.apply(log.command('b', 1, put('k', '2'))), result(true, '1', 2));
    assert.equal(kv.read('k'), '2');
  });

  it('results below firstUnackedSeq are forgotten: a late duplicate does not apply and returns ok false', () => {
    const kv = new KvStateMachine();
    const log = new LogBuilder();
    const seq1 = log.command('a', 1, put('k', 'one'), 1);
    const seq2 = log.command('a', 2, put('k', 'two'), 2); // a has seen seq 1's answer
    assert.deepEqual(kv.apply(seq1), result(true, null, 1));
    assert.deepEqual(kv.apply(seq2), result(true, 'one', 2));
    kv.apply(log.command('b', 1, put('k', 'b')));
    assert.deepEqual(kv.apply(log.duplicate(seq1)), result(false, null, 4));
    assert.equal(kv.read('k'), 'b', 'the late duplicate did not apply');
    // seq 2 is not yet acknowledged: its duplicate still gets the remembered result.
    assert.deepEqual(kv.apply(log.duplicate(seq2)), result(true, 'one', 2));
    assert.equal(kv.read('k'), 'b');
  });

  it('acknowledged results are dropped: a client that keeps writing does not grow the state', () => {
    const kv = new KvStateMachine();
    const log = new LogBuilder();
    const sizeAfter = (writes: number): number => {
      while (log.entries.length < writes) {
        const seq = log.entries.length + 1;
        kv.apply(log.command('a', seq, put('k', 'v'), seq));
      }
      return snapshotBytes(kv).byteLength;
    };
    const small = sizeAfter(10);
    const large = sizeAfter(1000);
    // Only the encodings of the larger index numbers may differ, never 990 results.
    assert.ok(large - small < 16, `snapshot grew from ${small} to ${large} bytes`);
  });

  it('pipelined requests: results at or above firstUnackedSeq are all remembered', () => {
    const kv = new KvStateMachine();
    const log = new LogBuilder();
    const s1 = log.command('a', 1, put('x', '1'), 1);
    const s2 = log.command('a', 2, put('y', '2'), 1);
    const s3 = log.command('a', 3, put('z', '3'), 2);
    for (const e of [s1, s2, s3]) kv.apply(e);
    kv.apply(log.command('b', 1, put('y', 'b')));
    assert.deepEqual(kv.apply(log.duplicate(s2)), result(true, null, 2));
    assert.equal(kv.read('y'), 'b');
    assert.deepEqual(kv.apply(log.duplicate(s1)), result(false, null, 6), 'seq 1 < firstUnackedSeq 2');
    assert.equal(kv.read('x'), '1');
  });

  it('sessions beyond sessionsMax are evicted least-recently-used, identically on every machine', () => {
    const log = new LogBuilder();
    const a1 = log.command('a', 1, put('a', '1'));
    const b1 = log.command('b', 1, put('b', '1'));
    log.command('a', 2, put('a', '2'), 1); // touches a: b is now the least recently used
    log.command('c', 1, put('c', '1')); // a third session: b is evicted
    const aDuplicate = log.duplicate(a1);
    const bDuplicate = log.duplicate(b1);
    const machines = [new KvStateMachine({ sessionsMax: 2 }), new KvStateMachine({ sessionsMax: 2 })];
    const results = machines.map((kv) => applyAll(kv, log.entries));
    assert.deepEqual(results[0], results[1]);
    assert.equal(snapshotHex(machines[0]!), snapshotHex(machines[1]!));
    const [first] = results;
    assert.deepEqual(first![aDuplicate.index - 1], result(true, null, 1), "a's session survived: deduplicated");
    assert.deepEqual(first![bDuplicate.index - 1], result(true, '1', bDuplicate.index), "b's session was forgotten: applied again");

    // With room for every session nothing is evicted, and the state differs.
    const roomy = new KvStateMachine({ sessionsMax: 10 });
    const roomyResults = applyAll(roomy, log.entries);
    assert.deepEqual(roomyResults[bDuplicate.index - 1], result(true, null, 2));
    assert.notEqual(snapshotHex(roomy), snapshotHex(machines[0]!));
  });
});

/** A seeded mixed workload: several clients, duplicates, late duplicates, no-ops. */
function randomLog(seed: number, length: number): Entry[] {
  const random = new SeededRandom(seed);
  const log = new LogBuilder();
  const clients = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'];
  const nextSeq = new Map<string, number>();
  const keys = ['k0', 'k1', 'k2', 'ключ', '🔑'];
  const values = ['', 'v', 'w', 'значение', '値'];
  const pick = <T>(from: readonly T[]): T => from[random.nextInt(from.length)]!;
  while (log.entries.length < length) {
    const roll = random.nextInt(10);
    if (roll === 0) {
      log.noop();
    } else if (roll <= 2 && log.entries.length > 0) {
      const earlier = log.entries[random.nextInt(log.entries.length)]!;
      if (earlier.kind === EntryKind.Command) log.duplicate(earlier);
    } else {
      const clientId = pick(clients);
      const seq = (nextSeq.get(clientId) ?? 0) + 1;
      nextSeq.set(clientId, seq);
      const firstUnackedSeq = Math.max(1, seq - random.nextInt(3));
      const key = pick(keys);
      const op = random.nextInt(4);
      const operation =
        op === 0 ? put(key, pick(values)) : op === 1 ? del(key) : op === 2 ? cas(key, random.nextInt(3) === 0 ? null : pick(values), pick(values)) : get(key);
      log.command(clientId, seq, operation, firstUnackedSeq);
    }
  }
  return log.entries;
}

describe('KvStateMachine determinism and snapshots', () => {
  for (const options of [{}, { sessionsMax: 3 }] satisfies KvStateMachineOptions[]) {
    it(`two machines applying the same entries give the same results and snapshot bytes (${JSON.stringify(options)})`, () => {
      for (const seed of [1, 2, 3, 0xdecaf]) {
        const entries = randomLog(seed, 400);
        const one = new KvStateMachine(options);
        const two = new KvStateMachine(options);
        const resultsOne = applyAll(one, entries);
        const resultsTwo = applyAll(two, entries);
        assert.deepEqual(resultsOne, resultsTwo, `seed ${seed}`);
        assert.equal(snapshotHex(one), snapshotHex(two), `seed ${seed}`);
        assert.ok(one.size() > 0, 'the workload wrote something');
        assert.ok(resultsOne.some((r, i) => entries[i]!.kind === EntryKind.Command && r.index < entries[i]!.index), 'the workload deduplicated something');
      }
    });

    it(`restore() mid-log then applying the rest matches a machine that never stopped (${JSON.stringify(options)})`, () => {
      for (const seed of [7, 8, 9]) {
        const entries = randomLog(seed, 400);
        const whole = new KvStateMachine(options);
        const resultsWhole = applyAll(whole, entries);

        const before = new KvStateMachine(options);
        applyAll(before, entries.slice(0, 200));
        const restored = new KvStateMachine(options);
        restored.apply(new LogBuilder().command('stale-state', 1, put('discarded', 'x')));
        restored.restore(snapshotBytes(before));
        assert.equal(restored.read('discarded'), null, 'restore discards previous state');
        assert.equal(snapshotHex(restored), snapshotHex(before), 'restore then snapshot gives the same bytes');
        const resultsRest = applyAll(restored, entries.slice(200));
        assert.deepEqual(resultsRest, resultsWhole.slice(200), `seed ${seed}`);
        assert.equal(snapshotHex(restored), snapshotHex(whole), `seed ${seed}`);
      }
    });
  }

  it('snapshot()/restore() preserves data and sessions: a duplicate after restore is still deduplicated', () => {
    const log = new LogBuilder();
    const kv = new KvStateMachine();
    const first = log.command('a', 1, put('k', 'from-a'));
    kv.apply(first);
    kv.apply(log.command('b', 1, put('k', 'from-b')));
    kv.apply(log.command('b', 2, put('ключ', '値')));
    kv.apply(log.command('b', 3, put('empty', '')));

    const restored = new KvStateMachine();
    restored.restore(snapshotBytes(kv));
    assert.equal(restored.read('k'), 'from-b');
    assert.equal(restored.read('ключ'), '値');
    assert.equal(restored.read('empty'), '');
    assert.equal(restored.size(), 3);
    assert.deepEqual({ ...restored.apply(log.duplicate(first)) }, result(true, null, 1));
    assert.equal(restored.read('k'), 'from-b');
    assert.deepEqual({ ...restored.apply(log.command('a', 2, put('k', 'a2'))) }, result(true, 'from-b', 6));
  });
  it('verifySnapshot() accepts its own snapshots and throws on bytes restore() would refuse, changing nothing', () => {
    const log = new LogBuilder();
    const kv = new KvStateMachine();
    kv.apply(log.command('a', 1, put('k', 'v')));
    const bytes = snapshotBytes(kv);
    kv.verifySnapshot(bytes);
    const corrupt = Uint8Array.from(bytes);
    corrupt[corrupt.length - 6]! ^= 0x40;
    for (const bad of [corrupt, bytes.subarray(0, bytes.length - 1), new Uint8Array(20), new Uint8Array(0)]) {
      assert.throws(() => kv.verifySnapshot(bad), { code: 'RAFT_INVALID_SNAPSHOT_DATA' });
    }
    assert.equal(kv.read('k'), 'v', 'the state is untouched');
  });
});
