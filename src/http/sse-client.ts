import http from 'node:http';

export interface SseClientOptions {
  /** Called with each event's parsed JSON data. */
  readonly onEvent: (data: unknown) => void;
  /** Called when the stream is (re)connected or lost. */
  readonly onState?: (connected: boolean) => void;
  /** Delay before reconnecting after a loss. Default 500 ms; 0 = no reconnect. */
  readonly reconnectMs?: number;
}

/**
 * Follows one Server-Sent Events URL with node:http (Node 20 has no EventSource),
 * reconnecting after a loss until closed. Only `data:` lines of JSON are used.
 */
export class SseClient {
  #request: http.ClientRequest | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #connected = false;

  constructor(private readonly url: string, private readonly options: SseClientOptions) {
    this.#connect();
  }

  get connected(): boolean {
    return this.#connected;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#request?.destroy();
  }

  #connect(): void {
    if (this.#closed) return;
    let buffer = '';
    const request = http.get(this.url, { headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        this.#lost();
        return;
      }
      this.#setConnected(true);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trimStart()).join('\n');
          if (data !== '') {
            try {
              this.options.onEvent(JSON.parse(data));
            } catch {
              // Not JSON: not one of ours; skip it.
            }
          }
          end = buffer.indexOf('\n\n');
        }
      });
      res.on('close', () => this.#lost());
      res.on('error', () => this.#lost());
    });
    request.on('error', () => this.#lost());
    this.#request = request;
  }

  #setConnected(connected: boolean): void {
    if (this.#connected === connected) return;
    this.#connected = connected;
    this.options.onState?.(connected);
  }

  #lost(): void {
    this.#setConnected(false);
    if (this.#closed || this.#timer !== undefined) return;
    const delay = this.options.reconnectMs ?? 500;
    if (delay === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#connect();
    }, delay);
    this.#timer.unref();
  }
}
