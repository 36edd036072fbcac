/**
 * KvStateMachine snapshots under the view contract (StateMachineSnapshot): snapshot()
 * returns a view at the last applied entry that stays exactly that state while
 * apply() goes on, its chunks restore to it, and restore() refuses bad bytes. It
 * proves:
 * - point-in-time: for random put/delete/cas/get/duplicate workloads with views
 *   taken at random points and read only after every later apply, each view's bytes
 *   restore to the reads taken when it was made, equal the bytes of a machine that
 *   applied only the prefix, and a restored machine applying the rest gives the same
 *   results (duplicates included: exactly-once across a restore) and the same state
 *   digest as the machine that never stopped;
 * - chunks are at most SNAPSHOT_CHUNK_BYTES and may be pulled one at a time while
 *   writes are applied in between;
 * - restore() of empty, random, truncated, bit-flipped or well-checksummed but
 *   malformed bytes throws InvalidSnapshotDataError and leaves the state unchanged;
 * - released views unpin what they held: repeated snapshots do not grow the heap.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import msgpack from 'msgpack-lite';

import type { Entry } from '../../src/core/types.js';
import { EntryKind } from '../../src/core/types.js';
import { InvalidSnapshotDataError } from '../../src/errors.js';
import { encodeKvCommand } from '../../src/kv/kv-command.js';
import { KvStateMachine } from '../../src/kv/kv-state-machine.js';
import { ChunkWriter, SNAPSHOT_CHUNK_BYTES } from '../../src/kv/snapshot-codec.js';
import type { StateMachineSnapshot } from '../../src/kv/state-machine.js';
import type { KvOperation, KvResult } from '../../src/protocol/client-messages.js';
import { snapshotBytes } from './snapshot-bytes.js';

// A lone surrogate cannot travel as UTF-8; it must survive anyway.
const KEYS = ['a', 'b', 'c', 'ключ', '🔑', 'lone\uD800', 'z'.repeat(40)];
const VALUES = ['', 'v', 'w', 'значение', '値', 'x\uDC00y'];

/** Builds a log: each added entry gets the next index; seqs count per client. */
class LogBuilder {
  readonly entries: Entry[] = [];
  private readonly seqs = new Map<string, number>();

  /** A new write by `clientId`; it has seen the answers of all but its last `lag` writes. */
  write(clientId: string, operation: KvOperation, lag = 0): Entry {
    const seq = (this.seqs.get(clientId) ?? 0) + 1;
    this.seqs.set(clientId, seq);
    return this.push(EntryKind.Command, encodeKvCommand({ operation, clientId, seq, firstUnackedSeq: Math.max(1, seq - lag) }));
  }

  /** The same command bytes again at a new index: a retried request that landed twice. */
  duplicate(of: Entry): Entry {
    return this.push(of.kind, Uint8Array.from(of.data));
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

type Step =
  | { kind: 'write'; client: number; op: number; key: number; value: number; expect: number; lag: number }
  | { kind: 'duplicate'; pick: number }
  | { kind: 'noop' }
  | { kind: 'snapshot' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      client: fc.nat(5),
      op: fc.nat(3),
      key: fc.nat(KEYS.length - 1),
      value: fc.nat(VALUES.length - 1),
      expect: fc.integer({ min: -1, max: VALUES.length - 1 }),
      lag: fc.nat(3),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('noop' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('snapshot' as const) }) },
);

function operationOf(step: Extract<Step, { kind: 'write' }>): KvOperation {
  const key = KEYS[step.key]!;
  const value = VALUES[step.value]!;
  switch (step.op) {
    case 0:
      return { op: 'put', key, value };
    case 1:
      return { op: 'delete', key };
    case 2:
      return { op: 'cas', key, expect: step.expect < 0 ? null : VALUES[step.expect]!, value };
    default:
      return { op: 'get', key };
  }
}

const readAll = (kv: KvStateMachine): Map<string, string | null> => new Map(KEYS.map((k) => [k, kv.read(k)]));
const applyAll = (kv: KvStateMachine, entries: readonly Entry[]): KvResult[] => entries.map((e) => kv.apply(e));
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function drain(view: StateMachineSnapshot): Uint8Array {
  try {
    return Buffer.concat([...view.chunks()]);
  } finally {
    view.release();
  }
}

describe('KvStateMachine snapshot views', () => {
  it('a view taken at any point restores to exactly that state, however much is applied after it', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 300, size: 'max' }), fc.constantFrom(10_000, 3), (steps, sessionsMax) => {
        const options = { sessionsMax };
        const live = new KvStateMachine(options);
        const log = new LogBuilder();
        const results: KvResult[] = [];
        const points: { view: StateMachineSnapshot; at: number; reads: Map<string, string | null>; size: number }[] = [];
        for (const step of steps) {
          let entry: Entry | undefined;
          if (step.kind === 'snapshot') {
            points.push({ view: live.snapshot(), at: log.entries.length, reads: readAll(live), size: live.size() });
          } else if (step.kind === 'noop') {
            entry = log.noop();
          } else if (step.kind === 'duplicate') {
            const commands = log.entries.filter((e) => e.kind === EntryKind.Command);
            if (commands.length > 0) entry = log.duplicate(commands[step.pick % commands.length]!);
          } else {
            entry = log.write(`client-${step.client}`, operationOf(step), step.lag);
          }
          if (entry !== undefined) results.push(live.apply(entry));
        }
        points.push({ view: live.snapshot(), at: log.entries.length, reads: readAll(live), size: live.size() });
        assert.equal(live.liveSnapshots(), points.length);

        for (const { view, at, reads, size } of points) {
          const bytes = drain(view);
          const prefixOnly = new KvStateMachine(options);
          applyAll(prefixOnly, log.entries.slice(0, at));
          assert.equal(hex(bytes), hex(snapshotBytes(prefixOnly)), `the view at ${at} is the state after entry ${at}, byte for byte`);

          const restored = new KvStateMachine(options);
          restored.apply(new LogBuilder().write('stale', { op: 'put', key: 'a', value: 'discarded' }));
          restored.restore(bytes);
          assert.deepEqual(readAll(restored), reads, `reads after restoring the view at ${at}`);
          assert.equal(restored.size(), size);
          assert.equal(restored.stateDigest(), prefixOnly.stateDigest());
          // The rest of the log, duplicates of earlier writes included, answers as on the machine that never stopped.
          assert.deepEqual(applyAll(restored, log.entries.slice(at)), results.slice(at), `results after restoring at ${at}`);
          assert.equal(restored.stateDigest(), live.stateDigest());
        }
        assert.equal(live.liveSnapshots(), 0, 'every view was released');
      }),
      { numRuns: 150 },
    );
  });

  it('a retried write stays exactly-once across a restore: the retry returns the first result and changes nothing', () => {
    const log = new LogBuilder();
    const kv = new KvStateMachine();
    const first = log.write('a', { op: 'put', key: 'k', value: 'from-a' });
    // seq 2 tells the node that a saw seq 1's answer; seq 2's own answer is still pending.
    const pending = log.write('a', { op: 'cas', key: 'n', expect: null, value: '1' });
    kv.apply(first);
    const pendingResult = kv.apply(pending);
    kv.apply(log.write('b', { op: 'put', key: 'k', value: 'from-b' }));
    kv.apply(log.write('b', { op: 'delete', key: 'n' }));

    const restored = new KvStateMachine();
    restored.restore(drain(kv.snapshot()));
    assert.deepEqual(restored.apply(log.duplicate(pending)), pendingResult, 'the first answer, with its index');
    assert.equal(restored.read('n'), null, 'the retried cas did not recreate the key b deleted');
    assert.deepEqual(restored.apply(log.duplicate(pending)), pendingResult);
    // seq 1 was acknowledged by seq 2's firstUnackedSeq, in the snapshot too: a late copy is refused, not reapplied.
    const late = log.duplicate(first);
    assert.deepEqual({ ...restored.apply(late) }, { ok: false, value: null, index: late.index });
    assert.equal(restored.read('k'), 'from-b');
  });

  it('chunks are at most SNAPSHOT_CHUNK_BYTES and can be pulled one by one while writes go on', () => {
    const kv = new KvStateMachine();
    const log = new LogBuilder();
    const big = (i: number): string => `${i}:`.padEnd(10_000, 'x');
    for (let i = 0; i < 400; i += 1) kv.apply(log.write(`c${i % 7}`, { op: 'put', key: `key-${i}`, value: big(i) }));
    const expected = drain(kv.snapshot());

    const view = kv.snapshot();
    const chunks: Uint8Array[] = [];
    let writes = 0;
    for (const chunk of view.chunks()) {
      chunks.push(chunk);
      // Overwrite, delete and add keys on both sides of where serialization stands.
      for (let j = 0; j < 150; j += 1, writes += 1) {
        const key = `key-${(writes * 37) % 500}`;
        kv.apply(log.write(`c${writes % 9}`, writes % 3 === 0 ? { op: 'delete', key } : { op: 'put', key, value: big(-writes) }));
      }
    }
    view.release();
    assert.ok(chunks.length >= 4, `${chunks.length} chunks for ${expected.byteLength} bytes`);
    for (const chunk of chunks) assert.ok(chunk.byteLength <= SNAPSHOT_CHUNK_BYTES, `a chunk of ${chunk.byteLength} bytes`);
    assert.equal(hex(Buffer.concat(chunks)), hex(expected), 'the writes in between did not leak into the view');
    const restored = new KvStateMachine();
    restored.restore(Buffer.concat(chunks));
    assert.equal(restored.size(), 400);
    assert.equal(restored.read('key-399'), big(399));
  });

  it('a released view can no longer be read, and releasing twice is harmless', () => {
    const kv = new KvStateMachine();
    kv.apply(new LogBuilder().write('a', { op: 'put', key: 'k', value: 'v' }));
    const view = kv.snapshot();
    const iterator = view.chunks()[Symbol.iterator]();
    view.release();
    view.release();
    assert.equal(kv.liveSnapshots(), 0);
    assert.throws(() => iterator.next(), /after release/);
    assert.throws(() => [...view.chunks()], /after release/);
  });

  it('restoring into a machine with fewer sessions keeps the most recently used ones', () => {
    const log = new LogBuilder();
    const roomy = new KvStateMachine();
    const firsts = ['s0', 's1', 's2', 's3', 's4'].map((client) => log.write(client, { op: 'put', key: client, value: '1' }, 1));
    for (const e of firsts) roomy.apply(e);
    const small = new KvStateMachine({ sessionsMax: 2 });
    small.restore(drain(roomy.snapshot()));
    assert.equal(small.size(), 5, 'all the data');
    assert.equal(small.apply(log.duplicate(firsts[4]!)).index, firsts[4]!.index, 's4 (most recent) still deduplicates');
    assert.notEqual(small.apply(log.duplicate(firsts[0]!)).index, firsts[0]!.index, 's0 was forgotten: applied again');
  });
});

describe('KvStateMachine restore() refuses malformed bytes and changes nothing', () => {
  const populated = (): KvStateMachine => {
    const kv = new KvStateMachine();
    const log = new LogBuilder();
    for (let i = 0; i < 20; i += 1) kv.apply(log.write(`c${i % 3}`, { op: 'put', key: KEYS[i % KEYS.length]!, value: VALUES[i % VALUES.length]! }, 1));
    return kv;
  };

  function assertRefused(kv: KvStateMachine, bytes: Uint8Array, what: string): void {
    const before = kv.stateDigest();
    const reads = readAll(kv);
    assert.throws(
      () => kv.restore(bytes),
      (error: unknown) => error instanceof InvalidSnapshotDataError && error.code === 'RAFT_INVALID_SNAPSHOT_DATA' && /snapshot/.test(error.message),
      what,
    );
    assert.equal(kv.stateDigest(), before, `${what}: state unchanged`);
    assert.deepEqual(readAll(kv), reads);
  }

  it('empty, random, truncated, extended and bit-flipped bytes', () => {
    const kv = populated();
    const good = drain(populated().snapshot());
    assertRefused(kv, new Uint8Array(0), 'empty');
    for (let length = 1; length < good.byteLength; length += 1) assertRefused(kv, good.subarray(0, length), `truncated to ${length}`);
    assertRefused(kv, Buffer.concat([good, Buffer.from([0])]), 'one byte appended');
    for (let at = 0; at < good.byteLength; at += 1) {
      const flipped = Buffer.from(good);
      flipped[at]! ^= 0x10;
      assertRefused(kv, flipped, `byte ${at} flipped`);
    }
    // The format before views: a msgpack object.
    assertRefused(kv, msgpack.encode({ data: [['k', 'v']], sessions: [] }), 'the old msgpack format');
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (garbage) => assertRefused(kv, garbage, 'random bytes')), { numRuns: 200 });
    kv.restore(good);
    assert.equal(kv.stateDigest(), populated().stateDigest(), 'the good bytes still restore');
  });

  it('bytes with a valid checksum but a malformed structure', () => {
    const build = (write: (w: ChunkWriter) => void): Uint8Array => {
      const w = new ChunkWriter();
      write(w);
      w.finish();
      return Buffer.concat(w.take());
    };
    const header = (w: ChunkWriter, keys: number, sessions: number): void => {
      w.u32(0x53_56_4b_52);
      w.u8(1);
      w.u32(keys);
      w.u32(sessions);
    };
    const kv = populated();
    // Sanity: the builder makes valid snapshots.
    const empty = new KvStateMachine();
    empty.restore(build((w) => header(w, 0, 0)));
    assert.equal(empty.size(), 0);
    const cases: [string, Uint8Array][] = [
      ['wrong magic', build((w) => { w.u32(0x12345678); w.u8(1); w.u32(0); w.u32(0); })],
      ['unknown version', build((w) => { w.u32(0x53_56_4b_52); w.u8(9); w.u32(0); w.u32(0); })],
      ['more keys than present', build((w) => { header(w, 2, 0); w.string('a'); w.string('1'); })],
      ['keys out of order', build((w) => { header(w, 2, 0); w.string('b'); w.string('1'); w.string('a'); w.string('2'); })],
      ['a repeated key', build((w) => { header(w, 2, 0); w.string('a'); w.string('1'); w.string('a'); w.string('2'); })],
      ['invalid UTF-8', build((w) => { header(w, 1, 0); w.u8(0); w.u32(2); w.u8(0xc3); w.u8(0x28); w.string('v'); })],
      ['an odd-length UTF-16 string', build((w) => { header(w, 1, 0); w.u8(1); w.u32(1); w.u8(0x41); w.string('v'); })],
      ['an unknown string encoding', build((w) => { header(w, 1, 0); w.u8(7); w.u32(0); w.string('v'); })],
      ['a fractional seq', build((w) => { header(w, 0, 1); w.string('c'); w.f64(1.5); w.f64(1); w.u32(0); })],
      ['a negative index', build((w) => { header(w, 0, 1); w.string('c'); w.f64(1); w.f64(-1); w.u32(0); })],
      ['a repeated client', build((w) => { header(w, 0, 2); for (let i = 0; i < 2; i += 1) { w.string('c'); w.f64(1); w.f64(1); w.u32(0); } })],
      ['unknown result flags', build((w) => { header(w, 0, 1); w.string('c'); w.f64(1); w.f64(1); w.u32(1); w.f64(1); w.u8(4); w.f64(1); })],
      ['trailing bytes', build((w) => { header(w, 0, 0); w.u8(0); })],
    ];
    for (const [what, bytes] of cases) assertRefused(kv, bytes, what);
  });
});

describe('KvStateMachine snapshot memory', () => {
  it('released views free what they pinned: 100 snapshots with writes in between do not grow the heap', () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const kv = new KvStateMachine();
    const log = new LogBuilder();
    const value = 'v'.repeat(100);
    let n = 0;
    const writes = (count: number): void => {
      for (let i = 0; i < count; i += 1, n += 1) kv.apply(log.write(`c${n % 16}`, { op: 'put', key: `key-${(n * 7) % 10_000}`, value }));
    };
    writes(20_000);
    log.entries.length = 0; // the test's own copy of the log is not the state machine's memory
    const heapAfter = (): number => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    const baseline = heapAfter();
    for (let round = 0; round < 100; round += 1) {
      const view = kv.snapshot();
      writes(2_000); // touches about a fifth of the keys: their leaves are copied while the view lives
      if (round % 2 === 0) for (const chunk of view.chunks()) assert.ok(chunk.byteLength > 0);
      view.release(); // odd rounds abandon the view unread
      log.entries.length = 0;
    }
    const grown = heapAfter() - baseline;
    assert.equal(kv.liveSnapshots(), 0);
    // Each round copies most of the tree's ~250 leaves while its view lives (~0.3 MB);
    // copies kept after release would add up to ~30 MB.
    assert.ok(grown < 8 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(1)} MiB over 100 snapshots`);
  });
});
