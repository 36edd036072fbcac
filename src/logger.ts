import pino from 'pino';
import type { Logger } from 'pino';

export interface RootLoggerOptions {
  readonly node: number;
  readonly level: string;
  /** One readable line per event (pino-pretty) instead of JSON lines. */
  readonly pretty: boolean;
}

/**
 * One root logger per process, with the node id on every line. Output is written
 * synchronously so nothing is lost when the process exits or is killed right after
 * logging, and so lines from the core and the transport stay in order.
 */
export async function createRootLogger(options: RootLoggerOptions): Promise<Logger> {
  const base = { base: { node: options.node }, level: options.level };
  if (!options.pretty) return pino(base, pino.destination({ dest: 1, sync: true }));
  // Loaded only when asked for: it is a few megabytes of memory a JSON logger never needs.
  const { default: pretty } = await import('pino-pretty');
  const stream = pretty({
    colorize: process.stdout.isTTY === true || process.env['FORCE_COLOR'] !== undefined,
    translateTime: 'HH:MM:ss.l',
    ignore: 'pid,hostname',
    singleLine: true,
    sync: true,
  });
  return pino(base, stream);
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
