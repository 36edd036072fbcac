import type { Entry } from '../core/types.js';

/**
 * A point-in-time view of a state machine, handed out by `snapshot()` and serialized
 * afterwards, in the background, while `apply` goes on (hashicorp's FSMSnapshot).
 */
export interface StateMachineSnapshot {
  /** Serializes the view as a sequence of chunks (each at most ~1 MiB). The caller may
   * await between chunks while apply() continues on the live state: the bytes produced
   * are those of the state at the moment snapshot() was called. */
  chunks(): Iterable<Uint8Array>;
  /** Lets the state machine stop preserving this view. Called once, after chunks() is
   * exhausted or abandoned. */
  release(): void;
}

/**
 * The application a Raft log drives (hashicorp's FSM contract). The driver calls
 * `apply` once for every committed command entry, in log order, on every node.
 */
export interface StateMachine<Result> {
  /** Must be deterministic: the same entries in the same order give the same state
   * and results on every node. Must not throw for any committed entry. */
  apply(entry: Entry): Result;
  /** An immutable point-in-time view of the whole state at the last applied entry.
   * Must return quickly, not copy the whole state (hashicorp FSM.Snapshot: "expensive
   * IO should happen as part of FSMSnapshot.Persist"). */
  snapshot(): StateMachineSnapshot;
  /** Replaces the whole state with the one a snapshot's chunks, concatenated,
   * describe. Throws on malformed data. */
  restore(data: Uint8Array): void;
}
