import { createWriteStream, mkdirSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import path from 'node:path';
import type { HistoryEvent } from '../check/index.js';

/** Monotonic nanoseconds, as a Number (the history's `time`). */
export function monotonicNs(): number {
  return Number(process.hrtime.bigint());
}

/**
 * Records a client history: in memory, for the checkers, and as JSON Lines in the
 * order the events happened (one event per line), so a run that dies still leaves
 * what it recorded.
 */
export class HistoryWriter {
  readonly path: string;
  readonly events: HistoryEvent[] = [];
  private readonly stream: WriteStream;

  constructor(file: string) {
    this.path = file;
    mkdirSync(path.dirname(file), { recursive: true });
    this.stream = createWriteStream(file, { flags: 'w' });
    this.stream.on('error', (err) => process.stderr.write(`chaos: cannot write history ${file}: ${err.message}\n`));
  }

  /** Appends an event stamped with the current monotonic time; returns it. */
  record(event: Omit<HistoryEvent, 'time'>): HistoryEvent {
    const stamped: HistoryEvent = { ...event, time: monotonicNs() };
    this.events.push(stamped);
    this.stream.write(JSON.stringify(stamped) + '\n');
    return stamped;
  }

  async close(): Promise<void> {
    if (this.stream.closed || this.stream.writableEnded) return;
    await new Promise<void>((resolve) => this.stream.end(() => resolve()));
  }
}

/** An append-only JSON Lines log (the faults log). */
export class JsonlLog {
  readonly path: string;
  private readonly stream: WriteStream;

  constructor(file: string) {
    this.path = file;
    mkdirSync(path.dirname(file), { recursive: true });
    this.stream = createWriteStream(file, { flags: 'w' });
    this.stream.on('error', (err) => process.stderr.write(`chaos: cannot write ${file}: ${err.message}\n`));
  }

  write(record: object): void {
    this.stream.write(JSON.stringify(record) + '\n');
  }

  async close(): Promise<void> {
    if (this.stream.closed || this.stream.writableEnded) return;
    await new Promise<void>((resolve) => this.stream.end(() => resolve()));
  }
}
