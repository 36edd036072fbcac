import path from 'node:path';

import type { NodeLogger } from '../core/logger.js';
import type { CoreInitialState } from '../core/raft-core.js';
import type { EntryId, SnapshotMeta } from '../core/types.js';
import type { StateMachine } from '../kv/state-machine.js';
import type { FileSystem } from '../storage/file-system.js';
import { readSnapshotFile, SnapshotStore, snapshotFileName } from '../storage/snapshot-store.js';
import type { WalContents, WalOptions } from '../storage/wal/wal.js';
import { Wal } from '../storage/wal/wal.js';
import type { SnapshotStorage } from './snapshot-storage.js';

/** A node's durable state, opened and reconciled, ready to build a RaftNode from. */
export interface NodeStorage {
  readonly wal: Wal;
  readonly snapshots: SnapshotStorage;
  readonly store: SnapshotStore;
  readonly initial: CoreInitialState;
}

export interface OpenNodeStorageOptions {
  readonly wal?: Omit<WalOptions, 'onWarning'>;
}

/** Does the log hold the entry `id` (its base counts)? */
function walHolds(contents: WalContents, id: EntryId): boolean {
  if (id.index === contents.base.index) return id.term === contents.base.term;
  const entry = contents.entries[id.index - contents.base.index - 1];
  return entry !== undefined && entry.term === id.term;
}

/**
 * Opens a node's data dir: the newest valid snapshot restores the state machine, and
 * the WAL replays what follows it. A crash between saving a leader's snapshot and
 * recording it in the WAL leaves a WAL that may conflict with the snapshot; the same
 * Figure 13 rule the core applied settles it here (the WAL drops a log that does not
 * hold the snapshot's last entry). A corrupt snapshot stops the node unless the WAL
 * still holds everything it covered (SnapshotStore.loadNewest).
 */
export async function openNodeStorage(
  fs: FileSystem,
  dataDir: string,
  stateMachine: StateMachine<unknown>,
  logger: NodeLogger,
  options: OpenNodeStorageOptions = {},
): Promise<NodeStorage> {
  const log = logger.child({ component: 'storage' });
  const onWarning = (fields: Record<string, unknown>, message: string): void => log.warn(fields, message);
  const store = await SnapshotStore.open(fs, path.join(dataDir, 'snap'), { onWarning });
  const { wal, contents } = await Wal.open(fs, path.join(dataDir, 'wal'), { ...options.wal, onWarning });
  const loaded = await store.loadNewest((fromIndex) => contents.base.index < fromIndex);
  let base = contents.base;
  let entries = contents.entries;
  let snapshot: SnapshotMeta | undefined;
  if (loaded !== undefined) {
    stateMachine.restore(loaded.data);
    snapshot = loaded.meta;
    if (snapshot.index > base.index && !walHolds(contents, snapshot)) {
      log.warn({ index: snapshot.index, term: snapshot.term, walBase: base.index }, 'write-ahead log did not record the newest snapshot; dropping its conflicting log');
      base = { index: snapshot.index, term: snapshot.term };
      await wal.compact(base);
      entries = [];
    }
    log.info({ index: snapshot.index, term: snapshot.term, bytes: loaded.bytes, file: loaded.file }, 'restored snapshot');
  }
  const snapshots: SnapshotStorage = {
    save: (meta, chunks) => store.save(meta, chunks),
    read: async (meta) => (await readSnapshotFile(fs, path.join(store.dir, snapshotFileName(meta)))).data,
  };
  const hardState = contents.hardState;
  const initial: CoreInitialState = { hardState, base, entries, snapshot, applied: snapshot?.index ?? 0 };
  return { wal, snapshots, store, initial };
}
