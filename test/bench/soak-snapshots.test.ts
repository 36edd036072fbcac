// The soak's reading of node logs and its split of latency windows: a snapshot
// spans from the start of its save to the end of the compaction that follows, and
// a window counts as "with snapshot" exactly when it overlaps such a span.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { p99, snapshotIntervals, splitBySnapshot } from '../../bench/soak-snapshots.js';
import type { SnapshotInterval } from '../../bench/soak-snapshots.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'soak-snapshots-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const line = (fields: Record<string, unknown>): string => JSON.stringify({ level: 30, node: 2, ...fields });

describe('snapshotIntervals', () => {
  it('pairs each snapshot taken with its compaction and skips other and torn lines', () => {
    const file = path.join(dir, 'node-2.log');
    writeFileSync(
      file,
      [
        line({ time: 1_000, msg: 'raft node started' }),
        line({ time: 5_000, index: 10, term: 1, bytes: 300, ms: 40, msg: 'snapshot taken' }),
        line({ time: 5_020, firstIndex: 6, index: 10, msg: 'log compacted' }),
        '{"level":30,"time":6000,"msg":"snapshot ta', // a line cut by SIGKILL
        line({ time: 9_000, index: 20, term: 1, bytes: 400, ms: 10, msg: 'snapshot taken' }),
      ].join('\n') + '\n',
    );
    assert.deepEqual(snapshotIntervals(2, file), [
      { node: 2, index: 10, bytes: 300, saveMs: 40, startEpochMs: 4_960, endEpochMs: 5_020 },
      { node: 2, index: 20, bytes: 400, saveMs: 10, startEpochMs: 8_990, endEpochMs: 9_000 },
    ]);
  });

  it('gives nothing for a missing log', () => {
    assert.deepEqual(snapshotIntervals(1, path.join(dir, 'absent.log')), []);
  });
});

describe('splitBySnapshot', () => {
  it('puts a window in the snapshot group exactly when a snapshot overlaps it', () => {
    const start = 100_000;
    const flat = Array.from({ length: 100 }, () => 1);
    const slow = [...Array.from({ length: 98 }, () => 1), 8, 8];
    const windows = [flat, slow, flat, slow, flat, [5]];
    const intervals: SnapshotInterval[] = [
      { node: 1, index: 10, bytes: 1, saveMs: 100, startEpochMs: start + 1_900, endEpochMs: start + 2_000 - 1 },
      { node: 3, index: 10, bytes: 1, saveMs: 100, startEpochMs: start + 3_100, endEpochMs: start + 3_200 },
    ];
    const split = splitBySnapshot(windows, start, 1_000, intervals, 3, 10);
    assert.deepEqual(split.series.map((w) => w.snapshotting), [[], [1], [], [3], [], []]);
    assert.deepEqual(split.withSnapshot, { windows: 2, medianP99Ms: 8, maxP99Ms: 8 });
    // The last window has one write: below the minimum, left out.
    assert.deepEqual(split.withoutSnapshot, { windows: 3, medianP99Ms: 1, maxP99Ms: 1 });
    assert.equal(split.ratio, 8);
    assert.equal(split.leaderSnapshot.withSnapshot.windows, 1);
    assert.equal(split.leaderSnapshot.withoutSnapshot.windows, 4);
  });

  it('takes the nearest-rank 99th percentile', () => {
    assert.equal(p99([]), 0);
    assert.equal(p99(Array.from({ length: 200 }, (_, i) => 200 - i)), 198);
  });
});
