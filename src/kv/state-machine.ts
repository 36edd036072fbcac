import type { Entry } from '../core/types.js';

/**
 * A point-in-time view of a state machine, taken by `snapshot()`. It is what lets
 * a snapshot be written (to disk, to a follower) in the background while entries go
 * on being applied: the view never changes, however the live state does.
 */
export interface StateMachineSnapshot {
  /** Serializes the view as a sequence of chunks (each at most ~1 MiB). The caller may await between chunks while
   *  apply() continues on the live state: the bytes produced are those of the state at the moment snapshot() was
   *  called, whatever is applied meanwhile. */
  chunks(): Iterable<Uint8Array>;
  /** Lets the state machine stop preserving this view. Called once, after chunks() is exhausted or abandoned. */
  release(): void;
}

/**
 * The application a Raft log drives (hashicorp's FSM contract). The driver calls
 * `apply` once for every committed command entry, in log order, on every node.
 */
export interface StateMachine<Result> {
  /** Deterministic; must not throw for any committed entry. */
  apply(entry: Entry): Result;
  /** An immutable point-in-time view of the whole state (including client sessions) at the last applied entry.
   *  Must return quickly (O(1) or O(log n)), not copy the whole state: hashicorp's FSM.Snapshot contract. */
  snapshot(): StateMachineSnapshot;
  /** Replaces the whole state with the one a snapshot's chunks, concatenated, describe. Throws on malformed data. */
  restore(data: Uint8Array): void;
  /**
   * Throws when `data` is not a snapshot restore() would accept; changes nothing.
   * The driver asks before a leader's snapshot replaces the log, so bytes it could not
   * restore are refused there instead of stopping the node after the log is gone.
   * Optional: without it, a snapshot is only checked by restore().
   */
  verifySnapshot?(data: Uint8Array): void;
}
