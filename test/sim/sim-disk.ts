import path from 'node:path';
import type { AppendHandle, FileSystem, WriteHandle } from '../../src/storage/file-system.js';
import type { SimWorld } from './sim-world.js';

/**
 * A change not yet fsynced: a write (`data` undefined means `length` zero bytes, a
 * zeroFill), or a truncation to `position` bytes (`truncate`), which a crash may
 * also undo.
 */
interface PendingWrite {
  readonly position: number;
  readonly length: number;
  readonly data: Uint8Array | undefined;
  readonly truncate?: true;
}

interface SimFile {
  /** Bytes that survive a crash. */
  durable: Uint8Array;
  /** Written but not yet fsynced, oldest first: a crash keeps some of these. */
  pending: PendingWrite[];
  /** The length reads see: durable, then the pending writes. */
  size: number;
}

/** The unit a power loss keeps or loses whole (record.ts SECTOR_BYTES). */
const SECTOR_BYTES = 512;

/** A create, rename or remove not yet made durable by syncDir: a crash may undo it. */
interface DirectoryChange {
  /** The directories whose syncDir it waits for (two for a rename across directories). */
  readonly dirs: Set<string>;
  /** Puts back the names it changed, as they were before. */
  readonly undo: () => void;
}

export interface SimDiskOptions {
  readonly latencyMsMin: number;
  readonly latencyMsMax: number;
}

/** `image` with bytes [from, from + length) of `write` applied, grown (with zeros) when it ends before them. */
function applyWrite(image: Uint8Array, write: PendingWrite, from = 0, length = write.length): Uint8Array {
  if (write.truncate === true) {
    if (write.position <= image.byteLength) return image.slice(0, write.position);
    const grown = new Uint8Array(write.position);
    grown.set(image);
    return grown;
  }
  const start = write.position + from;
  let out: Uint8Array = image;
  if (start + length > out.byteLength) {
    out = new Uint8Array(start + length);
    out.set(image);
  }
  if (write.data === undefined) out.fill(0, start, start + length);
  else out.set(write.data.subarray(from, from + length), start);
  return out;
}

function withPending(file: SimFile): Uint8Array {
  let image: Uint8Array = Uint8Array.prototype.slice.call(file.durable);
  for (const write of file.pending) image = applyWrite(image, write);
  return image;
}

/**
 * One node's disk, under the real write-ahead log (FoundationDB's
 * AsyncFileNonDurable idea): writes land in a page cache that reads see at once, and
 * become durable only on sync. `crash()` keeps the durable bytes plus some of what
 * was pending: either a random prefix of it, in order (often cutting a record in
 * half), or each 512-byte sector of it kept or lost on its own, so a later write can
 * survive an earlier one, as a disk that reorders writes does.
 * Directory changes (create, rename, remove) are durable only once syncDir of their
 * directory completes; a crash keeps a random prefix of those still pending, as a
 * journaling file system commits metadata in order. Handles address files by name.
 * Operations complete after a simulated latency, and never for a crashed incarnation.
 */
export class SimDisk implements FileSystem {
  private readonly files = new Map<string, SimFile>();
  /** Oldest first. */
  private directoryChanges: DirectoryChange[] = [];
  /** Replaced at every restart so completions of a crashed process never fire. */
  alive: () => boolean = () => true;
  bytesWritten = 0;

  constructor(private readonly world: SimWorld, private readonly options: SimDiskOptions, private readonly label: string) {}

  private complete<T>(what: string, value: () => T): Promise<T> {
    const alive = this.alive;
    return new Promise<T>((resolve, reject) => {
      this.world.at(this.world.between(this.options.latencyMsMin, this.options.latencyMsMax), `${this.label} ${what}`, () => {
        try {
          resolve(value());
        } catch (err) {
          reject(err);
        }
      }, alive);
    });
  }

  mkdirp(): Promise<void> {
    return this.complete('mkdir', () => undefined);
  }

  list(dir: string): Promise<string[]> {
    return this.complete('list', () =>
      [...this.files.keys()].filter((file) => path.dirname(file) === path.normalize(dir)).map((file) => path.basename(file)),
    );
  }

  readFile(file: string): Promise<Uint8Array> {
    return this.complete('read', () => {
      const found = this.files.get(path.normalize(file));
      if (found === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
      return withPending(found);
    });
  }

  openAppend(file: string): Promise<AppendHandle> {
    return this.openWrite(file).then((handle) => {
      let position = this.files.get(path.normalize(file))?.size ?? 0;
      return {
        write: (data) => {
          const at = position;
          position += data.byteLength;
          return handle.writeAt(data, at);
        },
        sync: () => handle.sync(),
        close: () => handle.close(),
      };
    });
  }

  openWrite(file: string): Promise<WriteHandle> {
    const name = path.normalize(file);
    return this.complete('open', () => {
      if (!this.files.has(name)) this.link(name, { durable: new Uint8Array(0), pending: [], size: 0 });
      // In the page cache when the call returns, as write(2) is (WriteHandle.writeAt):
      // a sync() called next covers it. A crashed incarnation writes nothing.
      const write = (position: number, length: number, data: Uint8Array | undefined): Promise<void> => {
        const target = this.files.get(name);
        if (target !== undefined && this.alive()) {
          target.pending.push({ position, length, data: data === undefined ? undefined : Uint8Array.prototype.slice.call(data) });
          target.size = Math.max(target.size, position + length);
          this.bytesWritten += length;
        }
        return this.complete('write', () => {
          if (target === undefined) throw new Error(`EBADF: ${name} was removed`);
        });
      };
      const handle: WriteHandle = {
        writeAt: (data, position) => write(position, data.byteLength, data),
        zeroFill: (position, bytes) => write(position, bytes, undefined),
        // fdatasync covers what was written before it was called, not writes that
        // land while it runs: the last change it covers is noted now.
        sync: () => {
          const target = this.files.get(name);
          const last = target?.pending[target.pending.length - 1];
          return this.complete('sync', () => {
            if (target === undefined || last === undefined) return;
            const upTo = target.pending.indexOf(last);
            if (upTo < 0) return; // made durable already, by a later-noted sync
            for (const pending of target.pending.slice(0, upTo + 1)) target.durable = applyWrite(target.durable, pending);
            target.pending = target.pending.slice(upTo + 1);
          });
        },
        close: () => this.complete('close', () => undefined),
      };
      return handle;
    });
  }

  /** Cuts (or extends) the file at once for reads; durable with the file's next sync, and a crash may undo it. */
  truncate(file: string, bytes: number): Promise<void> {
    const target = this.files.get(path.normalize(file));
    if (target !== undefined && this.alive()) {
      target.pending.push({ position: bytes, length: 0, data: undefined, truncate: true });
      target.size = bytes;
    }
    return this.complete('truncate', () => {
      if (target === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
    });
  }

  remove(file: string): Promise<void> {
    return this.complete('remove', () => {
      this.link(path.normalize(file), undefined);
    });
  }

  rename(from: string, to: string): Promise<void> {
    const source = path.normalize(from);
    const target = path.normalize(to);
    return this.complete('rename', () => {
      const moved = this.files.get(source);
      if (moved === undefined) throw Object.assign(new Error(`ENOENT: ${from}`), { code: 'ENOENT' });
      if (source === target) return;
      this.link(source, undefined, target, moved);
    });
  }

  syncDir(dir: string): Promise<void> {
    const name = path.normalize(dir);
    return this.complete('syncdir', () => {
      for (const change of this.directoryChanges) change.dirs.delete(name);
      this.directoryChanges = this.directoryChanges.filter((change) => change.dirs.size > 0);
    });
  }

  /** Points one or two names at files (undefined: unlinks), recording how to undo it. */
  private link(name: string, file: SimFile | undefined, otherName?: string, otherFile?: SimFile): void {
    const changes: [string, SimFile | undefined][] = [[name, file]];
    if (otherName !== undefined) changes.push([otherName, otherFile]);
    const before = changes.map(([changed]) => [changed, this.files.get(changed)] as const);
    for (const [changed, value] of changes) {
      if (value === undefined) this.files.delete(changed);
      else this.files.set(changed, value);
    }
    this.directoryChanges.push({
      dirs: new Set(changes.map(([changed]) => path.dirname(changed))),
      undo: () => {
        for (const [changed, value] of before) {
          if (value === undefined) {
            this.files.delete(changed);
          } else {
            // A file brought back by an undone remove or rename keeps only its durable bytes.
            value.pending = [];
            value.size = value.durable.byteLength;
            this.files.set(changed, value);
          }
        }
      },
    });
  }

  /**
   * Power loss: each file keeps its durable bytes and some of the rest (a random
   * prefix, or random sectors); then a random prefix of the pending directory changes
   * survives and the others are undone, newest first.
   */
  crash(): void {
    for (const file of this.files.values()) {
      if (file.pending.length > 0) {
        if (this.world.random.nextInt(2) === 0) this.keepPrefix(file);
        else this.keepSectors(file);
      }
      file.pending = [];
      file.size = file.durable.byteLength;
    }
    if (this.directoryChanges.length > 0) {
      const kept = this.world.random.nextInt(this.directoryChanges.length + 1);
      for (const change of this.directoryChanges.slice(kept).reverse()) change.undo();
      this.directoryChanges = [];
    }
  }

  /** The pending changes in order, up to a random one, and a random prefix of that one when it is a write. */
  private keepPrefix(file: SimFile): void {
    const upTo = this.world.random.nextInt(file.pending.length + 1);
    for (const [i, write] of file.pending.entries()) {
      if (i > upTo) break;
      if (i < upTo) file.durable = applyWrite(file.durable, write);
      else if (write.truncate !== true) file.durable = applyWrite(file.durable, write, 0, this.world.random.nextInt(write.length + 1));
    }
  }

  /** Each sector of each pending write, kept or lost at random; in order, so a later write over the same bytes wins. */
  private keepSectors(file: SimFile): void {
    for (const write of file.pending) {
      if (write.truncate === true) {
        if (this.world.random.nextInt(2) === 0) file.durable = applyWrite(file.durable, write);
        continue;
      }
      for (let from = 0; from < write.length; ) {
        const sectorEnd = (Math.floor((write.position + from) / SECTOR_BYTES) + 1) * SECTOR_BYTES;
        const length = Math.min(write.length - from, sectorEnd - (write.position + from));
        if (this.world.random.nextInt(2) === 0) file.durable = applyWrite(file.durable, write, from, length);
        from += length;
      }
    }
  }
}
