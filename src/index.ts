/**
 * raft-ts public API: the client library for applications, and the building blocks
 * (core, storage, transport, driver, state machine) for those who embed Raft.
 */
export * from './client/index.js';
export type { KvOperation, KvResult, MemberChange, MemberInfo, MemberRole, NodeStatus } from './protocol/client-messages.js';
export * as core from './core/index.js';
export { RaftNode } from './node/raft-node.js';
export type { RaftNodeOptions } from './node/raft-node.js';
export { createNode } from './node/create-node.js';
export type { CreateNodeOptions, NodeHandle } from './node/create-node.js';
export type { SnapshotPolicy, SnapshotStorage } from './node/snapshot-storage.js';
export { DEFAULT_SNAPSHOT_POLICY } from './node/snapshot-storage.js';
export type { Entry, NodeId, SnapshotMeta } from './core/types.js';
export { NotLeaderError, UnknownOutcomeError } from './node/pending-requests.js';
export type { StateMachine, StateMachineSnapshot } from './kv/state-machine.js';
export { KvStateMachine } from './kv/kv-state-machine.js';
export * from './storage/index.js';
export { TcpTransport } from './transport/tcp-transport.js';
export type { Transport } from './transport/tcp-transport.js';
export { RaftError, ConfigError, CorruptLogError, CorruptSnapshotError, StorageError, InvariantError } from './errors.js';
export { loadTlsMaterial } from './tls/tls-config.js';
export type { TlsFiles, TlsMaterial } from './tls/tls-config.js';
export type { Identity } from './tls/identity.js';
