/**
 * The KV command codec and the limits checked before a command reaches the log:
 * every operation survives encode/decode unchanged (cas with expect null stays
 * distinct from expect '', unicode included), and checkKvLimits counts UTF-8 bytes,
 * not characters, accepting exactly the limit and refusing one byte more.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { KvCommand, KvLimits } from '../../src/kv/kv-command.js';
import { DEFAULT_KV_LIMITS, checkKvLimits, decodeKvCommand, encodeKvCommand } from '../../src/kv/kv-command.js';
import { SlabEncoder } from '../../src/transport/slab-encoder.js';
import type { KvOperation } from '../../src/protocol/client-messages.js';

const OPERATIONS: readonly KvOperation[] = [
  { op: 'put', key: 'k', value: 'v' },
  { op: 'put', key: 'empty value', value: '' },
  { op: 'put', key: 'ключ-🔑-鍵', value: 'значение 🚀 値 \u0000 nul' },
  { op: 'get', key: 'k' },
  { op: 'get', key: 'ü' },
  { op: 'delete', key: 'k' },
  { op: 'delete', key: '🗑️' },
  { op: 'cas', key: 'k', expect: 'old', value: 'new' },
  { op: 'cas', key: 'k', expect: null, value: 'created' },
  { op: 'cas', key: 'k', expect: '', value: 'was empty' },
  { op: 'cas', key: 'ζ', expect: 'αβγ', value: '' },
];

describe('encodeKvCommand / decodeKvCommand', () => {
  it('round-trips every operation with its session fields', () => {
    let seq = 1;
    for (const operation of OPERATIONS) {
      const command: KvCommand = { operation, clientId: `client-${seq}-ü`, seq, firstUnackedSeq: seq - 1 };
      const encoded = encodeKvCommand(command);
      assert.ok(encoded instanceof Uint8Array);
      // A copy: the bytes a follower decodes, not the encoder's own array (see below).
      assert.deepEqual(decodeKvCommand(encoded.slice()), command, `${operation.op} ${operation.key}`);
      seq += 1;
    }
  });

  it('keeps a command\'s bytes next to other commands\' only, never in an encoder buffer that frames share', () => {
    const command = (seq: number, value: string): KvCommand => ({ operation: { op: 'put', key: 'k', value }, clientId: 'c', seq, firstUnackedSeq: 1 });
    const first = encodeKvCommand(command(1, 'v'.repeat(100)));
    const second = encodeKvCommand(command(2, 'w'.repeat(100)));
    if (first.buffer === second.buffer) assert.equal(second.byteOffset, first.byteOffset + first.byteLength, 'adjacent in one slab');
    // Frames encoded meanwhile do not touch them.
    const frame = new SlabEncoder().frame({ filler: 'x'.repeat(70_000) });
    assert.ok(frame.buffer !== first.buffer && frame.buffer !== second.buffer);
    assert.deepEqual(decodeKvCommand(first.slice()), command(1, 'v'.repeat(100)));
    assert.deepEqual(decodeKvCommand(second.slice()), command(2, 'w'.repeat(100)));
    const large = encodeKvCommand(command(3, 'z'.repeat(10_000)));
    assert.equal(large.buffer.byteLength, large.byteLength, 'a large command gets a buffer of its own');
  });

  it('keeps cas expect null (absent) distinct from expect "" (empty value)', () => {
    const decodedNull = decodeKvCommand(encodeKvCommand({ operation: { op: 'cas', key: 'k', expect: null, value: 'v' }, clientId: 'c', seq: 1, firstUnackedSeq: 1 }).slice());
    const decodedEmpty = decodeKvCommand(encodeKvCommand({ operation: { op: 'cas', key: 'k', expect: '', value: 'v' }, clientId: 'c', seq: 1, firstUnackedSeq: 1 }).slice());
    assert.equal(decodedNull.operation.op === 'cas' && decodedNull.operation.expect, null);
    assert.equal(decodedEmpty.operation.op === 'cas' && decodedEmpty.operation.expect, '');
  });

  it('preserves large seqs exactly', () => {
    const command: KvCommand = { operation: { op: 'put', key: 'k', value: 'v' }, clientId: 'c', seq: Number.MAX_SAFE_INTEGER, firstUnackedSeq: 2 ** 40 };
    assert.deepEqual(decodeKvCommand(encodeKvCommand(command).slice()), command);
  });

  it('gives the leader back the command it encoded, once, and decodes equal bytes afresh', () => {
    const command: KvCommand = { operation: { op: 'put', key: 'k', value: 'v' }, clientId: 'c', seq: 7, firstUnackedSeq: 7 };
    const encoded = encodeKvCommand(command);
    const copy = encoded.slice();
    assert.equal(decodeKvCommand(encoded), command, 'the very bytes it encoded: the same object');
    const again = decodeKvCommand(encoded);
    assert.notEqual(again, command, 'taken once: the second decode reads the bytes');
    assert.deepEqual(again, command);
    assert.deepEqual(decodeKvCommand(copy), command);
  });

  it('decodes a command with a lone surrogate from its bytes, as a follower does', () => {
    const command: KvCommand = { operation: { op: 'cas', key: 'k', expect: 'x\uDC00y', value: 'lone\uD800' }, clientId: 'c', seq: 1, firstUnackedSeq: 1 };
    const encoded = encodeKvCommand(command);
    const onLeader = decodeKvCommand(encoded);
    const onFollower = decodeKvCommand(encoded.slice());
    assert.deepEqual(onLeader, onFollower);
    assert.deepEqual(onLeader.operation, { op: 'cas', key: 'k', expect: 'x\uFFFDy', value: 'lone\uFFFD' });
  });

  it('forgets commands that are never decoded, beyond a bound', () => {
    const first = encodeKvCommand({ operation: { op: 'put', key: 'first', value: 'v' }, clientId: 'c', seq: 1, firstUnackedSeq: 1 });
    const firstCommand = decodeKvCommand(first.slice());
    for (let seq = 2; seq <= 9000; seq += 1) encodeKvCommand({ operation: { op: 'put', key: 'k', value: 'v' }, clientId: 'c', seq, firstUnackedSeq: 1 });
    const decoded = decodeKvCommand(first);
    assert.deepEqual(decoded, firstCommand, 'decoded from its bytes, since it was forgotten');
  });
});

describe('checkKvLimits', () => {
  const limits: KvLimits = { keyBytesMax: 8, valueBytesMax: 12 };
  // 'é' is 2 UTF-8 bytes, '€' is 3: lengths in characters and in bytes differ.
  const keyAtLimit = 'éééé'; // 4 characters, 8 bytes
  const valueAtLimit = '€€€€'; // 4 characters, 12 bytes

  function refused(operation: KvOperation, bytes: number): void {
    const problem = checkKvLimits(operation, limits);
    assert.equal(typeof problem, 'string', `${JSON.stringify(operation)} should be refused`);
    assert.match(problem!, new RegExp(`\\b${bytes} bytes\\b`), 'the reason gives the size in bytes');
  }

  it('sanity: the multibyte strings have the byte lengths the tests rely on', () => {
    assert.equal(keyAtLimit.length, 4);
    assert.equal(Buffer.byteLength(keyAtLimit, 'utf8'), 8);
    assert.equal(valueAtLimit.length, 4);
    assert.equal(Buffer.byteLength(valueAtLimit, 'utf8'), 12);
  });

  it('refuses an empty key for every operation', () => {
    for (const operation of [
      { op: 'put', key: '', value: 'v' },
      { op: 'get', key: '' },
      { op: 'delete', key: '' },
      { op: 'cas', key: '', expect: null, value: 'v' },
    ] as const) {
      const problem = checkKvLimits(operation, limits);
      assert.equal(typeof problem, 'string', operation.op);
      assert.match(problem!, /empty/);
    }
  });

  it('accepts a key of exactly keyBytesMax bytes and refuses one byte more, counting UTF-8 bytes', () => {
    for (const make of [
      (key: string): KvOperation => ({ op: 'put', key, value: 'v' }),
      (key: string): KvOperation => ({ op: 'get', key }),
      (key: string): KvOperation => ({ op: 'delete', key }),
      (key: string): KvOperation => ({ op: 'cas', key, expect: null, value: 'v' }),
    ]) {
      assert.equal(checkKvLimits(make(keyAtLimit), limits), undefined);
      assert.equal(checkKvLimits(make('a'), limits), undefined);
      refused(make(`${keyAtLimit}a`), 9);
      // Five characters (under 8) but ten bytes (over 8): bytes are what count.
      refused(make('ééééé'), 10);
    }
  });

  it('accepts a value of exactly valueBytesMax bytes and refuses one byte more', () => {
    assert.equal(checkKvLimits({ op: 'put', key: 'k', value: valueAtLimit }, limits), undefined);
    assert.equal(checkKvLimits({ op: 'put', key: 'k', value: '' }, limits), undefined);
    refused({ op: 'put', key: 'k', value: `${valueAtLimit}a` }, 13);
    refused({ op: 'put', key: 'k', value: '€€€€€' }, 15); // 5 characters, 15 bytes
    assert.equal(checkKvLimits({ op: 'cas', key: 'k', expect: 'x', value: valueAtLimit }, limits), undefined);
    refused({ op: 'cas', key: 'k', expect: 'x', value: `${valueAtLimit}a` }, 13);
  });

  it('refuses a cas whose expected value is over the limit; null and at-limit expectations pass', () => {
    assert.equal(checkKvLimits({ op: 'cas', key: 'k', expect: valueAtLimit, value: 'v' }, limits), undefined);
    assert.equal(checkKvLimits({ op: 'cas', key: 'k', expect: null, value: 'v' }, limits), undefined);
    refused({ op: 'cas', key: 'k', expect: `${valueAtLimit}a`, value: 'v' }, 13);
  });

  it('the defaults are 1 KiB keys and 1 MiB values', () => {
    assert.equal(checkKvLimits({ op: 'put', key: 'k'.repeat(1024), value: 'v'.repeat(1024 * 1024) }, DEFAULT_KV_LIMITS), undefined);
    assert.equal(typeof checkKvLimits({ op: 'put', key: 'k'.repeat(1025), value: 'v' }, DEFAULT_KV_LIMITS), 'string');
    assert.equal(typeof checkKvLimits({ op: 'put', key: 'k', value: 'v'.repeat(1024 * 1024 + 1) }, DEFAULT_KV_LIMITS), 'string');
  });
});
