/**
 * An arena copy must be a copy: equal bytes, unchanged when the source changes,
 * never overlapping another copy, whether it lands inside a slab, at a slab's end,
 * or in a buffer of its own when it is large.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { ByteArena } from '../../src/util/byte-arena.js';

describe('ByteArena', () => {
  it('gives independent copies of every payload, across slab ends and above copyMax', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 60 }), (payloads) => {
        const arena = new ByteArena(1024, 256);
        const copies = payloads.map((p) => arena.copy(p));
        const originals = payloads.map((p) => Uint8Array.from(p));
        for (const p of payloads) p.fill(0xee);
        copies.forEach((c, i) => assert.deepEqual([...c], [...originals[i]!]));
        for (const [i, c] of copies.entries()) {
          if (c.byteLength > 256) assert.equal(c.buffer.byteLength, c.byteLength, 'a large payload has its own buffer');
          else assert.equal(c.buffer.byteLength, 1024, 'a small one is in a slab');
          for (const d of copies.slice(i + 1)) {
            if (c.buffer !== d.buffer) continue;
            assert.ok(c.byteOffset + c.byteLength <= d.byteOffset || d.byteOffset + d.byteLength <= c.byteOffset, 'copies never overlap');
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a copyMax larger than a slab', () => {
    assert.throws(() => new ByteArena(100, 200), RangeError);
  });
});
