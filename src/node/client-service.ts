import type { NodeLogger } from '../core/logger.js';
import type { NodeId } from '../core/types.js';
import type { KvLimits } from '../kv/kv-command.js';
import { checkKvLimits, encodeKvCommand } from '../kv/kv-command.js';
import type { KvStateMachine } from '../kv/kv-state-machine.js';
import type { ClientRequest, ClientResponse, ErrorCode, KvRequest, KvResult, SnapshotRequest, TransferLeaderRequest } from '../protocol/client-messages.js';
import { FRAME_BYTES_MAX_DEFAULT } from '../transport/frame.js';
import { nodeStatus } from './node-status.js';
import type { TransferFailure } from './pending-requests.js';
import { NotLeaderError, TransferAbortedError, TransferRefusedError, UnknownOutcomeError } from './pending-requests.js';
import type { TransferRefusal } from '../core/transfer.js';
import type { RaftNode } from './raft-node.js';

export interface ClientServiceOptions {
  readonly node: RaftNode<KvResult>;
  readonly kv: KvStateMachine;
  readonly limits: KvLimits;
  /** Where clients can reach each node (the --peers addresses). */
  readonly addresses: ReadonlyMap<NodeId, string>;
  readonly logger: NodeLogger;
  /** Proposals in flight beyond which new writes are refused with BUSY. */
  readonly pendingWritesMax?: number;
}

/**
 * Answers client requests on the node's port: status, and key-value operations
 * (writes through the log, linearizable reads through ReadIndex, stale reads from
 * the local state machine).
 */
export class ClientService {
  private pendingWrites = 0;
  private readonly pendingWritesMax: number;
  private readonly log: NodeLogger;

  constructor(private readonly options: ClientServiceOptions) {
    this.pendingWritesMax = options.pendingWritesMax ?? 65_536;
    this.log = options.logger.child({ component: 'client' });
  }

  handle(request: ClientRequest, reply: (response: ClientResponse) => void): void {
    if (request.type === 'StatusRequest') {
      reply({ type: 'StatusResponse', requestId: request.requestId, status: nodeStatus(this.options.node.status(), this.options.addresses) });
      return;
    }
    if (request.type === 'SnapshotRequest') {
      this.handleSnapshot(request).then(reply, (err: unknown) => reply(this.errorResponse(request.requestId, err)));
      return;
    }
    if (request.type === 'TransferLeaderRequest') {
      this.handleTransfer(request).then(reply, (err: unknown) => reply(this.errorResponse(request.requestId, err)));
      return;
    }
    this.handleKv(request).then(reply, (err: unknown) => reply(this.errorResponse(request.requestId, err)));
  }

  /** A consistent backup: after a ReadIndex round the applied state includes every
   * write acknowledged before the request, so the copy is a linearizable point. */
  private async handleSnapshot(request: SnapshotRequest): Promise<ClientResponse> {
    if (!request.stale) await this.options.node.readBarrier();
    const taken = this.options.node.snapshotView();
    if (taken === undefined) return this.error(request.requestId, 'BAD_REQUEST', 'nothing has been applied on this node yet');
    const parts: Uint8Array[] = [];
    try {
      for (const chunk of taken.view.chunks()) parts.push(chunk);
    } finally {
      taken.view.release();
    }
    const data = Buffer.concat(parts);
    // One response frame carries it; a larger state needs a streamed backup.
    if (data.byteLength > FRAME_BYTES_MAX_DEFAULT - 64 * 1024) {
      return this.error(request.requestId, 'TOO_LARGE', `the state is ${data.byteLength} bytes, more than one response frame carries`);
    }
    this.log.info({ index: taken.meta.index, bytes: data.byteLength, stale: request.stale }, 'snapshot copied for a client');
    return { type: 'SnapshotResponse', requestId: request.requestId, snapshot: taken.meta, data };
  }

  private async handleTransfer(request: TransferLeaderRequest): Promise<ClientResponse> {
    this.log.info({ target: request.target }, 'leadership transfer requested by a client');
    const leader = await this.options.node.transferLeadership(request.target);
    return { type: 'TransferLeaderResponse', requestId: request.requestId, leader };
  }

  private async handleKv(request: KvRequest): Promise<ClientResponse> {
    const { operation, requestId } = request;
    const problem = checkKvLimits(operation, this.options.limits);
    if (problem !== undefined) return this.error(requestId, operation.key === '' ? 'BAD_REQUEST' : 'TOO_LARGE', problem);
    if (operation.op === 'get') {
      if (!request.stale) await this.options.node.readBarrier();
      return { type: 'KvResponse', requestId, result: { ok: true, value: this.options.kv.read(operation.key), index: 0 } };
    }
    if (this.pendingWrites >= this.pendingWritesMax) return this.error(requestId, 'BUSY', 'too many writes in flight; retry later');
    const data = encodeKvCommand({ operation, clientId: request.clientId, seq: request.seq, firstUnackedSeq: request.firstUnackedSeq });
    this.pendingWrites += 1;
    try {
      const result = await this.options.node.propose(data);
      return { type: 'KvResponse', requestId, result };
    } finally {
      this.pendingWrites -= 1;
    }
  }

  private errorResponse(requestId: number, err: unknown): ClientResponse {
    if (err instanceof NotLeaderError) return this.error(requestId, 'NOT_LEADER', err.message, err.leader);
    if (err instanceof UnknownOutcomeError) return this.error(requestId, 'UNKNOWN_OUTCOME', err.message);
    if (err instanceof TransferRefusedError) return this.error(requestId, REFUSAL_CODES[err.reason], err.message);
    if (err instanceof TransferAbortedError) return this.error(requestId, abortCode(err.reason), err.message);
    this.log.error({ err }, 'client request failed');
    return this.error(requestId, 'UNKNOWN_OUTCOME', (err as Error).message);
  }

  private error(requestId: number, code: ErrorCode, message: string, leader?: NodeId): ClientResponse {
    const known = leader ?? this.options.node.status().leader;
    return { type: 'ErrorResponse', requestId, code, message, leader: known, leaderAddress: this.options.addresses.get(known) ?? null };
  }
}

const REFUSAL_CODES: Record<TransferRefusal, ErrorCode> = {
  'transfer-to-self': 'TRANSFER_TO_SELF',
  'transfer-to-learner': 'TRANSFER_TO_LEARNER',
  'transfer-to-non-member': 'TRANSFER_NOT_MEMBER',
  'no-transfer-target': 'TRANSFER_NO_TARGET',
};

function abortCode(reason: TransferFailure): ErrorCode {
  return reason === 'target-lagging' ? 'TRANSFER_TARGET_LAGGING' : 'TRANSFER_ABORTED';
}
