/**
 * The longest pause in acknowledgements of a write trickle over a time window: what
 * a client sees as "the cluster stopped taking writes" across a leader stop or a
 * restart. Pure, so it is unit-tested without timing.
 */

/**
 * The largest interval between consecutive acknowledgement times that overlaps
 * `[from, to]`. The pause that spans `from` counts from the last acknowledgement
 * at or before it (or from `from` when there is none), and the pause that spans
 * `to` up to the first acknowledgement after it (or up to `to` when there is none),
 * so a window without any acknowledgement gives `to - from` at least. `ackTimes`
 * need not be sorted.
 */
export function largestAckGap(ackTimes: readonly number[], from: number, to: number): number {
  if (to < from) throw new RangeError(`window ends (${to}) before it starts (${from})`);
  const sorted = [...ackTimes].sort((a, b) => a - b);
  let previous = from;
  for (const t of sorted) {
    if (t <= from) previous = t;
    else break;
  }
  let largest = 0;
  for (const t of sorted) {
    if (t <= from) continue;
    if (t > to) {
      largest = Math.max(largest, t - previous);
      return largest;
    }
    largest = Math.max(largest, t - previous);
    previous = t;
  }
  return Math.max(largest, to - previous);
}
