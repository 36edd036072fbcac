/**
 * MemoryStorage, the in-memory LogStorage twin used by core and driver tests, follows
 * the same contract as the WAL: an entry at index i replaces i and everything after
 * it, the last hard state wins, and `syncs` counts the appends that asked for one;
 * `compact(base)` applies the Raft paper's Figure 13 rule as the WAL does.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { Entry } from '../../src/core/types.js';
import { EntryKind } from '../../src/core/types.js';
import { InvariantError } from '../../src/errors.js';
import { MemoryStorage } from '../../src/storage/log-storage.js';

function entry(index: number, term: number): Entry {
  return { index, term, kind: EntryKind.Command, data: Uint8Array.of(index, term) };
}

function ids(entries: readonly Entry[]): string[] {
  return entries.map((e) => `${e.index}@${e.term}`);
}

describe('MemoryStorage', () => {
  it('starts empty', () => {
    const storage = new MemoryStorage();
    assert.deepEqual(storage.entries, []);
    assert.equal(storage.hardState, undefined);
    assert.equal(storage.syncs, 0);
  });

  it('appends, replaces a conflicting suffix, keeps the last hard state and counts syncs', async () => {
    const storage = new MemoryStorage();
    await storage.append([1, 2, 3, 4, 5].map((i) => entry(i, 1)), { term: 1, vote: 1, commit: 2 }, true);
    assert.deepEqual(ids(storage.entries), ['1@1', '2@1', '3@1', '4@1', '5@1']);
    assert.equal(storage.syncs, 1);

    await storage.append([entry(3, 2), entry(4, 2)], { term: 2, vote: 2, commit: 2 }, false);
    assert.deepEqual(ids(storage.entries), ['1@1', '2@1', '3@2', '4@2'], 'entry 5 is gone, 3 and 4 replaced');
    assert.deepEqual(storage.hardState, { term: 2, vote: 2, commit: 2 });
    assert.equal(storage.syncs, 1, 'an unsynced append is not counted');

    await storage.append([entry(5, 2)], undefined, true);
    assert.deepEqual(ids(storage.entries), ['1@1', '2@1', '3@2', '4@2', '5@2']);
    assert.deepEqual(storage.hardState, { term: 2, vote: 2, commit: 2 }, 'no hard state: the previous one stays');
    assert.equal(storage.syncs, 2);

    await storage.append([], { term: 3, vote: 0, commit: 5 }, true);
    assert.deepEqual(ids(storage.entries), ['1@1', '2@1', '3@2', '4@2', '5@2'], 'no entries: the log is unchanged');
    assert.deepEqual(storage.hardState, { term: 3, vote: 0, commit: 5 });
    assert.equal(storage.syncs, 3);

    await storage.append([entry(1, 4)], undefined, false);
    assert.deepEqual(ids(storage.entries), ['1@4'], 'replacing index 1 discards everything');
    assert.equal(storage.syncs, 3);
  });

  it('compact keeps the entries after a base it holds, drops everything for one it does not, and ignores an older one', async () => {
    const storage = new MemoryStorage();
    await storage.append([1, 2, 3, 4, 5, 6].map((i) => entry(i, 1)), undefined, true);
    await storage.compact({ index: 3, term: 1 });
    assert.deepEqual(storage.base, { index: 3, term: 1 });
    assert.deepEqual(ids(storage.entries), ['4@1', '5@1', '6@1']);
    assert.equal(storage.lastIndex(), 6);

    await storage.compact({ index: 2, term: 1 });
    await storage.compact({ index: 3, term: 1 });
    assert.equal(storage.compactions, 1, 'an older or equal base is a no-op');
    assert.deepEqual(ids(storage.entries), ['4@1', '5@1', '6@1']);

    await storage.append([entry(6, 2), entry(7, 2)], undefined, false);
    assert.deepEqual(ids(storage.entries), ['4@1', '5@1', '6@2', '7@2']);
    await assert.rejects(storage.append([entry(3, 2)], undefined, false), InvariantError, 'at or before the base');
    await assert.rejects(storage.append([entry(9, 2)], undefined, false), InvariantError, 'a gap');

    await storage.compact({ index: 6, term: 3 }); // conflicts with 6@2
    assert.deepEqual(storage.base, { index: 6, term: 3 });
    assert.deepEqual(ids(storage.entries), []);
    await storage.compact({ index: 10, term: 3 }); // past the end
    assert.deepEqual(ids(storage.entries), []);
    assert.equal(storage.lastIndex(), 10);
    await storage.append([entry(11, 3)], undefined, false);
    assert.deepEqual(ids(storage.entries), ['11@3']);
  });
});
