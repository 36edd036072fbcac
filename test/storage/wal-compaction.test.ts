/**
 * WAL compaction (`compact(base)`) on real files and on the simulator's disk. It
 * proves:
 * - replay gives the base and only the entries after it, with the hard state, and
 *   appends continue after it; a base at or before the current one changes nothing;
 * - the Raft paper's Figure 13 rule: a base the log holds keeps the suffix after it;
 *   a base it does not hold (another term there, or past its end) drops every entry;
 * - segments whose entries all lie at or before the base are deleted (never the
 *   active one), compaction rolls to a new segment so the old one can go, and
 *   diskBytes() is what the files hold;
 * - a crash at every step of a compaction (base written, some segments deleted, a
 *   deletion undone because the directory was not synced) replays to the state
 *   before or after it, and the WAL goes on;
 * - over 50 compactions of 1,000 entries the disk stays bounded and a restart
 *   replays only about the live log;
 * - a gap between entries, or at the start, is still corruption unless a compaction
 *   record covers it; records that contradict a compaction are corruption too; a torn
 *   compaction record at the tail is cut off.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

import type { Entry, EntryId, HardState } from '../../src/core/types.js';
import { EntryKind } from '../../src/core/types.js';
import { CorruptLogError, InvariantError } from '../../src/errors.js';
import type { FileSystem } from '../../src/storage/file-system.js';
import { NodeFileSystem } from '../../src/storage/file-system.js';
import { recordBytes } from './wal-files.js';
import { encodeCompactionRecord, encodeEntryRecord, encodeHardStateRecord } from '../../src/storage/wal/record.js';
import type { WalContents, WalOptions } from '../../src/storage/wal/wal.js';
import { Wal } from '../../src/storage/wal/wal.js';
import { CrashDisk, CrashedError } from './crash-disk.js';

const SEGMENT_MAGIC = Buffer.from('RAFTWAL2', 'ascii');
const TEST_TIMEOUT_MS = 120_000;

function entry(index: number, term: number, bytes = 4): Entry {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 1) data[i] = (index * 13 + term + i) & 0xff;
  return { index, term, kind: EntryKind.Command, data };
}

function range(from: number, to: number, term: (index: number) => number, bytes = 4): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i += 1) out.push(entry(i, term(i), bytes));
  return out;
}

function ids(entries: readonly Entry[]): string[] {
  return entries.map((e) => `${e.index}@${e.term}:${Buffer.from(e.data).toString('hex')}`);
}

function expectContents(contents: WalContents, base: EntryId, entries: readonly Entry[], hardState: HardState): void {
  assert.deepEqual({ ...contents.base }, { ...base }, 'base');
  assert.deepEqual(ids(contents.entries), ids(entries), 'entries');
  assert.deepEqual({ ...contents.hardState }, { ...hardState }, 'hard state');
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'raft-walc-test-'));
  try {
    await fn(dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

async function reopen(dir: string, options: WalOptions = {}, fs: FileSystem = new NodeFileSystem()): Promise<WalContents> {
  const { wal, contents } = await Wal.open(fs, dir, options);
  await wal.close();
  return contents;
}

async function segments(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((name) => name.endsWith('.wal')).sort();
}

async function bytesOnDisk(dir: string): Promise<number> {
  let total = 0;
  for (const name of await segments(dir)) total += (await fsp.stat(path.join(dir, name))).size;
  return total;
}

async function writeSegment(dir: string, sequence: number, ...parts: Uint8Array[]): Promise<string> {
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${sequence.toString(16).padStart(16, '0')}.wal`);
  await fsp.writeFile(file, Buffer.concat([SEGMENT_MAGIC, ...parts]));
  return file;
}

async function expectCorrupt(dir: string, file: string, offset: number, mentions: RegExp): Promise<void> {
  await assert.rejects(Wal.open(new NodeFileSystem(), dir), (err: unknown) => {
    assert.ok(err instanceof CorruptLogError, `expected CorruptLogError, got ${String(err)}`);
    assert.ok(err.message.includes(file), `names ${file}: ${err.message}`);
    assert.match(err.message, new RegExp(`\\boffset ${offset}\\b`));
    assert.match(err.message, mentions);
    return true;
  });
}

const hs = (term: number, vote: number, commit: number): HardState => ({ term, vote, commit });
/** A hand-made compaction record carrying an unremarkable hard state. */
const compaction = (base: EntryId, keepsSuffix: boolean, state: HardState = hs(1, 1, 0)): Buffer => encodeCompactionRecord(base, keepsSuffix, state);
const termOf = (i: number): number => (i <= 12 ? 1 : 2);

describe('Wal compact', { timeout: TEST_TIMEOUT_MS }, () => {
  it('replay gives the base and only the later entries, with the hard state; appends continue; an older base is a no-op', async () => {
    await withTempDir(async (dir) => {
      const written = range(1, 20, termOf);
      const { wal, contents } = await Wal.open(new NodeFileSystem(), dir);
      try {
        expectContents(contents, { index: 0, term: 0 }, [], hs(0, 0, 0));
        await wal.append(written.slice(0, 15), hs(2, 1, 14), true);
        await wal.append(written.slice(15), undefined, false);
        await wal.compact({ index: 10, term: 1 });
        assert.deepEqual(wal.base(), { index: 10, term: 1 });
        assert.equal(wal.lastIndex(), 20);
        assert.equal(wal.diskBytes(), await bytesOnDisk(dir));
        const bytes = await recordBytes(dir);
        await wal.compact({ index: 10, term: 1 });
        await wal.compact({ index: 4, term: 1 });
        assert.equal(await recordBytes(dir), bytes, 'a base at or before the current one writes nothing');
        await wal.append([entry(21, 2)], hs(2, 1, 20), true);
      } finally {
        await wal.close();
      }
      expectContents(await reopen(dir), { index: 10, term: 1 }, [...written.slice(10), entry(21, 2)], hs(2, 1, 20));

      // Compacting past the last entry (a snapshot of everything) leaves an empty log after it.
      const { wal: again } = await Wal.open(new NodeFileSystem(), dir);
      try {
        await again.compact({ index: 21, term: 2 });
        await again.append([entry(22, 3)], undefined, true);
      } finally {
        await again.close();
      }
      expectContents(await reopen(dir), { index: 21, term: 2 }, [entry(22, 3)], hs(2, 1, 20));
    });
  });

  it('Figure 13: a base whose term differs from the log, or past its end, drops every entry', async () => {
    await withTempDir(async (dir) => {
      const { wal } = await Wal.open(new NodeFileSystem(), dir);
      try {
        await wal.append(range(1, 10, () => 1), hs(1, 1, 3), true);
        await wal.compact({ index: 7, term: 2 }); // a leader's snapshot: its entry 7 is of term 2
        assert.equal(wal.lastIndex(), 7);
        await wal.append([entry(8, 2)], hs(2, 2, 8), true);
      } finally {
        await wal.close();
      }
      expectContents(await reopen(dir), { index: 7, term: 2 }, [entry(8, 2)], hs(2, 2, 8));
    });
    await withTempDir(async (dir) => {
      const { wal } = await Wal.open(new NodeFileSystem(), dir);
      try {
        await wal.append(range(1, 5, () => 1), hs(1, 1, 5), true);
        await wal.compact({ index: 20, term: 3 }); // a follower far behind
        const bytes = await recordBytes(dir);
        await assert.rejects(wal.append([entry(5, 3)], undefined, true), InvariantError, 'at or before the base');
        await assert.rejects(wal.append([entry(23, 3)], undefined, true), InvariantError, 'a gap');
        await assert.rejects(wal.append([entry(21, 3), entry(23, 3)], undefined, true), InvariantError, 'not contiguous');
        assert.equal(await recordBytes(dir), bytes, 'a refused append writes nothing');
        await wal.append([entry(21, 3)], undefined, true);
      } finally {
        await wal.close();
      }
      expectContents(await reopen(dir), { index: 20, term: 3 }, [entry(21, 3)], hs(1, 1, 5));
    });
    await withTempDir(async (dir) => {
      // With the hard state the install implies, written in the same record batch.
      const { wal } = await Wal.open(new NodeFileSystem(), dir);
      try {
        await wal.append(range(1, 5, () => 1), hs(1, 1, 5), true);
        await wal.compact({ index: 20, term: 3 }, hs(3, 2, 20));
        const bytes = await recordBytes(dir);
        await wal.compact({ index: 20, term: 3 }, hs(3, 2, 20)); // the same base: only the hard state
        assert.ok((await recordBytes(dir)) > bytes);
      } finally {
        await wal.close();
      }
      expectContents(await reopen(dir), { index: 20, term: 3 }, [], hs(3, 2, 20));
    });
    await withTempDir(async (dir) => {
      // The matching case, through a truncation: the log's entry 6 is the term-2 one.
      const { wal } = await Wal.open(new NodeFileSystem(), dir);
      try {
        await wal.append(range(1, 9, () => 1), undefined, false);
        await wal.append(range(5, 8, () => 2), hs(2, 2, 4), true);
        await wal.compact({ index: 6, term: 2 });
      } finally {
        await wal.close();
      }
      expectContents(await reopen(dir), { index: 6, term: 2 }, range(7, 8, () => 2), hs(2, 2, 4));
    });
  });

  it('deletes the segments wholly at or before the base, rolls at compaction, never deletes the active one; diskBytes matches the files', async () => {
    await withTempDir(async (dir) => {
      const options = { segmentBytesMax: 250, compactRollBytes: 100 };
      const written = range(1, 40, termOf, 10);
      const { wal } = await Wal.open(new NodeFileSystem(), dir, options);
      try {
        for (const e of written) await wal.append([e], undefined, false);
        await wal.append([], hs(2, 1, 40), true);
        const before = await segments(dir);
        assert.ok(before.length >= 5, `several segments (${before.length})`);
        assert.equal(wal.diskBytes(), await bytesOnDisk(dir));

        await wal.compact({ index: 25, term: 2 });
        const after = await segments(dir);
        assert.ok(after.length < before.length, 'old segments were deleted');
        assert.ok(!after.includes(before[0]!));
        assert.equal(after[after.length - 1], `${(before.length + 1).toString(16).padStart(16, '0')}.wal`, 'rolled to a new segment');
        assert.equal(wal.diskBytes(), await bytesOnDisk(dir));
        expectContents(await reopen(dir, options), { index: 25, term: 2 }, written.slice(25), hs(2, 1, 40));

        // Everything compacted: every segment but the active one goes.
        await wal.compact({ index: 40, term: 2 });
        assert.equal((await segments(dir)).length, 1);
        assert.equal(wal.diskBytes(), await bytesOnDisk(dir));
      } finally {
        await wal.close();
      }
      expectContents(await reopen(dir, options), { index: 40, term: 2 }, [], hs(2, 1, 40));
    });
  });

  it('half done by hand: base written, only some of the old segments deleted, replays the same', async () => {
    await withTempDir(async (dir) => {
      const source = path.join(dir, 'source');
      const options = { segmentBytesMax: 200, compactRollBytes: 0 };
      const written = range(1, 30, termOf, 8);
      const { wal } = await Wal.open(new NodeFileSystem(), source, options);
      const saved = new Map<string, Buffer>();
      try {
        for (const e of written) await wal.append([e], undefined, false);
        await wal.append([], hs(2, 3, 30), true);
        for (const name of await segments(source)) saved.set(name, await fsp.readFile(path.join(source, name)));
        await wal.compact({ index: 20, term: 2 });
      } finally {
        await wal.close();
      }
      const kept = new Set(await segments(source));
      const deleted = [...saved.keys()].filter((name) => !kept.has(name));
      assert.ok(deleted.length >= 2, `several segments deleted (${deleted.length})`);
      // Only the first k deletions happened (they go oldest first), for every k.
      for (let k = 0; k <= deleted.length; k += 1) {
        const trial = path.join(dir, `k${k}`);
        await fsp.cp(source, trial, { recursive: true });
        for (const name of deleted.slice(k)) await fsp.writeFile(path.join(trial, name), saved.get(name)!);
        expectContents(await reopen(trial, options), { index: 20, term: 2 }, written.slice(20), hs(2, 3, 30));
      }
    });
  });

  it('a torn compaction record at the tail is cut off with a warning: the state before it stands', async () => {
    await withTempDir(async (dir) => {
      const written = range(1, 6, () => 1);
      const prefix = Buffer.concat([...written.map((e) => encodeEntryRecord(e)), encodeHardStateRecord(hs(1, 1, 6))]);
      const record = encodeCompactionRecord({ index: 4, term: 1 }, true, hs(2, 1, 6));
      for (let cut = 1; cut < record.byteLength; cut += 1) {
        const trial = path.join(dir, `cut-${cut}`);
        await writeSegment(trial, 1, prefix, record.subarray(0, cut));
        const warnings: unknown[] = [];
        const contents = await reopen(trial, { onWarning: (fields) => warnings.push(fields) });
        expectContents(contents, { index: 0, term: 0 }, written, hs(1, 1, 6));
        assert.equal(warnings.length, 1);
      }
    });
  });
});

describe('Wal compact under crashes (simulated disk)', { timeout: TEST_TIMEOUT_MS }, () => {
  const DIR = '/data/wal';
  const options = { segmentBytesMax: 160, compactRollBytes: 0 };
  const written = range(1, 30, termOf, 6);
  // Commit stays below both bases: a snapshot never conflicts with committed entries.
  const state = hs(2, 2, 15);

  async function trial(seed: number, crashAt: number, base: EntryId, hardState: HardState | undefined) {
    const disk = new CrashDisk(seed);
    const { wal } = await disk.run(Wal.open(disk.disk, DIR, options));
    for (let i = 0; i < written.length; i += 5) await disk.run(wal.append(written.slice(i, i + 5), undefined, false));
    await disk.run(wal.append([], state, true));
    const fs = disk.crashing(crashAt);
    try {
      const { wal: crashing } = await disk.run(Wal.open(fs, DIR, options));
      await disk.run(crashing.compact(base, hardState));
    } catch (err) {
      assert.ok(err instanceof CrashedError || err instanceof Error && err.cause instanceof CrashedError, `only the crash fails: ${String(err)}`);
    }
    return { disk, crashed: fs.crashed, steps: disk.steps };
  }

  for (const [label, base, after, hardState] of [
    ['keeping the suffix', { index: 20, term: 2 }, written.slice(20), undefined],
    ['dropping a conflicting log', { index: 20, term: 3 }, [], undefined],
    ['installing a snapshot past the log, with its commit', { index: 45, term: 3 }, [], hs(3, 1, 45)],
  ] as const) {
    it(`${label}: a crash at every step replays to the state before or after, and the WAL goes on`, async () => {
      const full = await trial(1, Number.MAX_SAFE_INTEGER, base, hardState);
      assert.equal(full.crashed, false);
      let sawBefore = 0;
      let sawAfter = 0;
      for (let crashAt = 0; crashAt <= full.steps; crashAt += 1) {
        for (let seed = 1; seed <= 5; seed += 1) {
          const { disk, crashed } = await trial(seed * 7919 + crashAt, crashAt, base, hardState);
          if (!crashed) disk.crash();
          const { wal, contents } = await disk.run(Wal.open(disk.disk, DIR, options));
          if (contents.base.index === 0) {
            assert.ok(crashed, 'a completed compaction is never lost');
            expectContents(contents, { index: 0, term: 0 }, written, state);
            sawBefore += 1;
          } else {
            expectContents(contents, base, after, hardState ?? state);
            sawAfter += 1;
          }
          // It goes on: compact again and append, then replay once more.
          await disk.run(wal.compact(base));
          const next = entry(base.index + after.length + 1, 4);
          await disk.run(wal.append([next], hs(4, 0, next.index), true));
          await disk.run(wal.close());
          const { wal: last, contents: replayed } = await disk.run(Wal.open(disk.disk, DIR, options));
          expectContents(replayed, base, [...after, next], hs(4, 0, next.index));
          await disk.run(last.close());
        }
      }
      assert.ok(sawBefore > 0 && sawAfter > 0, `both outcomes happened (before ${sawBefore}, after ${sawAfter})`);
    });
  }
});

describe('Wal disk use under a long run', { timeout: TEST_TIMEOUT_MS }, () => {
  it('50 compactions of 1,000 entries of ~100 bytes: disk stays bounded and a restart replays about the live log', async () => {
    await withTempDir(async (dir) => {
      const TRAILING = 300;
      let { wal } = await Wal.open(new NodeFileSystem(), dir);
      let maxDiskBytes = 0;
      let totalBytes = 0;
      let maxReplayed = 0;
      let next = 1;
      try {
        for (let round = 1; round <= 50; round += 1) {
          for (let batch = 0; batch < 10; batch += 1) {
            const entries = range(next, next + 99, () => 1 + Math.floor(round / 10), 100);
            next += 100;
            await wal.append(entries, hs(1 + Math.floor(round / 10), 1, next - 1), batch === 9);
            totalBytes += entries.length * (9 + 17 + 100);
          }
          const baseIndex = next - 1 - TRAILING;
          await wal.compact({ index: baseIndex, term: 1 + Math.floor(round / 10) });
          const onDisk = await bytesOnDisk(dir);
          assert.equal(wal.diskBytes(), onDisk, `round ${round}: diskBytes is what the files hold`);
          maxDiskBytes = Math.max(maxDiskBytes, onDisk);
          if (round % 5 === 0) {
            await wal.close();
            const reopened = await Wal.open(new NodeFileSystem(), dir);
            wal = reopened.wal;
            const { contents } = reopened;
            assert.equal(contents.base.index, baseIndex);
            assert.equal(contents.entries.length, TRAILING);
            assert.equal(contents.entries[0]!.index, baseIndex + 1);
            maxReplayed = Math.max(maxReplayed, contents.entries.length);
          }
        }
      } finally {
        await wal.close();
      }
      assert.ok(totalBytes > 6_000_000);
      // Default segments (4 MiB) and roll-at-compaction size (512 KiB): at most about
      // one rolled segment (about 0.6 MiB) and the active one remain, the active one
      // preallocated (1 MiB at first, then a quarter more than the last one reached).
      assert.ok(maxDiskBytes < 2 * 1024 * 1024, `disk stays bounded: at most ${maxDiskBytes} bytes of ${totalBytes} written`);
      assert.ok((await segments(dir)).length <= 3);
      assert.equal(maxReplayed, TRAILING);
    });
  });
});

describe('Wal gaps and compaction records on replay', { timeout: TEST_TIMEOUT_MS }, () => {
  const e = (index: number, term = 1): Buffer => encodeEntryRecord(entry(index, term));

  it('a gap between entries is still corruption, with the file and the offset', async () => {
    await withTempDir(async (dir) => {
      const file = await writeSegment(dir, 1, e(1), e(2), e(5));
      await expectCorrupt(dir, file, SEGMENT_MAGIC.byteLength + 2 * e(1).byteLength, /entry 5 follows 2, leaving a gap/);
    });
    await withTempDir(async (dir) => {
      // A first entry after 1 with no compaction record to explain it.
      const file = await writeSegment(dir, 1, e(7), e(8));
      await expectCorrupt(dir, file, SEGMENT_MAGIC.byteLength, /gap/);
    });
    await withTempDir(async (dir) => {
      // A compaction record that does not reach the gap leaves it unexplained.
      await writeSegment(dir, 1, e(1), e(2));
      const file = await writeSegment(dir, 2, e(6), e(7), compaction({ index: 3, term: 1 }, true));
      await expectCorrupt(dir, file, SEGMENT_MAGIC.byteLength, /entry 6 follows 2, leaving a gap/);
    });
    await withTempDir(async (dir) => {
      // A gap after a compaction record, with nothing after it to explain it.
      const file = await writeSegment(dir, 1, compaction({ index: 10, term: 1 }, true), e(11), e(13));
      const offset = SEGMENT_MAGIC.byteLength + compaction({ index: 10, term: 1 }, true).byteLength + e(11).byteLength;
      await expectCorrupt(dir, file, offset, /entry 13 follows 11/);
    });
  });

  it('a gap that a later compaction record covers is what deleted segments leave: it replays', async () => {
    await withTempDir(async (dir) => {
      // Segment 1 (entries 1..4) was deleted after the compaction at 6; segment 2 held
      // an older compaction record (at 2) and entries 7..8.
      await writeSegment(dir, 2, compaction({ index: 2, term: 1 }, true), e(7), e(8));
      await writeSegment(dir, 3, compaction({ index: 6, term: 1 }, true), encodeHardStateRecord(hs(1, 1, 8)), e(9));
      expectContents(await reopen(dir), { index: 6, term: 1 }, [entry(7, 1), entry(8, 1), entry(9, 1)], hs(1, 1, 8));
    });
  });

  it('records that contradict a compaction are corruption', async () => {
    await withTempDir(async (dir) => {
      const record = compaction({ index: 3, term: 1 }, true);
      const file = await writeSegment(dir, 1, e(1), e(2), e(3), e(4), record, e(2));
      const offset = SEGMENT_MAGIC.byteLength + 4 * e(1).byteLength + record.byteLength;
      await expectCorrupt(dir, file, offset, /entry 2 is at or before the compaction base 3/);
    });
    await withTempDir(async (dir) => {
      const file = await writeSegment(dir, 1, e(1), e(2), e(3), compaction({ index: 2, term: 5 }, true));
      await expectCorrupt(dir, file, SEGMENT_MAGIC.byteLength + 3 * e(1).byteLength, /holds term 1 there/);
    });
    await withTempDir(async (dir) => {
      const file = await writeSegment(dir, 1, e(1), e(2), e(3), compaction({ index: 2, term: 1 }, false));
      await expectCorrupt(dir, file, SEGMENT_MAGIC.byteLength + 3 * e(1).byteLength, /drops every entry/);
    });
    await withTempDir(async (dir) => {
      const later = compaction({ index: 5, term: 1 }, true);
      const file = await writeSegment(dir, 1, later, compaction({ index: 4, term: 1 }, true));
      await expectCorrupt(dir, file, SEGMENT_MAGIC.byteLength + later.byteLength, /before the previous one/);
    });
    await withTempDir(async (dir) => {
      // The commit index must lie within base + entries.
      await writeSegment(dir, 1, compaction({ index: 5, term: 1 }, false), e(6), encodeHardStateRecord(hs(1, 1, 7)));
      await assert.rejects(Wal.open(new NodeFileSystem(), dir), (err: unknown) => err instanceof CorruptLogError && /commit index 7\b/.test(err.message));
    });
  });
});
