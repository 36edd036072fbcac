import type { LogFields, NodeLogger } from '../../src/core/logger.js';
import type { SimWorld } from './sim-world.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** Keeps the last lines of every node in one ring buffer, stamped with simulated
 * time, to print when a seed fails. Lines below `level` are not even formatted. */
export class SimLogBuffer {
  private readonly lines: string[] = [];
  constructor(private readonly world: SimWorld, private readonly capacity: number, readonly level: (typeof LEVELS)[number], private readonly echo: boolean) {}

  add(line: string): void {
    const stamped = `${String(this.world.now()).padStart(7)}ms ${line}`;
    if (this.echo) process.stdout.write(`${stamped}\n`);
    this.lines.push(stamped);
    if (this.lines.length > this.capacity) this.lines.shift();
  }

  tail(): string[] {
    return [...this.lines];
  }

  logger(bindings: LogFields): NodeLogger {
    return new SimLogger(this, bindings);
  }
}

class SimLogger implements NodeLogger {
  private readonly minimum: number;
  constructor(private readonly buffer: SimLogBuffer, private readonly bindings: LogFields) {
    this.minimum = LEVELS.indexOf(buffer.level);
  }

  private write(level: (typeof LEVELS)[number], fields: LogFields, message: string): void {
    if (LEVELS.indexOf(level) < this.minimum) return;
    const where = `${String(this.bindings['node'] ?? '-')}/${String(this.bindings['component'] ?? '-')}`;
    const detail = Object.entries(fields)
      .map(([k, v]) => `${k}=${v instanceof Error ? v.message : JSON.stringify(v)}`)
      .join(' ');
    this.buffer.add(`${level.padEnd(5)} ${where} ${message} ${detail}`);
  }

  trace(fields: LogFields, message: string): void {
    this.write('trace', fields, message);
  }
  debug(fields: LogFields, message: string): void {
    this.write('debug', fields, message);
  }
  info(fields: LogFields, message: string): void {
    this.write('info', fields, message);
  }
  warn(fields: LogFields, message: string): void {
    this.write('warn', fields, message);
  }
  error(fields: LogFields, message: string): void {
    this.write('error', fields, message);
  }
  fatal(fields: LogFields, message: string): void {
    this.write('fatal', fields, message);
  }
  isLevelEnabled(level: string): boolean {
    return LEVELS.indexOf(level as (typeof LEVELS)[number]) >= this.minimum;
  }
  child(bindings: LogFields): NodeLogger {
    return new SimLogger(this.buffer, { ...this.bindings, ...bindings });
  }
}
