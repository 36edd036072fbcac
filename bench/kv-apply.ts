/**
 * Micro-benchmark of the key-value state machine alone (no Raft, no I/O): applies
 * 1,000,000 puts over 10,000 keys with 100-byte values from 64 pipelining clients,
 * then times snapshot() and the serialization of the view it returns. Prints one
 * JSON line: { applyPerSec, applyPerCpuSec, snapshotMs, serializeMs, snapshotBytes,
 * applyWhileViewPerSec } (applyPerCpuSec divides by the process's CPU time, which a
 * loaded machine disturbs less than wall time).
 *
 * Usage: node dist/bench/kv-apply.js [--puts N] [--keys N] [--clients N]
 * Commands are encoded in batches outside the timed region, so the figure is the
 * state machine's (decode + sessions + map), not the encoder's.
 */
import { performance } from 'node:perf_hooks';

import type { Entry } from '../src/core/types.js';
import { EntryKind } from '../src/core/types.js';
import { encodeKvCommand } from '../src/kv/kv-command.js';
import { KvStateMachine } from '../src/kv/kv-state-machine.js';

const argument = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};

const PUTS = argument('--puts', 1_000_000);
const KEYS = argument('--keys', 10_000);
/** 64 pipelining clients by default; --clients 10000 fills the session table (sessionsMax) to time snapshot() at its bound. */
const CLIENTS = argument('--clients', 64);
const BATCH = 10_000;
const PAD = 'x'.repeat(100);

function batch(from: number, count: number): Entry[] {
  const entries: Entry[] = [];
  for (let i = from; i < from + count; i += 1) {
    const client = i % CLIENTS;
    const seq = Math.floor(i / CLIENTS) + 1;
    // 100 bytes: the write's number followed by padding.
    const value = `${i}:${PAD}`.slice(0, 100);
    const data = encodeKvCommand({ operation: { op: 'put', key: `key-${i % KEYS}`, value }, clientId: `client-${client}`, seq, firstUnackedSeq: seq });
    entries.push({ term: 1, index: i + 1, kind: EntryKind.Command, data });
  }
  return entries;
}

/** Milliseconds of CPU this process used (user + system): steadier than wall time on a shared machine. */
const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** Applies `count` puts starting at write number `from`; returns the wall and CPU milliseconds spent in apply(). */
function applyPuts(kv: KvStateMachine, from: number, count: number): { wall: number; cpu: number } {
  let wall = 0;
  let cpu = 0;
  for (let at = from; at < from + count; at += BATCH) {
    const entries = batch(at, Math.min(BATCH, from + count - at));
    const start = performance.now();
    const startCpu = cpuMs();
    for (const entry of entries) kv.apply(entry);
    wall += performance.now() - start;
    cpu += cpuMs() - startCpu;
  }
  return { wall, cpu };
}

/** The old contract returned bytes; the new one a view with chunks(). Both are timed the same way. */
type AnySnapshot = Uint8Array | { chunks(): Iterable<Uint8Array>; release(): void };

function serialize(snapshot: AnySnapshot): number {
  if (snapshot instanceof Uint8Array) return snapshot.byteLength;
  let bytes = 0;
  for (const chunk of snapshot.chunks()) bytes += chunk.byteLength;
  snapshot.release();
  return bytes;
}

const kv = new KvStateMachine();
const applyMs = applyPuts(kv, 0, PUTS);

const snapshotStart = performance.now();
const snapshot = kv.snapshot() as AnySnapshot;
const snapshotMs = performance.now() - snapshotStart;

// Writes while a view is pinned pay for copy-on-write; measure that too.
const whileViewCount = Math.min(100_000, PUTS);
const whileViewMs = applyPuts(kv, PUTS, whileViewCount);

const serializeStart = performance.now();
const snapshotBytes = serialize(snapshot);
const serializeMs = performance.now() - serializeStart;

const round = (n: number): number => Math.round(n * 100) / 100;
console.log(
  JSON.stringify({
    puts: PUTS,
    keys: KEYS,
    clients: CLIENTS,
    applyPerSec: Math.round(PUTS / (applyMs.wall / 1000)),
    applyPerCpuSec: Math.round(PUTS / (applyMs.cpu / 1000)),
    snapshotMs: round(snapshotMs),
    serializeMs: round(serializeMs),
    snapshotBytes,
    applyWhileViewPerSec: Math.round(whileViewCount / (whileViewMs.wall / 1000)),
  }),
);
