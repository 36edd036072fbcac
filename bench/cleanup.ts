/**
 * Every cluster the benchmark starts is registered here, so that it is torn down by
 * PID whatever happens: normally through `Cluster.destroy()` in a `finally`, and on
 * SIGINT/SIGTERM, the watchdog or process exit through a synchronous SIGKILL of each
 * node's pid.
 */
import { rmSync } from 'node:fs';
import type { Cluster } from '../src/cluster/local-cluster.js';

const live = new Set<Cluster>();

export function register(cluster: Cluster): void {
  live.add(cluster);
}

/** Kills the cluster's processes by pid (waiting for them) and removes its work dir. */
export async function teardown(cluster: Cluster): Promise<void> {
  try {
    await cluster.destroy();
  } finally {
    live.delete(cluster);
  }
}

/** SIGKILLs every node of every live cluster by pid, synchronously. */
export function killAllSync(): void {
  for (const cluster of live) {
    for (const id of cluster.ids) {
      const pid = cluster.pid(id);
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    rmSync(cluster.workDir, { recursive: true, force: true });
  }
  live.clear();
}

/** On SIGINT/SIGTERM: run `beforeExit` (stop the progress bar), kill everything, exit. */
export function installSignalHandlers(beforeExit: () => void): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    beforeExit();
    process.stderr.write(`\nbench: ${signal}, killing every node and exiting\n`);
    killAllSync();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', killAllSync);
  // An error event nobody handles (a node's log pipe, say) must not leave nodes behind.
  process.once('uncaughtException', (err) => {
    beforeExit();
    process.stderr.write(`\nbench: uncaught exception, killing every node: ${err.stack ?? err.message}\n`);
    killAllSync();
    process.exit(1);
  });
}

/** Aborts the whole run after `ms` (a safety net: every phase has its own bound). */
export function startWatchdog(ms: number, beforeExit: () => void): NodeJS.Timeout {
  const timer = setTimeout(() => {
    beforeExit();
    process.stderr.write(`\nbench: still running after ${Math.round(ms / 1000)} s; killing every node and giving up\n`);
    killAllSync();
    process.exit(1);
  }, ms);
  timer.unref();
  return timer;
}
