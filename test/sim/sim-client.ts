import { ClientTimeoutError, NoReachableNodeError, RequestRefusedError } from '../../src/client/errors.js';
import { RaftClient } from '../../src/client/raft-client.js';
import type { KvOperation } from '../../src/protocol/client-messages.js';
import { SimClientEnvironment } from './sim-connection.js';
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

export interface SimClientOptions {
  /** Where the client reaches each node: the same addresses the nodes hint with. */
  readonly addresses: ReadonlyMap<number, string>;
  readonly keys: readonly string[];
  readonly attemptTimeoutMs: number;
  readonly deadlineMs: number;
  readonly thinkMsMax: number;
  /** Called with an error the client library should never raise (a bug). */
  readonly onUnexpected: (reason: string) => void;
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
 * A simulated client: a workload of random operations on the real RaftClient
 * (src/client/raft-client.ts), whose retry logic (follow not-leader hints at once,
 * retry a timed-out or failed attempt elsewhere with the same (clientId, seq), give
 * up at the deadline with an unknown outcome) runs on simulated connections and the
 * simulated clock. After an unknown outcome it continues as a new process.
 */
export class SimClient {
  private process: number;
  private readonly client: RaftClient;
  private valueCounter = 0;
  private recentValues: string[] = [];
  stopping = false;
  busy = false;
  /** The workload loop has returned. */
  finished = false;
  completed = 0;

  constructor(
    private readonly world: SimWorld,
    network: SimNetwork,
    readonly name: string,
    private readonly history: SimHistory,
    private readonly options: SimClientOptions,
  ) {
    this.process = history.newProcess();
    const endpointOf = new Map([...options.addresses].map(([id, address]) => [address, `n${id}`]));
    this.client = new RaftClient({
      cluster: [...options.addresses.values()],
      clientId: name,
      deadlineMs: options.deadlineMs,
      attemptTimeoutMs: options.attemptTimeoutMs,
      environment: new SimClientEnvironment(world, network, name, endpointOf),
    });
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
   * outcome type. An error outside the client's contract goes to `onUnexpected` and
   * completes the operation as unknown. */
  async perform(operation: KvOperation): Promise<SimHistoryEvent['type']> {
    this.busy = true;
    const base = describe(operation);
    this.history.record({ process: this.process, type: 'invoke', ...base });
    let type: SimHistoryEvent['type'];
    const outcome: Partial<SimHistoryEvent> = {};
    try {
      let value: string | null;
      switch (operation.op) {
        case 'get':
          value = outcome.value = await this.client.get(operation.key);
          type = 'ok';
          break;
        case 'put':
          value = outcome.previous = await this.client.put(operation.key, operation.value);
          type = 'ok';
          break;
        case 'delete':
          value = outcome.previous = await this.client.delete(operation.key);
          type = 'ok';
          break;
        case 'cas': {
          const result = await this.client.cas(operation.key, operation.expect, operation.value);
          value = result.value;
          type = result.ok ? 'ok' : 'fail';
          break;
        }
      }
      if (value !== null) this.remember(value);
    } catch (err) {
      // A refusal never reached the log: fail. Except for a cas, where `fail` reads
      // as "compared and did not match"; unknown is the sound record there.
      type = err instanceof RequestRefusedError && operation.op !== 'cas' ? 'fail' : 'info';
      if (!(err instanceof ClientTimeoutError || err instanceof NoReachableNodeError || err instanceof RequestRefusedError)) {
        this.options.onUnexpected(`client ${this.name}: ${operation.op} ${operation.key}: ${String(err)}`);
      }
    }
    this.history.record({ process: this.process, type, ...base, ...outcome });
    if (type === 'info') this.process = this.history.newProcess();
    this.completed += 1;
    this.busy = false;
    return type;
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
