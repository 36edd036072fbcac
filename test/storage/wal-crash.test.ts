/**
 * Appends under power loss, on the simulator's disk (test/storage/crash-disk.ts): a
 * crash keeps a random prefix of the unsynced writes, or each 512-byte sector of them
 * on its own, so a later write can survive an earlier one. Segments are small and
 * preallocated, so the crash lands in preallocated space, in a roll to the next
 * segment, or while one is being prepared. After every crash point (and several
 * seeds for each), the WAL must open without an error and hold:
 * - every entry and hard state of every append whose fsync completed;
 * - nothing that was never written: a prefix of the entries appended, in order;
 * and it must go on: append again, and replay that after a clean close.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { Entry, HardState } from '../../src/core/types.js';
import { EntryKind } from '../../src/core/types.js';
import { Wal } from '../../src/storage/wal/wal.js';
import { CrashDisk, CrashedError } from './crash-disk.js';

const TEST_TIMEOUT_MS = 120_000;
const DIR = '/data/wal';

function entry(index: number): Entry {
  // 150 to 1,250 bytes: batches of a few of these span sectors.
  const data = new Uint8Array(150 + ((index * 397) % 1100));
  for (let i = 0; i < data.byteLength; i += 1) data[i] = (index * 31 + i) & 0xff;
  return { index, term: 1 + Math.floor(index / 10), kind: EntryKind.Command, data };
}

const hs = (index: number): HardState => ({ term: 1 + Math.floor(index / 10), vote: 1, commit: index });

/** Ten appends of one to four entries; every third one is not synced. */
const APPENDS: { entries: Entry[]; sync: boolean }[] = [];
for (let next = 1, i = 0; i < 10; i += 1) {
  const count = 1 + (i % 4);
  APPENDS.push({ entries: Array.from({ length: count }, (_, k) => entry(next + k)), sync: i % 3 !== 2 });
  next += count;
}

const options = { segmentBytesMax: 6000, compactRollBytes: 3000 };

async function trial(seed: number, crashAt: number): Promise<{ disk: CrashDisk; crashed: boolean; synced: number; hardState: HardState | undefined; steps: number }> {
  const disk = new CrashDisk(seed);
  const fs = disk.crashing(crashAt);
  let synced = 0;
  let hardState: HardState | undefined;
  try {
    const { wal } = await disk.run(Wal.open(fs, DIR, options));
    for (const append of APPENDS) {
      const last = append.entries[append.entries.length - 1]!.index;
      await disk.run(wal.append(append.entries, hs(last), append.sync));
      // Everything before a completed sync is durable, unsynced appends included.
      if (append.sync) {
        synced = last;
        hardState = hs(last);
      }
    }
    await disk.run(wal.close());
  } catch (err) {
    assert.ok(err instanceof CrashedError || (err instanceof Error && err.cause instanceof CrashedError), `only the crash fails: ${String(err)}`);
  }
  return { disk, crashed: fs.crashed, synced, hardState, steps: disk.steps };
}

describe('Wal appends under crashes (simulated disk, preallocated segments)', { timeout: TEST_TIMEOUT_MS }, () => {
  it('a crash at every step keeps every synced append, replays a prefix of what was written, and the WAL goes on', async () => {
    const full = await trial(1, Number.MAX_SAFE_INTEGER);
    assert.equal(full.crashed, false);
    const written = APPENDS.flatMap((append) => append.entries);
    let lostUnsynced = 0;
    let keptUnsynced = 0;
    for (let crashAt = 0; crashAt <= full.steps; crashAt += 1) {
      for (let seed = 1; seed <= 12; seed += 1) {
        const { disk, crashed, synced, hardState } = await trial(seed * 104_729 + crashAt, crashAt);
        if (!crashed) disk.crash();
        const { wal, contents } = await disk.run(Wal.open(disk.disk, DIR, options));
        const label = `crash at ${crashAt}, seed ${seed}`;
        const replayed = contents.entries;
        assert.ok(replayed.length >= synced, `${label}: every synced entry survives (${replayed.length} < ${synced})`);
        for (const [i, got] of replayed.entries()) {
          const want = written[i]!;
          assert.deepEqual([got.index, got.term, Buffer.from(got.data).equals(Buffer.from(want.data))], [want.index, want.term, true], `${label}: entry ${i + 1}`);
        }
        if (hardState !== undefined) assert.ok(contents.hardState.commit >= hardState.commit, `${label}: the synced hard state survives`);
        if (replayed.length > synced) keptUnsynced += 1;
        else if (crashed) lostUnsynced += 1;
        // It goes on.
        const next: Entry = { ...entry(replayed.length + 1), term: 99 };
        await disk.run(wal.append([next], { term: 99, vote: 0, commit: 0 }, true));
        await disk.run(wal.close());
        const { wal: last, contents: again } = await disk.run(Wal.open(disk.disk, DIR, options));
        assert.deepEqual(
          again.entries.map((e) => e.index),
          [...replayed.map((e) => e.index), next.index],
          `${label}: the next open replays the new entry after the survivors`,
        );
        await disk.run(last.close());
      }
    }
    assert.ok(keptUnsynced > 0 && lostUnsynced > 0, `crashes both kept and lost unsynced writes (kept ${keptUnsynced}, lost ${lostUnsynced})`);
  });
});
