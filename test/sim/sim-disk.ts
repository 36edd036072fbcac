import path from 'node:path';
import type { AppendHandle, FileSystem } from '../../src/storage/file-system.js';
import type { SimWorld } from './sim-world.js';

interface SimFile {
  /** Bytes that survive a crash. */
  durable: Uint8Array;
  /** Written but not yet fsynced: a crash keeps some prefix of these. */
  pending: Uint8Array[];
}

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

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.byteLength;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/**
 * One node's disk, under the real write-ahead log (FoundationDB's
 * AsyncFileNonDurable idea): writes land in a page cache that reads see at once, and
 * become durable only on sync. `crash()` keeps the durable bytes plus a random prefix
 * of what was pending — often cutting a record in half, as a power loss does.
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
      return concat([found.durable, ...found.pending]);
    });
  }

  openAppend(file: string): Promise<AppendHandle> {
    const name = path.normalize(file);
    return this.complete('open', () => {
      if (!this.files.has(name)) this.link(name, { durable: new Uint8Array(0), pending: [] });
      const handle: AppendHandle = {
        write: (data) =>
          this.complete('write', () => {
            const target = this.files.get(name);
            if (target === undefined) throw new Error(`EBADF: ${name} was removed`);
            target.pending.push(Uint8Array.prototype.slice.call(data));
            this.bytesWritten += data.byteLength;
          }),
        sync: () =>
          this.complete('sync', () => {
            const target = this.files.get(name);
            if (target === undefined || target.pending.length === 0) return;
            target.durable = concat([target.durable, ...target.pending]);
            target.pending = [];
          }),
        close: () => this.complete('close', () => undefined),
      };
      return handle;
    });
  }

  truncate(file: string, bytes: number): Promise<void> {
    return this.complete('truncate', () => {
      const target = this.files.get(path.normalize(file));
      if (target === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
      target.durable = concat([target.durable, ...target.pending]).slice(0, bytes);
      target.pending = [];
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
            this.files.set(changed, value);
          }
        }
      },
    });
  }

  /**
   * Power loss: each file keeps its durable bytes and a random prefix of the rest;
   * then a random prefix of the pending directory changes survives and the others
   * are undone, newest first.
   */
  crash(): void {
    for (const file of this.files.values()) {
      const pending = concat(file.pending);
      const kept = pending.byteLength === 0 ? 0 : this.world.random.nextInt(pending.byteLength + 1);
      file.durable = concat([file.durable, pending.subarray(0, kept)]);
      file.pending = [];
    }
    if (this.directoryChanges.length > 0) {
      const kept = this.world.random.nextInt(this.directoryChanges.length + 1);
      for (const change of this.directoryChanges.slice(kept).reverse()) change.undo();
      this.directoryChanges = [];
    }
  }
}
