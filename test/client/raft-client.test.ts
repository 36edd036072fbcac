// The client library against fake nodes (real sockets on 127.0.0.1): it follows
// not-leader answers to the leader — also when the hinted address is not one of its
// own (a proxy or NAT in between) — retries a lost attempt with the same (clientId,
// seq), gives up at the deadline with an unknown outcome, and stops at a refusal.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { ClientTimeoutError, RequestRefusedError } from '../../src/client/errors.js';
import { RaftClient } from '../../src/client/raft-client.js';
import type { ClientRequest, ClientResponse, KvRequest } from '../../src/protocol/client-messages.js';
import { TransportServer } from '../../src/transport/server.js';

type Behaviour = (request: KvRequest, attempt: number) => ClientResponse | undefined;

interface FakeNode {
  readonly address: string;
  readonly requests: KvRequest[];
  close(): Promise<void>;
}

const servers: TransportServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function fakeNode(id: number, behaviour: Behaviour): Promise<FakeNode> {
  const server = new TransportServer({ host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }) });
  servers.push(server);
  const requests: KvRequest[] = [];
  server.onClientRequest((request: ClientRequest, reply) => {
    if (request.type === 'StatusRequest') {
      reply({ type: 'StatusResponse', requestId: request.requestId, status: { id, role: 'follower', term: 1, leader: 0, leaderAddress: null, commit: 0, applied: 0, lastIndex: 0, snapshotIndex: 0, firstIndex: 1, clusterId: '', pid: 1, membership: 'voter' } });
      return;
    }
    if (request.type !== 'KvRequest') return;
    requests.push(request);
    const response = behaviour(request, requests.length);
    if (response !== undefined) reply(response);
  });
  const bound = await server.listen();
  return { address: `127.0.0.1:${bound.port}`, requests, close: () => server.close() };
}

const ok = (request: KvRequest): ClientResponse => ({ type: 'KvResponse', requestId: request.requestId, result: { ok: true, value: null, index: 7 } });

describe('RaftClient', () => {
  it('follows a not-leader answer by node id when the hinted address is not one of its own', async () => {
    const follower = await fakeNode(1, (request) => ({ type: 'ErrorResponse', requestId: request.requestId, code: 'NOT_LEADER', message: 'not the leader', leader: 2, leaderAddress: '127.0.0.1:1' }));
    const leader = await fakeNode(2, ok);
    const client = new RaftClient({ cluster: [follower.address, leader.address], deadlineMs: 5_000 });
    try {
      assert.equal(await client.put('k', 'v'), null);
      assert.ok(follower.requests.length >= 1);
      assert.equal(leader.requests.length, 1);
      // Next time it goes straight to the leader.
      await client.put('k', 'w');
      assert.equal(leader.requests.length, 2);
    } finally {
      client.close();
    }
  });

  it('given only a follower\'s address, follows the hint to a leader it was not told about', async () => {
    const leader = await fakeNode(2, ok);
    const follower = await fakeNode(1, (request) => ({ type: 'ErrorResponse', requestId: request.requestId, code: 'NOT_LEADER', message: 'not the leader', leader: 2, leaderAddress: leader.address }));
    const client = new RaftClient({ cluster: [follower.address], deadlineMs: 5_000 });
    try {
      assert.equal(await client.put('k', 'v'), null);
      assert.equal(leader.requests.length, 1);
    } finally {
      client.close();
    }
  });

  it('retries an unanswered write with the same clientId and seq', async () => {
    const node = await fakeNode(1, (request, attempt) => (attempt === 1 ? undefined : ok(request)));
    const client = new RaftClient({ cluster: [node.address], deadlineMs: 5_000, attemptTimeoutMs: 100 });
    try {
      await client.put('k', 'v');
      assert.equal(node.requests.length, 2);
      const [first, second] = node.requests;
      assert.equal(second!.clientId, first!.clientId);
      assert.equal(second!.seq, first!.seq);
      await client.put('k', 'w');
      assert.equal(node.requests[2]!.seq, first!.seq + 1, 'the next write has the next seq');
    } finally {
      client.close();
    }
  });

  it('gives up at the deadline with a timeout (unknown outcome)', async () => {
    const node = await fakeNode(1, () => undefined);
    const client = new RaftClient({ cluster: [node.address], deadlineMs: 300, attemptTimeoutMs: 100 });
    try {
      await assert.rejects(client.put('k', 'v'), ClientTimeoutError);
      assert.ok(node.requests.length >= 2, 'it retried before giving up');
    } finally {
      client.close();
    }
  });

  it('stops at a refusal: the request never reached the log and retrying will not help', async () => {
    const node = await fakeNode(1, (request) => ({ type: 'ErrorResponse', requestId: request.requestId, code: 'TOO_LARGE', message: 'value is too large', leader: 1, leaderAddress: null }));
    const client = new RaftClient({ cluster: [node.address], deadlineMs: 5_000 });
    try {
      await assert.rejects(client.put('k', 'v'), (err: Error) => err instanceof RequestRefusedError && err.reason === 'TOO_LARGE');
      assert.equal(node.requests.length, 1);
    } finally {
      client.close();
    }
  });
});
