// Real processes: a three-node cluster with --http-port on free ports. /status has
// the CLI's shape plus the leader's view of its followers; /metrics parses as
// Prometheus text with one leader, counters that grow with writes and an fsync
// histogram that counts; /events on a survivor shows the new term and leader within
// 2 s of the leader's SIGKILL. Every process is killed by PID in `after`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { Cluster, freePorts, waitFor } from '../../src/cluster/local-cluster.js';
import { SseClient } from '../../src/http/sse-client.js';
import type { NodeEvent } from '../../src/node/node-events.js';
import type { NodeStatusJson } from '../../src/node/node-status.js';

type Family = { name: string; type: string; metrics: { value?: string; labels?: Record<string, string>; count?: string; sum?: string; buckets?: Record<string, string> }[] };

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  assert.equal(res.status, 200);
  return (await res.json()) as T;
}

async function scrape(url: string): Promise<Map<string, Family>> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const families = parsePrometheusTextFormat(await res.text()) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  assert.ok(family !== undefined, `metric ${name} is exported`);
  const sample = family.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  assert.ok(sample !== undefined, `metric ${name} has a sample with ${JSON.stringify(labels)}`);
  return Number(sample.value ?? sample.count);
}

describe('the HTTP endpoint of real nodes', () => {
  let httpPorts: number[] = [];
  const cluster = new Cluster({ nodes: 3, nodeArgs: (id) => ['--http-port', String(httpPorts[id - 1])] });
  const http = (id: number): string => `http://127.0.0.1:${httpPorts[id - 1]}`;
  let failed = false;
  const streams: SseClient[] = [];

  before(async () => {
    httpPorts = await freePorts(3);
    await cluster.start();
  });

  after(async () => {
    for (const stream of streams) stream.close();
    await cluster.destroy(failed);
    if (failed) process.stderr.write(`node logs kept in ${cluster.workDir}\n`);
  });

  const guard = async (fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      failed = true;
      throw err;
    }
  };

  it('GET /status gives the CLI row plus vote, timers, recent log and, on the leader, each follower\'s progress', () => guard(async () => {
    const leader = await cluster.waitForLeader(10_000);
    await cluster.raftClient().put('k0', 'v0');
    const statuses = await Promise.all(cluster.ids.map((id) => getJson<NodeStatusJson>(`${http(id)}/status`)));
    for (const status of statuses) {
      assert.equal(status.address, cluster.address(status.id));
      assert.equal(status.pid, cluster.pid(status.id));
      assert.equal(status.httpAddress, `127.0.0.1:${httpPorts[status.id - 1]}`);
      assert.equal(status.leader, leader.id);
      assert.equal(status.leaderAddress, cluster.address(leader.id));
      for (const key of ['role', 'term', 'commit', 'applied', 'lastIndex', 'vote', 'lastTerm', 'electionElapsed', 'electionTicks', 'tickMs'] as const) assert.ok(key in status, key);
    }
    const onLeader = statuses.find((s) => s.id === leader.id)!;
    assert.equal(onLeader.role, 'leader');
    assert.deepEqual(onLeader.peers.map((p) => p.id).sort(), cluster.ids.filter((id) => id !== leader.id));
    for (const peer of onLeader.peers) {
      assert.ok(peer.match >= 1 && peer.next > peer.match, JSON.stringify(peer));
      assert.ok(peer.state === 'replicate' || peer.state === 'probe');
    }
    assert.ok(onLeader.log.terms.length >= 2, 'the no-op and the put are in the recent log');
    assert.equal(onLeader.log.first + onLeader.log.terms.length - 1, onLeader.lastIndex);
    assert.ok(statuses.filter((s) => s.id !== leader.id).every((s) => s.peers.length === 0));
  }));

  it('GET /metrics: one leader, has_leader 1 everywhere, counters grow with writes, fsync histogram counts', () => guard(async () => {
    const leader = await cluster.waitForLeader(10_000);
    const before = await Promise.all(cluster.ids.map((id) => scrape(`${http(id)}/metrics`)));
    assert.equal(before.reduce((sum, m) => sum + value(m, 'raftts_is_leader'), 0), 1);
    for (const m of before) assert.equal(value(m, 'raftts_has_leader'), 1);
    const writes = 20;
    for (let i = 0; i < writes; i += 1) await cluster.raftClient().put(`key-${i}`, `value-${i}`);
    const target = (await cluster.statuses()).find((s) => s.id === leader.id)!.commit;
    // Followers learn the commit index with the next heartbeat or append.
    const afterWrites = await waitFor('every node to apply the writes', 5000, async () => {
      const scraped = await Promise.all(cluster.ids.map((id) => scrape(`${http(id)}/metrics`)));
      return scraped.every((m) => value(m, 'raftts_applied_index') >= target) ? scraped : undefined;
    });
    for (const [i, m] of afterWrites.entries()) {
      const id = cluster.ids[i]!;
      const was = before[i]!;
      assert.ok(value(m, 'raftts_proposals_committed_total') >= value(was, 'raftts_proposals_committed_total') + writes, `node ${id} committed counter grew`);
      assert.ok(value(m, 'raftts_proposals_applied_total') >= value(was, 'raftts_proposals_applied_total') + writes, `node ${id} applied counter grew`);
      assert.ok(value(m, 'raftts_wal_fsync_duration_seconds') >= value(was, 'raftts_wal_fsync_duration_seconds') + 1, `node ${id} fsync histogram counted`);
      assert.ok(value(m, 'raftts_commit_index') >= target);
      assert.ok(value(m, 'raftts_term') >= 1);
      assert.ok(value(m, 'raftts_leader_changes_seen_total') >= 1);
      assert.equal(value(m, 'raftts_proposals_pending'), 0);
      assert.ok(m.has('raftts_proposals_failed_total'));
      assert.ok(m.has('raftts_process_cpu_user_seconds_total'), 'default process metrics');
      assert.ok(m.has('raftts_nodejs_eventloop_lag_seconds'), 'default event-loop metrics');
      // Followers talk only to the leader once it is elected.
      for (const peer of id === leader.id ? cluster.ids.filter((p) => p !== id) : [leader.id]) {
        assert.ok(value(m, 'raftts_peer_sent_bytes_total', { peer: String(peer) }) > 0, `node ${id} sent bytes to ${peer}`);
        assert.ok(value(m, 'raftts_peer_received_bytes_total', { peer: String(peer) }) > 0, `node ${id} received bytes from ${peer}`);
      }
    }
    const onLeader = afterWrites[cluster.ids.indexOf(leader.id)]!;
    assert.equal(onLeader.get('raftts_proposals_pending')!.type, 'GAUGE');
    assert.equal(onLeader.get('raftts_wal_fsync_duration_seconds')!.type, 'HISTOGRAM');
    assert.equal(onLeader.get('raftts_peer_round_trip_seconds')!.type, 'HISTOGRAM');
    // The parser drops the labels of labelled histograms, so read the per-peer counts from the text.
    const text = await (await fetch(`${http(leader.id)}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    for (const peer of cluster.ids.filter((p) => p !== leader.id)) {
      const count = new RegExp(`^raftts_peer_round_trip_seconds_count\\{peer="${peer}"\\} (\\d+)$`, 'm').exec(text);
      assert.ok(count !== null && Number(count[1]) > 0, `round trips to ${peer} timed`);
    }
  }));

  it('the Grafana dashboard and the alert rules in deploy/ use only metrics the node exports', () => guard(async () => {
    await cluster.waitForLeader(10_000);
    const exported = await scrape(`${http(cluster.ids[0]!)}/metrics`);
    // This file runs from dist/test/http/.
    const deploy = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../deploy');
    for (const file of ['grafana-dashboard.json', 'raftts-alerts.yml']) {
      const names = new Set([...readFileSync(path.join(deploy, file), 'utf8').matchAll(/\b(raftts_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_bucket$/, '')));
      assert.ok(names.size >= 5, `${file} uses raftts metrics`);
      for (const name of names) assert.ok(exported.has(name), `${file}: ${name} is exported`);
    }
  }));

  it('GET /events on a survivor shows the new term and the new leader within 2 s of the leader\'s SIGKILL', () => guard(async () => {
    const leader = await cluster.waitForLeader(10_000);
    const survivor = cluster.ids.find((id) => id !== leader.id)!;
    const events: NodeEvent[] = [];
    let snapshot: { status: NodeStatusJson } | undefined;
    streams.push(new SseClient(`${http(survivor)}/events`, {
      onEvent: (data) => {
        const event = data as NodeEvent | { type: 'status'; status: NodeStatusJson };
        if (event.type === 'status') snapshot = event as { status: NodeStatusJson };
        else events.push(event as NodeEvent);
      },
      reconnectMs: 0,
    }));
    await waitFor('heartbeats from the leader on the stream', 3000, async () =>
      events.some((e) => e.type === 'traffic' && e.direction === 'received' && e.peer === leader.id && e.heartbeats > 0) || undefined);
    assert.equal(snapshot?.status.id, survivor);
    for (const event of events) {
      assert.equal(event.node, survivor);
      assert.equal(typeof event.ts, 'number');
      assert.equal(typeof event.term, 'number');
    }
    const killedAt = Date.now();
    await cluster.kill(leader.id);
    const elected = await waitFor('a new leader on the stream', 2000, async () =>
      events.find((e) => e.type === 'leader-elected' && e.leader !== leader.id && e.term > leader.term));
    assert.ok(elected.ts - killedAt <= 2000, `elected ${elected.ts - killedAt} ms after the kill`);
    const termChange = events.find((e) => e.type === 'term' && e.to > leader.term);
    assert.ok(termChange !== undefined && termChange.type === 'term' && termChange.from === leader.term);
    assert.ok(events.some((e) => e.type === 'vote-granted' || e.type === 'vote-requested'), 'the vote shows on the stream');
  }));
});
