import type { Logger } from 'pino';

import type { PeerMessage } from '../core/messages.js';
import type { NodeId } from '../core/types.js';
import type { PeerAddress } from './address.js';
import type { TlsMaterial } from '../tls/tls-config.js';
import { PeerLink } from './peer-link.js';
import type { ClientRequestHandler } from './server.js';
import { TransportServer } from './server.js';

/**
 * What the driver needs from a network (STYLE.md C; nats.js shape): fire-and-forget
 * send, inbound messages, and a signal when a peer is lost so the leader can move it
 * to probe (ReportUnreachable). Errors never reach the caller as exceptions.
 */
export interface Transport {
  /** Queues `message` for `message.to`. Never blocks, never throws. */
  send(message: PeerMessage): void;
  onMessage(handler: (message: PeerMessage) => void): void;
  /** Called once per loss of a peer, not per reconnect attempt. */
  onUnreachable(handler: (peer: NodeId) => void): void;
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

  constructor(options: TcpTransportOptions) {
    this.#self = options.self;
    this.#log = options.logger;
    this.#server = new TransportServer({
      host: options.listen.host,
      port: options.listen.port,
      logger: options.logger,
      frameBytesMax: options.frameBytesMax,
      tls: options.tls,
      self: options.self,
      clusterId: options.clusterId,
      connectionsMax: options.connectionsMax,
    });
    this.#server.onPeerMessage((message) => this.#receive(message));
    for (const [peer, address] of options.peers) {
      if (peer === options.self) continue;
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
      });
      this.#links.set(peer, link);
    }
  }

  /** Listens first (so peers can reach us as soon as we reach them), then connects out. */
  async start(): Promise<PeerAddress> {
    const bound = await this.#server.listen();
    for (const link of this.#links.values()) link.start();
    return bound;
  }

  send(message: PeerMessage): void {
    const link = this.#links.get(message.to);
    if (link === undefined) {
      this.#log.debug({ type: message.type, to: message.to }, 'no link to peer, message dropped');
      return;
    }
    link.send(message);
  }

  onMessage(handler: (message: PeerMessage) => void): void {
    this.#messageHandler = handler;
  }

  onUnreachable(handler: (peer: NodeId) => void): void {
    this.#unreachableHandler = handler;
  }

  /** Client requests arrive on the same port; see TransportServer.onClientRequest. */
  onClientRequest(handler: ClientRequestHandler): void {
    this.#server.onClientRequest(handler);
  }

  async close(): Promise<void> {
    const links = [...this.#links.values()].map((link) => link.close());
    await Promise.all([...links, this.#server.close()]);
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
