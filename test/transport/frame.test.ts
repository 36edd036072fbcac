/**
 * The frame decoder must recover exactly the bodies that were framed, however TCP
 * cuts or merges the byte stream, and refuse an oversize frame from its header alone.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { FrameTooLargeError } from '../../src/errors.js';
import { encodeFrame, FrameDecoder } from '../../src/transport/frame.js';

const LIMIT = 1024 * 1024;

function bytes(...values: number[]): Buffer {
  return Buffer.from(values);
}

/** Feeds `chunks` one by one and collects every body returned. */
function decodeAll(decoder: FrameDecoder, chunks: readonly Buffer[]): Buffer[] {
  return chunks.flatMap((chunk) => decoder.push(chunk));
}

describe('encodeFrame', () => {
  it('prefixes the body with its length as 4 big-endian bytes', () => {
    assert.deepEqual(encodeFrame(bytes(7, 8, 9)), bytes(0, 0, 0, 3, 7, 8, 9));
  });

  it('accepts a plain Uint8Array', () => {
    assert.deepEqual(encodeFrame(new Uint8Array([1])), bytes(0, 0, 0, 1, 1));
  });
});

describe('FrameDecoder', () => {
  it('decodes a single frame in one chunk', () => {
    const decoder = new FrameDecoder(LIMIT);
    assert.deepEqual(decoder.push(encodeFrame(bytes(1, 2, 3))), [bytes(1, 2, 3)]);
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('decodes a frame split in two at every byte offset', () => {
    const body = Buffer.from('hello, raft');
    const frame = encodeFrame(body);
    for (let cut = 0; cut <= frame.length; cut += 1) {
      const decoder = new FrameDecoder(LIMIT);
      assert.deepEqual(decoder.push(frame.subarray(0, cut)), cut === frame.length ? [body] : [], `cut at ${cut}`);
      assert.deepEqual(decoder.push(frame.subarray(cut)), cut === frame.length ? [] : [body], `cut at ${cut}`);
    }
  });

  it('decodes a frame delivered one byte at a time', () => {
    const body = Buffer.from('byte by byte');
    const frame = encodeFrame(body);
    const decoder = new FrameDecoder(LIMIT);
    const chunks = [...frame].map((byte) => bytes(byte));
    assert.deepEqual(decodeAll(decoder, chunks), [body]);
  });

  it('decodes many frames merged into one chunk, in order', () => {
    const bodies = Array.from({ length: 100 }, (_, i) => Buffer.from(`message ${i}`));
    const decoder = new FrameDecoder(LIMIT);
    assert.deepEqual(decoder.push(Buffer.concat(bodies.map(encodeFrame))), bodies);
  });

  it('decodes a zero-length body', () => {
    const decoder = new FrameDecoder(LIMIT);
    assert.deepEqual(decoder.push(Buffer.concat([encodeFrame(bytes()), encodeFrame(bytes(5))])), [bytes(), bytes(5)]);
  });

  it('accepts a body of exactly frameBytesMax', () => {
    const decoder = new FrameDecoder(3);
    assert.deepEqual(decoder.push(encodeFrame(bytes(1, 2, 3))), [bytes(1, 2, 3)]);
  });

  it('throws FrameTooLargeError from the header alone, before the body arrives', () => {
    const decoder = new FrameDecoder(10);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(11);
    assert.throws(
      () => decoder.push(header),
      (err: unknown) => err instanceof FrameTooLargeError && err.bytes === 11 && err.limitBytes === 10,
    );
    // The stream is out of sync from here on: every later push fails the same way.
    assert.throws(() => decoder.push(bytes(0)), FrameTooLargeError);
  });

  it('throws on an oversize header split across chunks', () => {
    const decoder = new FrameDecoder(LIMIT);
    assert.deepEqual(decoder.push(bytes(0xff, 0xff)), []);
    assert.throws(() => decoder.push(bytes(0xff, 0xff)), FrameTooLargeError);
  });

  it('assembles a large frame from many chunks', () => {
    const body = Buffer.alloc(512 * 1024, 7);
    const frame = encodeFrame(body);
    const decoder = new FrameDecoder(LIMIT);
    const chunks: Buffer[] = [];
    for (let offset = 0; offset < frame.length; offset += 1000) chunks.push(frame.subarray(offset, offset + 1000));
    assert.deepEqual(decodeAll(decoder, chunks), [body]);
  });

  it('property: any frames cut at any boundaries decode to exactly the original bodies', () => {
    const bodies = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 });
    const cuts = fc.array(fc.nat(), { maxLength: 30 });
    fc.assert(
      fc.property(bodies, cuts, (originals, rawCuts) => {
        const stream = Buffer.concat(originals.map((body) => encodeFrame(body)));
        const offsets = [...new Set(rawCuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let start = 0;
        for (const offset of [...offsets, stream.length]) {
          chunks.push(stream.subarray(start, offset));
          start = offset;
        }
        const decoder = new FrameDecoder(LIMIT);
        const decoded = decodeAll(decoder, chunks);
        assert.deepEqual(decoded.map((body) => [...body]), originals.map((body) => [...body]));
        assert.equal(decoder.bufferedBytes, 0);
      }),
      { numRuns: 300 },
    );
  });
});
