import path from 'node:path';
import { CorruptLogError, StorageError } from '../../errors.js';
import type { Entry, EntryId, HardState } from '../../core/types.js';
import { EMPTY_HARD_STATE } from '../../core/types.js';
import type { FileSystem, WriteHandle } from '../file-system.js';
import type { LogStorage } from '../log-storage.js';
import { LogTerms } from './log-terms.js';
import type { RecordFormat } from './record.js';
import {
  CURRENT_RECORD_FORMAT,
  decodeRecord,
  encodeBatch,
  encodeCompactionRecord,
  encodeHardStateRecord,
  endOfNonZero,
  intactRecordWithin,
  looksUnwritten,
} from './record.js';
import { Replay } from './replay.js';
import { SerialQueue } from '../../util/serial-queue.js';

/**
 * Every segment starts with a magic that names its record format. Segments are
 * written in format 2 now; format 1 ones (from earlier releases) are still read.
 */
const SEGMENT_MAGICS: readonly { readonly magic: Buffer; readonly format: RecordFormat }[] = [
  { magic: Buffer.from('RAFTWAL2', 'ascii'), format: 2 },
  { magic: Buffer.from('RAFTWAL1', 'ascii'), format: 1 },
];
const SEGMENT_MAGIC = SEGMENT_MAGICS[0]!.magic;
const SEGMENT_HEADER_BYTES = SEGMENT_MAGIC.byteLength;
const SEGMENT_SUFFIX = '.wal';
/** The next segment, filled ahead of use; renamed to its segment name when the WAL rolls. */
const PREPARED_NAME = 'next-segment.tmp';

/**
 * 4 MiB: about 33,000 entries of 100 bytes, so a restart never replays much more
 * than that beyond the live log (2.3 s was measured for 150,000 entries).
 */
export const DEFAULT_SEGMENT_BYTES_MAX = 4 * 1024 * 1024;
/** The least a preallocated segment is given (unless segmentBytesMax is smaller). */
const PREALLOCATE_BYTES_MIN = 256 * 1024;

export interface WalOptions {
  /** A segment is closed and a new one started once it grows past this. Default 4 MiB (DEFAULT_SEGMENT_BYTES_MAX). */
  readonly segmentBytesMax?: number;
  /**
   * `compact` first starts a new segment when the active one is at least this big, so
   * the old one can be deleted by a later compaction instead of waiting to fill up.
   * Default segmentBytesMax / 8 (512 KiB by default); 0 rolls at every compaction.
   */
  readonly compactRollBytes?: number;
  /**
   * Whether new segments are preallocated: created full of zeros and fsynced before
   * use, then written in place. Default true. An fdatasync into such a file writes
   * only the data blocks, never the file's size or a new block's allocation: 25-37 %
   * less time per fdatasync was measured on ext4 (160 and 8,000-byte writes).
   */
  readonly preallocate?: boolean;
  /** Told about repairs (a torn tail cut off); never about normal operation. */
  readonly onWarning?: (fields: Record<string, unknown>, message: string) => void;
}

export interface WalContents {
  readonly hardState: HardState;
  /** (index, term) of the entry just before `entries[0]` (0/0 when the log was never compacted). */
  readonly base: EntryId;
  /** Contiguous from base.index + 1. */
  readonly entries: Entry[];
}

/** One segment file on disk. */
interface Segment {
  readonly file: string;
  readonly format: RecordFormat;
  /** Where its records end: the next one is written here. */
  bytes: number;
  /** The file's length: past `bytes` when preallocated space is left. */
  fileBytes: number;
  /** The highest entry index ever recorded in it (0: none); it may be deleted once compaction passes this. */
  maxIndex: number;
}

/** What replaying the last segment found after its records: bytes to zero before writing there. */
interface StaleTail {
  readonly from: number;
  /** A copy of the bytes from `from` on that are to be zeroed. */
  readonly bytes: Buffer;
  /** The warning to give once a copy of the bytes is kept (its name is added). */
  readonly warning: { readonly fields: Record<string, unknown>; readonly message: string };
}

/** The bytes of `data` from `offset` to its last non-zero byte, to cut off with `message`; undefined when all are zero. */
function staleTail(data: Buffer, file: string, offset: number, message: string, reason?: string): StaleTail | undefined {
  const to = endOfNonZero(data, offset);
  if (to === offset) return undefined;
  const fields = { file, offset, droppedBytes: to - offset, ...(reason === undefined ? {} : { reason }) };
  return { from: offset, bytes: Buffer.from(data.subarray(offset, to)), warning: { fields, message } };
}

function segmentName(sequence: number): string {
  return `${sequence.toString(16).padStart(16, '0')}${SEGMENT_SUFFIX}`;
}

/**
 * A segmented write-ahead log of entries, hard state and compaction points.
 *
 * Appending an entry at index i implicitly discards every entry at i or after: that
 * is how a follower's conflicting suffix is truncated (Raft paper §5.3) without
 * rewriting files, and replay applies the same rule. Compaction is a record too;
 * whole segments before it are then deleted, oldest first.
 *
 * Segments are preallocated (as etcd's are): the next one is filled with zeros and
 * fsynced in the background, renamed into place when the active one is full, and
 * written in place. A closed segment is first truncated to its records, so only the
 * last segment ever has zeros after them.
 *
 * Recovery: in the last segment, a zero length where a record would start is the end
 * of the log (the rest is preallocated space), and a record that shows it was never
 * completely written (cut short at the end of the file, a zero last byte, or a zero
 * sector: record.ts `looksUnwritten`) is a write interrupted by a crash. Neither was
 * acknowledged, so both are cut off with a warning, along with anything after them:
 * a crash may keep a later unsynced write and lose an earlier one. Anything else
 * that does not verify is corruption of data that may have been acknowledged, and
 * opening fails with the file and offset.
 *
 * Calls are serialized: an append and a compaction never interleave their writes.
 */
export class Wal implements LogStorage {
  private handle: WriteHandle | undefined;
  private sequence = 0;
  private failed: Error | undefined;
  private readonly segmentBytesMax: number;
  private readonly compactRollBytes: number;
  private readonly preallocate: boolean;
  /** Oldest first; the last one is the active segment. */
  private segments: Segment[] = [];
  private log = new LogTerms({ index: 0, term: 0 }, []);
  private hardState: HardState | undefined;
  /** Appends and compactions, one at a time. */
  private readonly queue = new SerialQueue();
  /** The next segment being filled (resolves to its length), started ahead of the roll that needs it. */
  private preparing: Promise<number> | undefined;
  /** How far the last closed segment got: the next one is preallocated a little more. */
  private lastSegmentBytes: number | undefined;

  private constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private readonly options: WalOptions,
  ) {
    this.segmentBytesMax = options.segmentBytesMax ?? DEFAULT_SEGMENT_BYTES_MAX;
    this.compactRollBytes = options.compactRollBytes ?? Math.floor(this.segmentBytesMax / 8);
    this.preallocate = options.preallocate ?? true;
  }

  /** Opens (creating if needed) the WAL in `dir` and replays it. */
  static async open(fs: FileSystem, dir: string, options: WalOptions = {}): Promise<{ wal: Wal; contents: WalContents }> {
    const wal = new Wal(fs, dir, options);
    const contents = await wal.recover();
    return { wal, contents };
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  private get preparedFile(): string {
    return path.join(this.dir, PREPARED_NAME);
  }

  private async recover(): Promise<WalContents> {
    await this.fs.mkdirp(this.dir);
    const listed = await this.fs.list(this.dir);
    const names = listed.filter((name) => name.endsWith(SEGMENT_SUFFIX)).sort();
    const replay = new Replay();
    let stale: StaleTail | undefined;
    for (let i = 0; i < names.length; i += 1) {
      const file = path.join(this.dir, names[i]!);
      const replayed = await this.replaySegment(file, i === names.length - 1, replay);
      this.segments.push(replayed.segment);
      stale = replayed.stale;
      this.sequence = Number.parseInt(names[i]!.slice(0, 16), 16);
    }
    // Checked before any file is opened or created, so a refused open leaves no
    // handle behind and adds nothing to a directory it could not trust.
    const gap = replay.unexplainedGap();
    if (gap !== undefined) {
      throw new CorruptLogError(`write-ahead log ${gap.file} is inconsistent at offset ${gap.offset}: ${gap.reason}`);
    }
    if (replay.hardState.commit > replay.lastIndex) {
      throw new CorruptLogError(
        `write-ahead log in ${this.dir} records commit index ${replay.hardState.commit} but holds only entries through ${replay.lastIndex}`,
      );
    }
    // A segment prepared before the last run stopped: it may be half filled.
    if (listed.includes(PREPARED_NAME)) await this.fs.remove(this.preparedFile);
    if (this.segments.length >= 2) this.lastSegmentBytes = this.segments[this.segments.length - 2]!.bytes;
    const tail = this.segments[this.segments.length - 1];
    if (tail !== undefined && tail.bytes === 0) {
      // Created but its header never made it to disk: nothing was written there.
      await this.fs.remove(tail.file);
      await this.fs.syncDir(this.dir);
      this.segments.pop();
      this.sequence -= 1;
    } else if (tail !== undefined) {
      this.handle = await this.fs.openWrite(tail.file);
      if (stale !== undefined) {
        // Later appends write here; what a crash left of unsynced writes must not
        // read as records after them on the next replay. A copy stays beside the
        // segment: if it was damage rather than a torn write, nothing is destroyed.
        await this.keepCutBytes(tail.file, stale);
        await this.handle.zeroFill(stale.from, stale.bytes.byteLength);
        await this.handle.sync();
      }
      // Records of the current format only go after records of the current format.
      if (tail.format !== CURRENT_RECORD_FORMAT) await this.rollSegment();
    }
    if (this.handle === undefined) await this.startSegment();
    this.log = new LogTerms(replay.base, replay.entries);
    this.hardState = replay.hardState;
    return { hardState: replay.hardState, base: replay.base, entries: replay.entries };
  }

  /**
   * Saves the bytes recovery is about to zero as `<segment>.cut-<offset>[-n]` (fsynced, with
   * its directory entry), then gives the cut's warning with the copy's name. The copy
   * is kept until an operator deletes it.
   */
  private async keepCutBytes(file: string, stale: StaleTail): Promise<void> {
    // A new name each time: a second cut at the same offset (a crash loop) must not
    // write over the first copy.
    const taken = new Set(await this.fs.list(this.dir));
    let copy = `${file}.cut-${stale.from}`;
    for (let n = 2; taken.has(path.basename(copy)); n += 1) copy = `${file}.cut-${stale.from}-${n}`;
    const handle = await this.fs.openWrite(copy);
    try {
      await handle.writeAt(stale.bytes, 0);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await this.fs.syncDir(this.dir);
    this.options.onWarning?.({ ...stale.warning.fields, copy }, stale.warning.message);
  }

  /** Replays one segment; its `bytes` are how many are valid (0: no header). */
  private async replaySegment(file: string, isLast: boolean, replay: Replay): Promise<{ segment: Segment; stale?: StaleTail }> {
    const data = Buffer.from(await this.fs.readFile(file));
    const known = SEGMENT_MAGICS.find(({ magic }) => data.byteLength >= magic.byteLength && data.subarray(0, magic.byteLength).equals(magic));
    if (known === undefined) {
      const partialHeader = data.byteLength < SEGMENT_HEADER_BYTES && SEGMENT_MAGIC.subarray(0, data.byteLength).equals(data);
      if (isLast && partialHeader) {
        this.options.onWarning?.({ file, bytes: data.byteLength }, 'removed a segment whose header was never completed');
        return { segment: { file, format: CURRENT_RECORD_FORMAT, bytes: 0, fileBytes: data.byteLength, maxIndex: 0 } };
      }
      throw new CorruptLogError(`write-ahead log segment ${file} has a bad header at offset 0; refusing to start`);
    }
    const { format } = known;
    const segment: Segment = { file, format, bytes: 0, fileBytes: data.byteLength, maxIndex: 0 };
    let stale: StaleTail | undefined;
    let offset = SEGMENT_HEADER_BYTES;
    while (offset < data.byteLength) {
      if (isLast && data.byteLength - offset >= 4 && data.readUInt32BE(offset) === 0) {
        // No record is empty: this is preallocated space, the end of the log.
        stale = staleTail(data, file, offset, 'cut off unsynced writes after the end of the write-ahead log');
        break;
      }
      const record = decodeRecord(data, offset, format);
      if (!('bytes' in record)) {
        // Running past the end is a torn write only if nothing intact follows; else
        // the length field itself is damaged, in the middle of data.
        if (isLast && record.kind === 'torn' && !intactRecordWithin(data, offset + 1, data.byteLength, format)) {
          this.options.onWarning?.(
            { file, offset, droppedBytes: data.byteLength - offset, reason: record.reason },
            'cut off a torn record at the end of the write-ahead log',
          );
          await this.fs.truncate(file, offset);
          segment.fileBytes = offset;
          break;
        }
        if (isLast && record.kind === 'corrupt' && looksUnwritten(data, offset, format)) {
          stale = staleTail(data, file, offset, 'cut off a torn record at the end of the write-ahead log', `${record.reason}; part of it was never written`);
          break;
        }
        throw new CorruptLogError(
          `write-ahead log ${file} is corrupt at offset ${offset} (${record.reason}); refusing to start rather than lose acknowledged entries`,
        );
      }
      const problem = replay.apply(record, { file, offset });
      if (problem !== undefined) throw new CorruptLogError(`write-ahead log ${file} is inconsistent at offset ${offset}: ${problem}`);
      if (record.kind === 'entry') segment.maxIndex = Math.max(segment.maxIndex, record.entry.index);
      offset += record.bytes;
    }
    segment.bytes = offset;
    return stale === undefined ? { segment } : { segment, stale };
  }

  /** How many bytes the next segment is given: a quarter more than the last one reached. */
  private nextSegmentBytes(): number {
    if (!this.preallocate) return SEGMENT_HEADER_BYTES;
    const wanted = this.lastSegmentBytes === undefined ? this.segmentBytesMax / 4 : this.lastSegmentBytes * 1.25;
    const rounded = Math.ceil(wanted / 4096) * 4096;
    return Math.max(SEGMENT_HEADER_BYTES, Math.min(this.segmentBytesMax, Math.max(PREALLOCATE_BYTES_MIN, rounded)));
  }

  /** Writes the next segment under its temporary name: the header, then zeros; fsynced. Resolves to its length. */
  private async prepareSegment(): Promise<number> {
    const bytes = this.nextSegmentBytes();
    const handle = await this.fs.openWrite(this.preparedFile);
    try {
      await handle.writeAt(SEGMENT_MAGIC, 0);
      if (bytes > SEGMENT_HEADER_BYTES) await handle.zeroFill(SEGMENT_HEADER_BYTES, bytes - SEGMENT_HEADER_BYTES);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return bytes;
  }

  /** Starts preparing the next segment once the active one is big enough that a roll may come. */
  private prepareAhead(): void {
    if (this.preparing !== undefined || this.failed !== undefined || this.handle === undefined) return;
    if (this.active.bytes < Math.min(this.compactRollBytes, this.segmentBytesMax / 2)) return;
    const preparing = this.prepareSegment();
    // A failure surfaces (as the sticky StorageError) at the roll that awaits it.
    preparing.catch(() => undefined);
    this.preparing = preparing;
  }

  /** Makes the prepared segment (preparing it now if needed) the next, active one. */
  private async startSegment(): Promise<void> {
    const preparing = this.preparing ?? this.prepareSegment();
    this.preparing = undefined;
    const fileBytes = await preparing;
    this.sequence += 1;
    const file = path.join(this.dir, segmentName(this.sequence));
    await this.fs.rename(this.preparedFile, file);
    await this.fs.syncDir(this.dir);
    this.handle = await this.fs.openWrite(file);
    this.segments.push({ file, format: CURRENT_RECORD_FORMAT, bytes: SEGMENT_HEADER_BYTES, fileBytes, maxIndex: 0 });
  }

  /**
   * Closes the active segment, durably and cut to its records, then starts the next.
   * The cut is durable before the next segment exists, so only the last segment can
   * hold preallocated space (which replay reads as the end of the log).
   */
  private async rollSegment(): Promise<void> {
    const handle = this.handle!;
    const active = this.active;
    await handle.sync();
    if (active.fileBytes > active.bytes) {
      await this.fs.truncate(active.file, active.bytes);
      await handle.sync();
      active.fileBytes = active.bytes;
    }
    await handle.close();
    this.handle = undefined;
    this.lastSegmentBytes = active.bytes;
    await this.startSegment();
  }

  /**
   * Appends entries (replacing any at their indexes or later) and then the hard
   * state, in one write; fsyncs when `sync`. Any failure is sticky: the WAL refuses
   * every later call, since what is on disk is no longer known. Entries that would
   * leave a gap, or that lie at or before the compaction base, throw InvariantError
   * before anything is written.
   */
  append(entries: readonly Entry[], hardState: HardState | undefined, sync: boolean): Promise<void> {
    return this.queue.run(async () => {
      if (this.failed !== undefined) throw this.failed;
      this.log.checkAppend(entries);
      if (entries.length === 0 && hardState === undefined) return;
      const batch = encodeBatch(entries, hardState);
      await this.guard(async () => {
        if (this.active.bytes >= this.segmentBytesMax) await this.rollSegment();
        // The fdatasync is asked for in the same turn as the write (WriteHandle.writeAt
        // allows it): it starts before whatever else this turn has scheduled.
        const written = this.writeActive(batch);
        const synced = sync ? this.handle!.sync() : undefined;
        await Promise.all([written, synced]);
      });
      if (entries.length > 0) {
        this.log.append(entries);
        this.active.maxIndex = Math.max(this.active.maxIndex, entries[entries.length - 1]!.index);
      }
      if (hardState !== undefined) this.hardState = hardState;
      this.prepareAhead();
    });
  }

  /**
   * Durably records that the log now starts after `base`, with the rule of Raft paper
   * Figure 13: if the log holds an entry with base.index and base.term, entries after
   * it are kept and entries up to base.index are dropped; otherwise every entry is
   * dropped (a follower installing a leader's snapshot that conflicts with its log).
   * The outcome is part of the record, and replay applies it when it meets the record.
   * The record also carries the current hard state (older copies may be deleted),
   * under the same checksum. It is fsynced, and only then are the segments whose
   * entries all lie at or before base.index deleted, oldest first, each followed by a
   * directory fsync so the survivors are always a suffix (never the active one; it is
   * rolled first when past compactRollBytes, so a later compaction can delete it). So
   * a crash at any point leaves a WAL that replays to the same or the previous state.
   *
   * `hardState`, when given, goes in the record instead of the current one, so it is
   * durable atomically with the compaction: a follower installing a snapshot past its
   * log records the commit index the snapshot implies (written apart, a crash between
   * them could leave a commit index past the log, which replay refuses).
   *
   * A base at or before the current one (an older index, or the same entry) changes
   * nothing; only a given `hardState` is then written, and synced.
   */
  compact(base: EntryId, hardState?: HardState): Promise<void> {
    return this.queue.run(async () => {
      if (this.failed !== undefined) throw this.failed;
      const current = this.log.compactedThrough;
      const stale = base.index < current.index || (base.index === current.index && base.term === current.term);
      if (stale && hardState === undefined) return;
      const state = hardState ?? this.hardState ?? EMPTY_HARD_STATE;
      const keepsSuffix = !stale && this.log.keepsSuffix(base);
      const record = stale ? encodeHardStateRecord(state) : encodeCompactionRecord(base, keepsSuffix, state);
      await this.guard(async () => {
        if (!stale && this.active.bytes >= this.compactRollBytes) await this.rollSegment();
        await this.writeActive(record);
        await this.handle!.sync();
      });
      this.hardState = state;
      if (stale) return;
      this.log.compact(base, keepsSuffix);
      await this.guard(() => this.deleteSegmentsThrough(base.index));
      this.prepareAhead();
    });
  }

  /** Writes records at the end of the active segment's records (they are in the file when this returns). */
  private writeActive(records: Buffer): Promise<void> {
    const active = this.active;
    const written = this.handle!.writeAt(records, active.bytes);
    active.bytes += records.byteLength;
    active.fileBytes = Math.max(active.fileBytes, active.bytes);
    return written;
  }

  /** Deletes the oldest segments while every entry they hold lies at or before `index`. */
  private async deleteSegmentsThrough(index: number): Promise<void> {
    while (this.segments.length > 1 && this.segments[0]!.maxIndex <= index) {
      await this.fs.remove(this.segments[0]!.file);
      // One at a time: a crash must never bring back an older segment without the
      // newer ones, or replay would see entries the deleted ones had replaced.
      await this.fs.syncDir(this.dir);
      this.segments.shift();
    }
  }

  /** The compaction point: the entry just before the first one held (0/0 when never compacted). */
  base(): EntryId {
    return this.log.compactedThrough;
  }

  /** Index of the last entry held (the base's index when none is). */
  lastIndex(): number {
    return this.log.lastIndex;
  }

  /**
   * Bytes of all segment files now on disk, preallocated space included; the next
   * segment being prepared (at most segmentBytesMax) is not counted.
   */
  diskBytes(): number {
    let bytes = 0;
    for (const segment of this.segments) bytes += segment.fileBytes;
    return bytes;
  }

  async close(): Promise<void> {
    // An append or compaction in flight (a roll may be opening the next segment)
    // finishes first, so no handle opens after close and nothing resolves after it.
    await this.queue.drained();
    const handle = this.handle;
    this.handle = undefined;
    const preparing = this.preparing;
    this.preparing = undefined;
    // The prepared file stays; the next open removes it. Its writes must end first.
    if (preparing !== undefined) await preparing.catch(() => undefined);
    if (handle !== undefined) await handle.close();
  }

  /** Runs a disk operation; a failure becomes the sticky StorageError. */
  private async guard(operation: () => Promise<void>): Promise<void> {
    try {
      await operation();
    } catch (err) {
      this.failed = new StorageError(`write-ahead log write failed in ${this.dir}: ${(err as Error).message}`, { cause: err });
      throw this.failed;
    }
  }
}
