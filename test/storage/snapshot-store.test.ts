/**
 * Snapshot files and the snapshot store. It proves:
 * - what save() writes is what loadNewest() and readSnapshotFile() read back (meta,
 *   configuration, data from sync or lazily produced async chunks, small or past the
 *   write-gathering size), under `<term 16 hex>-<index 16 hex>.snap`;
 * - only the `retain` newest snapshots are kept, and an older save is refused;
 * - every truncation and every flipped byte of a file is CorruptSnapshotError with
 *   the file and the offset of the part that fails;
 * - a corrupt newest snapshot stops loadNewest() with that error unless the WAL covers
 *   everything after the next older valid one; then it warns, renames it aside and
 *   falls back;
 * - a crash at every step of a save, on the simulator's disk (writes pending until
 *   fsync, directory changes undone unless the directory was synced), leaves either
 *   the old or the new snapshot, whole, and never a corrupt one; once the directory
 *   fsync after the rename completed, the new one always;
 * - a chunk source that fails leaves no temp file and the previous snapshot intact.
 */
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

import { CorruptSnapshotError, InvariantError, StorageError } from '../../src/errors.js';
import type { FileSystem } from '../../src/storage/file-system.js';
import { NodeFileSystem } from '../../src/storage/file-system.js';
import type { LoadedSnapshot, SnapshotMeta } from '../../src/storage/snapshot-store.js';
import { SnapshotStore, readSnapshotFile, snapshotFileName, writeSnapshotFile } from '../../src/storage/snapshot-store.js';
import { CrashDisk, CrashedError } from './crash-disk.js';

const TEST_TIMEOUT_MS = 60_000;

interface Warning {
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

function meta(index: number, term: number, voters: number[] = [1, 2, 3], learners: number[] = []): SnapshotMeta {
  return { index, term, config: { voters, learners } };
}

/** Deterministic bytes that differ per snapshot. */
function payload(bytes: number, salt: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 1) out[i] = (i * 31 + salt * 7 + (i >> 8)) & 0xff;
  return out;
}

function* chunksOf(data: Uint8Array, size: number): Generator<Uint8Array> {
  for (let offset = 0; offset < data.byteLength; offset += size) yield data.subarray(offset, offset + size);
}

/** Chunks produced lazily, with real awaits between them (a background serializer). */
async function* lazyChunks(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (const chunk of chunksOf(data, size)) {
    await new Promise((resolve) => setImmediate(resolve));
    yield chunk;
  }
}

function assertLoaded(loaded: LoadedSnapshot | undefined, expected: SnapshotMeta, data: Uint8Array): void {
  assert.ok(loaded !== undefined, 'a snapshot was loaded');
  assert.deepEqual(
    { index: loaded.meta.index, term: loaded.meta.term, voters: [...loaded.meta.config.voters], learners: [...loaded.meta.config.learners] },
    { index: expected.index, term: expected.term, voters: [...expected.config.voters], learners: [...expected.config.learners] },
  );
  assert.equal(Buffer.from(loaded.data).compare(Buffer.from(data)), 0, 'data round-trips');
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'raft-snap-test-'));
  try {
    await fn(dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

async function openStore(fs: FileSystem, dir: string, retain?: number) {
  const warnings: Warning[] = [];
  const store = await SnapshotStore.open(fs, dir, { onWarning: (fields, message) => warnings.push({ fields, message }), ...(retain === undefined ? {} : { retain }) });
  return { store, warnings };
}

async function expectCorrupt(promise: Promise<unknown>, file: string, offset?: number): Promise<CorruptSnapshotError> {
  let caught: CorruptSnapshotError | undefined;
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof CorruptSnapshotError, `expected CorruptSnapshotError, got ${String(err)}`);
    assert.equal(err.code, 'RAFT_CORRUPT_SNAPSHOT');
    assert.equal(err.file, file);
    assert.ok(err.message.includes(file), `message names the file: ${err.message}`);
    assert.match(err.message, new RegExp(`\\boffset ${err.offset}\\b`));
    if (offset !== undefined) assert.equal(err.offset, offset);
    caught = err;
    return true;
  });
  return caught!;
}

const never = (): boolean => false;

describe('snapshot files', { timeout: TEST_TIMEOUT_MS }, () => {
  it('save and loadNewest round-trip meta, configuration and data, from sync and lazy async chunks', async () => {
    await withTempDir(async (dir) => {
      const fs = new NodeFileSystem();
      const { store, warnings } = await openStore(fs, dir);
      assert.equal(store.newestIndex(), 0);
      assert.equal(await store.loadNewest(never), undefined, 'an empty store has no snapshot');

      const small = payload(1000, 1);
      const first = await store.save(meta(100, 2, [1, 2, 3], [4]), chunksOf(small, 7));
      assert.equal(path.basename(first.file), '0000000000000002-0000000000000064.snap');
      assert.equal(first.bytes, (await fsp.stat(first.file)).size, 'bytes is the file size');
      assert.equal(store.newestIndex(), 100);

      // Past the 1 MiB write-gathering size, in uneven chunks, produced lazily.
      const large = payload(3 * 1024 * 1024 + 123, 2);
      const second = await store.save(meta(250, 3, [1, 2, 5]), lazyChunks(large, 300_001));
      assert.equal(store.newestIndex(), 250);
      assert.deepEqual((await fsp.readdir(dir)).sort(), [path.basename(first.file), path.basename(second.file)]);

      const { store: reopened, warnings: reopenWarnings } = await openStore(fs, dir);
      assert.equal(reopened.newestIndex(), 250);
      const loaded = await reopened.loadNewest(() => assert.fail('walCovers is only asked about a corrupt snapshot'));
      assertLoaded(loaded, meta(250, 3, [1, 2, 5]), large);
      assert.equal(loaded!.file, second.file);
      assert.equal(loaded!.bytes, second.bytes);
      assertLoaded(await readSnapshotFile(fs, first.file), meta(100, 2, [1, 2, 3], [4]), small);

      // An empty state machine is a valid snapshot too.
      const empty = await reopened.save(meta(251, 3), []);
      assertLoaded(await readSnapshotFile(fs, empty.file), meta(251, 3), new Uint8Array(0));
      assert.deepEqual(warnings, []);
      assert.deepEqual(reopenWarnings, []);
    });
  });

  it('keeps only the two newest by default, or `retain`, and refuses to save an older one', async () => {
    await withTempDir(async (dir) => {
      const fs = new NodeFileSystem();
      const { store } = await openStore(fs, dir);
      for (const index of [10, 20, 30, 40]) await store.save(meta(index, 1), [payload(50, index)]);
      assert.deepEqual((await fsp.readdir(dir)).sort(), [snapshotFileName({ index: 30, term: 1 }), snapshotFileName({ index: 40, term: 1 })]);
      assert.deepEqual(store.files(), [30, 40].map((index) => path.join(dir, snapshotFileName({ index, term: 1 }))));
      assertLoaded(await store.loadNewest(never), meta(40, 1), payload(50, 40));

      await assert.rejects(store.save(meta(35, 1), [payload(5, 1)]), InvariantError);
      // Saving the same index again replaces it.
      await store.save(meta(40, 1), [payload(60, 99)]);
      assertLoaded(await store.loadNewest(never), meta(40, 1), payload(60, 99));
      assert.equal((await fsp.readdir(dir)).length, 2);

      const { store: three } = await openStore(fs, dir, 3);
      for (const index of [50, 60]) await three.save(meta(index, 2), [payload(10, index)]);
      assert.deepEqual(three.files().map((file) => path.basename(file)), [40, 50, 60].map((index) => snapshotFileName({ index, term: index >= 50 ? 2 : 1 })));
    });
  });

  it('every truncation and every flipped byte is CorruptSnapshotError with the file and the offset of the damaged part', async () => {
    await withTempDir(async (dir) => {
      const fs = new NodeFileSystem();
      const source = path.join(dir, 'backup.snap');
      const data = payload(40, 5);
      const { bytes } = await writeSnapshotFile(fs, source, meta(77, 4, [1, 2], [3]), chunksOf(data, 9));
      const good = await fsp.readFile(source);
      assert.equal(good.byteLength, bytes);
      assertLoaded(await readSnapshotFile(fs, source), meta(77, 4, [1, 2], [3]), data);
      const footerStart = good.byteLength - 24;
      const dataStart = footerStart - data.byteLength;
      const trial = path.join(dir, 'trial.snap');

      for (let cut = 0; cut < good.byteLength; cut += 1) {
        await fsp.writeFile(trial, good.subarray(0, cut));
        await expectCorrupt(readSnapshotFile(fs, trial), trial);
      }
      for (let at = 0; at < good.byteLength; at += 1) {
        const damaged = Buffer.from(good);
        damaged[at] = damaged[at]! ^ 0x10;
        await fsp.writeFile(trial, damaged);
        const err = await expectCorrupt(readSnapshotFile(fs, trial), trial);
        if (at >= footerStart) assert.equal(err.offset, footerStart, `flip at ${at}: the footer`);
        else if (at >= dataStart) assert.equal(err.offset, dataStart, `flip at ${at}: the data`);
        else assert.ok(err.offset < dataStart, `flip at ${at}: the header (offset ${err.offset})`);
      }
    });
  });

  it('writeSnapshotFile replaces an existing file at an explicit path and leaves no temp file', async () => {
    await withTempDir(async (dir) => {
      const fs = new NodeFileSystem();
      const file = path.join(dir, 'backup.snap');
      await writeSnapshotFile(fs, file, meta(1, 1), [payload(10, 1)]);
      await writeSnapshotFile(fs, file, meta(9, 2), lazyChunks(payload(100, 2), 33));
      assertLoaded(await readSnapshotFile(fs, file), meta(9, 2), payload(100, 2));
      assert.deepEqual(await fsp.readdir(dir), ['backup.snap']);
    });
  });

  it('a chunk source that fails rejects with its error, leaves no temp file, and the previous snapshot stands', async () => {
    await withTempDir(async (dir) => {
      const fs = new NodeFileSystem();
      const { store } = await openStore(fs, dir);
      await store.save(meta(10, 1), [payload(10, 1)]);
      const boom = new Error('serializer failed');
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield payload(10, 2);
        await new Promise((resolve) => setImmediate(resolve));
        throw boom;
      }
      await assert.rejects(store.save(meta(20, 1), failing()), (err) => err === boom);
      assert.deepEqual(await fsp.readdir(dir), [snapshotFileName({ index: 10, term: 1 })]);
      assert.equal(store.newestIndex(), 10);
      assertLoaded(await store.loadNewest(never), meta(10, 1), payload(10, 1));
      // The store still works afterwards.
      await store.save(meta(20, 1), [payload(10, 3)]);
      assert.equal(store.newestIndex(), 20);
    });
  });

  it('a disk failure during a save is StorageError', async () => {
    await withTempDir(async (dir) => {
      const inner = new NodeFileSystem();
      const failing: FileSystem = {
        mkdirp: (d) => inner.mkdirp(d),
        list: (d) => inner.list(d),
        readFile: (f) => inner.readFile(f),
        openAppend: (f) => inner.openAppend(f),
        openWrite: (f) => inner.openWrite(f),
        truncate: (f, b) => inner.truncate(f, b),
        remove: (f) => inner.remove(f),
        rename: () => Promise.reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })),
        syncDir: (d) => inner.syncDir(d),
      };
      const { store } = await openStore(failing, dir);
      await assert.rejects(store.save(meta(5, 1), [payload(5, 5)]), StorageError);
      assert.deepEqual(await fsp.readdir(dir), [], 'the temp file was removed');
    });
  });
});

describe('a corrupt newest snapshot', { timeout: TEST_TIMEOUT_MS }, () => {
  /** Two snapshots (100 and 200); returns the newest file after flipping a byte of its data. */
  async function twoWithNewestCorrupt(fs: FileSystem, dir: string): Promise<{ newest: string; older: string; dataOffset: number }> {
    const { store } = await openStore(fs, dir);
    const older = await store.save(meta(100, 1), [payload(64, 1)]);
    const newest = await store.save(meta(200, 2), [payload(64, 2)]);
    const bytes = await fsp.readFile(newest.file);
    const dataOffset = bytes.byteLength - 24 - 64;
    bytes[dataOffset + 10] = bytes[dataOffset + 10]! ^ 0xff;
    await fsp.writeFile(newest.file, bytes);
    return { newest: newest.file, older: older.file, dataOffset };
  }

  it('stops loadNewest with the file and the offset when the WAL does not cover the fallback', async () => {
    await withTempDir(async (dir) => {
      const fs = new NodeFileSystem();
      const { newest, dataOffset } = await twoWithNewestCorrupt(fs, dir);
      const { store, warnings } = await openStore(fs, dir);
      const asked: number[] = [];
      await expectCorrupt(
        store.loadNewest((from) => {
          asked.push(from);
          return false;
        }),
        newest,
        dataOffset,
      );
      assert.deepEqual(asked, [101], 'asked whether the WAL holds everything after the older snapshot');
      assert.deepEqual(warnings, []);
      assert.equal((await fsp.readdir(dir)).length, 2, 'nothing was moved or deleted');
    });
  });

  it('falls back to the older one with a warning when the WAL covers it, and moves the corrupt one aside', async () => {
    await withTempDir(async (dir) => {
      const fs = new NodeFileSystem();
      const { newest, older, dataOffset } = await twoWithNewestCorrupt(fs, dir);
      const { store, warnings } = await openStore(fs, dir);
      const loaded = await store.loadNewest((from) => from <= 101);
      assertLoaded(loaded, meta(100, 1), payload(64, 1));
      assert.equal(loaded!.file, older);
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]!.fields.file, newest);
      assert.equal(warnings[0]!.fields.offset, dataOffset);
      assert.equal(warnings[0]!.fields.index, 200);
      assert.equal(warnings[0]!.fields.fallbackIndex, 100);
      assert.equal(store.newestIndex(), 100);
      assert.deepEqual((await fsp.readdir(dir)).sort(), [path.basename(older), `${path.basename(newest)}.broken`]);

      // The store goes on: a new save, retention, and the broken file is left for the operator.
      await store.save(meta(300, 2), [payload(8, 3)]);
      await store.save(meta(400, 2), [payload(8, 4)]);
      const { store: reopened } = await openStore(fs, dir);
      assertLoaded(await reopened.loadNewest(never), meta(400, 2), payload(8, 4));
      assert.ok((await fsp.readdir(dir)).includes(`${path.basename(newest)}.broken`));
    });
  });

  it('with a damaged header, the file name still says what it held; with no valid snapshot left, the WAL must cover from 1', async () => {
    await withTempDir(async (dir) => {
      const fs = new NodeFileSystem();
      const { store } = await openStore(fs, dir);
      const only = await store.save(meta(500, 7), [payload(16, 1)]);
      const bytes = await fsp.readFile(only.file);
      bytes[3] = 0; // the magic
      await fsp.writeFile(only.file, bytes);

      const { store: strict } = await openStore(fs, dir);
      await expectCorrupt(strict.loadNewest(never), only.file, 0);
      const { store: lenient, warnings } = await openStore(fs, dir);
      const asked: number[] = [];
      const loaded = await lenient.loadNewest((from) => {
        asked.push(from);
        return true;
      });
      assert.equal(loaded, undefined);
      assert.deepEqual(asked, [1]);
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]!.fields.index, 500);
      assert.equal(warnings[0]!.fields.term, 7);
      assert.equal(lenient.newestIndex(), 0);
    });
  });

  it('a file whose header disagrees with its name is corrupt', async () => {
    await withTempDir(async (dir) => {
      const fs = new NodeFileSystem();
      const { store } = await openStore(fs, dir);
      const saved = await store.save(meta(10, 1), [payload(16, 1)]);
      const renamed = path.join(dir, snapshotFileName({ index: 11, term: 1 }));
      await fsp.rename(saved.file, renamed);
      const { store: reopened } = await openStore(fs, dir);
      await expectCorrupt(reopened.loadNewest(never), renamed);
    });
  });
});

describe('a crash during a snapshot save (simulated disk)', { timeout: TEST_TIMEOUT_MS }, () => {
  const DIR = '/data/snap';
  const oldData = payload(3000, 1);
  const newData = payload(2500, 2);

  /** Saves snapshot 100 durably, then snapshot 200 through a disk that crashes at step `crashAt`. */
  async function trial(seed: number, crashAt: number): Promise<{ disk: CrashDisk; crashed: boolean; steps: number; durableAt: number }> {
    const disk = new CrashDisk(seed);
    const first = await disk.run(SnapshotStore.open(disk.disk, DIR));
    await disk.run(first.save(meta(100, 1), chunksOf(oldData, 1000)));
    const fs = disk.crashing(crashAt);
    // Counts the steps up to and including the directory fsync after the rename.
    let durableAt = -1;
    const watched: FileSystem = {
      ...fs,
      syncDir: (dir) => {
        const promise = fs.syncDir(dir);
        if (durableAt < 0) durableAt = disk.steps;
        return promise;
      },
    };
    try {
      const store = await disk.run(SnapshotStore.open(watched, DIR));
      await disk.run(store.save(meta(200, 2), lazyChunks(newData, 700)));
    } catch (err) {
      assert.ok(err instanceof CrashedError || (err instanceof StorageError && err.cause instanceof CrashedError), `only the crash fails: ${String(err)}`);
    }
    return { disk, crashed: fs.crashed, steps: disk.steps, durableAt };
  }

  it('at every step, with several random crash outcomes, leaves the old or the new snapshot whole; the new one once the directory was synced', async () => {
    const full = await trial(1, Number.MAX_SAFE_INTEGER);
    assert.equal(full.crashed, false);
    const totalSteps = full.steps;
    assert.ok(full.durableAt > 0 && full.durableAt <= totalSteps);
    let sawOld = 0;
    let sawNew = 0;
    let sawTemp = 0;
    for (let crashAt = 0; crashAt <= totalSteps; crashAt += 1) {
      for (let seed = 1; seed <= 6; seed += 1) {
        const { disk, crashed } = await trial(seed * 1000 + crashAt, crashAt);
        assert.equal(crashed, crashAt < totalSteps);
        if (!crashed) disk.crash(); // power loss after everything completed
        const hadTemp = (await disk.run(disk.disk.list(DIR))).some((name) => name.endsWith('.tmp'));
        const warnings: Warning[] = [];
        const store = await disk.run(SnapshotStore.open(disk.disk, DIR, { onWarning: (fields, message) => warnings.push({ fields, message }) }));
        assert.equal(warnings.length, hadTemp ? 1 : 0, 'one warning per leftover temp file');
        if (hadTemp) sawTemp += 1;
        assert.ok(!(await disk.run(disk.disk.list(DIR))).some((name) => name.endsWith('.tmp')), 'open removed the temp file');
        const loaded = await disk.run(store.loadNewest(() => assert.fail(`crash at ${crashAt}: no snapshot may be corrupt`)));
        assert.ok(loaded !== undefined);
        if (loaded.meta.index === 200) {
          assertLoaded(loaded, meta(200, 2), newData);
          sawNew += 1;
        } else {
          assertLoaded(loaded, meta(100, 1), oldData);
          assert.ok(crashAt < full.durableAt, `crash at ${crashAt}: the new snapshot was durable from step ${full.durableAt}`);
          sawOld += 1;
        }
        // Whatever survived, the next save works.
        await disk.run(store.save(meta(300, 3), [payload(10, 3)]));
        assertLoaded(await disk.run(store.loadNewest(never)), meta(300, 3), payload(10, 3));
      }
    }
    assert.ok(sawOld > 0 && sawNew > 0 && sawTemp > 0, `every outcome happened (old ${sawOld}, new ${sawNew}, temp ${sawTemp})`);
  });

  it('the simulated disk undoes a rename whose directory was not synced, and keeps one that was', async () => {
    let undone = 0;
    for (let seed = 1; seed <= 20; seed += 1) {
      const disk = new CrashDisk(seed);
      const handle = await disk.run(disk.disk.openAppend('/d/a'));
      await disk.run(handle.write(Uint8Array.of(1, 2, 3)));
      await disk.run(handle.sync());
      await disk.run(disk.disk.syncDir('/d'));
      await disk.run(disk.disk.rename('/d/a', '/d/b'));
      await disk.run(disk.disk.rename('/d/b', '/d/c'));
      disk.crash();
      const names = await disk.run(disk.disk.list('/d'));
      assert.equal(names.length, 1, `seed ${seed}: exactly one name survives (${names.join(',')})`);
      assert.deepEqual([...(await disk.run(disk.disk.readFile(`/d/${names[0]!}`)))], [1, 2, 3]);
      if (names[0] !== 'c') undone += 1;
      await disk.run(disk.disk.rename(`/d/${names[0]!}`, '/d/e'));
      await disk.run(disk.disk.syncDir('/d'));
      disk.crash();
      assert.deepEqual(await disk.run(disk.disk.list('/d')), ['e'], 'a synced rename survives');
    }
    assert.ok(undone > 0, 'some crash undid a rename');
  });
});
