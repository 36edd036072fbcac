import path from 'node:path';
import type { Index, Term } from '../core/types.js';
import { CorruptSnapshotError, InvariantError, StorageError } from '../errors.js';
import type { FileSystem } from './file-system.js';
import type { LoadedSnapshot, SnapshotMeta } from './snapshot-file.js';
import { decodeSnapshot, writeSnapshotFile } from './snapshot-file.js';

export type { ClusterConfig, LoadedSnapshot, SnapshotMeta } from './snapshot-file.js';
export { readSnapshotFile, writeSnapshotFile } from './snapshot-file.js';

const SNAPSHOT_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;
const TEMP_SUFFIX = '.tmp';
/** A snapshot that failed to verify and was fallen back from is renamed aside, never deleted. */
const BROKEN_SUFFIX = '.broken';

export interface SnapshotStoreOptions {
  /** Told about repairs (leftover temp files, a corrupt snapshot fallen back from). */
  readonly onWarning?: (fields: Record<string, unknown>, msg: string) => void;
  /** How many snapshots to keep; older ones are deleted after each save. Default 2, at least 1. */
  readonly retain?: number;
}

/** A snapshot file in the directory, as its name describes it. */
interface StoredSnapshot {
  readonly name: string;
  readonly index: Index;
  readonly term: Term;
}

/**
 * `<term 16 hex>-<index 16 hex>.snap`, as etcd names them: a file whose header is
 * damaged still says what it held.
 */
export function snapshotFileName(meta: { readonly index: Index; readonly term: Term }): string {
  return `${meta.term.toString(16).padStart(16, '0')}-${meta.index.toString(16).padStart(16, '0')}.snap`;
}

function parseName(name: string): StoredSnapshot | undefined {
  const match = SNAPSHOT_NAME.exec(name);
  if (match === null) return undefined;
  return { name, term: Number.parseInt(match[1]!, 16), index: Number.parseInt(match[2]!, 16) };
}

function byAge(a: { readonly index: Index; readonly term: Term }, b: { readonly index: Index; readonly term: Term }): number {
  return a.index - b.index || a.term - b.term;
}

/**
 * The snapshot files of one node's data directory (etcd's snap package). Saves are
 * atomic (temp file, fsync, rename, fsync of the directory) and serialized; the
 * `retain` newest are kept.
 */
export class SnapshotStore {
  /** Oldest first. */
  private snapshots: StoredSnapshot[];
  private readonly retain: number;
  private inFlight: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly fs: FileSystem,
    readonly dir: string,
    private readonly options: SnapshotStoreOptions,
    snapshots: StoredSnapshot[],
  ) {
    this.snapshots = snapshots.sort(byAge);
    this.retain = Math.max(1, options.retain ?? 2);
  }

  /** Opens (creating) the snapshot directory; removes leftover temp files of interrupted saves (with a warning). */
  static async open(fs: FileSystem, dir: string, options: SnapshotStoreOptions = {}): Promise<SnapshotStore> {
    await fs.mkdirp(dir);
    const names = (await fs.list(dir)).sort();
    const snapshots: StoredSnapshot[] = [];
    let removed = false;
    for (const name of names) {
      if (name.endsWith(TEMP_SUFFIX)) {
        options.onWarning?.({ file: path.join(dir, name) }, 'removed the temp file of an interrupted snapshot save');
        await fs.remove(path.join(dir, name));
        removed = true;
        continue;
      }
      const parsed = parseName(name);
      if (parsed !== undefined) snapshots.push(parsed);
    }
    if (removed) await fs.syncDir(dir);
    return new SnapshotStore(fs, dir, options, snapshots);
  }

  /**
   * Writes the snapshot atomically: temp file, fsync, rename, fsync dir; then deletes
   * all but the `retain` newest. `chunks` may be produced lazily (the state machine
   * serializes in the background): await between chunks is fine. `bytes` is the file's
   * size. A snapshot older than the newest one held is refused (InvariantError).
   */
  save(meta: SnapshotMeta, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<{ file: string; bytes: number }> {
    return this.serialize(async () => {
      const newest = this.snapshots[this.snapshots.length - 1];
      if (newest !== undefined && byAge(meta, newest) < 0) {
        throw new InvariantError(`snapshot at ${meta.index} (term ${meta.term}) is older than the newest one, at ${newest.index} (term ${newest.term})`);
      }
      const name = snapshotFileName(meta);
      const file = path.join(this.dir, name);
      const { bytes } = await writeSnapshotFile(this.fs, file, meta, chunks);
      this.snapshots = this.snapshots.filter((snapshot) => snapshot.name !== name);
      this.snapshots.push({ name, index: meta.index, term: meta.term });
      await this.deleteOld();
      return { file, bytes };
    });
  }

  /**
   * The newest snapshot whose checksum verifies. If a newer one is corrupt: when
   * walCovers(fallbackIndex + 1) is true (fallbackIndex = index of the next older valid
   * snapshot, or 0 if none) warn, rename the corrupt ones aside (`.broken`) and fall
   * back; otherwise throw CorruptSnapshotError naming the file and the offset.
   * Undefined when there is none.
   */
  loadNewest(walCovers: (fromIndex: Index) => boolean): Promise<LoadedSnapshot | undefined> {
    return this.serialize(async () => {
      const corrupt: CorruptSnapshotError[] = [];
      let loaded: LoadedSnapshot | undefined;
      for (let i = this.snapshots.length - 1; i >= 0 && loaded === undefined; i -= 1) {
        try {
          loaded = await this.read(this.snapshots[i]!);
        } catch (err) {
          if (!(err instanceof CorruptSnapshotError)) throw err;
          corrupt.push(err);
        }
      }
      if (corrupt.length === 0) return loaded;
      const fallbackIndex = loaded?.meta.index ?? 0;
      if (!walCovers(fallbackIndex + 1)) throw corrupt[0]!;
      for (const err of corrupt) {
        const named = parseName(path.basename(err.file))!;
        this.options.onWarning?.(
          { file: err.file, offset: err.offset, index: named.index, term: named.term, fallbackIndex, err: err.message },
          'fell back from a corrupt snapshot; the log covers it',
        );
        await this.fs.rename(err.file, `${err.file}${BROKEN_SUFFIX}`);
      }
      await this.fs.syncDir(this.dir);
      const broken = new Set(corrupt.map((err) => path.basename(err.file)));
      this.snapshots = this.snapshots.filter((snapshot) => !broken.has(snapshot.name));
      return loaded;
    });
  }

  /** Index of the newest saved snapshot (0 when none); after a fallback, of the one fallen back to. */
  newestIndex(): Index {
    return this.snapshots[this.snapshots.length - 1]?.index ?? 0;
  }

  /** The snapshot files held, oldest first. */
  files(): string[] {
    return this.snapshots.map((snapshot) => path.join(this.dir, snapshot.name));
  }

  private async read(snapshot: StoredSnapshot): Promise<LoadedSnapshot> {
    const file = path.join(this.dir, snapshot.name);
    const loaded = decodeSnapshot(file, await this.fs.readFile(file));
    if (loaded.meta.index !== snapshot.index || loaded.meta.term !== snapshot.term) {
      throw new CorruptSnapshotError(
        file,
        16,
        `header says index ${loaded.meta.index} term ${loaded.meta.term}, the file name index ${snapshot.index} term ${snapshot.term}`,
      );
    }
    return loaded;
  }

  private async deleteOld(): Promise<void> {
    const excess = this.snapshots.length - this.retain;
    if (excess <= 0) return;
    try {
      for (const snapshot of this.snapshots.slice(0, excess)) await this.fs.remove(path.join(this.dir, snapshot.name));
      this.snapshots = this.snapshots.slice(excess);
      await this.fs.syncDir(this.dir);
    } catch (err) {
      throw new StorageError(`deleting old snapshots failed in ${this.dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  private serialize<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.inFlight.then(operation);
    this.inFlight = result.catch(() => undefined);
    return result;
  }
}
