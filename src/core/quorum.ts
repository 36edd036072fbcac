import type { Index, NodeId } from './types.js';

/** Votes needed to win among `voterCount` voters (a strict majority). */
export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The largest index stored by a majority of voters: sort the match indexes in
 * descending order and take the majority-th one (etcd quorum.MajorityConfig
 * CommittedIndex). Whether that index may be *committed* is the caller's question
 * (only entries of the current term, Raft paper §5.4.2).
 */
export function quorumMatchIndex(matchIndexes: readonly Index[]): Index {
  if (matchIndexes.length === 0) return 0;
  const sorted = [...matchIndexes].sort((a, b) => b - a);
  return sorted[majority(sorted.length) - 1]!;
}

export type VoteOutcome = 'won' | 'lost' | 'pending';

/** Tallies a (pre-)election among `voters`; `votes` maps voter to granted or not. */
export function voteOutcome(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteOutcome {
  let granted = 0;
  let rejected = 0;
  for (const voter of voters) {
    const vote = votes.get(voter);
    if (vote === true) granted += 1;
    else if (vote === false) rejected += 1;
  }
  const needed = majority(voters.length);
  if (granted >= needed) return 'won';
  if (rejected > voters.length - needed) return 'lost';
  return 'pending';
}
