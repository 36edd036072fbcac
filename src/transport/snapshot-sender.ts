import net from 'node:net';
import { nodeTls } from '../tls/node-tls.js';

import type { InstallSnapshot } from '../core/messages.js';
import type { PeerAddress } from './address.js';
import { decodeMessage, encodeFrameMessage } from './codec.js';
import { FrameDecoder } from './frame.js';
import { splitSnapshot } from './snapshot-assembler.js';
import { SNAPSHOT_CHUNK_BYTES_DEFAULT } from './snapshot-messages.js';
import type { PeerHello } from './hello.js';
import type { TlsMaterial } from '../tls/tls-config.js';
import { clientTlsOptions } from '../tls/tls-config.js';

export interface SnapshotSendOptions {
  /** Bytes of data per chunk frame. Default 1 MiB. */
  readonly chunkBytes?: number;
  /** The transfer fails when the connection makes no progress for this long. Default 10 s. */
  readonly idleTimeoutMs?: number;
  /** Identifies this attempt to the receiver. */
  readonly transfer: number;
  /** Mutual TLS, as on the peer links: the receiver's certificate must name it. */
  readonly tls?: TlsMaterial;
  /** Sent first, as on the peer links, when the cluster has an id. */
  readonly hello?: PeerHello;
}

/**
 * Streams one snapshot to a follower on a connection of its own, so the peer link
 * (and the heartbeats on it) never waits behind megabytes, and the drop-oldest peer
 * queue never sees a chunk. Flow control is TCP's: each chunk is written only once
 * the socket has drained the previous ones. Resolves when the receiver acknowledges
 * the complete, verified snapshot; rejects on refusal, error or an idle timeout.
 */
export function sendSnapshotOverTcp(address: PeerAddress, message: InstallSnapshot, data: Uint8Array, options: SnapshotSendOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const target = { host: address.host, port: address.port };
    const socket = options.tls === undefined ? net.connect(target) : nodeTls().connect({ ...target, ...clientTlsOptions(options.tls, { kind: 'node', id: message.to }) });
    socket.setNoDelay(true);
    socket.setTimeout(options.idleTimeoutMs ?? 10_000);
    let settled = false;
    const finish = (err: Error | undefined): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (err === undefined) resolve();
      else reject(err);
    };
    socket.on('timeout', () => finish(new Error('snapshot transfer timed out: no progress')));
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(new Error('snapshot connection closed before the receiver acknowledged')));
    const decoder = new FrameDecoder(64 * 1024);
    socket.on('data', (bytes: Buffer) => {
      try {
        for (const body of decoder.push(bytes)) {
          const answer = decodeMessage(body);
          if (answer.type !== 'SnapshotAck' || answer.transfer !== options.transfer) throw new Error(`unexpected ${answer.type} on a snapshot connection`);
          finish(answer.ok ? undefined : new Error(`snapshot refused by ${message.to}: ${answer.reason}`));
        }
      } catch (err) {
        finish(err as Error);
      }
    });
    socket.once(options.tls === undefined ? 'connect' : 'secureConnect', () => {
      if (options.hello !== undefined) socket.write(encodeFrameMessage(options.hello));
      const head = { type: 'SnapshotChunk' as const, from: message.from, to: message.to, term: message.term, snapshot: message.snapshot, transfer: options.transfer };
      const chunks = splitSnapshot(head, data, options.chunkBytes ?? SNAPSHOT_CHUNK_BYTES_DEFAULT);
      const writeMore = (): void => {
        for (let next = chunks.next(); !next.done; next = chunks.next()) {
          if (settled) return;
          if (!socket.write(encodeFrameMessage(next.value))) {
            socket.once('drain', writeMore);
            return;
          }
        }
      };
      writeMore();
    });
  });
}
