import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 that the chaos harness puts on every directed link (node i
 * dials node j at proxy(i→j)) and between every client group and every node. It can
 * cut a link, delay it or reset its connections.
 *
 * Directions are relative to whoever dials the proxy: `forward` carries the dialer's
 * bytes to the target, `backward` the target's answers to the dialer. raft-ts peer
 * links are one-way (node j answers on its own link j→i), so cutting proxy(i→j) is a
 * one-way cut i→j.
 *
 * A cut has two modes:
 * - `drop`: connections stay up but the bytes of a cut direction are silently thrown
 *   away (a black hole: the sender sees nothing wrong until its own timeouts fire).
 *   Every connection that was open during the cut has a hole in its byte stream, so
 *   it can never be used again: `heal()` destroys it and the dialer reconnects on a
 *   clean stream, as it would after a real partition broke its TCP connection.
 * - `refuse`: every connection is reset at once and new ones are reset as soon as they
 *   are accepted (the dialer sees a connection that dies immediately).
 *
 * A delay holds every chunk for the given time, preserving order.
 */

export type Direction = 'forward' | 'backward';
export type CutMode = 'drop' | 'refuse';

export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
}

export interface FaultProxyOptions {
  /** For logs and fault descriptions, e.g. `1->2` or `c3->2`. */
  readonly name: string;
  /** Where to forward; may be set later with setTarget (before the first connection). */
  readonly target?: ProxyTarget;
}

export interface ProxyStats {
  connections: number;
  bytesForwarded: { forward: number; backward: number };
  bytesDropped: { forward: number; backward: number };
  resets: number;
}

const LOOPBACK = '127.0.0.1';

/** One direction of one proxied connection: chunks in arrival order, each released at
 * its due time (never before an earlier chunk). */
class Pipe {
  private readonly queue: { chunk: Buffer; due: number }[] = [];
  private lastDue = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly proxy: FaultProxy,
    private readonly pair: Pair,
    private readonly direction: Direction,
    private readonly destination: net.Socket,
  ) {}

  push(chunk: Buffer): void {
    if (this.proxy.dropping(this.pair, this.direction)) {
      this.proxy.noteDropped(this.direction, chunk.length);
      return;
    }
    const delay = this.proxy.delayOf(this.direction);
    if (delay <= 0 && this.queue.length === 0) {
      this.deliver(chunk);
      return;
    }
    const due = Math.max(performance.now() + delay, this.lastDue);
    this.lastDue = due;
    this.queue.push({ chunk, due });
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.queue.length === 0) return;
    const wait = Math.max(0, this.queue[0]!.due - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = performance.now();
      while (this.queue.length > 0 && this.queue[0]!.due <= now + 0.5) {
        const { chunk } = this.queue.shift()!;
        // A cut that began while the chunk was in flight loses it, as a real one would.
        if (this.proxy.dropping(this.pair, this.direction)) this.proxy.noteDropped(this.direction, chunk.length);
        else this.deliver(chunk);
      }
      this.schedule();
    }, wait);
  }

  private deliver(chunk: Buffer): void {
    if (this.destination.destroyed) return;
    this.proxy.noteForwarded(this.direction, chunk.length);
    this.destination.write(chunk);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

/** One accepted connection and its upstream connection to the target. */
class Pair {
  /** Set when a drop-mode cut covered this connection: its stream has (or may have)
   * a hole, so it is destroyed at heal and never forwards again. */
  doomed = false;
  closed = false;
  readonly forward: Pipe;
  readonly backward: Pipe;

  constructor(
    proxy: FaultProxy,
    readonly downstream: net.Socket,
    readonly upstream: net.Socket,
    private readonly onClose: (pair: Pair) => void,
  ) {
    this.forward = new Pipe(proxy, this, 'forward', upstream);
    this.backward = new Pipe(proxy, this, 'backward', downstream);
    downstream.on('data', (chunk: Buffer) => this.forward.push(chunk));
    upstream.on('data', (chunk: Buffer) => this.backward.push(chunk));
    for (const socket of [downstream, upstream]) {
      socket.on('error', () => this.destroy(false));
      socket.on('close', () => this.destroy(false));
    }
  }

  destroy(reset: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.forward.stop();
    this.backward.stop();
    for (const socket of [this.downstream, this.upstream]) {
      if (socket.destroyed) continue;
      if (reset && typeof socket.resetAndDestroy === 'function' && !socket.connecting) socket.resetAndDestroy();
      else socket.destroy();
    }
    this.onClose(this);
  }
}

export class FaultProxy {
  readonly name: string;
  private target: ProxyTarget | undefined;
  private readonly server: net.Server;
  private readonly pairs = new Set<Pair>();
  private readonly cuts: { forward: CutMode | undefined; backward: CutMode | undefined } = { forward: undefined, backward: undefined };
  private readonly delays = { forward: 0, backward: 0 };
  private listeningPort = 0;
  private closing = false;
  readonly stats: ProxyStats = {
    connections: 0,
    bytesForwarded: { forward: 0, backward: 0 },
    bytesDropped: { forward: 0, backward: 0 },
    resets: 0,
  };

  constructor(options: FaultProxyOptions) {
    this.name = options.name;
    this.target = options.target;
    this.server = net.createServer((socket) => this.accept(socket));
    // Refused connections and racing closes must never crash the harness.
    this.server.on('error', () => undefined);
  }

  /** Listens on a free loopback port; resolves with it. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, LOOPBACK, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.listeningPort = (this.server.address() as net.AddressInfo).port;
    return this.listeningPort;
  }

  get port(): number {
    return this.listeningPort;
  }

  /** `127.0.0.1:port`, what the dialer is given. */
  get address(): string {
    return `${LOOPBACK}:${this.listeningPort}`;
  }

  setTarget(target: ProxyTarget): void {
    this.target = target;
  }

  /** Connections currently open through the proxy. */
  get openConnections(): number {
    return this.pairs.size;
  }

  /** Whether any cut or delay is in force. */
  get faulty(): boolean {
    return this.cuts.forward !== undefined || this.cuts.backward !== undefined || this.delays.forward > 0 || this.delays.backward > 0;
  }

  /** Cuts one direction or both. See the file comment for the modes. */
  cut(direction: Direction | 'both' = 'both', mode: CutMode = 'drop'): void {
    for (const d of expand(direction)) this.cuts[d] = mode;
    if (mode === 'refuse') {
      this.reset();
      return;
    }
    for (const pair of this.pairs) pair.doomed = true;
  }

  /** Holds every chunk of `direction` for `ms` milliseconds (0 ends the delay; chunks
   * already held are still released in order). */
  delay(ms: number, direction: Direction | 'both' = 'both'): void {
    for (const d of expand(direction)) this.delays[d] = Math.max(0, ms);
  }

  /** Resets every open connection (RST to both ends); returns how many. */
  reset(): number {
    const count = this.pairs.size;
    for (const pair of [...this.pairs]) pair.destroy(true);
    this.stats.resets += count;
    return count;
  }

  /** Ends every cut and delay; connections that lived through a drop-mode cut are
   * reset, since their byte streams have holes. */
  heal(): void {
    this.cuts.forward = undefined;
    this.cuts.backward = undefined;
    this.delays.forward = 0;
    this.delays.backward = 0;
    for (const pair of [...this.pairs]) {
      if (pair.doomed) {
        pair.destroy(true);
        this.stats.resets += 1;
      }
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const pair of [...this.pairs]) pair.destroy(false);
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** @internal */
  dropping(pair: Pair, direction: Direction): boolean {
    return pair.doomed && this.cuts[direction] !== undefined;
  }

  /** @internal */
  delayOf(direction: Direction): number {
    return this.delays[direction];
  }

  /** @internal */
  noteDropped(direction: Direction, bytes: number): void {
    this.stats.bytesDropped[direction] += bytes;
  }

  /** @internal */
  noteForwarded(direction: Direction, bytes: number): void {
    this.stats.bytesForwarded[direction] += bytes;
  }

  private accept(downstream: net.Socket): void {
    downstream.on('error', () => undefined);
    const refused = this.cuts.forward === 'refuse' || this.cuts.backward === 'refuse';
    if (this.closing || this.target === undefined || refused) {
      if (refused) this.stats.resets += 1;
      downstream.resetAndDestroy();
      return;
    }
    this.stats.connections += 1;
    downstream.setNoDelay(true);
    const upstream = net.connect({ host: this.target.host, port: this.target.port });
    upstream.setNoDelay(true);
    upstream.on('error', () => undefined);
    const pair = new Pair(this, downstream, upstream, (closed) => this.pairs.delete(closed));
    if (this.cuts.forward === 'drop' || this.cuts.backward === 'drop') pair.doomed = true;
    this.pairs.add(pair);
  }
}

function expand(direction: Direction | 'both'): Direction[] {
  return direction === 'both' ? ['forward', 'backward'] : [direction];
}
