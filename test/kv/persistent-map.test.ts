/**
 * The copy-on-write B+tree under the KV store, against a plain Map: random sets and
 * deletes over a key space large enough to split and merge nodes at several levels,
 * with views frozen at random points. It proves every view keeps exactly the entries
 * it saw (in key order) however the live map changes afterwards, that the live map
 * always equals the reference, and that bulk loading gives the same map as inserting.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';

import type { FrozenMap } from '../../src/kv/persistent-map.js';
import { PersistentMap, Versions, compareNumbers, compareStrings } from '../../src/kv/persistent-map.js';

type Op = { kind: 'set'; key: number; value: number } | { kind: 'delete'; key: number } | { kind: 'freeze' } | { kind: 'release' };

const opArb = (keySpace: number): fc.Arbitrary<Op> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), key: fc.nat(keySpace - 1), value: fc.nat() }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.nat(keySpace - 1) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('freeze' as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const) }) },
  );

function entriesOf<K, V>(view: FrozenMap<K, V>): [K, V][] {
  const out: [K, V][] = [];
  for (const { keys, values } of view.leaves()) keys.forEach((k, i) => out.push([k, values[i]!]));
  return out;
}

const sorted = (reference: Map<number, number>): [number, number][] => [...reference].sort((a, b) => a[0] - b[0]);

describe('PersistentMap', () => {
  it('matches a Map under random sets and deletes, and every frozen view keeps what it saw', () => {
    fc.assert(
      fc.property(fc.array(opArb(1500), { minLength: 200, maxLength: 3000, size: 'max' }), (ops) => {
        const versions = new Versions();
        const map = new PersistentMap<number, number>(versions, compareNumbers);
        const reference = new Map<number, number>();
        const views: { view: FrozenMap<number, number>; epoch: number; expected: [number, number][] }[] = [];
        for (const op of ops) {
          if (op.kind === 'set') {
            assert.equal(map.set(op.key, op.value), reference.get(op.key));
            reference.set(op.key, op.value);
          } else if (op.kind === 'delete') {
            assert.equal(map.delete(op.key), reference.get(op.key));
            reference.delete(op.key);
          } else if (op.kind === 'freeze') {
            const epoch = versions.pin();
            views.push({ view: map.freeze(), epoch, expected: sorted(reference) });
          } else if (views.length > 0) {
            // Release the oldest view, so views of different ages overlap.
            const { view, epoch, expected } = views.shift()!;
            assert.deepEqual(entriesOf(view), expected, 'a view released late still held its entries');
            versions.unpin(epoch);
          }
          assert.equal(map.size, reference.size);
        }
        assert.deepEqual(entriesOf(map.freeze()), sorted(reference));
        for (let key = 0; key < 1500; key += 7) assert.equal(map.get(key), reference.get(key));
        for (const { view, expected } of views) {
          assert.deepEqual(entriesOf(view), expected);
          assert.equal(view.size, expected.length);
          for (const [key, value] of expected) assert.equal(view.get(key), value);
        }
      }),
      { numRuns: 20 },
    );
  });

  it('grows and shrinks through several levels: 20,000 inserts then deleting all but every 97th', () => {
    const versions = new Versions();
    const map = new PersistentMap<string, number>(versions, compareStrings);
    const key = (i: number): string => `k${String(i * 7919 % 20_000).padStart(5, '0')}`;
    for (let i = 0; i < 20_000; i += 1) map.set(key(i), i);
    const epoch = versions.pin();
    const full = map.freeze();
    for (let i = 0; i < 20_000; i += 1) if (i % 97 !== 0) map.delete(key(i));
    assert.equal(map.size, Math.ceil(20_000 / 97));
    const live = entriesOf(map.freeze());
    assert.deepEqual(live.map(([, v]) => v).sort((a, b) => a - b), Array.from({ length: Math.ceil(20_000 / 97) }, (_, i) => i * 97));
    assert.ok(live.every(([k], i) => i === 0 || live[i - 1]![0] < k), 'key order');
    assert.equal(entriesOf(full).length, 20_000, 'the frozen view still has everything');
    versions.unpin(epoch);
    for (let i = 0; i < 20_000; i += 97) map.delete(key(i));
    assert.equal(map.size, 0);
    assert.deepEqual(entriesOf(map.freeze()), []);
    assert.equal(map.firstKey(), undefined);
  });

  it('fromSorted builds the same map as inserting one by one', () => {
    for (const n of [0, 1, 47, 48, 49, 64, 65, 3000, 10_001]) {
      const versions = new Versions();
      const keys = Array.from({ length: n }, (_, i) => i * 2);
      const bulk = PersistentMap.fromSorted(versions, compareNumbers, keys, keys.map((k) => -k));
      assert.equal(bulk.size, n);
      assert.deepEqual(entriesOf(bulk.freeze()), keys.map((k) => [k, -k]));
      for (const k of [0, 1, n, 2 * n - 2, 2 * n]) {
        if (k >= 0) assert.equal(bulk.get(k), k % 2 === 0 && k < 2 * n ? -k : undefined, `n ${n} key ${k}`);
      }
      // Still a working tree: insert between every pair and delete the originals.
      for (const k of keys) bulk.set(k + 1, k);
      for (const k of keys) bulk.delete(k);
      assert.deepEqual(entriesOf(bulk.freeze()), keys.map((k) => [k + 1, k]));
    }
  });

  it('tracks live views across out-of-order releases', () => {
    const versions = new Versions();
    const a = versions.pin();
    const b = versions.pin();
    assert.equal(versions.liveViews, 2);
    assert.equal(versions.writable(a), false);
    versions.unpin(b);
    assert.equal(versions.writable(b), true, 'nothing made after a is pinned once b is released');
    assert.equal(versions.writable(a), false);
    versions.unpin(a);
    versions.unpin(a); // a second release changes nothing
    assert.equal(versions.liveViews, 0);
    assert.equal(versions.writable(1), true);
  });
});
