// Real processes: `raft-cli transfer-leader` moves the leader of a three-node cluster,
// refuses bad targets with their documented exit codes; SIGTERM of a five-node
// cluster's leader under a steady trickle of writes hands leadership over first, so
// no write fails. The largest gap between acknowledged writes is printed (the issue's
// target is 100 ms; only a generous sanity bound is asserted here).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Cluster, RAFT_CLI_BIN, waitFor } from '../../src/cluster/local-cluster.js';
import { RaftClient } from '../../src/client/raft-client.js';

const run = promisify(execFile);

async function cli(cluster: Cluster, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [RAFT_CLI_BIN, '--cluster', cluster.addresses().join(','), ...args], { encoding: 'utf8', timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failure = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failure.code === 'number' ? failure.code : -1, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
  }
}

describe('leadership transfer between real processes', () => {
  const clusters: Cluster[] = [];
  let failed = false;
  after(async () => {
    for (const cluster of clusters) {
      await cluster.destroy(failed || process.env.KEEP_LOGS === '1');
      if (failed) process.stderr.write(`node logs kept in ${cluster.workDir}\n`);
    }
  });

  it('raft-cli transfer-leader moves the leader within 1 s and refuses bad targets', async () => {
    const cluster = new Cluster({ nodes: 3 });
    clusters.push(cluster);
    try {
      await cluster.start();
      let leader = await cluster.waitForLeader(10_000);
      const client = cluster.raftClient();
      await client.put('before', 'x');
      if (leader.id === 3) {
        assert.equal(await client.transferLeader(1), 1);
        leader = await cluster.waitForLeader(5_000);
      }
      const started = performance.now();
      const moved = await cli(cluster, 'transfer-leader', '3');
      const cliMs = performance.now() - started;
      assert.equal(moved.code, 0, moved.stderr);
      assert.equal(moved.stdout.trim(), 'leader is now node 3');
      const now = await cluster.waitForLeader(5_000);
      assert.equal(now.id, 3);
      assert.ok(now.term > leader.term);

      // Timed without process start-up: the transfer itself.
      const back = performance.now();
      assert.equal(await client.transferLeader(leader.id), leader.id);
      const transferMs = performance.now() - back;
      process.stdout.write(`transfer-leader: ${transferMs.toFixed(1)} ms (raft-cli run incl. start-up ${cliMs.toFixed(0)} ms)\n`);
      assert.ok(transferMs < 1000, `transfer took ${transferMs} ms`);
      assert.equal(await client.get('before'), 'x');

      const self = await cli(cluster, 'transfer-leader', String(leader.id));
      assert.equal(self.code, 8, self.stderr);
      assert.match(self.stderr, /already leads/);
      const stranger = await cli(cluster, 'transfer-leader', '9');
      assert.equal(stranger.code, 7, stranger.stderr);
      assert.match(stranger.stderr, /not a member/);
      const any = await cli(cluster, '--json', 'transfer-leader');
      assert.equal(any.code, 0, any.stderr);
      const answer = JSON.parse(any.stdout) as { leader: number };
      assert.notEqual(answer.leader, leader.id);
    } catch (err) {
      failed = true;
      throw err;
    }
  });

  it('SIGTERM of the leader under a write trickle hands over first: no write fails', async () => {
    const cluster = new Cluster({ nodes: 5 });
    clusters.push(cluster);
    let writer: RaftClient | undefined;
    try {
      await cluster.start();
      writer = new RaftClient({ cluster: cluster.addresses(), deadlineMs: 10_000 });
      const leader = await cluster.waitForLeader(10_000);
      await writer.put('warm', 'up');
      const acks: number[] = [];
      const failures: string[] = [];
      const writes: Promise<void>[] = [];
      const WRITES_MAX = 600;
      const INTERVAL_MS = 5;
      let signalled = false;
      for (let i = 0; i < WRITES_MAX; i += 1) {
        writes.push(
          writer.put(`k${i}`, `v${i}`).then(
            () => {
              acks.push(performance.now());
            },
            (err: unknown) => {
              failures.push(`k${i}: ${(err as Error).message}`);
            },
          ),
        );
        if (!signalled && acks.length >= 100) {
          signalled = true;
          cluster.signal(leader.id, 'SIGTERM');
        }
        await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS));
      }
      await Promise.all(writes);
      assert.ok(signalled, 'the leader was signalled mid-trickle');
      assert.deepEqual(failures, []);
      await waitFor('the old leader to exit', 5_000, async () => (cluster.isRunning(leader.id) ? undefined : true));
      acks.sort((a, b) => a - b);
      let gap = 0;
      for (let i = 1; i < acks.length; i += 1) gap = Math.max(gap, acks[i]! - acks[i - 1]!);
      process.stdout.write(`SIGTERM of the leader: largest gap between acknowledged writes ${gap.toFixed(1)} ms over ${acks.length} writes\n`);
      assert.ok(gap < 2000, `gap ${gap} ms`);
      const next = await cluster.waitForLeader(5_000);
      assert.notEqual(next.id, leader.id);
      const log = readFileSync(path.join(cluster.workDir, `node-${leader.id}.log`), 'utf8');
      assert.match(log, /leadership handed over before shutdown/);
      const reader = writer;
      assert.equal(await reader.get(`k${WRITES_MAX - 1}`), `v${WRITES_MAX - 1}`);
      assert.equal(await reader.get('k0'), 'v0');
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      writer?.close();
    }
  });
});
