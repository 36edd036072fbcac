import { assert } from '../errors.js';
import type { Raft } from './raft.js';
import type { ProgressTracker } from './tracker/progress-tracker.js';
import type { NodeId } from './types.js';
import { entryBytes } from './types.js';

/**
 * Sending the log to one follower (Raft paper §5.3), within its flow control: one
 * probe at a time while the match point is unknown, a window of appends once it is
 * (etcd raft.maybeSendAppend). Returns whether a message was sent.
 */
export function maybeSendAppend(r: Raft, tracker: ProgressTracker, peer: NodeId, sendIfEmpty: boolean): boolean {
  const progress = tracker.progressOf(peer);
  if (progress.isPaused()) return false;
  const lastIndex = r.log.lastIndex();
  const held = progress.next >= r.log.firstIndexHeld();
  const entries = held && progress.next <= lastIndex ? r.log.slice(progress.next, lastIndex + 1, r.config.appendBytesMax) : [];
  if (held && entries.length === 0 && !sendIfEmpty) return false;
  const prevLogIndex = progress.next - 1;
  const prevLogTerm = r.log.term(prevLogIndex);
  // The entries this follower needs were compacted into a snapshot (Raft paper §7).
  if (prevLogTerm === undefined) return maybeSendSnapshot(r, tracker, peer);
  r.send({ type: 'AppendRequest', from: r.id, to: peer, term: r.term, prevLogIndex, prevLogTerm, entries, commit: r.log.committed });
  const last = entries[entries.length - 1];
  if (last !== undefined) {
    let bytes = 0;
    for (const entry of entries) bytes += entryBytes(entry);
    progress.sentEntries(last.index, bytes);
    r.logger.debug({ peer, index: prevLogIndex + 1, entries: entries.length, bytes }, 'append sent');
  } else {
    progress.sentEntries(prevLogIndex, 0);
  }
  return true;
}

/**
 * Sends the newest snapshot to a follower that needs what the log no longer holds,
 * and holds back appends until the transfer is settled. A follower not heard from
 * lately is skipped: streaming megabytes into a dead link helps nobody (etcd).
 */
function maybeSendSnapshot(r: Raft, tracker: ProgressTracker, peer: NodeId): boolean {
  const progress = tracker.progressOf(peer);
  if (!progress.recentActive) {
    r.logger.debug({ peer }, 'snapshot not sent: follower not recently active');
    return false;
  }
  const snapshot = r.snapshot;
  assert(snapshot !== undefined && snapshot.index >= r.log.base().index, `log compacted to ${r.log.base().index} without a snapshot covering it`);
  r.send({ type: 'InstallSnapshot', from: r.id, to: peer, term: r.term, snapshot });
  progress.becomeSnapshot(snapshot.index);
  r.logger.info({ peer, index: snapshot.index, snapshotTerm: snapshot.term, match: progress.match }, 'sending snapshot');
  return true;
}

/** Fills every follower's window with what it has not been sent yet. */
export function broadcastAppends(r: Raft, tracker: ProgressTracker): void {
  for (const peer of tracker.peers()) {
    while (maybeSendAppend(r, tracker, peer, false)) {
      // Fill the window.
    }
  }
}

/**
 * Heartbeats to every follower. Each carries min(commit, what that follower is known
 * to match), so a follower never commits past a prefix it shares with the leader;
 * `context` ties the round to pending ReadIndex requests (0 = none).
 */
export function broadcastHeartbeat(r: Raft, tracker: ProgressTracker, context: number): void {
  const peers = tracker.peers();
  for (const peer of peers) {
    const commit = Math.min(tracker.progressOf(peer).match, r.log.committed);
    r.send({ type: 'HeartbeatRequest', from: r.id, to: peer, term: r.term, commit, context });
  }
  if (peers.length > 0) r.logger.debug({ term: r.term, peers: peers.length, context }, 'heartbeat sent');
}
