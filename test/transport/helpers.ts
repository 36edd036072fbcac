/**
 * Shared pieces for the transport tests: an in-memory pino logger, bounded polling
 * for conditions that have no event, and a minimal framed client.
 */
import net from 'node:net';
import { once } from 'node:events';
import { pino, type Logger } from 'pino';

import { decodeMessage, encodeFrameMessage, type WireMessage } from '../../src/transport/codec.js';
import { FrameDecoder } from '../../src/transport/frame.js';

export const HOST = '127.0.0.1';

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export const LEVEL = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 } as const;

/** A pino logger whose JSON lines are parsed into `lines` (synchronously, as written). */
export function captureLogger(level: pino.Level = 'debug'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) };
  return { logger: pino({ level }, stream), lines };
}

export function linesWithMessage(lines: readonly LogLine[], msg: string): LogLine[] {
  return lines.filter((line) => line.msg === msg);
}

/** Polls `condition` until it holds; fails after `timeoutMs`. For states with no event to await. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A port that was free a moment ago (listen on 0, then close). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, HOST);
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** A client speaking the framed protocol: send messages or raw bytes, await decoded messages. */
export class FramedClient {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  readonly #decoder = new FrameDecoder(16 * 1024 * 1024);
  readonly #received: WireMessage[] = [];
  readonly #waiters: ((message: WireMessage) => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {}); // resets are expected when the server rejects us
    socket.on('data', (chunk: Buffer) => {
      for (const body of this.#decoder.push(chunk)) this.#deliver(decodeMessage(body));
    });
  }

  static async connect(port: number): Promise<FramedClient> {
    const socket = net.connect({ host: HOST, port });
    await once(socket, 'connect');
    return new FramedClient(socket);
  }

  send(message: WireMessage): void {
    this.socket.write(encodeFrameMessage(message));
  }

  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  next(): Promise<WireMessage> {
    const ready = this.#received.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Destroys the socket and waits for it to close. */
  async close(): Promise<void> {
    this.socket.destroy();
    await this.closed;
  }

  #deliver(message: WireMessage): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter(message);
    else this.#received.push(message);
  }
}
