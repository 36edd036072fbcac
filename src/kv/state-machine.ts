import type { Entry } from '../core/types.js';

/**
 * The application a Raft log drives (hashicorp's FSM contract). The driver calls
 * `apply` once for every committed command entry, in log order, on every node.
 */
export interface StateMachine<Result> {
  /** Must be deterministic: the same entries in the same order give the same state
   * and results on every node. Must not throw for any committed entry. */
  apply(entry: Entry): Result;
  /** A point-in-time copy of the whole state. */
  snapshot(): Uint8Array;
  /** Replaces the whole state with a snapshot's. */
  restore(data: Uint8Array): void;
}
