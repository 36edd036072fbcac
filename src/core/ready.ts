import type { PeerMessage } from './messages.js';
import type { PeerMessageType } from './messages.js';
import type { ClusterConfig, Entry, HardState, Index, NodeId, Role, SnapshotMeta } from './types.js';

/** A ReadIndex request that the leader has confirmed: it may be served once the
 * state machine has applied `index` (Raft thesis §6.4). */
export interface ReadState {
  readonly requestId: number;
  readonly index: Index;
}

export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId;
}

/**
 * Everything the core wants done, handed to the driver as one batch (etcd Ready).
 * The driver must make `entries` and `hardState` durable (fsync when `mustSync`)
 * before it sends `messages`, and call `advance()` after both. Sending before the
 * write is durable would let a node promise (a vote, an append acknowledgement)
 * what a crash could take back (Raft thesis §3.8); the exception is what only a
 * leader sends (see `canSendBeforePersist`). `committedEntries` may be applied while
 * the write is in flight: they are durable on a quorum already (etcd's applier runs
 * beside its WAL save). While a Ready is outstanding, a leader may also take the
 * appends and heartbeats of new proposals (RaftCore.takeEarlyMessages) and the
 * entries its followers commit meanwhile (RaftCore.takeEarlyCommitted), which
 * advance() then counts as applied.
 */
export interface Ready {
  /** Present when role or leader changed since the last Ready. */
  readonly softState: SoftState | undefined;
  /** Present when the applied configuration changed since the last Ready: the
   * driver opens and closes peer links to follow it. */
  readonly membership: ClusterConfig | undefined;
  /** A leader's snapshot this follower accepted (Figure 13): make it durable and
   * restore the state machine from it before anything below; present at most once
   * per snapshot. Its bytes are the ones the driver received with the message. */
  readonly snapshot: SnapshotMeta | undefined;
  /** Present when term, vote or commit changed since the last Ready. */
  readonly hardState: HardState | undefined;
  /** Entries to append; the first may replace a suffix of what storage holds. */
  readonly entries: readonly Entry[];
  /** Whether the write must be fsynced before anything else happens: true when
   * entries, term or vote changed (a commit-only change can be lost and relearned). */
  readonly mustSync: boolean;
  readonly messages: readonly PeerMessage[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

/** Messages that promise nothing about this node's disk: a leader's appends,
 * heartbeats and snapshots. Its term is durable since it voted for itself, and it counts its own
 * copy of new entries only once they are durable (advance), so it may send them while
 * its own write is still in flight (Raft thesis §10.2.1). */
const SENDABLE_BEFORE_PERSIST: ReadonlySet<PeerMessageType> = new Set(['AppendRequest', 'HeartbeatRequest', 'InstallSnapshot', 'TimeoutNow']);

export function canSendBeforePersist(message: PeerMessage): boolean {
  return SENDABLE_BEFORE_PERSIST.has(message.type);
}
