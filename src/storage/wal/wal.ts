import path from 'node:path';
import { CorruptLogError, StorageError } from '../../errors.js';
import type { Entry, HardState } from '../../core/types.js';
import { EMPTY_HARD_STATE } from '../../core/types.js';
import type { AppendHandle, FileSystem } from '../file-system.js';
import type { LogStorage } from '../log-storage.js';
import type { DecodedRecord } from './record.js';
import { RECORD_HEADER_BYTES, decodeRecord, encodeEntryRecord, encodeHardStateRecord } from './record.js';

/** Every segment starts with this magic and a format version. */
const SEGMENT_MAGIC = Buffer.from('RAFTWAL1', 'ascii');
const SEGMENT_SUFFIX = '.wal';

export interface WalOptions {
  /** A segment is closed and a new one started once it grows past this. Default 64 MiB. */
  readonly segmentBytesMax?: number;
  /** Told about repairs (a torn tail cut off); never about normal operation. */
  readonly onWarning?: (fields: Record<string, unknown>, message: string) => void;
}

export interface WalContents {
  readonly hardState: HardState;
  /** Every entry, contiguous from index 1. */
  readonly entries: Entry[];
}

function segmentName(sequence: number): string {
  return `${sequence.toString(16).padStart(16, '0')}${SEGMENT_SUFFIX}`;
}

/**
 * A segmented, append-only write-ahead log of entries and hard state.
 *
 * Appending an entry at index i implicitly discards every entry at i or after: that
 * is how a follower's conflicting suffix is truncated (Raft paper §5.3) without
 * rewriting files, and replay applies the same rule.
 *
 * Recovery: a record that is cut short at the very end of the last segment is a
 * write interrupted by a crash; it was never acknowledged, so it is cut off with a
 * warning. Anything else that does not verify is corruption of data that may have
 * been acknowledged, and opening fails with the file and offset.
 */
export class Wal implements LogStorage {
  private handle: AppendHandle | undefined;
  private sequence = 0;
  private segmentBytes = 0;
  private failed: Error | undefined;
  private readonly segmentBytesMax: number;

  private constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private readonly options: WalOptions,
  ) {
    this.segmentBytesMax = options.segmentBytesMax ?? 64 * 1024 * 1024;
  }

  /** Opens (creating if needed) the WAL in `dir` and replays it. */
  static async open(fs: FileSystem, dir: string, options: WalOptions = {}): Promise<{ wal: Wal; contents: WalContents }> {
    const wal = new Wal(fs, dir, options);
    const contents = await wal.recover();
    return { wal, contents };
  }

  private async recover(): Promise<WalContents> {
    await this.fs.mkdirp(this.dir);
    const names = (await this.fs.list(this.dir)).filter((name) => name.endsWith(SEGMENT_SUFFIX)).sort();
    const replay = new Replay();
    let tail: { file: string; validBytes: number } | undefined;
    for (let i = 0; i < names.length; i += 1) {
      const isLast = i === names.length - 1;
      const file = path.join(this.dir, names[i]!);
      const validBytes = await this.replaySegment(file, isLast, replay);
      this.sequence = Number.parseInt(names[i]!.slice(0, 16), 16);
      if (isLast) tail = { file, validBytes };
    }
    // Checked before any file is opened or created, so a refused open leaves no
    // handle behind and adds nothing to a directory it could not trust.
    if (replay.hardState.commit > replay.entries.length) {
      throw new CorruptLogError(
        `write-ahead log in ${this.dir} records commit index ${replay.hardState.commit} but holds only ${replay.entries.length} entries`,
      );
    }
    if (tail !== undefined && tail.validBytes === 0) {
      // Created but its header never made it to disk: nothing was written there.
      await this.fs.remove(tail.file);
      await this.fs.syncDir(this.dir);
      this.sequence -= 1;
    } else if (tail !== undefined) {
      this.handle = await this.fs.openAppend(tail.file);
      this.segmentBytes = tail.validBytes;
    }
    if (this.handle === undefined) await this.startSegment();
    return { hardState: replay.hardState, entries: replay.entries };
  }

  /** Replays one segment; returns how many bytes of it are valid (0: no header). */
  private async replaySegment(file: string, isLast: boolean, replay: Replay): Promise<number> {
    const data = Buffer.from(await this.fs.readFile(file));
    if (data.byteLength < SEGMENT_MAGIC.byteLength || !data.subarray(0, SEGMENT_MAGIC.byteLength).equals(SEGMENT_MAGIC)) {
      const partialHeader = data.byteLength < SEGMENT_MAGIC.byteLength && SEGMENT_MAGIC.subarray(0, data.byteLength).equals(data);
      if (isLast && partialHeader) {
        this.options.onWarning?.({ file, bytes: data.byteLength }, 'removed a segment whose header was never completed');
        return 0;
      }
      throw new CorruptLogError(`write-ahead log segment ${file} has a bad header at offset 0; refusing to start`);
    }
    let offset = SEGMENT_MAGIC.byteLength;
    while (offset < data.byteLength) {
      const record = decodeRecord(data, offset);
      if (!('bytes' in record)) {
        if (isLast && record.kind === 'torn' && !hasIntactRecordAfter(data, offset + 1)) {
          this.options.onWarning?.(
            { file, offset, droppedBytes: data.byteLength - offset, reason: record.reason },
            'cut off a torn record at the end of the write-ahead log',
          );
          await this.fs.truncate(file, offset);
          return offset;
        }
        throw new CorruptLogError(
          `write-ahead log ${file} is corrupt at offset ${offset} (${record.reason}); refusing to start rather than lose acknowledged entries`,
        );
      }
      const problem = replay.apply(record);
      if (problem !== undefined) throw new CorruptLogError(`write-ahead log ${file} is inconsistent at offset ${offset}: ${problem}`);
      offset += record.bytes;
    }
    return offset;
  }

  private async startSegment(): Promise<void> {
    this.sequence += 1;
    const file = path.join(this.dir, segmentName(this.sequence));
    this.handle = await this.fs.openAppend(file);
    await this.handle.write(SEGMENT_MAGIC);
    await this.handle.sync();
    await this.fs.syncDir(this.dir);
    this.segmentBytes = SEGMENT_MAGIC.byteLength;
  }

  /**
   * Appends entries (replacing any at their indexes or later) and then the hard
   * state, in one write; fsyncs when `sync`. Any failure is sticky: the WAL refuses
   * every later call, since what is on disk is no longer known.
   */
  async append(entries: readonly Entry[], hardState: HardState | undefined, sync: boolean): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    const records: Buffer[] = entries.map(encodeEntryRecord);
    if (hardState !== undefined) records.push(encodeHardStateRecord(hardState));
    if (records.length === 0) return;
    const batch = records.length === 1 ? records[0]! : Buffer.concat(records);
    try {
      if (this.segmentBytes >= this.segmentBytesMax) {
        await this.handle!.sync();
        await this.handle!.close();
        await this.startSegment();
      }
      await this.handle!.write(batch);
      this.segmentBytes += batch.byteLength;
      if (sync) await this.handle!.sync();
    } catch (err) {
      this.failed = new StorageError(`write-ahead log write failed in ${this.dir}: ${(err as Error).message}`, { cause: err });
      throw this.failed;
    }
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (handle !== undefined) await handle.close();
  }
}

/** Rebuilds the log from records in order, enforcing contiguity. */
class Replay {
  hardState: HardState = EMPTY_HARD_STATE;
  entries: Entry[] = [];

  apply(record: DecodedRecord): string | undefined {
    if (record.kind === 'hard-state') {
      this.hardState = record.hardState;
      return undefined;
    }
    const { entry } = record;
    if (entry.index > this.entries.length + 1) {
      return `entry ${entry.index} follows ${this.entries.length}, leaving a gap`;
    }
    // An entry at an existing index replaces it and everything after it.
    this.entries.length = entry.index - 1;
    this.entries.push(entry);
    return undefined;
  }
}

/**
 * Whether any complete, checksummed record starts at or after `from`. A record that
 * seems to run past the end of the file is only a torn write if nothing intact
 * follows it; otherwise its length field itself is damaged, in the middle of data.
 */
function hasIntactRecordAfter(data: Buffer, from: number): boolean {
  for (let offset = from; offset + RECORD_HEADER_BYTES <= data.byteLength; offset += 1) {
    if ('bytes' in decodeRecord(data, offset)) return true;
  }
  return false;
}
