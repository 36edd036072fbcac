// The library as an application uses it: examples/queue (a custom state machine
// with its own snapshot) on three nodes built with createNode in one process. Items
// pushed through the leader reach every node in order; a node stopped while the log
// is compacted comes back from its own data dir, is sent a snapshot, and ends with
// the same queue.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { freePorts, waitFor } from '../../src/cluster/local-cluster.js';
import type { NodeHandle } from '../../src/index.js';
import { createNode } from '../../src/index.js';
import type { QueueResult } from '../../examples/queue/queue-state-machine.js';
import { QueueStateMachine, encodeQueueCommand } from '../../examples/queue/queue-state-machine.js';

describe('examples/queue: a custom state machine on a 3-node cluster', () => {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'raft-ts-queue-'));
  const handles = new Map<number, NodeHandle<QueueResult>>();
  const machines = new Map<number, QueueStateMachine>();
  after(async () => {
    for (const handle of handles.values()) await handle.stop();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('replicates, compacts, and brings a restarted node back through a snapshot', async () => {
    const ports = await freePorts(3);
    const peers = new Map(ports.map((port, i) => [i + 1, { host: '127.0.0.1', port }]));
    const start = async (id: number): Promise<void> => {
      const machine = new QueueStateMachine();
      machines.set(id, machine);
      handles.set(id, await createNode<QueueResult>({
        id,
        peers,
        dataDir: path.join(workDir, `node-${id}`),
        stateMachine: machine,
        logger: pino({ level: 'silent' }),
        tickMs: 50,
        // Long enough that a loaded machine does not depose the leader mid-test: a
        // push whose outcome is unknown cannot be retried on a queue.
        core: { electionTicks: 20 },
        snapshotPolicy: { entries: 20, trailing: 5 },
      }));
    };
    for (const id of peers.keys()) await start(id);
    const leader = async (): Promise<NodeHandle<QueueResult>> =>
      waitFor('a leader', 10_000, async () => [...handles.values()].find((h) => h.node.status().role === 'leader'));
    const push = async (value: string): Promise<void> => {
      const result = await (await leader()).node.propose(encodeQueueCommand({ push: value }));
      assert.ok('length' in result);
    };
    for (let i = 0; i < 30; i += 1) await push(`a${i}`);
    const popped = await (await leader()).node.propose(encodeQueueCommand({ pop: true }));
    assert.deepEqual(popped, { popped: 'a0' });

    const first = await leader();
    const victim = [...handles.keys()].find((id) => id !== first.node.status().id)!;
    await handles.get(victim)!.stop();
    handles.delete(victim);
    for (let i = 0; i < 60; i += 1) await push(`b${i}`);
    const status = first.node.status();
    assert.ok(status.firstIndex > 40, `the leader compacted its log (first index ${status.firstIndex})`);

    await start(victim);
    const target = first.node.status().commit;
    await waitFor('the restarted node to catch up', 10_000, async () => (handles.get(victim)!.node.status().applied >= target ? true : undefined));
    assert.ok(handles.get(victim)!.node.status().snapshotIndex > 0, 'it was sent a snapshot');
    const expected = [...Array.from({ length: 29 }, (_, i) => `a${i + 1}`), ...Array.from({ length: 60 }, (_, i) => `b${i}`)];
    await waitFor('every node to apply everything', 10_000, async () => ([...handles.values()].every((h) => h.node.status().applied >= target) ? true : undefined));
    for (const [id, machine] of machines) {
      if (!handles.has(id)) continue;
      assert.deepEqual(machine.contents(), expected, `node ${id}'s queue`);
    }
  });
});
