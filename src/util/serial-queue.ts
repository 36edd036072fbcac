/**
 * Runs async operations one at a time, in the order they were queued: the WAL's
 * appends (from the driver's turns) and its compactions (after a background
 * snapshot) share one file handle and must never interleave. An operation queued
 * while none is pending starts in the call, as an unqueued call would (the
 * simulator's event order depends on when disk operations are issued).
 */
export class SerialQueue {
  /** Settles when the last operation queued so far has; undefined when none is pending. */
  private tail: Promise<unknown> | undefined;

  /**
   * Runs `operation` after every earlier one settled; at once (in this call) when
   * none is pending, so a write that can start starts before anything else this turn
   * schedules (a leader's fsync before its socket writes to followers).
   */
  run<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.tail === undefined ? start(operation) : this.tail.then(operation);
    // The next operation waits for this one whether it succeeds or not; the caller
    // sees the failure through `result`.
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.tail = settled;
    void settled.then(() => {
      if (this.tail === settled) this.tail = undefined;
    });
    return result;
  }

  /** Settles (never rejects) once every operation queued so far has settled. */
  drained(): Promise<void> {
    return this.tail === undefined ? Promise.resolve() : this.tail.then(() => undefined);
  }
}

function start<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return operation();
  } catch (err) {
    return Promise.reject(err);
  }
}
