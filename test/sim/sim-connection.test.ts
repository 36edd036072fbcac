// The real RaftClient on the simulator's connections and clock, against scripted
// node endpoints: it follows a not-leader hint, retries a lost attempt with the same
// seq until its deadline measured in simulated time (no real time passes), and
// reconnects after the node it was connected to restarted (a reset connection).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientTimeoutError } from '../../src/client/errors.js';
import { RaftClient } from '../../src/client/raft-client.js';
import type { ClientResponse, KvRequest } from '../../src/protocol/client-messages.js';
import type { ClientEnvelope } from './sim-connection.js';
import { SimClientEnvironment } from './sim-connection.js';
import { SimNetwork } from './sim-network.js';
import { SimWorld } from './sim-world.js';

type Behaviour = (request: KvRequest) => ClientResponse | undefined;

function setup(): { world: SimWorld; network: SimNetwork; client: (deadlineMs: number) => RaftClient; node: (id: number, behaviour: Behaviour) => KvRequest[] } {
  const world = new SimWorld(7);
  // A clock tick every simulated ms, as the nodes' tickers give the simulator: the
  // queue never runs dry while the client's promise chains are between events.
  const tick = (): void => world.at(1, 'tick', tick);
  tick();
  const network = new SimNetwork(world, { lossRate: 0, duplicateRate: 0, delayMsMin: 1, delayMsMax: 5 });
  const endpointOf = new Map([1, 2].map((id) => [`n${id}:7000`, `n${id}`]));
  const node = (id: number, behaviour: Behaviour): KvRequest[] => {
    const requests: KvRequest[] = [];
    network.register(`n${id}`, (message) => {
      const envelope = message as ClientEnvelope;
      if (envelope.kind !== 'client-request' || envelope.request.type !== 'KvRequest') return;
      requests.push(envelope.request);
      const response = behaviour(envelope.request);
      if (response !== undefined) network.send(`n${id}`, envelope.from, { kind: 'client-response', response } satisfies ClientEnvelope, response.type);
    }, () => true);
    return requests;
  };
  const client = (deadlineMs: number): RaftClient => new RaftClient({
    cluster: [...endpointOf.keys()],
    clientId: 'c1',
    deadlineMs,
    attemptTimeoutMs: 200,
    environment: new SimClientEnvironment(world, network, 'c1', endpointOf),
  });
  return { world, network, client, node };
}

const ok = (request: KvRequest): ClientResponse => ({ type: 'KvResponse', requestId: request.requestId, result: { ok: true, value: null, index: 1 } });

/** Runs the world until `promise` settles; returns its outcome. */
async function settle<T>(world: SimWorld, promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  let outcome: { value?: T; error?: unknown } | undefined;
  promise.then((value) => (outcome = { value }), (error: unknown) => (outcome = { error }));
  await world.runUntil(world.now() + 60_000, () => outcome !== undefined);
  assert.ok(outcome !== undefined, 'settled within a simulated minute');
  return outcome;
}

describe('RaftClient on simulated connections', () => {
  it('follows a not-leader hint to the leader', async () => {
    const { world, client, node } = setup();
    const toFollower = node(1, (request) => ({ type: 'ErrorResponse', requestId: request.requestId, code: 'NOT_LEADER', message: 'not the leader', leader: 2, leaderAddress: 'n2:7000' }));
    const toLeader = node(2, ok);
    const outcome = await settle(world, client(5_000).put('k', 'v'));
    assert.equal(outcome.value, null);
    assert.equal(toFollower.length, 1);
    assert.equal(toLeader.length, 1);
  });

  it('retries with the same seq and gives up at the deadline, in simulated time', async () => {
    const { world, client, node } = setup();
    const silent = [node(1, () => undefined), node(2, () => undefined)];
    const started = performance.now();
    const outcome = await settle(world, client(1_000).put('k', 'v'));
    assert.ok(outcome.error instanceof ClientTimeoutError);
    assert.ok(world.now() >= 1_000 && world.now() < 1_100, `gave up at ${world.now()} ms simulated`);
    assert.ok(performance.now() - started < 1_000, 'no real time waited');
    const attempts = silent.flat();
    assert.equal(attempts.length, 5, 'one attempt per 200 ms attempt timeout');
    assert.deepEqual(new Set(attempts.map((r) => `${r.clientId}/${r.seq}`)), new Set(['c1/1']));
  });

  it('reconnects after the node it was connected to restarted', async () => {
    const { world, client, node } = setup();
    const c = client(5_000);
    node(1, ok);
    node(2, ok);
    await settle(world, c.put('k', 'v'));
    // A new incarnation of both nodes: the open connection is reset on its next use.
    const first = node(1, ok);
    const second = node(2, ok);
    const outcome = await settle(world, c.put('k', 'w'));
    assert.equal(outcome.value, null);
    assert.equal(first.length + second.length, 1, 'the reset request never reached a node; the retry did');
  });
});
