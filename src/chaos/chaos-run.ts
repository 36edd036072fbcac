import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { describeOperation } from '../check/index.js';
import type { HistoryEvent } from '../check/index.js';
import { RaftClient } from '../client/raft-client.js';
import type { ClusterOptions } from '../cluster/local-cluster.js';
import { Cluster, freePorts } from '../cluster/local-cluster.js';
import type { CheckReply, CheckRequest } from './check-worker.js';
import { HistoryWriter, JsonlLog } from './history-writer.js';
import type { FaultEvent, FaultKind, NemesisControl } from './nemesis.js';
import { FAULT_KINDS, Nemesis } from './nemesis.js';
import { ChaosNetwork } from './network.js';
import { Workload } from './workload.js';

export interface ChaosOptions {
  readonly nodes?: number;
  /** How long the workload and the nemesis run. */
  readonly seconds: number;
  readonly seed: number;
  /** Where the JSON Lines history goes; the faults log goes next to it. */
  readonly history: string;
  /** Concurrent clients; default 10. */
  readonly clients?: number;
  /** Size of the key set; default 5. */
  readonly keys?: number;
  /** Client groups, each with its own proxy to every node; default min(clients, nodes). */
  readonly clientGroups?: number;
  readonly faultMs?: readonly [number, number];
  readonly quietMs?: readonly [number, number];
  readonly pauseMsMin?: number;
  readonly deadlineMs?: readonly [number, number];
  readonly thinkMs?: readonly [number, number];
  readonly maxOps?: number;
  readonly kinds?: readonly FaultKind[];
  /** Node data dirs and logs; default a fresh directory next to the history. */
  readonly workDir?: string;
  /** Keep the work dir even when the run is valid. */
  readonly keepLogs?: boolean;
  /** Extra raft-node flags for every node. */
  readonly nodeArgs?: readonly string[];
  /** How long the healed cluster may take to agree on a leader. Default 30 s. */
  readonly recoveryTimeoutMs?: number;
  /** The linearizability checker's time limit. Default 300 s. */
  readonly checkTimeoutMs?: number;
  /** Progress and fault lines; default stderr. */
  readonly log?: (line: string) => void;
  /** Aborting stops the run: every node is killed and the promise rejects. */
  readonly signal?: AbortSignal;
}

export interface ChaosSummary {
  readonly seed: number;
  readonly nodes: number;
  readonly seconds: number;
  readonly ops: number;
  readonly ok: number;
  readonly fail: number;
  readonly info: number;
  readonly faults: Record<FaultKind, number>;
  readonly violations: string[];
  readonly valid: boolean;
  readonly history: string;
  readonly faultsLog: string;
  /** The node logs and data dirs, when kept (always on a violation). */
  readonly logs: string | null;
}

const liveClusters = new Set<ChaosCluster>();

/** SIGKILLs, by PID and synchronously, every node process any run in this process
 * has started and not yet reaped: for signal and exit handlers. */
export function killStartedProcesses(): void {
  for (const cluster of liveClusters) cluster.killAllNow();
}

interface UnexpectedExit {
  readonly id: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A Cluster that knows which exits it caused: any other exit of a node is a crash. */
class ChaosCluster extends Cluster {
  readonly unexpectedExits: UnexpectedExit[] = [];
  private readonly expectedExit = new Set<number>();
  private readonly children = new Map<number, ChildProcess>();
  private destroying = false;
  onUnexpectedExit: ((exit: UnexpectedExit) => void) | undefined;

  constructor(options: ClusterOptions) {
    super(options);
  }

  override startNode(id: number): ChildProcess {
    const child = super.startNode(id);
    this.children.set(id, child);
    child.once('exit', (code, signal) => {
      if (this.children.get(id) === child) this.children.delete(id);
      if (this.destroying || this.expectedExit.delete(id)) return;
      const exit = { id, code, signal };
      this.unexpectedExits.push(exit);
      this.onUnexpectedExit?.(exit);
    });
    return child;
  }

  override async kill(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.isRunning(id)) this.expectedExit.add(id);
    await super.kill(id, signal);
  }

  override async destroy(keepLogs = false): Promise<void> {
    this.destroying = true;
    await super.destroy(keepLogs);
  }

  killAllNow(): void {
    this.destroying = true;
    for (const child of this.children.values()) {
      try {
        if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}

function faultsLogPath(history: string): string {
  return history.endsWith('.jsonl') ? `${history.slice(0, -'.jsonl'.length)}.faults.jsonl` : `${history}.faults.jsonl`;
}

class AbortedError extends Error {
  constructor() {
    super('chaos run aborted');
    this.name = 'AbortError';
  }
}

/**
 * One chaos run against real raft-node processes: every peer link and client
 * connection goes through a fault proxy; a seeded nemesis partitions, kills, pauses,
 * delays and resets while clients record a history; then everything is healed, the
 * keys are read once more, and the history is checked.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosSummary> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const nodes = options.nodes ?? 5;
  const clients = options.clients ?? 10;
  const keys = Array.from({ length: options.keys ?? 5 }, (_, i) => `k${i}`);
  const groups = options.clientGroups ?? Math.min(clients, nodes);
  const ids = Array.from({ length: nodes }, (_, i) => i + 1);
  const historyPath = path.resolve(options.history);
  const signal = options.signal;
  const checkAborted = (): void => {
    if (signal?.aborted === true) throw new AbortedError();
  };

  mkdirSync(path.dirname(historyPath), { recursive: true });
  const workDir = options.workDir ?? mkdtempSync(`${historyPath.replace(/\.jsonl$/, '')}.nodes-`);
  mkdirSync(workDir, { recursive: true });
  const history = new HistoryWriter(historyPath);
  const faultsLog = new JsonlLog(faultsLogPath(historyPath));
  const violations: string[] = [];
  let network: ChaosNetwork | undefined;
  let cluster: ChaosCluster | undefined;
  let nemesis: Nemesis | undefined;
  let workload: Workload | undefined;
  let progressTimer: NodeJS.Timeout | undefined;
  let keep = options.keepLogs ?? false;
  // Times in log lines count from the start of the workload (from setup before it).
  let t0 = performance.now();
  const seconds = (): string => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
  const onAbort = (): void => {
    nemesis?.stop();
    workload?.stop();
    workload?.close();
    cluster?.killAllNow();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  let stopped = false;
  /** Stops every node (by PID) and closes the proxies and clients; idempotent. */
  const stopEverything = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    nemesis?.stop();
    workload?.stop();
    workload?.close();
    if (cluster !== undefined) {
      await cluster.destroy(true);
      liveClusters.delete(cluster);
    }
    await network?.close();
  };

  try {
    checkAborted();
    log(`chaos: seed ${options.seed}, ${nodes} nodes, ${clients} clients in ${groups} groups, ${options.seconds} s; history ${historyPath}; node logs in ${workDir}`);
    network = await ChaosNetwork.create(ids, groups);
    // The nodes' ports are chosen while every proxy holds its own, so none collide.
    const ports = await freePorts(nodes);
    network.setNodePorts((id) => ports[id - 1]!);
    const net = network;
    cluster = new ChaosCluster({ nodes, workDir, extraArgs: options.nodeArgs ?? [], dialAddress: (from, to) => net.peerAddress(from, to) });
    liveClusters.add(cluster);
    const theCluster = cluster;
    cluster.onUnexpectedExit = (exit) => log(`chaos [${seconds()}] NODE ${exit.id} EXITED ON ITS OWN (code ${exit.code}, signal ${exit.signal}); see ${path.join(workDir, `node-${exit.id}.log`)}`);
    await cluster.start(ports);
    const first = await cluster.waitForLeader(20_000);
    checkAborted();
    log(`chaos: cluster ready after ${seconds()}: leader ${first.id} term ${first.term}`);
    t0 = performance.now();

    const control: NemesisControl = {
      ids,
      network: net,
      // The leader the nodes report (highest term), waiting up to 2 s for an election
      // in progress, so that "pause the leader" pauses one whenever there is one.
      leader: async () => {
        const deadline = performance.now() + 2_000;
        for (;;) {
          const statuses = await theCluster.statuses();
          const leaders = statuses.filter((s) => s.role === 'leader').sort((a, b) => b.term - a.term);
          if (leaders[0] !== undefined || performance.now() >= deadline || signal?.aborted === true) return leaders[0]?.id;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      },
      kill: (id) => theCluster.kill(id, 'SIGKILL'),
      restart: (id) => {
        if (signal?.aborted !== true && !theCluster.isRunning(id)) theCluster.startNode(id);
      },
      pause: (id) => theCluster.signal(id, 'SIGSTOP'),
      resume: (id) => theCluster.signal(id, 'SIGCONT'),
    };
    nemesis = new Nemesis({
      control,
      seed: options.seed,
      kinds: options.kinds ?? FAULT_KINDS,
      faultMs: options.faultMs ?? [1000, 3000],
      quietMs: options.quietMs ?? [500, 1500],
      ...(options.pauseMsMin !== undefined ? { pauseMsMin: options.pauseMsMin } : {}),
      startedAt: t0,
      onEvent: (event: FaultEvent) => {
        faultsLog.write(event);
        log(`chaos [${(event.elapsedMs / 1000).toFixed(1)}s] fault ${event.event} ${event.kind}: ${event.detail}`);
      },
    });
    const endAt = performance.now() + options.seconds * 1000;
    workload = new Workload({
      clients,
      keys,
      groupAddresses: Array.from({ length: groups }, (_, group) => net.clientAddresses(group)),
      deadlineMs: options.deadlineMs ?? [2000, 4000],
      thinkMs: options.thinkMs ?? [0, 10],
      endAt,
      maxOps: options.maxOps ?? 1_000_000,
      history,
      seed: (options.seed ^ 0x5bd1e995) >>> 0,
    });
    const counts = workload.counts;
    const theNemesis = nemesis;
    progressTimer = setInterval(() => {
      const elapsed = Math.min(options.seconds, (performance.now() - t0) / 1000).toFixed(0);
      log(`chaos [${elapsed}s/${options.seconds}s] ops ${counts.ops} (ok ${counts.ok}, fail ${counts.fail}, info ${counts.info}) | fault: ${theNemesis.current()}`);
    }, 1000);
    progressTimer.unref();
    const workloadDone = workload.run();
    const nemesisDone = nemesis.run();
    const stopTimer = setTimeout(() => theNemesis.stop(), Math.max(0, endAt - performance.now()));
    try {
      await nemesisDone;
    } finally {
      clearTimeout(stopTimer);
    }
    checkAborted();

    // Heal everything, let the last operations finish, and wait for one agreed leader.
    await nemesis.healAll();
    for (const id of ids) if (!cluster.isRunning(id)) cluster.startNode(id);
    log(`chaos [${seconds()}] every fault healed; waiting for the last operations`);
    await workloadDone;
    clearInterval(progressTimer);
    progressTimer = undefined;
    checkAborted();
    const recoveryTimeoutMs = options.recoveryTimeoutMs ?? 30_000;
    let recovered = false;
    try {
      const leader = await cluster.waitForLeader(recoveryTimeoutMs);
      recovered = true;
      log(`chaos [${seconds()}] recovered: leader ${leader.id} term ${leader.term} agreed by all`);
    } catch (err) {
      violations.push(`the healed cluster did not agree on a leader within ${recoveryTimeoutMs} ms: ${(err as Error).message}`);
    }
    checkAborted();

    // Read every key once more (linearizable reads, recorded in the history).
    const finalReads = new Map<string, string | null>();
    if (recovered) {
      let process = 1_000_000;
      for (const key of keys) {
        for (let attempt = 0; attempt < 5 && !finalReads.has(key); attempt += 1) {
          checkAborted();
          const reader = new RaftClient({ cluster: cluster.addresses(), deadlineMs: 5_000 });
          history.record({ process, type: 'invoke', f: 'get', key });
          try {
            const value = await reader.get(key);
            history.record({ process, type: 'ok', f: 'get', key, value });
            finalReads.set(key, value);
          } catch (err) {
            history.record({ process, type: 'info', f: 'get', key });
            log(`chaos: final read of ${key} failed: ${String(err)}`);
          } finally {
            reader.close();
          }
          process += 1;
        }
        if (!finalReads.has(key)) violations.push(`key ${key}: no final read succeeded after recovery`);
      }
    }
    await history.close();

    // The nodes are no longer needed: stop them (their logs stay until the verdict).
    await stopEverything();
    for (const exit of cluster.unexpectedExits) {
      violations.push(`node ${exit.id} exited on its own (code ${exit.code}, signal ${exit.signal}); see ${path.join(workDir, `node-${exit.id}.log`)}`);
    }
    for (const problem of counts.unexpectedErrors) violations.push(`client error outside the library's contract: ${problem}`);

    log(`chaos [${seconds()}] checking ${history.events.length} events`);
    const checked = await checkInWorker(history.events, finalReads, options.checkTimeoutMs ?? 300_000, signal);
    log(`chaos [${seconds()}] checked`);
    if (!checked.ok) {
      violations.push(`the checker failed: ${checked.error}`);
    } else {
      const linearizable = checked.linearizability;
      if (linearizable.valid === false) {
        violations.push(`not linearizable on key ${linearizable.key}: ${linearizable.reason}`);
        for (const op of linearizable.operations.slice(-40)) violations.push(`  ${describeOperation(op)}`);
      } else if (linearizable.valid === 'unknown') {
        violations.push(`linearizability undecided: the checker timed out on key ${linearizable.key}`);
      }
      violations.push(...checked.lostWrites);
    }

    const valid = violations.length === 0;
    if (!valid) keep = true;
    return {
      seed: options.seed,
      nodes,
      seconds: options.seconds,
      ops: counts.ops,
      ok: counts.ok,
      fail: counts.fail,
      info: counts.info,
      faults: { ...nemesis.counts },
      violations,
      valid,
      history: historyPath,
      faultsLog: faultsLog.path,
      logs: keep ? workDir : null,
    };
  } catch (err) {
    keep = true;
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (progressTimer !== undefined) clearInterval(progressTimer);
    await stopEverything();
    await history.close();
    await faultsLog.close();
    if (keep) log(`chaos: history in ${historyPath}, faults in ${faultsLog.path}, node logs in ${workDir}`);
    else rmSync(workDir, { recursive: true, force: true });
  }
}

/** Runs both checkers in a worker thread; a hard limit (the checker's own plus a
 * margin) ends a checker that overruns it, and aborting ends it at once. */
export async function checkInWorker(events: readonly HistoryEvent[], finalReads: ReadonlyMap<string, string | null>, timeoutMs: number, signal: AbortSignal | undefined): Promise<CheckReply> {
  const request: CheckRequest = { events: [...events], finalReads: [...finalReads], timeoutMs };
  const worker = new Worker(new URL('./check-worker.js', import.meta.url), { workerData: request });
  return new Promise<CheckReply>((resolve, reject) => {
    let settled = false;
    const finish = (reply: CheckReply | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      if (reply instanceof Error) reject(reply);
      else resolve(reply);
    };
    const onAbort = (): void => finish(new AbortedError());
    const timer = setTimeout(() => finish({ ok: false, error: `no verdict within ${timeoutMs + 30_000} ms` }), timeoutMs + 30_000);
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (reply: CheckReply) => finish(reply));
    worker.once('error', (err) => finish({ ok: false, error: err.stack ?? String(err) }));
    worker.once('exit', (code) => finish({ ok: false, error: `checker worker exited with code ${code}` }));
  });
}
