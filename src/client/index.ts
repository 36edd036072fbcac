export { RaftClient, connect } from './raft-client.js';
export type { ClientOptions, OperationOptions, ReadOptions, StatusRow } from './raft-client.js';
export { ClientTimeoutError, ClientTlsError, ConnectionLostError, MemberChangePendingError, MemberChangeRefusedError, NoReachableNodeError, RequestRefusedError } from './errors.js';
export { TCP_ENVIRONMENT } from './environment.js';
export type { ClientConnection, ClientEnvironment } from './environment.js';
export type { RequestBody } from './connection.js';
export { PROMOTE_CATCH_UP_LAG, addMember } from './membership.js';
export type { AddMemberOptions, MemberConfiguration } from './membership.js';
