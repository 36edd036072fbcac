import { randomUUID } from 'node:crypto';
import type { ClientResponse, KvOperation, KvResult, MemberChange, MemberChangeResponse, MemberInfo, NodeStatus, SnapshotResponse } from '../protocol/client-messages.js';
import { TRANSFER_ERROR_CODES } from '../protocol/client-messages.js';
import { parseAddress } from '../transport/address.js';
import { ConfigError } from '../errors.js';
import type { RequestBody } from './connection.js';
import type { ClientConnection, ClientEnvironment } from './environment.js';
import { TCP_ENVIRONMENT } from './environment.js';
import type { TlsMaterial } from '../tls/tls-config.js';
import { ClientTimeoutError, ClientTlsError, MemberChangePendingError, MemberChangeRefusedError, NoReachableNodeError, RequestRefusedError } from './errors.js';

export interface ClientOptions {
  /** Addresses of the cluster's nodes (`host:port`); any subset that includes a live
   * node works, the client follows leader hints. */
  readonly cluster: readonly string[];
  /** Default total time for one operation, retries included. Default 10 s. */
  readonly deadlineMs?: number;
  /** Time one attempt may wait for an answer before retrying elsewhere. Default 1 s. */
  readonly attemptTimeoutMs?: number;
  /** Default 1 s. */
  readonly connectTimeoutMs?: number;
  /** The session id for at-most-once writes; default a random UUID. */
  readonly clientId?: string;
  /** How to reach nodes and tell time; default TCP and the system clock. */
  readonly environment?: ClientEnvironment;
  /** Mutual TLS with a client (or admin) certificate; see loadTlsMaterial. Default plaintext. */
  readonly tls?: TlsMaterial;
}

export interface OperationOptions {
  /** Overrides the client's deadline for this operation. */
  readonly deadlineMs?: number;
}

export interface ReadOptions extends OperationOptions {
  /** Serve from whichever node answers, without ReadIndex: fast but possibly stale. */
  readonly stale?: boolean;
}

export type StatusRow = { readonly address: string; readonly status: NodeStatus } | { readonly address: string; readonly error: string };

/**
 * The raft-ts client: finds the leader (following not-leader hints at once), retries
 * on timeouts and lost connections with the same (clientId, seq) so a write applies
 * at most once, and gives up at a per-operation deadline.
 */
export class RaftClient {
  readonly clientId: string;
  private readonly cluster: readonly string[];
  private readonly deadlineMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly environment: ClientEnvironment;
  private readonly connections = new Map<string, ClientConnection>();
  private leaderAddress: string | undefined;
  private nextTarget = 0;
  private nextSeq = 1;
  /** Seqs of writes not yet answered; the smallest is sent as firstUnackedSeq. */
  private readonly unacked = new Set<number>();
  private closed = false;
  /** Which of our cluster addresses reaches which node id, learned from status. */
  private readonly nodeAddresses = new Map<number, string>();
  private learning = false;
  private readonly tls: TlsMaterial | undefined;

  constructor(options: ClientOptions) {
    if (options.cluster.length === 0) throw new ConfigError('cluster must name at least one node address');
    for (const address of options.cluster) parseAddress(address);
    this.cluster = [...options.cluster];
    this.deadlineMs = options.deadlineMs ?? 10_000;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 1_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 1_000;
    this.clientId = options.clientId ?? randomUUID();
    this.environment = options.environment ?? TCP_ENVIRONMENT;
    this.tls = options.tls;
  }

  /** Sets `key` to `value`; resolves with the previous value (null if absent). */
  async put(key: string, value: string, options: OperationOptions = {}): Promise<string | null> {
    return (await this.write({ op: 'put', key, value }, options)).value;
  }

  /** Deletes `key`; resolves with the previous value (null if absent). */
  async delete(key: string, options: OperationOptions = {}): Promise<string | null> {
    return (await this.write({ op: 'delete', key }, options)).value;
  }

  /** Sets `key` to `value` only if its current value is `expect` (null: absent).
   * Resolves with whether it did, and the value now current. */
  async cas(key: string, expect: string | null, value: string, options: OperationOptions = {}): Promise<{ ok: boolean; value: string | null }> {
    const result = await this.write({ op: 'cas', key, expect, value }, options);
    return { ok: result.ok, value: result.value };
  }

  /** The value of `key`, or null; linearizable unless `stale`. */
  async get(key: string, options: ReadOptions = {}): Promise<string | null> {
    const stale = options.stale ?? false;
    const body: RequestBody = { type: 'KvRequest', operation: { op: 'get', key }, clientId: this.clientId, seq: 0, firstUnackedSeq: 0, stale };
    const result = await this.execute(body, options.deadlineMs ?? this.deadlineMs, stale, kvResult);
    return result.value;
  }

  /**
   * A consistent copy of the whole state through the leader (after a ReadIndex
   * round: a linearizable point), or, with `stale`, of whichever node answers.
   */
  async snapshot(options: ReadOptions = {}): Promise<{ snapshot: SnapshotResponse['snapshot']; data: Uint8Array }> {
    const stale = options.stale ?? false;
    const response = await this.execute({ type: 'SnapshotRequest', stale }, options.deadlineMs ?? this.deadlineMs, stale, (r) => (r.type === 'SnapshotResponse' ? r : undefined));
    return { snapshot: response.snapshot, data: response.data };
  }

  /**
   * Moves leadership to node `target` (default 0: the most caught-up voter) and
   * resolves with the new leader's id. A refusal or an abandoned transfer rejects
   * with RequestRefusedError whose `reason` is one of the TRANSFER_* codes.
   */
  async transferLeader(target = 0, options: OperationOptions = {}): Promise<number> {
    const deadlineMs = options.deadlineMs ?? this.deadlineMs;
    // One attempt may last as long as the transfer itself (up to two election
    // timeouts on the leader); a retry elsewhere would only find it under way.
    const response = await this.execute({ type: 'TransferLeaderRequest', target }, deadlineMs, false, (r) => (r.type === 'TransferLeaderResponse' ? r : undefined), deadlineMs);
    // Proposals should go to the new leader straight away.
    this.leaderAddress = this.nodeAddresses.get(response.leader);
    return response.leader;
  }

  /** The members as the leader sees them: address, voter or learner, match index and
   * lag behind the leader's last index. */
  async members(options: OperationOptions = {}): Promise<readonly MemberInfo[]> {
    const response = await this.execute({ type: 'MemberListRequest' }, options.deadlineMs ?? this.deadlineMs, false, (r) => (r.type === 'MemberListResponse' ? r : undefined));
    return response.members;
  }

  /**
   * One membership change through the leader; resolves with the configuration once
   * the change is applied there. While another change is pending it retries until
   * the deadline (then MemberChangePendingError); a refusal throws
   * MemberChangeRefusedError with the leader's reason.
   */
  async changeMember(change: MemberChange, options: OperationOptions = {}): Promise<Omit<MemberChangeResponse, 'type' | 'requestId'>> {
    const response = await this.execute({ type: 'MemberChangeRequest', change }, options.deadlineMs ?? this.deadlineMs, false, (r) => (r.type === 'MemberChangeResponse' ? r : undefined));
    return { index: response.index, voters: response.voters, learners: response.learners, addresses: response.addresses };
  }

  /** One row per cluster address: its status, or why it did not answer. */
  async clusterStatus(timeoutMs: number = this.attemptTimeoutMs): Promise<StatusRow[]> {
    return Promise.all(
      this.cluster.map(async (address): Promise<StatusRow> => {
        try {
          const connection = await this.connection(address);
          const response = await connection.request({ type: 'StatusRequest' }, timeoutMs);
          if (response.type !== 'StatusResponse') return { address, error: `unexpected ${response.type}` };
          this.nodeAddresses.set(response.status.id, address);
          return { address, status: response.status };
        } catch (err) {
          return { address, error: describeError(err) };
        }
      }),
    );
  }

  close(): void {
    this.closed = true;
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }

  private async write(operation: KvOperation, options: OperationOptions): Promise<KvResult> {
    const seq = this.nextSeq;
    this.nextSeq += 1;
    this.unacked.add(seq);
    try {
      // Seqs enter in increasing order and a Set keeps insertion order: the first is the smallest.
      const firstUnackedSeq = this.unacked.values().next().value as number;
      const body: RequestBody = { type: 'KvRequest', operation, clientId: this.clientId, seq, firstUnackedSeq, stale: false };
      return await this.execute(body, options.deadlineMs ?? this.deadlineMs, false, kvResult);
    } finally {
      this.unacked.delete(seq);
    }
  }

  /** Sends `body` until a definite answer or the deadline; the same body (and so the
   * same seq) every time. */
  private async execute<T>(
    body: RequestBody,
    deadlineMs: number,
    anyNode: boolean,
    accept: (response: ClientResponse) => T | undefined,
    attemptTimeoutMs: number = this.attemptTimeoutMs,
  ): Promise<T> {
    const environment = this.environment;
    const now = (): number => environment.now();
    const sleep = (ms: number): Promise<void> => environment.sleep(ms);
    const deadline = now() + deadlineMs;
    let reachedAny = false;
    let lastProblem = 'no attempt made';
    /** Hints followed in a row without an answer: two nodes can name each other for a
     * moment (a leader handing over names its target, which still names it). */
    let redirects = 0;
    let pending = false;
    while (!this.closed && now() < deadline) {
      const address = this.target(anyNode);
      let response: ClientResponse;
      try {
        const connection = await this.connection(address);
        reachedAny = true;
        response = await connection.request(body, Math.max(1, Math.min(attemptTimeoutMs, deadline - now())));
      } catch (err) {
        // A certificate problem is definite: every retry would fail the same way.
        if (err instanceof ClientTlsError) throw err;
        lastProblem = `${address}: ${describeError(err)}`;
        // A slow answer is no reason to drop the connection other requests share;
        // a broken connection is.
        const broken = !(err instanceof ClientTimeoutError);
        this.forget(address, broken);
        // A refused connection answers at once; without a pause the client would
        // spin between a dead leader and followers still naming it until the
        // election ends.
        if (broken) await sleep(Math.min(10, Math.max(0, deadline - now())));
        continue;
      }
      const accepted = accept(response);
      if (accepted !== undefined) {
        this.leaderAddress = anyNode ? this.leaderAddress : address;
        return accepted;
      }
      if (response.type !== 'ErrorResponse') throw new Error(`unexpected ${response.type} from ${address}`);
      lastProblem = `${address}: ${response.message}`;
      pending = response.code === 'CHANGE_PENDING';
      if (response.code === 'TOO_LARGE' || response.code === 'BAD_REQUEST' || TRANSFER_ERROR_CODES.includes(response.code)) {
        throw new RequestRefusedError(response.code, response.message);
      }
      if (response.code === 'CHANGE_REFUSED' || response.code === 'LEARNER_BEHIND') throw new MemberChangeRefusedError(response.code, response.message);
      if (pending) {
        // The leader answered: ask it again once the change before ours is applied.
        this.leaderAddress = address;
        await sleep(Math.min(50, Math.max(0, deadline - now())));
        continue;
      }
      if (response.code === 'NOT_LEADER' && response.leader !== 0) {
        const leaderAddress = this.addressOfLeader(response.leader, response.leaderAddress);
        if (leaderAddress !== undefined && leaderAddress !== address) {
          this.leaderAddress = leaderAddress;
          redirects += 1;
          if (redirects >= 2) await sleep(Math.min(2, Math.max(0, deadline - now())));
          continue;
        }
      }
      redirects = 0;
      // No leader known (an election is running), an unknown outcome, or overload:
      // try another node after a short pause.
      this.forget(address, false);
      await sleep(Math.min(20, Math.max(0, deadline - now())));
    }
    if (!reachedAny) throw new NoReachableNodeError(this.cluster);
    if (pending) throw new MemberChangePendingError(`another membership change was still pending after ${deadlineMs} ms (last: ${lastProblem})`);
    throw new ClientTimeoutError(`no definite answer within ${deadlineMs} ms (last: ${lastProblem})`);
  }

  /**
   * Where to reach the leader the cluster named. The node's hint is the address it
   * dials its peers at; behind a proxy or NAT that is not where this client should
   * go, so we also learn which of our addresses is which node (from status answers)
   * and prefer mapping the id.
   */
  private addressOfLeader(leader: number, hint: string | null): string | undefined {
    if (hint !== null && this.cluster.includes(hint)) return hint;
    const known = this.nodeAddresses.get(leader);
    if (known !== undefined) return known;
    this.learnNodeAddresses();
    // Not one of ours and not yet mapped: try the hint itself (a client given one
    // node's address must still reach the leader); if it cannot be reached, the
    // client forgets it and goes round its own addresses.
    return hint ?? undefined;
  }

  private learnNodeAddresses(): void {
    if (this.learning) return;
    this.learning = true;
    void this.clusterStatus()
      .finally(() => {
        this.learning = false;
      });
  }

  private target(anyNode: boolean): string {
    if (!anyNode && this.leaderAddress !== undefined) return this.leaderAddress;
    const address = this.cluster[this.nextTarget % this.cluster.length]!;
    this.nextTarget += 1;
    return address;
  }

  private forget(address: string, closeConnection = true): void {
    if (this.leaderAddress === address) this.leaderAddress = undefined;
    if (!closeConnection) return;
    this.connections.get(address)?.close();
    this.connections.delete(address);
  }

  private async connection(address: string): Promise<ClientConnection> {
    let connection = this.connections.get(address);
    if (connection === undefined || connection.closed) {
      connection = this.environment.connect(address, this.connectTimeoutMs, this.tls);
      this.connections.set(address, connection);
    }
    await connection.ready;
    return connection;
  }
}

function kvResult(response: ClientResponse): KvResult | undefined {
  return response.type === 'KvResponse' ? response.result : undefined;
}

function describeError(err: unknown): string {
  if (err instanceof ClientTlsError) return err.message;
  const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
  if (cause?.code !== undefined) return cause.code;
  return (err as Error).message ?? String(err);
}

/** Creates a client for `options.cluster` (connections open on first use). */
export async function connect(options: ClientOptions): Promise<RaftClient> {
  return new RaftClient(options);
}
