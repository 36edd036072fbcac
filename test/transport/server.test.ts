/**
 * The listener against real sockets on 127.0.0.1: requests are answered on their own
 * connection, peer messages arrive in order, and any bad input (garbage, oversize
 * header, invalid message, a response sent to a server) closes only the connection it
 * came on, with one warning, while other clients keep being served.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import type { PeerMessage } from '../../src/core/messages.js';
import type { ClientResponse, NodeStatus } from '../../src/protocol/client-messages.js';
import { encodeMessage } from '../../src/transport/codec.js';
import { encodeFrame } from '../../src/transport/frame.js';
import { TransportServer } from '../../src/transport/server.js';
import { captureLogger, FramedClient, HOST, LEVEL, linesWithMessage, waitFor } from './helpers.js';

const FRAME_BYTES_MAX = 64 * 1024;

const STATUS: NodeStatus = {
  id: 1,
  role: 'leader',
  term: 2,
  leader: 1,
  leaderAddress: '127.0.0.1:1',
  commit: 3,
  applied: 3,
  lastIndex: 3,
  snapshotIndex: 0,
  firstIndex: 1,
  clusterId: '',
  pid: process.pid,
  membership: 'voter',
};

function heartbeat(context: number): PeerMessage {
  return { type: 'HeartbeatRequest', from: 2, to: 1, term: 1, commit: 0, context };
}

describe('TransportServer', () => {
  const { logger, lines } = captureLogger();
  const server = new TransportServer({ host: HOST, port: 0, logger, frameBytesMax: FRAME_BYTES_MAX });
  const peerMessages: PeerMessage[] = [];
  const clients: FramedClient[] = [];
  let port = 0;

  /** Opens a client that the `after` hook will close. */
  async function connect(): Promise<FramedClient> {
    const client = await FramedClient.connect(port);
    clients.push(client);
    return client;
  }

  async function assertServed(client: FramedClient, requestId: number): Promise<void> {
    client.send({ type: 'StatusRequest', requestId });
    const response = await client.next();
    assert.deepEqual(response, { type: 'StatusResponse', requestId, status: STATUS });
  }

  /** Sends `bytes` on a fresh connection and waits for the server to close it. */
  async function assertRejectedAlone(bytes: Uint8Array): Promise<void> {
    const warningsBefore = linesWithMessage(lines, 'frame rejected').length;
    const bystander = await connect();
    const offender = await connect();
    offender.sendRaw(bytes);
    await offender.closed;
    const warnings = linesWithMessage(lines, 'frame rejected').slice(warningsBefore);
    assert.equal(warnings.length, 1, 'exactly one warning per rejected connection');
    assert.equal(warnings[0]?.level, LEVEL.warn);
    assert.ok(warnings[0]?.['remote'], 'the warning names the remote address');
    assert.ok(warnings[0]?.['reason'], 'the warning says why');
    await assertServed(bystander, 1);
    await assertServed(await connect(), 2);
  }

  before(async () => {
    server.onPeerMessage((message) => peerMessages.push(message));
    server.onClientRequest((request, reply) => {
      if (request.type === 'StatusRequest') reply({ type: 'StatusResponse', requestId: request.requestId, status: STATUS });
    });
    ({ port } = await server.listen());
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server.close();
  });

  it('reports the bound port when asked for port 0', () => {
    assert.ok(port > 0);
  });

  it('answers a client request on the same connection', async () => {
    await assertServed(await connect(), 42);
  });

  it('delivers peer messages in order, whether merged or split', async () => {
    peerMessages.length = 0;
    const client = await connect();
    const frames = Buffer.concat(Array.from({ length: 50 }, (_, i) => encodeFrame(encodeMessage(heartbeat(i)))));
    client.sendRaw(frames); // 50 frames in one write
    for (let i = 50; i < 100; i += 1) client.send(heartbeat(i)); // then one write each
    await waitFor(() => peerMessages.length === 100, '100 peer messages');
    assert.deepEqual(
      peerMessages.map((message) => (message.type === 'HeartbeatRequest' ? message.context : -1)),
      Array.from({ length: 100 }, (_, i) => i),
    );
  });

  it('closes only the connection that sent garbage', async () => {
    await assertRejectedAlone(Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]));
  });

  it('closes only the connection whose header announces an oversize frame', async () => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(FRAME_BYTES_MAX + 1);
    await assertRejectedAlone(header);
  });

  it('closes only the connection that sent an invalid message', async () => {
    await assertRejectedAlone(encodeFrame(encodeMessage({ ...heartbeat(1), from: 0 })));
  });

  it('closes only the connection that sent a response to the server', async () => {
    const response: ClientResponse = { type: 'KvResponse', requestId: 1, result: { ok: true, value: null, index: 0 } };
    await assertRejectedAlone(encodeFrame(encodeMessage(response)));
  });

  it('survives a client that sends half a frame and closes', async () => {
    const bystander = await connect();
    const client = await connect();
    const frame = encodeFrame(encodeMessage({ type: 'StatusRequest', requestId: 1 }));
    client.sendRaw(frame.subarray(0, frame.length - 2));
    await client.close();
    await waitFor(() => server.connectionCount === clients.filter((c) => !c.socket.destroyed).length, 'server to drop the connection');
    await assertServed(bystander, 3);
  });

  it('does not throw when replying to a client that is gone', async () => {
    let lateReply: ((response: ClientResponse) => void) | undefined;
    const { logger: quiet } = captureLogger();
    const lateServer = new TransportServer({ host: HOST, port: 0, logger: quiet });
    lateServer.onClientRequest((_request, reply) => {
      lateReply = reply;
    });
    try {
      const { port: latePort } = await lateServer.listen();
      const client = await FramedClient.connect(latePort);
      client.send({ type: 'StatusRequest', requestId: 1 });
      await waitFor(() => lateReply !== undefined, 'the request to arrive');
      await client.close();
      await waitFor(() => lateServer.connectionCount === 0, 'the server to see the close');
      assert.doesNotThrow(() => lateReply?.({ type: 'StatusResponse', requestId: 1, status: STATUS }));
    } finally {
      await lateServer.close();
    }
  });

  it('property: random bytes on fresh connections never disturb other clients', async () => {
    const randomBytes = fc.uint8Array({ minLength: 1, maxLength: 64 });
    const framedRandomBody = fc.uint8Array({ maxLength: 64 }).map((body) => new Uint8Array(encodeFrame(body)));
    await fc.assert(
      fc.asyncProperty(fc.oneof(randomBytes, framedRandomBody), async (bytes) => {
        const client = await FramedClient.connect(port);
        try {
          client.sendRaw(bytes);
          // The server either rejects the bytes (closing) or waits for the rest of a
          // frame; ending our side settles both cases.
          client.socket.end();
          await client.closed;
        } finally {
          await client.close();
        }
      }),
      { numRuns: 50 },
    );
    await assertServed(await connect(), 4);
  });

  it('close() destroys open connections', async () => {
    const { logger: quiet } = captureLogger();
    const closing = new TransportServer({ host: HOST, port: 0, logger: quiet });
    const { port: closingPort } = await closing.listen();
    const client = await FramedClient.connect(closingPort);
    try {
      await waitFor(() => closing.connectionCount === 1, 'the server to accept');
      await closing.close();
      await client.closed;
    } finally {
      await client.close();
    }
  });

  it('listen() rejects with EADDRINUSE when the port is taken', async () => {
    const { logger: quiet } = captureLogger();
    const second = new TransportServer({ host: HOST, port, logger: quiet });
    await assert.rejects(second.listen(), (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE');
    await second.close();
  });
});
