/**
 * Seeds that once failed, each kept after its bug was fixed so the bug stays fixed.
 * `npm test` runs every one; add the seed of every simulator-found bug here.
 */
export const REGRESSION_SEEDS: readonly { readonly seed: number; readonly bug: string }[] = [
  {
    seed: 0x5eed006a,
    bug: 'a replicating follower whose inflight window was full by bytes (not by count) and whose answers were lost was never sent another append: heartbeat answers freed a slot only for a full count',
  },
];
