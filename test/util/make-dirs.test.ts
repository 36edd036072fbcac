/**
 * makeDirs is `mkdir -p` that terminates where Node's loops (/proc), and it must
 * still tolerate others creating the same parents at the same time, as the five
 * Procfile nodes do under one fresh data/ directory.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { makeDirs } from '../../src/util/make-dirs.js';

describe('makeDirs', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'raft-ts-make-dirs-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('creates sibling directories at once under missing parents', async () => {
    const dirs = Array.from({ length: 20 }, (_, i) => path.join(root, 'data', 'nodes', `node-${i}`));
    await Promise.all(dirs.map((dir) => makeDirs(dir)));
    for (const dir of dirs) assert.ok(statSync(dir).isDirectory(), dir);
  });

  it('creates a directory while another caller creates its parent', async () => {
    // The child's first mkdir fails (no parent yet); by the time it looks, the
    // parent exists, made by the other caller: that is no reason to give up.
    for (let i = 0; i < 50; i += 1) {
      const parent = path.join(root, `race-${i}`, 'data');
      await Promise.all([makeDirs(parent), makeDirs(path.join(parent, 'node-1'))]);
      assert.ok(statSync(path.join(parent, 'node-1')).isDirectory());
    }
  });

  it('fails at once where nothing can be created', async () => {
    await assert.rejects(makeDirs('/proc/raft-ts-no/such'), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
  });
});
