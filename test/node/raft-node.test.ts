// The driver's ordering rule, checked with a storage whose writes the test completes
// by hand: nothing that promises durability (a vote, an append acknowledgement) is
// sent before the write it depends on has completed; a storage failure stops the node
// without sending or acknowledging anything; proposals and reads settle correctly.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { DEFAULT_CORE_CONFIG } from '../../src/core/config.js';
import { encodeConfChange } from '../../src/core/membership.js';
import type { InstallSnapshot, PeerMessage } from '../../src/core/messages.js';
import { SeededRandom } from '../../src/core/random.js';
import type { Entry, HardState, NodeId, SnapshotMeta } from '../../src/core/types.js';
import { EMPTY_HARD_STATE, EntryKind } from '../../src/core/types.js';
import { StorageError } from '../../src/errors.js';
import type { StateMachine, StateMachineSnapshot } from '../../src/kv/state-machine.js';
import { NotLeaderError, UnknownOutcomeError } from '../../src/node/pending-requests.js';
import { RaftNode } from '../../src/node/raft-node.js';
import type { SnapshotPolicy } from '../../src/node/snapshot-storage.js';
import { MemorySnapshotStorage } from '../../src/node/snapshot-storage.js';
import type { Ticker } from '../../src/node/ticker.js';
import type { LogStorage } from '../../src/storage/log-storage.js';
import { MemoryStorage } from '../../src/storage/log-storage.js';
import type { Transport } from '../../src/transport/tcp-transport.js';
import type { PeerAddress } from '../../src/transport/address.js';

class FakeTransport implements Transport {
  sent: PeerMessage[] = [];
  /** Every setPeers() call's peers, in order. */
  peerSets: ReadonlyMap<NodeId, PeerAddress>[] = [];
  setPeers(peers: ReadonlyMap<NodeId, PeerAddress>): void {
    this.peerSets.push(new Map(peers));
  }
  private handler: ((m: PeerMessage) => void) | undefined;
  send(message: PeerMessage): void {
    this.sent.push(message);
  }
  onMessage(handler: (m: PeerMessage) => void): void {
    this.handler = handler;
  }
  onUnreachable(): void {}
  deliver(message: PeerMessage): void {
    this.handler!(message);
  }
  snapshotsSent: { message: InstallSnapshot; data: Uint8Array }[] = [];
  private snapshotHandler: ((m: InstallSnapshot, data: Uint8Array) => void) | undefined;
  async sendSnapshot(message: InstallSnapshot, data: Uint8Array): Promise<void> {
    this.snapshotsSent.push({ message, data });
  }
  onSnapshot(handler: (m: InstallSnapshot, data: Uint8Array) => void): void {
    this.snapshotHandler = handler;
  }
  deliverSnapshot(message: InstallSnapshot, data: Uint8Array): void {
    this.snapshotHandler!(message, data);
  }
  async close(): Promise<void> {}
}

interface PendingWrite {
  entries: readonly Entry[];
  hardState: HardState | undefined;
  sync: boolean;
  complete: () => void;
  fail: (err: Error) => void;
}

/** A storage whose every write stays pending until the test completes it. */
class ManualStorage implements LogStorage {
  writes: PendingWrite[] = [];
  append(entries: readonly Entry[], hardState: HardState | undefined, sync: boolean): Promise<void> {
    return new Promise((resolve, reject) => this.writes.push({ entries, hardState, sync, complete: resolve, fail: reject }));
  }
  async compact(): Promise<void> {}
  async close(): Promise<void> {}

  /** Completes every write, as they come, for a few turns; returns what it completed. */
  async completeAll(turns = 10): Promise<PendingWrite[]> {
    const completed: PendingWrite[] = [];
    for (let i = 0; i < turns; i += 1) {
      await settle();
      for (const write of this.writes.splice(0)) {
        completed.push(write);
        write.complete();
      }
    }
    return completed;
  }
}

class ManualTicker implements Ticker {
  private onTick: (() => void) | undefined;
  start(onTick: () => void): void {
    this.onTick = onTick;
  }
  stop(): void {
    this.onTick = undefined;
  }
  tick(times = 1): void {
    for (let i = 0; i < times; i += 1) this.onTick?.();
  }
}

/** Its state is the list of applied indexes; a snapshot is that list as bytes. */
class Recorder implements StateMachine<string> {
  applied: number[] = [];
  restored: number[][] = [];
  views = 0;
  apply(entry: Entry): string {
    this.applied.push(entry.index);
    return `applied ${entry.index}`;
  }
  snapshot(): StateMachineSnapshot {
    const state = Uint8Array.from(this.applied);
    this.views += 1;
    return { chunks: () => [state.subarray(0, 1), state.subarray(1)], release: () => void (this.views -= 1) };
  }
  restore(data: Uint8Array): void {
    this.applied = [...data];
    this.restored.push([...data]);
  }
  /** Bytes starting with 0xff are not a snapshot of this state machine. */
  verifySnapshot(data: Uint8Array): void {
    if (data[0] === 0xff) throw new Error('not a recorder snapshot');
  }
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
};

function makeNode(id: NodeId, voters: NodeId[], storage: LogStorage, snapshotPolicy?: SnapshotPolicy, snapshotStorage?: MemorySnapshotStorage, addressBook?: ReadonlyMap<NodeId, PeerAddress>) {
  const transport = new FakeTransport();
  const ticker = new ManualTicker();
  const stateMachine = new Recorder();
  const fatal: Error[] = [];
  const snapshots = snapshotStorage ?? new MemorySnapshotStorage();
  const node = new RaftNode<string>({
    config: { ...DEFAULT_CORE_CONFIG, id, voters, preVote: false },
    initial: { hardState: EMPTY_HARD_STATE, entries: [], applied: 0 },
    storage,
    snapshots,
    snapshotPolicy,
    transport,
    stateMachine,
    ticker,
    random: new SeededRandom(id),
    logger: pino({ level: 'silent' }),
    onFatal: (err) => fatal.push(err),
    addressBook,
  });
  node.start();
  return { node, transport, ticker, stateMachine, fatal, snapshots };
}

/** Node 1 of [1, 2, 3] times out, and node 2's vote makes it leader of term 1. */
async function electNodeOne(ticker: ManualTicker, transport: FakeTransport, storage: ManualStorage): Promise<void> {
  ticker.tick(2 * DEFAULT_CORE_CONFIG.electionTicks);
  await storage.completeAll();
  transport.deliver({ type: 'VoteResponse', from: 2, to: 1, term: 1, pre: false, granted: true });
  await storage.completeAll();
}

describe('the driver persists before it sends', () => {
  it('vote requests go out only after term and vote are durable', async () => {
    const storage = new ManualStorage();
    const { node, transport, ticker } = makeNode(1, [1, 2, 3], storage);
    ticker.tick(2 * DEFAULT_CORE_CONFIG.electionTicks);
    await settle();
    assert.equal(storage.writes.length, 1);
    assert.deepEqual(storage.writes[0]!.hardState, { term: 1, vote: 1, commit: 0 });
    assert.equal(storage.writes[0]!.sync, true);
    assert.equal(transport.sent.length, 0, 'nothing sent while the write is pending');
    storage.writes[0]!.complete();
    await settle();
    assert.deepEqual(transport.sent.map((m) => [m.type, m.to]), [['VoteRequest', 2], ['VoteRequest', 3]]);
    await node.stop({ transferLeadership: false });
  });

  it('a granted vote is sent only after it is durable', async () => {
    const storage = new ManualStorage();
    const { node, transport } = makeNode(2, [1, 2, 3], storage);
    await settle();
    transport.deliver({ type: 'VoteRequest', from: 1, to: 2, term: 1, pre: false, lastLogIndex: 0, lastLogTerm: 0, transfer: false });
    await settle();
    assert.deepEqual(storage.writes.map((w) => w.hardState), [{ term: 1, vote: 1, commit: 0 }]);
    assert.equal(transport.sent.length, 0);
    storage.writes[0]!.complete();
    await settle();
    assert.deepEqual(transport.sent.map((m) => m.type), ['VoteResponse']);
    await node.stop({ transferLeadership: false });
  });

  it('a follower acknowledges appended entries only after they are durable', async () => {
    const storage = new ManualStorage();
    const { node, transport } = makeNode(2, [1, 2, 3], storage);
    await settle();
    const entries: Entry[] = [{ term: 1, index: 1, kind: EntryKind.Command, data: new Uint8Array([1]) }];
    transport.deliver({ type: 'AppendRequest', from: 1, to: 2, term: 1, prevLogIndex: 0, prevLogTerm: 0, entries, commit: 0 });
    await settle();
    assert.equal(storage.writes.length, 1);
    assert.deepEqual(storage.writes[0]!.entries.map((e) => e.index), [1]);
    assert.equal(transport.sent.length, 0);
    storage.writes[0]!.complete();
    await settle();
    assert.deepEqual(transport.sent.map((m) => [m.type, m.type === 'AppendResponse' && m.success]), [['AppendResponse', true]]);
    await node.stop({ transferLeadership: false });
  });
});

describe('a leader writes and replicates at once (thesis §10.2.1)', () => {
  it('sends appends while its own write is pending, but counts its copy only once durable', async () => {
    const storage = new ManualStorage();
    const { node, transport, ticker } = makeNode(1, [1, 2, 3], storage);
    await electNodeOne(ticker, transport, storage);
    for (const from of [2, 3]) transport.deliver({ type: 'AppendResponse', from, to: 1, term: 1, success: true, index: 1, hintIndex: 0, hintTerm: 0 });
    await storage.completeAll();
    const commitBefore = node.status().commit;
    transport.sent = [];
    void node.propose(new Uint8Array([9])).catch(() => undefined);
    await settle();
    assert.equal(storage.writes.length, 1, 'the leader\'s own write is pending');
    const appends = transport.sent.filter((m) => m.type === 'AppendRequest' && m.entries.length > 0);
    assert.deepEqual(appends.map((m) => m.to), [2, 3], 'replication did not wait for it');
    const index = node.status().lastIndex;
    transport.deliver({ type: 'AppendResponse', from: 2, to: 1, term: 1, success: true, index, hintIndex: 0, hintTerm: 0 });
    await settle();
    assert.equal(node.status().commit, commitBefore, 'one follower and an undurable leader copy are not a majority');
    storage.writes.splice(0)[0]!.complete();
    await settle();
    assert.equal(node.status().commit, index, 'with its own copy durable, the leader commits');
    await node.stop({ transferLeadership: false });
  });
});

describe('commit index writes', () => {
  it('a commit-only change is not written before applying; it rides along with the next entries', async () => {
    const storage = new ManualStorage();
    const { node, ticker } = makeNode(1, [1], storage);
    const done: PendingWrite[] = [];
    const completeAll = async (): Promise<void> => {
      done.push(...(await storage.completeAll()));
    };
    ticker.tick(2 * DEFAULT_CORE_CONFIG.electionTicks);
    await completeAll();
    const first = node.propose(new Uint8Array([1]));
    await completeAll();
    await first;
    assert.ok(done.every((w) => w.entries.length > 0 || w.sync), 'no write of a commit index alone');
    const second = node.propose(new Uint8Array([2]));
    await completeAll();
    await second;
    const carrying = done.filter((w) => w.entries.some((e) => e.index === 3));
    assert.equal(carrying.length, 1);
    assert.equal(carrying[0]!.hardState?.commit, 2, 'the deferred commit of the first proposal went with the second\'s entries');
    await node.stop({ transferLeadership: false });
  });
});

describe('storage failure', () => {
  it('stops the node: fatal is reported, nothing is sent or applied, pending work fails', async () => {
    const storage = new ManualStorage();
    const { node, transport, ticker, fatal } = makeNode(2, [1, 2, 3], storage);
    await settle();
    transport.deliver({ type: 'AppendRequest', from: 1, to: 2, term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [{ term: 1, index: 1, kind: EntryKind.Command, data: new Uint8Array() }], commit: 1 });
    await settle();
    storage.writes[0]!.fail(new StorageError('ENOSPC: no space left on device'));
    await settle();
    assert.equal(fatal.length, 1);
    assert.ok(fatal[0] instanceof StorageError);
    assert.equal(transport.sent.length, 0, 'the acknowledgement was never sent');
    ticker.tick(20);
    transport.deliver({ type: 'HeartbeatRequest', from: 1, to: 2, term: 1, commit: 1, context: 0 });
    await settle();
    assert.equal(storage.writes.length, 1, 'no further writes after the failure');
    assert.equal(transport.sent.length, 0);
    await node.stop({ transferLeadership: false });
  });
});

describe('proposals and reads', () => {
  it('a single node settles a proposal with its state machine result, and a read after it', async () => {
    const storage = new ManualStorage();
    const { node, ticker, stateMachine } = makeNode(1, [1], storage);
    ticker.tick(2 * DEFAULT_CORE_CONFIG.electionTicks);
    await storage.completeAll();
    assert.equal(node.status().role, 'leader');
    const result = node.propose(new Uint8Array([42]));
    await storage.completeAll();
    assert.equal(await result, 'applied 2', 'index 1 is the leader\'s no-op, which the state machine never sees');
    assert.deepEqual(stateMachine.applied, [2]);
    const read = node.readBarrier();
    await storage.completeAll();
    await read;
    await node.stop({ transferLeadership: false });
  });

  it('a follower refuses proposals and reads with the leader it knows', async () => {
    const storage = new ManualStorage();
    const { node, transport } = makeNode(2, [1, 2, 3], storage);
    transport.deliver({ type: 'HeartbeatRequest', from: 3, to: 2, term: 1, commit: 0, context: 0 });
    await settle();
    for (const write of storage.writes.splice(0)) write.complete();
    await settle();
    await assert.rejects(node.propose(new Uint8Array([1])), (err: Error) => err instanceof NotLeaderError && err.leader === 3);
    await assert.rejects(node.readBarrier(), (err: Error) => err instanceof NotLeaderError && err.leader === 3);
    await node.stop({ transferLeadership: false });
  });

  it('a follower keeps a link to its leader after applying that leader\'s removal, until another leads', async () => {
    const book = new Map<NodeId, PeerAddress>([1, 2, 3].map((id) => [id, { host: '127.0.0.1', port: 9000 + id }]));
    const { node, transport, ticker } = makeNode(2, [1, 2, 3], new MemoryStorage(), undefined, undefined, book);
    const removal: Entry = { index: 1, term: 1, kind: EntryKind.ConfChange, data: encodeConfChange({ op: 'remove', id: 1 }) };
    transport.deliver({ type: 'AppendRequest', from: 1, to: 2, term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [removal], commit: 1 });
    await settle();
    assert.deepEqual(node.membership().voters, [2, 3]);
    // Node 1 leads term 1 and hands over only once a successor answers it.
    const others = (): NodeId[] => [...transport.peerSets.at(-1)!.keys()].filter((id) => id !== 2).sort();
    assert.deepEqual(others(), [1, 3]);
    transport.deliver({ type: 'HeartbeatRequest', from: 1, to: 2, term: 1, commit: 1, context: 5 });
    await settle();
    assert.ok(transport.sent.some((m) => m.type === 'HeartbeatResponse' && m.to === 1 && m.context === 5), 'the removed leader is answered');
    transport.deliver({ type: 'HeartbeatRequest', from: 3, to: 2, term: 2, commit: 1, context: 0 });
    await settle();
    ticker.tick(20);
    await settle();
    assert.deepEqual(others(), [3], 'the link to the old leader is dropped once another leads');
    await node.stop({ transferLeadership: false });
  });

  it('a leader that steps down fails its pending proposals with an unknown outcome', async () => {
    const storage = new ManualStorage();
    const { node, transport, ticker } = makeNode(1, [1, 2, 3], storage);
    await electNodeOne(ticker, transport, storage);
    assert.equal(node.status().role, 'leader');
    const pending = assert.rejects(node.propose(new Uint8Array([7])), (err: Error) => err instanceof UnknownOutcomeError);
    await storage.completeAll();
    transport.deliver({ type: 'HeartbeatRequest', from: 3, to: 1, term: 5, commit: 0, context: 0 });
    await storage.completeAll();
    await pending;
    await node.stop({ transferLeadership: false });
  });
});

/** Saves like MemorySnapshotStorage, but the save completes (the file durable) only
 * when the test says so, after every chunk was read. */
class GatedSnapshotStorage extends MemorySnapshotStorage {
  readonly gates: (() => void)[] = [];
  override async save(meta: SnapshotMeta, chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<{ bytes: number }> {
    const parts: Uint8Array[] = [];
    for await (const chunk of chunks) parts.push(chunk);
    await new Promise<void>((resolve) => this.gates.push(resolve));
    return super.save(meta, parts);
  }
}

describe('snapshots in the driver', () => {
  it('releases the state machine\'s view once it is serialized, before the snapshot is durable', async () => {
    const gated = new GatedSnapshotStorage();
    const { node, ticker, stateMachine } = makeNode(1, [1], new MemoryStorage(), { entries: 3, trailing: 1 }, gated);
    ticker.tick(2 * DEFAULT_CORE_CONFIG.electionTicks);
    await settle();
    for (let i = 0; i < 3; i += 1) await node.propose(new Uint8Array([i]));
    await settle();
    assert.equal(gated.gates.length, 1, 'a save is waiting for its file to be durable');
    assert.equal(stateMachine.views, 0, 'the view was released when its last chunk was read');
    gated.gates.shift()!();
    await settle();
    assert.deepEqual(gated.saved.map((s) => s.meta.index), [3]);
    assert.equal(stateMachine.views, 0, 'released once, not again when the save completes');
    await node.stop({ transferLeadership: false });
  });

  it('takes a snapshot every N applied entries in the background and compacts the log behind a trailing window', async () => {
    const storage = new MemoryStorage();
    const { node, ticker, stateMachine, snapshots } = makeNode(1, [1], storage, { entries: 5, trailing: 2 });
    ticker.tick(2 * DEFAULT_CORE_CONFIG.electionTicks);
    await settle();
    assert.equal(node.status().role, 'leader');
    for (let i = 0; i < 12; i += 1) await node.propose(new Uint8Array([i]));
    await settle();
    assert.deepEqual(snapshots.saved.map((s) => s.meta.index), [5, 10], 'one per 5 applied entries (the no-op counts)');
    const last = snapshots.saved[1]!;
    assert.deepEqual([...last.data], [2, 3, 4, 5, 6, 7, 8, 9, 10], 'the commands up to index 10, whatever was applied after');
    assert.equal(stateMachine.applied.length, 12);
    assert.equal(stateMachine.views, 0, 'every view released');
    assert.equal(storage.base.index, 8, 'the log keeps 2 entries behind the snapshot');
    assert.deepEqual(storage.entries.map((e) => e.index), [9, 10, 11, 12, 13]);
    assert.equal(node.status().firstIndex, 9);
    assert.equal(node.status().snapshotIndex, 10);
    await node.stop({ transferLeadership: false });
  });

  it('installs a leader\'s snapshot: saved and recorded in the WAL, state restored, before the acknowledgement goes out', async () => {
    const storage = new ManualStorage();
    const { node, transport, stateMachine, snapshots } = makeNode(2, [1, 2, 3], storage);
    await settle();
    const message: InstallSnapshot = { type: 'InstallSnapshot', from: 1, to: 2, term: 3, snapshot: { index: 7, term: 2, config: { voters: [1, 2, 3], learners: [] } } };
    transport.deliverSnapshot(message, Uint8Array.from([1, 2, 3, 4, 5, 6, 7]));
    await settle();
    assert.deepEqual(snapshots.saved.map((s) => s.meta.index), [7]);
    assert.deepEqual(stateMachine.restored, [[1, 2, 3, 4, 5, 6, 7]]);
    assert.equal(transport.sent.filter((m) => m.type === 'AppendResponse').length, 0, 'no acknowledgement before the hard state is durable');
    await storage.completeAll();
    const answers = transport.sent.filter((m) => m.type === 'AppendResponse');
    assert.deepEqual(answers.map((m) => m.type === 'AppendResponse' && [m.success, m.index]), [[true, 7]]);
    assert.equal(node.status().applied, 7);
    assert.equal(node.status().snapshotIndex, 7);
    await node.stop({ transferLeadership: false });
  });

  it('refuses a snapshot its state machine could not restore before the core replaces the log, and stays up', async () => {
    const storage = new ManualStorage();
    const { node, transport, stateMachine, snapshots, fatal } = makeNode(2, [1, 2, 3], storage);
    await settle();
    const message: InstallSnapshot = { type: 'InstallSnapshot', from: 1, to: 2, term: 3, snapshot: { index: 7, term: 2, config: { voters: [1, 2, 3], learners: [] } } };
    transport.deliverSnapshot(message, Uint8Array.from([0xff, 2, 3]));
    await storage.completeAll();
    assert.deepEqual(fatal, [], 'the node did not stop');
    assert.deepEqual(snapshots.saved, [], 'nothing saved');
    assert.deepEqual(stateMachine.restored, []);
    assert.equal(transport.sent.filter((m) => m.type === 'AppendResponse').length, 0, 'not acknowledged');
    assert.equal(node.status().lastIndex, 0, 'the log was not replaced');
    assert.equal(node.status().snapshotIndex, 0);
    // The same snapshot with good bytes still installs.
    transport.deliverSnapshot(message, Uint8Array.from([1, 2, 3]));
    await storage.completeAll();
    assert.deepEqual(stateMachine.restored, [[1, 2, 3]]);
    assert.equal(node.status().snapshotIndex, 7);
    await node.stop({ transferLeadership: false });
  });

  it('streams its snapshot to a follower that needs compacted entries and reports success to the core', async () => {
    const storage = new MemoryStorage();
    const { node, transport, ticker, snapshots } = makeNode(1, [1, 2, 3], storage, { entries: 3, trailing: 0 });
    ticker.tick(2 * DEFAULT_CORE_CONFIG.electionTicks);
    await settle();
    transport.deliver({ type: 'VoteResponse', from: 3, to: 1, term: 1, pre: false, granted: true });
    await settle();
    const pending = [node.propose(new Uint8Array([1])), node.propose(new Uint8Array([2]))];
    await settle();
    // Only node 3 answers: node 2 is still at index 0 when the leader compacts.
    transport.deliver({ type: 'AppendResponse', from: 3, to: 1, term: 1, success: true, index: 3, hintIndex: 0, hintTerm: 0 });
    await Promise.all(pending);
    await settle();
    assert.deepEqual(snapshots.saved.map((s) => s.meta.index), [3]);
    assert.equal(node.status().firstIndex, 4, 'compacted to the snapshot');
    // Node 2 shows up: what it needs is only in the snapshot now.
    transport.deliver({ type: 'HeartbeatResponse', from: 2, to: 1, term: 1, context: 0 });
    await settle();
    assert.equal(transport.snapshotsSent.length, 1);
    assert.equal(transport.snapshotsSent[0]!.message.snapshot.index, 3);
    assert.deepEqual(transport.snapshotsSent[0]!.data, snapshots.saved[0]!.data);
    await settle();
    const peer = node.status().peers.find((p) => p.id === 2)!;
    assert.equal(peer.state, 'probe', 'the transfer was reported delivered; the leader waits for the follower to answer');
    assert.equal(peer.next, 4);
    await node.stop({ transferLeadership: false });
  });
});
