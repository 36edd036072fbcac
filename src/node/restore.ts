import type { NodeId, SnapshotMeta } from '../core/types.js';
import { ConfigError } from '../errors.js';
import type { FileSystem } from '../storage/file-system.js';
import { readSnapshotFile, SnapshotStore } from '../storage/snapshot-store.js';
import { Wal } from '../storage/wal/wal.js';
import { dataDirLayout } from './node-storage.js';

/**
 * Seeds an empty data dir from a backup (`raft-cli snapshot save`), as etcdutl
 * snapshot restore does: the snapshot becomes this node's, with the new cluster's
 * members as its configuration, and the WAL starts right after it with everything up
 * to it committed. Every node of the new cluster is seeded from the same file, so
 * their logs agree from the first entry on. Refuses a data dir that holds anything.
 */
export async function restoreDataDir(fs: FileSystem, dataDir: string, backupFile: string, voters: readonly NodeId[]): Promise<SnapshotMeta> {
  const existing = await fs.list(dataDir);
  if (existing.length > 0) {
    throw new ConfigError(`--restore needs an empty data dir, but ${dataDir} holds ${existing.length} entries (${existing.slice(0, 3).join(', ')}); choose another --data-dir`);
  }
  const backup = await readSnapshotFile(fs, backupFile);
  const meta: SnapshotMeta = { index: backup.meta.index, term: backup.meta.term, config: { voters: [...voters], learners: [] } };
  const layout = dataDirLayout(dataDir);
  const store = await SnapshotStore.open(fs, layout.snapshots);
  await store.save(meta, [backup.data]);
  const { wal } = await Wal.open(fs, layout.wal);
  try {
    await wal.compact({ index: meta.index, term: meta.term }, { term: meta.term, vote: 0, commit: meta.index });
  } finally {
    await wal.close();
  }
  return meta;
}
