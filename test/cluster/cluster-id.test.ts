// Two clusters whose address lists overlap (cluster B was told that cluster A's node 3
// is its node 3) never exchange votes or entries: A's node 3 refuses B's peers with
// one warning about the cluster id, each cluster keeps its own leader and data.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { RaftClient } from '../../src/client/raft-client.js';
import { Cluster, freePorts, waitFor } from '../../src/cluster/local-cluster.js';

describe('two clusters with overlapping addresses', () => {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'raft-ts-cluster-id-'));
  let a: Cluster;
  let b: Cluster;
  let failed = false;
  let clientB: RaftClient | undefined;

  before(async () => {
    const [a1, a2, a3, b1, b2] = await freePorts(5);
    mkdirSync(path.join(workDir, 'a'));
    mkdirSync(path.join(workDir, 'b'));
    // Each cluster bootstraps with its own token, as etcd asks of --initial-cluster-token.
    a = new Cluster({ nodes: 3, workDir: path.join(workDir, 'a'), extraArgs: ['--cluster-token', 'cluster-a'] });
    // B's node 3 is A's node 3; B never starts a node 3 of its own.
    b = new Cluster({ nodes: 3, workDir: path.join(workDir, 'b'), extraArgs: ['--cluster-token', 'cluster-b'] });
    await a.start([a1!, a2!, a3!]);
    await b.start([b1!, b2!, a3!], [1, 2]);
  });

  after(async () => {
    clientB?.close();
    await Promise.all([a?.destroy(failed), b?.destroy(failed)]);
    if (failed) process.stderr.write(`node logs kept in ${workDir}\n`);
    else rmSync(workDir, { recursive: true, force: true });
  });

  it('refuses the other cluster\'s peers and keeps leaders and data apart', async () => {
    try {
      const leaderA = await a.waitForLeader(15_000);
      const leaderB = await b.waitForLeader(15_000);
      assert.ok([1, 2].includes(leaderB.id), 'B elects among its own two nodes');
      const idA = readFileSync(path.join(a.workDir, 'data-3', 'cluster-id'), 'utf8').trim();
      const idB = readFileSync(path.join(b.workDir, 'data-1', 'cluster-id'), 'utf8').trim();
      assert.notEqual(idA, idB);
      const warning = await waitFor('A\'s node 3 to refuse B', 10_000, async () => readFileSync(path.join(a.workDir, 'node-3.log'), 'utf8')
        .split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((line) => line['msg'] === 'peer of another cluster refused (cluster id mismatch)'));
      assert.equal(warning['clusterId'], idB);
      assert.equal(warning['expected'], idA);

      // B's own client knows only B's nodes (a3 would redirect it to A's leader).
      clientB = new RaftClient({ cluster: [b.address(1), b.address(2)], deadlineMs: 10_000 });
      await clientB.put('only-in-b', 'x');
      await a.raftClient().put('only-in-a', 'y');
      assert.equal(await a.raftClient().get('only-in-b'), null, 'no entry of B reached A');
      assert.equal(await clientB.get('only-in-a'), null, 'no entry of A reached B');
      const afterA = await a.waitForLeader(5_000);
      assert.equal(afterA.id, leaderA.id, 'A kept its leader');
      assert.equal(afterA.term, leaderA.term, 'A kept its term');
    } catch (err) {
      failed = true;
      throw err;
    }
  });
});
