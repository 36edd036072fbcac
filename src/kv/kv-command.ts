import msgpack from 'msgpack-lite';

import { SlabEncoder } from '../transport/slab-encoder.js';
import { createFastCodec } from '../transport/msgpack-codec.js';
import { ByteArena } from '../util/byte-arena.js';
import type { KvOperation } from '../protocol/client-messages.js';
import { KV_OPERATIONS } from '../protocol/client-messages.js';
import { isWellFormed } from '../util/utf8.js';

/** A write as it is stored in a log entry: the operation plus its session. */
export interface KvCommand {
  readonly operation: KvOperation;
  readonly clientId: string;
  readonly seq: number;
  /** The lowest seq this client has not yet seen answered: results below it can be
   * forgotten (Raft thesis §6.3). */
  readonly firstUnackedSeq: number;
}

export interface KvLimits {
  /** Largest key in UTF-8 bytes. Default 1 KiB. */
  readonly keyBytesMax: number;
  /** Largest value in UTF-8 bytes. Default 1 MiB. */
  readonly valueBytesMax: number;
}

export const DEFAULT_KV_LIMITS: KvLimits = { keyBytesMax: 1024, valueBytesMax: 1024 * 1024 };

/** No ext types: a command is an array of strings, numbers and nulls, which every
 * msgpack-lite codec writes alike (entries written with the default codec read the same). */
const commandCodec = createFastCodec({ preset: false }, KV_OPERATIONS);
/** Commands are encoded into shared slabs, not a new zero-filled 2 KiB buffer each. */
const commandEncoder = new SlabEncoder(commandCodec);
/** Where the bytes of proposed commands are kept, next to each other (see ByteArena). */
const commandArena = new ByteArena();

/**
 * Encodes a write for the log. The leader keeps every entry in memory until
 * compaction, so the bytes are copied out of the encoder's slab, which frames share,
 * into an arena that only log entries share (they are dropped in log order).
 */
export function encodeKvCommand(command: KvCommand): Uint8Array {
  const { operation, clientId, seq, firstUnackedSeq } = command;
  const encoded = commandEncoder.body([clientId, seq, firstUnackedSeq, operation.op, operation.key,
    'value' in operation ? operation.value : null, operation.op === 'cas' ? operation.expect : null]);
  const data = commandArena.copy(encoded);
  if (decodesUnchanged(command)) rememberEncoded(data, command);
  return data;
}

/**
 * Whether decoding the command's bytes gives back an equal command. UTF-8 cannot hold
 * a lone surrogate (encoding writes U+FFFD instead), so a string with one decodes
 * differently; strings that came off the wire never have one, but a caller in this
 * process may pass any string, and the leader must apply what its followers decode.
 */
function decodesUnchanged(command: KvCommand): boolean {
  const { operation, clientId } = command;
  if (!isWellFormed(clientId) || !isWellFormed(operation.key)) return false;
  if (operation.op === 'put' || operation.op === 'cas') {
    if (!isWellFormed(operation.value)) return false;
    if (operation.op === 'cas' && operation.expect !== null && !isWellFormed(operation.expect)) return false;
  }
  return true;
}

/**
 * Commands encoded here and not yet decoded, by the identity of their bytes. The
 * leader applies the very byte arrays it proposed, so it takes the command back from
 * here instead of decoding what it encoded a few milliseconds earlier; commands and
 * byte arrays are never changed once made, and only commands that decode unchanged
 * are kept. Bounded: a command that is never applied here (leadership lost) is
 * forgotten after RECENTLY_ENCODED_MAX newer ones.
 */
const recentlyEncoded = new Map<Uint8Array, KvCommand>();
const RECENTLY_ENCODED_MAX = 8192;

function rememberEncoded(data: Uint8Array, command: KvCommand): void {
  recentlyEncoded.set(data, command);
  if (recentlyEncoded.size > RECENTLY_ENCODED_MAX) recentlyEncoded.delete(recentlyEncoded.keys().next().value as Uint8Array);
}

/** Decodes a command the leader encoded; the leader validated it before proposing. */
export function decodeKvCommand(data: Uint8Array): KvCommand {
  const known = recentlyEncoded.get(data);
  if (known !== undefined) {
    recentlyEncoded.delete(data);
    return known;
  }
  // A Buffer view (no copy): msgpack-lite decodes strings natively only from a
  // Buffer, and one character at a time from a plain Uint8Array.
  const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const [clientId, seq, firstUnackedSeq, op, key, value, expect] = msgpack.decode(bytes, { codec: commandCodec }) as [
    string, number, number, KvOperation['op'], string, string | null, string | null,
  ];
  let operation: KvOperation;
  switch (op) {
    case 'put':
      operation = { op, key, value: value ?? '' };
      break;
    case 'delete':
      operation = { op, key };
      break;
    case 'cas':
      operation = { op, key, expect, value: value ?? '' };
      break;
    case 'get':
      operation = { op, key };
      break;
    default:
      throw new Error(`unknown kv operation ${String(op)}`);
  }
  return { operation, clientId, seq, firstUnackedSeq };
}

/** Why an operation is refused before it reaches the log, or undefined when fine. */
export function checkKvLimits(operation: KvOperation, limits: KvLimits): string | undefined {
  const keyBytes = Buffer.byteLength(operation.key, 'utf8');
  if (keyBytes === 0) return 'key must not be empty';
  if (keyBytes > limits.keyBytesMax) return `key is ${keyBytes} bytes, over the limit of ${limits.keyBytesMax} bytes`;
  if ('value' in operation) {
    const valueBytes = Buffer.byteLength(operation.value, 'utf8');
    if (valueBytes > limits.valueBytesMax) return `value is ${valueBytes} bytes, over the limit of ${limits.valueBytesMax} bytes`;
  }
  if (operation.op === 'cas' && operation.expect !== null) {
    const expectBytes = Buffer.byteLength(operation.expect, 'utf8');
    if (expectBytes > limits.valueBytesMax) return `expected value is ${expectBytes} bytes, over the limit of ${limits.valueBytesMax} bytes`;
  }
  return undefined;
}
