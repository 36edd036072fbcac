import { RaftError } from '../errors.js';
import type { TransferAbortReason, TransferRefusal } from '../core/transfer.js';
import type { Index, NodeId, Term } from '../core/types.js';

/** The leader lost leadership (or shut down) before the outcome was known: the
 * write may or may not be applied (hashicorp ErrLeadershipLost). */
export class UnknownOutcomeError extends RaftError {
  constructor(message: string) {
    super('RAFT_UNKNOWN_OUTCOME', message);
  }
}

/** The leader refused a membership change; `reason` says which rule. */
export class MembershipChangeError extends RaftError {
  constructor(readonly reason: 'change-pending' | 'invalid-change' | 'learner-behind' | 'no-quorum', message: string) {
    super(reason === 'change-pending' ? 'RAFT_CHANGE_PENDING' : 'RAFT_CHANGE_REFUSED', message);
  }
}

export class NotLeaderError extends RaftError {
  constructor(readonly leader: NodeId) {
    super('RAFT_NOT_LEADER', leader === 0 ? 'no leader is known' : `not the leader; node ${leader} is`);
  }
}

const REFUSAL_TEXT: Record<TransferRefusal, string> = {
  'transfer-to-self': 'this node already leads',
  'transfer-to-learner': 'the target is a learner and cannot lead',
  'transfer-to-non-member': 'the target is not a member of the cluster',
  'no-transfer-target': 'no other voter to hand leadership to',
};

/** The leader refused a leadership transfer before starting it; `reason` is stable. */
export class TransferRefusedError extends RaftError {
  constructor(
    readonly reason: TransferRefusal,
    readonly target: NodeId,
  ) {
    super('RAFT_TRANSFER_REFUSED', `leadership transfer to ${target === 0 ? 'the most caught-up voter' : `node ${target}`} refused: ${REFUSAL_TEXT[reason]}`);
  }
}

/** Why a started transfer ended without a successor, as the driver sees it: the
 * core's reasons, or no successor seen within the driver's bound, or shutdown. */
export type TransferFailure = TransferAbortReason | 're-elected' | 'shutting-down';

const ABORT_TEXT: Record<TransferFailure, string> = {
  'target-lagging': 'the target did not catch up within an election timeout',
  timeout: 'the target did not take over within an election timeout',
  superseded: 'a transfer to another node replaced it',
  'stepped-down': 'this node stepped down before a successor was known',
  're-elected': 'this node was elected again',
  'shutting-down': 'the node is shutting down',
};

/** A leadership transfer started but was abandoned; `reason` is stable. */
export class TransferAbortedError extends RaftError {
  constructor(
    readonly reason: TransferFailure,
    readonly target: NodeId,
  ) {
    super('RAFT_TRANSFER_ABORTED', `leadership transfer to node ${target} aborted: ${ABORT_TEXT[reason]}`);
  }
}

interface Waiter<T> {
  readonly resolve: (value: T) => void;
  readonly reject: (err: Error) => void;
}

/**
 * Proposals waiting for their entry to be applied, keyed by (index, term): when the
 * entry at that index is applied, the waiter of the same term gets the result; a
 * different term there means our entry was overwritten (hashicorp futures).
 */
export class PendingProposals<T> {
  private readonly waiting = new Map<Index, { term: Term; waiter: Waiter<T> }>();

  add(index: Index, term: Term): Promise<T> {
    return new Promise<T>((resolve, reject) => this.waiting.set(index, { term, waiter: { resolve, reject } }));
  }

  /** Called for every applied entry. */
  applied(index: Index, term: Term, result: T): void {
    const pending = this.waiting.get(index);
    if (pending === undefined) return;
    this.waiting.delete(index);
    if (pending.term === term) pending.waiter.resolve(result);
    else pending.waiter.reject(new UnknownOutcomeError(`entry ${index} was replaced by a later leader's entry`));
  }

  /** An entry that settles no proposal was applied at `index`. */
  replaced(index: Index, term: Term): void {
    const pending = this.waiting.get(index);
    if (pending === undefined) return;
    this.waiting.delete(index);
    pending.waiter.reject(new UnknownOutcomeError(`entry ${index} was replaced by term ${term}'s entry`));
  }

  /** A snapshot replaced the state machine up to `index`: results of proposals at or
   * below it are unknown here (they may have been applied elsewhere). */
  replacedUpTo(index: Index): void {
    for (const [at, { waiter }] of this.waiting) {
      if (at > index) continue;
      this.waiting.delete(at);
      waiter.reject(new UnknownOutcomeError(`entry ${at} was covered by an installed snapshot`));
    }
  }

  failAll(err: Error): void {
    for (const { waiter } of this.waiting.values()) waiter.reject(err);
    this.waiting.clear();
  }

  get size(): number {
    return this.waiting.size;
  }
}

/** Linearizable reads waiting first for leadership confirmation, then for the state
 * machine to reach their read index (Raft thesis §6.4). */
export class PendingReads {
  private readonly confirming = new Map<number, Waiter<void>>();
  /** Confirmed reads waiting for `applied >= index`, in index order. */
  private readonly applying: { index: Index; waiter: Waiter<void> }[] = [];
  private nextRequestId = 1;

  add(): { requestId: number; done: Promise<void> } {
    const requestId = this.nextRequestId;
    this.nextRequestId += 1;
    const done = new Promise<void>((resolve, reject) => this.confirming.set(requestId, { resolve, reject }));
    return { requestId, done };
  }

  /** Forgets a read the core refused before it was ever pending there. */
  cancel(requestId: number): void {
    this.confirming.delete(requestId);
  }

  confirmed(requestId: number, index: Index, applied: Index): void {
    const waiter = this.confirming.get(requestId);
    if (waiter === undefined) return;
    this.confirming.delete(requestId);
    if (index <= applied) {
      waiter.resolve();
      return;
    }
    let at = this.applying.length;
    while (at > 0 && this.applying[at - 1]!.index > index) at -= 1;
    this.applying.splice(at, 0, { index, waiter });
  }

  applied(applied: Index): void {
    while (this.applying.length > 0 && this.applying[0]!.index <= applied) this.applying.shift()!.waiter.resolve();
  }

  failAll(err: Error): void {
    for (const waiter of this.confirming.values()) waiter.reject(err);
    this.confirming.clear();
    for (const { waiter } of this.applying) waiter.reject(err);
    this.applying.length = 0;
  }
}
