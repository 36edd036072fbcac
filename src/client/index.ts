export { RaftClient, connect } from './raft-client.js';
export type { ClientOptions, OperationOptions, ReadOptions, StatusRow } from './raft-client.js';
export { ClientTimeoutError, ClientTlsError, ConnectionLostError, NoReachableNodeError, RequestRefusedError } from './errors.js';
