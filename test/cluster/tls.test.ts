// A three-node cluster of real processes with mutual TLS: it elects a leader and
// serves raft-cli with the client certificate; raft-cli without a certificate, or
// with one from another CA, fails with one clear line and exit code 6; a holder of
// node 4's valid certificate that claims to be node 3 changes nothing (term and
// leader stay, its messages are rejected with a warning); a plaintext peer is refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';

import { Cluster, RAFT_CLI_BIN, RAFT_NODE_BIN, waitFor } from '../../src/cluster/local-cluster.js';
import type { PeerMessage } from '../../src/core/messages.js';
import type { NodeStatus } from '../../src/protocol/client-messages.js';
import { certsInit } from '../../src/tls/certs.js';
import { loadTlsMaterial } from '../../src/tls/tls-config.js';
import { encodeFrameMessage } from '../../src/transport/codec.js';
import type { PeerHello } from '../../src/transport/hello.js';

const workDir = mkdtempSync(path.join(os.tmpdir(), 'raft-ts-tls-'));
const certs = path.join(workDir, 'certs');
const otherCerts = path.join(workDir, 'other-certs');
const file = (dir: string, name: string): string => path.join(dir, name);
const nodeTlsArgs = (id: number): string[] => ['--tls-cert', file(certs, `node-${id}.crt`), '--tls-key', file(certs, `node-${id}.key`), '--tls-ca', file(certs, 'ca.crt')];

function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [RAFT_CLI_BIN, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Sends `frames` on `socket` and resolves when the node closes it. */
async function sendAndAwaitClose(socket: net.Socket | tls.TLSSocket, frames: readonly Buffer[]): Promise<void> {
  const closed = once(socket, 'close');
  socket.on('error', () => undefined);
  socket.resume(); // read what the node says, so its end-of-stream is seen
  for (const frame of frames) socket.write(frame);
  await closed;
}

function hello(clusterId: string, from: number, to: number): Buffer {
  const message: PeerHello = { type: 'PeerHello', clusterId, from, to };
  return encodeFrameMessage(message);
}

/** An append from a "leader" of a much higher term: a follower that accepted it would change term and leader. */
function takeover(from: number, to: number, term: number): Buffer {
  const message: PeerMessage = { type: 'AppendRequest', from, to, term, prevLogIndex: 0, prevLogTerm: 0, entries: [], commit: 0 };
  return encodeFrameMessage(message);
}

function clusterIdOf(cluster: Cluster, id: number): string {
  return readFileSync(path.join(cluster.workDir, `data-${id}`, 'cluster-id'), 'utf8').trim();
}

async function logOf(cluster: Cluster, id: number, msg: string): Promise<Record<string, unknown>> {
  return waitFor(`node ${id} to log "${msg}"`, 5000, async () => {
    const lines = readFileSync(path.join(cluster.workDir, `node-${id}.log`), 'utf8').split('\n').filter((line) => line.startsWith('{'));
    return lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line['msg'] === msg);
  });
}

describe('a three-node cluster with mutual TLS', () => {
  let cluster: Cluster;
  let failed = false;
  let leader: NodeStatus;

  before(async () => {
    await certsInit({ outDir: certs, nodes: [1, 2, 3, 4] });
    await certsInit({ outDir: otherCerts, nodes: [1] });
    const clientTls = await loadTlsMaterial({ certFile: file(certs, 'client.crt'), keyFile: file(certs, 'client.key'), caFile: file(certs, 'ca.crt') });
    cluster = new Cluster({ nodes: 3, workDir: path.join(workDir, 'cluster'), nodeArgs: nodeTlsArgs, clientTls });
    mkdirSync(cluster.workDir);
    await cluster.start();
    leader = await cluster.waitForLeader(15_000);
  });

  after(async () => {
    await cluster?.destroy(failed);
    if (failed) process.stderr.write(`node logs kept in ${cluster.workDir}\n`);
    rmSync(workDir, { recursive: true, force: true });
  });

  const track = <T>(fn: () => Promise<T>) => async (): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      failed = true;
      throw err;
    }
  };

  it('certs init writes keys with mode 0600', () => {
    for (const name of ['ca.key', 'node-1.key', 'client.key', 'admin.key']) {
      assert.equal(statSync(file(certs, name)).mode & 0o777, 0o600, name);
    }
    assert.equal(statSync(file(certs, 'ca.crt')).mode & 0o777, 0o644);
  });

  it('raft-node refuses another node\'s certificate, or a partial set of TLS flags, with one line', () => {
    const run = (args: string[]) => spawnSync(process.execPath, [RAFT_NODE_BIN, '--id', '1', '--peers', '1=127.0.0.1:1', '--data-dir', path.join(workDir, 'refused'), ...args], { encoding: 'utf8', timeout: 20_000 });
    const wrong = run(['--tls-cert', file(certs, 'node-2.crt'), '--tls-key', file(certs, 'node-2.key'), '--tls-ca', file(certs, 'ca.crt')]);
    assert.equal(wrong.status, 2, wrong.stderr);
    assert.match(wrong.stderr, /^raft-node: error: --tls-cert names node 2, but this is node 1; give it node 1's certificate\n$/);
    const partial = run(['--tls-cert', file(certs, 'node-1.crt')]);
    assert.equal(partial.status, 2);
    assert.match(partial.stderr, /--tls-cert, --tls-key and --tls-ca go together/);
  });

  it('elects a leader and serves raft-cli with the client certificate (flags and environment)', track(async () => {
    const cluster3 = cluster.addresses().join(',');
    const put = runCli(['--cluster', cluster3, '--tls-cert', file(certs, 'client.crt'), '--tls-key', file(certs, 'client.key'), '--tls-ca', file(certs, 'ca.crt'), 'put', 'k', 'v1']);
    assert.equal(put.status, 0, put.stderr);
    const get = runCli(['--cluster', cluster3, 'get', 'k'], { RAFTTS_CERT: file(certs, 'client.crt'), RAFTTS_KEY: file(certs, 'client.key'), RAFTTS_CA: file(certs, 'ca.crt') });
    assert.equal(get.status, 0, get.stderr);
    assert.equal(get.stdout.trim(), 'v1');
    const admin = runCli(['--cluster', cluster3, 'get', 'k'], { RAFTTS_CERT: file(certs, 'admin.crt'), RAFTTS_KEY: file(certs, 'admin.key'), RAFTTS_CA: file(certs, 'ca.crt') });
    assert.equal(admin.stdout.trim(), 'v1');
  }));

  it('raft-cli without a certificate fails with one clear line and exit code 6', track(async () => {
    const result = runCli(['--cluster', cluster.addresses().join(','), 'get', 'k']);
    assert.equal(result.status, 6, result.stderr);
    assert.match(result.stderr, /^raft-cli: error: 127\.0\.0\.1:\d+: this node requires TLS/);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1);
    await logOf(cluster, 1, 'plaintext connection refused: this node requires TLS');
  }));

  it('raft-cli with a certificate from another CA fails with one clear line and exit code 6', track(async () => {
    const result = runCli(['--cluster', cluster.addresses().join(','), '--tls-cert', file(otherCerts, 'client.crt'), '--tls-key', file(otherCerts, 'client.key'), '--tls-ca', file(otherCerts, 'ca.crt'), 'get', 'k']);
    assert.equal(result.status, 6, result.stderr);
    assert.match(result.stderr, /^raft-cli: error: .*TLS failed: the node's certificate is not trusted by --tls-ca/);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1);
  }));

  it('a certificate from another CA is refused by the node', track(async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: cluster.port(1), cert: readFileSync(file(otherCerts, 'node-1.crt')), key: readFileSync(file(otherCerts, 'node-1.key')), ca: readFileSync(file(certs, 'ca.crt')), minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    // TLS 1.3: the client may finish before the server has checked its certificate; the node then closes.
    await sendAndAwaitClose(socket, [hello(clusterIdOf(cluster, 1), 1, 1)]);
    await logOf(cluster, 1, 'TLS handshake failed, connection closed');
  }));

  it('node 4\'s valid certificate cannot speak for node 3: term and leader stay', track(async () => {
    const follower = cluster.ids.find((id) => id !== leader.id && id !== 3) ?? cluster.ids.find((id) => id !== leader.id)!;
    const material = { cert: readFileSync(file(certs, 'node-4.crt')), key: readFileSync(file(certs, 'node-4.key')), ca: readFileSync(file(certs, 'ca.crt')), minVersion: 'TLSv1.3' as const, checkServerIdentity: () => undefined };
    const clusterId = clusterIdOf(cluster, follower);
    const dial = async (): Promise<tls.TLSSocket> => {
      const socket = tls.connect({ host: '127.0.0.1', port: cluster.port(follower), ...material });
      await once(socket, 'secureConnect');
      return socket;
    };
    // A hello that claims node 3, then an honest hello followed by messages claiming node 3.
    await sendAndAwaitClose(await dial(), [hello(clusterId, 3, follower), takeover(3, follower, leader.term + 50)]);
    await sendAndAwaitClose(await dial(), [hello(clusterId, 4, follower), takeover(3, follower, leader.term + 60)]);
    await sendAndAwaitClose(await dial(), [takeover(3, follower, leader.term + 70)]);
    const warning = await logOf(cluster, follower, 'peer claims another node id than its certificate, connection closed');
    assert.equal(warning['identity'], 'node 4');
    // A client certificate may not send peer traffic at all.
    const client = tls.connect({ host: '127.0.0.1', port: cluster.port(follower), ...material, cert: readFileSync(file(certs, 'client.crt')), key: readFileSync(file(certs, 'client.key')) });
    await once(client, 'secureConnect');
    await sendAndAwaitClose(client, [hello(clusterId, 3, follower), takeover(3, follower, leader.term + 80)]);
    await logOf(cluster, follower, 'peer hello from a certificate that is not a node\'s, connection closed');
    const after = await cluster.waitForLeader(5_000);
    assert.equal(after.id, leader.id, 'the leader did not change');
    assert.equal(after.term, leader.term, 'the term did not change');
  }));

  it('a plaintext peer is refused with a clear log line and changes nothing', track(async () => {
    const target = cluster.ids.find((id) => id !== leader.id)!;
    const socket = net.connect({ host: '127.0.0.1', port: cluster.port(target) });
    await once(socket, 'connect');
    await sendAndAwaitClose(socket, [hello(clusterIdOf(cluster, target), 3, target), takeover(3, target, leader.term + 90)]);
    await logOf(cluster, target, 'plaintext connection refused: this node requires TLS');
    const after = await cluster.waitForLeader(5_000);
    assert.equal(after.id, leader.id);
    assert.equal(after.term, leader.term);
  }));
});
