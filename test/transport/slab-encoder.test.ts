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
});
