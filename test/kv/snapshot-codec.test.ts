/**
 * The snapshot byte stream: whatever the chunk size, values written by ChunkWriter
 * (strings straddling chunk boundaries included, lone surrogates included) read
 * back unchanged through SnapshotReader, every chunk respects the size limit, and
 * the concatenated bytes do not depend on the chunk size.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';

import { ChunkWriter, SnapshotReader } from '../../src/kv/snapshot-codec.js';

type Value = { kind: 'u8'; v: number } | { kind: 'u32'; v: number } | { kind: 'f64'; v: number } | { kind: 'string'; v: string };

const valueArb: fc.Arbitrary<Value> = fc.oneof(
  fc.record({ kind: fc.constant('u8' as const), v: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('u32' as const), v: fc.integer({ min: 0, max: 0xffff_ffff }) }),
  fc.record({ kind: fc.constant('f64' as const), v: fc.maxSafeNat() }),
  // Full Unicode plus arbitrary UTF-16 code units (lone surrogates).
  fc.record({ kind: fc.constant('string' as const), v: fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 }).map((units) => String.fromCharCode(...units)),
    ) }),
);

function write(values: readonly Value[], chunkBytes: number): Uint8Array[] {
  const w = new ChunkWriter(chunkBytes);
  const chunks: Uint8Array[] = [];
  for (const value of values) {
    if (value.kind === 'u8') w.u8(value.v);
    else if (value.kind === 'u32') w.u32(value.v);
    else if (value.kind === 'f64') w.f64(value.v);
    else w.string(value.v);
    chunks.push(...w.take());
  }
  w.finish();
  chunks.push(...w.take());
  return chunks;
}

describe('ChunkWriter / SnapshotReader', () => {
  it('round-trips any values at any chunk size, with the same bytes whatever the chunk size', () => {
    fc.assert(
      fc.property(fc.array(valueArb, { maxLength: 60 }), fc.integer({ min: 8, max: 200 }), (values, chunkBytes) => {
        const chunks = write(values, chunkBytes);
        for (const chunk of chunks) assert.ok(chunk.byteLength > 0 && chunk.byteLength <= chunkBytes, `chunk of ${chunk.byteLength} > ${chunkBytes}`);
        const bytes = Buffer.concat(chunks);
        assert.deepEqual(bytes, Buffer.concat(write(values, 1024 * 1024)), 'chunking changes no byte');
        const r = new SnapshotReader(bytes);
        for (const value of values) {
          const read = value.kind === 'u8' ? r.u8('u8') : value.kind === 'u32' ? r.u32('u32') : value.kind === 'f64' ? r.count('f64') : r.string('string');
          assert.equal(read, value.v);
        }
        r.expectEnd();
      }),
      { numRuns: 300 },
    );
  });

  it('a string longer than a chunk is spread over several', () => {
    const long = 'ü'.repeat(5000);
    const chunks = write([{ kind: 'string', v: long }], 1024);
    assert.ok(chunks.length >= 10);
    assert.equal(new SnapshotReader(Buffer.concat(chunks)).string('long'), long);
  });
});
