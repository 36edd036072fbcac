/**
 * A sorted map as a B+tree with path copying, so a point-in-time view costs O(1):
 * the view keeps the root it saw, and every later write copies the nodes on its path
 * instead of changing them (the persistent-structure answer to go-libp2p-raft#69,
 * where a snapshot serialized a live map while writes went on).
 *
 * Copying every path on every write would cost apply throughput for nothing while
 * no view is alive, so nodes carry the epoch they were created in (Clojure's
 * transients, immutable.js's ownerID): a node may be changed in place when it is
 * younger than every live view, and is copied once otherwise. Releasing the last
 * view makes the whole tree writable in place again, and the copies only the view
 * held become garbage.
 */

/** A total order on keys; the same on every node, since it fixes iteration order. */
export type Compare<K> = (a: K, b: K) => number;

/** Code-unit order of JavaScript strings: total, deterministic, locale-free. */
export const compareStrings: Compare<string> = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
export const compareNumbers: Compare<number> = (a, b) => a - b;

/**
 * Which nodes are shared with a live view. One clock serves several maps (and other
 * copy-on-write objects), so one `pin()` freezes all of them at the same instant.
 */
export class Versions {
  /** The epoch stamped on everything created now. */
  private epochNow = 1;
  /** Everything stamped at or below this may be reachable from a live view. */
  private pinnedUpTo = 0;
  /** Live views per epoch (usually zero or one view in all). */
  private readonly live = new Map<number, number>();

  get epoch(): number {
    return this.epochNow;
  }

  /** True when an object stamped `owner` may be changed in place. */
  writable(owner: number): boolean {
    return owner > this.pinnedUpTo;
  }

  /** Freezes everything that exists now until the returned epoch is unpinned. */
  pin(): number {
    const epoch = this.epochNow;
    this.epochNow += 1;
    this.live.set(epoch, (this.live.get(epoch) ?? 0) + 1);
    this.pinnedUpTo = epoch;
    return epoch;
  }

  unpin(epoch: number): void {
    const count = this.live.get(epoch);
    if (count === undefined) return;
    if (count > 1) {
      this.live.set(epoch, count - 1);
      return;
    }
    this.live.delete(epoch);
    let highest = 0;
    for (const e of this.live.keys()) if (e > highest) highest = e;
    this.pinnedUpTo = highest;
  }

  /** Views not yet released. */
  get liveViews(): number {
    let total = 0;
    for (const count of this.live.values()) total += count;
    return total;
  }
}

interface Leaf<K, V> {
  owner: number;
  keys: K[];
  values: V[];
  children?: undefined;
}

/** `keys[i]` is a lower bound of every key under `children[i]` and above every key
 * under `children[i - 1]`; `keys[0]` is never consulted. */
interface Branch<K, V> {
  owner: number;
  keys: K[];
  children: TreeNode<K, V>[];
}

type TreeNode<K, V> = Leaf<K, V> | Branch<K, V>;

const ABSENT: unique symbol = Symbol('absent');

const NODE_MAX = 64;
const NODE_MIN = 16;
/** Bulk loading fills nodes to here, leaving room to insert without splitting at once. */
const NODE_FILL = 48;

/** An immutable view of a map at one instant: valid until its epoch is unpinned. */
export class FrozenMap<K, V> {
  /** @internal */
  constructor(
    private readonly root: TreeNode<K, V>,
    readonly size: number,
    private readonly compare: Compare<K>,
  ) {}

  get(key: K): V | undefined {
    return lookup(this.root, key, this.compare);
  }

  /** Every entry in key order, one leaf's parallel arrays at a time (fast to serialize). */
  *leaves(): Generator<{ readonly keys: readonly K[]; readonly values: readonly V[] }> {
    yield* walkLeaves(this.root);
  }
}

/** See the module comment. Not thread-safe, like everything in a Node process. */
export class PersistentMap<K, V> {
  private root: TreeNode<K, V>;
  private count = 0;
  /** What insert() replaced: ABSENT when it added a key. */
  private previous: V | typeof ABSENT = ABSENT;

  constructor(
    private readonly versions: Versions,
    private readonly compare: Compare<K>,
  ) {
    this.root = { owner: versions.epoch, keys: [], values: [] };
  }

  /** A map holding `keys` (strictly increasing under `compare`, not checked) and `values`, in O(n). */
  static fromSorted<K, V>(versions: Versions, compare: Compare<K>, keys: readonly K[], values: readonly V[]): PersistentMap<K, V> {
    const map = new PersistentMap<K, V>(versions, compare);
    if (keys.length === 0) return map;
    const owner = versions.epoch;
    let level: TreeNode<K, V>[] = split(keys.length).map(([from, to]) => ({ owner, keys: keys.slice(from, to), values: values.slice(from, to) }));
    while (level.length > 1) {
      const below = level;
      level = split(below.length).map(([from, to]) => {
        const children = below.slice(from, to);
        return { owner, keys: children.map(firstKey), children };
      });
    }
    map.root = level[0]!;
    map.count = keys.length;
    return map;
  }

  get size(): number {
    return this.count;
  }

  get(key: K): V | undefined {
    return lookup(this.root, key, this.compare);
  }

  /** The smallest key, or undefined when empty. */
  firstKey(): K | undefined {
    let node = this.root;
    while (node.children !== undefined) node = node.children[0]!;
    return node.keys[0];
  }

  /** Sets `key` to `value`; returns the previous value (undefined when absent). */
  set(key: K, value: V): V | undefined {
    const root = this.own(this.root);
    this.root = root;
    this.previous = ABSENT;
    const right = this.insert(root, key, value);
    const previous = this.previous;
    this.previous = ABSENT;
    if (right !== undefined) {
      this.root = { owner: this.versions.epoch, keys: [firstKey(root), firstKey(right)], children: [root, right] };
    }
    if (previous === ABSENT) {
      this.count += 1;
      return undefined;
    }
    return previous as V;
  }

  /** Removes `key`; returns its value (undefined when it was absent). */
  delete(key: K): V | undefined {
    // Look first so that deleting an absent key copies nothing while a view is alive.
    if (!this.has(key)) return undefined;
    const root = this.own(this.root);
    this.root = root;
    const removed = this.remove(root, key);
    this.count -= 1;
    while (this.root.children !== undefined && this.root.children.length === 1) this.root = this.root.children[0]!;
    return removed;
  }

  has(key: K): boolean {
    let node = this.root;
    while (node.children !== undefined) node = node.children[route(node, key, this.compare)]!;
    return search(node.keys, key, this.compare) >= 0;
  }

  /** An O(1) view of the map as it is now. The caller must have pinned `versions`
   * (and keep it pinned while it reads the view). */
  freeze(): FrozenMap<K, V> {
    return new FrozenMap(this.root, this.count, this.compare);
  }

  private own<N extends TreeNode<K, V>>(node: N): N {
    if (this.versions.writable(node.owner)) return node;
    const owner = this.versions.epoch;
    if (node.children === undefined) return { owner, keys: node.keys.slice(), values: node.values.slice() } as Leaf<K, V> as N;
    return { owner, keys: node.keys.slice(), children: node.children.slice() } as Branch<K, V> as N;
  }

  /** Inserts into an owned node, leaving the value replaced in `previous`; returns
   * the split-off right half, if the node overflowed. (No result object: this is
   * apply()'s hot path.) */
  private insert(node: TreeNode<K, V>, key: K, value: V): TreeNode<K, V> | undefined {
    if (node.children === undefined) {
      const at = search(node.keys, key, this.compare);
      if (at >= 0) {
        this.previous = node.values[at]!;
        node.values[at] = value;
        return undefined;
      }
      const position = -at - 1;
      node.keys.splice(position, 0, key);
      node.values.splice(position, 0, value);
      if (node.keys.length <= NODE_MAX) return undefined;
      const half = node.keys.length >> 1;
      return { owner: this.versions.epoch, keys: node.keys.splice(half), values: node.values.splice(half) };
    }
    const i = route(node, key, this.compare);
    const child = this.own(node.children[i]!);
    node.children[i] = child;
    const split = this.insert(child, key, value);
    if (split === undefined) return undefined;
    node.keys.splice(i + 1, 0, firstKey(split));
    node.children.splice(i + 1, 0, split);
    if (node.children.length <= NODE_MAX) return undefined;
    const half = node.children.length >> 1;
    return { owner: this.versions.epoch, keys: node.keys.splice(half), children: node.children.splice(half) };
  }

  /** Removes a key known to be present under an owned node. */
  private remove(node: TreeNode<K, V>, key: K): V {
    if (node.children === undefined) {
      const at = search(node.keys, key, this.compare);
      const value = node.values[at]!;
      node.keys.splice(at, 1);
      node.values.splice(at, 1);
      return value;
    }
    const i = route(node, key, this.compare);
    const child = this.own(node.children[i]!);
    node.children[i] = child;
    const value = this.remove(child, key);
    if (width(child) < NODE_MIN && node.children.length > 1) this.rebalance(node, i);
    return value;
  }

  /** Merges an underfull child with a neighbour, or evens the two out. */
  private rebalance(parent: Branch<K, V>, i: number): void {
    const j = i > 0 ? i - 1 : i;
    const left = this.own(parent.children[j]!);
    const right = this.own(parent.children[j + 1]!);
    parent.children[j] = left;
    parent.children[j + 1] = right;
    const separator = parent.keys[j + 1]!;
    if (left.children === undefined) {
      const r = right as Leaf<K, V>;
      const keys = left.keys.concat(r.keys);
      const values = left.values.concat(r.values);
      if (keys.length <= NODE_MAX) {
        left.keys = keys;
        left.values = values;
        parent.keys.splice(j + 1, 1);
        parent.children.splice(j + 1, 1);
        return;
      }
      const half = keys.length >> 1;
      left.keys = keys.slice(0, half);
      left.values = values.slice(0, half);
      r.keys = keys.slice(half);
      r.values = values.slice(half);
      parent.keys[j + 1] = r.keys[0]!;
      return;
    }
    const r = right as Branch<K, V>;
    // right.keys[0] may be stale; the parent's separator bounds right's first child.
    const keys = left.keys.concat([separator], r.keys.slice(1));
    const children = left.children.concat(r.children);
    if (children.length <= NODE_MAX) {
      left.keys = keys;
      left.children = children;
      parent.keys.splice(j + 1, 1);
      parent.children.splice(j + 1, 1);
      return;
    }
    const half = children.length >> 1;
    left.keys = keys.slice(0, half);
    left.children = children.slice(0, half);
    r.keys = keys.slice(half);
    r.children = children.slice(half);
    parent.keys[j + 1] = r.keys[0]!;
  }
}

function width<K, V>(node: TreeNode<K, V>): number {
  return node.children === undefined ? node.keys.length : node.children.length;
}

function firstKey<K, V>(node: TreeNode<K, V>): K {
  return node.keys[0]!;
}

/** Index of `key` in sorted `keys`, or -(insertion point) - 1. */
function search<K>(keys: readonly K[], key: K, compare: Compare<K>): number {
  let low = 0;
  let high = keys.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const c = compare(keys[mid]!, key);
    if (c < 0) low = mid + 1;
    else if (c > 0) high = mid - 1;
    else return mid;
  }
  return -low - 1;
}

/** The child of `node` whose range holds `key`: the last i >= 1 with keys[i] <= key, else 0. */
function route<K, V>(node: Branch<K, V>, key: K, compare: Compare<K>): number {
  let low = 1;
  let high = node.keys.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    if (compare(node.keys[mid]!, key) <= 0) low = mid + 1;
    else high = mid - 1;
  }
  return low - 1;
}

function lookup<K, V>(root: TreeNode<K, V>, key: K, compare: Compare<K>): V | undefined {
  let node = root;
  while (node.children !== undefined) node = node.children[route(node, key, compare)]!;
  const at = search(node.keys, key, compare);
  return at >= 0 ? node.values[at] : undefined;
}

function* walkLeaves<K, V>(root: TreeNode<K, V>): Generator<Leaf<K, V>> {
  if (root.children === undefined) {
    if (root.keys.length > 0) yield root;
    return;
  }
  const stack: { node: Branch<K, V>; next: number }[] = [{ node: root, next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next === top.node.children.length) {
      stack.pop();
      continue;
    }
    const child = top.node.children[top.next]!;
    top.next += 1;
    if (child.children === undefined) yield child;
    else stack.push({ node: child, next: 0 });
  }
}

/** Cuts n items into runs of at most NODE_FILL, as even as possible (so none is underfull). */
function split(n: number): [number, number][] {
  const count = Math.ceil(n / NODE_FILL);
  const runs: [number, number][] = [];
  for (let r = 0; r < count; r += 1) runs.push([Math.floor((r * n) / count), Math.floor(((r + 1) * n) / count)]);
  return runs;
}
