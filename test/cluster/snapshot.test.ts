// Real processes, snapshots end to end: a follower SIGKILLed while 20,000 writes go
// through a 3-node cluster that snapshots every 1,000 entries comes back to a leader
// that compacted what it missed, is sent a snapshot (both logs say so), and ends with
// byte-identical state (a digest of each node's own snapshot, not just its index).
// Then a backup taken through the leader (raft-cli snapshot save) seeds a brand-new
// cluster (raft-node --restore) that serves every key.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { RaftClient } from '../../src/client/raft-client.js';
import { Cluster, RAFT_CLI_BIN, waitFor } from '../../src/cluster/local-cluster.js';

const WRITES = 20_000;
const WRITERS = 32;
const KEYS = 1_000;
const SNAPSHOT_ARGS = ['--snapshot-entries', '1000', '--snapshot-trailing', '200'];

describe('snapshots on three real processes', () => {
  const cluster = new Cluster({ nodes: 3, extraArgs: SNAPSHOT_ARGS });
  let restored: Cluster | undefined;
  const latest = new Map<string, string>();
  let failed = false;

  after(async () => {
    await cluster.destroy(failed);
    await restored?.destroy(failed);
    if (failed) process.stderr.write(`node logs kept in ${cluster.workDir} and ${restored?.workDir ?? '-'}\n`);
  });

  const guard = (fn: () => Promise<void>) => async () => {
    try {
      await fn();
    } catch (err) {
      failed = true;
      throw err;
    }
  };

  /** Each node's own copy of its state (a stale snapshot), once all applied the same index. */
  async function digests(of: Cluster): Promise<Map<number, { index: number; digest: string }>> {
    const leader = await of.waitForLeader(10_000);
    await waitFor('every node to apply the leader\'s commit index', 20_000, async () => {
      const statuses = await of.statuses();
      return statuses.length === of.ids.length && statuses.every((s) => s.applied === leader.commit) ? true : undefined;
    });
    const out = new Map<number, { index: number; digest: string }>();
    for (const id of of.ids) {
      const local = new RaftClient({ cluster: [of.address(id)], deadlineMs: 5_000 });
      try {
        const { snapshot, data } = await local.snapshot({ stale: true });
        out.set(id, { index: snapshot.index, digest: createHash('sha256').update(data).digest('hex') });
      } finally {
        local.close();
      }
    }
    return out;
  }

  it('sends a snapshot to a follower that missed compacted entries; all three end in the same state', guard(async () => {
    await cluster.start();
    const leader = await cluster.waitForLeader(10_000);
    const victim = cluster.ids.find((id) => id !== leader.id)!;
    await cluster.kill(victim);
    let next = 0;
    const clients = Array.from({ length: WRITERS }, () => new RaftClient({ cluster: cluster.addresses(), deadlineMs: 15_000 }));
    try {
      await Promise.all(
        clients.map(async (client) => {
          while (next < WRITES) {
            const n = next;
            next += 1;
            const key = `key-${n % KEYS}`;
            await client.put(key, `value-${n}`);
            // Writes to one key from different clients may land in either order; the
            // log decides, so record what the key holds by reading it at the end.
            latest.set(key, '');
          }
        }),
      );
    } finally {
      for (const client of clients) client.close();
    }
    const statuses = await cluster.statuses();
    for (const status of statuses) {
      assert.ok(status.snapshotIndex >= WRITES - 1000, `node ${status.id} snapshotted (at ${status.snapshotIndex})`);
      assert.ok(status.firstIndex > status.snapshotIndex - 1000, `node ${status.id} compacted its log (first index ${status.firstIndex})`);
    }
    cluster.startNode(victim);
    const states = await digests(cluster);
    const values = [...states.values()];
    assert.equal(new Set(values.map((v) => v.index)).size, 1, `one applied index: ${JSON.stringify([...states])}`);
    assert.equal(new Set(values.map((v) => v.digest)).size, 1, `one state: ${JSON.stringify([...states])}`);
    const victimLog = readFileSync(path.join(cluster.workDir, `node-${victim}.log`), 'utf8');
    assert.match(victimLog, /"msg":"installed snapshot"/, 'the restarted follower installed a snapshot');
    const leaderLog = readFileSync(path.join(cluster.workDir, `node-${leader.id}.log`), 'utf8');
    assert.match(leaderLog, /"msg":"sending snapshot"/);
    const reader = new RaftClient({ cluster: cluster.addresses() });
    try {
      for (const key of latest.keys()) latest.set(key, (await reader.get(key))!);
    } finally {
      reader.close();
    }
    assert.equal(latest.size, KEYS);
  }));

  it('backs up through the leader and restores into a new cluster that serves every key', guard(async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'raft-ts-backup-')), 'backup.snap');
    const saved = spawnSync(process.execPath, [RAFT_CLI_BIN, '--cluster', cluster.addresses().join(','), '--json', 'snapshot', 'save', file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(saved.status, 0, saved.stderr);
    const summary = JSON.parse(saved.stdout) as { file: string; index: number; bytes: number };
    assert.ok(summary.index >= WRITES, `the backup covers every write (index ${summary.index})`);
    assert.ok(summary.bytes > KEYS * 10, `${summary.bytes} bytes`);
    restored = new Cluster({ nodes: 3, extraArgs: ['--restore', file] });
    await restored.start();
    await restored.waitForLeader(10_000);
    const reader = new RaftClient({ cluster: restored.addresses() });
    try {
      for (const [key, value] of latest) assert.equal(await reader.get(key), value, key);
      assert.equal(await reader.put('after-restore', 'yes'), null, 'the restored cluster takes writes');
    } finally {
      reader.close();
    }
    const states = await digests(restored);
    assert.equal(new Set([...states.values()].map((v) => v.digest)).size, 1);
    // A non-empty data dir is refused with one line.
    const again = spawnSync(process.execPath, [path.join(path.dirname(RAFT_CLI_BIN), 'raft-node.js'), '--id', '1', '--peers', `1=127.0.0.1:${restored.port(1)}`, '--data-dir', path.join(restored.workDir, 'data-1'), '--restore', file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(again.status, 2);
    assert.match(again.stderr, /^raft-node: error: --restore needs an empty data dir/);
  }));
});
