import type { CutMode } from './fault-proxy.js';
import { FaultProxy } from './fault-proxy.js';
import type { DirectedLink } from './partition-plan.js';
import { connectedTo } from './partition-plan.js';

/**
 * Every proxy of a chaos run: one per directed peer link (node i dials node j at
 * `peerAddress(i, j)`) and one per (client group, node) (the clients of group g reach
 * node j at `clientAddress(g, j)`). Faults are expressed on links here; healing clears
 * every proxy.
 */
export class ChaosNetwork {
  readonly ids: readonly number[];
  readonly groups: number;
  private readonly peerProxies = new Map<string, FaultProxy>();
  private readonly clientProxies = new Map<string, FaultProxy>();

  private constructor(ids: readonly number[], groups: number) {
    this.ids = ids;
    this.groups = groups;
  }

  /** Creates and starts every proxy (on free loopback ports); targets are set later
   * with `setNodePorts`, once the nodes' ports are chosen, so that a node's port can
   * never be one a proxy already holds. */
  static async create(ids: readonly number[], groups: number): Promise<ChaosNetwork> {
    const network = new ChaosNetwork(ids, groups);
    const all: FaultProxy[] = [];
    for (const from of ids) {
      for (const to of ids) {
        if (from === to) continue;
        const proxy = new FaultProxy({ name: `${from}->${to}` });
        network.peerProxies.set(linkKey(from, to), proxy);
        all.push(proxy);
      }
    }
    for (let group = 0; group < groups; group += 1) {
      for (const to of ids) {
        const proxy = new FaultProxy({ name: `c${group}->${to}` });
        network.clientProxies.set(clientKey(group, to), proxy);
        all.push(proxy);
      }
    }
    try {
      await Promise.all(all.map((proxy) => proxy.listen()));
    } catch (err) {
      await network.close();
      throw err;
    }
    return network;
  }

  setNodePorts(portOf: (id: number) => number): void {
    for (const to of this.ids) {
      const target = { host: '127.0.0.1', port: portOf(to) };
      for (const from of this.ids) if (from !== to) this.peer(from, to).setTarget(target);
      for (let group = 0; group < this.groups; group += 1) this.client(group, to).setTarget(target);
    }
  }

  peer(from: number, to: number): FaultProxy {
    const proxy = this.peerProxies.get(linkKey(from, to));
    if (proxy === undefined) throw new Error(`no proxy for link ${from}->${to}`);
    return proxy;
  }

  client(group: number, to: number): FaultProxy {
    const proxy = this.clientProxies.get(clientKey(group, to));
    if (proxy === undefined) throw new Error(`no proxy for client group ${group} -> node ${to}`);
    return proxy;
  }

  /** Where node `from` dials node `to`. */
  peerAddress(from: number, to: number): string {
    return this.peer(from, to).address;
  }

  /** The addresses the clients of `group` are given, one per node. */
  clientAddresses(group: number): string[] {
    return this.ids.map((id) => this.client(group, id).address);
  }

  allProxies(): FaultProxy[] {
    return [...this.peerProxies.values(), ...this.clientProxies.values()];
  }

  peerLinks(): { from: number; to: number; proxy: FaultProxy }[] {
    const links: { from: number; to: number; proxy: FaultProxy }[] = [];
    for (const from of this.ids) for (const to of this.ids) if (from !== to) links.push({ from, to, proxy: this.peer(from, to) });
    return links;
  }

  /** One-way cut: `from`'s messages no longer reach `to`. */
  cutLink(from: number, to: number, mode: CutMode): void {
    this.peer(from, to).cut('both', mode);
  }

  /** Cuts both directions between a and b. */
  cutBetween(a: number, b: number, mode: CutMode): void {
    this.cutLink(a, b, mode);
    this.cutLink(b, a, mode);
  }

  /** Client group `group` can no longer reach node `to` (either way). */
  cutClient(group: number, to: number, mode: CutMode): void {
    this.client(group, to).cut('both', mode);
  }

  /**
   * Cuts every directed peer link in `cuts` (a partition plan's); then, if
   * `clientAnchor` is given, places each client group next to node
   * `clientAnchor(group)`: the group keeps only the nodes that node still reaches
   * both ways.
   */
  applyCuts(cuts: readonly DirectedLink[], mode: CutMode, clientAnchor?: (group: number) => number): void {
    for (const { from, to } of cuts) this.cutLink(from, to, mode);
    if (clientAnchor === undefined) return;
    for (let group = 0; group < this.groups; group += 1) {
      const reach = new Set(connectedTo(cuts, this.ids, clientAnchor(group)));
      for (const id of this.ids) if (!reach.has(id)) this.cutClient(group, id, mode);
    }
  }

  /** Clears every cut and delay on every proxy. */
  healAll(): void {
    for (const proxy of this.allProxies()) proxy.heal();
  }

  /** Resets every open connection on every proxy. */
  resetAll(): number {
    let count = 0;
    for (const proxy of this.allProxies()) count += proxy.reset();
    return count;
  }

  /** Names of the proxies with a fault in force. */
  faultyProxies(): string[] {
    return this.allProxies().filter((proxy) => proxy.faulty).map((proxy) => proxy.name);
  }

  async close(): Promise<void> {
    await Promise.all(this.allProxies().map((proxy) => proxy.close()));
  }
}

function linkKey(from: number, to: number): string {
  return `${from}->${to}`;
}

function clientKey(group: number, to: number): string {
  return `c${group}->${to}`;
}
