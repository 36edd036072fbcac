// The one partition planner the simulator and the chaos tool share: exactly which
// directed links each mode cuts for 3, 4, 5 and 7 nodes (with a scripted generator,
// so the random order is known), and the properties every plan keeps for any seed:
// a majority ring leaves every node linked both ways to a majority counting itself
// and cuts something from 3 nodes up; the same seed gives the same plan.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DirectedLink, PlanOf } from '../../src/chaos/partition-plan.js';
import { connectedTo, describeCuts, PARTITION_MODES, planPartition, ringPartners } from '../../src/chaos/partition-plan.js';
import type { Random } from '../../src/core/random.js';
import { SeededRandom } from '../../src/core/random.js';

/** Returns `values` in turn, then always the largest allowed value; with no values
 * the shuffle keeps the ids' own order. */
function scripted(...values: number[]): Random {
  const queue = [...values];
  return {
    nextInt(maxExclusive: number): number {
      const value = queue.shift() ?? maxExclusive - 1;
      assert.ok(value >= 0 && value < maxExclusive, `scripted ${value} not below ${maxExclusive}`);
      return value;
    },
  };
}

const nodes = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

/** "1>3 3>1 ..." for both directions of each pair. */
function both(...pairs: [number, number][]): string {
  const links: DirectedLink[] = pairs.flatMap(([a, b]) => [{ from: a, to: b }, { from: b, to: a }]);
  return describeCuts(links.sort((x, y) => x.from - y.from || x.to - y.to));
}

const majority = (n: number): number => Math.floor(n / 2) + 1;

describe('planPartition: the links each mode cuts', () => {
  it('majority-ring, nodes in ring order 1..n', () => {
    const ring = (n: number): PlanOf<'majority-ring'> => planPartition('majority-ring', nodes(n), scripted());
    // n = 3: a majority is 2. Links both ways cannot give all three exactly 2, so 1 is
    // the bridge: 2 and 3 each keep only their link to 1.
    assert.equal(describeCuts(ring(3).cuts), both([2, 3]));
    // n = 4: each node keeps its two ring neighbours (3 of 4); opposite nodes are cut.
    assert.equal(describeCuts(ring(4).cuts), both([1, 3], [2, 4]));
    // n = 5: each node keeps its two ring neighbours (3 of 5); distance 2 is cut.
    assert.equal(describeCuts(ring(5).cuts), both([1, 3], [1, 4], [2, 4], [2, 5], [3, 5]));
    // n = 6: neighbours plus the opposite node (4 of 6); distance 2 is cut.
    assert.equal(describeCuts(ring(6).cuts), both([1, 3], [1, 5], [2, 4], [2, 6], [3, 5], [4, 6]));
    // n = 7: neighbours plus one chord of distance 3 each (1-4, 7-3, 6-2), and 5-1 for
    // the odd one out: 1 sees 5 of 7, the others 4 of 7.
    assert.equal(describeCuts(ring(7).cuts), both([1, 3], [1, 6], [2, 4], [2, 5], [3, 5], [3, 6], [4, 6], [4, 7], [5, 7], [2, 7]));
    assert.deepEqual(ring(7).cuts.length, 20);
  });

  it('majority-ring follows the shuffled order', () => {
    // Shuffle draws for [1,2,3,4]: i=3 swaps with 0, then keep: ring 4,2,3,1.
    const plan = planPartition('majority-ring', nodes(4), scripted(0));
    assert.deepEqual(plan.ring, [4, 2, 3, 1]);
    assert.equal(describeCuts(plan.cuts), both([1, 2], [3, 4]));
  });

  it('isolate-one cuts the victim from everyone, both ways', () => {
    assert.equal(describeCuts(planPartition('isolate-one', nodes(3), scripted(), { victim: 2 }).cuts), both([1, 2], [2, 3]));
    assert.equal(describeCuts(planPartition('isolate-one', nodes(4), scripted(), { victim: 4 }).cuts), both([1, 4], [2, 4], [3, 4]));
    // Without a victim: the first of the shuffled order (here the ids' order).
    const plan = planPartition('isolate-one', nodes(5), scripted());
    assert.equal(plan.victim, 1);
    assert.equal(describeCuts(plan.cuts), both([1, 2], [1, 3], [1, 4], [1, 5]));
    assert.equal(planPartition('isolate-one', nodes(7), scripted(), { victim: 7 }).cuts.length, 12);
  });

  it('random-halves cuts every link between a side of floor(n/2) and the rest', () => {
    const halves = (n: number): PlanOf<'random-halves'> => planPartition('random-halves', nodes(n), scripted());
    assert.equal(describeCuts(halves(3).cuts), both([1, 2], [1, 3]));
    assert.equal(describeCuts(halves(4).cuts), both([1, 3], [1, 4], [2, 3], [2, 4]));
    assert.equal(describeCuts(halves(5).cuts), both([1, 3], [1, 4], [1, 5], [2, 3], [2, 4], [2, 5]));
    const seven = halves(7);
    assert.deepEqual(seven.sides, [[1, 2, 3], [4, 5, 6, 7]]);
    assert.equal(seven.cuts.length, 2 * 3 * 4);
  });

  it('one-way cuts one direction only, between the victim and some peers', () => {
    // Shuffle draws 2, 1 keep the ids' order; then direction 0 = outbound, and 1 + 0 =
    // one peer, the first other node in that order.
    const mute = planPartition('one-way', nodes(3), scripted(2, 1, 0, 0), { victim: 2 });
    assert.equal(describeCuts(mute.cuts), '2>1');
    // Scripted top values: inbound, every peer.
    assert.equal(describeCuts(planPartition('one-way', nodes(4), scripted(), { victim: 3 }).cuts), '1>3 2>3 4>3');
    const deaf = planPartition('one-way', nodes(5), scripted());
    assert.equal(`${deaf.victim} ${deaf.direction} ${deaf.peers.join(',')}`, '1 inbound 2,3,4,5');
    assert.equal(describeCuts(deaf.cuts), '2>1 3>1 4>1 5>1');
    assert.equal(planPartition('one-way', nodes(7), scripted()).cuts.length, 6);
  });

  it('refuses fewer than two nodes, duplicates and a victim that is not a node', () => {
    assert.throws(() => planPartition('isolate-one', [1], scripted()), RangeError);
    assert.throws(() => planPartition('isolate-one', [1, 1, 2], scripted()), RangeError);
    assert.throws(() => planPartition('one-way', nodes(3), scripted(), { victim: 9 }), RangeError);
  });
});

describe('planPartition: properties for any seed', () => {
  it('cuts are sorted, distinct, between known nodes and never to a node itself; one seed, one plan', () => {
    for (let n = 2; n <= 9; n += 1) {
      for (const mode of PARTITION_MODES) {
        for (let seed = 0; seed < 50; seed += 1) {
          const ids = nodes(n).map((id) => id * 10);
          const plan = planPartition(mode, ids, new SeededRandom(seed));
          assert.deepEqual(planPartition(mode, ids, new SeededRandom(seed)), plan);
          const keys = plan.cuts.map((link) => `${link.from}>${link.to}`);
          assert.equal(new Set(keys).size, keys.length, `${mode} n=${n}: duplicate cut`);
          for (const [i, link] of plan.cuts.entries()) {
            assert.notEqual(link.from, link.to);
            assert.ok(ids.includes(link.from) && ids.includes(link.to));
            const next = plan.cuts[i + 1];
            if (next !== undefined) assert.ok(link.from < next.from || (link.from === next.from && link.to < next.to));
          }
          if (mode !== 'majority-ring' || n >= 3) assert.ok(plan.cuts.length > 0, `${mode} n=${n} cuts nothing`);
        }
      }
    }
  });

  it('majority-ring: every node is linked both ways to a majority counting itself, exactly one where links allow it', () => {
    for (let n = 3; n <= 11; n += 1) {
      for (let seed = 0; seed < 30; seed += 1) {
        const ids = nodes(n);
        const plan = planPartition('majority-ring', ids, new SeededRandom(seed));
        assert.ok(plan.cuts.length > 0, `n=${n}: nothing cut`);
        const cut = new Set(plan.cuts.map((link) => `${link.from}>${link.to}`));
        for (const link of plan.cuts) assert.ok(cut.has(`${link.to}>${link.from}`), 'ring cuts are two-way');
        const seen = ids.map((id) => connectedTo(plan.cuts, ids, id).length);
        for (const count of seen) assert.ok(count >= majority(n), `n=${n}: a node sees ${count}`);
        // Links that work both ways make n·(m-1) twice the number of links, so an exact
        // ring needs it even; otherwise exactly one node sees one more.
        const exact = (n * (majority(n) - 1)) % 2 === 0;
        assert.equal(seen.filter((count) => count !== majority(n)).length, exact ? 0 : 1, `n=${n}: ${seen.join(',')}`);
        if (n >= 4) assert.ok(seen.every((count) => count < n), `n=${n}: a node sees all`);
        // No two nodes see the same majority.
        const views = new Set(ids.map((id) => connectedTo(plan.cuts, ids, id).join(',')));
        assert.equal(views.size, n);
      }
    }
  });

  it('ringPartners is symmetric and never pairs a position with itself', () => {
    for (let n = 2; n <= 12; n += 1) {
      const partners = ringPartners(n);
      partners.forEach((set, i) => {
        assert.ok(!set.has(i));
        for (const j of set) assert.ok(partners[j]!.has(i));
      });
    }
  });

  it('random-halves: sides of floor(n/2) and ceil(n/2), cut exactly across', () => {
    for (let n = 2; n <= 9; n += 1) {
      for (let seed = 0; seed < 30; seed += 1) {
        const ids = nodes(n);
        const plan = planPartition('random-halves', ids, new SeededRandom(seed));
        const [a, b] = plan.sides;
        assert.equal(a.length, Math.floor(n / 2));
        assert.deepEqual([...a, ...b].sort((x, y) => x - y), ids);
        for (const id of a) assert.deepEqual(connectedTo(plan.cuts, ids, id), [...a]);
        for (const id of b) assert.deepEqual(connectedTo(plan.cuts, ids, id), [...b]);
      }
    }
  });

  it('one-way: only links in one direction, all touching the victim', () => {
    const directions = new Set<string>();
    const counts = new Set<number>();
    for (let seed = 0; seed < 100; seed += 1) {
      const ids = nodes(5);
      const plan = planPartition('one-way', ids, new SeededRandom(seed), { victim: 3 });
      directions.add(plan.direction);
      counts.add(plan.peers.length);
      assert.equal(plan.cuts.length, plan.peers.length);
      for (const link of plan.cuts) assert.equal(plan.direction === 'outbound' ? link.from : link.to, 3);
    }
    assert.deepEqual([...directions].sort(), ['inbound', 'outbound']);
    assert.deepEqual([...counts].sort(), [1, 2, 3, 4]);
  });
});
