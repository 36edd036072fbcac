// The status a node reports says whether it is a voter, a learner, or neither
// (joining, or removed) in the configuration it has applied.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CoreStatus } from '../../src/core/raft-core.js';
import { nodeStatus, statusRow } from '../../src/node/node-status.js';

const BASE: CoreStatus = {
  transferTarget: 0,
  id: 6,
  role: 'follower',
  term: 3,
  vote: 0,
  leader: 1,
  commit: 10,
  applied: 10,
  lastIndex: 10,
  lastTerm: 3,
  snapshotIndex: 0,
  voters: [1, 2, 3],
  learners: [6],
  removed: false,
  firstIndex: 1,
  electionElapsed: 0,
  peers: [],
};

describe('node status membership', () => {
  const addresses = new Map([[1, '127.0.0.1:8001']]);
  it('a learner', () => {
    const status = nodeStatus(BASE, addresses, 1);
    assert.equal(status.membership, 'learner');
    assert.equal(statusRow(status, '127.0.0.1:8006').membership, 'learner');
    assert.equal(status.leaderAddress, '127.0.0.1:8001');
  });
  it('a voter', () => {
    assert.equal(nodeStatus({ ...BASE, voters: [1, 2, 3, 6], learners: [] }, addresses, 1).membership, 'voter');
  });
  it('a joining or removed node', () => {
    assert.equal(nodeStatus({ ...BASE, learners: [] }, addresses, 1).membership, 'none');
  });
});
