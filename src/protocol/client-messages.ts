import type { ConfChange } from '../core/membership.js';
import type { Index, MemberAddress, NodeId, Role, SnapshotMeta, Term } from '../core/types.js';

/**
 * The client protocol: the same 4-byte-length msgpack framing on the same port as
 * the peers. A client sends requests; the node answers each on the same connection
 * with a response carrying the same `requestId` (chosen by the client, unique per
 * connection).
 */

export type KvOperation =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'delete'; readonly key: string }
  /** Compare-and-set: applies `value` only when the current value equals `expect`
   * (`null` means "absent"). */
  | { readonly op: 'cas'; readonly key: string; readonly expect: string | null; readonly value: string };

export const KV_OPERATIONS: readonly KvOperation['op'][] = ['put', 'get', 'delete', 'cas'];

export interface StatusRequest {
  readonly type: 'StatusRequest';
  readonly requestId: number;
}

export interface KvRequest {
  readonly type: 'KvRequest';
  readonly requestId: number;
  readonly operation: KvOperation;
  /** A write's session: the pair (clientId, seq) is applied at most once (Raft
   * thesis §6.3). Reads carry them too but are never deduplicated. */
  readonly clientId: string;
  readonly seq: number;
  /** The lowest seq this client has not yet seen answered; the node may forget
   * results below it. */
  readonly firstUnackedSeq: number;
  /** Read from this node's state machine without ReadIndex: may be stale. */
  readonly stale: boolean;
}

/**
 * A consistent copy of the whole state (etcdctl snapshot save): unless `stale`, the
 * node first confirms it leads and has applied everything committed (ReadIndex), so
 * the copy is a linearizable point; `stale` copies whatever this node has applied.
 */
export interface SnapshotRequest {
  readonly type: 'SnapshotRequest';
  readonly requestId: number;
  readonly stale: boolean;
}

/**
 * Hand leadership to `target` (0: the most caught-up voter), as etcdctl move-leader.
 * Sent to the leader (a follower answers NOT_LEADER with a hint); answered once the
 * leader sees its successor elected, with a TransferLeaderResponse naming it.
 */
export interface TransferLeaderRequest {
  readonly type: 'TransferLeaderRequest';
  readonly requestId: number;
  readonly target: NodeId;
}


/** The members as the leader sees them (etcdctl member list); only the leader
 * answers, since only it knows each member's match index. */
export interface MemberListRequest {
  readonly type: 'MemberListRequest';
  readonly requestId: number;
}

/** A change a client may ask for: every ConfChange but the bootstrap entry. */
export type MemberChange = Exclude<ConfChange, { readonly op: 'bootstrap' }>;

/** One membership change through the leader; answered once it is applied there.
 * An add-learner of a node that is already a learner at the same address succeeds
 * without a new entry, so a joining node can always ask. */
export interface MemberChangeRequest {
  readonly type: 'MemberChangeRequest';
  readonly requestId: number;
  readonly change: MemberChange;
}

export type ClientRequest = StatusRequest | KvRequest | SnapshotRequest | TransferLeaderRequest | MemberListRequest | MemberChangeRequest;

export type MemberRole = 'voter' | 'learner';

/** One member in a MemberListResponse. */
export interface MemberInfo {
  readonly id: NodeId;
  /** The address its configuration entry carries ('' when none is known). */
  readonly address: string;
  readonly role: MemberRole;
  /** The highest log index known to be on it (the leader's own last index for itself). */
  readonly match: Index;
  /** How many entries it is behind the leader's last index. */
  readonly lag: number;
}

export interface MemberListResponse {
  readonly type: 'MemberListResponse';
  readonly requestId: number;
  readonly members: readonly MemberInfo[];
}

/** The configuration after the change, and the index of the entry that made it
 * (for an idempotent repeat: the index the leader had applied). */
export interface MemberChangeResponse {
  readonly type: 'MemberChangeResponse';
  readonly requestId: number;
  readonly index: Index;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly addresses: readonly MemberAddress[];
}

export interface NodeStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: Term;
  /** 0 when no leader is known. */
  readonly leader: NodeId;
  readonly leaderAddress: string | null;
  readonly commit: Index;
  readonly applied: Index;
  readonly lastIndex: Index;
  /** Index of the node's newest snapshot (0: none). */
  readonly snapshotIndex: Index;
  /** The first index still in the node's log; entries before it are compacted. */
  readonly firstIndex: Index;
  /** The cluster id every peer hello carries ('' when the node runs without one); a
   * node joining with --join learns it here. */
  readonly clusterId: string;
  readonly pid: number;
  /** Whether this node is a voter or a learner in the configuration it has applied;
   * 'none' before it has one (a joining node) or after its removal. */
  readonly membership: MemberRole | 'none';
}

export interface StatusResponse {
  readonly type: 'StatusResponse';
  readonly requestId: number;
  readonly status: NodeStatus;
}

/** The outcome of a KV operation. `value` is the value read (get), the previous
 * value (put, delete) or the current value after the attempt (cas); null = absent.
 * `ok` is false only for a cas whose expectation did not hold. */
export interface KvResult {
  readonly ok: boolean;
  readonly value: string | null;
  /** Log index the operation was applied at (0 for reads). */
  readonly index: Index;
}

export interface KvResponse {
  readonly type: 'KvResponse';
  readonly requestId: number;
  readonly result: KvResult;
}

export type ErrorCode =
  /** This node is not the leader; `leader`/`leaderAddress` hint where to go. */
  | 'NOT_LEADER'
  /** The request exceeds a configured limit; it never reached the log. */
  | 'TOO_LARGE'
  /** The request is malformed; it never reached the log. */
  | 'BAD_REQUEST'
  /** The node lost leadership or shut down before the outcome was known: the
   * operation may or may not have been applied. */
  | 'UNKNOWN_OUTCOME'
  /** The node is overloaded and refused the request before it reached the log. */
  | 'BUSY'
  /** Leadership transfer refused: the target already leads. */
  | 'TRANSFER_TO_SELF'
  /** Leadership transfer refused: the target is a learner. */
  | 'TRANSFER_TO_LEARNER'
  /** Leadership transfer refused: the target is not a member. */
  | 'TRANSFER_NOT_MEMBER'
  /** Leadership transfer refused: no other voter exists. */
  | 'TRANSFER_NO_TARGET'
  /** Leadership transfer abandoned: the target did not catch up within an election timeout. */
  | 'TRANSFER_TARGET_LAGGING'
  /** Leadership transfer abandoned otherwise (no successor in time, superseded, shutdown). */
  | 'TRANSFER_ABORTED'
  /** A membership change the leader refused (id present, address used, last voter,
   * a learner far behind, no live quorum after it); retrying will not help as is. */
  | 'CHANGE_REFUSED'
  /** Another membership change (or the new leader's first entry) is not applied yet;
   * retry shortly. */
  | 'CHANGE_PENDING'
  /** A promotion the leader refused because the learner is too far behind; retry
   * once it has caught up. */
  | 'LEARNER_BEHIND';

export interface ErrorResponse {
  readonly type: 'ErrorResponse';
  readonly requestId: number;
  readonly code: ErrorCode;
  readonly message: string;
  readonly leader: NodeId;
  readonly leaderAddress: string | null;
}

/** The state machine's snapshot bytes at `snapshot.index`, in one frame. */
export interface SnapshotResponse {
  readonly type: 'SnapshotResponse';
  readonly requestId: number;
  readonly snapshot: SnapshotMeta;
  readonly data: Uint8Array;
}

/** The transfer completed: `leader` was elected (the old leader saw it). */
export interface TransferLeaderResponse {
  readonly type: 'TransferLeaderResponse';
  readonly requestId: number;
  readonly leader: NodeId;
}

export type ClientResponse = StatusResponse | KvResponse | ErrorResponse | SnapshotResponse | TransferLeaderResponse | MemberListResponse | MemberChangeResponse;

export const CLIENT_REQUEST_TYPES: readonly ClientRequest['type'][] = ['StatusRequest', 'KvRequest', 'SnapshotRequest', 'TransferLeaderRequest', 'MemberListRequest', 'MemberChangeRequest'];
export const CLIENT_RESPONSE_TYPES: readonly ClientResponse['type'][] = [
  'StatusResponse',
  'KvResponse',
  'ErrorResponse',
  'SnapshotResponse',
  'TransferLeaderResponse',
  'MemberListResponse',
  'MemberChangeResponse',
];
export const ERROR_CODES: readonly ErrorCode[] = [
  'NOT_LEADER',
  'TOO_LARGE',
  'BAD_REQUEST',
  'UNKNOWN_OUTCOME',
  'BUSY',
  'TRANSFER_TO_SELF',
  'TRANSFER_TO_LEARNER',
  'TRANSFER_NOT_MEMBER',
  'TRANSFER_NO_TARGET',
  'TRANSFER_TARGET_LAGGING',
  'TRANSFER_ABORTED',
  'CHANGE_REFUSED',
  'CHANGE_PENDING',
  'LEARNER_BEHIND',
];

/** Error codes that refuse or end a leadership transfer: definite, never retried. */
export const TRANSFER_ERROR_CODES: readonly ErrorCode[] = ERROR_CODES.filter((code) => code.startsWith('TRANSFER_'));
