import type { Index, NodeId } from '../types.js';
import { majority, quorumMatchIndex } from '../quorum.js';
import { Progress } from './progress.js';

export interface ProgressTrackerOptions {
  /** The leader's own id: it has no Progress; its match is its durable last index. */
  readonly self: NodeId;
  /** Every voter, the leader included. */
  readonly voters: readonly NodeId[];
  /** Members that receive the log but neither vote nor count towards commit. */
  readonly learners: readonly NodeId[];
  /** Where replication to every follower starts: the leader's last index + 1. */
  readonly next: Index;
  readonly inflightAppendsMax: number;
  readonly inflightBytesMax: number;
  /** The leader's tick count now, so contact ages start at zero. */
  readonly tick: number;
}

/**
 * The leader's view of its followers (etcd tracker.ProgressTracker): one Progress per
 * follower, voters and learners alike, and the questions that need the membership to
 * answer — which index a quorum stores, and whether a quorum was heard from. Only a
 * leader has one, created when it takes office.
 */
export class ProgressTracker {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  private readonly self: NodeId;
  /** Followers in id order (etcd sorts ids wherever order could matter). */
  private readonly followers: readonly NodeId[];
  private readonly progress = new Map<NodeId, Progress>();

  constructor(options: ProgressTrackerOptions) {
    this.self = options.self;
    this.voters = options.voters;
    this.learners = options.learners;
    this.followers = [...options.voters, ...options.learners].filter((id) => id !== options.self).sort((a, b) => a - b);
    for (const id of this.followers) {
      const progress = new Progress(options.next, options.inflightAppendsMax, options.inflightBytesMax);
      // Count every follower as active for the first CheckQuorum round.
      progress.recentActive = true;
      progress.lastContactTick = options.tick;
      this.progress.set(id, progress);
    }
  }

  /** Every follower (voters and learners) in id order. */
  peers(): readonly NodeId[] {
    return this.followers;
  }

  get(peer: NodeId): Progress | undefined {
    return this.progress.get(peer);
  }

  /** The follower's Progress; `peer` must be a follower of this leader. */
  progressOf(peer: NodeId): Progress {
    const progress = this.progress.get(peer);
    if (progress === undefined) throw new Error(`no progress for ${peer}: not a follower of this leader`);
    return progress;
  }

  /** Votes (or heartbeat acknowledgements) needed for a quorum of voters. */
  quorum(): number {
    return majority(this.voters.length);
  }

  isVoter(id: NodeId): boolean {
    return this.voters.includes(id);
  }

  /**
   * The largest index stored on a quorum of voters, counting the leader's own copy
   * as `selfStable` (etcd ProgressTracker.Committed). Learners never count.
   */
  committedIndex(selfStable: Index): Index {
    const matches: Index[] = [];
    for (const voter of this.voters) matches.push(voter === this.self ? selfStable : this.progressOf(voter).match);
    return quorumMatchIndex(matches);
  }

  /**
   * Voters heard from since the last call, the leader included, and starts a new
   * round (etcd QuorumActive + ResetRecentActive; thesis §6.2 CheckQuorum).
   */
  takeRecentlyActiveVoters(): number {
    let active = 0;
    for (const voter of this.voters) {
      if (voter === this.self) active += 1;
      else if (this.progressOf(voter).recentActive) active += 1;
    }
    for (const progress of this.progress.values()) progress.recentActive = false;
    return active;
  }
}
