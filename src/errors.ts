/**
 * Typed errors with stable codes (undici's convention): callers and tests branch on
 * `code`, never on message text.
 */
export class RaftError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A configuration or command-line value is invalid; the message says how to fix it. */
export class ConfigError extends RaftError {
  constructor(message: string, options?: ErrorOptions) {
    super('RAFT_CONFIG', message, options);
  }
}

export class FrameTooLargeError extends RaftError {
  constructor(readonly bytes: number, readonly limitBytes: number) {
    super('RAFT_FRAME_TOO_LARGE', `frame of ${bytes} bytes exceeds the limit of ${limitBytes} bytes`);
  }
}

/** Bytes that are not a valid message: undecodable msgpack or a failed field check. */
export class FrameDecodeError extends RaftError {
  constructor(message: string, options?: ErrorOptions) {
    super('RAFT_FRAME_DECODE', message, options);
  }
}

/** Persistent state cannot be trusted; the node must stop rather than guess. */
export class CorruptLogError extends RaftError {
  constructor(message: string, options?: ErrorOptions) {
    super('RAFT_CORRUPT_LOG', message, options);
  }
}

/**
 * A snapshot file does not verify (bad header, footer or data checksum). `file` and
 * `offset` say where, so an operator can inspect or move it; the node refuses to
 * start on it unless the log still holds everything the snapshot held.
 */
export class CorruptSnapshotError extends RaftError {
  constructor(readonly file: string, readonly offset: number, reason: string, options?: ErrorOptions) {
    super('RAFT_CORRUPT_SNAPSHOT', `snapshot ${file} is corrupt at offset ${offset} (${reason})`, options);
  }
}

/** A state machine was handed bytes that are not one of its snapshots (truncated,
 * corrupt or of another format): nothing was restored from them. */
export class InvalidSnapshotDataError extends RaftError {
  constructor(message: string, options?: ErrorOptions) {
    super('RAFT_INVALID_SNAPSHOT_DATA', message, options);
  }
}

/** A write or fsync failed: nothing that depended on it may be acknowledged. */
export class StorageError extends RaftError {
  constructor(message: string, options?: ErrorOptions) {
    super('RAFT_STORAGE', message, options);
  }
}

/** A core invariant does not hold: a bug. The process must stop (etcd panics). */
export class InvariantError extends RaftError {
  constructor(message: string) {
    super('RAFT_INVARIANT', message);
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}
