#!/usr/bin/env node
// Runs a command and restarts it a moment after it dies, so one Procfile line keeps
// its node alive. node-foreman stops every process as soon as any one exits; with
// this wrapper you can SIGKILL a node (see `raft-cli status` for its pid) and watch
// the others elect a new leader while this one comes back from its data dir.
//
// It does not restart after a usage error (exit code 2: fix the flags instead) nor
// after the node was removed from the cluster (exit code 10: raft-cli member remove), and
// it waits longer between restarts while the command keeps dying right after start.
import { spawn } from 'node:child_process';

const [command, ...args] = process.argv.slice(2);
if (command === undefined) {
  process.stderr.write('usage: keep-alive.mjs COMMAND [ARGS...]\n');
  process.exit(2);
}

/** raft-node's exit code after applying its own removal (EXIT_REMOVED). */
const REMOVED_EXIT_CODE = 10;
const RESTART_DELAY_MS = 1000;
const RESTART_DELAY_MS_MAX = 10_000;
const HEALTHY_AFTER_MS = 5000;
let child;
let stopping = false;
let delayMs = RESTART_DELAY_MS;

function say(message) {
  process.stdout.write(`[keep-alive] ${message}\n`);
}

function start() {
  const startedAt = Date.now();
  child = spawn(command, args, { stdio: 'inherit' });
  child.on('exit', (code, signal) => {
    child = undefined;
    if (stopping) process.exit(code ?? 0);
    if (code === 2) {
      say('exited with a usage error (code 2); not restarting');
      process.exit(2);
    }
    if (code === REMOVED_EXIT_CODE) {
      // Staying up (idle) rather than exiting: foreman would stop every other
      // process of the Procfile as soon as this one exits.
      say('the node was removed from the cluster (code 10); not restarting it (this line stays idle until stopped)');
      setInterval(() => {}, 1 << 30);
      return;
    }
    delayMs = Date.now() - startedAt > HEALTHY_AFTER_MS ? RESTART_DELAY_MS : Math.min(delayMs * 2, RESTART_DELAY_MS_MAX);
    say(`${command} exited (${signal ?? `code ${code}`}); restarting in ${delayMs} ms`);
    setTimeout(start, delayMs);
  });
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    stopping = true;
    if (child === undefined) process.exit(0);
    child.kill(signal === 'SIGHUP' ? 'SIGTERM' : signal);
  });
}

start();
