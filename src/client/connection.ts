import net from 'node:net';
import type { ClientRequest, ClientResponse } from '../protocol/client-messages.js';
import { parseAddress } from '../transport/address.js';
import { decodeMessage, encodeFrameMessage, isWireClientResponse } from '../transport/codec.js';
import { corkForThisTurn } from '../transport/cork.js';
import { FRAME_BYTES_MAX_DEFAULT, FrameDecoder } from '../transport/frame.js';
import { ClientTimeoutError, ConnectionLostError } from './errors.js';

type Outstanding = { resolve: (r: ClientResponse) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/** Distributes the Omit over the union so each request keeps its own fields. */
export type RequestBody = ClientRequest extends infer R ? (R extends ClientRequest ? Omit<R, 'requestId'> : never) : never;

/**
 * One client connection to one node: requests are pipelined and matched to their
 * responses by requestId. Any failure rejects everything outstanding and the
 * connection is discarded; the caller opens a new one.
 */
export class Connection {
  private readonly socket: net.Socket;
  private readonly outstanding = new Map<number, Outstanding>();
  private readonly decoder = new FrameDecoder(FRAME_BYTES_MAX_DEFAULT);
  private nextRequestId = 1;
  private closedWith: Error | undefined;
  readonly ready: Promise<void>;

  constructor(readonly address: string, connectTimeoutMs: number) {
    const { host, port } = parseAddress(address);
    this.socket = net.connect({ host, port });
    this.socket.setNoDelay(true);
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new ConnectionLostError(address, { cause: new Error(`connecting to ${address} timed out after ${connectTimeoutMs} ms`) })), connectTimeoutMs);
      this.socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.once('close', () => {
        clearTimeout(timer);
        reject(this.closedWith ?? new ConnectionLostError(address));
      });
    });
    this.ready.catch(() => undefined);
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.on('error', (err) => this.fail(new ConnectionLostError(address, { cause: err })));
    this.socket.on('close', () => this.fail(new ConnectionLostError(address)));
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Sends a request; rejects on timeout or connection loss. */
  request(body: RequestBody, timeoutMs: number): Promise<ClientResponse> {
    if (this.closedWith !== undefined) return Promise.reject(this.closedWith);
    const requestId = this.nextRequestId;
    this.nextRequestId += 1;
    return new Promise<ClientResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.outstanding.delete(requestId);
        reject(new ClientTimeoutError(`request to ${this.address} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.outstanding.set(requestId, { resolve, reject, timer });
      corkForThisTurn(this.socket);
      this.socket.write(encodeFrameMessage({ ...body, requestId } as ClientRequest));
    });
  }

  private receive(chunk: Buffer): void {
    try {
      for (const body of this.decoder.push(chunk)) {
        const message = decodeMessage(body);
        if (!isWireClientResponse(message)) throw new Error(`unexpected ${message.type} from a node`);
        const waiting = this.outstanding.get(message.requestId);
        if (waiting === undefined) continue;
        this.outstanding.delete(message.requestId);
        clearTimeout(waiting.timer);
        waiting.resolve(message);
      }
    } catch (err) {
      this.fail(new ConnectionLostError(this.address, { cause: err }));
    }
  }

  private fail(err: Error): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = err;
    this.socket.destroy();
    for (const waiting of this.outstanding.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(err);
    }
    this.outstanding.clear();
  }

  close(): void {
    this.fail(new ConnectionLostError(this.address));
  }
}
