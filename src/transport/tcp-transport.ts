import type { Logger } from 'pino';

import type { InstallSnapshot, PeerMessage } from '../core/messages.js';
import type { NodeId } from '../core/types.js';
import type { PeerAddress } from './address.js';
import type { TlsMaterial } from '../tls/tls-config.js';
import { PeerLink } from './peer-link.js';
import type { ClientRequestHandler, SnapshotConnection } from './server.js';
import { SnapshotAssembler } from './snapshot-assembler.js';
import type { SnapshotChunk } from './snapshot-messages.js';
import { sendSnapshotOverTcp } from './snapshot-sender.js';
import { TransportServer } from './server.js';

/**
 * What the driver needs from a network (STYLE.md C; nats.js shape): fire-and-forget
 * send, inbound messages, and a signal when a peer is lost so the leader can move it
 * to probe (ReportUnreachable). Errors never reach the caller as exceptions.
 */
export interface Transport {
  /** Queues `message` for `message.to`. Never blocks, never throws. Queued messages
   * leave together at the end of this turn of the event loop, or at flush(). */
  send(message: PeerMessage): void;
  /**
   * Hands every queued message to the network now. The driver calls it before work
   * that would otherwise hold the messages back until the end of the turn: a storage
   * write, or applying a batch.
   */
  flush?(): void;
  onMessage(handler: (message: PeerMessage) => void): void;
  /** Called once per loss of a peer, not per reconnect attempt. */
  onUnreachable(handler: (peer: NodeId) => void): void;
  /**
   * Streams a snapshot's bytes to `message.to` beside the message queue. Resolves once
   * the receiver has all of it, verified; rejects on any failure or timeout (the
   * driver then reports the outcome to the core).
   */
  sendSnapshot(message: InstallSnapshot, data: Uint8Array): Promise<void>;
  /** Called with each complete, verified snapshot addressed to this node. */
  onSnapshot(handler: (message: InstallSnapshot, data: Uint8Array) => void): void;
  /** Opens links to peers that joined and closes links to peers that left (a
   * transport without addresses, like the simulator's, may ignore it). */
  setPeers?(peers: ReadonlyMap<NodeId, PeerAddress>): void;
  close(): Promise<void>;
}

export interface TcpTransportOptions {
  /** This node's id: inbound messages addressed elsewhere are dropped, and no link is made to it. */
  readonly self: NodeId;
  /** Where to listen, for peers and clients alike. Port 0 picks a free port. */
  readonly listen: PeerAddress;
  /** Every cluster member's address; an entry for `self` is ignored. */
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  /** The transport component logger (e.g. `root.child({ component: 'transport' })`). */
  readonly logger: Logger;
  /** Largest frame body, in both directions. Default 16 MiB. */
  readonly frameBytesMax?: number;
  /** Per-peer outbound queue bound. Default 4096. */
  readonly queueMessagesMax?: number;
  /** Reconnect backoff, see PeerLinkOptions. */
  readonly backoffMsInitial?: number;
  readonly backoffMsMax?: number;
  /** Largest snapshot accepted from a leader. Default 1 GiB. */
  readonly snapshotBytesMax?: number;
  /** Counts peer traffic (metrics): frame bytes queued for a peer, and bytes read on
   * a connection once it has carried a message from that peer. */
  readonly onPeerBytes?: (direction: 'sent' | 'received', peer: NodeId, bytes: number) => void;
  /** Mutual TLS for every link and every inbound connection. Default plaintext. */
  readonly tls?: TlsMaterial;
  /** When set, links say it in a hello and inbound peers must say the same. */
  readonly clusterId?: string;
  /** Open inbound connections beyond this are refused. Default 1024. */
  readonly connectionsMax?: number;
}

const MISADDRESSED_SENDERS_MAX = 64;

/** One PeerLink per peer for outbound traffic, one TransportServer for everything inbound. */
export class TcpTransport implements Transport {
  readonly #self: NodeId;
  readonly #log: Logger;
  readonly #server: TransportServer;
  readonly #links = new Map<NodeId, PeerLink>();
  /** Senders already warned about for misaddressed messages (warn once per sender). */
  readonly #misaddressedFrom = new Set<NodeId>();
  #messageHandler: ((message: PeerMessage) => void) | undefined;
  #unreachableHandler: ((peer: NodeId) => void) | undefined;
  #snapshotHandler: ((message: InstallSnapshot, data: Uint8Array) => void) | undefined;
  #peers: ReadonlyMap<NodeId, PeerAddress>;
  readonly #options: TcpTransportOptions;
  #started = false;
  readonly #snapshotBytesMax: number;
  /** One transfer being received per inbound snapshot connection. */
  readonly #assemblies = new WeakMap<SnapshotConnection, SnapshotAssembler>();
  /** Identifies our outbound transfers; starts at a random point so a restarted
   * leader's attempts never look like its earlier ones. */
  #transferSeq = Math.floor(Math.random() * 0x7fff_ffff);

  constructor(options: TcpTransportOptions) {
    this.#self = options.self;
    this.#log = options.logger;
    this.#server = new TransportServer({
      host: options.listen.host,
      port: options.listen.port,
      logger: options.logger,
      frameBytesMax: options.frameBytesMax,
      onPeerBytes: options.onPeerBytes === undefined ? undefined : (peer, bytes) => options.onPeerBytes!('received', peer, bytes),
      tls: options.tls,
      self: options.self,
      clusterId: options.clusterId,
      connectionsMax: options.connectionsMax,
    });
    this.#server.onPeerMessage((message) => this.#receive(message));
    this.#server.onSnapshotChunk((chunk, connection) => this.#receiveSnapshotChunk(chunk, connection));
    this.#peers = options.peers;
    this.#options = options;
    this.#snapshotBytesMax = options.snapshotBytesMax ?? 1024 * 1024 * 1024;
    for (const [peer, address] of options.peers) this.#addLink(peer, address);
  }

  #addLink(peer: NodeId, address: PeerAddress): void {
    const options = this.#options;
    if (peer === options.self) return;
    {
      const link = new PeerLink({
        peer,
        address,
        logger: options.logger,
        queueMessagesMax: options.queueMessagesMax,
        frameBytesMax: options.frameBytesMax,
        backoffMsInitial: options.backoffMsInitial,
        backoffMsMax: options.backoffMsMax,
        tls: options.tls,
        hello: options.clusterId === undefined ? undefined : { type: 'PeerHello', clusterId: options.clusterId, from: options.self, to: peer },
        onUnreachable: (lost) => this.#unreachableHandler?.(lost),
        onSentBytes: options.onPeerBytes === undefined ? undefined : (bytes) => options.onPeerBytes!('sent', peer, bytes),
      });
      this.#links.set(peer, link);
      if (this.#started) link.start();
    }
  }

  /** Listens first (so peers can reach us as soon as we reach them), then connects out. */
  async start(): Promise<PeerAddress> {
    const bound = await this.#server.listen();
    this.#started = true;
    for (const link of this.#links.values()) link.start();
    return bound;
  }

  setPeers(peers: ReadonlyMap<NodeId, PeerAddress>): void {
    for (const [peer, link] of this.#links) {
      const address = peers.get(peer);
      if (address !== undefined && address.host === link.address.host && address.port === link.address.port) continue;
      this.#links.delete(peer);
      void link.close();
      this.#log.info({ peer }, 'peer link closed');
    }
    for (const [peer, address] of peers) {
      if (this.#links.has(peer) || peer === this.#self) continue;
      this.#addLink(peer, address);
      this.#log.info({ peer, address: `${address.host}:${address.port}` }, 'peer link opened');
    }
    this.#peers = peers;
  }

  send(message: PeerMessage): void {
    const link = this.#links.get(message.to);
    if (link === undefined) {
      this.#log.debug({ type: message.type, to: message.to }, 'no link to peer, message dropped');
      return;
    }
    link.send(message);
  }

  flush(): void {
    for (const link of this.#links.values()) link.flush();
  }

  onMessage(handler: (message: PeerMessage) => void): void {
    this.#messageHandler = handler;
  }

  onUnreachable(handler: (peer: NodeId) => void): void {
    this.#unreachableHandler = handler;
  }

  sendSnapshot(message: InstallSnapshot, data: Uint8Array): Promise<void> {
    const address = this.#peers.get(message.to);
    if (address === undefined) return Promise.reject(new Error(`no address for node ${message.to}`));
    this.#transferSeq = (this.#transferSeq + 1) % Number.MAX_SAFE_INTEGER;
    const hello = this.#options.clusterId === undefined ? undefined : { type: 'PeerHello' as const, clusterId: this.#options.clusterId, from: this.#self, to: message.to };
    return sendSnapshotOverTcp(address, message, data, { transfer: this.#transferSeq, tls: this.#options.tls, hello });
  }

  onSnapshot(handler: (message: InstallSnapshot, data: Uint8Array) => void): void {
    this.#snapshotHandler = handler;
  }

  /** Client requests arrive on the same port; see TransportServer.onClientRequest. */
  onClientRequest(handler: ClientRequestHandler): void {
    this.#server.onClientRequest(handler);
  }

  async close(): Promise<void> {
    const links = [...this.#links.values()].map((link) => link.close());
    await Promise.all([...links, this.#server.close()]);
  }

  #receiveSnapshotChunk(chunk: SnapshotChunk, connection: SnapshotConnection): void {
    const refuse = (reason: string): void => {
      this.#log.warn({ from: chunk.from, index: chunk.snapshot.index, reason }, 'snapshot refused');
      connection.reply({ type: 'SnapshotAck', from: this.#self, to: chunk.from, transfer: chunk.transfer, ok: false, reason });
      connection.close();
    };
    if (chunk.to !== this.#self) {
      refuse(`addressed to node ${chunk.to}, this is node ${this.#self}`);
      return;
    }
    let assembler = this.#assemblies.get(connection);
    if (assembler === undefined) {
      try {
        assembler = new SnapshotAssembler(chunk, this.#snapshotBytesMax);
      } catch (err) {
        refuse((err as Error).message);
        return;
      }
      this.#assemblies.set(connection, assembler);
    }
    const result = assembler.add(chunk);
    if (result.status === 'incomplete') return;
    if (result.status === 'invalid') {
      refuse(result.reason);
      return;
    }
    this.#assemblies.delete(connection);
    connection.reply({ type: 'SnapshotAck', from: this.#self, to: chunk.from, transfer: chunk.transfer, ok: true, reason: '' });
    const message: InstallSnapshot = { type: 'InstallSnapshot', from: chunk.from, to: chunk.to, term: chunk.term, snapshot: chunk.snapshot };
    this.#snapshotHandler?.(message, result.data);
  }

  #receive(message: PeerMessage): void {
    // A peer configured with the wrong address book would otherwise feed the core
    // messages meant for another node.
    if (message.to !== this.#self) {
      // Bounded so that a hostile sender cycling ids cannot grow the set.
      if (!this.#misaddressedFrom.has(message.from) && this.#misaddressedFrom.size < MISADDRESSED_SENDERS_MAX) {
        this.#misaddressedFrom.add(message.from);
        this.#log.warn({ from: message.from, to: message.to, type: message.type }, 'message for another node, dropped');
      }
      return;
    }
    if (this.#messageHandler === undefined) {
      this.#log.debug({ type: message.type, from: message.from }, 'no message handler, dropped');
      return;
    }
    this.#messageHandler(message);
  }
}
