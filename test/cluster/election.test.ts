// Real processes: five raft-node processes on free loopback ports elect exactly one
// leader; when it is SIGKILLed the rest elect another with a higher term; when it
// restarts from its data dir it rejoins as a follower and, thanks to PreVote, the
// leader's term does not change. Every process is killed by PID in `after`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster, waitFor } from '../../src/cluster/local-cluster.js';

describe('a five-node cluster of real processes', () => {
  const cluster = new Cluster({ nodes: 5 });
  let failed = false;

  before(async () => {
    await cluster.start();
  });

  after(async () => {
    await cluster.destroy(failed);
    if (failed) process.stderr.write(`node logs kept in ${cluster.workDir}\n`);
  });

  it('elects exactly one leader, re-elects after SIGKILL, and takes the old leader back without a term change', async () => {
    try {
      const first = await cluster.waitForLeader(10_000);
      assert.ok(first.term >= 1);

      await cluster.kill(first.id);
      const second = await cluster.waitForLeader(10_000, { exclude: [first.id] });
      assert.notEqual(second.id, first.id);
      assert.ok(second.term > first.term, `new term ${second.term} > old term ${first.term}`);

      cluster.startNode(first.id);
      const rejoined = await waitFor('the restarted node to follow the leader', 10_000, async () => {
        const status = (await cluster.statuses()).find((s) => s.id === first.id);
        return status !== undefined && status.role === 'follower' && status.leader === second.id ? status : undefined;
      });
      assert.equal(rejoined.term, second.term);
      // Let several election timeouts pass: a disruptive rejoin would have raised the term by now.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const third = await cluster.waitForLeader(5_000);
      assert.equal(third.id, second.id, 'the leader did not change');
      assert.equal(third.term, second.term, 'the term did not change');
    } catch (err) {
      failed = true;
      throw err;
    }
  });
});
