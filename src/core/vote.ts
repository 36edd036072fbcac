import type { VoteRequest } from './messages.js';
import type { Raft } from './raft.js';
import { NO_NODE } from './types.js';

/**
 * The vote rule (Raft paper §5.2, §5.4.1; thesis §9.6), for a request whose term is
 * ours (a higher term was adopted, or set aside for a PreVote, before this runs).
 */
export function handleVoteRequest(r: Raft, m: VoteRequest): void {
  const canVote =
    // We already voted for this candidate in this term (a retransmitted request).
    r.vote === m.from ||
    // We have not voted in this term and know no leader of it.
    (r.vote === NO_NODE && r.leaderId === NO_NODE) ||
    // A PreVote for a later term binds nothing, so our vote of this term is no bar.
    (m.pre && m.term > r.term);
  // §5.4.1: only a candidate whose log is at least as up-to-date as ours.
  const upToDate = r.log.isUpToDate(m.lastLogTerm, m.lastLogIndex);
  if (canVote && upToDate) {
    r.logger.info({ candidate: m.from, term: m.term, pre: m.pre }, 'vote granted');
    r.send({ type: 'VoteResponse', from: r.id, to: m.from, term: m.term, pre: m.pre, granted: true });
    if (!m.pre) {
      r.electionElapsed = 0;
      r.vote = m.from;
    }
    return;
  }
  const reason = !canVote
    ? r.vote !== NO_NODE
      ? `already voted for ${r.vote}`
      : `following leader ${r.leaderId}`
    : 'candidate log is not up to date';
  r.logger.info(
    { candidate: m.from, term: m.term, pre: m.pre, reason, lastIndex: r.log.lastIndex(), lastTerm: r.log.lastTerm() },
    'vote refused',
  );
  r.send({ type: 'VoteResponse', from: r.id, to: m.from, term: r.term, pre: m.pre, granted: false });
}
