import { assert } from '../../errors.js';
import type { Index } from '../types.js';
import { Inflights } from './inflights.js';

/**
 * The leader's view of one follower (etcd tracker.Progress).
 *
 * - probe: we do not know where the follower's log matches ours; send one append at
 *   a time and wait for its answer (or a heartbeat response) before the next.
 * - replicate: the follower is in sync; pipeline appends up to the inflight window,
 *   optimistically advancing `next`.
 * - snapshot: the follower needs entries the leader compacted away; a snapshot at
 *   `pendingSnapshot` is being streamed to it and nothing else is sent until the
 *   driver reports the outcome or the follower acknowledges it (etcd StateSnapshot).
 *
 * Invariant: match < next.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  state: ProgressState = 'probe';
  /** Highest index known to be stored on the follower. */
  match: Index = 0;
  /** Next index to send. */
  next: Index;
  /** In probe state: an append is outstanding; wait before sending another. */
  probeSent = false;
  /** In snapshot state: the index of the snapshot being sent (0 otherwise). */
  pendingSnapshot: Index = 0;
  /** Heard from since the last CheckQuorum round (thesis §6.2). */
  recentActive = false;
  /** Set when the follower was found behind (a rejection, or a long lag), cleared
   * when it matches the leader's last index again; only for logging. */
  lagging = false;
  /** Tick (of the leader's tick counter) of the last message from this follower. */
  lastContactTick = 0;
  /** Appends in flight in replicate state (the pipeline window). */
  private readonly inflights: Inflights;

  constructor(next: Index, inflightMax: number, inflightBytesMax: number) {
    this.next = next;
    this.inflights = new Inflights(inflightMax, inflightBytesMax);
  }

  becomeProbe(): void {
    // After a rejection or a lost connection we do not know the follower's log:
    // restart from just after what it is known to store. After a snapshot was
    // delivered, the follower holds at least the snapshot (etcd BecomeProbe).
    const delivered = this.state === 'snapshot' ? this.pendingSnapshot : 0;
    this.state = 'probe';
    this.next = Math.max(this.match + 1, delivered + 1);
    this.pendingSnapshot = 0;
    this.probeSent = false;
    this.inflights.reset();
  }

  /** Starts sending the snapshot at `index`; appends wait until it is settled. */
  becomeSnapshot(index: Index): void {
    this.state = 'snapshot';
    this.pendingSnapshot = index;
    this.next = index + 1;
    this.probeSent = false;
    this.inflights.reset();
  }

  /** The snapshot transfer failed: probe again from what the follower is known to hold. */
  abortSnapshot(): void {
    this.pendingSnapshot = 0;
    this.becomeProbe();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.pendingSnapshot = 0;
    this.probeSent = false;
  }

  /** Whether the leader must hold back appends to this follower. */
  isPaused(): boolean {
    if (this.state === 'snapshot') return true;
    if (this.state === 'probe') return this.probeSent;
    return this.inflights.full();
  }

  /** Records an append that was just sent whose last entry is `lastIndex`. */
  sentEntries(lastIndex: Index, bytes: number): void {
    if (this.state === 'replicate') {
      this.next = lastIndex + 1;
      this.inflights.add(lastIndex, bytes);
    } else {
      this.probeSent = true;
    }
  }

  /** The follower answered a heartbeat: it is alive. Let at least one append through
   * so lost appends are noticed (etcd frees one inflight slot here). */
  onHeartbeatResponse(): void {
    this.probeSent = false;
    // Full by count or by bytes: either way nothing would be sent (etcd's
    // Inflights.Full covers both).
    if (this.state === 'replicate' && this.isPaused()) this.inflights.freeFirst();
  }

  /** A success response up to `index`. Returns whether match advanced. */
  maybeUpdate(index: Index): boolean {
    this.inflights.freeTo(index);
    if (index <= this.match) return false;
    this.match = index;
    if (this.next <= index) this.next = index + 1;
    this.probeSent = false;
    return true;
  }

  /**
   * A rejection of an append whose prevLogIndex was `rejected`; `hintIndex` is the
   * follower's suggestion for the highest index that might match. Returns false for a
   * stale rejection that must be ignored (etcd Progress.MaybeDecrTo).
   */
  maybeDecreaseTo(rejected: Index, hintIndex: Index): boolean {
    // A rejection during a snapshot transfer answers an append sent before it; the
    // snapshot's outcome decides where replication resumes.
    if (this.state === 'snapshot') return false;
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.becomeProbe();
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hintIndex + 1), this.match + 1);
    this.probeSent = false;
    assert(this.match < this.next, 'progress invariant match < next violated');
    return true;
  }

  inflightCount(): number {
    return this.inflights.size();
  }
}
