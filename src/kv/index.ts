export type { StateMachine, StateMachineSnapshot } from './state-machine.js';
export { KvStateMachine } from './kv-state-machine.js';
export type { KvStateMachineOptions } from './kv-state-machine.js';
export { DEFAULT_KV_LIMITS, checkKvLimits, decodeKvCommand, encodeKvCommand } from './kv-command.js';
export type { KvCommand, KvLimits } from './kv-command.js';
export { SNAPSHOT_CHUNK_BYTES } from './snapshot-codec.js';
