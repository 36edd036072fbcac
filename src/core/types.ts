/**
 * Value types shared by the whole protocol. Ids, terms and indexes are plain safe
 * integers; the transport gateway (src/transport/codec.ts) guarantees that for
 * everything that arrives from the network, so the core only asserts.
 */

/** A node's id: a positive safe integer. 0 means "none" (no leader, no vote). */
export type NodeId = number;
/** A Raft term (Raft paper §5.1): starts at 0, only ever grows. */
export type Term = number;
/** A log index: the first entry has index 1; 0 is the empty log's "last index". */
export type Index = number;

export const NO_NODE: NodeId = 0;

/** Identifies one log entry across the cluster (Raft paper §5.3, Log Matching). */
export interface EntryId {
  readonly term: Term;
  readonly index: Index;
}

export const enum EntryKind {
  /** Appended by a new leader to commit entries of earlier terms (§5.4.2, §8). */
  Noop = 0,
  /** A state machine command; data is opaque to the core. */
  Command = 1,
  /** A membership change (membership.ts), applied by the core itself when the
   * entry is applied; it never reaches the state machine. */
  ConfChange = 2,
}

export interface Entry {
  readonly term: Term;
  readonly index: Index;
  readonly kind: EntryKind;
  readonly data: Uint8Array;
}

/** What must be durable before a node answers a vote or an append (Raft paper Figure 2). */
export interface HardState {
  readonly term: Term;
  readonly vote: NodeId;
  readonly commit: Index;
}

/** Where a member is reached; opaque to the core, which only carries it. */
export interface MemberAddress {
  readonly id: NodeId;
  readonly address: string;
}

/** The members at some log index: who votes and who only receives the log. */
export interface ClusterConfig {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** Each member's address, as given when it joined (absent: the bootstrap peers'). */
  readonly addresses?: readonly MemberAddress[];
}

/**
 * What a snapshot stands for (Raft paper §7): the state machine after applying every
 * entry up to `index`, whose entry had `term`, with the configuration in force there.
 * The bytes themselves never enter the core; the driver stores and moves them.
 */
export interface SnapshotMeta {
  readonly index: Index;
  readonly term: Term;
  readonly config: ClusterConfig;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: NO_NODE, commit: 0 };

export function isHardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** Bytes an entry contributes to flow-control limits (payload plus a fixed header). */
export function entryBytes(entry: Entry): number {
  return entry.data.byteLength + 16;
}
