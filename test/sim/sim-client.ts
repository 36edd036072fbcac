import type { ClientRequest, ClientResponse, KvOperation, KvResult } from '../../src/protocol/client-messages.js';
import type { SimNetwork } from './sim-network.js';
import type { SimWorld } from './sim-world.js';

/** One line of the client history, in the JSON Lines shape the checker reads. */
export interface SimHistoryEvent {
  process: number;
  type: 'invoke' | 'ok' | 'fail' | 'info';
  f: 'put' | 'get' | 'cas' | 'delete';
  key: string;
  value?: string | null;
  expect?: string | null;
  previous?: string | null;
  time: number;
}

/** What travels on a simulated node endpoint besides peer messages. */
export type ClientEnvelope =
  | { readonly kind: 'client-request'; readonly from: string; readonly request: ClientRequest }
  | { readonly kind: 'client-response'; readonly response: ClientResponse };

export interface SimClientOptions {
  readonly nodeIds: readonly number[];
  readonly keys: readonly string[];
  readonly attemptTimeoutMs: number;
  readonly deadlineMs: number;
  readonly thinkMsMax: number;
}

/** Shared by all clients: the history and the process numbers. */
export class SimHistory {
  readonly events: SimHistoryEvent[] = [];
  private nextProcess = 1;
  private sequence = 0;

  constructor(private readonly world: SimWorld) {}

  newProcess(): number {
    const process = this.nextProcess;
    this.nextProcess += 1;
    return process;
  }

  /** Monotonic nanoseconds: simulated ms, with a counter to keep order within one ms. */
  record(event: Omit<SimHistoryEvent, 'time'>): void {
    this.sequence += 1;
    this.events.push({ ...event, time: this.world.now() * 1_000_000 + this.sequence });
  }
}

/**
 * A simulated client speaking the real client protocol with the real client
 * library's retry rules (src/client/raft-client.ts): follow not-leader hints at once,
 * retry a timed-out or failed attempt elsewhere with the same (clientId, seq), give
 * up at the deadline with an unknown outcome, and continue as a new process.
 */
export class SimClient {
  private process: number;
  private nextRequestId = 1;
  private nextSeq = 1;
  private leaderGuess: number | undefined;
  private rotation = 0;
  private readonly waiting = new Map<number, (response: ClientResponse) => void>();
  private valueCounter = 0;
  private recentValues: string[] = [];
  stopping = false;
  busy = false;
  /** The workload loop has returned. */
  finished = false;
  completed = 0;

  constructor(
    private readonly world: SimWorld,
    private readonly network: SimNetwork,
    readonly name: string,
    private readonly history: SimHistory,
    private readonly options: SimClientOptions,
  ) {
    this.process = history.newProcess();
    network.register(name, (message) => this.receive(message as ClientEnvelope), () => true);
  }

  /** Issues random operations until `stopping` is set. */
  async runWorkload(): Promise<void> {
    while (!this.stopping) {
      await this.sleep(this.world.between(0, this.options.thinkMsMax));
      if (this.stopping) break;
      await this.perform(this.randomOperation());
    }
    this.finished = true;
  }

  /** Performs one operation, recording invoke and completion; resolves with the
   * outcome type. */
  async perform(operation: KvOperation): Promise<SimHistoryEvent['type']> {
    this.busy = true;
    const seq = operation.op === 'get' ? 0 : this.nextSeq++;
    const base = describe(operation);
    this.history.record({ process: this.process, type: 'invoke', ...base });
    const result = await this.execute(operation, seq);
    let type: SimHistoryEvent['type'];
    if (result === undefined) {
      type = 'info';
      this.history.record({ process: this.process, type, ...base });
      this.process = this.history.newProcess();
    } else if (result === 'refused') {
      type = 'fail';
      this.history.record({ process: this.process, type, ...base });
    } else {
      type = operation.op === 'cas' && !result.ok ? 'fail' : 'ok';
      const outcome: Partial<SimHistoryEvent> = {};
      if (operation.op === 'get') outcome.value = result.value;
      if (operation.op === 'put' || operation.op === 'delete') outcome.previous = result.value;
      this.history.record({ process: this.process, type, ...base, ...outcome });
      if (result.value !== null) this.remember(result.value);
    }
    this.completed += 1;
    this.busy = false;
    return type;
  }

  private async execute(operation: KvOperation, seq: number): Promise<KvResult | 'refused' | undefined> {
    const deadline = this.world.now() + this.options.deadlineMs;
    while (this.world.now() < deadline) {
      const node = this.leaderGuess ?? this.options.nodeIds[this.rotation++ % this.options.nodeIds.length]!;
      const requestId = this.nextRequestId++;
      const request: ClientRequest = { type: 'KvRequest', requestId, operation, clientId: this.name, seq, firstUnackedSeq: seq, stale: false };
      const response = await this.attempt(node, request, Math.min(this.options.attemptTimeoutMs, deadline - this.world.now()));
      if (response === undefined) {
        this.leaderGuess = undefined;
        continue;
      }
      if (response.type === 'KvResponse') {
        this.leaderGuess = node;
        return response.result;
      }
      if (response.type !== 'ErrorResponse') continue;
      if (response.code === 'TOO_LARGE' || response.code === 'BAD_REQUEST') return 'refused';
      if (response.code === 'NOT_LEADER' && response.leader !== 0 && response.leader !== node) {
        this.leaderGuess = response.leader;
        continue;
      }
      this.leaderGuess = undefined;
      await this.sleep(Math.max(0, Math.min(20, deadline - this.world.now())));
    }
    return undefined;
  }

  private attempt(node: number, request: ClientRequest, timeoutMs: number): Promise<ClientResponse | undefined> {
    return new Promise((resolve) => {
      let settled = false;
      this.waiting.set(request.requestId, (response) => {
        if (settled) return;
        settled = true;
        resolve(response);
      });
      this.network.send(this.name, `n${node}`, { kind: 'client-request', from: this.name, request } satisfies ClientEnvelope, `${this.name} ${request.type}`);
      this.world.at(Math.max(1, timeoutMs), `${this.name} attempt timeout`, () => {
        this.waiting.delete(request.requestId);
        if (settled) return;
        settled = true;
        resolve(undefined);
      });
    });
  }

  private receive(envelope: ClientEnvelope): void {
    if (envelope.kind !== 'client-response') return;
    const waiter = this.waiting.get(envelope.response.requestId);
    if (waiter === undefined) return;
    this.waiting.delete(envelope.response.requestId);
    waiter(envelope.response);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.world.at(ms, `${this.name} sleep`, resolve));
  }

  private randomOperation(): KvOperation {
    const key = this.options.keys[this.world.random.nextInt(this.options.keys.length)]!;
    const roll = this.world.random.nextInt(100);
    if (roll < 35) return { op: 'put', key, value: this.freshValue() };
    if (roll < 70) return { op: 'get', key };
    if (roll < 85) {
      const expect = this.recentValues.length === 0 || this.world.chance(0.2) ? null : this.recentValues[this.world.random.nextInt(this.recentValues.length)]!;
      return { op: 'cas', key, expect, value: this.freshValue() };
    }
    return { op: 'delete', key };
  }

  private freshValue(): string {
    this.valueCounter += 1;
    const value = `${this.name}-${this.valueCounter}`;
    this.remember(value);
    return value;
  }

  private remember(value: string): void {
    this.recentValues.push(value);
    if (this.recentValues.length > 8) this.recentValues.shift();
  }
}

function describe(operation: KvOperation): Pick<SimHistoryEvent, 'f' | 'key' | 'value' | 'expect'> {
  switch (operation.op) {
    case 'put':
      return { f: 'put', key: operation.key, value: operation.value };
    case 'get':
      return { f: 'get', key: operation.key };
    case 'delete':
      return { f: 'delete', key: operation.key };
    case 'cas':
      return { f: 'cas', key: operation.key, expect: operation.expect, value: operation.value };
  }
}
