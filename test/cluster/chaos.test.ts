// One short chaos run of the real CLI: five raft-node processes behind fault proxies,
// ten clients, and a nemesis that cycles through every fault kind (partitions of
// four shapes, SIGKILL of one node, a majority and all of them, SIGSTOP of the
// leader, delays, connection resets). The history must be linearizable, every
// acknowledged write visible at the end, and every fault kind injected at least once.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { FAULT_KINDS } from '../../src/chaos/nemesis.js';

// This file runs from dist/test/cluster/.
const RUN_CHAOS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/chaos/run-chaos.js');

describe('a short chaos run against real processes', () => {
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'raft-ts-chaos-test-'));
  let child: ChildProcess | undefined;
  let keep = false;

  after(async () => {
    // The CLI kills its nodes on SIGTERM; SIGKILL it if it does not exit promptly.
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child?.kill('SIGKILL'), 7_000);
      await exited;
      clearTimeout(timer);
    }
    if (keep) process.stderr.write(`chaos test output kept in ${outDir}\n`);
    else rmSync(outDir, { recursive: true, force: true });
  });

  it('stays linearizable through every kind of fault', { timeout: 90_000 }, async () => {
    const history = path.join(outDir, 'history.jsonl');
    const args = [RUN_CHAOS, '--nodes', '5', '--seconds', '20', '--seed', '20251', '--clients', '10', '--fault-ms', '600-900', '--quiet-ms', '150-300', '--history', history];
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('exit', (code) => resolve({ code, stdout, stderr }));
    });
    try {
      const lines = result.stdout.trim().split('\n');
      assert.equal(lines.length, 1, `one summary line on stdout, got: ${result.stdout}\nstderr:\n${result.stderr}`);
      const summary = JSON.parse(lines[0]!) as {
        seed: number;
        nodes: number;
        ops: number;
        ok: number;
        info: number;
        faults: Record<string, number>;
        violations: string[];
        valid: boolean;
        history: string;
      };
      assert.deepEqual(summary.violations, [], `violations (stderr:\n${result.stderr})`);
      assert.equal(summary.valid, true);
      assert.equal(result.code, 0, 'exit code 0 when valid');
      assert.equal(summary.seed, 20251);
      assert.equal(summary.nodes, 5);
      assert.equal(summary.history, history);
      assert.ok(summary.ops >= 300, `at least 300 operations, got ${summary.ops}`);
      assert.ok(summary.ok >= 150, `at least 150 successful operations, got ${summary.ok}`);
      for (const kind of FAULT_KINDS) assert.ok((summary.faults[kind] ?? 0) >= 1, `fault ${kind} injected at least once: ${JSON.stringify(summary.faults)}`);
      assert.match(result.stderr, /chaos \[\d+s\/20s\] ops \d+/, 'progress lines on stderr');
    } catch (err) {
      keep = true;
      throw err;
    }
  });
});
