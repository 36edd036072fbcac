// A real browser on the real page: a five-node cluster with --http-port, the
// `raft-cli dashboard` process, and headless Chromium from @sparticuz/chromium (the
// browser ships inside the npm package; nothing is downloaded) driven by
// puppeteer-core. The page must draw five nodes and one leader from live data, show
// a new leader with a higher term within 3 s of "kill" on the leader, draw the
// killed node as down and then up again, and show a put from the page committed on
// every node, with no console errors. A screenshot is saved (DASHBOARD_SCREENSHOT
// names the file; the README's is docs/dashboard.png). Everything started is
// killed by PID in `after`.
import chromium from '@sparticuz/chromium';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import puppeteer from 'puppeteer-core';
import type { Browser, Page } from 'puppeteer-core';
import { Cluster, freePorts, RAFT_CLI_BIN, waitFor } from '../../src/cluster/local-cluster.js';

const NODES = 5;

/** Flags for a headless browser that must not reach anything but 127.0.0.1. */
function browserArgs(profile: string): string[] {
  return ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage', '--disable-extensions', `--user-data-dir=${profile}`];
}

describe('the live dashboard in a real browser', () => {
  let ports: number[] = [];
  const cluster = new Cluster({ nodes: NODES, nodeArgs: (id) => ['--http-port', String(ports[id - 1])] });
  const profile = mkdtempSync(path.join(os.tmpdir(), 'raft-ts-chromium-'));
  let dashboard: ChildProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let url = '';
  const consoleErrors: string[] = [];
  let failed = false;

  before(async () => {
    ports = await freePorts(NODES + 1);
    await cluster.start();
    dashboard = spawn(
      process.execPath,
      [RAFT_CLI_BIN, '--cluster', cluster.addresses().join(','), 'dashboard', '--port', String(ports[NODES]), '--http', ports.slice(0, NODES).map((p) => `127.0.0.1:${p}`).join(',')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    dashboard.stdout!.on('data', (chunk: Buffer) => (output += String(chunk)));
    dashboard.stderr!.on('data', (chunk: Buffer) => (output += String(chunk)));
    url = await waitFor('the dashboard to listen', 10_000, async () => /dashboard on (http:\/\/\S+)/.exec(output)?.[1]);
    browser = await puppeteer.launch({ executablePath: await chromium.executablePath(), headless: true, args: browserArgs(profile), defaultViewport: { width: 1240, height: 800 }, timeout: 30_000 });
    page = await browser.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (err) => consoleErrors.push(String(err)));
  });

  after(async () => {
    const pid = browser?.process()?.pid;
    await browser?.close().catch(() => undefined);
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    if (dashboard?.pid !== undefined && dashboard.exitCode === null) {
      const exited = new Promise((resolve) => dashboard!.once('exit', resolve));
      process.kill(dashboard.pid, 'SIGKILL');
      await exited;
    }
    await cluster.destroy(failed);
    if (failed) process.stderr.write(`node logs kept in ${cluster.workDir}\n`);
    rmSync(profile, { recursive: true, force: true });
  });

  const drawn = (): Promise<{ up: number; leaders: string[]; leader: string; term: number }> =>
    page.evaluate(() => {
      const groups = [...document.querySelectorAll<SVGGElement>('#nodes g.node')];
      const summary = document.getElementById('summary')!;
      return {
        up: groups.filter((g) => g.dataset.up === 'true').length,
        leaders: groups.filter((g) => g.dataset.role === 'leader').map((g) => g.dataset.id!),
        leader: summary.dataset.leader ?? '',
        term: Number(summary.dataset.term ?? 0),
      };
    });

  it('draws the nodes and the leader, shows a new leader after "kill" on the page, and a put committed everywhere', async () => {
    try {
      const first = await cluster.waitForLeader(15_000);
      await page.goto(url, { waitUntil: 'load', timeout: 10_000 });
      await page.waitForFunction(
        (n: number, leader: number) => {
          const groups = [...document.querySelectorAll<SVGGElement>('#nodes g.node')];
          return groups.filter((g) => g.dataset.up === 'true').length === n && groups.filter((g) => g.dataset.role === 'leader').length === 1 && document.getElementById('summary')!.dataset.leader === String(leader);
        },
        { timeout: 10_000 },
        NODES,
        first.id,
      );
      const before = await drawn();
      assert.deepEqual(before.leaders, [String(first.id)]);
      assert.equal(before.term, first.term);
      // Messages are animated from the live event stream.
      await page.waitForFunction(() => document.querySelectorAll('#messages circle').length > 0, { timeout: 5000 });

      const clickedAt = Date.now();
      await page.click(`button.kill[data-id="${first.id}"]`);
      await page.waitForFunction(
        (old: number, term: number) => {
          const summary = document.getElementById('summary')!;
          return summary.dataset.leader !== '' && summary.dataset.leader !== String(old) && Number(summary.dataset.term) > term;
        },
        { timeout: 3000 },
        first.id,
        first.term,
      );
      const electedMs = Date.now() - clickedAt;
      const afterKill = await drawn();
      assert.equal(afterKill.leaders.length, 1);
      assert.equal(afterKill.up, NODES - 1);
      assert.ok(afterKill.term > first.term);
      await page.waitForSelector(`#nodes g.node[data-id="${first.id}"][data-up="false"]`, { timeout: 3000 });
      process.stdout.write(`# new leader ${afterKill.leader} (term ${afterKill.term}) drawn ${electedMs} ms after the kill\n`);
      await waitFor('the killed process to be gone', 3000, async () => (cluster.isRunning(first.id) ? undefined : true));

      const commits = (): Promise<{ id: string; up: boolean; commit: number }[]> =>
        page.$$eval('#nodes-table tbody tr', (rows) => rows.map((row) => ({ id: (row as HTMLElement).dataset.id!, up: (row as HTMLElement).dataset.up === 'true', commit: Number(row.querySelector('td.commit')!.textContent) })));
      const beforePut = Math.max(...(await commits()).filter((r) => r.up).map((r) => r.commit));
      await page.$eval('#put-key', (input) => ((input as HTMLInputElement).value = 'from-the-page'));
      await page.$eval('#put-value', (input) => ((input as HTMLInputElement).value = 'hello'));
      await page.click('#put-button');
      await page.waitForFunction(() => /^put /.test(document.getElementById('put-result')!.textContent ?? ''), { timeout: 5000 });
      await page.waitForFunction(
        (floor: number) => {
          const rows = [...document.querySelectorAll<HTMLElement>('#nodes-table tbody tr')].filter((row) => row.dataset.up === 'true');
          return rows.length > 0 && rows.every((row) => Number(row.querySelector('td.commit')!.textContent) > floor);
        },
        { timeout: 5000 },
        beforePut,
      );
      assert.equal(await cluster.raftClient().get('from-the-page'), 'hello');
      await page.waitForFunction(() => document.querySelectorAll('#timeline li').length >= 2, { timeout: 3000 });

      const shot = process.env['DASHBOARD_SCREENSHOT'] ?? path.join(os.tmpdir(), `raft-ts-dashboard-${process.pid}.png`);
      await page.screenshot({ path: shot as `${string}.png`, fullPage: true });
      process.stdout.write(`# screenshot saved to ${shot}\n`);

      // The restarted node comes back on the page.
      cluster.startNode(first.id);
      await page.waitForSelector(`#nodes g.node[data-id="${first.id}"][data-up="true"]`, { timeout: 10_000 });
      assert.deepEqual(consoleErrors, []);
    } catch (err) {
      failed = true;
      throw err;
    }
  });
});
