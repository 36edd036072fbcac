import net from 'node:net';
import type tls from 'node:tls';
import { nodeTls } from '../tls/node-tls.js';
import type { Logger } from 'pino';

import type { PeerMessage } from '../core/messages.js';
import type { NodeId } from '../core/types.js';
import type { PeerAddress } from './address.js';
import { formatAddress } from './address.js';
import { encodeFrameMessage } from './codec.js';
import { FRAME_BYTES_MAX_DEFAULT, FRAME_HEADER_BYTES } from './frame.js';
import type { PeerHello } from './hello.js';
import type { TlsMaterial } from '../tls/tls-config.js';
import { clientTlsOptions } from '../tls/tls-config.js';

export const QUEUE_MESSAGES_MAX_DEFAULT = 4096;
export const BACKOFF_MS_INITIAL_DEFAULT = 50;
export const BACKOFF_MS_MAX_DEFAULT = 1000;
export const BACKOFF_JITTER_DEFAULT = 0.2;
export const CONNECT_TIMEOUT_MS_DEFAULT = 3000;
export const KEEP_ALIVE_MS_DEFAULT = 5000;

export interface PeerLinkOptions {
  readonly peer: NodeId;
  readonly address: PeerAddress;
  /** The component logger; the link makes a child with `{ peer }`. */
  readonly logger: Logger;
  /** Frames waiting for the socket; when full the oldest is dropped, since Raft
   * resends what matters (heartbeats, appends after a probe). Default 4096. */
  readonly queueMessagesMax?: number;
  /** The receiver's frame limit: a larger message would get the whole link closed by
   * the peer, so it is dropped here with a warning instead. Default 16 MiB. */
  readonly frameBytesMax?: number;
  /** First reconnect delay, doubled per failed attempt up to backoffMsMax. Default 50. */
  readonly backoffMsInitial?: number;
  /** Cap on the reconnect delay before jitter. Default 1000. */
  readonly backoffMsMax?: number;
  /** Each delay is scaled by a uniform factor in [1 - jitter, 1 + jitter], so links
   * that failed together do not retry in lockstep. Default 0.2. */
  readonly backoffJitter?: number;
  /** A connect attempt that has not completed by then counts as failed. Default 3000. */
  readonly connectTimeoutMs?: number;
  /** Source of randomness for the jitter, in [0, 1). Default Math.random. */
  readonly random?: () => number;
  /** Connect with mutual TLS; the peer's certificate must name node `peer`. Default plaintext. */
  readonly tls?: TlsMaterial;
  /** Sent first on every connection (cluster id and who we are). Default none. */
  readonly hello?: PeerHello;
  /** Called on every successful connect. */
  readonly onConnected?: (peer: NodeId) => void;
  /** Called once per loss of the peer (not per retry): the first failed connect after
   * having been connected, or the first failure at start. */
  readonly onUnreachable?: (peer: NodeId) => void;
  /** Called with each frame's size as it is queued (metrics). */
  readonly onSentBytes?: (bytes: number) => void;
}

type LinkState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'closed';

/**
 * One long-lived outbound connection to one peer. send() never blocks and never
 * throws (nats.js `send`): delivery comes from the protocol's own retries, so the link
 * only has to do its best and stay bounded. Peers answer on their own outbound links,
 * so anything that arrives on this socket is read and discarded.
 */
export class PeerLink {
  readonly peer: NodeId;
  readonly address: PeerAddress;
  readonly #log: Logger;
  readonly #queue: FrameQueue;
  readonly #frameBytesMax: number;
  readonly #backoffMsInitial: number;
  readonly #backoffMsMax: number;
  readonly #backoffJitter: number;
  readonly #connectTimeoutMs: number;
  readonly #random: () => number;
  readonly #onConnected: ((peer: NodeId) => void) | undefined;
  readonly #onSentBytes: ((bytes: number) => void) | undefined;
  readonly #onUnreachable: ((peer: NodeId) => void) | undefined;
  readonly #tlsOptions: tls.ConnectionOptions | undefined;
  readonly #helloFrame: Buffer | undefined;

  #state: LinkState = 'idle';
  #socket: net.Socket | undefined;
  /** Reconnects scheduled since the last successful connect; drives the backoff. */
  #retries = 0;
  /** Set once a loss has been reported, cleared on connect (hashicorp's `didWarn`). */
  #lossReported = false;
  /** The socket said stop (write returned false); wait for 'drain'. */
  #waitingForDrain = false;
  #flushScheduled = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #droppedMessages = 0;

  constructor(options: PeerLinkOptions) {
    this.peer = options.peer;
    this.address = options.address;
    this.#log = options.logger.child({ peer: options.peer });
    this.#queue = new FrameQueue(options.queueMessagesMax ?? QUEUE_MESSAGES_MAX_DEFAULT);
    this.#frameBytesMax = options.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT;
    this.#backoffMsInitial = options.backoffMsInitial ?? BACKOFF_MS_INITIAL_DEFAULT;
    this.#backoffMsMax = options.backoffMsMax ?? BACKOFF_MS_MAX_DEFAULT;
    this.#backoffJitter = options.backoffJitter ?? BACKOFF_JITTER_DEFAULT;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT;
    this.#random = options.random ?? Math.random;
    this.#onConnected = options.onConnected;
    this.#onSentBytes = options.onSentBytes;
    this.#onUnreachable = options.onUnreachable;
    this.#tlsOptions = options.tls === undefined ? undefined : clientTlsOptions(options.tls, { kind: 'node', id: options.peer });
    this.#helloFrame = options.hello === undefined ? undefined : encodeFrameMessage(options.hello);
  }

  /** Messages queued and not yet handed to the socket. */
  get queuedMessages(): number {
    return this.#queue.length;
  }

  /** Messages dropped so far because the queue was full. */
  get droppedMessages(): number {
    return this.#droppedMessages;
  }

  get connected(): boolean {
    return this.#state === 'connected';
  }

  /** Starts connecting; messages sent before this are queued. */
  start(): void {
    if (this.#state !== 'idle') return;
    this.#connect();
  }

  /** Queues `message` for the peer. Never blocks, never throws. */
  send(message: PeerMessage): void {
    if (this.#state === 'closed') return;
    const frame = this.#encode(message);
    if (frame === undefined) return;
    this.#onSentBytes?.(frame.byteLength);
    if (this.#queue.push(frame)) {
      this.#droppedMessages += 1;
      this.#log.debug({ type: message.type, dropped: this.#droppedMessages }, 'queue full, dropped oldest message');
    }
    this.#scheduleFlush();
  }

  /** Writes the queued frames now rather than at the end of this turn. */
  flush(): void {
    this.#flush();
  }

  /** Stops reconnecting, drops the queue and destroys the socket. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#queue.clear();
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket === undefined || socket.closed) return;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.destroy();
    await closed;
  }

  #encode(message: PeerMessage): Buffer | undefined {
    let frame: Buffer;
    try {
      frame = encodeFrameMessage(message);
    } catch (err) {
      // Only a bug gets here (the core built an unencodable message); keep the link up.
      this.#log.error({ err, type: message.type }, 'message not encodable, dropped');
      return undefined;
    }
    if (frame.byteLength - FRAME_HEADER_BYTES > this.#frameBytesMax) {
      this.#log.warn({ type: message.type, bytes: frame.byteLength }, 'message exceeds frameBytesMax, dropped');
      return undefined;
    }
    return frame;
  }

  #connect(): void {
    this.#state = 'connecting';
    const target = { host: this.address.host, port: this.address.port };
    const socket = this.#tlsOptions === undefined ? net.connect(target) : nodeTls().connect({ ...target, ...this.#tlsOptions });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEP_ALIVE_MS_DEFAULT);
    socket.setTimeout(this.#connectTimeoutMs);
    let lastError: Error | undefined;
    let wasConnected = false;
    socket.once(this.#tlsOptions === undefined ? 'connect' : 'secureConnect', () => {
      wasConnected = true;
      socket.setTimeout(0);
      this.#onConnect();
    });
    socket.on('timeout', () => socket.destroy(connectTimeoutError(this.#connectTimeoutMs)));
    socket.on('data', discard);
    socket.on('drain', () => {
      this.#waitingForDrain = false;
      this.#flush();
    });
    socket.on('error', (err) => {
      lastError = err;
    });
    socket.once('close', () => {
      if (this.#socket !== socket) return; // closed by close(); nothing to do
      this.#socket = undefined;
      this.#onSocketClosed(wasConnected, lastError);
    });
  }

  #onConnect(): void {
    this.#state = 'connected';
    this.#retries = 0;
    this.#lossReported = false;
    this.#waitingForDrain = false;
    this.#log.info({ address: formatAddress(this.address) }, 'peer connected');
    this.#onConnected?.(this.peer);
    if (this.#helloFrame !== undefined) this.#socket?.write(this.#helloFrame);
    this.#flush();
  }

  #onSocketClosed(wasConnected: boolean, err: Error | undefined): void {
    if (wasConnected) {
      // A dropped connection is not yet a lost peer: it may be back at once (a restart).
      this.#log.debug({ err }, 'peer connection closed');
    } else {
      this.#reportLossOnce(err);
    }
    this.#scheduleReconnect();
  }

  #reportLossOnce(err: Error | undefined): void {
    if (this.#lossReported) return;
    this.#lossReported = true;
    // The reason as a short field, not the error object: this line is for people
    // tailing the logs, and one loss must stay one line.
    const reason = (err as NodeJS.ErrnoException | undefined)?.code ?? err?.message ?? 'connection closed';
    this.#log.warn({ address: formatAddress(this.address), reason }, 'peer unreachable');
    this.#onUnreachable?.(this.peer);
  }

  #scheduleReconnect(): void {
    this.#state = 'backoff';
    const delayMs = this.#reconnectDelayMs(this.#retries);
    this.#retries += 1;
    this.#log.debug({ delayMs, retries: this.#retries }, 'reconnecting');
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#state === 'backoff') this.#connect();
    }, delayMs);
    // A link waiting to reconnect must not keep the process alive on shutdown.
    this.#reconnectTimer.unref();
  }

  /** Capped exponential backoff with jitter: backoffMsInitial · 2^retries, at most backoffMsMax. */
  #reconnectDelayMs(retries: number): number {
    const baseMs = Math.min(this.#backoffMsMax, this.#backoffMsInitial * 2 ** Math.min(retries, 30));
    const factor = 1 + this.#backoffJitter * (2 * this.#random() - 1);
    return Math.max(0, Math.round(baseMs * factor));
  }

  /** Batches everything sent in one turn of the event loop (e.g. one Ready) into one flush. */
  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#state !== 'connected') return;
    this.#flushScheduled = true;
    process.nextTick(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  /** Writes queued frames until the queue is empty or the socket asks us to wait. */
  #flush(): void {
    const socket = this.#socket;
    if (this.#state !== 'connected' || socket === undefined || this.#waitingForDrain) return;
    if (this.#queue.length === 0) return;
    socket.cork();
    try {
      for (let frame = this.#queue.shift(); frame !== undefined; frame = this.#queue.shift()) {
        if (!socket.write(frame)) {
          this.#waitingForDrain = true;
          break;
        }
      }
    } finally {
      socket.uncork();
    }
  }
}

function discard(): void {}

function connectTimeoutError(timeoutMs: number): Error {
  const err = new Error(`connect timed out after ${timeoutMs} ms`) as NodeJS.ErrnoException;
  err.code = 'ETIMEDOUT';
  return err;
}

/**
 * A bounded FIFO of encoded frames that drops the oldest when full. A head index
 * instead of Array.shift keeps both ends O(1) amortized.
 */
class FrameQueue {
  #items: (Buffer | undefined)[] = [];
  #head = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`queueMessagesMax must be a positive integer, got ${capacity}`);
    }
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Appends `frame`; returns true when the oldest frame was dropped to make room. */
  push(frame: Buffer): boolean {
    const full = this.length >= this.capacity;
    if (full) this.shift();
    this.#items.push(frame);
    return full;
  }

  shift(): Buffer | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const frame = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head += 1;
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) this.#compact();
    return frame;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }

  #compact(): void {
    this.#items = this.#items.slice(this.#head);
    this.#head = 0;
  }
}
