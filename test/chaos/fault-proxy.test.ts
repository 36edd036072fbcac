// The chaos harness's fault proxy with real loopback sockets: it forwards both ways,
// a one-way cut drops only that direction, a delay holds bytes (in order), a reset
// closes both ends, a refusing cut resets new connections, and after a drop-mode
// cut is healed the damaged connection is closed and a new one forwards again.
import assert from 'node:assert/strict';
import net from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FaultProxy } from '../../src/chaos/fault-proxy.js';
import { waitFor } from '../../src/cluster/local-cluster.js';

/** A target that records what each connection sent it and can write to each one. */
class Target {
  readonly server: net.Server;
  readonly connections: { socket: net.Socket; received: string; closed: boolean }[] = [];
  port = 0;

  constructor() {
    this.server = net.createServer((socket) => {
      const entry = { socket, received: '', closed: false };
      this.connections.push(entry);
      socket.on('data', (chunk: Buffer) => (entry.received += chunk.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => (entry.closed = true));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const { socket } of this.connections) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** A dialer: records what it receives and whether it was closed. */
class Dialer {
  readonly socket: net.Socket;
  received = '';
  closed = false;
  readonly connected: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.on('data', (chunk: Buffer) => (this.received += chunk.toString()));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => (this.closed = true));
    this.connected = new Promise((resolve) => this.socket.once('connect', () => resolve()));
  }
}

const until = (what: string, check: () => boolean): Promise<true> => waitFor(what, 5_000, async () => (check() ? true : undefined));

describe('FaultProxy', () => {
  let target: Target;
  let proxy: FaultProxy;
  const dialers: Dialer[] = [];

  async function dial(): Promise<{ dialer: Dialer; far: Target['connections'][number] }> {
    const before = target.connections.length;
    const dialer = new Dialer(proxy.port);
    dialers.push(dialer);
    await dialer.connected;
    await until('the proxy to connect to the target', () => target.connections.length > before);
    return { dialer, far: target.connections[before]! };
  }

  beforeEach(async () => {
    target = new Target();
    await target.listen();
    proxy = new FaultProxy({ name: 'test', target: { host: '127.0.0.1', port: target.port } });
    await proxy.listen();
  });

  afterEach(async () => {
    for (const dialer of dialers.splice(0)) dialer.socket.destroy();
    await proxy.close();
    await target.close();
  });

  it('listens on loopback and forwards both ways', async () => {
    assert.match(proxy.address, /^127\.0\.0\.1:\d+$/);
    const { dialer, far } = await dial();
    dialer.socket.write('ping');
    await until('the target to get ping', () => far.received === 'ping');
    far.socket.write('pong');
    await until('the dialer to get pong', () => dialer.received === 'pong');
    assert.equal(proxy.stats.bytesForwarded.forward, 4);
    assert.equal(proxy.stats.bytesForwarded.backward, 4);
  });

  it('a one-way cut drops the dialer\'s bytes and still carries the answers', async () => {
    const { dialer, far } = await dial();
    proxy.cut('forward', 'drop');
    dialer.socket.write('lost');
    await until('the proxy to drop 4 bytes', () => proxy.stats.bytesDropped.forward === 4);
    far.socket.write('still here');
    await until('the dialer to get the answer', () => dialer.received === 'still here');
    assert.equal(far.received, '', 'nothing reached the target');
    assert.equal(dialer.closed, false, 'a dropping cut keeps the connection up');
  });

  it('a backward cut drops the answers and still carries the requests', async () => {
    const { dialer, far } = await dial();
    proxy.cut('backward', 'drop');
    far.socket.write('lost');
    await until('the proxy to drop 4 bytes', () => proxy.stats.bytesDropped.backward === 4);
    dialer.socket.write('request');
    await until('the target to get the request', () => far.received === 'request');
    assert.equal(dialer.received, '');
  });

  it('a new connection during a cut is cut too; heal resets damaged connections and new ones forward', async () => {
    proxy.cut('both', 'drop');
    const { dialer, far } = await dial();
    dialer.socket.write('x');
    await until('the proxy to drop 1 byte', () => proxy.stats.bytesDropped.forward === 1);
    assert.equal(far.received, '');
    proxy.heal();
    await until('the damaged connection to close at both ends', () => dialer.closed && far.closed);
    const fresh = await dial();
    fresh.dialer.socket.write('again');
    await until('the target to get again', () => fresh.far.received === 'again');
  });

  it('delay holds bytes for the given time and keeps their order', async () => {
    const { dialer, far } = await dial();
    proxy.delay(150, 'forward');
    const start = performance.now();
    for (let i = 0; i < 20; i += 1) {
      dialer.socket.write(`${i},`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const expected = Array.from({ length: 20 }, (_, i) => `${i},`).join('');
    await until('every chunk to arrive', () => far.received.length === expected.length);
    assert.ok(performance.now() - start >= 145, `delayed ${performance.now() - start} ms`);
    assert.equal(far.received, expected, 'order preserved');
    // The other direction is not delayed, and ending the delay forwards at once.
    proxy.delay(0);
    far.socket.write('back');
    await until('the answer', () => dialer.received === 'back');
  });

  it('reset closes both ends of every connection', async () => {
    const { dialer, far } = await dial();
    assert.equal(proxy.reset(), 1);
    await until('both ends to close', () => dialer.closed && far.closed);
    assert.equal(proxy.openConnections, 0);
  });

  it('a refusing cut resets open connections and every new one, until healed', async () => {
    const { dialer, far } = await dial();
    proxy.cut('both', 'refuse');
    await until('both ends to close', () => dialer.closed && far.closed);
    const refused = new Dialer(proxy.port);
    dialers.push(refused);
    await until('the new connection to be closed', () => refused.closed);
    assert.equal(target.connections.length, 1, 'the target never saw the refused connection');
    proxy.heal();
    const fresh = await dial();
    fresh.dialer.socket.write('ok');
    await until('the target to get ok', () => fresh.far.received === 'ok');
  });
});
