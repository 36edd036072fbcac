import type { ClientConnection, ClientEnvironment } from '../../src/client/environment.js';
import type { RequestBody } from '../../src/client/connection.js';
import { ClientTimeoutError, ConnectionLostError } from '../../src/client/errors.js';
import type { ClientRequest, ClientResponse } from '../../src/protocol/client-messages.js';
import type { SimNetwork } from './sim-network.js';
import type { SimWorld } from './sim-world.js';

/** What travels on a simulated node endpoint besides peer messages. */
export type ClientEnvelope =
  | { readonly kind: 'client-request'; readonly from: string; readonly request: ClientRequest }
  | { readonly kind: 'client-response'; readonly response: ClientResponse };

interface Waiter {
  readonly connection: SimConnection;
  readonly resolve: (response: ClientResponse) => void;
  readonly reject: (err: Error) => void;
}

/**
 * What the real RaftClient runs on inside the simulator: the simulated clock, and
 * connections that are messages on the simulated network from one client endpoint.
 * Requests can be lost, delayed, duplicated and cut off like any message (the client
 * sees a timeout); a connection opened to a node that has since crashed or restarted
 * is reset, as TCP would reset it, one message delay after the next request.
 */
export class SimClientEnvironment implements ClientEnvironment {
  private nextRequestId = 1;
  private readonly waiting = new Map<number, Waiter>();

  /** `endpointOf` maps a cluster address to the node endpoint behind it. */
  constructor(
    readonly world: SimWorld,
    readonly network: SimNetwork,
    readonly name: string,
    private readonly endpointOf: ReadonlyMap<string, string>,
  ) {
    network.register(name, (message) => this.receive(message as ClientEnvelope), () => true);
  }

  connect(address: string): ClientConnection {
    const endpoint = this.endpointOf.get(address);
    if (endpoint === undefined) throw new Error(`no simulated node at ${address}`);
    return new SimConnection(this, address, endpoint, this.network.incarnationOf(endpoint));
  }

  now(): number {
    return this.world.now();
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.world.at(ms, `${this.name} sleep`, resolve));
  }

  /** Sends `request` to `endpoint`; its answer settles the returned waiter. */
  send(connection: SimConnection, endpoint: string, body: RequestBody, timeoutMs: number): Promise<ClientResponse> {
    const requestId = this.nextRequestId++;
    const request = { ...body, requestId } as ClientRequest;
    return new Promise<ClientResponse>((resolve, reject) => {
      this.waiting.set(requestId, { connection, resolve, reject });
      this.network.send(this.name, endpoint, { kind: 'client-request', from: this.name, request } satisfies ClientEnvelope, `${this.name} ${request.type}`);
      this.world.at(Math.max(1, timeoutMs), `${this.name} attempt timeout`, () => {
        if (this.settle(requestId) === undefined) return;
        reject(new ClientTimeoutError(`request to ${connection.address} timed out after ${timeoutMs} ms`));
      });
    });
  }

  /** Fails every request outstanding on `connection`. */
  failAll(connection: SimConnection, err: Error): void {
    for (const [requestId, waiter] of [...this.waiting]) {
      if (waiter.connection !== connection) continue;
      this.waiting.delete(requestId);
      waiter.reject(err);
    }
  }

  private settle(requestId: number): Waiter | undefined {
    const waiter = this.waiting.get(requestId);
    this.waiting.delete(requestId);
    return waiter;
  }

  private receive(envelope: ClientEnvelope): void {
    if (envelope.kind !== 'client-response') return;
    this.settle(envelope.response.requestId)?.resolve(envelope.response);
  }
}

/** One simulated connection: to one incarnation of one node. */
class SimConnection implements ClientConnection {
  readonly ready = Promise.resolve();
  private failure: Error | undefined;

  constructor(
    private readonly environment: SimClientEnvironment,
    readonly address: string,
    private readonly endpoint: string,
    private readonly incarnation: number | undefined,
  ) {}

  get closed(): boolean {
    return this.failure !== undefined;
  }

  request(body: RequestBody, timeoutMs: number): Promise<ClientResponse> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const { network, world } = this.environment;
    const current = network.incarnationOf(this.endpoint);
    if (this.incarnation === undefined || current !== this.incarnation) {
      // The node this connection was opened to is gone: the request draws a reset.
      return new Promise((_, reject) => {
        world.at(network.drawDelay(), `${this.environment.name} reset ${this.endpoint}`, () => {
          this.fail(new ConnectionLostError(this.address, { cause: new Error('ECONNRESET') }));
          reject(this.failure);
        });
      });
    }
    return this.environment.send(this, this.endpoint, body, timeoutMs);
  }

  close(): void {
    this.fail(new ConnectionLostError(this.address));
  }

  private fail(err: Error): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.environment.failAll(this, err);
  }
}
