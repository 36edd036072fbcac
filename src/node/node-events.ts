import type { PeerMessage, VoteRequest } from '../core/messages.js';
import type { CoreStatus } from '../core/raft-core.js';
import type { Ready } from '../core/ready.js';
import type { Entry, Index, NodeId, Role, Term } from '../core/types.js';
import type { NodeObserver } from './node-observer.js';
import type { RecentLogJson } from './node-status.js';

interface EventBase {
  readonly node: NodeId;
  readonly term: Term;
  /** Milliseconds since the epoch. */
  readonly ts: number;
}

/** Messages exchanged with one peer over one flush window, by kind. */
export interface TrafficCounts {
  heartbeats: number;
  appends: number;
  /** Entries carried by those appends. */
  entries: number;
  /** Heartbeat and append responses. */
  responses: number;
}

/**
 * What the node reports on `GET /events`. Derived in the driver layer from what
 * it sees (Ready soft/hard state, messages sent and received, entries applied);
 * message traffic is aggregated per peer and direction per flush window.
 */
export type NodeEvent = EventBase &
  (
    | { readonly type: 'role'; readonly role: Role; readonly leader: NodeId }
    | { readonly type: 'term'; readonly from: Term; readonly to: Term }
    | { readonly type: 'leader-elected'; readonly leader: NodeId }
    | { readonly type: 'vote-requested'; readonly to: NodeId; readonly pre: boolean }
    | { readonly type: 'vote-granted' | 'vote-refused'; readonly candidate: NodeId; readonly pre: boolean; readonly reason?: string }
    | { readonly type: 'vote-answered'; readonly from: NodeId; readonly granted: boolean; readonly pre: boolean }
    | ({ readonly type: 'traffic'; readonly peer: NodeId; readonly direction: 'sent' | 'received' } & Readonly<TrafficCounts>)
    | { readonly type: 'commit'; readonly commit: Index; readonly applied: Index }
    | { readonly type: 'snapshot'; readonly index: Index; readonly bytes: number; readonly installed: boolean }
    | { readonly type: 'stop' }
  );

export type NodeEventListener = (event: NodeEvent) => void;

export interface NodeEventsOptions {
  readonly id: NodeId;
  readonly initial: { readonly term: Term; readonly commit: Index };
  /** Entries already in the log at start (only the last `recentEntries` are kept). */
  readonly entries?: readonly Entry[];
  /** How many of the last entries /status reports. Default 24. */
  readonly recentEntries?: number;
  /** Aggregation window for traffic and commit events. Default 100 ms. */
  readonly flushMs?: number;
  readonly now?: () => number;
}

function emptyCounts(): TrafficCounts {
  return { heartbeats: 0, appends: 0, entries: 0, responses: 0 };
}

interface PeerTraffic {
  readonly sent: TrafficCounts;
  readonly received: TrafficCounts;
}

/**
 * Turns what the driver sees into NodeEvents for listeners. Rare events (roles,
 * terms, votes) go out at once; traffic and commits are counted into per-peer
 * preallocated counters and flushed every window, and nothing is counted while
 * no one listens.
 */
export class NodeEvents implements NodeObserver {
  readonly #id: NodeId;
  readonly #listeners = new Set<NodeEventListener>();
  readonly #traffic = new Map<NodeId, PeerTraffic>();
  readonly #flushMs: number;
  readonly #now: () => number;
  readonly #recentMax: number;
  /** Terms of the last entries, `#recentFirst` being the index of the first. */
  #recentTerms: Term[] = [];
  #recentFirst: Index = 1;
  /** The last vote request seen from each candidate, to explain a refusal. */
  readonly #voteRequests = new Map<NodeId, VoteRequest>();
  #status: (() => CoreStatus) | undefined;
  #term: Term;
  #role: Role = 'follower';
  #leader: NodeId = 0;
  #commit: Index;
  #applied: Index = 0;
  #commitDirty = false;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: NodeEventsOptions) {
    this.#id = options.id;
    this.#term = options.initial.term;
    this.#commit = options.initial.commit;
    this.#flushMs = options.flushMs ?? 100;
    this.#now = options.now ?? Date.now;
    this.#recentMax = options.recentEntries ?? 24;
    this.#recordEntries(options.entries ?? []);
  }

  /** Lets refusals be explained with the node's vote and log; call once the node exists. */
  bind(status: () => CoreStatus): void {
    this.#status = status;
  }

  /** Subscribes; returns the unsubscribe function. */
  subscribe(listener: NodeEventListener): () => void {
    this.#listeners.add(listener);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.flush(), this.#flushMs);
      this.#timer.unref();
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0 && this.#timer !== undefined) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    };
  }

  recentLog(): RecentLogJson {
    return { first: this.#recentFirst, terms: [...this.#recentTerms] };
  }

  ready(ready: Ready): void {
    if (ready.entries.length > 0) this.#recordEntries(ready.entries);
    if (ready.hardState !== undefined) {
      const { term, commit } = ready.hardState;
      if (term !== this.#term) {
        const from = this.#term;
        this.#term = term;
        this.#emit({ type: 'term', node: this.#id, term, ts: this.#now(), from, to: term });
      }
      if (commit !== this.#commit) {
        this.#commit = commit;
        this.#commitDirty = true;
      }
    }
    if (ready.softState !== undefined) {
      const { role, leader } = ready.softState;
      const leaderChanged = leader !== this.#leader;
      if (role !== this.#role || leaderChanged) {
        this.#role = role;
        this.#leader = leader;
        this.#emit({ type: 'role', node: this.#id, term: this.#term, ts: this.#now(), role, leader });
      }
      if (leaderChanged && leader !== 0) this.#emit({ type: 'leader-elected', node: this.#id, term: this.#term, ts: this.#now(), leader });
    }
    this.sentEarly(ready.messages);
  }

  sentEarly(messages: readonly PeerMessage[]): void {
    if (this.#listeners.size === 0) return;
    for (const message of messages) this.#sent(message);
  }

  persisted(): void {}

  snapshotSaved(index: Index, bytes: number, _seconds: number, installed: boolean): void {
    this.#emit({ type: 'snapshot', node: this.#id, term: this.#term, ts: this.#now(), index, bytes, installed });
  }

  received(message: PeerMessage): void {
    if (message.type === 'VoteRequest') {
      this.#voteRequests.set(message.from, message);
      return;
    }
    if (this.#listeners.size === 0) return;
    if (message.type === 'VoteResponse') {
      this.#emit({ type: 'vote-answered', node: this.#id, term: this.#term, ts: this.#now(), from: message.from, granted: message.granted, pre: message.pre });
      return;
    }
    const counts = this.#peer(message.from).received;
    if (message.type === 'HeartbeatRequest') counts.heartbeats += 1;
    else if (message.type === 'AppendRequest') {
      counts.appends += 1;
      counts.entries += message.entries.length;
    } else if (message.type === 'HeartbeatResponse' || message.type === 'AppendResponse') counts.responses += 1;
  }

  applied(_entries: readonly Entry[], applied: Index): void {
    this.#applied = applied;
    this.#commitDirty = true;
  }

  proposed(): void {}

  proposalRefused(): void {}

  stopped(): void {
    this.flush();
    this.#emit({ type: 'stop', node: this.#id, term: this.#term, ts: this.#now() });
  }

  /** Emits the traffic and commit counts of the window that just ended. */
  flush(): void {
    if (this.#listeners.size === 0) return;
    const ts = this.#now();
    for (const [peer, traffic] of this.#traffic) {
      for (const direction of ['sent', 'received'] as const) {
        const counts = traffic[direction];
        if (counts.heartbeats + counts.appends + counts.responses === 0) continue;
        this.#emit({ type: 'traffic', node: this.#id, term: this.#term, ts, peer, direction, ...counts });
        counts.heartbeats = 0;
        counts.appends = 0;
        counts.entries = 0;
        counts.responses = 0;
      }
    }
    if (this.#commitDirty) {
      this.#commitDirty = false;
      this.#emit({ type: 'commit', node: this.#id, term: this.#term, ts, commit: this.#commit, applied: this.#applied });
    }
  }

  #sent(message: PeerMessage): void {
    switch (message.type) {
      case 'VoteRequest':
        this.#emit({ type: 'vote-requested', node: this.#id, term: message.term, ts: this.#now(), to: message.to, pre: message.pre });
        return;
      case 'VoteResponse': {
        const reason = message.granted ? undefined : this.#refusalReason(message.to);
        this.#emit({ type: message.granted ? 'vote-granted' : 'vote-refused', node: this.#id, term: this.#term, ts: this.#now(), candidate: message.to, pre: message.pre, ...(reason === undefined ? {} : { reason }) });
        return;
      }
      case 'HeartbeatRequest':
        this.#peer(message.to).sent.heartbeats += 1;
        return;
      case 'AppendRequest': {
        const counts = this.#peer(message.to).sent;
        counts.appends += 1;
        counts.entries += message.entries.length;
        return;
      }
      case 'HeartbeatResponse':
      case 'AppendResponse':
        this.#peer(message.to).sent.responses += 1;
        return;
      default:
        return;
    }
  }

  /** Why this node refused `candidate`, reconstructed from its request and our state
   * with the rules of Raft paper §5.2, §5.4.1 and thesis §4.2.3 (the leader lease). */
  #refusalReason(candidate: NodeId): string {
    const request = this.#voteRequests.get(candidate);
    const status = this.#status?.();
    if (request === undefined || status === undefined) return 'unknown';
    if (request.term < status.term) return `stale term ${request.term} < ${status.term}`;
    if (!request.pre && status.vote !== 0 && status.vote !== candidate && request.term === status.term) return `already voted for ${status.vote}`;
    if (request.lastLogTerm < status.lastTerm || (request.lastLogTerm === status.lastTerm && request.lastLogIndex < status.lastIndex)) {
      return `candidate log (${request.lastLogIndex}@${request.lastLogTerm}) behind ours (${status.lastIndex}@${status.lastTerm})`;
    }
    if (status.leader !== 0) return `leader ${status.leader} is alive`;
    return 'refused';
  }

  #peer(peer: NodeId): PeerTraffic {
    let traffic = this.#traffic.get(peer);
    if (traffic === undefined) {
      traffic = { sent: emptyCounts(), received: emptyCounts() };
      this.#traffic.set(peer, traffic);
    }
    return traffic;
  }

  #recordEntries(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    // A new suffix replaces what followed its first index (a leader's overwrite).
    const keep = Math.max(0, Math.min(this.#recentTerms.length, first - this.#recentFirst));
    if (first < this.#recentFirst || this.#recentTerms.length === 0) {
      this.#recentTerms = [];
      this.#recentFirst = first;
    } else this.#recentTerms.length = keep;
    if (this.#recentFirst + this.#recentTerms.length !== first) {
      this.#recentTerms = [];
      this.#recentFirst = first;
    }
    const from = Math.max(0, entries.length - this.#recentMax);
    if (from > 0) {
      this.#recentTerms = [];
      this.#recentFirst = entries[from]!.index;
    }
    for (let i = from; i < entries.length; i += 1) this.#recentTerms.push(entries[i]!.term);
    const excess = this.#recentTerms.length - this.#recentMax;
    if (excess > 0) {
      this.#recentTerms.splice(0, excess);
      this.#recentFirst += excess;
    }
  }

  #emit(event: NodeEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure (a closed socket) must not reach the driver.
      }
    }
  }
}
