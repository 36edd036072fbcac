import type { ConfChange } from './membership.js';
import type { Entry, Index, NodeId, SnapshotMeta, Term } from './types.js';

/**
 * Messages between peers. Every one carries the sender, the addressee and the
 * sender's term, so the term rules (Raft paper §5.1) are applied once, in
 * RaftCore.step, before any role-specific handling.
 */
interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
}

/**
 * RequestVote (Raft paper §5.2) or, with `pre`, a PreVote (Raft thesis §9.6). A
 * PreVote carries the term the sender *would* campaign in, and changes no state on
 * the receiver.
 */
export interface VoteRequest extends Envelope {
  readonly type: 'VoteRequest';
  readonly pre: boolean;
  readonly lastLogIndex: Index;
  readonly lastLogTerm: Term;
  /** Set when the campaign was started by a leadership transfer (TimeoutNow); such a
   * request may disrupt a live leader (Raft thesis §3.10). */
  readonly transfer: boolean;
}

export interface VoteResponse extends Envelope {
  readonly type: 'VoteResponse';
  readonly pre: boolean;
  readonly granted: boolean;
}

/** AppendEntries (Raft paper §5.3). */
export interface AppendRequest extends Envelope {
  readonly type: 'AppendRequest';
  readonly prevLogIndex: Index;
  readonly prevLogTerm: Term;
  readonly entries: readonly Entry[];
  readonly commit: Index;
}

/**
 * The answer to an AppendRequest. On success `index` is the last index the follower
 * now matches. On rejection `index` echoes the request's prevLogIndex, and
 * (`hintIndex`, `hintTerm`) tell the leader where to look next: the follower's last
 * index if its log is shorter, otherwise the first index of the conflicting term (Raft
 * paper §5.3, the optimisation at the end of the section; etcd's findConflictByTerm).
 */
export interface AppendResponse extends Envelope {
  readonly type: 'AppendResponse';
  readonly success: boolean;
  readonly index: Index;
  readonly hintIndex: Index;
  readonly hintTerm: Term;
}

/**
 * Heartbeats are separate from appends (as in etcd) so they stay tiny and carry no
 * log position: the follower learns at most min(commit, its matched index) from one.
 * `context` ties a heartbeat round to pending ReadIndex requests (0 = none).
 */
export interface HeartbeatRequest extends Envelope {
  readonly type: 'HeartbeatRequest';
  readonly commit: Index;
  readonly context: number;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: 'HeartbeatResponse';
  readonly context: number;
}

/**
 * InstallSnapshot (Raft paper §7, Figure 13): the leader no longer holds the entries
 * this follower needs, so it sends its newest snapshot instead. The message names the
 * snapshot; the driver streams the bytes beside the message queue and steps the
 * message into the follower's core only once they have all arrived and verified
 * (etcd MsgSnap). The follower answers with an AppendResponse.
 */
export interface InstallSnapshot extends Envelope {
  readonly type: 'InstallSnapshot';
  readonly snapshot: SnapshotMeta;
}

/** Leadership transfer: the addressee should campaign at once (Raft thesis §3.10). */
export interface TimeoutNow extends Envelope {
  readonly type: 'TimeoutNow';
}

export type PeerMessage =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | InstallSnapshot
  | TimeoutNow;

export type PeerMessageType = PeerMessage['type'];

export const PEER_MESSAGE_TYPES: readonly PeerMessageType[] = [
  'VoteRequest',
  'VoteResponse',
  'AppendRequest',
  'AppendResponse',
  'HeartbeatRequest',
  'HeartbeatResponse',
  'InstallSnapshot',
  'TimeoutNow',
];

/** A proposal's payload; the leader assigns term and index. */
export interface ProposedEntry {
  readonly kind: Entry['kind'];
  readonly data: Uint8Array;
}

/**
 * Requests from the local node, never from the wire: kept as a separate union so
 * the compiler rejects what etcd checks at run time (ErrStepLocalMsg).
 */
export type LocalInput =
  | { readonly type: 'Campaign' }
  | { readonly type: 'Propose'; readonly entries: readonly ProposedEntry[] }
  | { readonly type: 'ReadIndex'; readonly requestId: number }
  | { readonly type: 'ReportUnreachable'; readonly peer: NodeId }
  /** Hand leadership to `target` (0: the most caught-up voter), Raft thesis §3.10. */
  | { readonly type: 'TransferLeader'; readonly target: NodeId }
  /** The driver finished streaming a snapshot to `peer` (`ok`) or gave up on it: a
   * failure, a timeout, a lost connection (etcd ReportSnapshot). */
  | { readonly type: 'ReportSnapshot'; readonly peer: NodeId; readonly ok: boolean }
  /** Leader only: propose one membership change (membership.ts). */
  | { readonly type: 'ProposeConfChange'; readonly change: ConfChange };

export function isPeerMessage(input: PeerMessage | LocalInput): input is PeerMessage {
  return 'from' in input;
}
