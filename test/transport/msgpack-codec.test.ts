/**
 * The fast codec must be msgpack-lite's codec with nothing changed but speed: the
 * same bytes for every value (strings of every header size, unicode, lone
 * surrogates, strings whose UTF-8 length crosses a header boundary that their UTF-16
 * length does not), and the same value, or the same error, for every input,
 * malformed UTF-8 and truncated strings included.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import msgpack from 'msgpack-lite';

import { createFastCodec, decodeFirst } from '../../src/transport/msgpack-codec.js';

const OPTION_SETS = [{ preset: false, usemap: true }, { preset: false }] as const;

/** Strings the codec under test knows (one it must skip: empty, one too long, one unrepresentable). */
const KNOWN = ['type', 'a', 'ab', 'ba', 'KvRequest', 'é', '€uro', 'x'.repeat(31), 'y'.repeat(40), '', 'lone\uD800'];

const text = fc.oneof(
  fc.constantFrom(...KNOWN, 'typ', 'typf', 'KvRequesT', 'x'.repeat(30), 'b'),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  // Around the str 8 / str 16 boundaries, in ASCII and in 3-byte characters.
  fc.integer({ min: 20, max: 300 }).map((n) => 'a'.repeat(n)),
  fc.integer({ min: 8, max: 120 }).map((n) => '€'.repeat(n)),
  fc.integer({ min: 21_000, max: 22_000 }).map((n) => '€'.repeat(n)),
  fc.constantFrom('lone\uD800', '\uDC00', 'x\uDC00y\uD83D', ''),
);

const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: 'small' },
    text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined),
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    tie('array'), tie('object'), tie('map'), tie('bare'), tie('wide'),
  ),
  array: fc.array(tie('any'), { maxLength: 6 }),
  object: fc.dictionary(text, tie('any'), { maxKeys: 6 }),
  map: fc.array(fc.tuple(tie('any'), tie('any')), { maxLength: 4 }).map((pairs) => new Map(pairs)),
  // No prototype, and of a class: both left to msgpack-lite's own handler.
  bare: fc.dictionary(text, tie('any'), { maxKeys: 3 }).map((o) => Object.assign(Object.create(null) as object, o)),
  // Past the one-byte headers: 16 to 20 elements or fields.
  wide: fc.integer({ min: 16, max: 20 }).chain((n) => fc.oneof(fc.array(fc.integer(), { minLength: n, maxLength: n }), fc.uniqueArray(fc.string({ minLength: 1, maxLength: 3 }), { minLength: n, maxLength: n }).map((keys) => Object.fromEntries(keys.map((k, i) => [k, i]))))),
})).any;

/**
 * `value` with every prototype other than the built-in ones written out as data. A
 * field named `__proto__` makes msgpack-lite (and so the codec under test) set the
 * decoded object's prototype to a new object: two decodes then never share one,
 * and deepStrictEqual, which compares prototypes by reference, would call equal
 * outcomes different (fast-check seed 2055561803, counterexample
 * `{ "__proto__": {} }`).
 */
function withPrototypes(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) return value.map(withPrototypes);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [withPrototypes(k), withPrototypes(v)]));
  const own = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withPrototypes(v)]));
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype === Object.prototype || prototype === null) return Object.assign(Object.create(prototype) as object, own);
  return { prototype: withPrototypes(prototype), own };
}

function assertSameOutcome(actual: ReturnType<typeof outcome>, expected: ReturnType<typeof outcome>): void {
  assert.deepEqual({ ...actual, value: withPrototypes(actual.value) }, { ...expected, value: withPrototypes(expected.value) });
}

/** Decodes with `codec`, as a result or the error's message. */
function outcome(codec: msgpack.Codec, bytes: Buffer): { value?: unknown; end?: number; error?: string } {
  try {
    return decodeFirst(codec, bytes);
  } catch (err) {
    return { error: (err as Error).message };
  }
}

describe('createFastCodec', () => {
  for (const options of OPTION_SETS) {
    const stock = msgpack.createCodec(options);
    const fast = createFastCodec(options, KNOWN);

    it(`encodes every value to msgpack-lite's bytes (${JSON.stringify(options)})`, () => {
      class Point {
        constructor(readonly x: number) {}
      }
      assert.deepEqual(msgpack.encode([new Point(1), { a: new Point(2) }], { codec: fast }), msgpack.encode([new Point(1), { a: new Point(2) }], { codec: stock }));
      const big = Array.from({ length: 70_000 }, (_, i) => i % 7);
      assert.deepEqual(msgpack.encode(big, { codec: fast }), msgpack.encode(big, { codec: stock }), 'an array past 65,535 elements');
      fc.assert(
        fc.property(value, (v) => {
          assert.deepEqual(msgpack.encode(v, { codec: fast }), msgpack.encode(v, { codec: stock }));
        }),
        { numRuns: 400 },
      );
    });

    it(`decodes every encoding, cut anywhere or with bytes flipped, as msgpack-lite does (${JSON.stringify(options)})`, () => {
      fc.assert(
        fc.property(value, fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), (v, cut, flips) => {
          const whole = msgpack.encode(v, { codec: stock });
          assertSameOutcome(outcome(fast, whole), outcome(stock, whole));
          const truncated = whole.subarray(0, cut % (whole.byteLength + 1));
          assertSameOutcome(outcome(fast, truncated), outcome(stock, truncated));
          const flipped = Buffer.from(whole);
          for (const [at, byte] of flips) if (flipped.byteLength > 0) flipped[at % flipped.byteLength] = byte;
          assertSameOutcome(outcome(fast, flipped), outcome(stock, flipped));
        }),
        { numRuns: 400 },
      );
    });
  }

  it('works alike with no known strings', () => {
    const fast = createFastCodec({ preset: false });
    const stock = msgpack.createCodec({ preset: false });
    fc.assert(
      fc.property(value, (v) => {
        const bytes = msgpack.encode(v, { codec: fast });
        assert.deepEqual(bytes, msgpack.encode(v, { codec: stock }));
        assertSameOutcome(outcome(fast, bytes), outcome(stock, bytes));
      }),
      { numRuns: 200 },
    );
  });

  it('decodes a field named __proto__ as msgpack-lite does: as the prototype, not an own field', () => {
    const bytes = Buffer.from([0x81, 0xa9, ...Buffer.from('__proto__'), 0x81, 0xa1, 0x61, 0x01]); // { __proto__: { a: 1 } }
    for (const options of OPTION_SETS.filter((o) => !('usemap' in o))) {
      const fast = outcome(createFastCodec(options, KNOWN), bytes);
      const stock = outcome(msgpack.createCodec(options), bytes);
      assertSameOutcome(fast, stock);
      const value = fast.value as { a?: number };
      assert.deepEqual(Object.keys(value), [], 'no own field');
      assert.equal(value.a, 1, 'inherited from the decoded prototype');
    }
  });

  it('decodes malformed UTF-8 in a string as msgpack-lite does (replacement characters)', () => {
    const codec = createFastCodec({ preset: false });
    for (const payload of [[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0x61, 0x80, 0x62]]) {
      const bytes = Buffer.from([0xa0 + payload.length, ...payload]);
      assert.deepEqual(outcome(codec, bytes), outcome(msgpack.createCodec({ preset: false }), bytes));
    }
  });

  it('reports where the first value ends, so trailing bytes can be refused', () => {
    const codec = createFastCodec({ preset: false });
    const one = msgpack.encode({ a: 'b' }, { codec });
    assert.deepEqual(decodeFirst(codec, Buffer.concat([one, Buffer.from([1, 2])])), { value: { a: 'b' }, end: one.byteLength });
  });

  it('refuses useraw, whose strings are bytes', () => {
    assert.throws(() => createFastCodec({ useraw: true }), /useraw/);
  });
});
