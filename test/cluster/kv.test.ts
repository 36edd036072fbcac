// Real processes, the key-value store end to end: ten concurrent clients write 1,000
// keys while the leader is SIGKILLed half-way; every acknowledged write is read back,
// every node ends with the same applied state (checked by reading each node's own
// copy), the killed node catches up after a restart, and a SIGKILL of all five nodes
// at once loses nothing that was acknowledged.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { RequestRefusedError } from '../../src/client/errors.js';
import { RaftClient } from '../../src/client/raft-client.js';
import { Cluster, RAFT_CLI_BIN, waitFor } from '../../src/cluster/local-cluster.js';

const CLIENTS = 10;
const WRITES_PER_CLIENT = 100;

describe('the replicated key-value store on five real processes', () => {
  const cluster = new Cluster({ nodes: 5 });
  const acknowledged = new Map<string, string>();
  let failed = false;

  before(async () => {
    await cluster.start();
    await cluster.waitForLeader(10_000);
  });

  after(async () => {
    await cluster.destroy(failed);
    if (failed) process.stderr.write(`node logs kept in ${cluster.workDir}\n`);
  });

  const guard = (fn: () => Promise<void>) => async () => {
    try {
      await fn();
    } catch (err) {
      failed = true;
      throw err;
    }
  };

  async function readEveryNodeCopy(expected: ReadonlyMap<string, string>): Promise<void> {
    const leader = await cluster.waitForLeader(10_000);
    await waitFor('every node to apply the leader\'s commit index', 15_000, async () => {
      const statuses = await cluster.statuses();
      return statuses.length === cluster.ids.length && statuses.every((s) => s.applied >= leader.commit) ? true : undefined;
    });
    for (const id of cluster.ids) {
      const local = new RaftClient({ cluster: [cluster.address(id)], deadlineMs: 5_000 });
      try {
        for (const [key, value] of expected) {
          assert.equal(await local.get(key, { stale: true }), value, `node ${id}'s copy of ${key}`);
        }
      } finally {
        local.close();
      }
    }
  }

  it('keeps every acknowledged write through a leader SIGKILL', guard(async () => {
    const first = await cluster.waitForLeader(10_000);
    let acks = 0;
    let killed: Promise<void> | undefined;
    const clients = Array.from({ length: CLIENTS }, () => new RaftClient({ cluster: cluster.addresses(), deadlineMs: 15_000 }));
    const results = await Promise.allSettled(
      clients.map(async (client, c) => {
        for (let i = 0; i < WRITES_PER_CLIENT; i += 1) {
          const key = `k-${c}-${i}`;
          const value = `v-${c}-${i}`;
          await client.put(key, value);
          acknowledged.set(key, value);
          acks += 1;
          if (acks === (CLIENTS * WRITES_PER_CLIENT) / 2) killed = cluster.kill(first.id);
        }
      }),
    );
    for (const client of clients) client.close();
    await killed;
    const failures = results.filter((r) => r.status === 'rejected');
    assert.deepEqual(failures, [], 'every write got a definite answer within its deadline');
    assert.equal(acknowledged.size, CLIENTS * WRITES_PER_CLIENT);

    const second = await cluster.waitForLeader(10_000, { exclude: [first.id] });
    assert.notEqual(second.id, first.id);
    const reader = new RaftClient({ cluster: cluster.addresses() });
    try {
      for (const [key, value] of acknowledged) assert.equal(await reader.get(key), value, key);
    } finally {
      reader.close();
    }

    cluster.startNode(first.id);
    await readEveryNodeCopy(acknowledged);
  }));

  it('loses nothing acknowledged when all five nodes are SIGKILLed at once', guard(async () => {
    await Promise.all(cluster.ids.map((id) => cluster.kill(id)));
    for (const id of cluster.ids) cluster.startNode(id);
    await cluster.waitForLeader(15_000);
    const reader = new RaftClient({ cluster: cluster.addresses() });
    try {
      for (const [key, value] of acknowledged) assert.equal(await reader.get(key), value, key);
      // And the cluster still takes writes.
      assert.equal(await reader.put('after-restart', 'yes'), null);
      acknowledged.set('after-restart', 'yes');
    } finally {
      reader.close();
    }
    await readEveryNodeCopy(acknowledged);
  }));

  it('raft-cli reads and writes through any node, and refuses an oversized value before the log', guard(async () => {
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [RAFT_CLI_BIN, '--cluster', cluster.addresses().reverse().join(','), ...args], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(cli('put', 'greeting', 'hello').status, 0);
    const got = cli('get', 'greeting');
    assert.equal(got.status, 0);
    assert.equal(got.stdout, 'hello\n');
    // Given one follower's address only, the CLI follows the leader hint.
    const follower = (await cluster.statuses()).find((s) => s.role === 'follower')!;
    const viaFollower = spawnSync(process.execPath, [RAFT_CLI_BIN, '--cluster', cluster.address(follower.id), 'get', 'greeting'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(viaFollower.stdout, 'hello\n', viaFollower.stderr);
    assert.equal(cli('get', 'no-such-key').status, 1);
    assert.equal(cli('cas', 'greeting', 'nope', 'x').status, 1);
    assert.equal(cli('cas', 'greeting', 'hello', 'bye').status, 0);
    const json = cli('--json', 'get', 'greeting');
    assert.deepEqual(JSON.parse(json.stdout), { key: 'greeting', value: 'bye' });
    const before = (await cluster.statuses()).find((s) => s.role === 'leader')!;
    // A key over the limit, through the CLI (exit 5), and a value over the limit
    // through the library (argv cannot carry 1 MiB): both refused before the log.
    const longKey = cli('put', 'k'.repeat(1025), 'v');
    assert.equal(longKey.status, 5);
    assert.match(longKey.stderr, /^raft-cli: error: key is 1025 bytes, over the limit of 1024 bytes\n$/);
    const client = new RaftClient({ cluster: cluster.addresses() });
    try {
      await assert.rejects(client.put('big', 'x'.repeat(1024 * 1024 + 1)), (err: Error) => {
        assert.ok(err instanceof RequestRefusedError);
        assert.equal(err.reason, 'TOO_LARGE');
        assert.equal(err.message, 'value is 1048577 bytes, over the limit of 1048576 bytes');
        return true;
      });
      assert.equal(await client.put('exactly-1mib', 'x'.repeat(1024 * 1024)), null, 'a value at the limit is accepted');
    } finally {
      client.close();
    }
    const afterBig = (await cluster.statuses()).find((s) => s.id === before.id)!;
    assert.equal(afterBig.lastIndex, before.lastIndex + 1, 'only the accepted write reached the log');
    assert.equal(cli('del', 'greeting').status, 0);
    assert.equal(cli('get', 'greeting').status, 1);
    const status = cli('--json', 'status');
    assert.equal(status.status, 0);
    const rows = JSON.parse(status.stdout) as { id: number; role: string; term: number; leader: number; commit: number; applied: number; lastIndex: number }[];
    assert.equal(rows.length, 5);
    assert.equal(rows.filter((r) => r.role === 'leader').length, 1);
    for (const row of rows) for (const field of ['id', 'term', 'leader', 'commit', 'applied', 'lastIndex'] as const) assert.equal(typeof row[field], 'number');
  }));
});
