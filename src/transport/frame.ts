import { FrameTooLargeError } from '../errors.js';

/**
 * Framing (shared/DESIGN.md "Wire format"): a 4-byte big-endian unsigned length,
 * then that many bytes of body. An explicit length is simple to bound and to fuzz,
 * unlike relying on a streaming msgpack decoder to find message boundaries.
 */

export const FRAME_HEADER_BYTES = 4;
/** The largest length the 4-byte header can express. */
export const FRAME_BODY_BYTES_LIMIT = 0xffff_ffff;
/** Default for `frameBytesMax`: bodies above it close the connection. */
export const FRAME_BYTES_MAX_DEFAULT = 16 * 1024 * 1024;

/** Prefixes `body` with its length. Copies once: header and body end up in one buffer. */
export function encodeFrame(body: Uint8Array): Buffer {
  if (body.byteLength > FRAME_BODY_BYTES_LIMIT) {
    throw new FrameTooLargeError(body.byteLength, FRAME_BODY_BYTES_LIMIT);
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.byteLength);
  frame.writeUInt32BE(body.byteLength, 0);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Splits a byte stream back into frame bodies. Chunks are kept as a list and
 * concatenated once, when a whole header or body is present, so a large frame
 * arriving in many chunks costs O(size) rather than O(size²). A body that lies
 * inside one chunk is returned as a view of that chunk, without copying.
 *
 * After push() has thrown, the stream is out of sync and the decoder rethrows the
 * same error on every later push: the caller is expected to close the connection.
 */
export class FrameDecoder {
  readonly #frameBytesMax: number;
  readonly #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Length of the body being waited for, or -1 while waiting for a header. */
  #bodyBytes = -1;
  #failure: Error | undefined;

  /** @param frameBytesMax largest body accepted, in bytes (a header announcing more throws). */
  constructor(frameBytesMax: number) {
    if (!Number.isSafeInteger(frameBytesMax) || frameBytesMax < 0) {
      throw new RangeError(`frameBytesMax must be a non-negative integer, got ${frameBytesMax}`);
    }
    this.#frameBytesMax = Math.min(frameBytesMax, FRAME_BODY_BYTES_LIMIT);
  }

  /** Bytes received but not yet returned as part of a body (a header counts until it is complete). */
  get bufferedBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * Adds `chunk` and returns every body it completes, in order.
   * @throws FrameTooLargeError as soon as a header announces more than frameBytesMax.
   */
  push(chunk: Buffer): Buffer[] {
    if (this.#failure !== undefined) throw this.#failure;
    if (chunk.byteLength > 0) {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.byteLength;
    }
    const bodies: Buffer[] = [];
    for (;;) {
      if (this.#bodyBytes < 0) {
        if (this.#pendingBytes < FRAME_HEADER_BYTES) break;
        this.#bodyBytes = this.#readHeader();
      }
      if (this.#pendingBytes < this.#bodyBytes) break;
      bodies.push(this.#take(this.#bodyBytes));
      this.#bodyBytes = -1;
    }
    return bodies;
  }

  #readHeader(): number {
    const bodyBytes = this.#take(FRAME_HEADER_BYTES).readUInt32BE(0);
    if (bodyBytes > this.#frameBytesMax) {
      this.#failure = new FrameTooLargeError(bodyBytes, this.#frameBytesMax);
      this.#pending.length = 0;
      this.#pendingBytes = 0;
      throw this.#failure;
    }
    return bodyBytes;
  }

  /** Removes and returns the first `bytes` pending bytes. Precondition: that many are pending. */
  #take(bytes: number): Buffer {
    this.#pendingBytes -= bytes;
    const first = this.#pending[0];
    if (first === undefined) return Buffer.alloc(0); // bytes === 0 with nothing pending
    if (first.byteLength > bytes) {
      this.#pending[0] = first.subarray(bytes);
      return first.subarray(0, bytes);
    }
    if (first.byteLength === bytes) {
      this.#pending.shift();
      return first;
    }
    return this.#takeAcrossChunks(bytes);
  }

  #takeAcrossChunks(bytes: number): Buffer {
    const pieces: Buffer[] = [];
    let needed = bytes;
    let whole = 0;
    for (const chunk of this.#pending) {
      if (chunk.byteLength > needed) break;
      pieces.push(chunk);
      needed -= chunk.byteLength;
      whole += 1;
      if (needed === 0) break;
    }
    this.#pending.splice(0, whole);
    if (needed > 0) {
      const partial = this.#pending[0] as Buffer;
      pieces.push(partial.subarray(0, needed));
      this.#pending[0] = partial.subarray(needed);
    }
    return Buffer.concat(pieces, bytes);
  }
}
