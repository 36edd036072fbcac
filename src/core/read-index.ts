import type { ReadState } from './ready.js';
import type { Index, NodeId } from './types.js';

interface PendingRead {
  readonly requestId: number;
  readonly index: Index;
  readonly context: number;
  readonly acks: Set<NodeId>;
}

/**
 * A leader's ReadIndex bookkeeping (Raft thesis §6.4; etcd read_only.go): reads
 * waiting for a heartbeat quorum, and reads that arrived before this leader
 * committed an entry of its own term and so cannot yet know the commit index.
 */
export class ReadIndexQueue {
  private pending: PendingRead[] = [];
  private awaitingOwnCommit: number[] = [];
  private contextSeq = 0;

  /** The newest round in flight (0 = none), so regular beats confirm reads too. */
  lastContext(): number {
    const last = this.pending[this.pending.length - 1];
    return last === undefined ? 0 : last.context;
  }

  /** Holds a read until the leader's own-term entry commits (thesis §6.4 step 1). */
  deferUntilOwnCommit(requestId: number): void {
    this.awaitingOwnCommit.push(requestId);
  }

  hasDeferred(): boolean {
    return this.awaitingOwnCommit.length > 0;
  }

  takeDeferred(): number[] {
    const waiting = this.awaitingOwnCommit;
    this.awaitingOwnCommit = [];
    return waiting;
  }

  /** A heartbeat round of its own (a leader handing over uses one to learn which
   * followers heard its commit index); no read waits on it. */
  newRound(): number {
    this.contextSeq += 1;
    return this.contextSeq;
  }

  /** Registers a read of `index`, acknowledged by the leader itself; returns its round. */
  register(requestId: number, index: Index, self: NodeId): number {
    this.contextSeq += 1;
    this.pending.push({ requestId, index, context: this.contextSeq, acks: new Set([self]) });
    return this.contextSeq;
  }

  /**
   * The configuration changed: acknowledgements count only from its voters (the
   * leader's own too, once it applied its own removal). Later ones come from voters.
   */
  keepAcksOf(isVoter: (id: NodeId) => boolean): void {
    for (const read of this.pending) {
      for (const id of read.acks) if (!isVoter(id)) read.acks.delete(id);
    }
  }

  /**
   * A heartbeat answer for round `context` proves this node was still leader after
   * every read registered in that round or earlier, so it acknowledges all of them.
   * Reads are released in order, up to the last one `quorum` members acknowledged.
   */
  acknowledge(peer: NodeId, context: number, quorum: number): ReadState[] {
    let lastConfirmed = -1;
    for (let i = 0; i < this.pending.length; i += 1) {
      const read = this.pending[i]!;
      if (read.context > context) break;
      read.acks.add(peer);
      if (read.acks.size >= quorum) lastConfirmed = i;
    }
    const confirmed = this.pending.splice(0, lastConfirmed + 1);
    return confirmed.map((read) => ({ requestId: read.requestId, index: read.index }));
  }
}
