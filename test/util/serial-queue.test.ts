/**
 * SerialQueue: operations run one at a time in the order queued, a failure does not
 * stop the ones after it, and an operation queued while nothing is pending starts in
 * the call itself (the driver relies on that to ask for a leader's fsync before the
 * socket writes its turn scheduled).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { SerialQueue } from '../../src/util/serial-queue.js';

describe('SerialQueue', () => {
  it('starts an operation at once when none is pending, and after the pending ones otherwise, in order', async () => {
    const queue = new SerialQueue();
    const events: string[] = [];
    let release!: () => void;
    const first = queue.run(async () => {
      events.push('first started');
      await new Promise<void>((resolve) => (release = resolve));
      events.push('first done');
      return 1;
    });
    assert.deepEqual(events, ['first started'], 'started in the call');
    const second = queue.run(async () => {
      events.push('second started');
      return 2;
    });
    await Promise.resolve();
    assert.deepEqual(events, ['first started'], 'the second waits for the first');
    release();
    assert.deepEqual(await Promise.all([first, second]), [1, 2]);
    assert.deepEqual(events, ['first started', 'first done', 'second started']);
    // Idle again (once the settle bookkeeping ran): the next one starts in the call.
    await new Promise((resolve) => setImmediate(resolve));
    let startedInCall = false;
    const third = queue.run(async () => {
      startedInCall = true;
    });
    assert.equal(startedInCall, true);
    await third;
  });

  it('runs the operations after a failed one, and hands each caller its own outcome', async () => {
    const queue = new SerialQueue();
    const failed = queue.run(async () => {
      throw new Error('disk full');
    });
    const next = queue.run(async () => 'ran');
    await assert.rejects(failed, /disk full/);
    assert.equal(await next, 'ran');
    const thrown = queue.run(() => {
      throw new Error('thrown before any promise');
    });
    await assert.rejects(thrown, /thrown before any promise/);
  });
});
