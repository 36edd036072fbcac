// The driver-layer derivation of events and metrics, fed Readies and messages by
// hand: role, term and leader events from soft/hard state, votes with the reason a
// refusal is reconstructed from, traffic aggregated per peer per window, the recent
// log following overwrites, and the metrics observer's counters and histograms.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PeerMessage } from '../../src/core/messages.js';
import type { CoreStatus } from '../../src/core/raft-core.js';
import type { Ready } from '../../src/core/ready.js';
import type { Entry } from '../../src/core/types.js';
import { NodeMetrics } from '../../src/node/metrics.js';
import type { NodeEvent } from '../../src/node/node-events.js';
import { NodeEvents } from '../../src/node/node-events.js';

function ready(fields: Partial<Ready>): Ready {
  return { softState: undefined, membership: undefined, snapshot: undefined, hardState: undefined, entries: [], mustSync: false, messages: [], committedEntries: [], readStates: [], ...fields };
}

function entries(first: number, terms: number[]): Entry[] {
  return terms.map((term, i) => ({ term, index: first + i, kind: 1, data: new Uint8Array() }));
}

const heartbeat = (from: number, to: number, term: number): PeerMessage => ({ type: 'HeartbeatRequest', from, to, term, commit: 0, context: 0 });

function status(fields: Partial<CoreStatus>): CoreStatus {
  return { id: 1, role: 'follower', term: 1, vote: 0, leader: 0, commit: 0, applied: 0, lastIndex: 0, lastTerm: 0, snapshotIndex: 0, firstIndex: 1, voters: [1, 2, 3], learners: [], removed: false, electionElapsed: 0, peers: [], transferTarget: 0, ...fields };
}

function listen(events: NodeEvents): NodeEvent[] {
  const seen: NodeEvent[] = [];
  events.subscribe((e) => seen.push(e));
  return seen;
}

describe('NodeEvents', () => {
  it('reports term, role and leader changes from the Ready, each with node, term and timestamp', () => {
    const events = new NodeEvents({ id: 2, initial: { term: 3, commit: 0 }, now: () => 1000, flushMs: 60_000 });
    const seen = listen(events);
    events.ready(ready({ hardState: { term: 4, vote: 2, commit: 0 }, softState: { role: 'candidate', leader: 0 } }));
    events.ready(ready({ softState: { role: 'leader', leader: 2 } }));
    assert.deepEqual(seen.map((e) => e.type), ['term', 'role', 'role', 'leader-elected']);
    assert.deepEqual(seen[0], { type: 'term', node: 2, term: 4, ts: 1000, from: 3, to: 4 });
    assert.deepEqual(seen[3], { type: 'leader-elected', node: 2, term: 4, ts: 1000, leader: 2 });
  });

  it('explains a refused vote from the candidate\'s request and this node\'s state', () => {
    const events = new NodeEvents({ id: 1, initial: { term: 5, commit: 0 }, flushMs: 60_000 });
    events.bind(() => status({ term: 5, vote: 3, lastIndex: 10, lastTerm: 5 }));
    const seen = listen(events);
    events.received({ type: 'VoteRequest', from: 2, to: 1, term: 5, pre: false, lastLogIndex: 10, lastLogTerm: 5, transfer: false });
    events.received({ type: 'VoteRequest', from: 4, to: 1, term: 6, pre: true, lastLogIndex: 7, lastLogTerm: 5, transfer: false });
    events.ready(ready({
      messages: [
        { type: 'VoteResponse', from: 1, to: 2, term: 5, pre: false, granted: false },
        { type: 'VoteResponse', from: 1, to: 4, term: 6, pre: true, granted: false },
        { type: 'VoteResponse', from: 1, to: 3, term: 5, pre: false, granted: true },
      ],
    }));
    assert.deepEqual(seen.map((e) => [e.type, 'reason' in e ? e.reason : undefined]), [
      ['vote-refused', 'already voted for 3'],
      ['vote-refused', 'candidate log (7@5) behind ours (10@5)'],
      ['vote-granted', undefined],
    ]);
  });

  it('aggregates heartbeats and appends per peer and direction into one event per window', () => {
    const events = new NodeEvents({ id: 1, initial: { term: 2, commit: 0 }, flushMs: 60_000 });
    const seen = listen(events);
    for (let i = 0; i < 10; i += 1) events.ready(ready({ messages: [heartbeat(1, 2, 2), heartbeat(1, 3, 2)] }));
    events.ready(ready({ messages: [{ type: 'AppendRequest', from: 1, to: 2, term: 2, prevLogIndex: 0, prevLogTerm: 0, entries: entries(1, [2, 2]), commit: 0 }] }));
    events.received({ type: 'HeartbeatResponse', from: 2, to: 1, term: 2, context: 0 });
    events.flush();
    const traffic = seen.filter((e) => e.type === 'traffic');
    assert.deepEqual(traffic.map((e) => e.type === 'traffic' && [e.peer, e.direction, e.heartbeats, e.appends, e.entries, e.responses]), [
      [2, 'sent', 10, 1, 2, 0],
      [2, 'received', 0, 0, 0, 1],
      [3, 'sent', 10, 0, 0, 0],
    ]);
    events.flush();
    assert.equal(seen.filter((e) => e.type === 'traffic').length, 3, 'an empty window sends nothing');
  });

  it('keeps the last entries\' terms, following a leader\'s overwrite of a suffix', () => {
    const events = new NodeEvents({ id: 1, initial: { term: 1, commit: 0 }, entries: entries(1, [1, 1, 1]), recentEntries: 4 });
    events.ready(ready({ entries: entries(4, [2, 2]) }));
    assert.deepEqual(events.recentLog(), { first: 2, terms: [1, 1, 2, 2] });
    events.ready(ready({ entries: entries(3, [3]) }));
    assert.deepEqual(events.recentLog(), { first: 2, terms: [1, 3] });
  });
});

describe('NodeMetrics', () => {
  it('counts leader changes, fsyncs, proposals and peer bytes, and reads gauges from the status at scrape time', async () => {
    const metrics = new NodeMetrics({ defaultMetrics: false });
    metrics.bind(() => status({ role: 'leader', leader: 1, term: 7, commit: 12, applied: 11 }));
    metrics.ready(ready({ softState: { role: 'leader', leader: 1 }, messages: [heartbeat(1, 2, 7)] }));
    metrics.received({ type: 'HeartbeatResponse', from: 2, to: 1, term: 7, context: 0 });
    metrics.persisted(0.003, 2, true);
    metrics.persisted(0.001, 0, false);
    metrics.peerBytes('sent', 2, 100);
    metrics.peerBytes('received', 2, 40);
    metrics.proposalRefused();
    let settle!: () => void;
    metrics.proposed(new Promise<void>((resolve) => (settle = resolve)));
    const text = await metrics.text();
    for (const line of ['raftts_is_leader 1', 'raftts_has_leader 1', 'raftts_term 7', 'raftts_commit_index 12', 'raftts_applied_index 11', 'raftts_leader_changes_seen_total 1', 'raftts_proposals_committed_total 12', 'raftts_proposals_failed_total 1', 'raftts_proposals_pending 1', 'raftts_wal_fsync_duration_seconds_count 1', 'raftts_peer_sent_bytes_total{peer="2"} 100', 'raftts_peer_received_bytes_total{peer="2"} 40', 'raftts_peer_round_trip_seconds_count{peer="2"} 1']) {
      assert.ok(text.split('\n').includes(line), `${line} in\n${text}`);
    }
    settle();
    await new Promise((resolve) => setImmediate(resolve));
    metrics.peerBytes('sent', 2, 5);
    const again = await metrics.text();
    assert.ok(again.includes('raftts_proposals_pending 0'));
    assert.ok(again.includes('raftts_peer_sent_bytes_total{peer="2"} 105'), 'counters are brought up to date, not double counted');
    assert.ok(again.includes('raftts_proposals_committed_total 12'));
  });
});
