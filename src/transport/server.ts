import net from 'node:net';
import type { Logger } from 'pino';

import type { PeerMessage } from '../core/messages.js';
import type { NodeId } from '../core/types.js';
import type { ClientRequest, ClientResponse } from '../protocol/client-messages.js';
import { FrameDecodeError } from '../errors.js';
import type { PeerAddress } from './address.js';
import { formatAddress } from './address.js';
import type { WireMessage } from './codec.js';
import { decodeMessage, encodeFrameMessage, isWireClientRequest, isWirePeerMessage } from './codec.js';
import type { SnapshotAck, SnapshotChunk } from './snapshot-messages.js';
import { corkForThisTurn } from './cork.js';
import { FRAME_BYTES_MAX_DEFAULT, FrameDecoder } from './frame.js';

export type PeerMessageHandler = (message: PeerMessage) => void;
/** `reply` writes the response on the connection the request came from, if it is still
 * open; it never throws. */
export type ClientRequestHandler = (request: ClientRequest, reply: (response: ClientResponse) => void) => void;

/** One inbound snapshot connection, as the snapshot handler sees it. */
export interface SnapshotConnection {
  /** Writes the receiver's answer; never throws. */
  reply(ack: SnapshotAck): void;
  /** Ends the connection (after a refusal). */
  close(): void;
}
export type SnapshotChunkHandler = (chunk: SnapshotChunk, connection: SnapshotConnection) => void;

export interface TransportServerOptions {
  readonly host: string;
  /** 0 asks the OS for a free port; listen() reports the one bound. */
  readonly port: number;
  readonly logger: Logger;
  /** Largest frame body accepted; a larger header closes that connection. Default 16 MiB. */
  readonly frameBytesMax?: number;
  /** Bytes read on a connection, attributed to the peer whose messages it carries
   * (metrics); bytes before its first message are not counted. */
  readonly onPeerBytes?: (peer: NodeId, bytes: number) => void;
}

/**
 * The one listener of a node, for peers and clients alike. Every inbound connection
 * is decoded independently: a bad frame (oversize, undecodable, failed validation)
 * closes that connection with one warning and nothing else is affected.
 */
export class TransportServer {
  readonly #options: TransportServerOptions;
  readonly #log: Logger;
  readonly #frameBytesMax: number;
  readonly #server: net.Server;
  readonly #connections = new Set<net.Socket>();
  #peerMessageHandler: PeerMessageHandler | undefined;
  #clientRequestHandler: ClientRequestHandler | undefined;
  #snapshotChunkHandler: SnapshotChunkHandler | undefined;
  readonly #snapshotConnections = new WeakMap<net.Socket, SnapshotConnection>();
  #closing = false;

  constructor(options: TransportServerOptions) {
    this.#options = options;
    this.#log = options.logger;
    this.#frameBytesMax = options.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT;
    this.#server = net.createServer((socket) => this.#accept(socket));
  }

  /** Registers the handler for peer messages (replaces any earlier one). */
  onPeerMessage(handler: PeerMessageHandler): void {
    this.#peerMessageHandler = handler;
  }

  /** Registers the handler for client requests (replaces any earlier one). */
  onClientRequest(handler: ClientRequestHandler): void {
    this.#clientRequestHandler = handler;
  }

  /** Registers the handler for snapshot chunks (replaces any earlier one). */
  onSnapshotChunk(handler: SnapshotChunkHandler): void {
    this.#snapshotChunkHandler = handler;
  }

  /** Open inbound connections (peers and clients). */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Starts listening. Rejects with the system error (its `code` is EADDRINUSE,
   * EACCES, EADDRNOTAVAIL, ...) so the CLI can print one clear line.
   */
  listen(): Promise<PeerAddress> {
    const { host, port } = this.#options;
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once('error', onError);
      this.#server.listen({ host, port }, () => {
        this.#server.off('error', onError);
        this.#server.on('error', (err) => this.#log.error({ err }, 'listener error'));
        const info = this.#server.address() as net.AddressInfo;
        const bound: PeerAddress = { host: info.address, port: info.port };
        this.#log.info({ address: formatAddress(bound) }, 'listening');
        resolve(bound);
      });
    });
  }

  /** Stops listening and destroys every open connection. */
  async close(): Promise<void> {
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#connections) socket.destroy();
    await closed;
  }

  #accept(socket: net.Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    this.#connections.add(socket);
    socket.setNoDelay(true);
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const decoder = new FrameDecoder(this.#frameBytesMax);
    const onPeerBytes = this.#options.onPeerBytes;
    if (onPeerBytes === undefined) {
      socket.on('data', (chunk: Buffer) => this.#receive(socket, remote, decoder, chunk));
    } else {
      // A peer's link carries only that peer's messages: the first one names it.
      let peer = 0;
      socket.on('data', (chunk: Buffer) => {
        const first = this.#receive(socket, remote, decoder, chunk);
        if (peer === 0 && first !== undefined && isWirePeerMessage(first)) peer = first.from;
        if (peer !== 0) onPeerBytes(peer, chunk.byteLength);
      });
    }
    // Replies are bounded by the client's reading: stop taking requests while it lags.
    socket.on('drain', () => socket.resume());
    socket.on('error', (err) => this.#log.debug({ remote, err }, 'connection error'));
    socket.once('close', () => this.#connections.delete(socket));
  }

  /** Returns the first message decoded from `chunk`, if any. */
  #receive(socket: net.Socket, remote: string, decoder: FrameDecoder, chunk: Buffer): WireMessage | undefined {
    const messages = this.#decodeChunk(decoder, chunk);
    // Messages that decoded cleanly before a bad frame in the same chunk are still
    // delivered: they are valid, and the order on the connection is kept.
    for (const message of messages.valid) {
      if (socket.destroyed) return undefined;
      this.#dispatch(socket, message);
    }
    if (messages.error !== undefined) this.#reject(socket, remote, messages.error);
    return messages.valid[0];
  }

  /** Decoding errors are caught here and only here; handler errors must propagate. */
  #decodeChunk(decoder: FrameDecoder, chunk: Buffer): { valid: WireMessage[]; error: unknown } {
    const valid: WireMessage[] = [];
    try {
      for (const body of decoder.push(chunk)) {
        const message = decodeMessage(body);
        if (message.type === 'InstallSnapshot') {
          throw new FrameDecodeError('message.type: InstallSnapshot travels as SnapshotChunk frames, never bare');
        }
        if (!isWirePeerMessage(message) && !isWireClientRequest(message) && message.type !== 'SnapshotChunk') {
          throw new FrameDecodeError(`message.type: ${message.type} is a response; a server only accepts requests`);
        }
        valid.push(message);
      }
    } catch (err) {
      return { valid, error: err };
    }
    return { valid, error: undefined };
  }

  #dispatch(socket: net.Socket, message: WireMessage): void {
    if (message.type === 'SnapshotChunk') {
      if (this.#snapshotChunkHandler === undefined) {
        socket.destroy();
        return;
      }
      this.#snapshotChunkHandler(message, this.#snapshotConnection(socket));
    } else if (isWirePeerMessage(message)) {
      if (this.#peerMessageHandler === undefined) {
        this.#log.debug({ type: message.type, from: message.from }, 'no peer message handler, dropped');
        return;
      }
      this.#peerMessageHandler(message);
    } else if (isWireClientRequest(message)) {
      if (this.#clientRequestHandler === undefined) {
        this.#log.debug({ type: message.type }, 'no client request handler, dropped');
        return;
      }
      this.#clientRequestHandler(message, (response) => this.#reply(socket, response));
    }
  }

  #snapshotConnection(socket: net.Socket): SnapshotConnection {
    let connection = this.#snapshotConnections.get(socket);
    if (connection === undefined) {
      connection = {
        reply: (ack) => {
          if (socket.destroyed || !socket.writable) return;
          socket.write(encodeFrameMessage(ack));
        },
        close: () => socket.destroy(),
      };
      this.#snapshotConnections.set(socket, connection);
    }
    return connection;
  }

  #reply(socket: net.Socket, response: ClientResponse): void {
    if (socket.destroyed || !socket.writable) {
      this.#log.debug({ type: response.type }, 'client gone, reply dropped');
      return;
    }
    let frame: Buffer;
    try {
      frame = encodeFrameMessage(response);
    } catch (err) {
      this.#log.error({ err, type: response.type }, 'reply not encodable, dropped');
      return;
    }
    corkForThisTurn(socket);
    if (!socket.write(frame)) socket.pause();
  }

  #reject(socket: net.Socket, remote: string, err: unknown): void {
    if (socket.destroyed) return;
    const { code, message } = err as { code?: string; message?: string };
    this.#log.warn({ remote, code, reason: message ?? String(err) }, 'frame rejected');
    socket.destroy();
  }
}
