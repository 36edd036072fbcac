import type { SwarmOptions } from './swarm-options.js';

/** The membership shapes (bursts, learner-heavy seeds) came after these seeds were
 * found; they run without them, so each replays the path that found its bug. */
const BEFORE_SHAPES: Partial<SwarmOptions> = { membershipBursts: false, learnerHeavy: false };

/**
 * Seeds that once failed, each kept after its bug was fixed so the bug stays fixed.
 * `npm test` runs every one (with its option overrides, if any; `npm run sim -- --seed`
 * applies them too); add the seed of every simulator-found bug here.
 */
export const REGRESSION_SEEDS: readonly { readonly seed: number; readonly bug: string; readonly options?: Partial<SwarmOptions> }[] = [
  {
    seed: 0x5eed006a,
    bug: 'a replicating follower whose inflight window was full by bytes (not by count) and whose answers were lost was never sent another append: heartbeat answers freed a slot only for a full count',
    options: BEFORE_SHAPES,
  },
  {
    seed: 0x5eed0047,
    bug: 'a leader that applied its own removal stepped down at once; its successor had the removal entry but not its commit, so it campaigned in the old two-voter configuration that needed the removed node: no leader ever again',
    options: BEFORE_SHAPES,
  },
  {
    seed: 0x5eed0000,
    bug: 'a sole voter with a learner waited for heartbeat answers to confirm a ReadIndex round, but only voters confirm, so linearizable reads never completed',
    options: BEFORE_SHAPES,
  },
  {
    seed: 0x5eed03a5,
    bug: 'a learner reset its election timer as if it campaigned, so it kept counting its silent leader as alive and refused the votes its promoter (now needing it in a two-voter configuration) asked for',
    options: BEFORE_SHAPES,
  },
  {
    seed: 0x10462,
    bug: 'the commit index of a membership change was not made durable before the change applied: the sole remaining voter restarted without it, in the old two-voter configuration whose other member had applied its removal and gone',
    options: BEFORE_SHAPES,
  },
  {
    seed: 0x10b23,
    bug: 'the same lost commit of a membership change, after a graceful stop',
    options: BEFORE_SHAPES,
  },
  {
    seed: 0x5eed04a1,
    bug: 'a leadership transfer in flight when the leader applied its own removal sent TimeoutNow before the successor knew the removal committed; it won in the old configuration, which then needed the removed node',
    options: BEFORE_SHAPES,
  },
  {
    seed: 0x5eed0552,
    bug: 'a voter that had not yet applied the change adding the new leader dropped all its messages as from an unknown peer, so it could never catch up',
    options: BEFORE_SHAPES,
  },
  {
    seed: 0x5eed005a,
    bug: 'a leader that applied its own removal and lost its quorum before handing over exited at once; the remaining voter, which had not learned that the removal committed, still counted it and could never win an election again (now it stays to vote until a leader\'s commit covers its removal)',
  },
  {
    seed: 0x5eed0011,
    bug: 'a leader committed its own removal, handed over on a graceful stop before applying it, and applied it later as a follower (or after a restart, from its own disk) and exited at once; the new leader had not learned that the removal committed, still counted it, and could never commit or win again (now a node that applies its own removal stays to vote until a leader\'s commit covers it)',
  },
  {
    seed: 0x80ed1,
    bug: 'a leader committed its own removal, appended after it, and lost its quorum before handing over; after a restart it held the only copy of those entries, so it refused the remaining voter as less up to date, and as a non-voter it never campaigned itself (now a node whose removal is applied but unconfirmed may lead, counting only the new configuration, to hand over)',
  },
  {
    seed: 0xe0945,
    bug: 'a learner being caught up from the leader\'s snapshot, taken before the learner was added, crashed with that snapshot and no entry adding it; restarted, it took the snapshot\'s configuration for its own removal, the first leader heartbeat confirmed it, and it stopped for good, so a voter (it was promoted meanwhile) was missing (now such a node is removed only if it is still out once it applied a leader\'s full commit index)',
  },
  {
    seed: 0xe09c4,
    bug: 'the same as 0xe0945: a learner restarted from a leader\'s snapshot older than its addition believed itself removed',
  },
  {
    seed: 0x2a2,
    bug: 'caught a deliberately broken leader that accepted a second membership change while one was pending (and before its own no-op applied): a just-elected leader took two removals 3 ms apart and, cut off with a minority, committed in the two-removals configuration while the other side elected a leader without that entry (leader completeness)',
  },
  {
    seed: 0x266,
    bug: 'caught a deliberately broken commit rule that counted learners: a leader partitioned with its two learners committed without a majority of voters, and the two other voters elected a leader without that entry (leader completeness)',
  },
  {
    seed: 0x47a,
    bug: 'caught a deliberately broken election rule that asked learners for votes and counted them: a voter won with two learners\' votes and only its own voter vote, and a later leader lacked an entry the other voters had committed (leader completeness)',
  },
];
