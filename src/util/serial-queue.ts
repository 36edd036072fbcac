/**
 * Runs async operations one at a time, in the order they were queued: the WAL's
 * appends (from the driver's turns) and its compactions (after a background
 * snapshot) share one file handle and must never interleave.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.tail.then(operation);
    // The next operation waits for this one whether it succeeds or not; the caller
    // sees the failure through `result`.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
