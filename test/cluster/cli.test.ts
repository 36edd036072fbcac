// Command-line behaviour of the real binaries: every kind of bad input exits
// non-zero with exactly one line that says what is wrong (no stack trace), and a
// node stops cleanly with exit code 0 on SIGTERM and SIGINT.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { RaftClient } from '../../src/client/raft-client.js';
import { RAFT_CLI_BIN, RAFT_NODE_BIN, freePorts, waitFor } from '../../src/cluster/local-cluster.js';

const workDir = mkdtempSync(path.join(os.tmpdir(), 'raft-ts-cli-'));
after(() => rmSync(workDir, { recursive: true, force: true }));

function runNode(args: string[]): { status: number | null; stderr: string; stdout: string } {
  const result = spawnSync(process.execPath, [RAFT_NODE_BIN, ...args], { encoding: 'utf8', timeout: 20_000, cwd: workDir });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

function assertOneLineError(result: { status: number | null; stderr: string }, code: number, pattern: RegExp): void {
  assert.equal(result.status, code, `exit code (stderr: ${result.stderr})`);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line, got: ${result.stderr}`);
  assert.match(lines[0]!, /^raft-node: error: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
}

describe('raft-node refuses bad input with one clear line', () => {
  it('an id that is not in the peer list', () => {
    assertOneLineError(runNode(['--id', '9']), 2, /--id 9 is not in the peer list \(1, 2, 3, 4, 5\)/);
  });

  it('a malformed peer list', () => {
    assertOneLineError(runNode(['--id', '1', '--peers', '1=127.0.0.1:8001,two']), 2, /"two" is not of the form id=host:port/);
    assertOneLineError(runNode(['--id', '1', '--peers', '1=127.0.0.1:99999']), 2, /port must be an integer from 1 to 65535/);
    assertOneLineError(runNode(['--id', '1', '--peers', '1=127.0.0.1:8001,1=127.0.0.1:8002']), 2, /names node 1 twice/);
  });

  it('non-numeric and out-of-range numbers', () => {
    assertOneLineError(runNode(['--id', 'one']), 2, /--id must be an integer, got "one"/);
    assertOneLineError(runNode(['--id', '1', '--tick-ms', 'fast']), 2, /--tick-ms must be an integer/);
    assertOneLineError(runNode(['--id', '1', '--port', '70000']), 2, /--port must be between 0 and 65535/);
    assertOneLineError(runNode(['--id', '1', '--election-ticks', '0']), 2, /--election-ticks must be between/);
  });

  it('election ticks not greater than heartbeat ticks', () => {
    assertOneLineError(runNode(['--id', '1', '--election-ticks', '3', '--heartbeat-ticks', '3']), 2, /election ticks \(3\) must be an integer greater than heartbeat ticks \(3\)/);
  });

  it('a data dir that cannot be created', () => {
    const file = path.join(workDir, 'a-file');
    writeFileSync(file, 'not a directory');
    assertOneLineError(runNode(['--id', '1', '--data-dir', path.join(file, 'sub')]), 2, /data dir .* cannot be created or written \(ENOTDIR\)/);
  });

  it('a data dir where nothing can be created (/proc) exits instead of spinning', { skip: process.platform !== 'linux' }, () => {
    // Node's recursive mkdir loops forever on ENOENT under /proc; runNode's 20 s timeout would show it.
    assertOneLineError(runNode(['--id', '1', '--data-dir', '/proc/x']), 2, /data dir \/proc\/x cannot be created or written \(ENOENT\)/);
    const result = runNode(['--id', '1', '--data-dir', '/proc/raft-ts-x/y']);
    assertOneLineError(result, 2, /data dir \/proc\/raft-ts-x\/y cannot be created or written \(ENOENT\)/);
  });

  it('a busy port', async () => {
    const [port] = await freePorts(1);
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const result = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [RAFT_NODE_BIN, '--id', '1', '--peers', `1=127.0.0.1:${port}`, '--data-dir', path.join(workDir, 'busy')], { cwd: workDir });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('exit', (status) => resolve({ status, stderr }));
      });
      assertOneLineError(result, 2, new RegExp(`port 127\\.0\\.0\\.1:${port} is already in use`));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('--join with --peers, or without --port', () => {
    assertOneLineError(runNode(['--id', '6', '--port', '8006', '--join', '127.0.0.1:8001', '--peers', '1=127.0.0.1:8001']), 2, /--join and --peers exclude each other/);
    assertOneLineError(runNode(['--id', '6', '--join', '127.0.0.1:8001']), 2, /--join needs --port/);
    assertOneLineError(runNode(['--id', '6', '--port', '8006', '--join', '127.0.0.1:notaport']), 2, /invalid address "127.0.0.1:notaport"/);
  });

  it('an unknown flag', () => {
    const result = runNode(['--id', '1', '--bogus']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /unknown option '--bogus'/);
  });
});

describe('raft-node stops cleanly', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`exits 0 on ${signal} after logging that it stopped`, async () => {
      const [port] = await freePorts(1);
      const child = spawn(process.execPath, [RAFT_NODE_BIN, '--id', '1', '--peers', `1=127.0.0.1:${port}`, '--data-dir', path.join(workDir, `stop-${signal}`)], { cwd: workDir });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const client = new RaftClient({ cluster: [`127.0.0.1:${port}`] });
      try {
        // A single-node cluster elects itself; wait until it leads, then stop it.
        await waitFor('the single node to lead', 10_000, async () => {
          const [row] = await client.clusterStatus(500);
          return row !== undefined && 'status' in row && row.status.role === 'leader' ? true : undefined;
        });
        child.kill(signal);
        assert.equal(await exited, 0);
        const messages = stdout.trim().split('\n').map((line) => (JSON.parse(line) as { msg: string }).msg);
        assert.ok(messages.includes('stopping'), 'logged stopping');
        assert.equal(messages[messages.length - 1], 'stopped');
      } finally {
        client.close();
        child.kill('SIGKILL');
      }
    });
  }
});

describe('raft-cli', () => {
  it('status --json reports every unreachable node as an error row and exits 3', async () => {
    const ports = await freePorts(2);
    const cluster = ports.map((p) => `127.0.0.1:${p}`).join(',');
    const result = spawnSync(process.execPath, [RAFT_CLI_BIN, '--cluster', cluster, '--json', 'status'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(result.status, 3);
    const rows = JSON.parse(result.stdout) as { address: string; error: string }[];
    assert.deepEqual(rows.map((r) => [r.address, r.error]), ports.map((p) => [`127.0.0.1:${p}`, 'ECONNREFUSED']));
  });

  it('a write with no reachable node prints one line and exits 3', async () => {
    const [port] = await freePorts(1);
    const result = spawnSync(process.execPath, [RAFT_CLI_BIN, '--cluster', `127.0.0.1:${port}`, '--timeout-ms', '300', 'put', 'k', 'v'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(result.status, 3);
    assert.equal(result.stderr.trimEnd().split('\n').length, 1);
    assert.match(result.stderr, /^raft-cli: error: no node of the cluster is reachable/);
  });

  it('a malformed --cluster exits 2', () => {
    const result = spawnSync(process.execPath, [RAFT_CLI_BIN, '--cluster', 'nonsense', 'get', 'k'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /^raft-cli: error: invalid address "nonsense"/);
  });
});
