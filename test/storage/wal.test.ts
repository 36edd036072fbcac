/**
 * The write-ahead log on real files (NodeFileSystem, a fresh mkdtemp directory per
 * test). It proves:
 * - what append() writes is what open() replays: entries (binary and empty payloads)
 *   in order and the last hard state, across calls, syncs and segment rollovers, with
 *   a later entry at an existing index replacing that index and everything after it
 *   (Raft paper §5.3), even when the replaced entries sit in earlier segments;
 * - a torn tail (the last record cut short at ANY byte, at the end of the file or
 *   inside preallocated zeros) is cut off with exactly one warning naming its offset,
 *   and appends continue; in a preallocated segment a zero length ends the log, and
 *   unsynced writes a crash kept after the end (a later write surviving an earlier
 *   one) are zeroed, never replayed;
 * - anything else that does not verify (a damaged record before the tail, a damaged
 *   but complete last record, a bad segment header, a gap, a commit index past the
 *   log) stops open() with CorruptLogError naming the file and offset, never a
 *   silent truncation of data that may have been acknowledged;
 * - a failed write or fsync rejects append() with StorageError, and every later
 *   append() rejects too (sticky): nothing after a failure can be acknowledged.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

import type { Entry, HardState } from '../../src/core/types.js';
import { EMPTY_HARD_STATE, EntryKind } from '../../src/core/types.js';
import { CorruptLogError, StorageError } from '../../src/errors.js';
import type { AppendHandle, FileSystem, WriteHandle } from '../../src/storage/file-system.js';
import { NodeFileSystem } from '../../src/storage/file-system.js';
import { decodeRecord, encodeEntryRecord, encodeHardStateRecord, isZero } from '../../src/storage/wal/record.js';
import type { WalContents, WalOptions } from '../../src/storage/wal/wal.js';
import { Wal } from '../../src/storage/wal/wal.js';
import { preallocated, recordsEnd } from './wal-files.js';

/** Same bytes as the private constant in wal.ts: every segment written now starts with it. */
const SEGMENT_MAGIC = Buffer.from('RAFTWAL2', 'ascii');
/** The magic of the earlier record format, which the WAL still reads. */
const SEGMENT_MAGIC_V1 = Buffer.from('RAFTWAL1', 'ascii');
const TEST_TIMEOUT_MS = 60_000;

function segmentName(sequence: number): string {
  return `${sequence.toString(16).padStart(16, '0')}.wal`;
}

function entry(index: number, term: number, data: ArrayLike<number> = [index], kind: EntryKind = EntryKind.Command): Entry {
  return { index, term, kind, data: Uint8Array.from(data) };
}

function hardState(term: number, vote: number, commit: number): HardState {
  return { term, vote, commit };
}

/** Entries as comparable plain values (decoded payloads are Buffers, inputs Uint8Arrays). */
function plain(entries: readonly Entry[]): { index: number; term: number; kind: number; data: string }[] {
  return entries.map((e) => {
    assert.ok(e.data instanceof Uint8Array);
    return { index: e.index, term: e.term, kind: e.kind, data: Buffer.from(e.data).toString('hex') };
  });
}

function assertContents(actual: WalContents, entries: readonly Entry[], state: HardState): void {
  assert.deepEqual({ ...actual.base }, { index: 0, term: 0 }, 'never compacted');
  assert.deepEqual(plain(actual.entries), plain(entries));
  assert.deepEqual({ ...actual.hardState }, { ...state });
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'raft-wal-test-'));
  try {
    await fn(dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

interface Warning {
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

/** Opens with a recording onWarning; the caller closes the returned WAL. */
async function open(dir: string, options: Omit<WalOptions, 'onWarning'> = {}, fs: FileSystem = new NodeFileSystem()) {
  const warnings: Warning[] = [];
  const { wal, contents } = await Wal.open(fs, dir, { ...options, onWarning: (fields, message) => warnings.push({ fields, message }) });
  return { wal, contents, warnings };
}

/** Opens, checks the contents and that there were no warnings, and closes. */
async function reopenAndExpect(dir: string, entries: readonly Entry[], state: HardState): Promise<void> {
  const { wal, contents, warnings } = await open(dir);
  try {
    assertContents(contents, entries, state);
    assert.deepEqual(warnings, []);
  } finally {
    await wal.close();
  }
}

/** The appends went to a second, current-format segment, and a reopen replays `entries` and `state`. */
async function expectSecondSegmentAndReplay(dir: string, entries: readonly Entry[], state: HardState): Promise<void> {
  assert.deepEqual(await segments(dir), [segmentName(1), segmentName(2)]);
  assert.deepEqual((await fsp.readFile(path.join(dir, segmentName(2)))).subarray(0, 8), SEGMENT_MAGIC);
  await reopenAndExpect(dir, entries, state);
}

async function segments(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((name) => name.endsWith('.wal')).sort();
}

async function fileSize(file: string): Promise<number> {
  return (await fsp.stat(file)).size;
}

/** Writes one hand-made segment file. */
async function writeSegment(dir: string, sequence: number, ...parts: Uint8Array[]): Promise<string> {
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, segmentName(sequence));
  await fsp.writeFile(file, Buffer.concat(parts));
  return file;
}

/** Asserts a CorruptLogError whose message names `where` and, when given, the exact offset. */
async function expectCorrupt(promise: Promise<unknown>, where: string, offset?: number, mentions?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof CorruptLogError, `expected CorruptLogError, got ${String(err)}`);
    assert.equal(err.code, 'RAFT_CORRUPT_LOG');
    assert.ok(err.message.includes(where), `message should name ${where}: ${err.message}`);
    if (offset !== undefined) assert.match(err.message, new RegExp(`\\boffset ${offset}\\b`));
    if (mentions !== undefined) assert.match(err.message, mentions);
    return true;
  });
}

// ---------------------------------------------------------------------------------------
// A FileSystem that fails on demand, and counts open handles.
// ---------------------------------------------------------------------------------------

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC', errno: -28 });
}

class FaultyFileSystem implements FileSystem {
  private readonly inner = new NodeFileSystem();
  failWrite = false;
  /** When failing a write, first write this many bytes of it (a short write). */
  shortWriteBytes = 0;
  failSync = false;
  openHandles = 0;
  readonly injected: Error[] = [];
  /** Every handle operation, in order, with the file's base name. */
  readonly events: { file: string; op: 'write' | 'sync' | 'close' }[] = [];

  private fail(): never {
    const err = enospc();
    this.injected.push(err);
    throw err;
  }

  mkdirp(dir: string): Promise<void> {
    return this.inner.mkdirp(dir);
  }

  list(dir: string): Promise<string[]> {
    return this.inner.list(dir);
  }

  readFile(file: string): Promise<Uint8Array> {
    return this.inner.readFile(file);
  }

  /** Not used by the WAL, which writes through openWrite: passed through unwatched. */
  openAppend(file: string): Promise<AppendHandle> {
    return this.inner.openAppend(file);
  }

  async openWrite(file: string): Promise<WriteHandle> {
    const handle = await this.inner.openWrite(file);
    const name = path.basename(file);
    this.openHandles += 1;
    return {
      writeAt: async (data, position) => {
        this.events.push({ file: name, op: 'write' });
        if (this.failWrite) {
          if (this.shortWriteBytes > 0) await handle.writeAt(data.subarray(0, this.shortWriteBytes), position);
          this.fail();
        }
        await handle.writeAt(data, position);
      },
      zeroFill: async (position, bytes) => {
        this.events.push({ file: name, op: 'write' });
        if (this.failWrite) this.fail();
        await handle.zeroFill(position, bytes);
      },
      sync: async () => {
        this.events.push({ file: name, op: 'sync' });
        if (this.failSync) this.fail();
        await handle.sync();
      },
      close: async () => {
        this.events.push({ file: name, op: 'close' });
        this.openHandles -= 1;
        await handle.close();
      },
    };
  }

  truncate(file: string, bytes: number): Promise<void> {
    return this.inner.truncate(file, bytes);
  }

  remove(file: string): Promise<void> {
    return this.inner.remove(file);
  }

  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }

  syncDir(dir: string): Promise<void> {
    return this.inner.syncDir(dir);
  }
}

function isStorageError(cause: Error | undefined) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof StorageError, `expected StorageError, got ${String(err)}`);
    assert.equal(err.code, 'RAFT_STORAGE');
    if (cause !== undefined) assert.equal(err.cause, cause);
    return true;
  };
}

// ---------------------------------------------------------------------------------------

describe('Wal round trip', { timeout: TEST_TIMEOUT_MS }, () => {
  it('replays every entry (binary and empty payloads) and the last hard state across appends and syncs', async () => {
    await withTempDir(async (dir) => {
      const written: Entry[] = [
        entry(1, 1, []),
        entry(2, 1, [0, 255, 0, 128, 10, 13]),
        entry(3, 1, [], EntryKind.Noop),
        entry(4, 2, Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff)),
        entry(5, 2, [0]),
        entry(6, 3, []),
      ];
      const { wal, contents, warnings } = await open(dir);
      try {
        assertContents(contents, [], EMPTY_HARD_STATE);
        assert.deepEqual(warnings, []);
        await wal.append(written.slice(0, 2), hardState(1, 1, 0), true);
        await wal.append([written[2]!], undefined, false);
        await wal.append([], hardState(1, 1, 2), false);
        await wal.append([], undefined, true); // nothing to write: a no-op
        await wal.append(written.slice(3, 5), hardState(2, 3, 4), false);
        await wal.append([written[5]!], hardState(3, 0, 5), true);
      } finally {
        await wal.close();
      }
      await reopenAndExpect(dir, written, hardState(3, 0, 5));
      // Opening without appending changes nothing.
      await reopenAndExpect(dir, written, hardState(3, 0, 5));
      assert.deepEqual(await segments(dir), [segmentName(1)]);
    });
  });

  it('an entry at an existing index replaces it and everything after it', async () => {
    await withTempDir(async (dir) => {
      const old = [1, 2, 3, 4, 5].map((i) => entry(i, 1, [i, 1]));
      const newer = [entry(3, 2, [3, 2]), entry(4, 2, [4, 2])];
      const { wal } = await open(dir);
      try {
        await wal.append(old, hardState(1, 1, 2), true);
        await wal.append(newer, hardState(2, 2, 2), true);
      } finally {
        await wal.close();
      }
      await reopenAndExpect(dir, [old[0]!, old[1]!, ...newer], hardState(2, 2, 2));
    });
  });
});

describe('Wal torn tail', { timeout: TEST_TIMEOUT_MS }, () => {
  /**
   * Writes `history` into a fresh WAL, then for every length from the start of the
   * last record to its end - 1 replays a copy of the segment cut to that length: once
   * as a file that ends there, and once followed by zeros, as a preallocated segment
   * whose last write only partly reached the disk.
   */
  async function checkEveryCut(
    dir: string,
    history: (wal: Wal) => Promise<void>,
    lastRecord: (wal: Wal) => Promise<void>,
    prefix: { entries: Entry[]; hardState: HardState },
  ): Promise<void> {
    const source = path.join(dir, 'source');
    const { wal } = await open(source);
    let lastStart: number;
    try {
      await history(wal);
      lastStart = recordsEnd(await fsp.readFile(path.join(source, segmentName(1))));
      await lastRecord(wal);
    } finally {
      await wal.close();
    }
    const file1 = await fsp.readFile(path.join(source, segmentName(1)));
    const bytes = file1.subarray(0, recordsEnd(file1));
    assert.ok(isZero(file1, bytes.byteLength, file1.byteLength), 'the segment is zeros after its records');
    assert.ok(file1.byteLength > bytes.byteLength, 'the segment was preallocated');
    assert.ok(bytes.byteLength > lastStart);
    assert.ok('bytes' in decodeRecord(bytes, lastStart), 'lastStart is where the last record begins');

    const next = entry(prefix.entries.length + 1, 9, [0xde, 0xad, 0xbe, 0xef]);
    for (let cut = lastStart; cut < bytes.byteLength; cut += 1) {
      const trial = path.join(dir, `cut-${cut}`);
      const file = await writeSegment(trial, 1, bytes.subarray(0, cut));
      const { wal: recovered, contents, warnings } = await open(trial);
      try {
        assertContents(contents, prefix.entries, prefix.hardState);
        if (cut === lastStart) {
          assert.deepEqual(warnings, [], 'a file that ends on a record boundary is not torn');
        } else {
          assert.equal(warnings.length, 1, `cut at ${cut}: one warning`);
          assert.equal(warnings[0]!.fields.offset, lastStart, `cut at ${cut}: the warning names the record's offset`);
          assert.equal(warnings[0]!.fields.file, file);
          assert.equal(warnings[0]!.fields.droppedBytes, cut - lastStart);
        }
        assert.equal(await fileSize(file), lastStart, `cut at ${cut}: the file is truncated to the last good record`);
        await recovered.append([next], hardState(9, 1, 1), true);
      } finally {
        await recovered.close();
      }
      await reopenAndExpect(trial, [...prefix.entries, next], hardState(9, 1, 1));
      await fsp.rm(trial, { recursive: true, force: true });

      const zeroed = path.join(dir, `zeroed-${cut}`);
      const written = bytes.subarray(0, cut);
      const zeroedFile = await writeSegment(zeroed, 1, preallocated(written));
      const { wal: again, contents: replayed, warnings: seen } = await open(zeroed);
      try {
        assertContents(replayed, prefix.entries, prefix.hardState);
        // A cut that kept only zero bytes of the record (the top of its length) is
        // indistinguishable from preallocated space: nothing to warn about.
        const torn = !isZero(written, lastStart, cut);
        assert.equal(seen.length, torn ? 1 : 0, `zeroed cut at ${cut}: ${JSON.stringify(seen)}`);
        if (torn) assert.equal(seen[0]!.fields.offset, lastStart, `zeroed cut at ${cut}: the warning names the record's offset`);
        const after = await fsp.readFile(zeroedFile);
        assert.equal(after.byteLength, 4096, 'a preallocated segment keeps its length');
        assert.ok(isZero(after, lastStart, after.byteLength), `zeroed cut at ${cut}: zeros after the last good record`);
        await again.append([next], hardState(9, 1, 1), true);
      } finally {
        await again.close();
      }
      await reopenAndExpect(zeroed, [...prefix.entries, next], hardState(9, 1, 1));
      await fsp.rm(zeroed, { recursive: true, force: true });
    }
  }

  it('a last entry record cut at any byte is dropped with one warning, and appends continue', async () => {
    await withTempDir(async (dir) => {
      const e1 = entry(1, 1, []);
      const e2 = entry(2, 1, [0, 1, 255]);
      const e3 = entry(3, 2, [7, 7, 7]);
      const last = entry(4, 2, Array.from({ length: 40 }, (_, i) => 200 - i));
      await checkEveryCut(
        dir,
        async (wal) => {
          await wal.append([e1, e2], hardState(1, 1, 1), true);
          await wal.append([e3], hardState(2, 1, 2), false);
        },
        (wal) => wal.append([last], undefined, true),
        { entries: [e1, e2, e3], hardState: hardState(2, 1, 2) },
      );
    });
  });

  it('a last hard-state record cut at any byte is dropped: the previous hard state stands', async () => {
    await withTempDir(async (dir) => {
      const e1 = entry(1, 3, [1]);
      const e2 = entry(2, 3, []);
      await checkEveryCut(
        dir,
        (wal) => wal.append([e1, e2], hardState(3, 2, 1), true),
        (wal) => wal.append([], hardState(4, 0, 2), true),
        { entries: [e1, e2], hardState: hardState(3, 2, 1) },
      );
    });
  });

  it('a short write that failed leaves a torn tail that the next open cuts off', async () => {
    await withTempDir(async (dir) => {
      const faulty = new FaultyFileSystem();
      const e1 = entry(1, 1, [1, 2, 3]);
      const { wal } = await open(dir, {}, faulty);
      let tornStart: number;
      const torn = entry(2, 1, [9, 9, 9, 9]);
      try {
        await wal.append([e1], hardState(1, 1, 1), true);
        tornStart = recordsEnd(await fsp.readFile(path.join(dir, segmentName(1))));
        faulty.failWrite = true;
        faulty.shortWriteBytes = 12;
        await assert.rejects(wal.append([torn], hardState(1, 1, 2), true), isStorageError(faulty.injected[0]));
      } finally {
        await wal.close();
      }
      // The 12 bytes landed in the preallocated zeros; the rest of the record did not.
      const left = await fsp.readFile(path.join(dir, segmentName(1)));
      assert.deepEqual(left.subarray(tornStart, tornStart + 12), encodeEntryRecord(torn).subarray(0, 12));
      assert.ok(isZero(left, tornStart + 12, left.byteLength));
      const { wal: recovered, contents, warnings } = await open(dir);
      try {
        assertContents(contents, [e1], hardState(1, 1, 1));
        assert.equal(warnings.length, 1);
        assert.equal(warnings[0]!.fields.offset, tornStart);
      } finally {
        await recovered.close();
      }
    });
  });
});

describe('Wal corruption', { timeout: TEST_TIMEOUT_MS }, () => {
  /** Four entry records in one segment; returns the file bytes and each record's offset. */
  async function fourRecords(dir: string): Promise<{ bytes: Buffer; offsets: number[]; name: string }> {
    const entries = [entry(1, 1, [1, 1]), entry(2, 1, [2, 2, 2, 2]), entry(3, 1, [3]), entry(4, 1, [4, 4, 4])];
    const { wal } = await open(dir);
    try {
      for (const e of entries) await wal.append([e], undefined, true);
    } finally {
      await wal.close();
    }
    const bytes = await fsp.readFile(path.join(dir, segmentName(1)));
    const offsets: number[] = [];
    let offset = SEGMENT_MAGIC.byteLength;
    for (const e of entries) {
      offsets.push(offset);
      offset += encodeEntryRecord(e).byteLength;
    }
    assert.ok(isZero(bytes, offset, bytes.byteLength), 'preallocated zeros after the records');
    // The records alone: the trials below damage a file that ends with them.
    return { bytes: bytes.subarray(0, offset), offsets, name: segmentName(1) };
  }

  it('any flipped byte in a record before the last one stops open() with the file and the record offset', async () => {
    await withTempDir(async (dir) => {
      const { bytes, offsets, name } = await fourRecords(path.join(dir, 'source'));
      const start = offsets[1]!;
      const end = offsets[2]!;
      for (let at = start; at < end; at += 1) {
        const trial = path.join(dir, `flip-${at}`);
        const damaged = Buffer.from(bytes);
        damaged[at] = damaged[at]! ^ 0xff;
        const file = await writeSegment(trial, 1, damaged);
        await expectCorrupt(Wal.open(new NodeFileSystem(), trial), file, start);
        assert.deepEqual(await fsp.readFile(file), damaged, 'a refused open leaves the file as it was');
        assert.deepEqual(await segments(trial), [name], 'a refused open creates no segment');
      }
    });
  });

  it('a damaged length that makes a middle record run past the end of the file is corruption, not a torn tail', async () => {
    await withTempDir(async (dir) => {
      const { bytes, offsets } = await fourRecords(path.join(dir, 'source'));
      const start = offsets[1]!;
      const damaged = Buffer.from(bytes);
      damaged[start + 1] = damaged[start + 1]! ^ 0x01; // length += 65536
      const problem = decodeRecord(damaged, start);
      assert.ok(!('bytes' in problem) && problem.kind === 'torn', 'the damaged record looks torn on its own');
      const trial = path.join(dir, 'trial');
      const file = await writeSegment(trial, 1, damaged);
      const warnings: Warning[] = [];
      await expectCorrupt(
        Wal.open(new NodeFileSystem(), trial, { onWarning: (fields, message) => warnings.push({ fields, message }) }),
        file,
        start,
      );
      assert.deepEqual(warnings, []);
      assert.equal(await fileSize(file), damaged.byteLength, 'nothing was truncated');
    });
  });

  it('a damaged length that reaches past later records into preallocated zeros is corruption, not a torn tail', async () => {
    await withTempDir(async (dir) => {
      const { bytes, offsets } = await fourRecords(path.join(dir, 'source'));
      const start = offsets[1]!;
      const damaged = preallocated(bytes, 128 * 1024);
      damaged[start + 1] = damaged[start + 1]! ^ 0x01; // length += 65536: it now ends in the zeros
      const trial = path.join(dir, 'trial');
      const file = await writeSegment(trial, 1, damaged);
      const warnings: Warning[] = [];
      await expectCorrupt(Wal.open(new NodeFileSystem(), trial, { onWarning: (fields, message) => warnings.push({ fields, message }) }), file, start);
      assert.deepEqual(warnings, []);
      assert.deepEqual(await fsp.readFile(file), damaged, 'nothing was cut or zeroed');
    });
  });

  // A complete last record that fails its checksum is NOT a torn write (record.ts only
  // calls a record 'torn' when it runs past the end of the file): it may be an entry
  // that was fsynced and acknowledged, so dropping it could lose a committed write.
  // The safe answer is to refuse to start, with the file and offset, and that is what
  // the WAL does.
  it('a flipped byte in the payload of a complete last record stops open(): it may have been acknowledged', async () => {
    await withTempDir(async (dir) => {
      const { bytes, offsets } = await fourRecords(path.join(dir, 'source'));
      const lastStart = offsets[3]!;
      // The payload's first and last bytes, one in the middle, and the type trailer;
      // each in a file that ends with the record and in a preallocated one.
      for (const [at, zeros] of [lastStart + 8, lastStart + 20, bytes.byteLength - 2, bytes.byteLength - 1].flatMap((at) => [[at, false], [at, true]] as const)) {
        const trial = path.join(dir, `flip-${at}-${zeros}`);
        const damaged = Buffer.from(bytes);
        damaged[at] = damaged[at]! ^ 0x01;
        const file = await writeSegment(trial, 1, zeros ? preallocated(damaged) : damaged);
        const warnings: Warning[] = [];
        await expectCorrupt(
          Wal.open(new NodeFileSystem(), trial, { onWarning: (fields, message) => warnings.push({ fields, message }) }),
          file,
          lastStart,
          /checksum/,
        );
        assert.deepEqual(warnings, []);
        assert.equal(await fileSize(file), zeros ? 4096 : damaged.byteLength, 'the record was not cut off');
      }
    });
  });

  it('a torn-looking record at the end of a segment that is not the last is corruption', async () => {
    await withTempDir(async (dir) => {
      const e1 = entry(1, 1, [1, 2, 3, 4]);
      const e2 = entry(2, 1, [5, 6]);
      const record1 = encodeEntryRecord(e1);
      const file1 = await writeSegment(dir, 1, SEGMENT_MAGIC, record1.subarray(0, record1.byteLength - 1));
      await writeSegment(dir, 2, SEGMENT_MAGIC, encodeEntryRecord(e2));
      await expectCorrupt(Wal.open(new NodeFileSystem(), dir), file1, SEGMENT_MAGIC.byteLength);
    });
  });

  it('an entry that skips an index is a gap: open() names the file, the offset and the gap', async () => {
    await withTempDir(async (dir) => {
      const record1 = encodeEntryRecord(entry(1, 1));
      const file = await writeSegment(dir, 1, SEGMENT_MAGIC, record1, encodeEntryRecord(entry(3, 1)));
      await expectCorrupt(Wal.open(new NodeFileSystem(), dir), file, SEGMENT_MAGIC.byteLength + record1.byteLength, /gap/);
    });
    await withTempDir(async (dir) => {
      const file = await writeSegment(dir, 1, SEGMENT_MAGIC, encodeEntryRecord(entry(2, 1)));
      await expectCorrupt(Wal.open(new NodeFileSystem(), dir), file, SEGMENT_MAGIC.byteLength, /gap/);
    });
  });

  it('a hard state whose commit index is past the last entry stops open(), and leaves no file open', async () => {
    await withTempDir(async (dir) => {
      await writeSegment(dir, 1, SEGMENT_MAGIC, encodeEntryRecord(entry(1, 1)), encodeEntryRecord(entry(2, 1)), encodeHardStateRecord(hardState(1, 1, 3)));
      const faulty = new FaultyFileSystem();
      await expectCorrupt(Wal.open(faulty, dir), dir, undefined, /commit index 3\b/);
      assert.equal(faulty.openHandles, 0, 'the refused open closed what it opened');
      assert.deepEqual(await segments(dir), [segmentName(1)]);
    });
    await withTempDir(async (dir) => {
      // The same, with the commit landing in an otherwise empty (partial-header) last segment.
      await writeSegment(dir, 1, SEGMENT_MAGIC, encodeEntryRecord(entry(1, 1)), encodeHardStateRecord(hardState(1, 1, 2)));
      await writeSegment(dir, 2, SEGMENT_MAGIC.subarray(0, 4));
      const faulty = new FaultyFileSystem();
      await expectCorrupt(Wal.open(faulty, dir), dir, undefined, /commit index 2\b/);
      assert.equal(faulty.openHandles, 0, 'the refused open closed what it opened');
      assert.deepEqual(await segments(dir), [segmentName(1), segmentName(2)], 'a refused open neither removes nor starts a segment');
      assert.equal(await fileSize(path.join(dir, segmentName(2))), 4);
    });
    await withTempDir(async (dir) => {
      // Commit equal to the number of entries is fine.
      await writeSegment(dir, 1, SEGMENT_MAGIC, encodeEntryRecord(entry(1, 1)), encodeHardStateRecord(hardState(1, 1, 1)));
      await reopenAndExpect(dir, [entry(1, 1)], hardState(1, 1, 1));
    });
  });
});

describe('Wal segment headers', { timeout: TEST_TIMEOUT_MS }, () => {
  it('an empty last segment (the only one) is removed with a warning; the WAL opens empty and appends work', async () => {
    await withTempDir(async (dir) => {
      const file = await writeSegment(dir, 1);
      const { wal, contents, warnings } = await open(dir);
      const e1 = entry(1, 1, [42]);
      try {
        assertContents(contents, [], EMPTY_HARD_STATE);
        assert.equal(warnings.length, 1);
        assert.equal(warnings[0]!.fields.file, file);
        assert.equal(warnings[0]!.fields.bytes, 0);
        await wal.append([e1], hardState(1, 1, 1), true);
      } finally {
        await wal.close();
      }
      assert.deepEqual(await segments(dir), [segmentName(1)]);
      await reopenAndExpect(dir, [e1], hardState(1, 1, 1));
    });
  });

  it('a last segment with a partial header after a full one is removed with a warning; earlier data survives', async () => {
    await withTempDir(async (dir) => {
      // As earlier releases left it: they created a segment in place, and a crash could
      // leave it without its header. A segment is now complete before it is named.
      const first = [entry(1, 1, [1]), entry(2, 1, [2])];
      await writeSegment(dir, 1, SEGMENT_MAGIC, ...first.map((e) => encodeEntryRecord(e)), encodeHardStateRecord(hardState(1, 1, 2)));
      const file = await writeSegment(dir, 2, SEGMENT_MAGIC.subarray(0, 3));
      const third = entry(3, 2, [3]);
      const { wal: reopened, contents, warnings } = await open(dir);
      try {
        assertContents(contents, first, hardState(1, 1, 2));
        assert.equal(warnings.length, 1);
        assert.equal(warnings[0]!.fields.file, file);
        assert.equal(warnings[0]!.fields.bytes, 3);
        await reopened.append([third], hardState(2, 2, 3), true);
      } finally {
        await reopened.close();
      }
      await expectSecondSegmentAndReplay(dir, [...first, third], hardState(2, 2, 3));
    });
  });

  it('a wrong magic is corruption, in the last segment or an earlier one', async () => {
    await withTempDir(async (dir) => {
      const file = await writeSegment(dir, 1, Buffer.from('RAFTWAL9', 'ascii'), encodeEntryRecord(entry(1, 1)));
      await expectCorrupt(Wal.open(new NodeFileSystem(), dir), file, 0);
    });
    await withTempDir(async (dir) => {
      // Too short to hold the magic, and not a prefix of it: not an interrupted create.
      const file = await writeSegment(dir, 1, Buffer.from('RXF', 'ascii'));
      await expectCorrupt(Wal.open(new NodeFileSystem(), dir), file, 0);
      assert.deepEqual(await segments(dir), [segmentName(1)], 'not removed');
    });
    await withTempDir(async (dir) => {
      const file = await writeSegment(dir, 1, Buffer.from('XAFTWAL1', 'ascii'), encodeEntryRecord(entry(1, 1)));
      await writeSegment(dir, 2, SEGMENT_MAGIC, encodeEntryRecord(entry(2, 1)));
      await expectCorrupt(Wal.open(new NodeFileSystem(), dir), file, 0);
    });
  });

  it('an empty or partial header on a segment that is not the last is corruption, not removed', async () => {
    for (const header of [Buffer.alloc(0), SEGMENT_MAGIC.subarray(0, 3)]) {
      await withTempDir(async (dir) => {
        const file = await writeSegment(dir, 1, header);
        await writeSegment(dir, 2, SEGMENT_MAGIC, encodeEntryRecord(entry(1, 1)));
        const warnings: Warning[] = [];
        await expectCorrupt(
          Wal.open(new NodeFileSystem(), dir, { onWarning: (fields, message) => warnings.push({ fields, message }) }),
          file,
          0,
        );
        assert.deepEqual(warnings, []);
        assert.deepEqual(await segments(dir), [segmentName(1), segmentName(2)]);
      });
    }
  });
});

describe('Wal segment rollover', { timeout: TEST_TIMEOUT_MS }, () => {
  it('small segments: many files, replayed in order, and numbering continues after a reopen', async () => {
    await withTempDir(async (dir) => {
      const options = { segmentBytesMax: 200 };
      const written: Entry[] = [];
      const { wal } = await open(dir, options);
      try {
        for (let i = 1; i <= 40; i += 1) {
          const e = entry(i, 1 + Math.floor(i / 10), Array.from({ length: i % 25 }, (_, j) => (i + j) & 0xff));
          written.push(e);
          await wal.append([e], hardState(1 + Math.floor(i / 10), 1, i - 1), i % 2 === 0);
        }
      } finally {
        await wal.close();
      }
      const before = await segments(dir);
      assert.ok(before.length >= 5, `expected several segments, got ${before.length}`);
      assert.deepEqual(before, before.map((_, i) => segmentName(i + 1)), 'segments are numbered 1..n');
      for (const name of before) {
        assert.deepEqual((await fsp.readFile(path.join(dir, name))).subarray(0, 8), SEGMENT_MAGIC);
      }
      await reopenAndExpect(dir, written, hardState(5, 1, 39));

      const { wal: reopened, contents } = await open(dir, options);
      try {
        assert.equal(contents.entries.length, 40);
        for (let i = 41; i <= 60; i += 1) {
          const e = entry(i, 7, [i]);
          written.push(e);
          await reopened.append([e], hardState(7, 2, i), true);
        }
      } finally {
        await reopened.close();
      }
      const after = await segments(dir);
      assert.ok(after.length > before.length);
      assert.deepEqual(after, after.map((_, i) => segmentName(i + 1)));
      await reopenAndExpect(dir, written, hardState(7, 2, 60));
    });
  });

  it('a segment is fsynced after its last write before the WAL moves on, even when no append asked for sync', async () => {
    await withTempDir(async (dir) => {
      const faulty = new FaultyFileSystem();
      const { wal } = await open(dir, { segmentBytesMax: 100 }, faulty);
      try {
        for (let i = 1; i <= 12; i += 1) await wal.append([entry(i, 1, [1, 2, 3, 4, 5, 6, 7, 8])], undefined, false);
      } finally {
        await wal.close();
      }
      const names = await segments(dir);
      assert.ok(names.length >= 3);
      for (const name of names.slice(0, -1)) {
        const ops = faulty.events.filter((event) => event.file === name).map((event) => event.op);
        const lastWrite = ops.lastIndexOf('write');
        const close = ops.indexOf('close');
        assert.ok(lastWrite >= 0 && close > lastWrite, `${name}: written, then closed`);
        assert.ok(ops.slice(lastWrite, close).includes('sync'), `${name}: fsynced between its last write and close (${ops.join(',')})`);
      }
    });
  });

  it('a replacement in a later segment truncates entries recorded in earlier segments', async () => {
    await withTempDir(async (dir) => {
      const old = Array.from({ length: 12 }, (_, i) => entry(i + 1, 1, [i, i, i, i, i, i, i, i]));
      const replacement = entry(4, 2, [0xaa]);
      const { wal } = await open(dir, { segmentBytesMax: 120 });
      try {
        for (const e of old) await wal.append([e], undefined, false);
        await wal.append([replacement], hardState(2, 2, 3), true);
      } finally {
        await wal.close();
      }
      assert.ok((await segments(dir)).length >= 3);
      await reopenAndExpect(dir, [...old.slice(0, 3), replacement], hardState(2, 2, 3));
    });
  });
});

describe('Wal preallocated segments', { timeout: TEST_TIMEOUT_MS }, () => {
  it('a new segment is zeros after its header; records go in place; a closed segment is cut to its records', async () => {
    await withTempDir(async (dir) => {
      const options = { segmentBytesMax: 4096 };
      const written = Array.from({ length: 60 }, (_, i) => entry(i + 1, 1, Array.from({ length: 100 }, () => i + 1)));
      const { wal } = await open(dir, options);
      try {
        const fresh = await fsp.readFile(path.join(dir, segmentName(1)));
        assert.equal(fresh.byteLength, 4096, 'preallocated to segmentBytesMax (below the usual minimum)');
        assert.deepEqual(fresh.subarray(0, 8), SEGMENT_MAGIC);
        assert.ok(isZero(fresh, 8, fresh.byteLength));
        for (const e of written) await wal.append([e], hardState(1, 1, e.index - 1), e.index % 7 === 0);
        assert.equal(wal.diskBytes(), (await Promise.all((await segments(dir)).map((name) => fileSize(path.join(dir, name))))).reduce((a, b) => a + b));
      } finally {
        await wal.close();
      }
      const names = await segments(dir);
      assert.ok(names.length >= 3, `several segments (${names.length})`);
      for (const name of names.slice(0, -1)) {
        const bytes = await fsp.readFile(path.join(dir, name));
        assert.equal(recordsEnd(bytes), bytes.byteLength, `${name} ends with its records`);
      }
      const last = await fsp.readFile(path.join(dir, names[names.length - 1]!));
      assert.equal(last.byteLength, 4096, 'the active segment keeps its preallocated length');
      assert.ok(isZero(last, recordsEnd(last), last.byteLength));
      await reopenAndExpect(dir, written, hardState(1, 1, 59));
      assert.ok(!(await fsp.readdir(dir)).includes('next-segment.tmp'), 'open removed a prepared segment left over');
    });
  });

  it('with preallocate off, every segment is exactly its records', async () => {
    await withTempDir(async (dir) => {
      const options = { segmentBytesMax: 1000, preallocate: false };
      const written = Array.from({ length: 30 }, (_, i) => entry(i + 1, 1, Array.from({ length: 90 }, () => i)));
      const { wal } = await open(dir, options);
      try {
        for (const e of written) await wal.append([e], undefined, e.index % 4 === 0);
      } finally {
        await wal.close();
      }
      const names = await segments(dir);
      assert.ok(names.length >= 3);
      for (const name of names) {
        const bytes = await fsp.readFile(path.join(dir, name));
        assert.equal(recordsEnd(bytes), bytes.byteLength, `${name} holds its records and nothing after`);
      }
      await reopenAndExpect(dir, written, EMPTY_HARD_STATE);
    });
  });

  it('unsynced writes a crash kept after the end of the log are zeroed, never replayed', async () => {
    await withTempDir(async (dir) => {
      const kept = [entry(1, 1, [1]), entry(2, 1, [2])];
      const later = encodeEntryRecord(entry(4, 1, [4])); // an intact record of a write after a lost one
      const file = await writeSegment(dir, 1, preallocated(Buffer.concat([SEGMENT_MAGIC, ...kept.map((e) => encodeEntryRecord(e)), Buffer.alloc(40), later])));
      const recordsAt = SEGMENT_MAGIC.byteLength + kept.reduce((sum, e) => sum + encodeEntryRecord(e).byteLength, 0);
      const { wal, contents, warnings } = await open(dir);
      const next = entry(3, 2, [3, 3]);
      try {
        assertContents(contents, kept, EMPTY_HARD_STATE);
        assert.equal(warnings.length, 1);
        assert.equal(warnings[0]!.fields.offset, recordsAt);
        assert.equal(warnings[0]!.fields.droppedBytes, 40 + later.byteLength);
        assert.ok(isZero(await fsp.readFile(file), recordsAt, 4096), 'the stale record is gone from the segment');
        assert.equal(warnings[0]!.fields.copy, `${file}.cut-${recordsAt}`);
        assert.deepEqual(await fsp.readFile(`${file}.cut-${recordsAt}`), Buffer.concat([Buffer.alloc(40), later]), 'and kept beside it');
        await wal.append([next], hardState(2, 2, 3), true);
      } finally {
        await wal.close();
      }
      await reopenAndExpect(dir, [...kept, next], hardState(2, 2, 3));
    });
  });

  it('a record with a zero sector is torn even with intact records after it; in a closed segment it is corruption', async () => {
    const first = entry(1, 1, [1, 2, 3]);
    const big = entry(2, 1, Array.from({ length: 1500 }, (_, i) => 1 + (i % 250)));
    const after = entry(3, 1, [7]);
    const head = Buffer.concat([SEGMENT_MAGIC, encodeEntryRecord(first)]);
    const damaged = Buffer.concat([head, encodeEntryRecord(big), encodeEntryRecord(after)]);
    damaged.fill(0, 1024, 1536); // the second whole sector of `big` never reached the disk
    await withTempDir(async (dir) => {
      await writeSegment(dir, 1, preallocated(damaged));
      const { wal, contents, warnings } = await open(dir);
      try {
        assertContents(contents, [first], EMPTY_HARD_STATE);
        assert.equal(warnings.length, 1);
        assert.equal(warnings[0]!.fields.offset, head.byteLength);
        assert.match(warnings[0]!.message, /torn record/);
      } finally {
        await wal.close();
      }
    });
    await withTempDir(async (dir) => {
      const file = await writeSegment(dir, 1, damaged);
      await writeSegment(dir, 2, SEGMENT_MAGIC, encodeEntryRecord(entry(4, 1)));
      await expectCorrupt(Wal.open(new NodeFileSystem(), dir), file, head.byteLength);
    });
    await withTempDir(async (dir) => {
      // Zeros where a record should start are corruption too, except in the last segment.
      const file = await writeSegment(dir, 1, preallocated(head, 2048));
      await writeSegment(dir, 2, SEGMENT_MAGIC, encodeEntryRecord(entry(2, 1)));
      await expectCorrupt(Wal.open(new NodeFileSystem(), dir), file, head.byteLength);
    });
  });

  it('a format-1 segment from an earlier release replays; appends go to a new format-2 segment', async () => {
    await withTempDir(async (dir) => {
      const old = [entry(1, 1, [1]), entry(2, 1, [2, 2])];
      await writeSegment(dir, 1, SEGMENT_MAGIC_V1, ...old.map((e) => encodeEntryRecord(e, 1)), encodeHardStateRecord(hardState(1, 1, 2), 1));
      const { wal, contents, warnings } = await open(dir);
      const next = entry(3, 2, [3]);
      try {
        assertContents(contents, old, hardState(1, 1, 2));
        assert.deepEqual(warnings, []);
        await wal.append([next], hardState(2, 1, 3), true);
      } finally {
        await wal.close();
      }
      await expectSecondSegmentAndReplay(dir, [...old, next], hardState(2, 1, 3));
    });
  });
});

describe('Wal storage failures', { timeout: TEST_TIMEOUT_MS }, () => {
  it('a failed fsync rejects append() with StorageError, and every later append() rejects too', async () => {
    await withTempDir(async (dir) => {
      const faulty = new FaultyFileSystem();
      const e1 = entry(1, 1, [1]);
      const { wal } = await open(dir, {}, faulty);
      try {
        await wal.append([e1], hardState(1, 1, 0), true);
        faulty.failSync = true;
        await assert.rejects(wal.append([entry(2, 1, [2])], hardState(1, 1, 1), true), isStorageError(faulty.injected[0]));
        assert.equal(faulty.injected.length, 1);
        faulty.failSync = false; // the disk "recovers": the WAL must still refuse
        await assert.rejects(wal.append([entry(3, 1, [3])], undefined, true), isStorageError(faulty.injected[0]));
        await assert.rejects(wal.append([entry(3, 1, [3])], hardState(1, 1, 1), false), isStorageError(faulty.injected[0]));
        await assert.rejects(wal.append([], hardState(2, 0, 1), false), isStorageError(faulty.injected[0]));
        await assert.rejects(wal.append([], undefined, false), isStorageError(faulty.injected[0]));
        assert.equal(faulty.injected.length, 1, 'later appends did not even try the disk');
      } finally {
        await wal.close();
      }
      // What was acknowledged before the failure is still there.
      const { wal: reopened, contents } = await open(dir);
      try {
        assert.deepEqual(plain(contents.entries.slice(0, 1)), plain([e1]));
      } finally {
        await reopened.close();
      }
    });
  });

  it('a failed write rejects append() (even without sync), and every later append() rejects too', async () => {
    await withTempDir(async (dir) => {
      const faulty = new FaultyFileSystem();
      const { wal } = await open(dir, {}, faulty);
      try {
        await wal.append([entry(1, 1)], undefined, false);
        faulty.failWrite = true;
        await assert.rejects(wal.append([entry(2, 1)], undefined, false), isStorageError(faulty.injected[0]));
        faulty.failWrite = false;
        await assert.rejects(wal.append([entry(3, 1)], undefined, true), isStorageError(faulty.injected[0]));
        await assert.rejects(wal.append([entry(2, 1)], hardState(1, 1, 1), false), isStorageError(faulty.injected[0]));
        assert.equal(faulty.injected.length, 1);
      } finally {
        await wal.close();
      }
    });
  });

  it('a failed fsync while rolling over to a new segment rejects an unsynced append, and sticks', async () => {
    await withTempDir(async (dir) => {
      const faulty = new FaultyFileSystem();
      const { wal } = await open(dir, { segmentBytesMax: 50 }, faulty);
      try {
        await wal.append([entry(1, 1, Array.from({ length: 60 }, () => 1))], undefined, false);
        faulty.failSync = true;
        // The next segment may be being prepared in the background: its fsync can fail too.
        let failure: unknown;
        await assert.rejects(wal.append([entry(2, 1)], undefined, false), (err: unknown) => {
          failure = err;
          return isStorageError(undefined)(err) && faulty.injected.includes((err as Error).cause as Error);
        });
        faulty.failSync = false;
        const injected = faulty.injected.length;
        await assert.rejects(wal.append([entry(2, 1)], undefined, false), (err: unknown) => err === failure);
        assert.equal(faulty.injected.length, injected, 'the later append did not even try the disk');
      } finally {
        await wal.close();
      }
    });
  });
});
