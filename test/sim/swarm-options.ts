import type { PartitionMode } from '../../src/chaos/partition-plan.js';
import { PARTITION_MODES } from '../../src/chaos/partition-plan.js';
import { SeededRandom } from '../../src/core/random.js';

/**
 * The mix of faults one seed runs with, drawn from the seed itself (TigerBeetle's
 * swarm testing: each seed explores its own corner instead of every seed running
 * the same average mix).
 */
export interface SwarmOptions {
  readonly nodes: number;
  readonly clients: number;
  readonly keys: number;
  readonly lossRate: number;
  readonly duplicateRate: number;
  readonly delayMsMin: number;
  readonly delayMsMax: number;
  /** Chance, per nemesis step, of starting a partition (or changing it). */
  readonly partitionRate: number;
  readonly partitionModes: readonly PartitionMode[];
  /** Chance, per nemesis step, of crashing a running node. */
  readonly crashRate: number;
  readonly restartDelayMsMax: number;
  readonly diskLatencyMsMin: number;
  readonly diskLatencyMsMax: number;
  readonly nemesisIntervalMsMin: number;
  readonly nemesisIntervalMsMax: number;
  /** How long faults run before everything heals. */
  readonly faultMs: number;
  readonly tickMs: number;
  readonly electionTicks: number;
  /** Entry bytes per append: small values split the log into many appends, which
   * opens windows (an old-term prefix acknowledged before the new no-op) that one
   * big append would hide. */
  readonly appendBytesMax: number;
  readonly inflightAppendsMax: number;
  /** Snapshot every this many applied entries, keeping this many behind it. Half the
   * seeds snapshot every 5–50 entries with a window of 0–20, so compaction,
   * InstallSnapshot and restarts from snapshots happen in most of their runs. */
  readonly snapshotEntries: number;
  readonly snapshotTrailing: number;
  /** Snapshot data bytes per simulated chunk. */
  readonly snapshotChunkBytes: number;
  /** Chance that a snapshot that arrived whole is handed to the node once more, a
   * little later: a transfer retried after a lost acknowledgement that arrives after
   * the follower moved on (a stale snapshot it must ignore). */
  readonly snapshotReplayRate: number;
  /** Nodes started empty beside the founders, which membership changes may add. */
  readonly spareNodes: number;
  /** Chance, per nemesis step, of asking the leader for a membership change: add a
   * spare (as a learner, or straight as a voter), promote a learner, or remove any
   * member, the leader included; node counts grow and shrink between 1 and 7. */
  readonly membershipRate: number;
  /** Some membership seeds ask in bursts: two to four changes a few ms apart, aimed
   * at one leader, often right after it was elected, and often followed at once by a
   * partition that leaves that leader with a minority. A correct leader refuses all
   * but the first (one pending change; none before its own-term entry applies); a
   * leader that let two through would leave members two changes apart, whose
   * majorities need not overlap. */
  readonly membershipBursts: boolean;
  /** Some membership seeds keep their spares as learners (two or more at once when
   * there are enough) and partition a leader together with its learners, or cut the
   * learners off so they lag: a leader that counted learners would commit, or a
   * candidate would win, without a majority of voters. */
  readonly learnerHeavy: boolean;
}

function pick(random: SeededRandom, min: number, max: number): number {
  return min + random.nextInt(max - min + 1);
}

export function swarmOptions(seed: number): SwarmOptions {
  // A generator of its own, so the options do not shift the world's random stream.
  const random = new SeededRandom(seed ^ 0x5eed5eed);
  const modes = PARTITION_MODES.filter(() => random.nextFloat() < 0.6);
  const delayMsMin = pick(random, 0, 3);
  const diskLatencyMsMin = pick(random, 0, 1);
  const options: Omit<SwarmOptions, 'snapshotEntries' | 'snapshotTrailing' | 'snapshotChunkBytes' | 'snapshotReplayRate' | 'spareNodes' | 'membershipRate' | 'membershipBursts' | 'learnerHeavy'> = {
    nodes: pick(random, 3, 7),
    clients: pick(random, 2, 5),
    keys: pick(random, 1, 4),
    lossRate: random.nextFloat() < 0.3 ? 0 : random.nextFloat() * 0.3,
    duplicateRate: random.nextFloat() < 0.5 ? 0 : random.nextFloat() * 0.05,
    delayMsMin,
    delayMsMax: delayMsMin + pick(random, 0, 40),
    partitionRate: modes.length === 0 ? 0 : random.nextFloat() * 0.5,
    partitionModes: modes.length === 0 ? ['isolate-one'] : modes,
    crashRate: random.nextFloat() < 0.25 ? 0 : random.nextFloat() * 0.3,
    restartDelayMsMax: pick(random, 50, 3000),
    diskLatencyMsMin,
    diskLatencyMsMax: diskLatencyMsMin + pick(random, 0, 5),
    nemesisIntervalMsMin: 100,
    nemesisIntervalMsMax: pick(random, 300, 3000),
    faultMs: pick(random, 5_000, 20_000),
    tickMs: 50,
    electionTicks: 6,
    appendBytesMax: random.nextFloat() < 0.5 ? 1024 * 1024 : pick(random, 1, 200),
    inflightAppendsMax: random.nextFloat() < 0.5 ? 256 : pick(random, 1, 8),
  };
  // Drawn last, so the options above stay what they were for every seed.
  const tiny = random.nextFloat() < 0.5;
  return {
    ...options,
    snapshotEntries: tiny ? pick(random, 5, 50) : 10_000,
    snapshotTrailing: tiny ? pick(random, 0, 20) : 5_000,
    snapshotChunkBytes: pick(random, 16, 2048),
    snapshotReplayRate: random.nextFloat() < 0.5 ? 0 : 0.3,
    ...membership(random, options.nodes),
  };
}

type MembershipOptions = Pick<SwarmOptions, 'spareNodes' | 'membershipRate' | 'membershipBursts' | 'learnerHeavy'>;

function membership(random: SeededRandom, founders: number): MembershipOptions {
  const changing = random.nextFloat() < 0.5;
  const spareNodes = changing ? Math.min(7 - founders, pick(random, 1, 3)) : 0;
  const membershipRate = changing ? 0.05 + random.nextFloat() * 0.25 : 0;
  // Drawn after the two above, so they stay what they were for every seed.
  const shape = changing ? random.nextInt(4) : 0;
  return {
    spareNodes,
    membershipRate,
    membershipBursts: shape === 1 || shape === 3,
    // Two learners at once need two spares.
    learnerHeavy: (shape === 2 || shape === 3) && spareNodes >= 2,
  };
}

export function describeOptions(options: SwarmOptions): string {
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return JSON.stringify({ ...options, lossRate: round(options.lossRate), duplicateRate: round(options.duplicateRate), partitionRate: round(options.partitionRate), crashRate: round(options.crashRate) });
}
