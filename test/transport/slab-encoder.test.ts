/**
 * The slab encoder must give exactly the bytes of `msgpack.encode` behind a
 * length header, for values of every size (inside one slab, across slab ends, larger
 * than a slab), and frames cut from one slab must stay intact while later frames are
 * written next to them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import msgpack from 'msgpack-lite';

import { SlabEncoder } from '../../src/transport/slab-encoder.js';
import { encodeFrame } from '../../src/transport/frame.js';

const codec = msgpack.createCodec({ preset: false, usemap: true });
const reference = (value: unknown): Buffer => encodeFrame(msgpack.encode(value, { codec }));

const value: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({ type: fc.string(), n: fc.integer(), flag: fc.boolean() }),
  fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 30 }),
  fc.uint8Array({ minLength: 60_000, maxLength: 140_000 }).map((bytes) => ({ type: 'big', bytes })),
  fc.string({ maxLength: 5000 }),
);

describe('SlabEncoder', () => {
  it('writes the same bytes as msgpack.encode with a length header, and earlier frames stay intact', () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 40 }), (values) => {
        const encoder = new SlabEncoder(codec);
        const frames = values.map((v) => encoder.frame(v));
        values.forEach((v, i) => assert.deepEqual(frames[i], reference(v)));
      }),
      { numRuns: 150 },
    );
  });

  it('starts the next frame cleanly after a value that cannot be encoded', () => {
    const encoder = new SlabEncoder(codec);
    const before = encoder.frame({ a: 1 });
    assert.throws(() => encoder.frame({ bad: 10n }));
    const after = encoder.frame({ b: 2 });
    assert.deepEqual(before, reference({ a: 1 }));
    assert.deepEqual(after, reference({ b: 2 }));
  });

  it('gives a body alone as msgpack.encode does, with its default codec too', () => {
    const encoder = new SlabEncoder();
    const values = [['client-1', 3, 2, 'put', 'k', 'v', null], { big: new Uint8Array(100_000) }, 'x'.repeat(70_000), [1, 2, 3]];
    const bodies = values.map((v) => encoder.body(v));
    values.forEach((v, i) => assert.deepEqual(bodies[i], msgpack.encode(v)));
  });

  it('frames a head plus one pre-encoded field as msgpack.encode frames the whole map', () => {
    fc.assert(
      fc.property(
        fc.record({ type: fc.string(), n: fc.nat(), flag: fc.boolean() }),
        fc.oneof(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 30 }), fc.uint8Array({ minLength: 60_000, maxLength: 140_000 })),
        fc.nat({ max: 70_000 }),
        (head, extra, padding) => {
          const encoder = new SlabEncoder(codec);
          // A frame first, so that the next one may start near a slab's end.
          const earlier = encoder.frame('p'.repeat(padding));
          const frame = encoder.frameWithEncoded(head, 'extra', msgpack.encode(extra, { codec }));
          assert.deepEqual(frame, reference({ ...head, extra }));
          assert.deepEqual(earlier, reference('p'.repeat(padding)));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses a head whose map header is not one byte', () => {
    const encoder = new SlabEncoder(codec);
    const wide = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, i]));
    assert.throws(() => encoder.frameWithEncoded(wide, 'extra', msgpack.encode(1)), /at most 14 fields/);
    assert.throws(() => encoder.frameWithEncoded([1, 2] as unknown as Record<string, unknown>, 'extra', msgpack.encode(1)), /at most 14 fields/);
    assert.deepEqual(encoder.frame({ a: 1 }), reference({ a: 1 }));
  });
});
