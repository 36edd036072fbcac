import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { ConfigError, CorruptLogError } from '../../src/errors.js';
import { CLUSTER_ID_FILE, deriveClusterId, loadOrCreateClusterId } from '../../src/storage/cluster-id.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'raft-ts-cluster-id-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => mkdtempSync(path.join(root, `d${(dirs += 1)}-`));

describe('cluster id', () => {
  it('is the same for every member of one initial cluster and differs for another member set or token', () => {
    const a = deriveClusterId('raft-ts', [1, 2, 3]);
    assert.equal(deriveClusterId('raft-ts', [3, 1, 2]), a, 'order does not matter');
    assert.notEqual(deriveClusterId('raft-ts', [1, 2, 4]), a, 'another member');
    assert.notEqual(deriveClusterId('other', [1, 2, 3]), a, 'another token');
    assert.match(a, /^[0-9a-f]{16}$/);
  });

  it('is written once to a fresh data dir, atomically, and read back afterwards', async () => {
    const dir = freshDir();
    assert.deepEqual(await loadOrCreateClusterId(dir, 'abc123'), { clusterId: 'abc123', created: true });
    assert.equal(readFileSync(path.join(dir, CLUSTER_ID_FILE), 'utf8'), 'abc123\n');
    assert.deepEqual(readdirSync(dir), [CLUSTER_ID_FILE], 'no temporary file left');
    // A later start proposes another id (its --peers changed): the stored one wins.
    assert.deepEqual(await loadOrCreateClusterId(dir, 'zzz999'), { clusterId: 'abc123', created: false });
  });

  it('an explicit id is used for a fresh dir and must match an existing one', async () => {
    const dir = freshDir();
    assert.equal((await loadOrCreateClusterId(dir, 'derived', 'given-id')).clusterId, 'given-id');
    await assert.rejects(loadOrCreateClusterId(dir, 'derived', 'another'), ConfigError);
  });

  it('a file that holds no id is corruption, not a reason to make a new one', async () => {
    const dir = freshDir();
    writeFileSync(path.join(dir, CLUSTER_ID_FILE), 'not an id!\n');
    await assert.rejects(loadOrCreateClusterId(dir, 'abc'), CorruptLogError);
  });
});
