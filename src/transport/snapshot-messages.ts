import type { NodeId, SnapshotMeta, Term } from '../core/types.js';

/**
 * A piece of a snapshot on its way from a leader to a follower. A snapshot travels
 * beside the peer message queue (its own connection over TCP), as a sequence of
 * chunks that together are `total` bytes whose CRC-32C is `checksum`; the receiver
 * steps the InstallSnapshot into its core only once every byte arrived and verified.
 */
export interface SnapshotChunk {
  readonly type: 'SnapshotChunk';
  readonly from: NodeId;
  readonly to: NodeId;
  /** The leader's term when it decided to send (the InstallSnapshot's term). */
  readonly term: Term;
  readonly snapshot: SnapshotMeta;
  /** One attempt of the sender: chunks of two attempts never mix. */
  readonly transfer: number;
  readonly offset: number;
  readonly total: number;
  readonly checksum: number;
  readonly data: Uint8Array;
}

/** The receiver's answer once a transfer is complete (`ok`) or refused. */
export interface SnapshotAck {
  readonly type: 'SnapshotAck';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly transfer: number;
  readonly ok: boolean;
  readonly reason: string;
}

export type SnapshotWireMessage = SnapshotChunk | SnapshotAck;

export const SNAPSHOT_MESSAGE_TYPES: readonly SnapshotWireMessage['type'][] = ['SnapshotChunk', 'SnapshotAck'];

/** Bytes of snapshot data per chunk over TCP: large enough to stream fast, small
 * enough that a heartbeat on the peer link never waits behind one. */
export const SNAPSHOT_CHUNK_BYTES_DEFAULT = 1024 * 1024;
