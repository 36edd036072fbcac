/**
 * A PeerLink against real sockets on 127.0.0.1: it queues while the peer is away
 * and delivers in order once it is back, bounds its queue by dropping the oldest,
 * reconnects after a drop, reports a loss once (not per retry), ignores whatever
 * the peer writes back, and leaves nothing running after close().
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';

import type { PeerMessage } from '../../src/core/messages.js';
import type { NodeId } from '../../src/core/types.js';
import { decodeMessage } from '../../src/transport/codec.js';
import { FrameDecoder } from '../../src/transport/frame.js';
import { PeerLink, type PeerLinkOptions } from '../../src/transport/peer-link.js';
import { captureLogger, freePort, HOST, LEVEL, linesWithMessage, waitFor, type LogLine } from './helpers.js';

function heartbeat(context: number): PeerMessage {
  return { type: 'HeartbeatRequest', from: 1, to: 2, term: 1, commit: 0, context };
}

function contexts(messages: readonly PeerMessage[]): number[] {
  return messages.map((message) => (message.type === 'HeartbeatRequest' ? message.context : -1));
}

/** A bare peer: records every message received, and can cut its connections. */
class RecordingPeer {
  readonly received: PeerMessage[] = [];
  readonly sockets = new Set<net.Socket>();
  readonly #server = net.createServer((socket) => this.#accept(socket));

  async listen(port: number): Promise<void> {
    this.#server.listen(port, HOST);
    await once(this.#server, 'listening');
  }

  /** Destroys every accepted connection but keeps listening. */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = once(this.#server, 'close');
    this.#server.close();
    this.dropConnections();
    await closed;
  }

  #accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => this.sockets.delete(socket));
    const decoder = new FrameDecoder(1024 * 1024);
    socket.on('data', (chunk: Buffer) => {
      for (const body of decoder.push(chunk)) this.received.push(decodeMessage(body) as PeerMessage);
    });
  }
}

/** Link plus the counters and logs the tests look at; everything made is closed in `after`. */
interface Harness {
  readonly link: PeerLink;
  readonly lines: LogLine[];
  readonly connects: NodeId[];
  readonly losses: NodeId[];
}

describe('PeerLink', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  function makeLink(port: number, options: Partial<PeerLinkOptions> = {}): Harness {
    const { logger, lines } = captureLogger('debug');
    const connects: NodeId[] = [];
    const losses: NodeId[] = [];
    const link = new PeerLink({
      peer: 2,
      address: { host: HOST, port },
      logger,
      backoffMsInitial: 2,
      backoffMsMax: 20,
      onConnected: (peer) => connects.push(peer),
      onUnreachable: (peer) => losses.push(peer),
      ...options,
    });
    cleanups.push(() => link.close());
    return { link, lines, connects, losses };
  }

  async function makePeer(port: number): Promise<RecordingPeer> {
    const peer = new RecordingPeer();
    await peer.listen(port);
    cleanups.push(() => peer.close());
    return peer;
  }

  it('queues while the peer is not listening and delivers in order once it is', async () => {
    const port = await freePort();
    const { link, lines, connects, losses } = makeLink(port);
    link.start();
    for (let i = 0; i < 10; i += 1) link.send(heartbeat(i));
    await waitFor(() => losses.length === 1, 'the first failure to be reported');
    const peer = await makePeer(port);
    await waitFor(() => peer.received.length === 10, 'all queued messages');
    assert.deepEqual(contexts(peer.received), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(connects, [2]);
    assert.equal(linesWithMessage(lines, 'peer connected').length, 1);
    assert.equal(linesWithMessage(lines, 'peer connected')[0]?.level, LEVEL.info);
    link.send(heartbeat(10));
    await waitFor(() => peer.received.length === 11, 'a message sent while connected');
  });

  it('drops the oldest messages when the queue is full', async () => {
    const port = await freePort();
    const { link } = makeLink(port, { queueMessagesMax: 5 });
    for (let i = 0; i < 12; i += 1) link.send(heartbeat(i));
    assert.equal(link.queuedMessages, 5);
    assert.equal(link.droppedMessages, 7);
    const peer = await makePeer(port);
    link.start();
    await waitFor(() => peer.received.length === 5, 'the five newest messages');
    assert.deepEqual(contexts(peer.received), [7, 8, 9, 10, 11]);
  });

  it('reconnects after the peer destroys the connection, without reporting a loss', async () => {
    const port = await freePort();
    const peer = await makePeer(port);
    const { link, connects, losses } = makeLink(port);
    link.start();
    await waitFor(() => connects.length === 1, 'the first connect');
    link.send(heartbeat(1));
    await waitFor(() => peer.received.length === 1, 'the first message');
    peer.dropConnections();
    await waitFor(() => connects.length === 2, 'the reconnect');
    link.send(heartbeat(2));
    await waitFor(() => peer.received.length === 2, 'a message on the new connection');
    assert.deepEqual(contexts(peer.received), [1, 2]);
    assert.deepEqual(losses, [], 'a drop followed by a successful reconnect is not a loss');
  });

  it('reports unreachable once per loss, not per retry', async () => {
    const port = await freePort();
    const { link, lines, losses, connects } = makeLink(port);
    const reconnects = (): number => linesWithMessage(lines, 'reconnecting').length;
    link.start();
    await waitFor(() => reconnects() >= 5, 'five retries');
    assert.deepEqual(losses, [2]);
    const warnings = linesWithMessage(lines, 'peer unreachable');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.level, LEVEL.warn);
    assert.equal(warnings[0]?.['peer'], 2);
    assert.equal(warnings[0]?.['address'], `${HOST}:${port}`);
    assert.equal(warnings[0]?.['reason'], 'ECONNREFUSED');
    assert.equal(linesWithMessage(lines, 'reconnecting')[0]?.level, LEVEL.debug);

    const peer = await makePeer(port);
    await waitFor(() => connects.length === 1, 'the connect');
    await peer.close(); // stop listening and cut the connection: a second loss
    await waitFor(() => losses.length === 2, 'the second loss');
    const retriesAtLoss = reconnects();
    await waitFor(() => reconnects() >= retriesAtLoss + 5, 'five more retries');
    assert.deepEqual(losses, [2, 2]);
    assert.equal(linesWithMessage(lines, 'peer unreachable').length, 2);
  });

  it('backs off exponentially up to the cap, with jitter within bounds', async () => {
    const port = await freePort();
    const { link, lines } = makeLink(port, { backoffMsInitial: 1, backoffMsMax: 8, random: () => 0.5 });
    link.start();
    await waitFor(() => linesWithMessage(lines, 'reconnecting').length >= 6, 'six retries');
    const delays = linesWithMessage(lines, 'reconnecting').slice(0, 6).map((line) => line['delayMs']);
    assert.deepEqual(delays, [1, 2, 4, 8, 8, 8]);

    const low = makeLink(port, { backoffMsInitial: 100, backoffMsMax: 100, random: () => 0 });
    const high = makeLink(port, { backoffMsInitial: 100, backoffMsMax: 100, random: () => 0.999999 });
    low.link.start();
    high.link.start();
    await waitFor(() => low.losses.length === 1 && high.losses.length === 1, 'the first retries');
    assert.equal(linesWithMessage(low.lines, 'reconnecting')[0]?.['delayMs'], 80);
    assert.equal(linesWithMessage(high.lines, 'reconnecting')[0]?.['delayMs'], 120);
  });

  it('ignores whatever the peer writes back', async () => {
    const port = await freePort();
    const peer = await makePeer(port);
    const { link, connects, losses } = makeLink(port);
    link.start();
    await waitFor(() => peer.sockets.size === 1 && connects.length === 1, 'the connect');
    for (const socket of peer.sockets) socket.write(Buffer.alloc(256 * 1024, 0xc1));
    link.send(heartbeat(1));
    await waitFor(() => peer.received.length === 1, 'the message');
    assert.deepEqual(connects, [2]);
    assert.deepEqual(losses, []);
  });

  it('drops a message larger than the frame limit instead of breaking the link', async () => {
    const port = await freePort();
    const peer = await makePeer(port);
    const { link, lines, connects } = makeLink(port, { frameBytesMax: 64 });
    link.start();
    await waitFor(() => connects.length === 1, 'the connect');
    const data = new Uint8Array(100);
    link.send({ type: 'AppendRequest', from: 1, to: 2, term: 1, prevLogIndex: 0, prevLogTerm: 0, entries: [{ term: 1, index: 1, kind: 1, data }], commit: 0 });
    link.send(heartbeat(1));
    await waitFor(() => peer.received.length === 1, 'the small message');
    assert.deepEqual(contexts(peer.received), [1]);
    assert.equal(linesWithMessage(lines, 'message exceeds frameBytesMax, dropped').length, 1);
  });

  it('close() stops reconnecting, closes the socket and ignores later sends', async () => {
    const port = await freePort();
    const { link, lines } = makeLink(port);
    link.start();
    await waitFor(() => linesWithMessage(lines, 'reconnecting').length >= 2, 'two retries');
    await link.close();
    const linesAtClose = lines.length;
    link.send(heartbeat(1));
    assert.equal(link.queuedMessages, 0);
    // Absence cannot be awaited: give a retry ten times its maximum delay to show up.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(lines.length, linesAtClose, 'nothing happens after close');
  });

  it('holds frames until the end of the turn, and flush() hands them to the socket at once', async () => {
    const port = await freePort();
    const peer = await makePeer(port);
    const { link, connects } = makeLink(port);
    link.start();
    await waitFor(() => connects.length === 1, 'the connect');
    link.send(heartbeat(1));
    link.send(heartbeat(2));
    assert.equal(link.queuedMessages, 2, 'sends in one turn leave together, later');
    link.flush();
    assert.equal(link.queuedMessages, 0, 'flush() writes in this turn');
    link.send(heartbeat(3));
    // Closing drops what is still queued: the flushed frames are already the socket's.
    await link.close();
    await waitFor(() => peer.received.length === 2, 'the flushed messages');
    assert.deepEqual(contexts(peer.received), [1, 2]);
  });

  it('close() while connected closes the connection on the peer side', async () => {
    const port = await freePort();
    const peer = await makePeer(port);
    const { link, connects } = makeLink(port);
    link.start();
    await waitFor(() => connects.length === 1 && peer.sockets.size === 1, 'the connect');
    const [socket] = [...peer.sockets];
    const peerSideClosed = once(socket as net.Socket, 'close');
    await link.close();
    await peerSideClosed;
    assert.equal(link.connected, false);
  });
});
