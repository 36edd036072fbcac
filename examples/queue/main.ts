// Runs a 3-node replicated queue in one process on 127.0.0.1 ports 7101-7103:
//   npm run build && node dist/examples/queue/main.js
// Each node keeps its data under ./data/queue-<id>; run it twice and the queue
// remembers what the first run pushed.
import path from 'node:path';
import pino from 'pino';
import type { NodeHandle } from '../../src/index.js';
import { createNode } from '../../src/index.js';
import type { QueueResult } from './queue-state-machine.js';
import { QueueStateMachine, encodeQueueCommand } from './queue-state-machine.js';

const peers = new Map([1, 2, 3].map((id) => [id, { host: '127.0.0.1', port: 7100 + id }]));
const handles: NodeHandle<QueueResult>[] = [];
const machines = new Map<number, QueueStateMachine>();
for (const id of peers.keys()) {
  const machine = new QueueStateMachine();
  machines.set(id, machine);
  handles.push(
    await createNode<QueueResult>({
      id,
      peers,
      dataDir: path.join('data', `queue-${id}`),
      stateMachine: machine,
      logger: pino({ level: 'warn', base: { node: id } }),
      snapshotPolicy: { entries: 100, trailing: 10 },
    }),
  );
}
const deadline = Date.now() + 10_000;
let leader: NodeHandle<QueueResult> | undefined;
while (leader === undefined && Date.now() < deadline) {
  leader = handles.find((h) => h.node.status().role === 'leader');
  await new Promise((resolve) => setTimeout(resolve, 20));
}
if (leader === undefined) throw new Error('no leader elected within 10 s');
for (const word of ['raft', 'keeps', 'order']) console.log('push', word, '->', await leader.node.propose(encodeQueueCommand({ push: word })));
console.log('pop ->', await leader.node.propose(encodeQueueCommand({ pop: true })));
await leader.node.readBarrier();
console.log('leader holds', machines.get(leader.node.status().id)!.contents());
for (const handle of handles) await handle.stop();
