import type { ServerResponse } from 'node:http';

/** Comment lines keep idle streams open through proxies and detect gone clients. */
const KEEP_ALIVE_MS = 15_000;

/**
 * One Server-Sent Events stream. A client that does not keep up loses events
 * (write returned false) until its socket drains, so a slow page cannot make the
 * server buffer without bound.
 */
export class SseStream {
  #blocked = false;
  #closed = false;
  readonly #keepAlive: ReturnType<typeof setInterval>;

  constructor(private readonly res: ServerResponse, onClose: () => void) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write('retry: 1000\n\n');
    res.on('drain', () => {
      this.#blocked = false;
    });
    this.#keepAlive = setInterval(() => this.#write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    this.#keepAlive.unref();
    res.once('close', () => {
      this.#closed = true;
      clearInterval(this.#keepAlive);
      onClose();
    });
  }

  /** Sends one JSON event; dropped while the client lags. */
  send(data: unknown): void {
    this.#write(`data: ${JSON.stringify(data)}\n\n`);
  }

  end(): void {
    if (!this.#closed) this.res.end();
  }

  #write(text: string): void {
    if (this.#closed || this.#blocked) return;
    if (!this.res.write(text)) this.#blocked = true;
  }
}
