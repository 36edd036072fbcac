import type { SnapshotMeta } from '../core/types.js';

/**
 * Where the driver keeps snapshots (hashicorp's SnapshotStore, seen from the driver):
 * it saves the state machine's view and reads back the newest one to send to a
 * follower that needs it.
 */
export interface SnapshotStorage {
  /** Saves durably and atomically; resolves once the snapshot is on disk. */
  save(meta: SnapshotMeta, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<{ bytes: number }>;
  /** The bytes of the saved snapshot that `meta` describes. */
  read(meta: SnapshotMeta): Promise<Uint8Array>;
}

/** When to take a snapshot and how much log to keep behind it. */
export interface SnapshotPolicy {
  /** Take a snapshot once this many entries were applied since the last one. */
  readonly entries: number;
  /** Entries kept in the log behind the snapshot, so a follower slightly behind still
   * catches up from the log instead of a snapshot (etcd SnapshotCatchUpEntries). */
  readonly trailing: number;
}

export const DEFAULT_SNAPSHOT_POLICY: SnapshotPolicy = { entries: 10_000, trailing: 5_000 };

/** In memory, for driver tests. */
export class MemorySnapshotStorage implements SnapshotStorage {
  readonly saved: { meta: SnapshotMeta; data: Uint8Array }[] = [];

  async save(meta: SnapshotMeta, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<{ bytes: number }> {
    const parts: Uint8Array[] = [];
    for await (const chunk of chunks) parts.push(chunk);
    const data = Buffer.concat(parts);
    this.saved.push({ meta, data });
    return { bytes: data.byteLength };
  }

  async read(meta: SnapshotMeta): Promise<Uint8Array> {
    const found = [...this.saved].reverse().find((s) => s.meta.index === meta.index && s.meta.term === meta.term);
    if (found === undefined) throw new Error(`no snapshot at ${meta.index}`);
    return found.data;
  }
}
