import type { NodeLogger } from '../core/logger.js';
import type { NodeId } from '../core/types.js';
import type { KvLimits } from '../kv/kv-command.js';
import { checkKvLimits, encodeKvCommand } from '../kv/kv-command.js';
import type { KvStateMachine } from '../kv/kv-state-machine.js';
import { addressOf } from '../core/membership.js';
import type {
  ClientRequest,
  ClientResponse,
  ErrorCode,
  KvRequest,
  KvResult,
  MemberChangeRequest,
  MemberInfo,
  MemberListRequest,
  SnapshotRequest,
  TransferLeaderRequest,
} from '../protocol/client-messages.js';
import { FRAME_BYTES_MAX_DEFAULT } from '../transport/frame.js';
import { nodeStatus } from './node-status.js';
import type { TransferFailure } from './pending-requests.js';
import { MembershipChangeError, NotLeaderError, TransferAbortedError, TransferRefusedError, UnknownOutcomeError } from './pending-requests.js';
import type { TransferRefusal } from '../core/transfer.js';
import type { RaftNode } from './raft-node.js';

export interface ClientServiceOptions {
  readonly node: RaftNode<KvResult>;
  readonly kv: KvStateMachine;
  readonly limits: KvLimits;
  /** Where clients can reach each node when the configuration carries no address
   * for it (the --peers addresses). */
  readonly addresses: ReadonlyMap<NodeId, string>;
  readonly logger: NodeLogger;
  /** The node's cluster id, reported in status for nodes that join. */
  readonly clusterId?: string;
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
      reply({ type: 'StatusResponse', requestId: request.requestId, status: nodeStatus(this.options.node.status(), this.addresses(), process.pid, this.options.clusterId ?? '') });
      return;
    }
    if (request.type === 'MemberListRequest') {
      reply(this.memberList(request));
      return;
    }
    if (request.type === 'MemberChangeRequest') {
      this.handleMemberChange(request).then(reply, (err: unknown) => reply(this.errorResponse(request.requestId, err)));
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

  /** Every member's address: the applied configuration's, else --peers'. */
  private addresses(): Map<NodeId, string> {
    const config = this.options.node.membership();
    const map = new Map(this.options.addresses);
    for (const member of config.addresses ?? []) map.set(member.id, member.address);
    return map;
  }

  /** The leader's view of each member; only the leader knows the match indexes. */
  private memberList(request: MemberListRequest): ClientResponse {
    const status = this.options.node.status();
    if (status.role !== 'leader') return this.error(request.requestId, 'NOT_LEADER', new NotLeaderError(status.leader).message);
    const config = this.options.node.membership();
    const match = new Map(status.peers.map((p) => [p.id, p.match]));
    match.set(status.id, status.lastIndex);
    const addresses = this.addresses();
    const member = (id: NodeId, role: MemberInfo['role']): MemberInfo => {
      const m = match.get(id) ?? 0;
      return { id, address: addressOf(config, id) ?? addresses.get(id) ?? '', role, match: m, lag: Math.max(0, status.lastIndex - m) };
    };
    const members = [...config.voters.map((id) => member(id, 'voter')), ...config.learners.map((id) => member(id, 'learner'))].sort((a, b) => a.id - b.id);
    return { type: 'MemberListResponse', requestId: request.requestId, members };
  }

  /**
   * One membership change through the leader, answered once applied. Adding a node
   * that is already a learner at the same address is answered with the current
   * configuration and no new entry: a joining node asks every time it starts, and
   * after `raft-cli member add` it finds itself already added.
   */
  private async handleMemberChange(request: MemberChangeRequest): Promise<ClientResponse> {
    const { change, requestId } = request;
    const status = this.options.node.status();
    if (status.role !== 'leader') throw new NotLeaderError(status.leader);
    let index = status.applied;
    const current = this.options.node.membership();
    const repeat = change.op === 'add-learner' && current.learners.includes(change.id) && addressOf(current, change.id) === change.address;
    if (!repeat) {
      index = await this.options.node.changeMembership(change);
      this.log.info({ change, index }, 'membership change applied for a client');
    }
    const config = this.options.node.membership();
    return { type: 'MemberChangeResponse', requestId, index, voters: config.voters, learners: config.learners, addresses: config.addresses ?? [] };
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
    if (err instanceof MembershipChangeError) {
      const code: ErrorCode = err.reason === 'change-pending' ? 'CHANGE_PENDING' : err.reason === 'learner-behind' ? 'LEARNER_BEHIND' : 'CHANGE_REFUSED';
      return this.error(requestId, code, err.message);
    }
    this.log.error({ err }, 'client request failed');
    return this.error(requestId, 'UNKNOWN_OUTCOME', (err as Error).message);
  }

  private error(requestId: number, code: ErrorCode, message: string, leader?: NodeId): ClientResponse {
    const known = leader ?? this.options.node.status().leader;
    return { type: 'ErrorResponse', requestId, code, message, leader: known, leaderAddress: this.addresses().get(known) ?? null };
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
