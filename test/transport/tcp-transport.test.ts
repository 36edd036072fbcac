/**
 * TcpTransport wiring: two nodes on 127.0.0.1 exchange peer messages through their
 * own outbound links, misrouted messages are dropped, client requests reach the
 * handler on the same port, and parseAddress accepts exactly host:port.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { PeerMessage } from '../../src/core/messages.js';
import type { NodeId } from '../../src/core/types.js';
import { ConfigError } from '../../src/errors.js';
import { formatAddress, parseAddress, type PeerAddress } from '../../src/transport/address.js';
import { TcpTransport } from '../../src/transport/tcp-transport.js';
import { captureLogger, FramedClient, freePort, HOST, linesWithMessage, waitFor } from './helpers.js';

describe('TcpTransport', () => {
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const close of closers) await close();
  });

  it('carries messages both ways between two nodes and serves clients on the same port', async () => {
    const addresses = new Map<NodeId, PeerAddress>([
      [1, { host: HOST, port: await freePort() }],
      [2, { host: HOST, port: await freePort() }],
      [3, { host: HOST, port: await freePort() }], // never started: unreachable
    ]);
    const received = new Map<NodeId, PeerMessage[]>([[1, []], [2, []]]);
    const unreachable = new Map<NodeId, NodeId[]>([[1, []], [2, []]]);
    const nodes = new Map<NodeId, TcpTransport>();
    const logs = new Map<NodeId, ReturnType<typeof captureLogger>>();
    for (const id of [1, 2] as const) {
      const log = captureLogger();
      logs.set(id, log);
      const transport = new TcpTransport({
        self: id,
        listen: addresses.get(id) as PeerAddress,
        peers: addresses,
        logger: log.logger,
        backoffMsInitial: 2,
        backoffMsMax: 20,
      });
      closers.push(() => transport.close());
      transport.onMessage((message) => received.get(id)?.push(message));
      transport.onUnreachable((peer) => unreachable.get(id)?.push(peer));
      nodes.set(id, transport);
    }
    const one = nodes.get(1) as TcpTransport;
    const two = nodes.get(2) as TcpTransport;
    two.onClientRequest((request, reply) => {
      reply({ type: 'ErrorResponse', requestId: request.requestId, code: 'NOT_LEADER', message: 'ask 1', leader: 1, leaderAddress: null });
    });
    assert.deepEqual(await one.start(), addresses.get(1));
    assert.deepEqual(await two.start(), addresses.get(2));

    one.send({ type: 'VoteRequest', from: 1, to: 2, term: 1, pre: false, lastLogIndex: 0, lastLogTerm: 0, transfer: false });
    await waitFor(() => received.get(2)?.length === 1, 'the vote request at node 2');
    two.send({ type: 'VoteResponse', from: 2, to: 1, term: 1, pre: false, granted: true });
    await waitFor(() => received.get(1)?.length === 1, 'the vote response at node 1');
    assert.equal(received.get(1)?.[0]?.type, 'VoteResponse');

    // Node 3 never listens: each running node reports it, once. (Node 1 may also have
    // reported node 2, which was not listening yet when node 1 started.)
    const reportsOf3 = (id: NodeId): number => unreachable.get(id)?.filter((peer) => peer === 3).length ?? 0;
    await waitFor(() => reportsOf3(1) === 1 && reportsOf3(2) === 1, 'node 3 to be reported');
    assert.deepEqual(unreachable.get(2), [3]);

    // Unknown peers are dropped quietly; messages addressed to another node are dropped at the receiver.
    one.send({ type: 'TimeoutNow', from: 1, to: 9, term: 1 });
    assert.equal(linesWithMessage(logs.get(1)?.lines ?? [], 'no link to peer, message dropped').length, 1);
    const client = await FramedClient.connect(addresses.get(2)?.port ?? 0);
    closers.push(() => client.close());
    client.send({ type: 'TimeoutNow', from: 3, to: 1, term: 1 });
    client.send({ type: 'StatusRequest', requestId: 5 });
    const response = await client.next();
    assert.equal(response.type, 'ErrorResponse');
    assert.equal(response.type === 'ErrorResponse' ? response.requestId : -1, 5);
    assert.equal(received.get(2)?.length, 1, 'the misaddressed message was not delivered');
    assert.equal(linesWithMessage(logs.get(2)?.lines ?? [], 'message for another node, dropped').length, 1);
  });
});

describe('parseAddress', () => {
  it('parses host:port', () => {
    assert.deepEqual(parseAddress('127.0.0.1:8001'), { host: '127.0.0.1', port: 8001 });
    assert.deepEqual(parseAddress('localhost:1'), { host: 'localhost', port: 1 });
    assert.deepEqual(parseAddress('[::1]:65535'), { host: '::1', port: 65535 });
  });

  it('round-trips through formatAddress', () => {
    for (const text of ['127.0.0.1:8001', '[::1]:9000', 'node-a.local:7000']) {
      assert.equal(formatAddress(parseAddress(text)), text);
    }
  });

  for (const bad of ['', '127.0.0.1', ':8001', '127.0.0.1:', '127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:80.5', '127.0.0.1:-1', '127.0.0.1: 80', '::1:8001', '[::1:8001', 'a b:80', '127.0.0.1:1e3', '127.0.0.1:0x50']) {
    it(`rejects ${JSON.stringify(bad)} with ConfigError`, () => {
      assert.throws(() => parseAddress(bad), ConfigError);
    });
  }
});
