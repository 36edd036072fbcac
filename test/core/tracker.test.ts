// The leader's tracker pieces against dumb references (etcd tracker/inflights_test.go,
// quorum/quick_test.go): the inflight ring buffer behaves like an array with a count
// and a byte bound, and the tracker's committed index is "sort the voters' matches and
// take the majority-th", learners never counting.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Inflights } from '../../src/core/tracker/inflights.js';
import { ProgressTracker } from '../../src/core/tracker/progress-tracker.js';

type InflightOp = { op: 'add'; bytes: number; step: number } | { op: 'freeTo'; back: number } | { op: 'freeFirst' } | { op: 'reset' };

const inflightOp: fc.Arbitrary<InflightOp> = fc.oneof(
  fc.record({ op: fc.constant('add' as const), bytes: fc.integer({ min: 0, max: 50 }), step: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ op: fc.constant('freeTo' as const), back: fc.integer({ min: 0, max: 10 }) }),
  fc.record({ op: fc.constant('freeFirst' as const) }),
  fc.record({ op: fc.constant('reset' as const) }),
);

describe('Inflights', () => {
  it('matches an array model under any sequence of operations', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 120 }), fc.array(inflightOp, { maxLength: 200 }), (countMax, bytesMax, ops) => {
        const ring = new Inflights(countMax, bytesMax);
        const model: { index: number; bytes: number }[] = [];
        let last = 0;
        for (const op of ops) {
          if (op.op === 'add') {
            if (model.length >= countMax) continue;
            last += op.step;
            ring.add(last, op.bytes);
            model.push({ index: last, bytes: op.bytes });
          } else if (op.op === 'freeTo') {
            const to = last - op.back;
            ring.freeTo(to);
            while (model.length > 0 && model[0]!.index <= to) model.shift();
          } else if (op.op === 'freeFirst') {
            ring.freeFirst();
            model.shift();
          } else {
            ring.reset();
            model.length = 0;
          }
          const bytes = model.reduce((sum, e) => sum + e.bytes, 0);
          assert.equal(ring.size(), model.length);
          assert.equal(ring.totalBytes(), bytes);
          assert.equal(ring.full(), model.length >= countMax || bytes >= bytesMax);
        }
      }),
    );
  });

  it('refuses an add beyond its count and an index that goes backwards', () => {
    const ring = new Inflights(2, 1000);
    ring.add(5, 1);
    assert.throws(() => ring.add(4, 1), /must not decrease/);
    ring.add(5, 0);
    assert.throws(() => ring.add(6, 1), /overflow/);
  });
});

describe('ProgressTracker', () => {
  it('commits what a majority of voters stores, counting the leader as its durable index and never a learner', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 10, maxLength: 10 }),
        (voterCount, learnerCount, matches) => {
          const voters = Array.from({ length: voterCount }, (_, i) => i + 1);
          const learners = Array.from({ length: learnerCount }, (_, i) => voterCount + i + 1);
          const tracker = new ProgressTracker({ self: 1, voters, learners, next: 101, inflightAppendsMax: 4, inflightBytesMax: 100, tick: 0 });
          for (const id of [...voters, ...learners]) if (id !== 1) tracker.progressOf(id).maybeUpdate(matches[id - 1]!);
          const voterMatches = voters.map((id) => (id === 1 ? matches[0]! : matches[id - 1]!)).sort((a, b) => b - a);
          const expected = voterMatches[Math.floor(voterCount / 2)]!;
          assert.equal(tracker.committedIndex(matches[0]!), expected);
        },
      ),
    );
  });

  it('counts recently active voters, the leader included, and starts a new round', () => {
    const tracker = new ProgressTracker({ self: 1, voters: [1, 2, 3, 4, 5], learners: [6], next: 1, inflightAppendsMax: 4, inflightBytesMax: 100, tick: 0 });
    assert.equal(tracker.takeRecentlyActiveVoters(), 5, 'all count as active in the first round');
    tracker.progressOf(2).recentActive = true;
    tracker.progressOf(6).recentActive = true;
    assert.equal(tracker.takeRecentlyActiveVoters(), 2, 'the leader and voter 2; the learner does not count');
    assert.equal(tracker.takeRecentlyActiveVoters(), 1);
    assert.deepEqual(tracker.peers(), [2, 3, 4, 5, 6]);
  });
});
