/**
 * One append's records are written into one buffer in place (encodeBatch): it must
 * hold exactly the records that encoding them one by one gives, in order, and every
 * one must decode back to what was written.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import type { Entry, HardState } from '../../src/core/types.js';
import { decodeRecord, encodeBatch, encodeEntryRecord, encodeHardStateRecord } from '../../src/storage/wal/record.js';

const entries: fc.Arbitrary<Entry[]> = fc
  .array(fc.record({ term: fc.integer({ min: 1, max: 2 ** 40 }), kind: fc.constantFrom(0, 1, 2), data: fc.uint8Array({ maxLength: 300 }) }), { maxLength: 20 })
  .chain((items) =>
    fc.integer({ min: 1, max: 2 ** 40 }).map((first) => items.map((item, i) => ({ ...item, index: first + i }) as Entry)),
  );
const hardState: fc.Arbitrary<HardState | undefined> = fc.option(
  fc.record({ term: fc.nat(), vote: fc.nat(), commit: fc.nat() }),
  { nil: undefined },
);

describe('WAL record batch', () => {
  it('is the records of its entries and hard state one after another, each decoding back', () => {
    fc.assert(
      fc.property(entries, hardState, (list, state) => {
        const batch = encodeBatch(list, state);
        const oneByOne = [...list.map((e) => encodeEntryRecord(e)), ...(state === undefined ? [] : [encodeHardStateRecord(state)])];
        assert.deepEqual(batch, Buffer.concat(oneByOne));
        let offset = 0;
        for (const entry of list) {
          const record = decodeRecord(batch, offset);
          assert.ok('bytes' in record && record.kind === 'entry');
          assert.deepEqual({ ...record.entry, data: [...record.entry.data] }, { ...entry, data: [...entry.data] });
          offset += record.bytes;
        }
        if (state !== undefined) {
          const record = decodeRecord(batch, offset);
          assert.ok('bytes' in record && record.kind === 'hard-state');
          assert.deepEqual(record.hardState, { ...state });
          offset += record.bytes;
        }
        assert.equal(offset, batch.byteLength);
      }),
      { numRuns: 200 },
    );
  });
});
