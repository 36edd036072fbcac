import { stepFollower } from './follower.js';
import type { PeerMessage, VoteResponse } from './messages.js';
import { voteOutcome } from './quorum.js';
import type { Raft } from './raft.js';
import type { NodeId } from './types.js';
import { NO_NODE } from './types.js';

/** A (pre-)candidate's handling of messages of its term (etcd stepCandidate). */
export function stepCandidate(r: Raft, votes: Map<NodeId, boolean>, m: PeerMessage): void {
  switch (m.type) {
    case 'AppendRequest':
    case 'HeartbeatRequest':
    case 'InstallSnapshot':
      // Raft paper §5.2: a candidate that hears from a leader of its term steps down
      // and handles the message as that leader's follower.
      r.becomeFollower(r.term, NO_NODE, 'leader of this term exists');
      stepFollower(r, m);
      break;
    case 'VoteResponse':
      onVoteResponse(r, votes, m);
      break;
    default:
      r.logger.debug({ from: m.from, type: m.type }, 'candidate ignored message');
  }
}

function onVoteResponse(r: Raft, votes: Map<NodeId, boolean>, m: VoteResponse): void {
  if (m.pre !== (r.role === 'pre-candidate')) return;
  if (votes.has(m.from)) return;
  votes.set(m.from, m.granted);
  r.logger.debug({ from: m.from, granted: m.granted, pre: m.pre, term: m.term }, 'vote received');
  const outcome = voteOutcome(r.membership.voters, votes);
  if (outcome === 'won') {
    if (r.role === 'pre-candidate') campaign(r, false, false);
    else r.becomeLeader();
  } else if (outcome === 'lost') {
    r.becomeFollower(r.term, NO_NODE, m.pre ? 'pre-vote lost' : 'election lost');
  }
}

/** Followers and candidates: campaign when the randomized election timeout passes. */
export function tickElection(r: Raft): void {
  r.electionElapsed += 1;
  // A learner, a node still joining, or a removed node never campaigns. Its timer
  // keeps running, so once the leader has been silent for an election timeout it no
  // longer refuses votes for a live leader: it may be a voter in the candidate's newer
  // configuration that it has not applied yet.
  if (!r.isPromotable()) return;
  if (r.electionElapsed < r.randomizedElectionTicks) return;
  r.electionElapsed = 0;
  r.logger.warn({ term: r.term, leader: r.leaderId, ticks: r.randomizedElectionTicks }, 'election timeout, campaigning');
  r.hup();
}

/** Starts a PreVote round (thesis §9.6) or a real election (paper §5.2). */
export function campaign(r: Raft, pre: boolean, transfer: boolean): void {
  const votes = pre ? r.becomePreCandidate() : r.becomeCandidate();
  const voteTerm = pre ? r.term + 1 : r.term;
  votes.set(r.id, true);
  if (voteOutcome(r.membership.voters, votes) === 'won') {
    // A single-node cluster wins at once.
    if (pre) campaign(r, false, transfer);
    else r.becomeLeader();
    return;
  }
  const last = r.log.lastEntryId();
  for (const peer of r.voterPeers()) {
    r.send({ type: 'VoteRequest', from: r.id, to: peer, term: voteTerm, pre, lastLogIndex: last.index, lastLogTerm: last.term, transfer });
  }
}
