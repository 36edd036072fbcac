/**
 * Linearizability checking of KV store histories.
 *
 * Keys are independent registers, so a history is linearizable iff each key's
 * sub-history is (P-compositionality, Herlihy & Wing 1990): we split by key and
 * check each one with the Wing–Gong search as improved by Lowe (WGL), the way
 * Porcupine's checker.go does it: the operations' call and return events sit in a
 * doubly linked list sorted by time; the search repeatedly "lifts" a call that may
 * go next (one that comes before the first remaining return) if the model accepts
 * it, backtracks when it reaches a return whose call is not lifted, and memoizes
 * the (set of linearized operations, register value) pairs it has explored, since
 * the rest of the search depends only on that pair.
 *
 * Outcomes: `ok` operations happened; a failed cas happened as a comparison that did
 * not match, so it is a read of some value other than `expect`; any other failed
 * operation was refused before the log and is dropped. An `info` operation may take
 * effect at any point after its invocation or never: it gets no return event (so it
 * never forces an order on anything) and the search succeeds once every operation
 * with a definite outcome is linearized, whether or not the info ones were.
 *
 * On top of plain WGL, four reductions keep histories with many concurrent clients
 * or many info operations tractable; each keeps the answer exact (the tests compare
 * against brute force): a read the current value accepts is linearized at once
 * without trying alternatives; interchangeable info operations are grouped into
 * classes used in invocation order; an info write is only tried right before an
 * operation that can observe it; and a configuration is pruned when one with the
 * same definite operations and value but fewer info operations used has failed.
 */
import { SeededRandom } from '../core/random.js';
import type { HistoryEvent, Operation } from './history.js';
import { describeOperation, pairHistory } from './history.js';

export interface CheckOptions {
  /** Give up after this long, answering `valid: 'unknown'`. Default: no limit. */
  readonly timeoutMs?: number;
}

export type LinearizabilityResult =
  | { readonly valid: true; readonly keys: number; readonly operations: number }
  | {
      readonly valid: false;
      readonly key: string;
      /** The smallest failing window of the key's history (every operation invoked up
       * to the moment it stops being linearizable), or all the key's operations when
       * the minimization ran out of time. */
      readonly operations: Operation[];
      readonly reason: string;
    }
  | { readonly valid: 'unknown'; readonly key: string; readonly reason: 'timeout' };

// ---------------------------------------------------------------------------------
// The per-key model, compiled to integers: the register's value is interned to a
// small id (0 = absent) and each operation to a kind plus value ids.

const PUT = 0;
const DELETE = 1;
const GET = 2;
const CAS_OK = 3;
const CAS_FAIL = 4;
const INFO_PUT = 5;
const INFO_DELETE = 6;
const INFO_CAS = 7;

/** `previous` was not reported: any previous value is accepted. */
const UNCHECKED = -1;
/** Step result: the model rejects the operation in this state. */
const REJECTED = -1;
const ABSENT = 0;

/**
 * One key's operations, ready for the search. Definite operations (ok, failed cas)
 * come first, in invocation order: that keeps the definite part of the linearized
 * bitset a narrow band (see LinearizedSet). Info operations follow, grouped into
 * classes of interchangeable ones (see `infoClasses`), each class in invocation order.
 */
interface CompiledKey {
  readonly size: number;
  readonly definite: number;
  readonly kind: Uint8Array;
  /** put/cas: the value written. get: the value read. */
  readonly arg: Int32Array;
  /** cas: the value expected. put/delete: the previous value reported, or UNCHECKED. */
  readonly check: Int32Array;
  /** 1 when the operation reads the register's value: its step depends on it. */
  readonly reads: Uint8Array;
  readonly invokeTime: Float64Array;
  readonly completeTime: Float64Array;
  /** Info class c is operations classStart[c] .. classStart[c + 1] - 1. Classes of
   * puts and deletes come first (`blindClasses` of them), then the classes of cas
   * ops, grouped by expected value: those expecting v are casClassStart[v] ..
   * casClassStart[v + 1] - 1, so the search only looks at the ones that can apply. */
  readonly classStart: Int32Array;
  readonly blindClasses: number;
  readonly casClassStart: Int32Array;
  /** Value ids are 0 .. values - 1. */
  readonly values: number;
  /** Value -> the blind class that writes it (a put class, or the delete class for
   * ABSENT), or -1. */
  readonly classWriting: Int32Array;
  /** The blind classes writing a value that some info cas expects. */
  readonly chainedClasses: Int32Array;
  /** Info operation -> its class. */
  readonly classOf: Int32Array;
  /** The original operations, for reports. */
  readonly source: readonly Operation[];
}

interface Compiling {
  readonly op: Operation;
  readonly kind: number;
  arg: number;
  check: number;
}

function kindOf(op: Operation, asInfo: boolean): number | undefined {
  if (asInfo || op.outcome === 'info') {
    // An info get has no effect and no constraint on anything.
    if (op.f === 'get') return undefined;
    return op.f === 'put' ? INFO_PUT : op.f === 'delete' ? INFO_DELETE : INFO_CAS;
  }
  if (op.outcome === 'fail') return op.f === 'cas' ? CAS_FAIL : undefined;
  switch (op.f) {
    case 'put':
      return PUT;
    case 'delete':
      return DELETE;
    case 'get':
      return GET;
    case 'cas':
      return CAS_OK;
  }
}

/** Interns the operation's values: what it writes or reads (arg) and what it
 * compares with (check). A failed cas writes nothing, so its value is left out. */
function internValues(entry: { op: Operation; kind: number }, intern: (value: string | null | undefined) => number): Compiling {
  const { op, kind } = entry;
  const arg = kind === GET ? intern(op.output) : kind === CAS_FAIL || kind === DELETE || kind === INFO_DELETE ? ABSENT : intern(op.value);
  let check = UNCHECKED;
  if (kind === CAS_OK || kind === CAS_FAIL || kind === INFO_CAS) check = intern(op.expect);
  else if ((kind === PUT || kind === DELETE) && op.previous !== undefined) check = intern(op.previous);
  return { op, kind, arg, check };
}

/**
 * Groups info operations into classes of interchangeable ones: same kind, same
 * value written, same value expected. Any linearization can use the members of a
 * class in invocation order (swapping two members keeps it valid: the earlier-invoked
 * one may go wherever the later one went), so the search only ever tries a class's
 * first unused member. A value written by an info put or cas that appears nowhere
 * else in the key's history is indistinguishable from any other such value (no
 * operation can tell them apart), so they all share one value id: all such puts
 * form one class, and such cas ops one class per expected value. With many pending
 * info operations this is what keeps the search from trying each of them at every
 * step.
 */
function infoClasses(info: Compiling[], definite: readonly Compiling[], anonymous: number): { blind: Compiling[][]; cas: Compiling[][] } {
  const occurrences = new Map<number, number>();
  const count = (id: number): void => {
    occurrences.set(id, (occurrences.get(id) ?? 0) + 1);
  };
  for (const entry of [...definite, ...info]) {
    if (entry.kind !== CAS_FAIL && entry.kind !== DELETE && entry.kind !== INFO_DELETE) count(entry.arg);
    if (entry.check !== UNCHECKED) count(entry.check);
  }
  for (const entry of info) {
    if ((entry.kind === INFO_PUT || entry.kind === INFO_CAS) && occurrences.get(entry.arg) === 1) entry.arg = anonymous;
  }
  const classes = new Map<string, Compiling[]>();
  for (const entry of info) {
    const signature = `${entry.kind}:${entry.arg}:${entry.check}`;
    const members = classes.get(signature);
    if (members === undefined) classes.set(signature, [entry]);
    else members.push(entry);
  }
  // Map order is first-appearance order, so classes come by their first invocation.
  const all = [...classes.values()];
  const cas = all.filter((members) => members[0]!.kind === INFO_CAS);
  cas.sort((a, b) => a[0]!.check - b[0]!.check);
  return { blind: all.filter((members) => members[0]!.kind !== INFO_CAS), cas };
}

/**
 * Compiles the operations of one key. With a finite `cutoff`, builds the window of
 * the history as seen at that time: operations invoked later are left out and those
 * still running become info (they may or may not take effect).
 */
function compileKey(ops: readonly Operation[], cutoff: number): CompiledKey {
  const selected: { op: Operation; kind: number }[] = [];
  for (const op of ops) {
    if (op.invokeTime > cutoff) continue;
    const kind = kindOf(op, op.completeTime > cutoff);
    if (kind !== undefined) selected.push({ op, kind });
  }
  selected.sort((a, b) => a.op.invokeTime - b.op.invokeTime);
  const values = new Map<string, number>();
  const intern = (value: string | null | undefined): number => {
    if (value === null || value === undefined) return ABSENT;
    let id = values.get(value);
    if (id === undefined) {
      id = values.size + 1;
      values.set(value, id);
    }
    return id;
  };
  const compiling = selected.map((entry) => internValues(entry, intern));
  const definite = compiling.filter((entry) => entry.kind < INFO_PUT);
  const anonymous = values.size + 1;
  const { blind, cas } = infoClasses(
    compiling.filter((entry) => entry.kind >= INFO_PUT),
    definite,
    anonymous,
  );
  const classes = blind.concat(cas);
  const all = definite.concat(...classes);
  const size = all.length;
  const compiled = {
    size,
    definite: definite.length,
    kind: new Uint8Array(size),
    arg: new Int32Array(size),
    check: new Int32Array(size),
    reads: new Uint8Array(size),
    invokeTime: new Float64Array(size),
    completeTime: new Float64Array(size),
    classStart: new Int32Array(classes.length + 1),
    blindClasses: blind.length,
    casClassStart: new Int32Array(anonymous + 2),
    values: anonymous + 1,
    classWriting: new Int32Array(anonymous + 1).fill(-1),
    chainedClasses: new Int32Array(0),
    classOf: new Int32Array(size).fill(-1),
    source: all.map((entry) => entry.op),
  };
  all.forEach(({ op, kind, arg, check }, i) => {
    compiled.kind[i] = kind;
    compiled.arg[i] = arg;
    compiled.check[i] = check;
    const checksPrevious = (kind === PUT || kind === DELETE) && check !== UNCHECKED;
    compiled.reads[i] = kind === GET || kind === CAS_OK || kind === CAS_FAIL || kind === INFO_CAS || checksPrevious ? 1 : 0;
    compiled.invokeTime[i] = op.invokeTime;
    compiled.completeTime[i] = kind >= INFO_PUT ? Infinity : op.completeTime;
  });
  let start = definite.length;
  classes.forEach((members, c) => {
    compiled.classStart[c] = start;
    for (let i = 0; i < members.length; i++) compiled.classOf[start + i] = c;
    start += members.length;
  });
  compiled.classStart[classes.length] = start;
  // casClassStart[v] = the first cas class expecting v or more (they are sorted).
  let c = blind.length;
  for (let v = 0; v <= anonymous + 1; v++) {
    while (c < classes.length && classes[c]![0]!.check < v) c++;
    compiled.casClassStart[v] = c;
  }
  blind.forEach((members, c) => {
    compiled.classWriting[members[0]!.kind === INFO_DELETE ? ABSENT : members[0]!.arg] = c;
  });
  const chained = new Set<number>();
  for (const members of cas) {
    const writer = compiled.classWriting[members[0]!.check]!;
    if (writer !== -1) chained.add(writer);
  }
  return { ...compiled, chainedClasses: Int32Array.from([...chained].sort((x, y) => x - y)) };
}

/**
 * The register's sequential specification: the value after `op` runs on `state`, or
 * REJECTED if `op` cannot have run then. An info operation whose effect would leave
 * the value unchanged is rejected too: placing it here is the same as leaving it out,
 * and it may still be placed later, so trying it only doubles the search.
 */
function step(h: CompiledKey, op: number, state: number): number {
  const arg = h.arg[op]!;
  const check = h.check[op]!;
  switch (h.kind[op]) {
    case PUT:
      return check === UNCHECKED || check === state ? arg : REJECTED;
    case DELETE:
      return check === UNCHECKED || check === state ? ABSENT : REJECTED;
    case GET:
      return arg === state ? state : REJECTED;
    case CAS_OK:
      return check === state ? arg : REJECTED;
    case CAS_FAIL:
      return check !== state ? state : REJECTED;
    case INFO_PUT:
      return arg !== state ? arg : REJECTED;
    case INFO_DELETE:
      return state !== ABSENT ? ABSENT : REJECTED;
    default: // INFO_CAS: only a matching one changes anything.
      return check === state && arg !== state ? arg : REJECTED;
  }
}

// ---------------------------------------------------------------------------------
// The set of linearized operations, and the memo of visited search states.

const FULL_WORD = 0xffffffff;

/** Random 32-bit keys for Zobrist hashing: the hash of a set is the XOR of its
 * members' keys, so adding or removing one operation updates it in O(1). */
function zobristKeys(size: number): Int32Array {
  const random = new SeededRandom(0x5eed);
  const keys = new Int32Array(size);
  for (let i = 0; i < size; i++) keys[i] = random.nextUint32() | 0;
  return keys;
}

/**
 * A bitset over one key's operations, with an incremental hash of its definite part.
 * Definite operations are numbered in invocation order and the search linearizes
 * them roughly in that order, so their bits are all ones up to a low word, all zeros
 * past a high word, and mixed only in between; only that band (and the separate
 * words of the info operations) is stored in the memo. That keeps the memo linear in
 * the history rather than quadratic when one key has many operations.
 */
class LinearizedSet {
  readonly words: Uint32Array;
  hash = 0;
  /** First definite word that is not all ones (definiteWords if none). */
  low = 0;
  /** Last definite word that is not all zeros (-1 if none). */
  high = -1;
  private readonly definite: number;
  private readonly definiteWords: number;
  private readonly keys: Int32Array;

  constructor(definite: number, info: number) {
    this.definite = definite;
    this.definiteWords = (definite + 31) >>> 5;
    this.words = new Uint32Array(this.definiteWords + ((info + 31) >>> 5));
    this.keys = zobristKeys(definite);
  }

  private position(op: number): number {
    return op < this.definite ? op : (this.definiteWords << 5) + (op - this.definite);
  }

  set(op: number): void {
    const position = this.position(op);
    const word = position >>> 5;
    this.words[word]! |= 1 << (position & 31);
    if (word >= this.definiteWords) return;
    this.hash ^= this.keys[op]!;
    if (word > this.high) this.high = word;
    while (this.low < this.definiteWords && this.words[this.low] === FULL_WORD) this.low++;
  }

  clear(op: number): void {
    const position = this.position(op);
    const word = position >>> 5;
    this.words[word]! &= ~(1 << (position & 31));
    if (word >= this.definiteWords) return;
    this.hash ^= this.keys[op]!;
    if (word < this.low) this.low = word;
    while (this.high >= 0 && this.words[this.high] === 0) this.high--;
  }

  /** Words a memo entry takes: state, low, high + 1, the band, the info words. */
  storedLength(): number {
    const band = this.high >= this.low ? this.high - this.low + 1 : 0;
    return 3 + band + (this.words.length - this.definiteWords);
  }

  store(pool: Uint32Array, offset: number, stateKey: number): void {
    pool[offset] = stateKey;
    pool[offset + 1] = this.low;
    pool[offset + 2] = this.high + 1;
    let at = offset + 3;
    for (let w = this.low; w <= this.high; w++) pool[at++] = this.words[w]!;
    for (let w = this.definiteWords; w < this.words.length; w++) pool[at++] = this.words[w]!;
  }

  /** Whether the entry at `offset` holds the same definite operations and
   * `stateKey`, and a subset of this set's info operations. (low and high are
   * functions of the set, so equal definite parts store equal bands.) */
  dominatedBy(pool: Uint32Array, offset: number, stateKey: number): boolean {
    if (pool[offset] !== stateKey || pool[offset + 1] !== this.low || pool[offset + 2] !== this.high + 1) return false;
    let at = offset + 3;
    for (let w = this.low; w <= this.high; w++) if (pool[at++] !== this.words[w]) return false;
    for (let w = this.definiteWords; w < this.words.length; w++) if ((pool[at++]! & ~this.words[w]!) !== 0) return false;
    return true;
  }
}

/**
 * The memo of configurations (linearized set, value) already explored, a hash table
 * in flat typed arrays so millions of entries cost no per-entry objects.
 *
 * A configuration is pruned not only when it was seen before but when one with the
 * same definite operations and value and a subset of its info operations was: info
 * operations are optional, so whatever completes the one with more of them used up
 * also completes the other (an info class's earlier members can stand in for its
 * later ones). Hence the hash covers only the definite operations and the value.
 * Without this, every info write used up on the way, even one overwritten at once,
 * would make all later configurations new ones.
 */
class VisitedStates {
  /** Open addressing with linear probing: entry index + 1 (0 = empty), and its hash. */
  private slots = new Int32Array(1 << 8);
  private slotHashes = new Int32Array(1 << 8);
  private offsets: Int32Array = new Int32Array(1 << 7);
  private pool = new Uint32Array(1 << 10);
  private used = 0;
  private count = 0;

  /** Adds the configuration; false if it or one dominating it was there. */
  add(set: LinearizedSet, stateKey: number): boolean {
    const hash = (set.hash ^ Math.imul(stateKey + 1, 0x9e3779b1)) | 0;
    const mask = this.slots.length - 1;
    let slot = (hash ^ (hash >>> 16)) & mask;
    for (; this.slots[slot] !== 0; slot = (slot + 1) & mask) {
      if (this.slotHashes[slot] === hash && set.dominatedBy(this.pool, this.offsets[this.slots[slot]! - 1]!, stateKey)) return false;
    }
    const length = set.storedLength();
    // A full memo stops growing rather than exhausting memory: the search stays
    // correct, it just may explore some configurations again.
    if (this.count >= MEMO_MAX_ENTRIES || this.used + length > MEMO_MAX_WORDS) return true;
    this.reserve(length);
    set.store(this.pool, this.used, stateKey);
    this.offsets[this.count] = this.used;
    this.used += length;
    this.count++;
    this.slots[slot] = this.count;
    this.slotHashes[slot] = hash;
    if (this.count * 2 > this.slots.length) this.rehash();
    return true;
  }

  private reserve(length: number): void {
    if (this.count === this.offsets.length) this.offsets = grow(this.offsets, this.offsets.length * 2);
    if (this.used + length > this.pool.length) {
      const bigger = new Uint32Array(Math.max(this.pool.length * 2, this.used + length));
      bigger.set(this.pool);
      this.pool = bigger;
    }
  }

  private rehash(): void {
    const { slots, slotHashes } = this;
    this.slots = new Int32Array(slots.length * 2);
    this.slotHashes = new Int32Array(slots.length * 2);
    const mask = this.slots.length - 1;
    for (let i = 0; i < slots.length; i++) {
      if (slots[i] === 0) continue;
      const hash = slotHashes[i]!;
      let slot = (hash ^ (hash >>> 16)) & mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
      this.slots[slot] = slots[i]!;
      this.slotHashes[slot] = hash;
    }
  }
}

/** Memo bounds: about 100 MB of table and 256 MB of stored sets at most. */
const MEMO_MAX_ENTRIES = 1 << 23;
const MEMO_MAX_WORDS = 1 << 26;

function grow(array: Int32Array, length: number): Int32Array {
  const bigger = new Int32Array(length);
  bigger.set(array);
  return bigger;
}

// ---------------------------------------------------------------------------------
// The WGL search.

const NONE = -1;

/**
 * The definite operations' call and return events, sorted by time, as a doubly
 * linked list. Node 0 is the head; the call of definite operation i is node 1 + i,
 * its return node 1 + definite + i. On a tie a call goes before a return: a precedes
 * b only if a completed strictly before b was invoked, otherwise they are concurrent
 * and either order is allowed. Lifting removes a call and its return; the removed
 * nodes keep their own pointers, so unlifting in reverse order restores them
 * (dancing links). Info operations have no return and are kept out of the list.
 */
class EventList {
  static readonly HEAD = 0;
  readonly next: Int32Array;
  readonly times: Float64Array;
  private readonly prev: Int32Array;
  private readonly definite: number;

  constructor(h: CompiledKey) {
    const definite = h.definite;
    const total = 1 + 2 * definite;
    this.definite = definite;
    this.next = new Int32Array(total).fill(NONE);
    this.prev = new Int32Array(total).fill(NONE);
    this.times = new Float64Array(total);
    const nodes: number[] = [];
    for (let i = 0; i < definite; i++) {
      nodes.push(1 + i, 1 + definite + i);
      this.times[1 + i] = h.invokeTime[i]!;
      this.times[1 + definite + i] = h.completeTime[i]!;
    }
    const times = this.times;
    nodes.sort((a, b) => times[a]! - times[b]! || Number(this.isReturn(a)) - Number(this.isReturn(b)) || a - b);
    let previous = EventList.HEAD;
    for (const node of nodes) {
      this.next[previous] = node;
      this.prev[node] = previous;
      previous = node;
    }
  }

  isReturn(node: number): boolean {
    return node > this.definite;
  }

  lift(call: number): void {
    this.remove(call);
    this.remove(call + this.definite);
  }

  unlift(call: number): void {
    this.restore(call + this.definite);
    this.restore(call);
  }

  private remove(node: number): void {
    const { next, prev } = this;
    next[prev[node]!] = next[node]!;
    if (next[node] !== NONE) prev[next[node]!] = prev[node]!;
  }

  private restore(node: number): void {
    const { next, prev } = this;
    next[prev[node]!] = node;
    if (next[node] !== NONE) prev[next[node]!] = node;
  }
}

/** Whether `op` may come right after an info write that changed the value from
 * `before` (see `searchKey`); `step` still decides whether it accepts the new value. */
function justifiesInfoWrite(h: CompiledKey, op: number, before: number): boolean {
  return h.kind[op] === CAS_FAIL ? h.check[op] === before : h.reads[op] === 1;
}

/**
 * The info candidates of the current configuration: the info classes worth trying,
 * in a fixed order, computed from one pass over the definite candidates (the calls
 * before the first return). By the rule in `searchKey` an info write going from s
 * to w must be followed at once by a failed cas expecting s or by a reader accepting
 * w; so unless such a failed cas is there (then any write will do), only the classes
 * writing a value some candidate reads are worth trying, plus the ones an info cas
 * could follow. That keeps the work per configuration proportional to what is
 * running then rather than to every info operation still pending.
 */
class InfoCandidates {
  /** The classes to try, in order: classes[0 .. length - 1]. */
  readonly classes: Int32Array;
  length = 0;
  /** The first return's time: an info operation invoked later cannot go next. */
  bound = 0;
  /** Stamps of the current computation: a failed cas expecting value v is a
   * candidate iff casFailStamp[v] is current, a positive reader (get, cas ok,
   * checked previous) of v iff readerStamp[v] is; a class is listed iff its
   * listedStamp is. */
  private readonly casFailStamp: Int32Array;
  private readonly readerStamp: Int32Array;
  private readonly listedStamp: Int32Array;
  private stamp = 0;

  constructor(
    private readonly h: CompiledKey,
    private readonly list: EventList,
  ) {
    const classes = h.classStart.length - 1;
    this.classes = new Int32Array(classes);
    this.casFailStamp = new Int32Array(h.values);
    this.readerStamp = new Int32Array(h.values);
    this.listedStamp = new Int32Array(classes);
  }

  /** Lists the candidates for `state`; `afterInfo` when the last lift was an info
   * write (then only a cas can follow). */
  compute(state: number, afterInfo: boolean): void {
    const h = this.h;
    this.summarizeDefinite();
    this.length = 0;
    if (!afterInfo) {
      if (this.casFailStamp[state] === this.stamp) {
        for (let c = 0; c < h.blindClasses; c++) this.add(c);
      } else {
        this.addWritersOfRead();
        for (const c of h.chainedClasses) this.add(c);
      }
    }
    for (let c = h.casClassStart[state]!; c < h.casClassStart[state + 1]!; c++) this.add(c);
  }

  /** Whether an info write from `before` to `after`, lifted now, could be followed:
   * by a failed cas expecting `before`, a definite reader of `after`, or the next
   * member of an info cas class expecting `after`. */
  followable(op: number, before: number, after: number, used: Int32Array): boolean {
    const h = this.h;
    if (this.casFailStamp[before] === this.stamp || this.readerStamp[after] === this.stamp) return true;
    for (let c = h.casClassStart[after]!; c < h.casClassStart[after + 1]!; c++) {
      const member = h.classStart[c]! + used[c]!;
      if (member !== op && member < h.classStart[c + 1]! && h.invokeTime[member]! <= this.bound && h.arg[member] !== after) return true;
    }
    return false;
  }

  private add(c: number): void {
    if (this.listedStamp[c] === this.stamp) return;
    this.listedStamp[c] = this.stamp;
    this.classes[this.length++] = c;
  }

  /** Stamps the values the definite candidates read and finds the bound. */
  private summarizeDefinite(): void {
    const { h, list } = this;
    this.stamp++;
    let node = list.next[EventList.HEAD]!;
    for (; node !== NONE && !list.isReturn(node); node = list.next[node]!) {
      const op = node - 1;
      const kind = h.kind[op];
      if (kind === CAS_FAIL) this.casFailStamp[h.check[op]!] = this.stamp;
      else if (kind === GET) this.readerStamp[h.arg[op]!] = this.stamp;
      else if (h.reads[op] === 1) this.readerStamp[h.check[op]!] = this.stamp;
    }
    this.bound = node === NONE ? Infinity : list.times[node]!;
  }

  /** Lists the classes writing a value that a definite candidate reads, in list order. */
  private addWritersOfRead(): void {
    const { h, list } = this;
    for (let node = list.next[EventList.HEAD]!; node !== NONE && !list.isReturn(node); node = list.next[node]!) {
      const op = node - 1;
      const kind = h.kind[op];
      const value = kind === GET ? h.arg[op]! : kind !== CAS_FAIL && h.reads[op] === 1 ? h.check[op]! : -1;
      if (value === -1) continue;
      const writer = h.classWriting[value]!;
      if (writer !== -1) this.add(writer);
    }
  }
}

type SearchOutcome =
  | { readonly kind: 'linearizable' }
  | { readonly kind: 'timeout' }
  /** `blocking`: the operation whose return the search hit when it had linearized the
   * most definite operations (`depth`): the one it could not explain. */
  | { readonly kind: 'not-linearizable'; readonly blocking: number; readonly depth: number };

/** How many search steps between two looks at the clock. */
const CLOCK_INTERVAL = 0x3fff;

/**
 * The WGL search over one key. From each configuration (linearized set, value) the
 * candidates are the definite calls before the first return in the event list, then
 * the info classes whose next unused member was invoked before that return. The
 * search lifts the first candidate the model accepts and moves on to the new
 * configuration; when none is left it undoes the last lift and tries the candidates
 * after it. It succeeds once every definite operation is linearized: info ones may
 * stay out. Definite candidates go first so that the configurations using fewer
 * info operations are explored, and memoized, before the ones they dominate.
 *
 * One refinement bounds what info writes cost; unconstrained, the search would try
 * each pending one at every point. In any linearization an info write W, taking the
 * value from s to w, can be dropped or moved later (it has no return, so later is
 * always allowed) until it is followed at once by either
 *   - a cas that failed with expect = s: it needed the value to differ from s, or
 *   - any other operation that reads the value (a get, a cas ok, an info cas, a put
 *     or delete with a checked previous value) and accepts w;
 * because a blind write right after W hides it (drop W), and a failed cas that also
 * accepts s can run before W instead (move W past it). So right after an info write
 * only such operations are candidates, and a useless info write dies at once. That
 * state is not a free choice point and is not memoized; its only predecessor is, so
 * nothing is explored twice.
 */
function searchKey(h: CompiledKey, deadline: number): SearchOutcome {
  const list = new EventList(h);
  const next = list.next;
  const classes = h.classStart.length - 1;
  /** Per info class, how many members (a prefix) are linearized. */
  const used = new Int32Array(classes);
  const set = new LinearizedSet(h.definite, h.size - h.definite);
  const visited = new VisitedStates();
  const candidates = new InfoCandidates(h, list);
  // The lifted operations, with the value before each and, for info ones, their
  // position among the configuration's info candidates (to resume after them).
  const stackOp = new Int32Array(h.size);
  const stackState = new Int32Array(h.size);
  const stackCandidate = new Int32Array(h.size);
  /** 1 when the lift was the configuration's only choice (a read, see below). */
  const stackOnlyChoice = new Uint8Array(h.size);
  let top = 0;
  let state = ABSENT;
  /** Right after an info write: the value before it (see above); else -1. */
  let beforeInfo = -1;
  let remaining = h.definite;
  let deepest = -1;
  let blocking = -1;
  let steps = 0;
  // Where the current configuration's candidates stand: the next definite node
  // (NONE once they are exhausted), then the next info candidate.
  let nextCandidate = 0;
  let node = NONE;
  /** The current configuration has no candidate left. */
  let exhausted = false;
  /** The definite candidates are scanned twice: reads (gets and failed cas ops),
   * then writes. A read the value accepts can go first without loss of generality:
   * it changes nothing, and everything that had to precede it already has. So it is
   * the only choice tried, and if it fails, so does the configuration. */
  let readPass = true;

  const enterConfiguration = (): void => {
    node = next[EventList.HEAD]!;
    readPass = true;
    candidates.length = 0;
    exhausted = false;
  };
  const accepts = (op: number): number =>
    beforeInfo === -1 || justifiesInfoWrite(h, op, beforeInfo) ? step(h, op, state) : REJECTED;
  const push = (op: number, after: number, onlyChoice: boolean): void => {
    stackOp[top] = op;
    stackState[top] = state;
    stackCandidate[top] = nextCandidate - 1;
    stackOnlyChoice[top] = onlyChoice ? 1 : 0;
    top++;
    beforeInfo = op >= h.definite ? state : -1;
    state = after;
    set.set(op);
  };

  enterConfiguration();
  while (remaining > 0) {
    if ((++steps & CLOCK_INTERVAL) === 0 && performance.now() >= deadline) return { kind: 'timeout' };
    if (!exhausted && node !== NONE && !list.isReturn(node)) {
      // A definite call before the first return: try to linearize it now.
      const op = node - 1;
      const isRead = h.kind[op] === GET || h.kind[op] === CAS_FAIL;
      const after = isRead === readPass ? accepts(op) : REJECTED;
      if (after !== REJECTED) {
        set.set(op);
        const fresh = visited.add(set, after);
        set.clear(op);
        if (fresh) {
          push(op, after, isRead);
          list.lift(node);
          remaining--;
          enterConfiguration();
          continue;
        }
        if (isRead) exhausted = true;
      }
      node = next[node]!;
      continue;
    }
    if (!exhausted && readPass) {
      // No read can go next: try the writes.
      readPass = false;
      node = next[EventList.HEAD]!;
      continue;
    }
    if (!exhausted && node !== NONE) {
      // The first return, its operation not linearized: nothing invoked later may go
      // next, so the definite candidates are exhausted; the info ones come next.
      const depth = h.definite - remaining;
      if (depth > deepest) {
        deepest = depth;
        blocking = node - 1 - h.definite;
      }
      node = NONE;
      if (classes > 0) candidates.compute(state, beforeInfo !== -1);
      nextCandidate = 0;
    }
    if (!exhausted && nextCandidate < candidates.length) {
      // An info class: try its first unused member.
      const c = candidates.classes[nextCandidate++]!;
      const op = h.classStart[c]! + used[c]!;
      if (op === h.classStart[c + 1] || h.invokeTime[op]! > candidates.bound) continue;
      const after = accepts(op);
      if (after === REJECTED || !candidates.followable(op, state, after, used)) continue;
      push(op, after, false);
      used[c]!++;
      enterConfiguration();
      continue;
    }
    // No candidate left: undo the last lift and resume after it.
    if (top === 0) return { kind: 'not-linearizable', blocking, depth: deepest };
    top--;
    const op = stackOp[top]!;
    state = stackState[top]!;
    exhausted = stackOnlyChoice[top] === 1;
    set.clear(op);
    beforeInfo = top > 0 && stackOp[top - 1]! >= h.definite ? stackState[top - 1]! : -1;
    if (op < h.definite) {
      list.unlift(op + 1);
      remaining++;
      readPass = false;
      node = next[op + 1]!;
    } else {
      // Its configuration's definite candidates were all tried before any info one.
      used[h.classOf[op]!]!--;
      readPass = false;
      node = NONE;
      candidates.compute(state, beforeInfo !== -1);
      nextCandidate = stackCandidate[top]! + 1;
    }
  }
  return { kind: 'linearizable' };
}

// ---------------------------------------------------------------------------------
// Reports.

/**
 * Finds the earliest time T at which the key's history stops being linearizable,
 * looking at the window of operations invoked by T, with those still running at T
 * turned into info. Any linearization of the whole history, cut at T, linearizes
 * that window, and the same holds between two windows; so once a window fails all
 * later ones do, and a binary search over the event times finds the first. T is
 * always the completion of some operation: that is the one nothing can explain.
 */
function smallestFailingWindow(ops: readonly Operation[], deadline: number): { cutoff: number; outcome: SearchOutcome } | undefined {
  const times = [...new Set(ops.flatMap((op) => (op.completeTime === Infinity ? [op.invokeTime] : [op.invokeTime, op.completeTime])))];
  times.sort((a, b) => a - b);
  let low = 0;
  let high = times.length - 1; // the window at the last time is the whole history
  let failing: SearchOutcome | undefined;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const outcome = searchKey(compileKey(ops, times[middle]!), deadline);
    if (outcome.kind === 'timeout') return undefined;
    if (outcome.kind === 'not-linearizable') {
      high = middle;
      failing = outcome;
    } else {
      low = middle + 1;
    }
  }
  const cutoff = times[high]!;
  // `failing` belongs to `high` whenever it is set: both change together.
  if (failing === undefined) failing = searchKey(compileKey(ops, cutoff), deadline);
  return failing.kind === 'timeout' ? undefined : { cutoff, outcome: failing };
}

function explainFailure(
  key: string,
  ops: readonly Operation[],
  full: Extract<SearchOutcome, { kind: 'not-linearizable' }>,
  fullKey: CompiledKey,
  deadline: number,
): LinearizabilityResult {
  const window = smallestFailingWindow(ops, deadline);
  if (window === undefined || window.outcome.kind !== 'not-linearizable') {
    return {
      valid: false,
      key,
      operations: [...ops],
      reason:
        `the ${ops.length} operations on key ${JSON.stringify(key)} have no linearization; the search placed at most ` +
        `${full.depth} of the ${fullKey.definite} completed operations, and could not place ${describeOperation(fullKey.source[full.blocking]!)}`,
    };
  }
  const { cutoff, outcome } = window;
  const windowKey = compileKey(ops, cutoff);
  const operations = ops.filter((op) => op.invokeTime <= cutoff);
  const culprit = operations.find((op) => op.completeTime === cutoff);
  const blocking = windowKey.source[outcome.blocking]!;
  return {
    valid: false,
    key,
    operations,
    reason:
      `the ${operations.length} operations on key ${JSON.stringify(key)} invoked by time ${cutoff} have no linearization` +
      (culprit === undefined ? '' : ` once ${describeOperation(culprit)} completes`) +
      `; the search placed at most ${outcome.depth} of the ${windowKey.definite} completed operations` +
      (blocking === culprit ? '' : `, and could not place ${describeOperation(blocking)}`),
  };
}

// ---------------------------------------------------------------------------------
// Evident violations.

/** The value an operation observes, when it observes one specific non-null value:
 * what a get returned, what a successful cas expected, the previous value a put or
 * delete reported. */
function observedValue(op: Operation): string | undefined {
  if (op.outcome !== 'ok') return undefined;
  const value = op.f === 'get' ? op.output : op.f === 'cas' ? op.expect : op.previous;
  return typeof value === 'string' ? value : undefined;
}

/**
 * The writes that took effect for certain (ok put, delete, cas) sorted by
 * invocation, with, for each position, the one completing first among it and all
 * invoked later: "did some write happen entirely inside (t1, t2)?" is then a binary
 * search.
 */
class DefiniteWrites {
  private readonly writes: Operation[];
  private readonly firstDone: Operation[];

  constructor(ops: readonly Operation[]) {
    this.writes = ops.filter((op) => op.outcome === 'ok' && op.f !== 'get').sort((a, b) => a.invokeTime - b.invokeTime);
    this.firstDone = new Array<Operation>(this.writes.length);
    for (let i = this.writes.length - 1; i >= 0; i--) {
      const later = this.firstDone[i + 1];
      const write = this.writes[i]!;
      this.firstDone[i] = later !== undefined && later.completeTime < write.completeTime ? later : write;
    }
  }

  /** A write invoked after `after` and completed before `before`, if any. */
  within(after: number, before: number): Operation | undefined {
    let low = 0;
    let high = this.writes.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.writes[middle]!.invokeTime > after) high = middle;
      else low = middle + 1;
    }
    const candidate = this.firstDone[low];
    return candidate !== undefined && candidate.completeTime < before ? candidate : undefined;
  }
}

/**
 * Looks for the anomalies that a few operations prove on their own, before any
 * search: an operation observing a value that nothing wrote, or that was first
 * written only after the observation completed, or, when a single operation ever
 * wrote the value, that another write had overwritten for certain (it started after
 * the only write completed and finished before the observer started). These are the
 * usual symptoms of a broken store, and refuting them by search could mean
 * exhausting every ordering of everything before them.
 */
function evidentViolation(ops: readonly Operation[]): { operations: Operation[]; reason: string } | undefined {
  const writers = new Map<string, Operation[]>();
  for (const op of ops) {
    if ((op.f !== 'put' && op.f !== 'cas') || op.outcome === 'fail' || op.value === undefined) continue;
    const list = writers.get(op.value);
    if (list === undefined) writers.set(op.value, [op]);
    else list.push(op);
  }
  const definiteWrites = new DefiniteWrites(ops);
  for (const reader of ops) {
    const value = observedValue(reader);
    if (value === undefined) continue;
    // A cas that expects and writes the same value reads it before writing it.
    const sources = (writers.get(value) ?? []).filter((op) => op !== reader);
    const shown = `${describeOperation(reader)} observes ${JSON.stringify(value)}`;
    if (sources.length === 0) return { operations: [reader], reason: `${shown}, which no operation wrote` };
    const first = sources.reduce((a, b) => (b.invokeTime < a.invokeTime ? b : a));
    if (first.invokeTime > reader.completeTime) {
      return { operations: [reader, first], reason: `${shown} before any write of it was invoked; the first was ${describeOperation(first)}` };
    }
    const only = sources[0]!;
    if (sources.length > 1 || only.outcome !== 'ok') continue;
    const overwrite = definiteWrites.within(only.completeTime, reader.invokeTime);
    if (overwrite !== undefined) {
      return {
        operations: [only, overwrite, reader],
        reason: `${shown}, written only by ${describeOperation(only)}, but ${describeOperation(overwrite)} overwrote it before the observer was invoked`,
      };
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------
// Entry points.

function isEventHistory(history: readonly HistoryEvent[] | readonly Operation[]): history is readonly HistoryEvent[] {
  return history.length > 0 && 'type' in history[0]!;
}

function toOperations(history: readonly HistoryEvent[] | readonly Operation[]): readonly Operation[] {
  return isEventHistory(history) ? pairHistory(history) : (history as readonly Operation[]);
}

function groupByKey(ops: readonly Operation[]): Map<string, Operation[]> {
  const byKey = new Map<string, Operation[]>();
  for (const op of ops) {
    let list = byKey.get(op.key);
    if (list === undefined) {
      list = [];
      byKey.set(op.key, list);
    }
    list.push(op);
  }
  return byKey;
}

/**
 * Checks that the history (raw events, or operations from `pairHistory`) is
 * linearizable against a map of registers. Keys are checked in sorted order; the
 * first failing key is reported with the smallest failing window of its history.
 * `operations` in a valid result counts every paired operation, dropped ones
 * included.
 */
export function checkLinearizability(
  history: readonly HistoryEvent[] | readonly Operation[],
  options: CheckOptions = {},
): LinearizabilityResult {
  const ops = toOperations(history);
  const deadline = performance.now() + (options.timeoutMs ?? Infinity);
  const byKey = groupByKey(ops);
  for (const key of [...byKey.keys()].sort()) {
    if (performance.now() >= deadline) return { valid: 'unknown', key, reason: 'timeout' };
    const keyOps = byKey.get(key)!;
    const evident = evidentViolation(keyOps);
    if (evident !== undefined) return { valid: false, key, ...evident };
    const compiled = compileKey(keyOps, Infinity);
    const outcome = searchKey(compiled, deadline);
    if (outcome.kind === 'timeout') return { valid: 'unknown', key, reason: 'timeout' };
    if (outcome.kind === 'not-linearizable') return explainFailure(key, keyOps, outcome, compiled, deadline);
  }
  return { valid: true, keys: byKey.size, operations: ops.length };
}

/** The value an operation writes if it takes effect (null for delete), or undefined
 * for operations that never write (gets, failed operations). */
function writtenValue(op: Operation): string | null | undefined {
  if (op.f === 'get' || op.outcome === 'fail') return undefined;
  return op.f === 'delete' ? null : (op.value ?? null);
}

/**
 * Checks the final reads, taken once every operation of the history had completed
 * or been abandoned, against the acknowledged writes. For each key in `finalReads`
 * with final value v (keys not in the map are not checked), where "a possible write"
 * is a put, delete or cas of that key whose outcome is ok or info (it may have taken
 * effect; failed ones did not):
 *
 * 1. v is null or the value of some possible write: the store did not invent it.
 * 2. Every acknowledged write W (a put, delete or cas with outcome ok) whose value
 *    (null for a delete) is not v was overwritten, so some other possible write X
 *    could have taken effect after W: X had not completed before W was invoked
 *    (X.completeTime >= W.invokeTime; info writes never complete). X was invoked
 *    before the final read, as every operation in the history was. If no such X
 *    exists, W was the last write in real time and it is lost.
 *
 * Returns one message per violation; empty when the reads are consistent.
 */
export function checkAcknowledgedWritesVisible(
  history: readonly HistoryEvent[] | readonly Operation[],
  finalReads: ReadonlyMap<string, string | null>,
): string[] {
  const byKey = groupByKey(toOperations(history));
  const violations: string[] = [];
  for (const [key, finalValue] of finalReads) {
    const writes = (byKey.get(key) ?? []).filter((op) => writtenValue(op) !== undefined);
    if (finalValue !== null && !writes.some((op) => writtenValue(op) === finalValue)) {
      violations.push(`key ${JSON.stringify(key)}: final value ${JSON.stringify(finalValue)} was never written`);
    }
    // The two latest completions suffice: for W, the latest among the others is the
    // first unless that one is W itself.
    const [latest, second] = twoLatestCompletions(writes);
    for (const write of writes) {
      if (write.outcome !== 'ok' || writtenValue(write) === finalValue) continue;
      const latestOther = latest?.op === write ? second?.time : latest?.time;
      if (latestOther === undefined || latestOther < write.invokeTime) {
        violations.push(
          `key ${JSON.stringify(key)}: final value ${JSON.stringify(finalValue)} but nothing could have overwritten the acknowledged ${describeOperation(write)}`,
        );
      }
    }
  }
  return violations;
}

type Completion = { readonly op: Operation; readonly time: number };

function twoLatestCompletions(ops: readonly Operation[]): [Completion | undefined, Completion | undefined] {
  let latest: Completion | undefined;
  let second: Completion | undefined;
  for (const op of ops) {
    const entry = { op, time: op.completeTime };
    if (latest === undefined || entry.time > latest.time) {
      second = latest;
      latest = entry;
    } else if (second === undefined || entry.time > second.time) {
      second = entry;
    }
  }
  return [latest, second];
}
