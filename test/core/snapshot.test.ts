// Snapshots and log compaction against RaftCore alone (Raft paper §7, Figure 13):
// a leader whose log no longer holds what a follower needs sends its snapshot; the
// follower keeps the entries after a snapshot that matches its log and discards a
// log that conflicts; a snapshot at or below the commit index is ignored; compaction
// keeps what a transfer in progress needs; a restart from snapshot + log replays to
// the same state; a failed transfer is retried.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CORE_CONFIG } from '../../src/core/config.js';
import { silentLogger } from '../../src/core/logger.js';
import type { AppendResponse, InstallSnapshot, PeerMessage } from '../../src/core/messages.js';
import { RaftCore } from '../../src/core/raft-core.js';
import { SeededRandom } from '../../src/core/random.js';
import type { Entry } from '../../src/core/types.js';
import { EntryKind } from '../../src/core/types.js';
import { CoreNetwork } from '../helpers/core-network.js';

const plain = { preVote: false, checkQuorum: false };

function propose(net: CoreNetwork, id: number, count: number, prefix = 'w'): void {
  for (let i = 0; i < count; i += 1) {
    const result = net.core(id).step({ type: 'Propose', entries: [{ kind: EntryKind.Command, data: new TextEncoder().encode(`${prefix}${i}`) }] });
    assert.equal(result.ok, true);
    net.stabilize();
  }
}

function logOf(terms: number[]): Entry[] {
  return terms.map((term, i) => ({ term, index: i + 1, kind: EntryKind.Command, data: new Uint8Array([i + 1, term]) }));
}

/** A follower with `entries`, commit `commit`, in term 1, for single-message tests. */
function follower(entries: Entry[], commit: number): RaftCore {
  return new RaftCore({
    config: { ...DEFAULT_CORE_CONFIG, ...plain, id: 2, voters: [1, 2, 3] },
    initial: { hardState: { term: 1, vote: 0, commit }, entries, applied: commit },
    random: new SeededRandom(7),
    logger: silentLogger,
  });
}

function installSnapshot(index: number, term: number, leaderTerm = 2): InstallSnapshot {
  return { type: 'InstallSnapshot', from: 1, to: 2, term: leaderTerm, snapshot: { index, term, config: { voters: [1, 2, 3], learners: [] } } };
}

function only<T extends PeerMessage['type']>(messages: readonly PeerMessage[], type: T): Extract<PeerMessage, { type: T }> {
  const found = messages.filter((m) => m.type === type);
  assert.equal(found.length, 1, `one ${type} in ${JSON.stringify(messages.map((m) => m.type))}`);
  return found[0] as Extract<PeerMessage, { type: T }>;
}

describe('snapshot sending (Raft paper §7)', () => {
  it('sends the snapshot to a follower whose next entry the leader compacted away, then resumes appends', () => {
    const net = new CoreNetwork([1, 2, 3], plain);
    net.elect(1);
    net.isolate(3);
    propose(net, 1, 20);
    const snapshot = net.takeSnapshot(1, 0);
    assert.equal(snapshot.index, 21, 'the no-op and 20 writes are applied');
    assert.equal(net.firstIndex(1), 22, 'the leader holds only what follows its snapshot');
    net.heal();
    net.tickAll(3);
    const sent = net.delivered.filter((m) => m.type === 'InstallSnapshot');
    assert.equal(sent.length, 1, 'exactly one snapshot sent');
    assert.equal(sent[0]!.to, 3);
    assert.deepEqual(net.stateOf(3), net.stateOf(1), 'the follower holds the leader state');
    assert.equal(net.core(3).status().snapshotIndex, 21);
    assert.equal(net.firstIndex(3), 22, 'the follower log starts after the snapshot');
    propose(net, 1, 3, 'after');
    net.tickAll(2);
    assert.deepEqual(net.stateOf(3), net.stateOf(1));
    assert.equal(net.core(3).status().applied, 24);
    const progress = net.core(1).status().peers.find((p) => p.id === 3)!;
    assert.equal(progress.state, 'replicate', 'back to pipelined appends');
  });

  it('keeps a trailing window: a follower just behind catches up from the log, not a snapshot', () => {
    const net = new CoreNetwork([1, 2, 3], plain);
    net.elect(1);
    net.isolate(3);
    propose(net, 1, 10);
    net.takeSnapshot(1, 20);
    assert.equal(net.firstIndex(1), 1, 'nothing compacted: the window covers the whole log');
    net.heal();
    net.tickAll(3);
    assert.equal(net.delivered.filter((m) => m.type === 'InstallSnapshot').length, 0);
    assert.deepEqual(net.stateOf(3), net.stateOf(1));
  });

  it('retries after a failed transfer', () => {
    const net = new CoreNetwork([1, 2, 3], plain);
    net.elect(1);
    net.isolate(3);
    propose(net, 1, 10);
    net.takeSnapshot(1, 0);
    net.heal();
    net.snapshotTransfersSucceed = false;
    net.tickAll(2);
    const installs = (): number => net.delivered.filter((m) => m.type === 'InstallSnapshot').length;
    assert.equal(installs(), 0);
    assert.equal(net.core(1).status().peers.find((p) => p.id === 3)!.state, 'probe', 'a failed transfer falls back to probing');
    assert.equal(net.stateOf(3).length, 0);
    net.snapshotTransfersSucceed = true;
    net.tickAll(3);
    assert.equal(installs(), 1, 'sent again once the link works');
    assert.deepEqual(net.stateOf(3), net.stateOf(1));
  });

  it('does not compact past a snapshot being sent: the follower needs what follows it', () => {
    const net = new CoreNetwork([1, 2, 3], plain);
    net.elect(1);
    net.isolate(3);
    propose(net, 1, 10);
    const first = net.takeSnapshot(1, 0);
    net.heal();
    net.holdSnapshots = true;
    net.tickAll(2);
    assert.equal(net.heldSnapshots.length, 1, 'one snapshot in flight, no second one while it is');
    assert.equal(net.core(1).status().peers.find((p) => p.id === 3)!.state, 'snapshot');
    propose(net, 1, 10, 'later');
    const second = net.takeSnapshot(1, 0);
    assert.ok(second.index > first.index);
    assert.equal(net.firstIndex(1), first.index + 1, 'the log still holds what follows the snapshot in flight');
    net.holdSnapshots = false;
    for (const message of net.heldSnapshots.splice(0)) net.deliver(message);
    net.tickAll(3);
    assert.deepEqual(net.stateOf(3), net.stateOf(1), 'the follower catches up from the log after the snapshot');
    assert.equal(net.delivered.filter((m) => m.type === 'InstallSnapshot').length, 1, 'without a second snapshot');
  });
});

describe('snapshot receiving (Raft paper Figure 13)', () => {
  it('keeps the entries after a snapshot whose last entry matches the log (step 6)', () => {
    const core = follower(logOf([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]), 3);
    core.step(installSnapshot(5, 1));
    const ready = core.ready();
    assert.equal(ready.snapshot, undefined, 'nothing to install: the log has the entries');
    assert.equal(core.status().lastIndex, 10, 'the suffix is kept');
    assert.equal(core.status().commit, 5);
    const answer = only(ready.messages, 'AppendResponse') as AppendResponse;
    assert.equal(answer.success, true);
    assert.equal(answer.index, 5);
    assert.deepEqual(ready.committedEntries.map((e) => e.index), [4, 5], 'the covered entries are applied from the log');
  });

  it('discards a log that conflicts with the snapshot and installs it (step 7)', () => {
    const core = follower(logOf([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]), 3);
    core.step(installSnapshot(8, 2));
    const ready = core.ready();
    assert.deepEqual(ready.snapshot, installSnapshot(8, 2).snapshot);
    assert.equal(ready.committedEntries.length, 0, 'nothing applies before the snapshot is restored');
    assert.equal(ready.hardState?.commit, 8);
    assert.equal(core.status().lastIndex, 8);
    assert.equal(core.status().lastTerm, 2);
    assert.equal(core.entry(9), undefined, 'the conflicting suffix is gone');
    assert.equal(core.entry(4), undefined, 'so is the prefix');
    const answer = only(ready.messages, 'AppendResponse') as AppendResponse;
    assert.equal(answer.index, 8);
    core.advance();
    assert.equal(core.status().applied, 8);
    assert.equal(core.status().snapshotIndex, 8);
    assert.equal(core.status().firstIndex, 9);
    assert.equal(core.hasReady(), false, 'installed once');
  });

  it('discards a shorter log too', () => {
    const core = follower(logOf([1, 1, 1]), 3);
    core.step(installSnapshot(8, 1));
    const ready = core.ready();
    assert.equal(ready.snapshot?.index, 8);
    assert.equal(core.status().lastIndex, 8);
  });

  it('ignores a snapshot at or below its commit index and answers with the commit index', () => {
    const core = follower(logOf([1, 1, 1, 1, 1, 1]), 6);
    core.step(installSnapshot(4, 1));
    const ready = core.ready();
    assert.equal(ready.snapshot, undefined);
    assert.equal(core.status().lastIndex, 6);
    assert.equal((only(ready.messages, 'AppendResponse') as AppendResponse).index, 6);
  });

  it('replays a snapshot and the log after it to the same state after a restart', () => {
    const net = new CoreNetwork([1, 2, 3], plain);
    net.elect(1);
    propose(net, 1, 12);
    const snapshot = net.takeSnapshot(2, 4);
    propose(net, 1, 5, 'late');
    const before = net.stateOf(2);
    net.restart(2);
    assert.equal(net.core(2).status().applied, snapshot.index, 'restored from the snapshot');
    assert.equal(net.firstIndex(2), snapshot.index - 4 + 1, 'with the trailing window of the log');
    net.tickAll(3);
    assert.deepEqual(net.stateOf(2).slice(0, before.length), before, 'applying the rest of the log reaches the same state');
    assert.deepEqual(net.stateOf(2), net.stateOf(1));
  });
});
