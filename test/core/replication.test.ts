// Log replication rules of the Raft paper against RaftCore alone: the consistency
// check and conflict truncation (§5.3, the Figure 7 logs), fast back-up by term (end
// of §5.3), the commit rule that counts only current-term entries (§5.4.2, Figure 8),
// no commit without a majority, batching of proposals, and ReadIndex (thesis §6.4).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AppendRequest, AppendResponse } from '../../src/core/messages.js';
import type { Entry } from '../../src/core/types.js';
import { EntryKind } from '../../src/core/types.js';
import { CoreNetwork, RecordingLogger } from '../helpers/core-network.js';

const plain = { preVote: false, checkQuorum: false };

function logOf(terms: number[]): Entry[] {
  return terms.map((term, i) => ({ term, index: i + 1, kind: EntryKind.Command, data: new Uint8Array([i + 1, term]) }));
}

function ids(entries: readonly Entry[]): string[] {
  return entries.map((e) => `${e.index}:${e.term}`);
}

function propose(net: CoreNetwork, id: number, text: string): void {
  const result = net.core(id).step({ type: 'Propose', entries: [{ kind: EntryKind.Command, data: new TextEncoder().encode(text) }] });
  assert.equal(result.ok, true);
}

// Raft paper Figure 7: the leader of term 8 and followers (a)–(f).
const FIGURE_7_LEADER = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
const FIGURE_7_FOLLOWERS: Record<string, number[]> = {
  '(a) missing an entry': [1, 1, 1, 4, 4, 5, 5, 6, 6],
  '(b) missing many entries': [1, 1, 1, 4],
  '(c) an extra uncommitted entry': [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
  '(d) extra entries of a later term': [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
  '(e) missing and extra entries': [1, 1, 1, 4, 4, 4, 4],
  '(f) many conflicting terms': [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
};

describe('§5.3 log matching: the Figure 7 follower logs converge to the leader\'s', () => {
  for (const [name, followerTerms] of Object.entries(FIGURE_7_FOLLOWERS)) {
    it(`${name}: converges, backing up with at most one rejection per conflicting term`, () => {
      const net = new CoreNetwork([1, 2, 3], plain);
      net.load(1, { hardState: { term: 7, vote: 0, commit: 0 }, entries: logOf(FIGURE_7_LEADER) });
      net.load(2, { hardState: { term: 7, vote: 0, commit: 0 }, entries: logOf(followerTerms) });
      net.load(3, { hardState: { term: 7, vote: 0, commit: 0 }, entries: [] });
      net.elect(1);
      assert.equal(net.core(1).status().role, 'leader');
      assert.equal(net.core(1).status().term, 8);
      const leaderLog = net.disks.get(1)!.entries;
      assert.deepEqual(ids(net.disks.get(2)!.entries), ids(leaderLog));
      assert.deepEqual(net.disks.get(2)!.entries.map((e) => [...e.data]), leaderLog.map((e) => [...e.data]), 'entry contents match too');
      const rejections = net.delivered.filter((m): m is AppendResponse => m.type === 'AppendResponse' && m.from === 2 && !m.success);
      const conflictingTerms = new Set(followerTerms.filter((term, i) => FIGURE_7_LEADER[i] !== term));
      assert.ok(rejections.length <= Math.max(1, conflictingTerms.size), `${rejections.length} rejections for ${conflictingTerms.size} conflicting terms`);
      assert.equal(net.core(1).status().commit, 11, 'everything up to the no-op commits');
    });
  }

  it('(f): the rejection hint skips the whole conflicting suffix in one round trip', () => {
    const net = new CoreNetwork([1, 2, 3], plain);
    net.load(1, { hardState: { term: 7, vote: 0, commit: 0 }, entries: logOf(FIGURE_7_LEADER) });
    net.load(2, { hardState: { term: 7, vote: 0, commit: 0 }, entries: logOf(FIGURE_7_FOLLOWERS['(f) many conflicting terms']!) });
    net.elect(1);
    const appendsTo2 = net.delivered.filter((m): m is AppendRequest => m.type === 'AppendRequest' && m.to === 2);
    assert.equal(appendsTo2[0]!.prevLogIndex, 10, 'the first probe follows the leader\'s old last entry');
    assert.equal(appendsTo2[1]!.prevLogIndex, 3, 'the second starts right after the last common entry (index 3, term 1)');
  });

  it('a follower rejects an append whose previous entry does not match, and keeps its log', () => {
    const net = new CoreNetwork([1, 2], plain);
    net.load(2, { hardState: { term: 3, vote: 0, commit: 0 }, entries: logOf([1, 2]) });
    net.core(2).step({ type: 'AppendRequest', from: 1, to: 2, term: 3, prevLogIndex: 2, prevLogTerm: 3, entries: logOf([1, 2, 3]).slice(2), commit: 0 });
    const [reply] = net.takeMessages() as AppendResponse[];
    assert.equal(reply!.success, false);
    assert.deepEqual([reply!.hintIndex, reply!.hintTerm], [2, 2]);
    assert.equal(net.core(2).status().lastIndex, 2);
  });

  it('a follower learns the commit index from appends, never beyond what it stores', () => {
    const net = new CoreNetwork([1, 2], plain);
    net.load(2, { hardState: { term: 2, vote: 0, commit: 0 }, entries: [] });
    net.core(2).step({ type: 'AppendRequest', from: 1, to: 2, term: 2, prevLogIndex: 0, prevLogTerm: 0, entries: logOf([1, 2]), commit: 5 });
    net.takeMessages();
    assert.equal(net.core(2).status().commit, 2);
  });
});

describe('§5.4.2 commit rule (Figure 8)', () => {
  it('a leader does not commit an old-term entry by counting replicas, only via an entry of its own term', () => {
    const net = new CoreNetwork([1, 2, 3, 4, 5], plain);
    // Figure 8 (c), one term later: S1 leads with an entry of term 2 at index 2 that
    // it can bring to a majority; S5 holds a conflicting entry of term 3.
    net.load(1, { hardState: { term: 4, vote: 1, commit: 1 }, entries: logOf([1, 2]) });
    net.load(2, { hardState: { term: 4, vote: 1, commit: 1 }, entries: logOf([1, 2]) });
    net.load(3, { hardState: { term: 4, vote: 1, commit: 1 }, entries: logOf([1]) });
    net.load(4, { hardState: { term: 4, vote: 1, commit: 1 }, entries: logOf([1]) });
    net.load(5, { hardState: { term: 5, vote: 0, commit: 1 }, entries: logOf([1, 3]) });
    net.isolate(5);
    // S1 is elected (term 5) but its own no-op never reaches anyone: every append
    // arrives with its term-5 entries stripped. Only the old entry 2 replicates, to
    // S3: now S1, S2, S3 store it — a majority.
    net.core(1).step({ type: 'Campaign' });
    net.intercept((m) => (m.type === 'AppendRequest' ? { ...m, entries: m.entries.filter((e) => e.term < 5) } : m));
    net.stabilize();
    assert.equal(net.core(1).status().role, 'leader');
    assert.deepEqual(ids(net.disks.get(3)!.entries), ['1:1', '2:2'], 'entry 2 is on S1, S2 and S3');
    assert.equal(net.core(1).status().commit, 1, 'counting replicas of a term-2 entry commits nothing');
    // S1 crashes; S5 wins term 6 with votes from S2, S3, S4 and overwrites index 2.
    net.intercept(undefined);
    net.heal();
    net.isolate(1);
    net.elect(5);
    assert.equal(net.core(5).status().role, 'leader');
    for (const id of [2, 3, 4]) assert.equal(net.disks.get(id)!.entries[1]!.term, 3, `S${id}'s entry 2 was replaced`);
    assert.ok(net.applied.get(1)!.every((e) => e.index < 2), 'S1 never applied the overwritten entry');
  });

  it('once an entry of the current term is on a majority, it and every earlier entry commit', () => {
    const net = new CoreNetwork([1, 2, 3], plain);
    net.load(1, { hardState: { term: 4, vote: 0, commit: 0 }, entries: logOf([1, 2]) });
    net.load(2, { hardState: { term: 4, vote: 0, commit: 0 }, entries: logOf([1]) });
    net.load(3, { hardState: { term: 4, vote: 0, commit: 0 }, entries: logOf([1]) });
    net.elect(1);
    assert.equal(net.core(1).status().commit, 3);
    assert.deepEqual(ids(net.applied.get(1)!), ['1:1', '2:2', '3:5']);
  });

  it('the leader counts its own copy only once it is durable (after advance)', () => {
    const net = new CoreNetwork([1], plain);
    net.elect(1);
    const leader = net.core(1);
    const before = leader.status().commit;
    propose(net, 1, 'x');
    const ready = leader.ready();
    assert.equal(ready.entries.length, 1);
    assert.equal(leader.status().commit, before, 'not committed while the write is outstanding');
    leader.advance();
    assert.equal(leader.status().commit, before + 1);
  });
});

describe('commitment needs a majority', () => {
  it('a leader that lost its majority commits nothing, and commits once healed', () => {
    const net = new CoreNetwork([1, 2, 3, 4, 5], plain);
    net.elect(1);
    const commit = net.core(1).status().commit;
    for (const id of [3, 4, 5]) net.isolate(id);
    for (let i = 0; i < 5; i += 1) propose(net, 1, `v${i}`);
    net.stabilize();
    net.tickAll(3);
    assert.equal(net.core(1).status().commit, commit, 'two of five stores is not a majority');
    assert.equal(net.core(2).status().lastIndex, commit + 5, 'the reachable follower did store them');
    net.heal();
    net.tickAll(2);
    assert.equal(net.core(1).status().commit, commit + 5);
    for (const id of [2, 3, 4, 5]) assert.equal(net.core(id).status().commit, commit + 5, `node ${id} learned the commit index`);
  });
});

describe('what the leader reports about followers', () => {
  it('logs at info when a follower falls behind and when it catches up, not per entry', () => {
    const log = new RecordingLogger();
    const net = new CoreNetwork([1, 2, 3], plain, 1, (id) => (id === 1 ? log : new RecordingLogger()));
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 20; i += 1) propose(net, 1, `w${i}`);
    net.stabilize();
    net.core(1).step({ type: 'ReportUnreachable', peer: 3 });
    net.heal();
    net.tickAll(3);
    const info = log.lines.filter((l) => l.level === 'info' && l.fields['peer'] === 3).map((l) => l.message);
    assert.deepEqual(info, ['follower fell behind', 'follower caught up']);
    assert.equal(log.lines.filter((l) => l.level === 'info').length < 10, true, 'nothing per entry at info');
  });
});

describe('flow control and batching', () => {
  it('proposals in one turn share one append, one write and one message per follower', () => {
    const net = new CoreNetwork([1, 2, 3], plain);
    net.elect(1);
    for (let i = 0; i < 3; i += 1) propose(net, 1, `batch-${i}`);
    const ready = net.core(1).ready();
    assert.equal(ready.entries.length, 3);
    const appends = ready.messages.filter((m): m is AppendRequest => m.type === 'AppendRequest');
    assert.deepEqual(appends.map((m) => [m.to, m.entries.length]), [[2, 3], [3, 3]]);
    net.core(1).advance();
  });

  it('a replicating follower gets pipelined appends up to the inflight window, then waits', () => {
    const net = new CoreNetwork([1, 2], { ...plain, inflightAppendsMax: 2 });
    net.elect(1);
    net.dropIf((m) => m.type === 'AppendResponse');
    for (let i = 0; i < 4; i += 1) {
      propose(net, 1, `p${i}`);
      net.stabilize();
    }
    const appends = net.delivered.filter((m): m is AppendRequest => m.type === 'AppendRequest' && m.entries.length > 0);
    // The no-op's append was answered before the drop; then two in flight, no more.
    assert.equal(appends.length, 3);
    net.dropIf(undefined);
    net.tickAll(1);
    net.stabilize();
    assert.equal(net.core(2).status().lastIndex, net.core(1).status().lastIndex, 'the follower catches up once answers flow');
  });

  it('a window full by bytes whose answers were lost is reopened by a heartbeat answer (sim seed 0x5eed006a)', () => {
    // Tiny appends (one entry each) and a 2-append window: two lost answers fill the
    // window by bytes before it fills by count.
    const net = new CoreNetwork([1, 2], { ...plain, appendBytesMax: 1, inflightAppendsMax: 4 });
    net.elect(1);
    net.dropIf((m) => m.type === 'AppendResponse' || (m.type === 'AppendRequest' && m.entries.length > 0));
    for (let i = 0; i < 6; i += 1) propose(net, 1, `lost-${i}`);
    net.stabilize();
    net.dropIf(undefined);
    net.tickAll(3);
    assert.equal(net.core(2).status().lastIndex, net.core(1).status().lastIndex, 'the follower caught up');
    assert.equal(net.core(1).status().commit, net.core(1).status().lastIndex, 'and the entries committed');
  });

  it('a lagging follower is probed one append at a time until it answers', () => {
    const net = new CoreNetwork([1, 2, 3], plain);
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 3; i += 1) {
      propose(net, 1, `q${i}`);
      net.stabilize();
    }
    net.heal();
    net.core(1).step({ type: 'ReportUnreachable', peer: 3 });
    net.tickAll(2);
    assert.equal(net.core(3).status().lastIndex, net.core(1).status().lastIndex);
  });
});

describe('thesis §6.4 ReadIndex', () => {
  it('a read is released after a heartbeat round reaches a majority, at the commit index it recorded', () => {
    const net = new CoreNetwork([1, 2, 3], plain);
    net.elect(1);
    const commit = net.core(1).status().commit;
    net.core(1).step({ type: 'ReadIndex', requestId: 7 });
    const first = net.core(1).ready();
    assert.deepEqual(first.readStates, [], 'not before the heartbeat round');
    const heartbeats = first.messages.filter((m) => m.type === 'HeartbeatRequest' && m.context > 0);
    assert.equal(heartbeats.length, 2, 'one confirmation heartbeat per follower');
    net.core(1).advance();
    for (const m of first.messages) net.deliver(m);
    net.stabilize();
    assert.deepEqual(net.reads.get(1), [{ requestId: 7, index: commit }]);
  });

  it('a leader that hears no heartbeat answers releases no read', () => {
    const net = new CoreNetwork([1, 2, 3], plain);
    net.elect(1);
    net.dropIf((m) => m.type === 'HeartbeatResponse');
    net.core(1).step({ type: 'ReadIndex', requestId: 1 });
    net.tickAll(10);
    assert.deepEqual(net.reads.get(1), []);
    net.dropIf(undefined);
    net.tickAll(1);
    assert.deepEqual(net.reads.get(1)!.map((r) => r.requestId), [1], 'released by the next beat a majority answers');
  });

  it('a new leader serves no read before it has committed an entry of its own term', () => {
    const net = new CoreNetwork([1, 2, 3], plain);
    net.elect(1);
    net.dropIf((m) => m.type === 'AppendRequest');
    net.elect(2);
    assert.equal(net.core(2).status().role, 'leader');
    const noopIndex = net.core(2).status().lastIndex;
    assert.ok(net.core(2).status().commit < noopIndex, 'the new no-op is not committed');
    assert.equal(net.core(2).step({ type: 'ReadIndex', requestId: 9 }).ok, true);
    net.tickAll(3);
    assert.deepEqual(net.reads.get(2), [], 'held back while no entry of this term is committed');
    net.dropIf(undefined);
    net.tickAll(3);
    assert.deepEqual(net.reads.get(2), [{ requestId: 9, index: noopIndex }]);
  });

  it('a follower refuses ReadIndex and names the leader', () => {
    const net = new CoreNetwork([1, 2, 3], plain);
    net.elect(1);
    assert.deepEqual(net.core(2).step({ type: 'ReadIndex', requestId: 1 }), { ok: false, reason: 'not-leader', leader: 1 });
  });
});

describe('thesis §10.2.1: a leader replicates while its own write is in flight', () => {
  it('sends appends for entries proposed during an outstanding Ready, and counts its own copy only after advance', () => {
    const net = new CoreNetwork([1, 2, 3], plain);
    net.elect(1);
    const leader = net.core(1);
    propose(net, 1, 'a');
    const first = leader.ready();
    assert.deepEqual(first.entries.map((e) => e.index), [2], 'the no-op is 1; "a" is written by this Ready');
    // Still writing "a": "b" arrives.
    propose(net, 1, 'b');
    assert.equal(leader.hasReady(), false, 'one Ready at a time');
    assert.equal(leader.hasEarlyMessages(), true);
    const early = leader.takeEarlyMessages();
    const appends = early.filter((m): m is AppendRequest => m.type === 'AppendRequest');
    assert.deepEqual(appends.map((m) => m.to).sort(), [2, 3]);
    for (const m of appends) assert.deepEqual(m.entries.map((e) => e.index), [3], '"b" goes out before "a" is durable here');
    assert.equal(leader.hasEarlyMessages(), false);
    // Only follower 2 acknowledges both; the leader's copy of 2 and 3 is not durable yet.
    net.core(2).step(first.messages.find((m) => m.type === 'AppendRequest' && m.to === 2)!);
    for (const m of appends.filter((a) => a.to === 2)) net.core(2).step(m);
    net.processReadies();
    for (const reply of net.takeMessages().filter((m) => m.type === 'AppendResponse')) leader.step(reply);
    assert.equal(leader.status().commit, 1, 'follower 2 holds 2 and 3, but the leader\'s own copies are not durable: no quorum');
    leader.advance();
    assert.equal(leader.status().commit, 2, '"a" is durable here now: leader and follower 2 are a quorum');
    const second = leader.ready();
    assert.deepEqual(second.entries.map((e) => e.index), [3], '"b" is written by the next Ready, once');
    assert.equal(second.messages.filter((m) => m.type === 'AppendRequest' && m.entries.length > 0 && m.entries[0]!.index === 3).length, 0, 'and not sent again');
    leader.advance();
    assert.equal(leader.status().commit, 3);
  });

  it('applies entries its followers committed while its own write is in flight, once, stopping before a membership change', () => {
    const net = new CoreNetwork([1, 2, 3], plain);
    net.elect(1);
    const leader = net.core(1);
    propose(net, 1, 'a');
    const first = leader.ready();
    assert.deepEqual(first.entries.map((e) => e.index), [2]);
    assert.equal(leader.hasEarlyCommitted(), false, 'nothing committed beyond what this Ready applies');
    propose(net, 1, 'b');
    const early = leader.takeEarlyMessages().filter((m): m is AppendRequest => m.type === 'AppendRequest');
    // Both followers take 2 and 3 and answer: a quorum without the leader's own copy.
    for (const m of [...first.messages, ...early]) if (m.type === 'AppendRequest' && m.entries.length > 0) net.core(m.to).step(m);
    net.processReadies();
    for (const reply of net.takeMessages().filter((m) => m.type === 'AppendResponse')) leader.step(reply);
    assert.equal(leader.status().commit, 3, 'followers 2 and 3 are a quorum of three');
    assert.equal(leader.hasEarlyCommitted(), true);
    assert.deepEqual(leader.takeEarlyCommitted().map((e) => e.index), [2, 3], '"a" and "b", though neither is durable here yet');
    assert.equal(leader.hasEarlyCommitted(), false);
    assert.deepEqual(leader.takeEarlyCommitted(), [], 'handed out once');
    leader.advance();
    assert.equal(leader.status().applied, 3, 'advance counts them applied');
    const second = leader.ready();
    assert.deepEqual(second.entries.map((e) => e.index), [3], '"b" is still written by the next Ready');
    assert.deepEqual(second.committedEntries, [], 'and not applied again');
    leader.advance();

    // A membership change is applied only from a Ready whose write is durable.
    propose(net, 1, 'c');
    assert.equal(leader.step({ type: 'ProposeConfChange', change: { op: 'add-learner', id: 4, address: 'n4' } }).ok, true);
    propose(net, 1, 'd');
    const third = leader.ready();
    assert.deepEqual(third.entries.map((e) => e.index), [4, 5, 6]);
    for (const m of third.messages) if (m.type === 'AppendRequest' && m.entries.length > 0 && m.to !== 4) net.core(m.to).step(m);
    net.processReadies();
    for (const reply of net.takeMessages().filter((m) => m.type === 'AppendResponse')) leader.step(reply);
    assert.equal(leader.status().commit, 6);
    assert.deepEqual(leader.takeEarlyCommitted().map((e) => e.index), [4], '"c", and not the change at 5 nor "d" after it');
    assert.equal(leader.hasEarlyCommitted(), false);
    leader.advance();
    assert.deepEqual(leader.ready().committedEntries.map((e) => e.index), [5, 6], 'the next Ready applies them, after its write');
    assert.equal(leader.hasEarlyCommitted(), false, 'nor anything early while a Ready that applies a change is outstanding');
  });

  it('hands out nothing early unless it leads and a Ready is outstanding', () => {
    const net = new CoreNetwork([1, 2, 3], plain);
    net.elect(1);
    propose(net, 1, 'a');
    assert.equal(net.core(1).hasEarlyMessages(), false, 'no Ready outstanding: the next Ready carries the appends');
    assert.deepEqual(net.core(1).takeEarlyMessages(), []);
    const follower = net.core(2);
    follower.step({ type: 'HeartbeatRequest', from: 1, to: 2, term: follower.status().term, commit: 1, context: 0 });
    follower.ready();
    assert.equal(follower.hasEarlyMessages(), false, 'a follower\'s answers always wait for its write');
    assert.deepEqual(follower.takeEarlyMessages(), []);
    assert.equal(follower.hasEarlyCommitted(), false);
    assert.deepEqual(follower.takeEarlyCommitted(), []);
  });
});
