// The fuzz tool's short form: 20,000 random and mutated frames of every wire type at a
// live raft-node's port over many connections; the node must keep serving correct
// reads and writes, with its memory bounded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { runFuzz } from '../../src/fuzz/fuzz-run.js';

describe('fuzzing a live node', () => {
  it('20,000 frames leave the node healthy with bounded RSS', async () => {
    const report = await runFuzz({ frames: 20_000, concurrency: 16, seed: 7 });
    assert.deepEqual(report.problems, []);
    assert.equal(report.frames, 20_000);
    assert.ok(report.byKind.valid > 0 && report.byKind.flipped > 0 && report.byKind['bad-length'] > 0);
    if (report.rssStartBytes > 0) {
      assert.ok(report.rssMaxBytes < report.rssStartBytes + 256 * 1024 * 1024, `RSS grew from ${report.rssStartBytes} to ${report.rssMaxBytes}`);
    }
  });
});
