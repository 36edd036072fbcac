/**
 * The narrow logger the core writes to: pino's method shape `(fields, message)`, so
 * production passes a pino child and the simulator a recorder. Messages are constant
 * phrases; everything variable is a field.
 */
export type LogFields = Record<string, unknown>;

export interface CoreLogger {
  trace(fields: LogFields, message: string): void;
  debug(fields: LogFields, message: string): void;
  info(fields: LogFields, message: string): void;
  warn(fields: LogFields, message: string): void;
  error(fields: LogFields, message: string): void;
  isLevelEnabled(level: string): boolean;
}

export const silentLogger: CoreLogger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  isLevelEnabled: () => false,
};

/**
 * What the driver and the services outside the core need from a logger: pino's
 * shape, so production passes pino and the simulator a recorder.
 */
export interface NodeLogger extends CoreLogger {
  fatal(fields: LogFields, message: string): void;
  child(bindings: LogFields): NodeLogger;
}
