// Membership changes against RaftCore alone (Raft thesis §4.1; etcd confchange):
// each change kind applies when its entry is applied; one change may be pending at a
// time; a new leader proposes none before its own first entry is applied (the 2015
// single-server-change bug); a learner receives the log but neither votes, counts
// towards commit, nor campaigns; invalid and quorum-breaking changes are refused; a
// removed follower learns of its removal; a removed leader hands over and steps down.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfChange } from '../../src/core/membership.js';
import type { PeerMessage } from '../../src/core/messages.js';
import type { StepResult } from '../../src/core/raft-core.js';
import { EntryKind } from '../../src/core/types.js';
import { CoreNetwork } from '../helpers/core-network.js';
import { DEFAULT_CORE_CONFIG } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { encodeConfChange } from '../../src/core/membership.js';
import { RaftCore } from '../../src/core/raft-core.js';
import { SeededRandom } from '../../src/core/random.js';

const plain = { preVote: false, checkQuorum: false };

function change(net: CoreNetwork, leader: number, cc: ConfChange): StepResult {
  const result = net.core(leader).step({ type: 'ProposeConfChange', change: cc });
  net.stabilize();
  return result;
}

function propose(net: CoreNetwork, id: number, text: string): StepResult {
  const result = net.core(id).step({ type: 'Propose', entries: [{ kind: EntryKind.Command, data: new TextEncoder().encode(text) }] });
  net.stabilize();
  return result;
}

describe('membership changes (thesis §4.1)', () => {
  it('adds a learner that receives the log but does not vote or count towards commit', () => {
    const net = new CoreNetwork([1, 2, 3, 4], plain, 1, undefined, [1, 2, 3]);
    net.elect(1);
    assert.equal(change(net, 1, { op: 'add-learner', id: 4, address: 'n4' }).ok, true);
    net.tickAll(2);
    assert.deepEqual(net.core(1).status().learners, [4]);
    assert.deepEqual(net.core(4).status().voters, [1, 2, 3], 'the learner learned the configuration');
    assert.deepEqual(net.core(4).status().learners, [4]);
    propose(net, 1, 'x');
    net.tickAll(1);
    assert.deepEqual(net.stateOf(4), ['x'], 'it replicates and applies');
    // With two of three voters cut off, the learner's copy does not make a majority.
    net.isolate(2);
    net.isolate(3);
    const before = net.core(1).status().commit;
    propose(net, 1, 'y');
    assert.equal(net.core(1).status().commit, before, 'leader + learner is not a quorum of {1,2,3}');
    net.heal();
    // A learner never campaigns, however long it hears nothing.
    net.isolate(4);
    net.tick(4, 100);
    assert.equal(net.core(4).status().role, 'follower');
    assert.equal(net.core(4).status().term, net.core(1).status().term);
  });

  it('promotes a caught-up learner, and refuses to promote one far behind', () => {
    const net = new CoreNetwork([1, 2, 3, 4], plain, 1, undefined, [1, 2, 3]);
    net.elect(1);
    net.isolate(4);
    change(net, 1, { op: 'add-learner', id: 4, address: 'n4' });
    for (let i = 0; i < 1005; i += 1) net.core(1).step({ type: 'Propose', entries: [{ kind: EntryKind.Command, data: new Uint8Array([1]) }] });
    net.stabilize();
    const refused = change(net, 1, { op: 'promote', id: 4 });
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.reason, 'learner-behind');
    net.heal();
    net.tickAll(3);
    const promoted = change(net, 1, { op: 'promote', id: 4 });
    assert.equal(promoted.ok, true);
    net.tickAll(2);
    assert.deepEqual(net.core(1).status().voters, [1, 2, 3, 4]);
    assert.deepEqual(net.core(1).status().learners, []);
    // Now a majority of four is three: with 2 and 3 cut off, nothing commits.
    net.isolate(2);
    net.isolate(3);
    const before = net.core(1).status().commit;
    propose(net, 1, 'z');
    assert.equal(net.core(1).status().commit, before);
  });

  it('allows one pending change at a time, and none before the new leader applied its own first entry (2015 bug)', () => {
    const net = new CoreNetwork([1, 2, 3, 4, 5], plain, 1, undefined, [1, 2, 3]);
    net.elect(1);
    // Hold every append so the first change stays uncommitted.
    net.dropIf((m) => m.type === 'AppendRequest');
    const first = net.core(1).step({ type: 'ProposeConfChange', change: { op: 'add-learner', id: 4, address: 'n4' } });
    assert.equal(first.ok, true);
    net.processReadies();
    const second = net.core(1).step({ type: 'ProposeConfChange', change: { op: 'add-learner', id: 5, address: 'n5' } });
    assert.equal(!second.ok && second.reason, 'change-pending', 'a second change waits for the first to apply');
    net.dropIf(undefined);
    net.tickAll(2);
    assert.equal(change(net, 1, { op: 'add-learner', id: 5, address: 'n5' }).ok, true, 'once applied, the next may go');
    // A new leader: its no-op is not applied yet at the moment it takes office.
    net.tickAll(2);
    net.core(2).step({ type: 'Campaign' });
    net.dropIf((m) => m.type === 'AppendRequest' || m.type === 'AppendResponse');
    net.stabilize();
    assert.equal(net.core(2).status().role, 'leader');
    const early = net.core(2).step({ type: 'ProposeConfChange', change: { op: 'remove', id: 5 } });
    assert.equal(!early.ok && early.reason, 'change-pending', 'no change before an entry of its own term is applied');
    net.dropIf(undefined);
    net.tickAll(2);
    assert.equal(change(net, 2, { op: 'remove', id: 5 }).ok, true);
  });

  it('refuses invalid changes and ones that leave no quorum of live voters', () => {
    const net = new CoreNetwork([1, 2, 3], plain, 1, undefined, [1, 2, 3]);
    net.elect(1);
    const reason = (cc: ConfChange): string | undefined => {
      const r = change(net, 1, cc);
      return r.ok ? undefined : r.reason;
    };
    assert.equal(reason({ op: 'add-voter', id: 2, address: 'x' }), 'invalid-change', 'id already present');
    assert.equal(reason({ op: 'promote', id: 3 }), 'invalid-change', 'not a learner');
    assert.equal(reason({ op: 'remove', id: 9 }), 'invalid-change', 'not a member');
    // 2 and 3 silent: adding a voter (counted as down) leaves 1 of 4 reachable.
    net.isolate(2);
    net.isolate(3);
    net.tickAll(net.config(1).electionTicks + 1);
    assert.equal(reason({ op: 'add-voter', id: 4, address: 'n4' }), 'no-quorum');
    assert.equal(reason({ op: 'remove', id: 2 }), 'no-quorum', '1 of {1,3} is not a quorum');
    assert.equal(net.core(2).step({ type: 'ProposeConfChange', change: { op: 'remove', id: 1 } }).ok, false, 'only a leader proposes');
  });

  it('makes the commit of a membership change durable before it applies (a commit-only change otherwise is not)', () => {
    const follower = (third: EntryKind): RaftCore => {
      const bootstrap = { index: 1, term: 1, kind: EntryKind.ConfChange, data: encodeConfChange({ op: 'bootstrap', config: { voters: [1, 2, 3], learners: [] } }) };
      const data = third === EntryKind.ConfChange ? encodeConfChange({ op: 'add-learner', id: 4, address: 'n4' }) : new Uint8Array([7]);
      const core = new RaftCore({
        config: { ...DEFAULT_CORE_CONFIG, ...plain, id: 2, voters: [] },
        initial: { hardState: { term: 2, vote: 1, commit: 2 }, entries: [bootstrap, { index: 2, term: 2, kind: EntryKind.Noop, data: new Uint8Array() }, { index: 3, term: 2, kind: third, data }], applied: 0 },
        random: new SeededRandom(3),
        logger: silentLogger,
      });
      core.ready();
      core.advance();
      core.step({ type: 'HeartbeatRequest', from: 1, to: 2, term: 2, commit: 3, context: 0 });
      return core;
    };
    const change = follower(EntryKind.ConfChange).ready();
    assert.deepEqual(change.committedEntries.map((e) => e.index), [3]);
    assert.equal(change.entries.length, 0, 'only the commit index moves');
    assert.equal(change.mustSync, true, 'the commit of a membership change is fsynced before it applies');
    const command = follower(EntryKind.Command).ready();
    assert.equal(command.mustSync, false, 'the commit of a command alone is not');
  });

  it('a removed leader that loses its quorum while handing over stays to vote until a leader confirms its removal', () => {
    const net = new CoreNetwork([1, 2, 3], { preVote: true, checkQuorum: true }, 1, undefined, [1, 2, 3]);
    net.elect(1);
    // The removal commits and applies on the leader only: nothing tells the others
    // the new commit index, and the leader is cut off before it hands over.
    const before = net.core(1).status().lastIndex;
    net.intercept((m) => {
      if (m.from !== 1) return m;
      return m.type === 'AppendRequest' ? { ...m, commit: Math.min(m.commit, before) } : undefined;
    });
    assert.equal(change(net, 1, { op: 'remove', id: 1 }).ok, true);
    assert.deepEqual(net.core(1).status().voters, [2, 3], 'applied on the leader');
    assert.deepEqual(net.core(2).status().voters, [1, 2, 3], 'not yet known to be committed elsewhere');
    net.isolate(1);
    net.tick(1, 3 * net.config(1).electionTicks);
    net.processReadies();
    assert.notEqual(net.core(1).status().role, 'leader');
    assert.equal(net.core(1).status().removed, false, 'exiting now could leave 2 and 3 without a quorum: both still count node 1');
    // Node 3 is lost for good; node 2 can win only with node 1's vote, and commit
    // the removal only with node 1's acknowledgement.
    net.takeMessages(); // what node 1 sent while cut off is lost
    net.intercept(undefined);
    net.heal();
    net.isolate(3);
    for (let i = 0; i < 10 && net.core(2).status().role !== 'leader'; i += 1) net.tick(2, net.config(2).electionTicks + 1), net.stabilize();
    assert.equal(net.core(2).status().role, 'leader', 'node 2 leads with node 1\'s vote');
    net.tick(2, 2);
    net.stabilize();
    assert.deepEqual(net.core(2).status().voters, [2, 3], 'the removal committed and applied on node 2');
    assert.equal(net.core(1).status().removed, true, 'node 1 heard a leader whose commit covers its removal');
  });

  it('a node whose own disk says its removal committed stays to vote until a leader confirms it (seed 0x5eed0011)', () => {
    // Node 3 led when its removal (index 3) committed, handed over, and restarted
    // before any leader told the others: its hard state has commit 3, theirs 2.
    const bootstrap = { index: 1, term: 1, kind: EntryKind.ConfChange, data: encodeConfChange({ op: 'bootstrap', config: { voters: [1, 3], learners: [] } }) };
    const removal = { index: 3, term: 2, kind: EntryKind.ConfChange, data: encodeConfChange({ op: 'remove', id: 3 }) };
    const core = new RaftCore({
      config: { ...DEFAULT_CORE_CONFIG, ...plain, id: 3, voters: [] },
      initial: { hardState: { term: 3, vote: 1, commit: 3 }, entries: [bootstrap, { index: 2, term: 2, kind: EntryKind.Noop, data: new Uint8Array() }, removal], applied: 0 },
      random: new SeededRandom(5),
      logger: silentLogger,
    });
    assert.deepEqual(core.ready().committedEntries.map((e) => e.index), [1, 2, 3]);
    core.advance();
    assert.deepEqual(core.status().voters, [1], 'it applied its removal');
    assert.equal(core.status().removed, false, 'node 1 may not know the removal committed, and needs node 3 to elect anyone');
    // Node 1 campaigns in {1, 3} and wins with node 3's vote.
    core.step({ type: 'VoteRequest', from: 1, to: 3, term: 4, lastLogIndex: 3, lastLogTerm: 2, pre: false, transfer: false });
    const granted = core.ready().messages.find((m) => m.type === 'VoteResponse');
    assert.ok(granted !== undefined && granted.type === 'VoteResponse' && granted.granted, 'node 3 still votes');
    core.advance();
    core.step({ type: 'HeartbeatRequest', from: 1, to: 3, term: 4, commit: 2, context: 0 });
    assert.equal(core.status().removed, false, 'a leader whose commit is below the removal does not confirm it');
    core.step({ type: 'HeartbeatRequest', from: 1, to: 3, term: 4, commit: 3, context: 0 });
    assert.equal(core.status().removed, true, 'a leader whose commit covers the removal does');
  });

  it('a removed node that holds the only copy of the entries after its removal leads again, only to hand over (seed 0x80ed1)', () => {
    // Node 3 led, committed its removal (index 3) and appended entry 4 before it lost
    // its quorum and restarted. Node 1 has entries 1-3, commit 2: it campaigns in
    // {1, 3}, and node 3 refuses it as less up to date. Unless node 3 may campaign,
    // neither ever leads.
    const bootstrap = { index: 1, term: 1, kind: EntryKind.ConfChange, data: encodeConfChange({ op: 'bootstrap', config: { voters: [1, 3], learners: [] } }) };
    const removal = { index: 3, term: 2, kind: EntryKind.ConfChange, data: encodeConfChange({ op: 'remove', id: 3 }) };
    const after = { index: 4, term: 2, kind: EntryKind.Command, data: new Uint8Array([4]) };
    const core = new RaftCore({
      config: { ...DEFAULT_CORE_CONFIG, ...plain, preVote: true, id: 3, voters: [] },
      initial: { hardState: { term: 2, vote: 3, commit: 3 }, entries: [bootstrap, { index: 2, term: 2, kind: EntryKind.Noop, data: new Uint8Array() }, removal, after], applied: 0 },
      random: new SeededRandom(7),
      logger: silentLogger,
    });
    core.ready();
    core.advance();
    assert.deepEqual(core.status().voters, [1]);
    assert.equal(core.status().removed, false);
    // It refuses node 1, whose log lacks entry 4.
    core.step({ type: 'VoteRequest', from: 1, to: 3, term: 3, lastLogIndex: 3, lastLogTerm: 2, pre: false, transfer: false });
    const refusal = core.ready().messages.find((m) => m.type === 'VoteResponse');
    assert.ok(refusal?.type === 'VoteResponse' && !refusal.granted);
    core.advance();
    // Its election timer runs out: it asks node 1 (only) for a pre-vote, then a vote.
    let requests: { to: number; pre: boolean }[] = [];
    for (let i = 0; i < 10 * DEFAULT_CORE_CONFIG.electionTicks && requests.length === 0; i += 1) {
      core.tick();
      requests = core.ready().messages.flatMap((m) => (m.type === 'VoteRequest' ? [{ to: m.to, pre: m.pre }] : []));
      core.advance();
    }
    assert.deepEqual(requests, [{ to: 1, pre: true }]);
    const term = core.status().term;
    core.step({ type: 'VoteResponse', from: 1, to: 3, term: term + 1, pre: true, granted: true });
    core.ready();
    core.advance();
    core.step({ type: 'VoteResponse', from: 1, to: 3, term: term + 1, pre: false, granted: true });
    assert.equal(core.status().role, 'leader', "node 1's vote is a majority of the configuration it is in");
    assert.equal(core.step({ type: 'Propose', entries: [{ kind: EntryKind.Command, data: new Uint8Array([9]) }] }).ok, false, 'it takes no proposals');
    const appends = core.ready().messages.filter((m) => m.type === 'AppendRequest');
    assert.ok(appends.length > 0 && appends.every((m) => m.to === 1));
    core.advance();
    // Node 1 stores everything (its commit then covers the removal) and answers a
    // heartbeat round sent after: node 3 tells it to campaign and is removed.
    core.step({ type: 'AppendResponse', from: 1, to: 3, term: term + 1, success: true, index: 5, hintIndex: 0, hintTerm: 0 });
    assert.equal(core.status().commit, 5, "node 1's acknowledgement commits; node 3's own copy does not count");
    core.ready();
    core.advance();
    let heartbeat: PeerMessage | undefined;
    for (let i = 0; i < 5 && heartbeat === undefined; i += 1) {
      core.tick();
      heartbeat = core.ready().messages.find((m) => m.type === 'HeartbeatRequest' && m.context > 0);
      core.advance();
    }
    assert.ok(heartbeat?.type === 'HeartbeatRequest' && heartbeat.to === 1 && heartbeat.commit >= 3, 'a hand-over round that carries the removal commit');
    core.step({ type: 'HeartbeatResponse', from: 1, to: 3, term: term + 1, context: heartbeat.context });
    assert.ok(core.ready().messages.some((m) => m.type === 'TimeoutNow' && m.to === 1));
    assert.equal(core.status().removed, true);
    assert.notEqual(core.status().role, 'leader');
  });

  describe('a node restarted from a snapshot whose configuration leaves it out', () => {
    // Node 7 installed the leader's snapshot at 10, taken before the leader added it
    // (at 13), got entries 11-12 and restarted: nothing on its disk names it.
    const restarted = (): RaftCore =>
      new RaftCore({
        config: { ...DEFAULT_CORE_CONFIG, ...plain, id: 7, voters: [] },
        initial: {
          hardState: { term: 2, vote: 0, commit: 12 },
          base: { index: 10, term: 2 },
          entries: [11, 12].map((index) => ({ index, term: 2, kind: EntryKind.Noop, data: new Uint8Array() })),
          snapshot: { index: 10, term: 2, config: { voters: [1, 2, 3], learners: [] } },
          applied: 10,
        },
        random: new SeededRandom(7),
        logger: silentLogger,
      });
    const applyAll = (core: RaftCore): void => {
      while (core.hasReady()) {
        core.ready();
        core.advance();
      }
    };

    it('is a learner catching up, not removed, once it applies the leader\'s commit (seed 0xe0945)', () => {
      const core = restarted();
      applyAll(core);
      // A heartbeat's commit is capped at what the leader knows node 7 matches.
      core.step({ type: 'HeartbeatRequest', from: 1, to: 7, term: 2, commit: 12, context: 0 });
      applyAll(core);
      assert.equal(core.status().removed, false, 'a commit covering the snapshot proves nothing here');
      const addition = { index: 13, term: 2, kind: EntryKind.ConfChange, data: encodeConfChange({ op: 'add-learner', id: 7, address: 'n7:7000' }) };
      core.step({ type: 'AppendRequest', from: 1, to: 7, term: 2, prevLogIndex: 12, prevLogTerm: 2, entries: [addition], commit: 13 });
      assert.equal(core.status().removed, false, 'the leader\'s commit is not applied yet');
      applyAll(core);
      assert.equal(core.status().removed, false);
      assert.deepEqual(core.status().learners, [7], 'a member again');
      core.step({ type: 'HeartbeatRequest', from: 1, to: 7, term: 2, commit: 13, context: 0 });
      assert.equal(core.status().removed, false);
    });

    it('was removed when it is still out after applying up to a leader\'s full commit', () => {
      const core = restarted();
      applyAll(core);
      core.step({ type: 'AppendRequest', from: 1, to: 7, term: 2, prevLogIndex: 12, prevLogTerm: 2, entries: [{ index: 13, term: 2, kind: EntryKind.Noop, data: new Uint8Array() }], commit: 13 });
      assert.equal(core.status().removed, false);
      applyAll(core);
      assert.equal(core.status().removed, true);
    });
  });

  it('a removed node restarted after the leader stopped telling it stays unconfirmed and disturbs nobody', () => {
    const net = new CoreNetwork([1, 2, 3], plain, 1, undefined, [1, 2, 3]);
    net.elect(1);
    assert.equal(change(net, 1, { op: 'remove', id: 3 }).ok, true);
    net.tick(1, 2);
    net.stabilize();
    assert.equal(net.core(3).status().removed, true, 'removed the normal way');
    // The leader tells a removed member for two election timeouts only; then node 3
    // restarts from its own disk, where its removal is committed. (raft-node keeps a
    // marker in the data dir and does not start a node removed before.)
    net.tickAll(5 * net.config(1).electionTicks);
    net.stabilize();
    const term = net.core(1).status().term;
    net.restart(3);
    net.stabilize();
    assert.deepEqual(net.core(3).status().voters, [1, 2], 'it applied its removal from its own disk');
    for (let i = 0; i < 10; i += 1) {
      net.tickAll(net.config(1).electionTicks);
      net.stabilize();
    }
    assert.equal(net.core(3).status().removed, false, 'no leader confirms it: it stays to vote, in case one needs it');
    assert.notEqual(net.core(3).status().role, 'leader');
    assert.equal(net.core(1).status().role, 'leader', 'its campaigns go to members that applied its removal, which ignore them');
    assert.equal(net.core(1).status().term, term);
  });

  it('a removed leader handing over serves no reads: the new configuration could already have another leader', () => {
    let refused = 0;
    for (const options of [plain, { preVote: true, checkQuorum: true }]) {
      const net = new CoreNetwork([1, 2], options, 1, undefined, [1, 2]);
      net.elect(1);
      net.tickAll(2);
      propose(net, 1, 'a');
      // The hand-over round and TimeoutNow never reach node 2.
      net.dropIf((m) => m.from === 1 && m.to === 2 && ((m.type === 'HeartbeatRequest' && m.context > 0) || m.type === 'TimeoutNow'));
      change(net, 1, { op: 'remove', id: 1 });
      net.tickAll(1);
      assert.deepEqual(net.core(2).status().voters, [2], 'node 2 applied the removal');
      assert.equal(net.core(1).status().role, 'leader', 'node 1 still hands over');
      // Node 1 -> 2 is cut; node 2, alone in {2}, elects itself and commits b.
      net.dropIf((m) => m.from === 1 && m.to === 2);
      for (let i = 0; i < 3 * net.config(2).electionTicks && net.core(2).status().role !== 'leader'; i += 1) {
        net.core(2).tick();
        net.core(1).tick();
        net.stabilize();
      }
      assert.equal(net.core(2).status().role, 'leader');
      propose(net, 2, 'b');
      assert.deepEqual(net.stateOf(2), ['a', 'b']);
      if (net.core(1).status().role !== 'leader') continue; // stepped down already: nothing to read from
      const read = net.core(1).step({ type: 'ReadIndex', requestId: 42 });
      net.stabilize();
      assert.equal(read.ok, false, `refused (${JSON.stringify(options)})`);
      assert.equal(net.reads.get(1)?.length ?? 0, 0, 'no read state released');
      refused += 1;
    }
    assert.ok(refused >= 1, 'the stale leader was asked at least once');
  });

  it('a removed leader cut off from the only voter for a long time still gives it the vote it needs', () => {
    const net = new CoreNetwork([1, 2], plain, 1, undefined, [1, 2]);
    net.elect(1);
    net.tickAll(2);
    // Node 2 stores the removal but never hears that it committed.
    let removalIndex = 0;
    net.intercept((m) => {
      if (m.from !== 1 || m.to !== 2 || removalIndex === 0) return m;
      if ((m.type === 'AppendRequest' || m.type === 'HeartbeatRequest') && m.commit >= removalIndex) return undefined;
      return m.type === 'TimeoutNow' ? undefined : m;
    });
    removalIndex = net.core(1).status().lastIndex + 1;
    assert.equal(change(net, 1, { op: 'remove', id: 1 }).ok, true);
    assert.ok(net.core(2).status().commit < removalIndex, 'node 2 does not know the removal committed');
    net.intercept(undefined);
    net.cutLink(1, 2);
    net.tickAll(20 * net.config(1).electionTicks);
    assert.equal(net.core(1).status().removed, false, 'however long it waits, it stays to vote');
    net.heal();
    for (let i = 0; i < 20 && net.core(2).status().role !== 'leader'; i += 1) {
      net.tickAll(net.config(1).electionTicks);
      net.stabilize();
    }
    assert.equal(net.core(2).status().role, 'leader', 'node 2 leads after the partition heals');
    net.tickAll(2);
    net.stabilize();
    assert.deepEqual(net.core(2).status().voters, [2]);
    assert.equal(net.core(1).status().removed, true, 'and its commit confirms node 1\'s removal');
  });

  it('a removed follower learns of its removal; a removed leader hands over and steps down', () => {
    const net = new CoreNetwork([1, 2, 3, 4], plain, 1, undefined, [1, 2, 3, 4]);
    net.elect(1);
    assert.equal(change(net, 1, { op: 'remove', id: 4 }).ok, true);
    net.tickAll(3);
    assert.equal(net.core(4).status().removed, true, 'node 4 applied its own removal');
    assert.deepEqual(net.core(1).status().voters, [1, 2, 3]);
    // Messages from the removed node are no longer accepted once it is gone from the tracker.
    net.tickAll(2 * net.config(1).electionTicks + 2);
    assert.equal(net.core(1).step({ type: 'HeartbeatResponse', from: 4, to: 1, term: net.core(1).status().term, context: 0 }).ok, false);
    const term = net.core(1).status().term;
    assert.equal(change(net, 1, { op: 'remove', id: 1 }).ok, true);
    net.tickAll(2);
    assert.equal(net.core(1).status().removed, true);
    const leaders = [2, 3].filter((id) => net.core(id).status().role === 'leader');
    assert.equal(leaders.length, 1, 'a remaining voter leads at once (TimeoutNow), without an election timeout');
    assert.ok(net.core(leaders[0]!).status().term > term);
    assert.equal(propose(net, leaders[0]!, 'after').ok, true);
  });
});
