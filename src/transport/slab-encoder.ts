import { createRequire } from 'node:module';
import type { Codec } from 'msgpack-lite';

import { FrameTooLargeError } from '../errors.js';
import { FRAME_BODY_BYTES_LIMIT, FRAME_HEADER_BYTES } from './frame.js';

/**
 * The part of msgpack-lite's EncodeBuffer used here (lib/encode-buffer.js: the
 * buffer that `msgpack.encode` creates for every call). It writes into a current
 * buffer from `offset` on; `read()` returns what was written since the last read,
 * as a view when it fits in one buffer, concatenated otherwise.
 */
interface EncodeBuffer {
  bufferish: { alloc(size: number): Buffer; concat(list: readonly Buffer[], length?: number): Buffer };
  minBufferSize: number;
  reserve(length: number): number;
  send(buffer: Buffer): void;
  write(value: unknown): void;
  read(): Buffer | undefined;
}

type EncodeBufferConstructor = new (options: { codec?: Codec }) => EncodeBuffer;

const require = createRequire(import.meta.url);
const { EncodeBuffer } = require('msgpack-lite/lib/encode-buffer.js') as { EncodeBuffer: EncodeBufferConstructor };
const Bufferish = require('msgpack-lite/lib/bufferish.js') as EncodeBuffer['bufferish'];

/** Slab size: many small frames (heartbeats, acknowledgements) share one allocation. */
const SLAB_BYTES = 64 * 1024;

/**
 * Encodes messages as frames into shared slabs. `msgpack.encode` allocates a new
 * zero-filled 2 KiB buffer per message, and prefixing the length header then copies
 * the body once more; here one long-lived encoder reserves the four header bytes in
 * front of the body and writes the length after, so a frame is a view of a slab
 * (slabs are not zero-filled: every byte of a frame is written). A slab is freed
 * once the frames cut from it are; a frame larger than what is left of a slab is
 * assembled by msgpack-lite in one new buffer, as before.
 */
export class SlabEncoder {
  readonly #encoder: EncodeBuffer;

  /** @param codec msgpack-lite's codec to encode with (its default preset when omitted). */
  constructor(codec?: Codec) {
    this.#encoder = new EncodeBuffer(codec === undefined ? {} : { codec });
    const bufferish = Object.create(Bufferish) as EncodeBuffer['bufferish'];
    bufferish.alloc = (size: number) => Buffer.allocUnsafeSlow(size);
    bufferish.concat = (list: readonly Buffer[], length?: number) => Buffer.concat(list, length);
    this.#encoder.bufferish = bufferish;
    this.#encoder.minBufferSize = SLAB_BYTES;
  }

  /**
   * The msgpack bytes of `value`, as a view of a slab: valid until the slab's space
   * is reused, which it never is, but it pins the slab. Copy what is kept (a log
   * entry), and let go of the view.
   */
  body(value: unknown): Buffer {
    const encoder = this.#encoder;
    let body: Buffer | undefined;
    try {
      encoder.write(value);
    } finally {
      // Taken even when encoding throws, so the next value starts on a clean boundary.
      body = encoder.read();
    }
    return body ?? Buffer.alloc(0);
  }

  /** The frame for `value`: a 4-byte big-endian body length, then the msgpack body. */
  frame(value: unknown): Buffer {
    return this.frameWith(value);
  }

  /**
   * The frame for the map `head` with one more field, `key`, whose value is
   * `encodedValue`: bytes this encoder (or msgpack-lite) made earlier for it. The
   * frame is the one `frame({ ...head, [key]: value })` would give, up to the order
   * of the fields, so a value shared by many messages (a leader's entries, sent to
   * every follower) is encoded once. `head` must be a plain object of fewer than 15
   * fields, so that its map header is the one byte patched here.
   */
  frameWithEncoded(head: Readonly<Record<string, unknown>>, key: string, encodedValue: Buffer): Buffer {
    return this.frameWith(head, key, encodedValue);
  }

  private frameWith(value: unknown, extraKey?: string, extraValue?: Buffer): Buffer {
    const encoder = this.#encoder;
    encoder.reserve(FRAME_HEADER_BYTES);
    let frame: Buffer;
    try {
      encoder.write(value);
      if (extraKey !== undefined) {
        encoder.write(extraKey);
        encoder.send(extraValue!);
      }
    } finally {
      // Taken even when encoding throws, so the next frame starts on a clean boundary.
      frame = encoder.read()!;
    }
    if (extraKey !== undefined) {
      // A fixmap's header is 0x80 + its field count; the head had one field less.
      const header = frame[FRAME_HEADER_BYTES]!;
      if (header < 0x80 || header >= 0x8f) throw new Error(`frameWithEncoded: the head must be a map of at most 14 fields (header 0x${header.toString(16)})`);
      frame[FRAME_HEADER_BYTES] = header + 1;
    }
    const bodyBytes = frame.byteLength - FRAME_HEADER_BYTES;
    if (bodyBytes > FRAME_BODY_BYTES_LIMIT) throw new FrameTooLargeError(bodyBytes, FRAME_BODY_BYTES_LIMIT);
    frame.writeUInt32BE(bodyBytes, 0);
    return frame;
  }
}
