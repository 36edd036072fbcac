import { RaftError } from '../errors.js';
import type { ErrorCode } from '../protocol/client-messages.js';

/** The deadline passed before a definite answer: a write may or may not be applied. */
export class ClientTimeoutError extends RaftError {
  constructor(message: string) {
    super('RAFT_TIMEOUT', message);
  }
}

/** No node of the cluster accepted a connection before the deadline. */
export class NoReachableNodeError extends RaftError {
  constructor(readonly cluster: readonly string[]) {
    super('RAFT_UNREACHABLE', `no node of the cluster is reachable (${cluster.join(', ')})`);
  }
}

/** The cluster refused the request before it reached the log (too large, malformed):
 * it definitely did not happen, and retrying will not help. */
export class RequestRefusedError extends RaftError {
  constructor(readonly reason: ErrorCode, message: string) {
    super('RAFT_REFUSED', message);
  }
}

/** A connection closed or failed with requests outstanding. */
export class ConnectionLostError extends RaftError {
  constructor(readonly address: string, options?: ErrorOptions) {
    super('RAFT_CONNECTION_LOST', `connection to ${address} lost`, options);
  }
}

/**
 * The connection's security failed: the node wants a certificate we did not give, our
 * certificate is not from its CA, or its certificate is not from ours. Definite:
 * retrying with the same settings cannot help.
 */
export class ClientTlsError extends RaftError {
  constructor(readonly address: string, message: string, options?: ErrorOptions) {
    super('RAFT_TLS', `${address}: ${message}`, options);
  }
}

/** The leader refused a membership change: `reason` is CHANGE_REFUSED (an id
 * already present, an address in use, the last voter, no live quorum after it) or
 * LEARNER_BEHIND (a promotion of a learner far behind); the message is the
 * leader's own sentence. The change did not happen. */
export class MemberChangeRefusedError extends RaftError {
  constructor(readonly reason: 'CHANGE_REFUSED' | 'LEARNER_BEHIND', message: string) {
    super('RAFT_CHANGE_REFUSED', message);
  }
}

/** Another membership change stayed pending until the deadline; this one was not made. */
export class MemberChangePendingError extends RaftError {
  constructor(message: string) {
    super('RAFT_CHANGE_PENDING', message);
  }
}
