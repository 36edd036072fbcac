import type { ClusterConfig, Index, NodeId } from '../types.js';
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
  voters: readonly NodeId[];
  learners: readonly NodeId[];
  private readonly self: NodeId;
  private readonly inflightAppendsMax: number;
  private readonly inflightBytesMax: number;
  /** Followers in id order (etcd sorts ids wherever order could matter), members
   * leaving included. */
  private followers: readonly NodeId[];
  private readonly progress = new Map<NodeId, Progress>();
  /** Removed members still sent the log and the commit index for a while, so they
   * learn of their removal and stop (ticks left). They neither vote nor count. */
  private readonly leaving = new Map<NodeId, { ticks: number; cap: number; until: Index }>();

  constructor(options: ProgressTrackerOptions) {
    this.self = options.self;
    this.voters = options.voters;
    this.learners = options.learners;
    this.inflightAppendsMax = options.inflightAppendsMax;
    this.inflightBytesMax = options.inflightBytesMax;
    this.followers = [];
    this.applyConfig({ voters: options.voters, learners: options.learners }, options.next, options.tick, 0);
  }

  /**
   * Follows a membership change: new members start probing at `next` (counted as
   * active for the first CheckQuorum round); removed ones are kept for
   * `leavingTicks` ticks as leaving.
   */
  applyConfig(config: ClusterConfig, next: Index, tick: number, leavingTicks: number, removalIndex: Index = 0): void {
    this.voters = config.voters;
    this.learners = config.learners;
    const members = new Set([...config.voters, ...config.learners].filter((id) => id !== this.self));
    for (const id of members) {
      this.leaving.delete(id);
      if (this.progress.has(id)) continue;
      const progress = new Progress(next, this.inflightAppendsMax, this.inflightBytesMax);
      progress.recentActive = true;
      progress.lastContactTick = tick;
      this.progress.set(id, progress);
    }
    for (const id of [...this.progress.keys()]) {
      if (members.has(id) || this.leaving.has(id)) continue;
      // The countdown starts once it holds the removal entry (a member far behind needs
      // time to catch up and learn it), but never runs past ten times the window.
      if (leavingTicks > 0) this.leaving.set(id, { ticks: leavingTicks, cap: 10 * leavingTicks, until: removalIndex });
      else this.progress.delete(id);
    }
    this.followers = [...this.progress.keys()].sort((a, b) => a - b);
  }

  /** One tick for members leaving; forgets those whose time is up. */
  tickLeaving(): void {
    for (const [id, left] of this.leaving) {
      left.cap -= 1;
      if ((this.progress.get(id)?.match ?? 0) >= left.until) left.ticks -= 1;
      if (left.ticks > 0 && left.cap > 0) continue;
      this.leaving.delete(id);
      this.progress.delete(id);
      this.followers = this.followers.filter((f) => f !== id);
    }
  }

  isLeaving(id: NodeId): boolean {
    return this.leaving.has(id);
  }

  /** Every follower (voters, learners, and members leaving) in id order. */
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
