import { spawn } from 'node:child_process';
import { RAFT_NODE_ENV, RAFT_NODE_NODE_OPTIONS } from '../cli/node-launch.js';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RaftClient } from '../client/raft-client.js';
import type { NodeStatus } from '../protocol/client-messages.js';
import type { TlsMaterial } from '../tls/tls-config.js';

// This file runs from dist/src/cluster/.
const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export { RAFT_NODE_ENV, RAFT_NODE_NODE_OPTIONS };
export const RAFT_NODE_BIN = path.join(projectRoot, 'bin', 'raft-node.js');
export const RAFT_CLI_BIN = path.join(projectRoot, 'bin', 'raft-cli.js');

/** Ports the OS reports free right now (bound to port 0, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<net.Server>((resolve, reject) => {
        const server = net.createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server));
      }),
    ),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** Polls `probe` until it returns a value, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : ` (last error: ${String(last)})`}`);
}

export interface ClusterOptions {
  readonly nodes?: number;
  readonly extraArgs?: readonly string[];
  /** Where data dirs and logs go; default a fresh temporary directory. */
  readonly workDir?: string;
  /** The address node `id` should dial to reach `peer` (a proxy, say); default direct. */
  readonly dialAddress?: (id: number, peer: number) => string;
  /** Arguments for node `id` alone (its certificate, say), after extraArgs. */
  readonly nodeArgs?: (id: number) => readonly string[];
  /** TLS material for raftClient() (a client certificate of the cluster's CA). */
  readonly clientTls?: TlsMaterial;
  /** Node.js options for every node process, before the script (`--cpu-prof`, say). */
  readonly execArgv?: readonly string[];
}

/**
 * Real raft-node processes on free loopback ports with fresh data dirs. Every
 * process it starts is killed by PID in `destroy()`, which tests call from `after`
 * so it runs on failure too. Each node's output goes to a log file in the work dir.
 */
export class Cluster {
  readonly ids: number[];
  readonly workDir: string;
  private readonly processes = new Map<number, ChildProcess>();
  /** The last exit code of each node's process (null: killed by a signal). */
  private readonly exitCodes = new Map<number, number | null>();
  private ports: number[] = [];
  private readonly extraArgs: readonly string[];
  private readonly dialAddress: ((id: number, peer: number) => string) | undefined;
  private client: RaftClient | undefined;
  private readonly nodeArgs: ((id: number) => readonly string[]) | undefined;
  private readonly clientTls: TlsMaterial | undefined;
  private readonly execArgv: readonly string[];

  constructor(options: ClusterOptions = {}) {
    this.execArgv = options.execArgv ?? [];
    this.nodeArgs = options.nodeArgs;
    this.clientTls = options.clientTls;
    this.ids = Array.from({ length: options.nodes ?? 5 }, (_, i) => i + 1);
    this.workDir = options.workDir ?? mkdtempSync(path.join(os.tmpdir(), 'raft-ts-cluster-'));
    this.extraArgs = options.extraArgs ?? [];
    this.dialAddress = options.dialAddress;
  }

  /** Picks free ports (unless given) and starts every node, or only those in `only`. */
  async start(ports?: readonly number[], only?: readonly number[]): Promise<void> {
    this.ports = ports !== undefined ? [...ports] : await freePorts(this.ids.length);
    for (const id of only ?? this.ids) this.startNode(id);
  }

  port(id: number): number {
    return this.ports[id - 1]!;
  }

  address(id: number): string {
    return `127.0.0.1:${this.ports[id - 1]}`;
  }

  addresses(): string[] {
    return this.ids.map((id) => this.address(id));
  }

  /** The --peers value node `id` starts with: where it dials each peer. */
  peersFlag(id: number): string {
    return this.ids.map((peer) => `${peer}=${peer !== id && this.dialAddress !== undefined ? this.dialAddress(id, peer) : this.address(peer)}`).join(',');
  }

  startNode(id: number): ChildProcess {
    return this.spawnNode(id, ['--port', String(this.port(id)), '--peers', this.peersFlag(id)]);
  }

  /**
   * Starts a node that is not a founding member: `raft-node --join` through the
   * founding members' addresses (or `join`), on a free port. It becomes part of
   * `ids`, so waitForLeader and destroy() include it.
   */
  async startJoiningNode(id: number, join: readonly string[] = this.addresses(), port?: number): Promise<ChildProcess> {
    port ??= (await freePorts(1))[0]!;
    this.ports[id - 1] = port;
    if (!this.ids.includes(id)) this.ids.push(id);
    // The shared client dials every node, the new one included.
    this.client?.close();
    this.client = undefined;
    return this.spawnNode(id, ['--port', String(port), '--join', join.join(',')]);
  }

  /** The path of node `id`'s log file. */
  logFile(id: number): string {
    return path.join(this.workDir, `node-${id}.log`);
  }

  /** Resolves with node `id`'s exit code (null after a signal) once its process exits. */
  exited(id: number): Promise<number | null> {
    const child = this.processes.get(id);
    if (child === undefined) return Promise.resolve(this.exitCodes.get(id) ?? null);
    return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  private spawnNode(id: number, placement: readonly string[]): ChildProcess {
    const log = createWriteStream(this.logFile(id), { flags: 'a' });
    const child = spawn(
      process.execPath,
      [...RAFT_NODE_NODE_OPTIONS, ...this.execArgv, RAFT_NODE_BIN, '--id', String(id), ...placement, '--data-dir', path.join(this.workDir, `data-${id}`), ...this.extraArgs, ...(this.nodeArgs?.(id) ?? [])],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...RAFT_NODE_ENV, ...process.env } },
    );
    // Two pipes share one file: neither may end it, or the other writes after the end.
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    child.once('close', () => log.end());
    this.processes.set(id, child);
    child.once('exit', (code) => {
      this.exitCodes.set(id, code);
      if (this.processes.get(id) === child) this.processes.delete(id);
    });
    return child;
  }

  /** SIGTERMs every node and waits up to `timeoutMs` for them to exit (so a node
   * started with --cpu-prof writes its profile). */
  private async terminateAll(timeoutMs: number): Promise<void> {
    const exits = [...this.processes.values()].map((child) => {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      child.kill('SIGTERM');
      return new Promise<void>((resolve) => child.once('exit', () => resolve()));
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(exits), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  pid(id: number): number | undefined {
    return this.processes.get(id)?.pid;
  }

  isRunning(id: number): boolean {
    return this.processes.has(id);
  }

  /** SIGKILLs node `id` and waits until the process is gone. */
  async kill(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.processes.get(id);
    if (child === undefined) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  signal(id: number, signal: NodeJS.Signals): void {
    this.processes.get(id)?.kill(signal);
  }

  raftClient(): RaftClient {
    this.client ??= new RaftClient({ cluster: this.addresses(), deadlineMs: 10_000, tls: this.clientTls });
    return this.client;
  }

  /** Status of every running node that answers. */
  async statuses(): Promise<NodeStatus[]> {
    const rows = await this.raftClient().clusterStatus(500);
    return rows.flatMap((row) => ('status' in row ? [row.status] : []));
  }

  /** Waits until every running node answers and all agree on one leader; returns its status. */
  async waitForLeader(timeoutMs = 10_000, options: { exclude?: number[] } = {}): Promise<NodeStatus> {
    return waitFor('one agreed leader', timeoutMs, async () => {
      const running = this.ids.filter((id) => this.isRunning(id) && !(options.exclude ?? []).includes(id));
      if (running.length === 0) return undefined;
      const statuses = (await this.statuses()).filter((s) => running.includes(s.id));
      if (statuses.length !== running.length) return undefined;
      const leaders = statuses.filter((s) => s.role === 'leader');
      if (leaders.length !== 1) return undefined;
      const leader = leaders[0]!;
      const agreed = statuses.every((s) => s.leader === leader.id && s.term === leader.term);
      return agreed ? leader : undefined;
    });
  }

  async destroy(keepLogs = false): Promise<void> {
    this.client?.close();
    if (this.execArgv.length > 0) await this.terminateAll(5000);
    for (const child of this.processes.values()) {
      try {
        process.kill(child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await Promise.all([...this.processes.values()].map((child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve)))));
    this.processes.clear();
    if (!keepLogs) rmSync(this.workDir, { recursive: true, force: true });
  }
}
