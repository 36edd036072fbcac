import path from 'node:path';

import type { NodeLogger } from '../core/logger.js';
import type { CoreInitialState } from '../core/raft-core.js';
import type { ClusterConfig, Entry, EntryId, SnapshotMeta } from '../core/types.js';
import { EntryKind } from '../core/types.js';
import { applyConfChange, checkConfChange, decodeConfChange, encodeConfChange } from '../core/membership.js';
import type { StateMachine } from '../kv/state-machine.js';
import type { FileSystem } from '../storage/file-system.js';
import { readSnapshotFile, SnapshotStore, snapshotFileName } from '../storage/snapshot-store.js';
import type { WalContents, WalOptions } from '../storage/wal/wal.js';
import { Wal } from '../storage/wal/wal.js';
import type { SnapshotStorage } from './snapshot-storage.js';

/** Where a node keeps its write-ahead log and its snapshots inside its data dir. */
export function dataDirLayout(dataDir: string): { readonly wal: string; readonly snapshots: string } {
  return { wal: path.join(dataDir, 'wal'), snapshots: path.join(dataDir, 'snap') };
}

/** A node's durable state, opened and reconciled, ready to build a RaftNode from. */
export interface NodeStorage {
  readonly wal: Wal;
  readonly snapshots: SnapshotStorage;
  readonly store: SnapshotStore;
  readonly initial: CoreInitialState;
  /** The configuration the snapshot and the log's membership entries describe (the
   * newest, applied or not), or undefined when they describe none (a joining node). */
  readonly persistedConfig: ClusterConfig | undefined;
  /** True when this call bootstrapped a brand-new data dir. */
  readonly bootstrapped: boolean;
}

export interface OpenNodeStorageOptions {
  readonly wal?: Omit<WalOptions, 'onWarning'>;
  /**
   * The founding configuration of a brand-new cluster (--peers). Written as entry 1
   * (term 1, committed) when the data dir holds nothing yet, like etcd's and
   * hashicorp's bootstrap, so every founding node's log starts alike and a node that
   * joins later learns the configuration from the log. Ignored when state exists:
   * then the snapshot and the log are the truth.
   */
  readonly bootstrap?: ClusterConfig;
}

/** The configuration the snapshot plus the log's membership entries leave. */
function configOf(snapshot: SnapshotMeta | undefined, entries: readonly Entry[]): ClusterConfig | undefined {
  let config = snapshot?.config;
  for (const entry of entries) {
    if (entry.kind !== EntryKind.ConfChange) continue;
    const change = decodeConfChange(entry.data);
    if (change === undefined) continue;
    const base = config ?? { voters: [], learners: [] };
    if (checkConfChange(base, change) === undefined) config = applyConfChange(base, change);
  }
  return config;
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
  const layout = dataDirLayout(dataDir);
  const store = await SnapshotStore.open(fs, layout.snapshots, { onWarning });
  const { wal, contents } = await Wal.open(fs, layout.wal, { ...options.wal, onWarning });
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
  let hardState = contents.hardState;
  let bootstrapped = false;
  const fresh = loaded === undefined && base.index === 0 && entries.length === 0 && hardState.term === 0;
  if (fresh && options.bootstrap !== undefined && options.bootstrap.voters.length > 0) {
    const entry: Entry = { index: 1, term: 1, kind: EntryKind.ConfChange, data: encodeConfChange({ op: 'bootstrap', config: options.bootstrap }) };
    hardState = { term: 1, vote: 0, commit: 1 };
    await wal.append([entry], hardState, true);
    entries = [entry];
    bootstrapped = true;
    log.info({ voters: options.bootstrap.voters }, 'bootstrapped a new cluster');
  }
  const initial: CoreInitialState = { hardState, base, entries, snapshot, applied: snapshot?.index ?? 0 };
  return { wal, snapshots, store, initial, persistedConfig: configOf(snapshot, entries), bootstrapped };
}
