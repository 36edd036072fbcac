import type { CoreStatus } from '../core/raft-core.js';
import type { Index, NodeId, Term } from '../core/types.js';
import type { NodeStatus } from '../protocol/client-messages.js';

/** The node view that the client protocol's StatusResponse carries. */
export function nodeStatus(status: CoreStatus, addresses: ReadonlyMap<NodeId, string>, pid: number = process.pid, clusterId = ''): NodeStatus {
  return {
    id: status.id,
    role: status.role,
    term: status.term,
    leader: status.leader,
    leaderAddress: addresses.get(status.leader) ?? null,
    commit: status.commit,
    applied: status.applied,
    lastIndex: status.lastIndex,
    snapshotIndex: status.snapshotIndex,
    firstIndex: status.firstIndex,
    clusterId,
    pid,
    membership: status.voters.includes(status.id) ? 'voter' : status.learners.includes(status.id) ? 'learner' : 'none',
  };
}

/** One node as `raft-cli status --json` prints it. */
export interface StatusRow {
  readonly id: NodeId;
  readonly address: string;
  readonly role: NodeStatus['role'];
  readonly term: Term;
  readonly leader: NodeId;
  readonly commit: Index;
  readonly applied: Index;
  readonly lastIndex: Index;
  /** The node's newest snapshot (0: none). */
  readonly snapshotIndex: Index;
  /** The first index still in its log. */
  readonly firstIndex: Index;
  readonly pid: number;
  /** 'voter', 'learner', or 'none' (joining, or removed), in its own configuration. */
  readonly membership: NodeStatus['membership'];
}

export function statusRow(status: NodeStatus, address: string): StatusRow {
  return {
    id: status.id,
    address,
    role: status.role,
    term: status.term,
    leader: status.leader,
    commit: status.commit,
    applied: status.applied,
    lastIndex: status.lastIndex,
    snapshotIndex: status.snapshotIndex,
    firstIndex: status.firstIndex,
    pid: status.pid,
    membership: status.membership,
  };
}

/** A follower's replication progress as the leader sees it. */
export interface PeerProgressJson {
  readonly id: NodeId;
  readonly match: Index;
  readonly next: Index;
  readonly state: 'probe' | 'replicate' | 'snapshot';
  /** Milliseconds since the leader last heard from it (tick resolution). */
  readonly lastContactMs: number;
}

/** The last entries of the node's log, for drawing: `terms[i]` is the term of entry `first + i`. */
export interface RecentLogJson {
  readonly first: Index;
  readonly terms: readonly Term[];
}

/**
 * What `GET /status` answers and the dashboard draws: the CLI row plus what only
 * a live view needs (vote, timers, the leader's view of each follower).
 */
export interface NodeStatusJson extends StatusRow {
  readonly leaderAddress: string | null;
  readonly vote: NodeId;
  readonly lastTerm: Term;
  readonly electionElapsed: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly tickMs: number;
  /** This node's HTTP address (metrics, status, events). */
  readonly httpAddress: string;
  /** Leader only: one row per follower. */
  readonly peers: readonly PeerProgressJson[];
  readonly log: RecentLogJson;
}

export interface StatusContext {
  readonly addresses: ReadonlyMap<NodeId, string>;
  readonly httpAddress: string;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly tickMs: number;
  readonly recentLog: () => RecentLogJson;
  readonly pid?: number;
}

/** Builds the /status object from the driver's status; the one place that shape is made. */
export function nodeStatusJson(status: CoreStatus, context: StatusContext): NodeStatusJson {
  const base = nodeStatus(status, context.addresses, context.pid);
  return {
    ...statusRow(base, context.addresses.get(status.id) ?? ''),
    leaderAddress: base.leaderAddress,
    vote: status.vote,
    lastTerm: status.lastTerm,
    electionElapsed: status.electionElapsed,
    electionTicks: context.electionTicks,
    heartbeatTicks: context.heartbeatTicks,
    tickMs: context.tickMs,
    httpAddress: context.httpAddress,
    peers: status.peers.map((p) => ({ id: p.id, match: p.match, next: p.next, state: p.state, lastContactMs: p.ticksSinceContact * context.tickMs })),
    log: context.recentLog(),
  };
}
