import type { AppendRequest, HeartbeatRequest, InstallSnapshot, PeerMessage } from './messages.js';
import type { Raft } from './raft.js';
import type { EntryId, Index, NodeId } from './types.js';
import { campaign } from './candidate.js';

/** A follower's handling of its leader's messages (etcd stepFollower). */
export function stepFollower(r: Raft, m: PeerMessage): void {
  switch (m.type) {
    case 'AppendRequest':
      heardFromLeader(r, m.from);
      handleAppend(r, m);
      r.confirmRemoval(m.commit, true);
      break;
    case 'HeartbeatRequest':
      heardFromLeader(r, m.from);
      handleHeartbeat(r, m);
      r.confirmRemoval(m.commit, false);
      break;
    case 'InstallSnapshot':
      heardFromLeader(r, m.from);
      handleSnapshot(r, m);
      break;
    case 'TimeoutNow':
      // The leader hands over leadership: campaign now, skipping PreVote, with a
      // request that voters accept despite a live leader (thesis §3.10).
      if (r.hasUnappliedConfChange()) {
        // Campaign in the configuration the leader left, not a stale one.
        r.campaignAfterApply = true;
        break;
      }
      if (!r.isPromotable()) {
        r.logger.info({ from: m.from, term: r.term }, 'leadership transfer ignored: not a voter');
        break;
      }
      r.logger.info({ from: m.from, term: r.term }, 'leadership transfer requested, campaigning');
      campaign(r, false, true);
      break;
    default:
      r.logger.debug({ from: m.from, type: m.type }, 'follower ignored message');
  }
}

/** Any message from the leader of our term resets the election timer. */
export function heardFromLeader(r: Raft, leader: NodeId): void {
  r.electionElapsed = 0;
  if (r.leaderId !== leader) {
    r.leaderId = leader;
    r.logger.info({ leader, term: r.term }, 'following leader');
  }
}

/** Raft paper §5.3, AppendEntries receiver implementation. */
export function handleAppend(r: Raft, m: AppendRequest): void {
  const reply = (success: boolean, index: Index, hint: EntryId = { index: 0, term: 0 }): void =>
    r.send({ type: 'AppendResponse', from: r.id, to: m.from, term: r.term, success, index, hintIndex: hint.index, hintTerm: hint.term });
  if (m.prevLogIndex < r.log.committed) {
    // Everything up to our commit index is settled; a stale or duplicated append.
    reply(true, r.log.committed);
    return;
  }
  if (!r.log.matchTerm(m.prevLogIndex, m.prevLogTerm)) {
    const hint = r.log.findConflictByTerm(Math.min(m.prevLogIndex, r.log.lastIndex()), m.prevLogTerm);
    r.logger.debug({ from: m.from, index: m.prevLogIndex, logTerm: m.prevLogTerm, hintIndex: hint.index, hintTerm: hint.term }, 'append rejected');
    reply(false, m.prevLogIndex, hint);
    return;
  }
  const lastNew = m.entries.length === 0 ? m.prevLogIndex : r.log.appendFromLeader(m.entries);
  r.log.commitTo(Math.min(m.commit, lastNew));
  if (m.entries.length > 0) r.logger.debug({ from: m.from, index: lastNew, entries: m.entries.length }, 'append accepted');
  reply(true, lastNew);
}

export function handleHeartbeat(r: Raft, m: HeartbeatRequest): void {
  // The leader sends min(commit, what it knows we match), so our log matches the
  // leader's up to that point.
  r.log.commitTo(Math.min(m.commit, r.log.lastIndex()));
  r.logger.debug({ from: m.from, term: m.term, commit: m.commit }, 'heartbeat received');
  r.send({ type: 'HeartbeatResponse', from: r.id, to: m.from, term: r.term, context: m.context });
}

/**
 * Raft paper §7, Figure 13 (InstallSnapshot receiver), as etcd applies it:
 * - a snapshot at or below our commit index tells us nothing new: answer with the
 *   commit index so the leader resumes from there;
 * - if our log holds the snapshot's last entry (same index and term), the entries
 *   after it are kept and only the commit index moves (step 6); the entries up to it
 *   are applied from our own log, so the bytes are not needed;
 * - otherwise the whole log is discarded and replaced by the snapshot (step 7),
 *   which the driver makes durable and restores from before we answer.
 */
export function handleSnapshot(r: Raft, m: InstallSnapshot): void {
  const snapshot = m.snapshot;
  const reply = (index: number): void =>
    r.send({ type: 'AppendResponse', from: r.id, to: m.from, term: r.term, success: true, index, hintIndex: 0, hintTerm: 0 });
  if (snapshot.index <= r.log.committed) {
    r.logger.info({ from: m.from, index: snapshot.index, commit: r.log.committed }, 'ignored snapshot at or below the commit index');
    reply(r.log.committed);
    return;
  }
  if (r.log.matchTerm(snapshot.index, snapshot.term)) {
    r.log.commitTo(snapshot.index);
    r.logger.info({ from: m.from, index: snapshot.index, lastIndex: r.log.lastIndex() }, 'snapshot matches the log: kept the entries after it');
    reply(r.log.committed);
    return;
  }
  r.logger.info({ from: m.from, index: snapshot.index, snapshotTerm: snapshot.term, lastIndex: r.log.lastIndex() }, 'installing snapshot: log replaced');
  r.log.restore(snapshot);
  r.restoreMembership(snapshot.config);
  reply(r.log.lastIndex());
}
