import type { SimWorld } from './sim-world.js';

export interface SimNetworkOptions {
  /** Probability that a message is lost. */
  readonly lossRate: number;
  /** Probability that a message is delivered twice. */
  readonly duplicateRate: number;
  readonly delayMsMin: number;
  readonly delayMsMax: number;
}

interface Endpoint {
  readonly deliver: (message: unknown) => void;
  readonly alive: () => boolean;
  readonly incarnation: number;
}

/**
 * A network of named endpoints (nodes and clients) with per-message delay (so
 * reordering), loss and duplication, and directed link cuts for partitions. Cuts are
 * decided at delivery time, so a partition also swallows what was in flight (as in
 * TigerBeetle's packet simulator). A message for an endpoint that crashed or
 * restarted since it was sent is dropped, as a reset TCP connection would drop it.
 */
export class SimNetwork {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly blocked = new Set<string>();
  delivered = 0;
  dropped = 0;

  constructor(private readonly world: SimWorld, private options: SimNetworkOptions) {}

  setOptions(options: SimNetworkOptions): void {
    this.options = options;
  }

  register(name: string, deliver: (message: unknown) => void, alive: () => boolean): void {
    const previous = this.endpoints.get(name);
    this.endpoints.set(name, { deliver, alive, incarnation: (previous?.incarnation ?? 0) + 1 });
  }

  send(from: string, to: string, message: unknown, label: string): void {
    const target = this.endpoints.get(to);
    if (target === undefined) return;
    const copies = this.world.chance(this.options.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i += 1) {
      if (this.world.chance(this.options.lossRate)) {
        this.dropped += 1;
        continue;
      }
      const incarnation = target.incarnation;
      const delay = this.world.between(this.options.delayMsMin, this.options.delayMsMax);
      this.world.at(delay, `deliver ${from}>${to} ${label}`, () => {
        const current = this.endpoints.get(to);
        if (current === undefined || current.incarnation !== incarnation || !current.alive() || this.blocked.has(`${from}>${to}`)) {
          this.dropped += 1;
          return;
        }
        this.delivered += 1;
        current.deliver(message);
      });
    }
  }

  /** The incarnation of endpoint `name` while it is up, else undefined: a client
   * connection belongs to the incarnation it was opened to. */
  incarnationOf(name: string): number | undefined {
    const endpoint = this.endpoints.get(name);
    return endpoint !== undefined && endpoint.alive() ? endpoint.incarnation : undefined;
  }

  /** One message delay drawn from the options: how long a reset takes to arrive. */
  drawDelay(): number {
    return this.world.between(this.options.delayMsMin, this.options.delayMsMax);
  }

  /** Cuts from→to (one way). */
  cut(from: string, to: string): void {
    this.blocked.add(`${from}>${to}`);
  }

  cutBoth(a: string, b: string): void {
    this.cut(a, b);
    this.cut(b, a);
  }

  heal(): void {
    this.blocked.clear();
  }

  cutLinks(): number {
    return this.blocked.size;
  }
}
