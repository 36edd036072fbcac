// Leadership transfer (Raft thesis §3.10), the intent of etcd's TestLeaderTransfer*:
// the leader brings the target up to date, sends TimeoutNow, refuses proposals
// meanwhile, and gives up after an election timeout; the target campaigns without
// PreVote and wins although the voters still hear a live leader.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PeerMessage } from '../../src/core/messages.js';
import type { StepResult } from '../../src/core/raft-core.js';
import type { NodeId } from '../../src/core/types.js';
import { EntryKind } from '../../src/core/types.js';
import { CoreNetwork, RecordingLogger } from '../helpers/core-network.js';

const ELECTION_TICKS = 6;

function cluster(ids: NodeId[] = [1, 2, 3]): { net: CoreNetwork; logs: Map<NodeId, RecordingLogger> } {
  const logs = new Map<NodeId, RecordingLogger>();
  const net = new CoreNetwork(ids, { electionTicks: ELECTION_TICKS }, 7, (id) => {
    const logger = new RecordingLogger();
    logs.set(id, logger);
    return logger;
  });
  net.elect(1);
  assert.deepEqual(net.leaders(), [1]);
  return { net, logs };
}

function propose(net: CoreNetwork, id: NodeId, text: string): StepResult {
  return net.core(id).step({ type: 'Propose', entries: [{ kind: EntryKind.Command, data: new TextEncoder().encode(text) }] });
}

function transfer(net: CoreNetwork, id: NodeId, target: NodeId): StepResult {
  return net.core(id).step({ type: 'TransferLeader', target });
}

function infoLines(logger: RecordingLogger, message: string): Record<string, unknown>[] {
  return logger.lines.filter((l) => l.level === 'info' && l.message === message).map((l) => l.fields);
}

/** Ticks the leader alone (followers' timers stay put) and settles after each tick. */
function tickLeader(net: CoreNetwork, id: NodeId, times: number): void {
  for (let i = 0; i < times; i += 1) {
    net.tick(id);
    net.stabilize();
  }
}

describe('leadership transfer', () => {
  it('hands leadership to an up-to-date follower at once, in the next term', () => {
    const { net, logs } = cluster();
    const term = net.core(1).status().term;
    assert.deepEqual(transfer(net, 1, 3), { ok: true });
    assert.equal(net.core(1).status().transferTarget, 3);
    const out = net.takeMessages();
    assert.ok(out.some((m) => m.type === 'TimeoutNow' && m.to === 3), 'a caught-up target is told to campaign at once');
    for (const m of out) net.deliver(m);
    net.stabilize();
    assert.deepEqual(net.leaders(), [3]);
    assert.equal(net.core(3).status().term, term + 1);
    assert.equal(net.core(1).status().leader, 3);
    assert.equal(net.core(1).status().transferTarget, 0);
    assert.deepEqual(infoLines(logs.get(1)!, 'leadership transfer started'), [{ target: 3, term }]);
    assert.deepEqual(infoLines(logs.get(1)!, 'leadership transfer completed'), [{ target: 3, term: term + 1 }]);
    // The new leader serves proposals, and the old one forwards clients to it.
    assert.equal(propose(net, 3, 'after').ok, true);
    assert.deepEqual(propose(net, 1, 'stale'), { ok: false, reason: 'not-leader', leader: 3 });
  });

  it('brings a lagging follower up to date first, then sends TimeoutNow', () => {
    const { net } = cluster();
    net.cutLink(1, 3);
    for (let i = 0; i < 5; i += 1) assert.equal(propose(net, 1, `w${i}`).ok, true);
    net.stabilize();
    net.heal();
    const lastIndex = net.core(1).status().lastIndex;
    assert.ok(net.core(1).status().peers.find((p) => p.id === 3)!.match < lastIndex);
    assert.deepEqual(transfer(net, 1, 3), { ok: true });
    const first = net.takeMessages();
    assert.ok(!first.some((m) => m.type === 'TimeoutNow'), 'no TimeoutNow before the target holds the whole log');
    for (const m of first) net.deliver(m);
    net.stabilize();
    // A probe may have been paused; the next heartbeat answer resumes catch-up.
    if (net.leaders()[0] === 1) tickLeader(net, 1, 2);
    assert.deepEqual(net.leaders(), [3]);
    const timeoutNows = net.delivered.filter((m) => m.type === 'TimeoutNow');
    assert.ok(timeoutNows.length >= 1);
    // The target had every entry of the old leader when it campaigned: nothing lost.
    assert.ok(net.core(3).status().lastIndex > lastIndex, 'the new leader appended its no-op after the old log');
    assert.deepEqual(net.stateOf(3).slice(0, 5), ['w0', 'w1', 'w2', 'w3', 'w4']);
  });

  it('refuses a transfer to itself, to a non-member, and on a follower', () => {
    const { net } = cluster();
    assert.deepEqual(transfer(net, 1, 1), { ok: false, reason: 'transfer-to-self' });
    assert.deepEqual(transfer(net, 1, 9), { ok: false, reason: 'transfer-to-non-member' });
    assert.deepEqual(transfer(net, 2, 3), { ok: false, reason: 'not-leader', leader: 1 });
    assert.equal(net.core(1).status().transferTarget, 0);
    assert.equal(propose(net, 1, 'still leading').ok, true, 'a refused transfer changes nothing');
  });

  it('refuses when no other voter exists', () => {
    const net = new CoreNetwork([1], { electionTicks: ELECTION_TICKS });
    net.elect(1);
    assert.deepEqual(transfer(net, 1, 0), { ok: false, reason: 'no-transfer-target' });
  });

  it('refuses proposals while transferring, naming the target, and accepts them again after an abort', () => {
    const { net, logs } = cluster();
    net.dropIf((m) => m.type === 'TimeoutNow');
    assert.deepEqual(transfer(net, 1, 2), { ok: true });
    net.stabilize();
    assert.deepEqual(propose(net, 1, 'during'), { ok: false, reason: 'transferring', leader: 2 });
    tickLeader(net, 1, ELECTION_TICKS - 1);
    assert.equal(net.core(1).status().transferTarget, 2, 'still in progress before an election timeout');
    tickLeader(net, 1, 1);
    assert.equal(net.core(1).status().transferTarget, 0, 'abandoned after an election timeout');
    assert.deepEqual(net.leaders(), [1]);
    assert.deepEqual(infoLines(logs.get(1)!, 'leadership transfer aborted'), [{ target: 2, reason: 'timeout', term: net.core(1).status().term }]);
    assert.equal(propose(net, 1, 'after').ok, true);
  });

  it('aborts with target-lagging when the target cannot catch up', () => {
    const { net, logs } = cluster();
    net.cutLink(1, 3);
    assert.equal(propose(net, 1, 'x').ok, true);
    net.stabilize();
    assert.deepEqual(transfer(net, 1, 3), { ok: true });
    tickLeader(net, 1, ELECTION_TICKS);
    assert.equal(net.core(1).status().transferTarget, 0);
    assert.equal(infoLines(logs.get(1)!, 'leadership transfer aborted')[0]!.reason, 'target-lagging');
    assert.deepEqual(net.leaders(), [1]);
  });

  it('a second request for the same target keeps the first one’s clock; another target supersedes it', () => {
    const { net, logs } = cluster();
    net.dropIf((m) => m.type === 'TimeoutNow');
    assert.deepEqual(transfer(net, 1, 3), { ok: true });
    tickLeader(net, 1, ELECTION_TICKS / 2);
    assert.deepEqual(transfer(net, 1, 3), { ok: true });
    assert.deepEqual(transfer(net, 1, 0), { ok: true }, 'no target named: the one in progress stands');
    tickLeader(net, 1, ELECTION_TICKS / 2);
    assert.equal(net.core(1).status().transferTarget, 0, 'aborted on the first request’s schedule (etcd TestLeaderTransferSecondTransferToSameNode)');

    assert.deepEqual(transfer(net, 1, 3), { ok: true });
    assert.deepEqual(transfer(net, 1, 2), { ok: true });
    assert.equal(net.core(1).status().transferTarget, 2);
    assert.equal(infoLines(logs.get(1)!, 'leadership transfer aborted').at(-1)!.reason, 'superseded');
    net.dropIf(undefined);
    tickLeader(net, 1, 1);
    assert.deepEqual(net.leaders(), [2]);
  });

  it('target 0 picks the most caught-up voter, the lowest id on a tie', () => {
    const { net } = cluster([1, 2, 3, 4]);
    assert.deepEqual(transfer(net, 1, 0), { ok: true });
    assert.equal(net.core(1).status().transferTarget, 2);
    net.stabilize();
    assert.deepEqual(net.leaders(), [2]);

    // Node 3 falls behind; 4 is then the most caught-up besides the leader.
    net.cutLink(2, 3);
    assert.equal(propose(net, 2, 'y').ok, true);
    net.stabilize();
    net.dropIf((m) => m.type === 'TimeoutNow');
    assert.deepEqual(transfer(net, 2, 0), { ok: true });
    assert.equal(net.core(2).status().transferTarget, 1, 'node 1 and 4 tie; lowest id');
    net.heal();
  });

  it('the target campaigns without PreVote and wins although voters hear a live leader', () => {
    const { net } = cluster();
    // Without a transfer, node 3's campaign is refused: the lease holds (PreVote and
    // CheckQuorum are on by default).
    net.core(3).step({ type: 'Campaign' });
    net.stabilize();
    assert.deepEqual(net.leaders(), [1]);
    // The next heartbeat brings the unanswered pre-candidate back to following.
    tickLeader(net, 1, 1);
    assert.equal(net.core(3).status().role, 'follower');
    const before = net.delivered.length;
    assert.deepEqual(transfer(net, 1, 3), { ok: true });
    net.stabilize();
    assert.deepEqual(net.leaders(), [3]);
    const during: PeerMessage[] = net.delivered.slice(before);
    const votes = during.filter((m) => m.type === 'VoteRequest' && m.from === 3);
    assert.ok(votes.length > 0);
    assert.ok(votes.every((m) => m.type === 'VoteRequest' && !m.pre && m.transfer), 'a real vote, marked as a transfer');
    assert.ok(during.some((m) => m.type === 'VoteResponse' && m.from === 2 && m.granted), 'node 2 voted despite its lease');
  });

  it('stepping down for lost quorum clears the transfer', () => {
    const { net, logs } = cluster();
    net.dropIf((m) => m.type === 'TimeoutNow');
    assert.deepEqual(transfer(net, 1, 2), { ok: true });
    net.isolate(1);
    // CheckQuorum runs every election timeout; the transfer's own abort races it, so
    // look only at the end state and that one of the two ended the transfer.
    tickLeader(net, 1, 2 * ELECTION_TICKS);
    assert.notEqual(net.core(1).status().role, 'leader');
    assert.equal(net.core(1).status().transferTarget, 0);
    assert.equal(infoLines(logs.get(1)!, 'leadership transfer aborted').length, 1);
  });
});
