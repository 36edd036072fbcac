import net from 'node:net';
import type tls from 'node:tls';
import { nodeTls } from '../tls/node-tls.js';
import type { Logger } from 'pino';

import type { PeerMessage } from '../core/messages.js';
import type { NodeId } from '../core/types.js';
import type { ClientRequest, ClientResponse } from '../protocol/client-messages.js';
import { FrameDecodeError } from '../errors.js';
import type { Identity } from '../tls/identity.js';
import { describeIdentity, identityFromSubjectAltName } from '../tls/identity.js';
import type { TlsMaterial } from '../tls/tls-config.js';
import { TLS_MIN_VERSION } from '../tls/tls-config.js';
import type { PeerAddress } from './address.js';
import { formatAddress } from './address.js';
import type { WireMessage } from './codec.js';
import { decodeMessage, encodeFrameMessage, isPeerHello, isWireClientRequest, isWirePeerMessage } from './codec.js';
import { corkForThisTurn } from './cork.js';
import { FRAME_BYTES_MAX_DEFAULT, FrameDecoder } from './frame.js';
import type { PeerHello } from './hello.js';
import type { SnapshotAck, SnapshotChunk } from './snapshot-messages.js';

export type PeerMessageHandler = (message: PeerMessage) => void;
/** `reply` writes the response on the connection the request came from, if it is still
 * open; it never throws. `caller` is the certificate identity (undefined without TLS). */
export type ClientRequestHandler = (request: ClientRequest, reply: (response: ClientResponse) => void, caller?: Identity) => void;

/** Client request types that need an admin certificate when TLS is on. Membership
 * changes, leadership transfer and snapshot requests belong here as they are added. */
export const ADMIN_REQUEST_TYPES: ReadonlySet<string> = new Set<string>(['SnapshotRequest', 'TransferLeaderRequest', 'MemberChangeRequest']);

/** One inbound snapshot connection, as the snapshot handler sees it. */
export interface SnapshotConnection {
  /** Writes the receiver's answer; never throws. */
  reply(ack: SnapshotAck): void;
  /** Ends the connection (after a refusal). */
  close(): void;
}
export type SnapshotChunkHandler = (chunk: SnapshotChunk, connection: SnapshotConnection) => void;

export const CONNECTIONS_MAX_DEFAULT = 1024;
export const HANDSHAKE_TIMEOUT_MS_DEFAULT = 10_000;
export const WRITE_BUFFER_BYTES_MAX_DEFAULT = 8 * 1024 * 1024;
export const BUFFERED_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;

/** The first byte of a TLS record carrying a handshake (a ClientHello). A plaintext
 * frame starting with it would announce a body of ≥ 352 MiB, far above any frame limit. */
const TLS_HANDSHAKE_RECORD = 0x16;

export interface TransportServerOptions {
  readonly host: string;
  /** 0 asks the OS for a free port; listen() reports the one bound. */
  readonly port: number;
  readonly logger: Logger;
  /** Largest frame body accepted; a larger header closes that connection. Default 16 MiB.
   * This also bounds the bytes buffered for one connection's incomplete frame. */
  readonly frameBytesMax?: number;
  /** Mutual TLS for every connection; plaintext connections are refused. Default off. */
  readonly tls?: TlsMaterial;
  /** This node's id: a peer hello addressed to another node is refused. */
  readonly self?: NodeId;
  /** When set, peer traffic must start with a PeerHello naming this cluster id. */
  readonly clusterId?: string;
  /** Open connections beyond this are closed at once. Default 1024. */
  readonly connectionsMax?: number;
  /** A connection must finish its TLS handshake and send its first frame within this. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /** Replies queued for a client that does not read, beyond which it is disconnected. Default 8 MiB. */
  readonly writeBufferBytesMax?: number;
  /** Bytes of unparsed input (incomplete frames) buffered across all connections. The
   * connection whose bytes take the sum over it is closed, so many slow senders, each
   * under frameBytesMax, cannot exhaust memory together. Default 64 MiB. */
  readonly bufferedBytesMax?: number;
  /** Bytes read on a connection, attributed to the peer whose messages it carries
   * (metrics); bytes before it is known are not counted. */
  readonly onPeerBytes?: (peer: NodeId, bytes: number) => void;
}

type Stream = net.Socket | tls.TLSSocket;

/** What one inbound connection has shown so far. */
interface Inbound {
  readonly stream: Stream;
  readonly remote: string;
  readonly identity: Identity | undefined;
  readonly decoder: FrameDecoder;
  /** Set by the first frame: a hello makes a peer connection, a request a client one;
   * a hello after anything else is refused. */
  role: 'unknown' | 'peer' | 'client';
  /** The node this peer connection speaks for (from its hello). */
  peer: NodeId | undefined;
  timer: NodeJS.Timeout | undefined;
  /** The sender of its first peer message, for byte counts without a hello. */
  counted?: NodeId;
  /** Set once it carried a snapshot chunk: its answers go back on it. */
  snapshot?: SnapshotConnection;
  /** Its decoder's bytes as last added to the server's total. */
  buffered: number;
}

/** Warnings that a hostile or misconfigured sender could repeat are logged at most this often per kind. */
const REPEATED_WARNING_MS = 5000;

/**
 * The one listener of a node, for peers and clients alike. Every inbound connection
 * is decoded independently: a bad frame (oversize, undecodable, failed validation),
 * a peer of another cluster, or a message from someone other than the certificate
 * says closes that connection with one warning and nothing else is affected.
 *
 * With TLS, the first byte tells a TLS ClientHello from a plaintext frame, so both
 * mismatches (plaintext to a TLS node, TLS to a plaintext node) are refused with a
 * clear line rather than an obscure decode error.
 */
export class TransportServer {
  readonly #options: TransportServerOptions;
  readonly #log: Logger;
  readonly #frameBytesMax: number;
  readonly #server: net.Server;
  /** Handshakes only: connections are accepted by #server and handed over after sniffing. */
  readonly #tlsServer: tls.Server | undefined;
  readonly #handshakeTimers = new Map<string, NodeJS.Timeout>();
  readonly #connectionsMax: number;
  readonly #handshakeTimeoutMs: number;
  readonly #writeBufferBytesMax: number;
  readonly #bufferedBytesMax: number;
  /** The sum of every open connection's `buffered`. */
  #bufferedBytes = 0;
  readonly #connections = new Set<net.Socket>();
  readonly #lastWarned = new Map<string, number>();
  #peerMessageHandler: PeerMessageHandler | undefined;
  #clientRequestHandler: ClientRequestHandler | undefined;
  #snapshotChunkHandler: SnapshotChunkHandler | undefined;
  #closing = false;

  constructor(options: TransportServerOptions) {
    this.#options = options;
    this.#log = options.logger;
    this.#frameBytesMax = options.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT;
    this.#connectionsMax = options.connectionsMax ?? CONNECTIONS_MAX_DEFAULT;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS_DEFAULT;
    this.#writeBufferBytesMax = options.writeBufferBytesMax ?? WRITE_BUFFER_BYTES_MAX_DEFAULT;
    this.#bufferedBytesMax = options.bufferedBytesMax ?? BUFFERED_BYTES_MAX_DEFAULT;
    this.#server = net.createServer((socket) => this.#accept(socket));
    const material = options.tls;
    if (material !== undefined) {
      this.#tlsServer = nodeTls().createServer({ cert: material.cert, key: material.key, ca: material.ca, requestCert: true, rejectUnauthorized: true, minVersion: TLS_MIN_VERSION });
      this.#tlsServer.on('secureConnection', (secure: tls.TLSSocket) => this.#secured(secure));
      this.#tlsServer.on('tlsClientError', (err: NodeJS.ErrnoException, secure: tls.TLSSocket) => {
        const remote = secure.remoteAddress === undefined ? 'gone' : `${secure.remoteAddress}:${secure.remotePort}`;
        this.#warnRarely(`tls-error:${err.code ?? ''}`, { remote, reason: err.code ?? err.message }, 'TLS handshake failed, connection closed');
        secure.destroy();
      });
    }
  }

  /** Registers the handler for peer messages (replaces any earlier one). */
  onPeerMessage(handler: PeerMessageHandler): void {
    this.#peerMessageHandler = handler;
  }

  /** Registers the handler for snapshot chunks (replaces any earlier one). */
  onSnapshotChunk(handler: SnapshotChunkHandler): void {
    this.#snapshotChunkHandler = handler;
  }

  /** Registers the handler for client requests (replaces any earlier one). */
  onClientRequest(handler: ClientRequestHandler): void {
    this.#clientRequestHandler = handler;
  }

  /** Open inbound connections (peers and clients). */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Bytes of incomplete frames buffered across all open connections. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
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
        this.#log.info({ address: formatAddress(bound), tls: this.#tlsServer !== undefined }, 'listening');
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
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    if (this.#connections.size >= this.#connectionsMax) {
      this.#warnRarely('connections', { remote, connectionsMax: this.#connectionsMax }, 'connection limit reached, connection refused');
      socket.destroy();
      return;
    }
    this.#connections.add(socket);
    socket.setNoDelay(true);
    socket.on('error', (err) => this.#log.debug({ remote, err }, 'connection error'));
    socket.once('close', () => this.#connections.delete(socket));
    // Slowloris: a connection that never completes its handshake or first frame is dropped.
    const timer = setTimeout(() => {
      this.#log.debug({ remote }, 'no handshake in time, connection closed');
      socket.destroy();
    }, this.#handshakeTimeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    socket.once('data', (first: Buffer) => this.#sniff(socket, remote, first, timer));
  }

  /** Looks at the first bytes only to tell TLS from plaintext; nothing is consumed. */
  #sniff(socket: net.Socket, remote: string, first: Buffer, timer: NodeJS.Timeout): void {
    socket.pause();
    const looksTls = first[0] === TLS_HANDSHAKE_RECORD;
    if (this.#tlsServer === undefined) {
      if (looksTls) {
        this.#warnRarely('tls-on-plaintext', { remote }, 'TLS connection refused: this node runs without TLS (start it with --tls-cert, --tls-key and --tls-ca)');
        socket.destroy();
        return;
      }
      socket.unshift(first);
      this.#serve({ stream: socket, remote, identity: undefined, decoder: new FrameDecoder(this.#frameBytesMax), role: 'unknown', peer: undefined, timer, buffered: 0 });
      socket.resume();
      return;
    }
    if (!looksTls) {
      this.#warnRarely('plaintext-on-tls', { remote }, 'plaintext connection refused: this node requires TLS');
      // Tell a plaintext client why, in its own protocol (requestId 0: the connection itself).
      socket.end(encodeFrameMessage({ type: 'ErrorResponse', requestId: 0, code: 'BAD_REQUEST', message: 'this node requires TLS: give the client a certificate (--tls-cert, --tls-key, --tls-ca)', leader: 0, leaderAddress: null }));
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    socket.unshift(first);
    this.#handshakeTimers.set(remote, timer);
    socket.once('close', () => this.#handshakeTimers.delete(remote));
    // The TLS server does the handshake and the certificate check (rejectUnauthorized);
    // it reads the socket itself, the sniffed bytes included.
    this.#tlsServer!.emit('connection', socket);
  }

  #secured(secure: tls.TLSSocket): void {
    const remote = `${secure.remoteAddress}:${secure.remotePort}`;
    const timer = this.#handshakeTimers.get(remote);
    this.#handshakeTimers.delete(remote);
    // Checked again although the TLS server rejects unauthorized peers: a connection
    // without a verified certificate must never reach the dispatcher.
    if (!secure.authorized) {
      this.#warnRarely('unauthorized', { remote, reason: String(secure.authorizationError) }, 'TLS handshake failed, connection closed');
      secure.destroy();
      return;
    }
    const identity = identityFromSubjectAltName(secure.getPeerCertificate().subjectaltname);
    if (identity === undefined) {
      this.#warnRarely('no-identity', { remote }, 'certificate names no raftts identity, connection closed');
      secure.destroy();
      return;
    }
    secure.on('error', (err) => this.#log.debug({ remote, err }, 'connection error'));
    this.#serve({ stream: secure, remote, identity, decoder: new FrameDecoder(this.#frameBytesMax), role: 'unknown', peer: undefined, timer, buffered: 0 });
  }

  #serve(conn: Inbound): void {
    conn.stream.on('data', (chunk: Buffer) => this.#receive(conn, chunk));
    conn.stream.once('close', () => this.#account(conn, 0));
    // Replies are bounded by the client's reading: stop taking requests while it lags.
    conn.stream.on('drain', () => conn.stream.resume());
  }

  #receive(conn: Inbound, chunk: Buffer): void {
    const messages = this.#decodeChunk(conn.decoder, chunk);
    const bufferedBefore = conn.buffered;
    // A connection closed meanwhile must not count again ('data' can still be queued).
    if (!conn.stream.destroyed) this.#account(conn, conn.decoder.bufferedBytes);
    const onPeerBytes = this.#options.onPeerBytes;
    if (onPeerBytes !== undefined) {
      const first = messages.valid[0];
      if (conn.counted === undefined && first !== undefined && isWirePeerMessage(first)) conn.counted = first.from;
      const peer = conn.peer ?? conn.counted;
      if (peer !== undefined) onPeerBytes(peer, chunk.byteLength);
    }
    if (conn.timer !== undefined && (messages.valid.length > 0 || messages.error !== undefined)) {
      clearTimeout(conn.timer);
      conn.timer = undefined;
    }
    // Messages that decoded cleanly before a bad frame in the same chunk are still
    // delivered: they are valid, and the order on the connection is kept.
    for (const message of messages.valid) {
      if (conn.stream.destroyed) return;
      this.#dispatch(conn, message);
    }
    if (messages.error !== undefined) this.#reject(conn, messages.error);
    // Only the connection whose growth crossed the budget is closed; the total is back
    // at or under the budget afterwards, since it was before this chunk.
    else if (this.#bufferedBytes > this.#bufferedBytesMax && conn.buffered > bufferedBefore && !conn.stream.destroyed) {
      this.#warnRarely('buffered-bytes', { remote: conn.remote, bytes: conn.buffered, totalBytes: this.#bufferedBytes, bufferedBytesMax: this.#bufferedBytesMax }, 'input buffered across connections over the budget, connection closed');
      this.#account(conn, 0);
      conn.stream.destroy();
    }
  }

  /** Sets what `conn` adds to the total of buffered input; 0 once it is closed. */
  #account(conn: Inbound, bytes: number): void {
    this.#bufferedBytes += bytes - conn.buffered;
    conn.buffered = bytes;
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
        if (!isWirePeerMessage(message) && !isWireClientRequest(message) && !isPeerHello(message) && message.type !== 'SnapshotChunk') {
          throw new FrameDecodeError(`message.type: ${message.type} is a response; a server only accepts requests`);
        }
        valid.push(message);
      }
    } catch (err) {
      return { valid, error: err };
    }
    return { valid, error: undefined };
  }

  #dispatch(conn: Inbound, message: WireMessage): void {
    if (isPeerHello(message)) {
      this.#hello(conn, message);
    } else if (message.type === 'SnapshotChunk') {
      // A snapshot stream is peer traffic: the same identity and hello rules apply.
      if (!this.#admitPeerMessage(conn, message)) return;
      if (this.#snapshotChunkHandler === undefined) {
        conn.stream.destroy();
        return;
      }
      conn.snapshot ??= {
        reply: (ack) => {
          if (!conn.stream.destroyed && conn.stream.writable) conn.stream.write(encodeFrameMessage(ack));
        },
        close: () => conn.stream.destroy(),
      };
      this.#snapshotChunkHandler(message, conn.snapshot);
    } else if (isWirePeerMessage(message)) {
      if (!this.#admitPeerMessage(conn, message)) return;
      if (this.#peerMessageHandler === undefined) {
        this.#log.debug({ type: message.type, from: message.from }, 'no peer message handler, dropped');
        return;
      }
      this.#peerMessageHandler(message);
    } else if (isWireClientRequest(message)) {
      if (conn.role === 'unknown') conn.role = 'client';
      if (this.#options.tls !== undefined && ADMIN_REQUEST_TYPES.has(message.type) && conn.identity?.kind !== 'admin') {
        this.#warnRarely('not-admin', { remote: conn.remote, identity: describeIdentity(conn.identity), type: message.type }, 'admin request without an admin certificate, refused');
        this.#reply(conn, { type: 'ErrorResponse', requestId: message.requestId, code: 'BAD_REQUEST', message: `${message.type} needs an admin certificate`, leader: 0, leaderAddress: null });
        return;
      }
      if (this.#clientRequestHandler === undefined) {
        this.#log.debug({ type: message.type }, 'no client request handler, dropped');
        return;
      }
      this.#clientRequestHandler(message, (response) => this.#reply(conn, response), conn.identity);
    }
  }

  #hello(conn: Inbound, hello: PeerHello): void {
    const fields = { remote: conn.remote, from: hello.from, clusterId: hello.clusterId };
    if (conn.role !== 'unknown') {
      this.#refuse(conn, 'late-hello', fields, 'peer hello not first on its connection, connection closed');
      return;
    }
    if (this.#options.tls !== undefined) {
      const identity = conn.identity;
      if (identity?.kind !== 'node') {
        this.#refuse(conn, 'hello-not-node', { ...fields, identity: describeIdentity(identity) }, 'peer hello from a certificate that is not a node\'s, connection closed');
        return;
      }
      if (identity.id !== hello.from) {
        this.#refuse(conn, `impersonation:${identity.id}`, { ...fields, identity: describeIdentity(identity) }, 'peer claims another node id than its certificate, connection closed');
        return;
      }
    }
    const expected = this.#options.clusterId;
    if (expected !== undefined && hello.clusterId !== expected) {
      this.#refuse(conn, `cluster:${hello.clusterId}`, { ...fields, expected }, 'peer of another cluster refused (cluster id mismatch)');
      return;
    }
    if (this.#options.self !== undefined && hello.to !== this.#options.self) {
      this.#refuse(conn, `misaddressed:${hello.from}`, { ...fields, to: hello.to, self: this.#options.self }, 'peer hello for another node, connection closed (check --peers)');
      return;
    }
    conn.role = 'peer';
    conn.peer = hello.from;
    this.#log.debug({ remote: conn.remote, from: hello.from }, 'peer hello accepted');
  }

  /** Whether a peer message may pass: its sender must be the one the connection was bound to. */
  #admitPeerMessage(conn: Inbound, message: { readonly from: NodeId; readonly type: string }): boolean {
    const fields = { remote: conn.remote, from: message.from, type: message.type };
    if (this.#options.tls !== undefined) {
      const identity = conn.identity;
      if (identity?.kind !== 'node') {
        this.#refuse(conn, 'peer-not-node', { ...fields, identity: describeIdentity(identity) }, 'peer message from a certificate that is not a node\'s, connection closed');
        return false;
      }
      if (identity.id !== message.from) {
        this.#refuse(conn, `impersonation:${identity.id}`, { ...fields, identity: describeIdentity(identity) }, 'peer claims another node id than its certificate, connection closed');
        return false;
      }
    }
    if (conn.peer === undefined && this.#options.clusterId !== undefined) {
      this.#refuse(conn, 'no-hello', fields, 'peer message before a hello (no cluster id), connection closed');
      return false;
    }
    if (conn.peer !== undefined && message.from !== conn.peer) {
      this.#refuse(conn, `from-changed:${conn.peer}`, { ...fields, peer: conn.peer }, 'peer message from another node than the hello named, connection closed');
      return false;
    }
    return true;
  }

  #reply(conn: Inbound, response: ClientResponse): void {
    const socket = conn.stream;
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
    // A client that sends but never reads would make us hold every reply forever.
    if (socket.writableLength > this.#writeBufferBytesMax) {
      this.#warnRarely('write-buffer', { remote: conn.remote, bytes: socket.writableLength }, 'client does not read its replies, connection closed');
      socket.destroy();
    }
  }

  #reject(conn: Inbound, err: unknown): void {
    if (conn.stream.destroyed) return;
    const { code, message } = err as { code?: string; message?: string };
    this.#log.warn({ remote: conn.remote, code, reason: message ?? String(err) }, 'frame rejected');
    conn.stream.destroy();
  }

  #refuse(conn: Inbound, kind: string, fields: Record<string, unknown>, message: string): void {
    this.#warnRarely(kind, fields, message);
    conn.stream.destroy();
  }

  /** One warning per kind per few seconds: a peer retrying every 50 ms must not flood the log. */
  #warnRarely(kind: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const last = this.#lastWarned.get(kind);
    if (last !== undefined && now - last < REPEATED_WARNING_MS) {
      this.#log.debug(fields, message);
      return;
    }
    if (this.#lastWarned.size > 256) this.#lastWarned.clear();
    this.#lastWarned.set(kind, now);
    this.#log.warn(fields, message);
  }
}
