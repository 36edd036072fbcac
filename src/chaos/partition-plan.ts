import type { Random } from '../core/random.js';
import type { NodeId } from '../core/types.js';

/** The partition layouts shared by the simulator (test/sim) and the chaos tool. */
export const PARTITION_MODES = ['isolate-one', 'random-halves', 'one-way', 'majority-ring'] as const;

export type PartitionMode = (typeof PARTITION_MODES)[number];

/** `from`'s messages to `to` are lost; the opposite direction is a link of its own. */
export interface DirectedLink {
  readonly from: NodeId;
  readonly to: NodeId;
}

interface PlanBase {
  /** Every directed node-to-node link to cut: sorted by (from, to), no duplicates,
   * never a node to itself. */
  readonly cuts: readonly DirectedLink[];
}

/** What to cut, and the layout it came from (for logs and for placing clients). */
export type PartitionPlan =
  /** `victim` is cut from every other node, both ways. */
  | (PlanBase & { readonly mode: 'isolate-one'; readonly victim: NodeId })
  /** Two sides of ⌊n/2⌋ and ⌈n/2⌉ nodes (each sorted) that cannot reach each other. */
  | (PlanBase & { readonly mode: 'random-halves'; readonly sides: readonly [readonly NodeId[], readonly NodeId[]] })
  /** `victim` cannot send to `peers` (outbound) or cannot hear them (inbound); every
   * other link works. */
  | (PlanBase & { readonly mode: 'one-way'; readonly victim: NodeId; readonly direction: 'outbound' | 'inbound'; readonly peers: readonly NodeId[] })
  /** The nodes in `ring` order; see `ringPartners` for who keeps which link. */
  | (PlanBase & { readonly mode: 'majority-ring'; readonly ring: readonly NodeId[] });

export interface PlanOptions {
  /** The node isolate-one and one-way act on (e.g. the current leader); default a
   * random one. Must be one of the ids. */
  readonly victim?: NodeId;
}

/**
 * Plans one partition of the nodes `ids` (at least 2, distinct). Pure: every random
 * choice is drawn from `random`, so a seeded generator gives the same plan every time
 * (the simulator's determinism depends on it).
 */
export function planPartition<M extends PartitionMode>(mode: M, ids: readonly NodeId[], random: Random, options: PlanOptions = {}): PlanOf<M> {
  // The switch below returns the variant of `mode`; TypeScript cannot narrow a type
  // parameter through it, hence the one cast.
  return plan(mode, ids, random, options) as PlanOf<M>;
}

/** The plan variant of one mode. */
export type PlanOf<M extends PartitionMode> = Extract<PartitionPlan, { readonly mode: M }>;

function plan(mode: PartitionMode, ids: readonly NodeId[], random: Random, options: PlanOptions): PartitionPlan {
  if (ids.length < 2 || new Set(ids).size !== ids.length) throw new RangeError(`a partition needs at least two distinct nodes, got [${ids.join(',')}]`);
  if (options.victim !== undefined && !ids.includes(options.victim)) throw new RangeError(`victim ${options.victim} is not one of [${ids.join(',')}]`);
  const order = shuffle(ids, random);
  const victim = options.victim ?? order[0]!;
  switch (mode) {
    case 'isolate-one': {
      const cuts: DirectedLink[] = [];
      for (const other of ids) if (other !== victim) cuts.push({ from: victim, to: other }, { from: other, to: victim });
      return { mode, victim, cuts: sortLinks(cuts) };
    }
    case 'random-halves': {
      const half = Math.floor(ids.length / 2);
      const sides = [sorted(order.slice(0, half)), sorted(order.slice(half))] as const;
      const cuts: DirectedLink[] = [];
      for (const a of sides[0]) for (const b of sides[1]) cuts.push({ from: a, to: b }, { from: b, to: a });
      return { mode, sides, cuts: sortLinks(cuts) };
    }
    case 'one-way': {
      const direction = random.nextInt(2) === 0 ? 'outbound' : 'inbound';
      // One peer up to all of them: a single lost link and a node gone deaf (or mute)
      // to the whole cluster are both in the mix.
      const others = order.filter((id) => id !== victim);
      const peers = sorted(others.slice(0, 1 + random.nextInt(others.length)));
      const cuts = peers.map((peer) => (direction === 'outbound' ? { from: victim, to: peer } : { from: peer, to: victim }));
      return { mode, victim, direction, peers, cuts: sortLinks(cuts) };
    }
    case 'majority-ring': {
      const partners = ringPartners(order.length);
      const cuts: DirectedLink[] = [];
      order.forEach((from, i) => order.forEach((to, j) => {
        if (i !== j && !partners[i]!.has(j)) cuts.push({ from, to });
      }));
      return { mode, ring: order, cuts: sortLinks(cuts) };
    }
    default: {
      const unknown: never = mode;
      throw new RangeError(`unknown partition mode ${String(unknown)}`);
    }
  }
}

/**
 * Who keeps a link (both ways) with whom in a majority ring of `n` nodes, by ring
 * position: `result[i]` holds the positions i is linked to, never i itself.
 *
 * Every node must be linked to a majority m = ⌊n/2⌋+1 counting itself, so to d = m-1
 * others, and to no more where that is possible, so that no two nodes see the same
 * majority and none sees all. A node keeps its ⌊d/2⌋ nearest neighbours on each side;
 * if d is odd it needs one partner more, across the ring:
 * - n even: the opposite node (distance n/2). Everyone sees exactly m (n = 4: 3 of 4;
 *   n = 6: 4 of 6).
 * - n odd: the chords of distance (n-1)/2 form one odd cycle through all nodes; every
 *   other chord of it pairs all nodes but one, and that one shares a chord with
 *   position 0. Everyone sees exactly m except position 0, which sees m+1: with links
 *   that work both ways n·d would have to be even, so an exact ring is impossible
 *   (n = 3: positions 1 and 2 each see 2 of 3, position 0 is the bridge that sees all;
 *   n = 7: six nodes see 4 of 7, position 0 sees 5).
 * With d even (n = 5: 3 of 5) the nearest neighbours alone are exact.
 */
export function ringPartners(n: number): Set<number>[] {
  const d = Math.floor(n / 2);
  const partners = Array.from({ length: n }, () => new Set<number>());
  const link = (a: number, b: number): void => {
    partners[a]!.add(b);
    partners[b]!.add(a);
  };
  for (let i = 0; i < n; i += 1) for (let k = 1; k <= Math.floor(d / 2); k += 1) link(i, (i + k) % n);
  if (d % 2 === 1) {
    if (n % 2 === 0) {
      for (let i = 0; i < n / 2; i += 1) link(i, i + n / 2);
    } else {
      const step = (n - 1) / 2;
      // The cycle 0, step, 2·step, ... (mod n) visits every position: gcd(step, n) = 1.
      for (let j = 0; j + 1 < n; j += 2) link((j * step) % n, ((j + 1) * step) % n);
      link(((n - 1) * step) % n, 0);
    }
  }
  return partners;
}

/** The nodes `node` still reaches both ways under `cuts`, itself included, sorted:
 * where a client placed next to `node` can go. */
export function connectedTo(cuts: readonly DirectedLink[], ids: readonly NodeId[], node: NodeId): NodeId[] {
  const cut = new Set(cuts.map((link) => `${link.from}>${link.to}`));
  return sorted(ids.filter((id) => id === node || (!cut.has(`${node}>${id}`) && !cut.has(`${id}>${node}`))));
}

/** "1>2 2>1 ...": the cuts in one short line, for logs. */
export function describeCuts(cuts: readonly DirectedLink[]): string {
  return cuts.map((link) => `${link.from}>${link.to}`).join(' ');
}

/** Fisher-Yates with the injected generator. */
function shuffle(ids: readonly NodeId[], random: Random): NodeId[] {
  const copy = [...ids];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = random.nextInt(i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

function sorted(ids: readonly NodeId[]): NodeId[] {
  return [...ids].sort((a, b) => a - b);
}

function sortLinks(links: DirectedLink[]): DirectedLink[] {
  return links.sort((a, b) => a.from - b.from || a.to - b.to);
}
