export type { LogStorage } from './log-storage.js';
export { MemoryStorage } from './log-storage.js';
export type { AppendHandle, FileSystem } from './file-system.js';
export { NodeFileSystem } from './file-system.js';
export { Wal } from './wal/wal.js';
export type { WalContents, WalOptions } from './wal/wal.js';
