// The chaos runner checks histories in a worker thread: a valid history passes, a
// stale read and a lost acknowledged write are both reported.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HistoryEvent } from '../../src/check/index.js';
import { checkInWorker } from '../../src/chaos/chaos-run.js';

function history(): HistoryEvent[] {
  return [
    { process: 0, type: 'invoke', f: 'put', key: 'k', value: 'a', time: 1 },
    { process: 0, type: 'ok', f: 'put', key: 'k', value: 'a', previous: null, time: 2 },
    { process: 1, type: 'invoke', f: 'get', key: 'k', time: 3 },
    { process: 1, type: 'ok', f: 'get', key: 'k', value: 'a', time: 4 },
  ];
}

describe('checkInWorker', () => {
  it('accepts a linearizable history whose final read sees the last write', async () => {
    const reply = await checkInWorker(history(), new Map([['k', 'a']]), 10_000, undefined);
    assert.ok(reply.ok, JSON.stringify(reply));
    assert.equal(reply.linearizability.valid, true);
    assert.deepEqual(reply.lostWrites, []);
  });

  it('reports a stale read', async () => {
    const events = history();
    events[3] = { ...events[3]!, value: null };
    const reply = await checkInWorker(events, new Map(), 10_000, undefined);
    assert.ok(reply.ok, JSON.stringify(reply));
    assert.equal(reply.linearizability.valid, false);
  });

  it('reports an acknowledged write missing from the final read', async () => {
    const reply = await checkInWorker(history(), new Map([['k', null]]), 10_000, undefined);
    assert.ok(reply.ok, JSON.stringify(reply));
    assert.equal(reply.lostWrites.length, 1, JSON.stringify(reply.lostWrites));
  });
});
