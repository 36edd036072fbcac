import http from 'node:http';
import { listenHttp } from './listen.js';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { NodeEvents } from '../node/node-events.js';
import type { NodeMetrics } from '../node/metrics.js';
import type { NodeStatusJson } from '../node/node-status.js';
import { SseStream } from './sse.js';

export interface NodeHttpServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly metrics: NodeMetrics;
  readonly events: NodeEvents;
  readonly status: () => NodeStatusJson;
  readonly logger: Logger;
}

/**
 * The node's observability endpoint (node:http, no framework):
 * `GET /metrics` (Prometheus text), `GET /status` (one JSON object),
 * `GET /events` (Server-Sent Events, the first one a `status` snapshot).
 */
export class NodeHttpServer {
  readonly #server: http.Server;
  readonly #streams = new Set<SseStream>();

  constructor(private readonly options: NodeHttpServerOptions) {
    this.#server = http.createServer((req, res) => this.#handle(req, res));
  }

  /** Listens; resolves with the bound address. */
  async listen(): Promise<AddressInfo> {
    return listenHttp(this.#server, this.options.port, this.options.host);
  }

  async close(): Promise<void> {
    for (const stream of this.#streams) stream.end();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/metrics') {
      this.options.metrics.text().then(
        (text) => res.writeHead(200, { 'content-type': this.options.metrics.contentType }).end(text),
        (err: unknown) => {
          this.options.logger.error({ err }, 'metrics collection failed');
          res.writeHead(500).end();
        },
      );
    } else if (path === '/status') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.options.status()));
    } else if (path === '/events') {
      let unsubscribe = (): void => undefined;
      const stream = new SseStream(res, () => {
        unsubscribe();
        this.#streams.delete(stream);
      });
      this.#streams.add(stream);
      stream.send({ type: 'status', ts: Date.now(), status: this.options.status() });
      unsubscribe = this.options.events.subscribe((event) => stream.send(event));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /status or /events\n');
    }
  }
}
