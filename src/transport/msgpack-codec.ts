import { createRequire } from 'node:module';
import msgpack from 'msgpack-lite';
import type { Codec, CodecOptions } from 'msgpack-lite';

import { utf8Slice, utf8Write } from '../util/utf8.js';

/**
 * msgpack-lite codecs with faster handlers for what our messages are made of, and the
 * same bytes.
 *
 * msgpack-lite reads and writes every string through its "bufferish" shims, which
 * call Buffer.prototype.toString / write with `arguments` and an encoding name to
 * normalize: that costs more than the UTF-8 work itself for the short strings of
 * our messages (field names, a key, a client id). A decoded client request has
 * fifteen strings, an AppendRequest four per entry, and these shims were about half
 * of the time to decode either. The codecs made here keep msgpack-lite's type tables
 * and replace the handlers of strings (Buffer's UTF-8 methods directly; known strings
 * read back as themselves), maps when they decode to Map (no key and value arrays
 * first), and arrays and plain objects on the way out (no per-object type probes).
 * test/transport/msgpack-codec.test.ts compares both ways with the stock codec.
 *
 * The type tables come from msgpack-lite's own modules (lib/read-token.js,
 * lib/write-type.js), as the slab encoder takes lib/encode-buffer.js; the version is
 * pinned in package-lock.json.
 */

/** The part of msgpack-lite's decode buffer a type handler uses. */
interface DecodeState {
  buffer: Buffer;
  offset: number;
  reserve(length: number): number;
}

/** The part of msgpack-lite's encode buffer a type handler uses. */
interface EncodeState {
  buffer: Buffer;
  offset: number;
  reserve(length: number): number;
}

type ReadHandler = ((decoder: DecodeState) => unknown) | null;
type WriteHandler = (encoder: EncodeState, value: unknown) => void;

interface CodecWithHandlers extends Codec {
  decode: (decoder: DecodeState) => unknown;
  encode: (encoder: EncodeState, value: unknown) => void;
}

const require = createRequire(import.meta.url);
const { getReadToken } = require('msgpack-lite/lib/read-token.js') as { getReadToken(options: CodecOptions): ReadHandler[] };
const { getWriteType } = require('msgpack-lite/lib/write-type.js') as { getWriteType(options: CodecOptions): Record<string, WriteHandler> };

/**
 * A codec like `msgpack.createCodec(options)`, with the faster string handlers.
 * `knownStrings` (field names, type tags) are read back as the very same string
 * objects, with no UTF-8 work and no new string to collect (a KvRequest decodes in
 * 2.0 µs instead of 2.9, a 70-entry append in 76 µs instead of 125); other strings
 * go through Buffer's UTF-8 methods.
 */
export function createFastCodec(options: CodecOptions, knownStrings: readonly string[] = []): Codec {
  if (options.useraw === true) throw new Error('createFastCodec: useraw reads strings as bytes; use msgpack.createCodec');
  const codec = msgpack.createCodec(options) as CodecWithHandlers;
  const known = new KnownStrings(knownStrings);
  codec.decode = fastDecoder(options, known);
  codec.encode = fastEncoder(options);
  return codec;
}

/** The fixstr (under 32 bytes) among the known strings, by their encoding. */
class KnownStrings {
  /** Candidates by slot(): a string's UTF-8 bytes and the string. */
  readonly #slots: { bytes: Buffer; value: string }[][] = Array.from({ length: KNOWN_SLOTS }, () => []);

  constructor(strings: readonly string[]) {
    for (const value of new Set(strings)) {
      const bytes = Buffer.from(value, 'utf8');
      // Only strings that read back unchanged, in a one-byte header.
      if (bytes.byteLength === 0 || bytes.byteLength >= 32 || bytes.toString('utf8') !== value) continue;
      this.#slots[slot(bytes, 0, bytes.byteLength)]!.push({ bytes, value });
    }
  }

  /** The known string whose UTF-8 bytes are buffer[start, start + length), if any. */
  read(buffer: Buffer, start: number, length: number): string | undefined {
    if (length === 0) return undefined;
    for (const candidate of this.#slots[slot(buffer, start, length)]!) {
      const bytes = candidate.bytes;
      if (bytes.byteLength !== length) continue;
      let i = 0;
      while (i < length && bytes[i] === buffer[start + i]) i += 1;
      if (i === length) return candidate.value;
    }
    return undefined;
  }
}

const KNOWN_SLOTS = 512;

/** A cheap spread of (length, first, middle and last byte) over the slots. */
function slot(buffer: Uint8Array, start: number, length: number): number {
  return ((length * 31 + buffer[start]!) * 31 + buffer[start + (length >> 1)]! * 7 + buffer[start + length - 1]!) % KNOWN_SLOTS;
}

/** A string of `length` bytes; a known one when `known` has it (fixstr only). */
function readString(decoder: DecodeState, length: number, known?: KnownStrings): string {
  const start = decoder.reserve(length);
  return known?.read(decoder.buffer, start, length) ?? utf8Slice(decoder.buffer, start, start + length);
}

/** msgpack-lite's read-core decode over its own token table, string entries replaced. */
function fastDecoder(options: CodecOptions, known: KnownStrings): (decoder: DecodeState) => unknown {
  const token = getReadToken(options).slice();
  for (let length = 0; length < 32; length += 1) token[0xa0 + length] = (decoder) => readString(decoder, length, known); // fixstr
  if (options.usemap === true) {
    // Straight into the Map: msgpack-lite first reads keys and values into two arrays.
    for (let size = 0; size < 16; size += 1) token[0x80 + size] = (decoder) => readMap(decoder, size, decode); // fixmap
    token[0xde] = (decoder) => readMap(decoder, decoder.buffer.readUInt16BE(decoder.reserve(2)), decode); // map 16
    token[0xdf] = (decoder) => readMap(decoder, decoder.buffer.readUInt32BE(decoder.reserve(4)), decode); // map 32
  }
  token[0xd9] = (decoder) => readString(decoder, decoder.buffer[decoder.reserve(1)]!); // str 8
  token[0xda] = (decoder) => readString(decoder, decoder.buffer.readUInt16BE(decoder.reserve(2))); // str 16
  token[0xdb] = (decoder) => readString(decoder, decoder.buffer.readUInt32BE(decoder.reserve(4))); // str 32
  return decode;

  function decode(decoder: DecodeState): unknown {
    const type = decoder.buffer[decoder.reserve(1)]!;
    const handler = token[type];
    // msgpack-lite's own message for the one byte no format uses (0xc1).
    if (!handler) throw new Error(`Invalid type: ${type ? `0x${type.toString(16)}` : type}`);
    return handler(decoder);
  }
}

function readMap(decoder: DecodeState, size: number, decode: (decoder: DecodeState) => unknown): Map<unknown, unknown> {
  // msgpack-lite's guard: every key and value takes a byte at least, so a size the
  // rest of the buffer cannot hold is refused before anything is read.
  if (2 * size > decoder.buffer.length - decoder.offset) throw new Error('BUFFER_SHORTAGE');
  const map = new Map<unknown, unknown>();
  for (let i = 0; i < size; i += 1) {
    const key = decode(decoder);
    map.set(key, decode(decoder));
  }
  return map;
}

/**
 * A string under 32 characters that is all ASCII, as a fixstr written byte by byte:
 * for field names, keys and ids, crossing into Buffer's C++ writer costs more than
 * the loop. Writes nothing and returns false at the first non-ASCII character.
 */
function writeShortAscii(encoder: EncodeState, value: string): boolean {
  const length = value.length;
  for (let i = 0; i < length; i += 1) if (value.charCodeAt(i) >= 0x80) return false;
  const start = encoder.reserve(1 + length);
  const buffer = encoder.buffer;
  buffer[start] = 0xa0 + length;
  for (let i = 0; i < length; i += 1) buffer[start + 1 + i] = value.charCodeAt(i);
  return true;
}

/** Header bytes of a str of `length` bytes: fixstr, str 8, str 16, str 32. */
function stringHeaderBytes(length: number): number {
  return length < 32 ? 1 : length <= 0xff ? 2 : length <= 0xffff ? 3 : 5;
}

/**
 * msgpack-lite's string writer, step for step: reserve the worst case, guess the
 * header from the length in UTF-16 units, write the UTF-8 bytes after it, move them
 * when the real header is longer or shorter, then write the header.
 */
function writeString(encoder: EncodeState, value: string): void {
  if (value.length < 32 && writeShortAscii(encoder, value)) return;
  const start = encoder.reserve(5 + value.length * 3);
  const buffer = encoder.buffer;
  const expected = stringHeaderBytes(value.length);
  const bytes = utf8Write(buffer, value, start + expected);
  const actual = stringHeaderBytes(bytes);
  if (actual !== expected) buffer.copy(buffer, start + actual, start + expected, start + expected + bytes);
  if (actual === 1) {
    buffer[start] = 0xa0 + bytes;
  } else if (actual === 2) {
    buffer[start] = 0xd9;
    buffer[start + 1] = bytes;
  } else if (actual === 3) {
    buffer[start] = 0xda;
    buffer.writeUInt16BE(bytes, start + 1);
  } else {
    buffer[start] = 0xdb;
    buffer.writeUInt32BE(bytes, start + 1);
  }
  encoder.offset = start + actual + bytes;
}

/**
 * msgpack-lite's write-core encode over its own type table, the string writer
 * replaced. (Known strings are not looked up here: a Map lookup of each string cost
 * more than writing it, 2.6 against 2.2 µs for a KvResponse.)
 */
function fastEncoder(options: CodecOptions): (encoder: EncodeState, value: unknown) => void {
  const stock = getWriteType(options);
  const stockObject = stock['object']!;
  /**
   * Arrays and plain objects straight to their array and map: msgpack-lite's object
   * handler first asks each one whether it is a Buffer, an int64, or has an ext
   * packer for its constructor, and walks the keys through a closure. Anything else
   * (null, Buffer, Map, ext types, objects of other classes) goes to that handler.
   */
  const object = (encoder: EncodeState, value: object | null): void => {
    if (Array.isArray(value)) {
      writeContainerHeader(encoder, value.length, 0x90, 0xdc);
      for (let i = 0; i < value.length; i += 1) encode(encoder, value[i]);
      return;
    }
    if (value !== null && Object.getPrototypeOf(value) === Object.prototype) {
      const keys = Object.keys(value);
      writeContainerHeader(encoder, keys.length, 0x80, 0xde);
      for (const key of keys) {
        encode(encoder, key);
        encode(encoder, (value as Record<string, unknown>)[key]);
      }
      return;
    }
    stockObject(encoder, value);
  };
  const writeType: Record<string, WriteHandler> = { ...stock, string: writeString as WriteHandler, object: object as WriteHandler };
  return encode;

  function encode(encoder: EncodeState, value: unknown): void {
    const handler = writeType[typeof value];
    if (!handler) throw new Error(`Unsupported type "${typeof value}": ${String(value)}`);
    handler(encoder, value);
  }
}

/** A fixarray/fixmap header (`fix` + length, under 16), else the 16- or 32-bit one (`wide`, `wide` + 1). */
function writeContainerHeader(encoder: EncodeState, length: number, fix: number, wide: number): void {
  if (length < 16) {
    const at = encoder.reserve(1);
    encoder.buffer[at] = fix + length;
  } else if (length <= 0xffff) {
    const at = encoder.reserve(3);
    encoder.buffer[at] = wide;
    encoder.buffer.writeUInt16BE(length, at + 1);
  } else {
    const at = encoder.reserve(5);
    encoder.buffer[at] = wide + 1;
    encoder.buffer.writeUInt32BE(length, at + 1);
  }
}

interface DecodeBufferInstance extends DecodeState {
  write(chunk: Buffer): void;
  read(): unknown;
}
const { DecodeBuffer } = require('msgpack-lite/lib/decode-buffer.js') as { DecodeBuffer: new (options: { codec: Codec }) => DecodeBufferInstance };

/**
 * The first msgpack value in `bytes` and where it ends: `msgpack.decode` without the
 * event emitter that `msgpack.Decoder` builds for every call, and with the end, so a
 * caller can refuse trailing bytes.
 */
export function decodeFirst(codec: Codec, bytes: Buffer): { value: unknown; end: number } {
  const decoder = new DecodeBuffer({ codec });
  decoder.write(bytes);
  const value = decoder.read();
  return { value, end: decoder.offset };
}
