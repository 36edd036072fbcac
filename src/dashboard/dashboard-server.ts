import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { listenHttp } from '../http/listen.js';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RaftClient } from '../client/raft-client.js';
import { SseClient } from '../http/sse-client.js';
import { SseStream } from '../http/sse.js';
import type { NodeStatusJson } from '../node/node-status.js';

/** The page's files, shipped in the package: dist/src/dashboard/ → src/dashboard/static. */
export const STATIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/dashboard/static');

const STATIC_FILES: Readonly<Record<string, string>> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/app.js': 'app.js',
  '/style.css': 'style.css',
};
const CONTENT_TYPES: Readonly<Record<string, string>> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/** One node as the page's /api/status lists it. */
export type NodeRow = { readonly http: string; readonly up: true; readonly status: NodeStatusJson } | { readonly http: string; readonly up: false; readonly error: string };

export interface DashboardServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Each node's HTTP endpoint (host:port), as given to raft-node --http-port. */
  readonly nodes: readonly string[];
  /** The nodes' client addresses (raft-cli --cluster), for writes from the page. */
  readonly cluster: readonly string[];
  /** How long one node's /status may take before it is drawn as down. Default 500 ms. */
  readonly statusTimeoutMs?: number;
}

/**
 * Serves the live page and is its only server: it follows every node's /events
 * (reconnecting while a node is down) and fans them out on /api/events, answers
 * /api/status from every node's /status, and carries out the page's controls
 * (put a key; SIGKILL a node by the pid that node reports).
 */
export class DashboardServer {
  readonly #server: http.Server;
  readonly #upstreams: SseClient[] = [];
  readonly #streams = new Set<SseStream>();
  readonly #client: RaftClient;
  readonly #timeoutMs: number;

  constructor(private readonly options: DashboardServerOptions) {
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: (err as Error).message }));
      });
    });
    this.#client = new RaftClient({ cluster: [...options.cluster], deadlineMs: 5000, attemptTimeoutMs: 1000 });
    this.#timeoutMs = options.statusTimeoutMs ?? 500;
  }

  async listen(): Promise<AddressInfo> {
    const bound = await listenHttp(this.#server, this.options.port, this.options.host);
    for (const node of this.options.nodes) {
      this.#upstreams.push(new SseClient(`http://${node}/events`, {
        onEvent: (data) => this.#broadcast({ ...(data as object), http: node }),
        onState: (up) => this.#broadcast({ type: up ? 'node-up' : 'node-down', http: node, ts: Date.now() }),
      }));
    }
    return bound;
  }

  async close(): Promise<void> {
    for (const upstream of this.#upstreams) upstream.close();
    for (const stream of this.#streams) stream.end();
    this.#client.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Every node's /status, or why it could not be had. */
  async statuses(): Promise<NodeRow[]> {
    return Promise.all(this.options.nodes.map(async (node): Promise<NodeRow> => {
      try {
        const res = await fetch(`http://${node}/status`, { signal: AbortSignal.timeout(this.#timeoutMs) });
        if (res.status !== 200) return { http: node, up: false, error: `HTTP ${res.status}` };
        return { http: node, up: true, status: (await res.json()) as NodeStatusJson };
      } catch (err) {
        return { http: node, up: false, error: (err as Error).message };
      }
    }));
  }

  #broadcast(event: object): void {
    for (const stream of this.#streams) stream.send(event);
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = (req.url ?? '/').split('?')[0]!;
    const file = STATIC_FILES[url];
    if (req.method === 'GET' && file !== undefined) {
      const body = await readFile(path.join(STATIC_DIR, file));
      res.writeHead(200, { 'content-type': CONTENT_TYPES[path.extname(file)]!, 'cache-control': 'no-cache' }).end(body);
    } else if (req.method === 'GET' && url === '/api/status') {
      json(res, 200, await this.statuses());
    } else if (req.method === 'GET' && url === '/api/events') {
      const stream = new SseStream(res, () => this.#streams.delete(stream));
      this.#streams.add(stream);
      for (const [i, upstream] of this.#upstreams.entries()) stream.send({ type: upstream.connected ? 'node-up' : 'node-down', http: this.options.nodes[i], ts: Date.now() });
    } else if (req.method === 'POST' && url === '/api/put') {
      const body = (await readJson(req)) as { key?: unknown; value?: unknown };
      if (typeof body.key !== 'string' || body.key === '' || typeof body.value !== 'string') {
        json(res, 400, { error: 'give {"key": "...", "value": "..."}' });
        return;
      }
      const previous = await this.#client.put(body.key, body.value);
      json(res, 200, { ok: true, key: body.key, previous });
    } else if (req.method === 'POST' && url === '/api/kill') {
      const body = (await readJson(req)) as { id?: unknown };
      // Only a pid a node reports for itself is ever signalled.
      const row = (await this.statuses()).find((r) => r.up && r.status.id === body.id);
      if (row === undefined || !row.up) {
        json(res, 404, { error: `node ${String(body.id)} is not answering` });
        return;
      }
      process.kill(row.status.pid, 'SIGKILL');
      json(res, 200, { ok: true, id: row.status.id, pid: row.status.pid });
    } else {
      json(res, 404, { error: 'not found' });
    }
  }
}

function json(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > 64 * 1024) throw new Error('request body too large');
  }
  return text === '' ? {} : JSON.parse(text);
}
