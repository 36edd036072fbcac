// Election rules of the Raft paper (§5.1 terms, §5.2 leader election, §5.4.1 the
// election restriction) and the thesis extensions PreVote (§9.6) and CheckQuorum
// (§6.2), checked against RaftCore alone: no sockets, no timers. Each test drives
// cores with tick()/step() and looks only at their Ready output and status().
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CORE_CONFIG } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import type { PeerMessage, VoteRequest, VoteResponse } from '../../src/core/messages.js';
import { RaftCore } from '../../src/core/raft-core.js';
import { SeededRandom } from '../../src/core/random.js';
import type { Entry } from '../../src/core/types.js';
import { EMPTY_HARD_STATE, EntryKind } from '../../src/core/types.js';
import { CoreNetwork } from '../helpers/core-network.js';

const noPreVote = { preVote: false, checkQuorum: false };

function entry(index: number, term: number): Entry {
  return { index, term, kind: EntryKind.Command, data: new Uint8Array([index]) };
}

function lone(id: number, voters: number[], options: { entries?: Entry[]; term?: number; vote?: number; preVote?: boolean; checkQuorum?: boolean } = {}): RaftCore {
  return new RaftCore({
    config: { ...DEFAULT_CORE_CONFIG, id, voters, preVote: options.preVote ?? false, checkQuorum: options.checkQuorum ?? false },
    initial: { hardState: { term: options.term ?? 0, vote: options.vote ?? 0, commit: 0 }, entries: options.entries ?? [], applied: 0 },
    random: new SeededRandom(id),
    logger: silentLogger,
  });
}

function drain(core: RaftCore): PeerMessage[] {
  const out: PeerMessage[] = [];
  while (core.hasReady()) {
    out.push(...core.ready().messages);
    core.advance();
  }
  return out;
}

function voteRequest(from: number, to: number, term: number, last: { index: number; term: number }, pre = false): VoteRequest {
  return { type: 'VoteRequest', from, to, term, pre, lastLogIndex: last.index, lastLogTerm: last.term, transfer: false };
}

describe('§5.1 terms', () => {
  it('a leader that sees a higher term steps down to follower and adopts the term', () => {
    const net = new CoreNetwork([1, 2, 3], noPreVote);
    net.elect(1);
    assert.equal(net.core(1).status().role, 'leader');
    net.core(1).step({ type: 'AppendResponse', from: 2, to: 1, term: 5, success: false, index: 0, hintIndex: 0, hintTerm: 0 });
    const status = net.core(1).status();
    assert.equal(status.role, 'follower');
    assert.equal(status.term, 5);
    assert.equal(status.vote, 0, 'a new term starts with no vote');
  });

  it('a request with a stale term is rejected with the current term and changes nothing', () => {
    const core = lone(2, [1, 2, 3], { term: 4, checkQuorum: true });
    drain(core);
    core.step({ type: 'AppendRequest', from: 1, to: 2, term: 3, prevLogIndex: 0, prevLogTerm: 0, entries: [entry(1, 3)], commit: 1 });
    const out = drain(core);
    assert.equal(core.status().lastIndex, 0, 'the stale append was not applied');
    assert.equal(core.status().term, 4);
    assert.deepEqual(out.map((m) => [m.type, m.term]), [['AppendResponse', 4]], 'the stale leader learns the newer term');
  });
});

describe('§5.2 leader election', () => {
  it('a follower that hears nothing for its election timeout becomes candidate, votes for itself and requests votes', () => {
    const core = lone(1, [1, 2, 3]);
    drain(core);
    for (let i = 0; i < 2 * DEFAULT_CORE_CONFIG.electionTicks; i += 1) core.tick();
    const status = core.status();
    assert.equal(status.role, 'candidate');
    assert.equal(status.term, 1);
    assert.equal(status.vote, 1);
    const ready = core.ready();
    assert.deepEqual(ready.hardState, { term: 1, vote: 1, commit: 0 });
    assert.equal(ready.mustSync, true, 'term and vote must be durable before the requests go out');
    assert.deepEqual(ready.messages.map((m) => [m.type, m.to, m.term]), [['VoteRequest', 2, 1], ['VoteRequest', 3, 1]]);
  });

  it('election timeouts are drawn uniformly from [E, 2E) ticks', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 200; seed += 1) {
      const core = new RaftCore({
        config: { ...DEFAULT_CORE_CONFIG, id: 1, voters: [1, 2, 3], preVote: false },
        initial: { hardState: EMPTY_HARD_STATE, entries: [], applied: 0 },
        random: new SeededRandom(seed),
        logger: silentLogger,
      });
      let ticks = 0;
      while (core.status().role === 'follower') {
        core.tick();
        ticks += 1;
        assert.ok(ticks < 2 * DEFAULT_CORE_CONFIG.electionTicks, `seed ${seed} waited ${ticks} ticks`);
      }
      assert.ok(ticks >= DEFAULT_CORE_CONFIG.electionTicks, `seed ${seed} campaigned after ${ticks} ticks`);
      seen.add(ticks);
    }
    assert.equal(seen.size, DEFAULT_CORE_CONFIG.electionTicks, `every timeout in [E, 2E) occurs: ${[...seen].sort()}`);
  });

  it('a candidate with votes from a majority becomes leader and sends its no-op', () => {
    const net = new CoreNetwork([1, 2, 3, 4, 5], noPreVote);
    net.cutLink(1, 4);
    net.cutLink(1, 5);
    net.elect(1);
    const status = net.core(1).status();
    assert.equal(status.role, 'leader');
    assert.equal(status.term, 1);
    assert.equal(net.core(2).status().leader, 1);
    assert.equal(net.core(2).entry(1)?.kind, EntryKind.Noop);
    assert.equal(status.commit, 1, 'the no-op commits on a majority (1, 2, 3)');
  });

  it('a candidate without a majority does not become leader', () => {
    const net = new CoreNetwork([1, 2, 3, 4, 5], noPreVote);
    net.cutLink(1, 3);
    net.cutLink(1, 4);
    net.cutLink(1, 5);
    net.elect(1);
    assert.equal(net.core(1).status().role, 'candidate', 'two votes of five are not enough');
  });

  it('each node grants at most one vote per term, also after a restart', () => {
    const net = new CoreNetwork([1, 2, 3], noPreVote);
    const voter = net.core(3);
    voter.step(voteRequest(1, 3, 1, { index: 0, term: 0 }));
    const first = net.takeMessages() as VoteResponse[];
    assert.deepEqual(first.map((m) => [m.to, m.granted]), [[1, true]]);
    voter.step(voteRequest(2, 3, 1, { index: 0, term: 0 }));
    assert.deepEqual((net.takeMessages() as VoteResponse[]).map((m) => [m.to, m.granted]), [[2, false]]);
    net.restart(3);
    net.core(3).step(voteRequest(2, 3, 1, { index: 0, term: 0 }));
    assert.deepEqual((net.takeMessages() as VoteResponse[]).map((m) => [m.to, m.granted]), [[2, false]], 'the vote survived the restart');
    net.core(3).step(voteRequest(1, 3, 1, { index: 0, term: 0 }));
    assert.deepEqual((net.takeMessages() as VoteResponse[]).map((m) => [m.to, m.granted]), [[1, true]], 'a repeated request from the same candidate is granted again');
  });

  it('a vote is released only together with its durable record (same Ready, mustSync)', () => {
    const core = lone(3, [1, 2, 3]);
    drain(core);
    core.step(voteRequest(1, 3, 7, { index: 0, term: 0 }));
    const ready = core.ready();
    assert.deepEqual(ready.hardState, { term: 7, vote: 1, commit: 0 });
    assert.equal(ready.mustSync, true);
    assert.deepEqual(ready.messages.map((m) => m.type), ['VoteResponse']);
  });

  it('split votes: with two candidates and no majority, a later timeout elects exactly one leader', () => {
    const net = new CoreNetwork([1, 2, 3, 4], noPreVote);
    net.cutLink(1, 3);
    net.cutLink(1, 4);
    net.cutLink(3, 2);
    net.cutLink(3, 1);
    net.core(1).step({ type: 'Campaign' });
    net.core(3).step({ type: 'Campaign' });
    net.stabilize();
    assert.equal(net.core(1).status().role, 'candidate');
    assert.equal(net.core(3).status().role, 'candidate');
    assert.deepEqual(net.leaders(), [], 'two votes each of four is no majority');
    net.heal();
    for (let i = 0; i < 4 * DEFAULT_CORE_CONFIG.electionTicks && net.leaders().length === 0; i += 1) net.tickAll();
    assert.equal(net.leaders().length, 1);
    const leader = net.leaders()[0]!;
    assert.ok(net.core(leader).status().term >= 2);
  });

  it('a candidate that hears an append from a leader of its term becomes follower', () => {
    const core = lone(2, [1, 2, 3]);
    core.step({ type: 'Campaign' });
    drain(core);
    assert.equal(core.status().role, 'candidate');
    core.step({ type: 'AppendRequest', from: 3, to: 2, term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [], commit: 0 });
    assert.equal(core.status().role, 'follower');
    assert.equal(core.status().leader, 3);
  });

  it('becoming leader never happens from follower directly (votes are counted only by candidates)', () => {
    const core = lone(1, [1, 2, 3]);
    core.step({ type: 'VoteResponse', from: 2, to: 1, term: 0, pre: false, granted: true });
    core.step({ type: 'VoteResponse', from: 3, to: 1, term: 0, pre: false, granted: true });
    assert.equal(core.status().role, 'follower');
  });
});

describe('§5.4.1 election restriction: only an up-to-date log gets votes', () => {
  const log = [entry(1, 1), entry(2, 2), entry(3, 2)];
  const cases: [string, { index: number; term: number }, boolean][] = [
    ['lower last term, longer log', { index: 5, term: 1 }, false],
    ['same last term, shorter log', { index: 2, term: 2 }, false],
    ['same last term, same length', { index: 3, term: 2 }, true],
    ['same last term, longer log', { index: 4, term: 2 }, true],
    ['higher last term, shorter log', { index: 1, term: 3 }, true],
  ];
  for (const [name, last, granted] of cases) {
    it(`${name}: ${granted ? 'granted' : 'refused'}`, () => {
      const core = lone(2, [1, 2, 3], { entries: log, term: 2 });
      drain(core);
      core.step(voteRequest(1, 2, 3, last));
      const out = drain(core) as VoteResponse[];
      assert.deepEqual(out.map((m) => m.granted), [granted]);
    });
  }
});

describe('thesis §9.6 PreVote', () => {
  it('a pre-candidate asks with term+1 but changes neither its term nor its vote', () => {
    const core = lone(1, [1, 2, 3], { term: 3, preVote: true });
    drain(core);
    core.step({ type: 'Campaign' });
    const status = core.status();
    assert.equal(status.role, 'pre-candidate');
    assert.equal(status.term, 3);
    assert.equal(status.vote, 0);
    const out = drain(core) as VoteRequest[];
    assert.deepEqual(out.map((m) => [m.type, m.pre, m.term]), [['VoteRequest', true, 4], ['VoteRequest', true, 4]]);
  });

  it('granting a pre-vote changes nothing on the voter', () => {
    const core = lone(2, [1, 2, 3], { term: 3, preVote: true });
    drain(core);
    core.step(voteRequest(1, 2, 4, { index: 0, term: 0 }, true));
    const out = drain(core) as VoteResponse[];
    assert.deepEqual(out.map((m) => [m.pre, m.granted, m.term]), [[true, true, 4]]);
    assert.equal(core.status().term, 3);
    assert.equal(core.status().vote, 0);
  });

  it('a partitioned node cannot raise its term, so its return does not depose the leader', () => {
    const net = new CoreNetwork([1, 2, 3], { preVote: true, checkQuorum: false });
    net.elect(1);
    const term = net.core(1).status().term;
    net.isolate(3);
    net.tickAll(10 * DEFAULT_CORE_CONFIG.electionTicks);
    assert.equal(net.core(3).status().term, term, 'pre-votes failed, so the term did not grow');
    assert.equal(net.core(3).status().role, 'pre-candidate');
    net.heal();
    net.tickAll(3);
    assert.deepEqual(net.leaders(), [1]);
    assert.equal(net.core(1).status().term, term, 'the leader kept its term');
    assert.equal(net.core(3).status().leader, 1);
  });

  it('a pre-vote win is followed by a real election in term+1', () => {
    const net = new CoreNetwork([1, 2, 3], { preVote: true, checkQuorum: false });
    net.elect(2);
    assert.equal(net.core(2).status().role, 'leader');
    assert.equal(net.core(2).status().term, 1);
    const types = net.delivered.filter((m) => m.type === 'VoteRequest').map((m) => (m as VoteRequest).pre);
    assert.deepEqual(types, [true, true, false, false]);
  });
});

describe('thesis §6.2 CheckQuorum and refusal under a live leader', () => {
  it('a leader that hears from no majority within an election timeout steps down', () => {
    const net = new CoreNetwork([1, 2, 3], { preVote: true, checkQuorum: true });
    net.elect(1);
    net.isolate(1);
    for (let i = 0; i < 2 * DEFAULT_CORE_CONFIG.electionTicks; i += 1) {
      net.tick(1);
      net.stabilize();
    }
    assert.equal(net.core(1).status().role, 'follower');
  });

  it('a leader that hears from a majority stays leader', () => {
    const net = new CoreNetwork([1, 2, 3], { preVote: true, checkQuorum: true });
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 5 * DEFAULT_CORE_CONFIG.electionTicks; i += 1) {
      net.tick(1);
      net.stabilize();
    }
    assert.equal(net.core(1).status().role, 'leader');
  });

  it('a follower that heard its leader within the election timeout ignores a vote request with a higher term', () => {
    const net = new CoreNetwork([1, 2, 3], { preVote: false, checkQuorum: true });
    net.elect(1);
    const term = net.core(2).status().term;
    net.core(2).step(voteRequest(3, 2, term + 1, { index: 10, term: 10 }));
    assert.deepEqual(net.takeMessages().filter((m) => m.to === 3), [], 'no answer at all');
    assert.equal(net.core(2).status().term, term, 'and no term change');
    assert.equal(net.core(2).status().leader, 1);
  });

  it('the same holds for pre-votes', () => {
    const net = new CoreNetwork([1, 2, 3], { preVote: true, checkQuorum: true });
    net.elect(1);
    const term = net.core(2).status().term;
    net.core(2).step(voteRequest(3, 2, term + 1, { index: 10, term: 10 }, true));
    assert.deepEqual(net.takeMessages().filter((m) => m.to === 3), []);
  });

  it('after the leader goes silent for an election timeout, the follower votes again', () => {
    const net = new CoreNetwork([1, 2, 3], { preVote: false, checkQuorum: true });
    net.elect(1);
    const term = net.core(2).status().term;
    net.tick(2, DEFAULT_CORE_CONFIG.electionTicks);
    net.takeMessages();
    net.core(2).step(voteRequest(3, 2, term + 1, { index: 10, term: 10 }));
    const out = net.takeMessages().filter((m) => m.to === 3) as VoteResponse[];
    assert.deepEqual(out.map((m) => m.granted), [true]);
  });
});

describe('heartbeats', () => {
  it('the leader sends a heartbeat to every follower every heartbeat interval', () => {
    const net = new CoreNetwork([1, 2, 3], { heartbeatTicks: 2, preVote: false, checkQuorum: false });
    net.elect(1);
    net.tick(1);
    assert.deepEqual(net.takeMessages(), []);
    net.tick(1);
    assert.deepEqual(net.takeMessages().map((m) => [m.type, m.to]), [['HeartbeatRequest', 2], ['HeartbeatRequest', 3]]);
  });

  it('heartbeats keep followers from campaigning', () => {
    const net = new CoreNetwork([1, 2, 3], { preVote: true, checkQuorum: true });
    net.elect(1);
    const term = net.core(1).status().term;
    net.tickAll(20 * DEFAULT_CORE_CONFIG.electionTicks);
    assert.deepEqual(net.leaders(), [1]);
    assert.equal(net.core(2).status().term, term);
  });
});
