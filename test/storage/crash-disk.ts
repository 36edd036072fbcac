/**
 * The simulator's disk (test/sim/sim-disk.ts) on a world of its own, for storage
 * tests that crash at a chosen step: writes are pending until sync, a crash keeps a
 * random prefix or random sectors of them, and a create/rename/remove survives a crash only once its
 * directory was synced.
 */
import type { AppendHandle, FileSystem, WriteHandle } from '../../src/storage/file-system.js';
import { SimDisk } from '../sim/sim-disk.js';
import { SimWorld } from '../sim/sim-world.js';

/** What a process that has lost power sees for every later call. */
export class CrashedError extends Error {
  constructor() {
    super('crashed');
  }
}

export class CrashDisk {
  readonly world: SimWorld;
  readonly disk: SimDisk;
  /** Operations issued through `crashing()` file systems so far. */
  steps = 0;
  private incarnation = 0;

  constructor(seed: number) {
    this.world = new SimWorld(seed);
    this.disk = new SimDisk(this.world, { latencyMsMin: 0, latencyMsMax: 2 }, 'disk');
    this.startIncarnation();
  }

  private startIncarnation(): void {
    this.incarnation += 1;
    const incarnation = this.incarnation;
    this.disk.alive = () => this.incarnation === incarnation;
  }

  /** Runs simulated time until `promise` settles. */
  async run<T>(promise: Promise<T>): Promise<T> {
    let settled = false;
    promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    let idleRounds = 0;
    while (!settled) {
      const before = this.world.eventsRun;
      await this.world.runUntil(this.world.now() + 60_000);
      await new Promise((resolve) => setImmediate(resolve));
      idleRounds = this.world.eventsRun === before ? idleRounds + 1 : 0;
      if (idleRounds > 5 && !settled) throw new Error('operation neither completed nor scheduled anything');
    }
    return promise;
  }

  /** Power loss, then a new incarnation: completions of the old one never fire. */
  crash(): void {
    this.disk.crash();
    this.startIncarnation();
  }

  /**
   * A view of the disk that loses power just before its `crashAt`-th operation
   * (counting from 0; handle operations included): the disk crashes and that call and
   * every later one reject with CrashedError, as if the process had died there.
   */
  crashing(crashAt: number): FileSystem & { readonly crashed: boolean } {
    let crashed = false;
    const step = (): void => {
      if (!crashed && this.steps === crashAt) {
        crashed = true;
        this.crash();
      }
      this.steps += 1;
      if (crashed) throw new CrashedError();
    };
    const guarded = <T>(operation: () => Promise<T>): Promise<T> => {
      try {
        step();
      } catch (err) {
        return Promise.reject(err);
      }
      return operation();
    };
    const disk = this.disk;
    return {
      get crashed() {
        return crashed;
      },
      mkdirp: () => guarded(() => disk.mkdirp()),
      list: (dir) => guarded(() => disk.list(dir)),
      readFile: (file) => guarded(() => disk.readFile(file)),
      openAppend: (file) =>
        guarded(async () => {
          const handle = await disk.openAppend(file);
          const wrapped: AppendHandle = {
            write: (data) => guarded(() => handle.write(data)),
            sync: () => guarded(() => handle.sync()),
            close: () => guarded(() => handle.close()),
          };
          return wrapped;
        }),
      openWrite: (file) =>
        guarded(async () => {
          const handle = await disk.openWrite(file);
          const wrapped: WriteHandle = {
            writeAt: (data, position) => guarded(() => handle.writeAt(data, position)),
            zeroFill: (position, bytes) => guarded(() => handle.zeroFill(position, bytes)),
            sync: () => guarded(() => handle.sync()),
            close: () => guarded(() => handle.close()),
          };
          return wrapped;
        }),
      truncate: (file, bytes) => guarded(() => disk.truncate(file, bytes)),
      remove: (file) => guarded(() => disk.remove(file)),
      rename: (from, to) => guarded(() => disk.rename(from, to)),
      syncDir: (dir) => guarded(() => disk.syncDir(dir)),
    };
  }
}
