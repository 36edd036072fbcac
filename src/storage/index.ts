export type { LogStorage } from './log-storage.js';
export { MemoryStorage } from './log-storage.js';
export type { AppendHandle, FileSystem } from './file-system.js';
export { NodeFileSystem } from './file-system.js';
export { DEFAULT_SEGMENT_BYTES_MAX, Wal } from './wal/wal.js';
export type { WalContents, WalOptions } from './wal/wal.js';
export type { ClusterConfig, LoadedSnapshot, SnapshotMeta, SnapshotStoreOptions } from './snapshot-store.js';
export { SnapshotStore, readSnapshotFile, snapshotFileName, writeSnapshotFile } from './snapshot-store.js';
