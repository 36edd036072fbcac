// The fuzz tool's short form: 20,000 random and mutated frames of every wire type at a
// live raft-node's port over many connections, about half of them on connections
// opened with a valid hello carrying the node's cluster id (so they reach the message
// handlers); the node must keep serving correct reads and writes, with its memory bounded.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { runFuzz } from '../../src/fuzz/fuzz-run.js';

describe('fuzzing a live node', () => {
  it('20,000 frames leave the node healthy with bounded RSS', async () => {
    const report = await runFuzz({ frames: 20_000, concurrency: 16, seed: 7 });
    assert.deepEqual(report.problems, []);
    assert.equal(report.frames, 20_000);
    assert.ok(report.byKind.valid > 0 && report.byKind.flipped > 0 && report.byKind['bad-length'] > 0);
    assert.match(report.clusterId, /^[A-Za-z0-9._-]+$/);
    const { authenticated } = report;
    assert.ok(authenticated.connections > 0);
    // A hello counts as accepted once the node answers a status request after it (2 s at most).
    assert.ok(authenticated.hellosAccepted >= authenticated.connections * 0.9, `${authenticated.hellosAccepted} of ${authenticated.connections} valid hellos accepted`);
    assert.ok(authenticated.framesAfterHello >= report.frames / 5, `only ${authenticated.framesAfterHello} frames after an accepted hello`);
    if (report.rssStartBytes > 0) {
      assert.ok(report.rssMaxBytes < report.rssStartBytes + 256 * 1024 * 1024, `RSS grew from ${report.rssStartBytes} to ${report.rssMaxBytes}`);
    }
  });
});
