// The longest pause between acknowledged writes over a window: the figure the bench
// reports for a SIGTERM of the leader and for a rolling restart.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { largestAckGap } from '../../bench/ack-gaps.js';
import { availabilitySummary } from '../../bench/failover-report.js';

describe('largestAckGap', () => {
  it('takes the longest interval between consecutive acknowledgements inside the window', () => {
    assert.equal(largestAckGap([100, 110, 120, 190, 200, 210], 105, 205), 70);
  });

  it('counts the pause that spans the start from the last acknowledgement before it', () => {
    // The signal at 130 falls in a pause from 120 to 250.
    assert.equal(largestAckGap([100, 110, 120, 250, 260], 130, 300), 130);
  });

  it('counts the pause that spans the end up to the next acknowledgement after it', () => {
    assert.equal(largestAckGap([100, 110, 400], 105, 200), 290);
  });

  it('counts a pause still open at the end up to the end', () => {
    assert.equal(largestAckGap([100, 110], 105, 300), 190);
  });

  it('gives the whole window when nothing was acknowledged', () => {
    assert.equal(largestAckGap([], 50, 80), 30);
    assert.equal(largestAckGap([10, 20], 50, 80), 60);
  });

  it('does not need sorted input and ignores pauses outside the window', () => {
    assert.equal(largestAckGap([300, 0, 210, 200, 220], 205, 215), 10);
  });

  it('refuses a window that ends before it starts', () => {
    assert.throws(() => largestAckGap([1], 10, 5), RangeError);
  });
});

describe('availabilitySummary', () => {
  it('prints one line per phase that ran and nothing for phases that did not', () => {
    const text = availabilitySummary([
      {
        nodes: 3,
        failover: null,
        leaderStops: {
          stops: [],
          largestWriteGapMs: { median: 42.4, max: 61 },
          leaderKnownMs: { median: 30, max: 35 },
          failedWrites: 0,
          trickle: { intervalMs: 10, deadlineMs: 5000, acknowledged: 10, failed: 0, firstError: null },
        },
        rollingRestart: {
          order: [2, 3, 1],
          steps: [],
          totalMs: 6543,
          largestWriteGapMs: 55,
          failedWrites: 0,
          trickle: { intervalMs: 10, deadlineMs: 5000, acknowledged: 10, failed: 0, firstError: null },
        },
      },
    ]);
    assert.equal(
      text,
      'bench: 3 nodes: SIGTERM of the leader (0x): largest gap between acknowledged writes median 42 ms, max 61 ms; new leader known median 30 ms, max 35 ms; failed writes 0\n' +
        'bench: 3 nodes: rolling restart (SIGTERM, restart, catch up: 2, 3, 1): largest gap between acknowledged writes 55 ms; failed writes 0; total 6.5 s\n',
    );
    assert.equal(availabilitySummary([{ nodes: 5, failover: null, leaderStops: null, rollingRestart: null }]), '');
  });
});
