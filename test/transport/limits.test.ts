// Connection limits of the node's listener: connections beyond connectionsMax are
// closed at once, a connection that never sends a frame is closed after the handshake
// timeout, a peer hello of another cluster (or one claiming a different sender
// later) closes its connection with one warning, and the connection whose incomplete
// frame takes the input buffered across all connections over its budget is closed.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, describe, it } from 'node:test';

import { TransportServer } from '../../src/transport/server.js';
import { encodeFrameMessage } from '../../src/transport/codec.js';
import type { PeerMessage } from '../../src/core/messages.js';
import { captureLogger, HOST, LEVEL, linesWithMessage, waitFor } from './helpers.js';

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: HOST, port });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

describe('TransportServer limits and the peer hello', () => {
  const servers: TransportServer[] = [];
  after(async () => {
    for (const server of servers) await server.close();
  });

  async function start(options: Partial<ConstructorParameters<typeof TransportServer>[0]> = {}) {
    const log = captureLogger();
    const server = new TransportServer({ host: HOST, port: 0, logger: log.logger, ...options });
    servers.push(server);
    const { port } = await server.listen();
    return { server, port, lines: log.lines };
  }

  it('closes connections beyond connectionsMax at once, with a warning', async () => {
    const { server, port, lines } = await start({ connectionsMax: 2 });
    const kept = [await connect(port), await connect(port)];
    await waitFor(() => server.connectionCount === 2, 'two connections');
    const third = await connect(port);
    await once(third, 'close');
    assert.equal(linesWithMessage(lines, 'connection limit reached, connection refused').length, 1);
    assert.equal(server.connectionCount, 2);
    for (const socket of kept) socket.destroy();
  });

  it('closes a connection that sends nothing within the handshake timeout (slowloris)', async () => {
    const { port } = await start({ handshakeTimeoutMs: 100 });
    const idle = await connect(port);
    const startedAt = Date.now();
    await once(idle, 'close');
    assert.ok(Date.now() - startedAt >= 90);
  });

  it('refuses a hello of another cluster, and a message whose sender differs from the hello', async () => {
    const { port, lines } = await start({ clusterId: 'mine', self: 1 });
    const received: PeerMessage[] = [];
    const heartbeat = (from: number): PeerMessage => ({ type: 'HeartbeatRequest', from, to: 1, term: 1, commit: 0, context: 0 });
    const other = await connect(port);
    other.write(encodeFrameMessage({ type: 'PeerHello', clusterId: 'theirs', from: 2, to: 1 }));
    other.write(encodeFrameMessage(heartbeat(2)));
    await once(other, 'close');
    assert.equal(linesWithMessage(lines, 'peer of another cluster refused (cluster id mismatch)').length, 1);

    const servers2 = servers[servers.length - 1]!;
    servers2.onPeerMessage((message) => received.push(message));
    const liar = await connect(port);
    liar.write(encodeFrameMessage({ type: 'PeerHello', clusterId: 'mine', from: 2, to: 1 }));
    liar.write(encodeFrameMessage(heartbeat(2)));
    liar.write(encodeFrameMessage(heartbeat(3)));
    await once(liar, 'close');
    assert.deepEqual(received.map((m) => m.from), [2]);
    assert.equal(linesWithMessage(lines, 'peer message from another node than the hello named, connection closed').length, 1);

    const noHello = await connect(port);
    noHello.write(encodeFrameMessage(heartbeat(2)));
    await once(noHello, 'close');
    assert.equal(linesWithMessage(lines, 'peer message before a hello (no cluster id), connection closed').length, 1);
    assert.equal(received.length, 1);
  });

  /** A frame header announcing `bodyBytes`, then `sent` bytes of that body: it stays incomplete. */
  function partialFrame(bodyBytes: number, sent: number): Buffer {
    const bytes = Buffer.alloc(4 + sent, 0x61);
    bytes.writeUInt32BE(bodyBytes, 0);
    return bytes;
  }

  it('closes the connection whose bytes take the total buffered across connections over bufferedBytesMax, warning once', async () => {
    const { server, port, lines } = await start({ bufferedBytesMax: 1000 });
    const warning = 'input buffered across connections over the budget, connection closed';
    const warnings = (): number => linesWithMessage(lines, warning).filter((line) => line.level === LEVEL.warn).length;
    const [a, b] = [await connect(port), await connect(port)];
    a.write(partialFrame(10_000, 400)); // 400 bytes of body buffered (the header is parsed at once)
    await waitFor(() => server.bufferedBytes === 400, 'a buffered');
    b.write(partialFrame(10_000, 400));
    await waitFor(() => server.bufferedBytes === 800, 'b buffered');

    // 400 more would make 1200: this connection is the one closed, the others stay.
    const c = await connect(port);
    c.write(partialFrame(10_000, 400));
    await once(c, 'close');
    assert.equal(server.bufferedBytes, 800, 'what c had buffered no longer counts');
    assert.equal(warnings(), 1);
    const [line] = linesWithMessage(lines, warning);
    assert.equal(line!['bufferedBytesMax'], 1000);
    assert.equal(server.connectionCount, 2);
    assert.ok(!a.destroyed && !b.destroyed);

    // A second offender soon after is closed too, without a second warning line.
    const d = await connect(port);
    d.write(partialFrame(10_000, 300));
    await once(d, 'close');
    assert.equal(warnings(), 1, 'the warning is rate-limited (the second is at debug level)');
    assert.equal(linesWithMessage(lines, warning).length, 2);

    // A closed connection's bytes are released, so there is room again.
    a.destroy();
    await waitFor(() => server.bufferedBytes === 400, 'a released');
    const e = await connect(port);
    e.write(partialFrame(10_000, 500));
    await waitFor(() => server.bufferedBytes === 900, 'e buffered within the budget');
    assert.ok(!e.destroyed);

    // Completing a frame releases its bytes as well (the body is handed on, not kept).
    const received: unknown[] = [];
    server.onClientRequest((request) => received.push(request));
    const status = encodeFrameMessage({ type: 'StatusRequest', requestId: 1 });
    const f = await connect(port);
    f.write(status.subarray(0, 3));
    await waitFor(() => server.bufferedBytes === 903, 'f header in part');
    f.write(status.subarray(3));
    await waitFor(() => received.length === 1, 'the status request');
    assert.equal(server.bufferedBytes, 900);
    for (const socket of [b, e, f]) socket.destroy();
    await waitFor(() => server.bufferedBytes === 0, 'all released');
  });
});
