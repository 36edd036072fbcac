import { constants, promises as fs, writeSync } from 'node:fs';
import path from 'node:path';

import { sharedZeros } from '../util/zeros.js';

/**
 * The file operations the write-ahead log needs, behind an interface so the
 * simulator can run the real WAL on a disk that loses unsynced writes on a crash
 * (FoundationDB's AsyncFileNonDurable idea).
 */
export interface AppendHandle {
  /** Appends at the end of the file. Not durable until sync(). */
  write(data: Uint8Array): Promise<void>;
  /** fdatasync: everything written so far survives a crash. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** A file written in place, at positions the caller chooses (a WAL segment). */
export interface WriteHandle {
  /**
   * Writes all of `data` at byte `position`, growing the file when it ends before.
   * The bytes are in the file when the call returns, as after write(2): a sync()
   * called next covers them, before the returned promise settles. Not durable until
   * a sync() completes.
   */
  writeAt(data: Uint8Array, position: number): Promise<void>;
  /**
   * Writes `bytes` zero bytes at `position`: disk blocks that later writeAt() calls
   * fill without allocating anything. Not durable until sync().
   */
  zeroFill(position: number, bytes: number): Promise<void>;
  /** fdatasync: everything written so far, and the file's length, survive a crash. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface FileSystem {
  mkdirp(dir: string): Promise<void>;
  /** File names in `dir`, or [] when it does not exist. */
  list(dir: string): Promise<string[]>;
  readFile(file: string): Promise<Uint8Array>;
  /** Opens for appending, creating the file when absent. */
  openAppend(file: string): Promise<AppendHandle>;
  /** Opens for writing in place, creating the file (empty) when absent; never truncates it. */
  openWrite(file: string): Promise<WriteHandle>;
  truncate(file: string, bytes: number): Promise<void>;
  /** Removes the file; no error when it does not exist. Durable only after syncDir. */
  remove(file: string): Promise<void>;
  /**
   * Renames `from` to `to` in one step, replacing any file at `to` (POSIX rename(2)):
   * a reader sees either the old `to` or the whole new one. Durable only after syncDir.
   */
  rename(from: string, to: string): Promise<void>;
  /** Makes the directory entry changes (create, rename, remove) durable. */
  syncDir(dir: string): Promise<void>;
}

export class NodeFileSystem implements FileSystem {
  async mkdirp(dir: string): Promise<void> {
    await fs.mkdir(dir, { recursive: true });
  }

  async list(dir: string): Promise<string[]> {
    try {
      return await fs.readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async readFile(file: string): Promise<Uint8Array> {
    return fs.readFile(file);
  }

  /**
   * Writes are synchronous system calls and only the fdatasync goes to the thread
   * pool. A write of a batch into the page cache takes microseconds, less than the
   * hand-off to a pool thread and back; the flush to the device is what takes
   * time, and the event loop keeps serving the network while it runs.
   */
  async openAppend(file: string): Promise<AppendHandle> {
    const handle = await fs.open(file, 'a');
    return {
      write: async (data) => {
        let offset = 0;
        while (offset < data.byteLength) offset += writeSync(handle.fd, data, offset, data.byteLength - offset);
      },
      sync: () => handle.datasync(),
      close: () => handle.close(),
    };
  }

  /**
   * writeAt is a synchronous system call, like the append handle's write; zeroFill
   * goes through the thread pool in 256 KiB writes, since it fills whole segments
   * (megabytes) in the background and must not hold up the event loop.
   */
  async openWrite(file: string): Promise<WriteHandle> {
    const handle = await fs.open(file, constants.O_RDWR | constants.O_CREAT, 0o644);
    return {
      writeAt: async (data, position) => {
        let offset = 0;
        while (offset < data.byteLength) offset += writeSync(handle.fd, data, offset, data.byteLength - offset, position + offset);
      },
      zeroFill: async (position, bytes) => {
        const zeros = sharedZeros();
        let offset = 0;
        while (offset < bytes) {
          const { bytesWritten } = await handle.write(zeros, 0, Math.min(zeros.byteLength, bytes - offset), position + offset);
          offset += bytesWritten;
        }
      },
      sync: () => handle.datasync(),
      close: () => handle.close(),
    };
  }

  async truncate(file: string, bytes: number): Promise<void> {
    await fs.truncate(file, bytes);
  }

  async remove(file: string): Promise<void> {
    await fs.rm(file, { force: true });
  }

  async rename(from: string, to: string): Promise<void> {
    await fs.rename(from, to);
  }

  async syncDir(dir: string): Promise<void> {
    const handle = await fs.open(path.resolve(dir), 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
