import type { InstallSnapshot, PeerMessage } from '../../src/core/messages.js';
import type { NodeId } from '../../src/core/types.js';
import { SnapshotAssembler, splitSnapshot } from '../../src/transport/snapshot-assembler.js';
import type { SnapshotAck, SnapshotChunk } from '../../src/transport/snapshot-messages.js';
import type { Transport } from '../../src/transport/tcp-transport.js';
import type { SimNetwork } from './sim-network.js';
import type { SimWorld } from './sim-world.js';

/** Snapshot traffic on the simulated network, beside peer messages. */
export type SnapshotEnvelope =
  | { readonly kind: 'snapshot-chunk'; readonly chunk: SnapshotChunk }
  | { readonly kind: 'snapshot-ack'; readonly ack: SnapshotAck };

export interface SimTransportOptions {
  readonly world: SimWorld;
  readonly network: SimNetwork;
  readonly id: NodeId;
  readonly alive: () => boolean;
  /** Data bytes per chunk: small, so most snapshots travel in several chunks that
   * the network may lose, duplicate and reorder. */
  readonly snapshotChunkBytes: number;
  /** A transfer not acknowledged by then has failed (a lost chunk, a cut link). */
  readonly snapshotTimeoutMs: number;
  /** Chance of handing a completed snapshot to the node a second time, later. */
  readonly snapshotReplayRate: number;
  /** Told of every snapshot that arrived whole (for the run's statistics). */
  readonly onSnapshotReceived?: () => void;
}

/** Transfers being reassembled at once; older ones are abandoned (their sender times out). */
const ASSEMBLIES_MAX = 8;

/**
 * The simulator's Transport: peer messages as single network messages, and snapshots
 * as chunks that are lost, duplicated and reordered like anything else, reassembled
 * by the same SnapshotAssembler the TCP transport uses, acknowledged when complete,
 * and failed by a timeout otherwise.
 */
export class SimTransport implements Transport {
  private messageHandler: ((message: PeerMessage) => void) | undefined;
  private snapshotHandler: ((message: InstallSnapshot, data: Uint8Array) => void) | undefined;
  private transferSeq = 0;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private readonly assemblies = new Map<string, SnapshotAssembler>();

  constructor(private readonly options: SimTransportOptions) {}

  private get name(): string {
    return `n${this.options.id}`;
  }

  send(message: PeerMessage): void {
    if (this.options.alive()) this.options.network.send(`n${message.from}`, `n${message.to}`, message, message.type);
  }

  onMessage(handler: (message: PeerMessage) => void): void {
    this.messageHandler = handler;
  }

  onUnreachable(): void {}

  sendSnapshot(message: InstallSnapshot, data: Uint8Array): Promise<void> {
    const { world, network, alive, snapshotChunkBytes, snapshotTimeoutMs } = this.options;
    this.transferSeq += 1;
    const transfer = this.transferSeq;
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(transfer, { resolve, reject });
      const head = { type: 'SnapshotChunk' as const, from: message.from, to: message.to, term: message.term, snapshot: message.snapshot, transfer };
      for (const chunk of splitSnapshot(head, data, snapshotChunkBytes)) {
        network.send(this.name, `n${message.to}`, { kind: 'snapshot-chunk', chunk } satisfies SnapshotEnvelope, 'SnapshotChunk');
      }
      world.at(snapshotTimeoutMs, `${this.name} snapshot timeout`, () => this.settle(transfer, new Error('snapshot transfer timed out')), alive);
    });
  }

  onSnapshot(handler: (message: InstallSnapshot, data: Uint8Array) => void): void {
    this.snapshotHandler = handler;
  }

  async close(): Promise<void> {}

  /** A message for this node arrived from the network. */
  deliver(message: PeerMessage): void {
    this.messageHandler?.(message);
  }

  deliverSnapshotTraffic(envelope: SnapshotEnvelope): void {
    if (envelope.kind === 'snapshot-ack') {
      this.settle(envelope.ack.transfer, envelope.ack.ok ? undefined : new Error(`snapshot refused: ${envelope.ack.reason}`));
      return;
    }
    const chunk = envelope.chunk;
    const key = `${chunk.from}/${chunk.transfer}`;
    let assembler = this.assemblies.get(key);
    if (assembler === undefined) {
      assembler = new SnapshotAssembler(chunk, 1 << 30);
      this.assemblies.set(key, assembler);
      if (this.assemblies.size > ASSEMBLIES_MAX) this.assemblies.delete(this.assemblies.keys().next().value as string);
    }
    const result = assembler.add(chunk);
    if (result.status === 'incomplete') return;
    this.assemblies.delete(key);
    const ack: SnapshotAck = { type: 'SnapshotAck', from: this.options.id, to: chunk.from, transfer: chunk.transfer, ok: result.status === 'complete', reason: result.status === 'invalid' ? result.reason : '' };
    if (this.options.alive()) this.options.network.send(this.name, `n${chunk.from}`, { kind: 'snapshot-ack', ack } satisfies SnapshotEnvelope, 'SnapshotAck');
    if (result.status === 'complete') {
      this.options.onSnapshotReceived?.();
      const message: InstallSnapshot = { type: 'InstallSnapshot', from: chunk.from, to: chunk.to, term: chunk.term, snapshot: chunk.snapshot };
      this.snapshotHandler?.(message, result.data);
      const { world, alive } = this.options;
      if (world.chance(this.options.snapshotReplayRate)) {
        world.at(world.between(1, 1000), `${this.name} snapshot replay`, () => this.snapshotHandler?.(message, result.data), alive);
      }
    }
  }

  private settle(transfer: number, err: Error | undefined): void {
    const waiter = this.waiting.get(transfer);
    if (waiter === undefined) return;
    this.waiting.delete(transfer);
    if (err === undefined) waiter.resolve();
    else waiter.reject(err);
  }
}
