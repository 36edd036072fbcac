/**
 * raft-node's environment and Node.js options live in two places that must agree:
 * the first line of bin/raft-node.js (for `raft-node`, `npx raft-node` and the
 * Procfiles) and RAFT_NODE_ENV / RAFT_NODE_NODE_OPTIONS (for LocalCluster, which
 * starts `node bin/raft-node.js`).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { RAFT_NODE_BIN, RAFT_NODE_ENV, RAFT_NODE_NODE_OPTIONS } from '../../src/cluster/local-cluster.js';

describe('raft-node launch options', () => {
  it('the shebang of bin/raft-node.js carries RAFT_NODE_ENV and RAFT_NODE_NODE_OPTIONS', () => {
    const firstLine = readFileSync(RAFT_NODE_BIN, 'utf8').split('\n')[0]!;
    const match = /^#!\/usr\/bin\/env -S (?<env>(\w+=\S+ )*)node(?<options>( \S+)*)$/.exec(firstLine);
    assert.ok(match, `unexpected first line: ${firstLine}`);
    const env = Object.fromEntries(match.groups!['env']!.trim().split(' ').filter(Boolean).map((pair) => pair.split('=') as [string, string]));
    assert.deepEqual(env, { ...RAFT_NODE_ENV });
    assert.deepEqual(match.groups!['options']!.trim().split(' ').filter(Boolean), [...RAFT_NODE_NODE_OPTIONS]);
  });

  it('bin/raft-node.js runs as an executable with them', () => {
    const result = spawnSync(RAFT_NODE_BIN, ['--help'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /Usage: raft-node/);
  });
});
