/**
 * Snapshots beside the message queue: the assembler rebuilds a snapshot from chunks in
 * any order and with duplicates, and refuses mixed transfers and bad checksums; over
 * TCP a multi-megabyte snapshot streams on its own connection while peer messages
 * keep flowing on the link, a bare InstallSnapshot frame is refused, and a sender
 * whose receiver is down or refuses fails instead of hanging.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import type { InstallSnapshot, PeerMessage } from '../../src/core/messages.js';
import type { NodeId } from '../../src/core/types.js';
import type { PeerAddress } from '../../src/transport/address.js';
import { SnapshotAssembler, snapshotChecksum, splitSnapshot } from '../../src/transport/snapshot-assembler.js';
import type { SnapshotChunk } from '../../src/transport/snapshot-messages.js';
import { TcpTransport } from '../../src/transport/tcp-transport.js';
import { captureLogger, FramedClient, freePort, HOST, linesWithMessage, waitFor } from './helpers.js';

const META = { index: 42, term: 3, config: { voters: [1, 2, 3], learners: [] } };
const HEAD = { type: 'SnapshotChunk' as const, from: 1, to: 2, term: 5, snapshot: META, transfer: 9 };

describe('SnapshotAssembler', () => {
  it('rebuilds any snapshot from its chunks in any order, with duplicates', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 1, max: 700 }), fc.array(fc.nat(), { maxLength: 40 }), (data, chunkBytes, shuffle) => {
        const chunks = [...splitSnapshot(HEAD, data, chunkBytes)];
        const order = [...chunks, ...chunks.filter((_, i) => shuffle[i] !== undefined && shuffle[i]! % 3 === 0)];
        for (let i = order.length - 1; i > 0; i -= 1) {
          const j = (shuffle[i % Math.max(1, shuffle.length)] ?? 0) % (i + 1);
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        const assembler = new SnapshotAssembler(order[0]!, 1 << 20);
        let done: Uint8Array | undefined;
        for (const chunk of order) {
          const result = assembler.add(chunk);
          assert.notEqual(result.status, 'invalid');
          if (result.status === 'complete') done = result.data;
        }
        assert.ok(done !== undefined, 'complete once every chunk arrived');
        assert.deepEqual(Buffer.from(done), Buffer.from(data));
      }),
    );
  });

  it('is incomplete while a chunk is missing', () => {
    const data = new Uint8Array(1000).fill(7);
    const chunks = [...splitSnapshot(HEAD, data, 100)];
    const assembler = new SnapshotAssembler(chunks[0]!, 1 << 20);
    for (const chunk of chunks.slice(0, -1)) assert.equal(assembler.add(chunk).status, 'incomplete');
  });

  it('refuses a chunk of another transfer, a bad checksum, and an oversized snapshot', () => {
    const data = new Uint8Array([1, 2, 3, 4]);
    const [chunk] = [...splitSnapshot(HEAD, data, 100)];
    assert.equal(new SnapshotAssembler(chunk!, 100).add({ ...chunk!, transfer: 10 }).status, 'invalid');
    const bad: SnapshotChunk = { ...chunk!, checksum: (snapshotChecksum(data) + 1) >>> 0 };
    const result = new SnapshotAssembler(bad, 100).add(bad);
    assert.deepEqual(result, { status: 'invalid', reason: 'snapshot checksum mismatch' });
    assert.throws(() => new SnapshotAssembler(chunk!, 3), /exceeds the limit/);
  });
});

describe('snapshot streaming over TCP', () => {
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const close of closers) await close();
  });

  async function pair(): Promise<{ one: TcpTransport; two: TcpTransport; received: PeerMessage[]; snapshots: { message: InstallSnapshot; data: Uint8Array }[]; logTwo: ReturnType<typeof captureLogger>; addresses: Map<NodeId, PeerAddress> }> {
    const addresses = new Map<NodeId, PeerAddress>([
      [1, { host: HOST, port: await freePort() }],
      [2, { host: HOST, port: await freePort() }],
    ]);
    const logTwo = captureLogger();
    const make = (id: NodeId, logger = captureLogger().logger): TcpTransport => {
      const transport = new TcpTransport({ self: id, listen: addresses.get(id)!, peers: addresses, logger, backoffMsInitial: 2, backoffMsMax: 20 });
      closers.push(() => transport.close());
      return transport;
    };
    const one = make(1);
    const two = make(2, logTwo.logger);
    const received: PeerMessage[] = [];
    const snapshots: { message: InstallSnapshot; data: Uint8Array }[] = [];
    two.onMessage((message) => received.push(message));
    two.onSnapshot((message, data) => snapshots.push({ message, data }));
    await one.start();
    await two.start();
    return { one, two, received, snapshots, logTwo, addresses };
  }

  it('streams 5 MiB in chunks on its own connection while heartbeats keep flowing', async () => {
    const { one, received, snapshots } = await pair();
    const data = new Uint8Array(5 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 1) data[i] = (i * 31) & 0xff;
    const message: InstallSnapshot = { type: 'InstallSnapshot', from: 1, to: 2, term: 5, snapshot: META };
    let beats = 0;
    const beat = setInterval(() => {
      beats += 1;
      one.send({ type: 'HeartbeatRequest', from: 1, to: 2, term: 5, commit: 0, context: beats });
    }, 1);
    try {
      await one.sendSnapshot(message, data);
    } finally {
      clearInterval(beat);
    }
    await waitFor(() => snapshots.length === 1, 'the snapshot at node 2');
    assert.deepEqual(snapshots[0]!.message, message);
    assert.equal(snapshots[0]!.data.byteLength, data.byteLength);
    assert.ok(Buffer.from(snapshots[0]!.data).equals(Buffer.from(data)), 'the same bytes');
    await waitFor(() => received.length > 0, 'heartbeats at node 2');
    assert.ok(received.every((m) => m.type === 'HeartbeatRequest'), 'no chunk ever reaches the peer message handler');
  });

  it('refuses a bare InstallSnapshot frame: its bytes would be missing', async () => {
    const { received, logTwo, addresses } = await pair();
    const client = await FramedClient.connect(addresses.get(2)!.port);
    closers.push(() => client.close());
    client.send({ type: 'InstallSnapshot', from: 1, to: 2, term: 5, snapshot: META });
    await waitFor(() => linesWithMessage(logTwo.lines, 'frame rejected').length === 1, 'the rejection');
    assert.equal(received.length, 0);
  });

  it('fails, rather than hangs, when the receiver is down or the snapshot is for someone else', async () => {
    const { one, addresses } = await pair();
    const nobody = new Map(addresses);
    nobody.set(3, { host: HOST, port: await freePort() });
    const lonely = new TcpTransport({ self: 1, listen: { host: HOST, port: 0 }, peers: nobody, logger: captureLogger().logger });
    closers.push(() => lonely.close());
    await assert.rejects(lonely.sendSnapshot({ type: 'InstallSnapshot', from: 1, to: 3, term: 5, snapshot: META }, new Uint8Array(10)), /ECONNREFUSED/);
    // Node 2 refuses a snapshot addressed to node 3 (a confused address book).
    const confused = new TcpTransport({ self: 1, listen: { host: HOST, port: 0 }, peers: new Map([[3, addresses.get(2)!]]), logger: captureLogger().logger });
    closers.push(() => confused.close());
    await assert.rejects(confused.sendSnapshot({ type: 'InstallSnapshot', from: 1, to: 3, term: 5, snapshot: META }, new Uint8Array(10)), /refused by 3: addressed to node 3/);
    assert.ok(one);
  });
});
