import { createHash } from 'node:crypto';

import type { Entry } from '../core/types.js';
import { EntryKind } from '../core/types.js';
import type { KvOperation, KvResult } from '../protocol/client-messages.js';
import type { KvCommand } from './kv-command.js';
import { decodeKvCommand } from './kv-command.js';
import type { SessionRecord } from './kv-snapshot.js';
import { decodeKvSnapshot, encodeKvSnapshot } from './kv-snapshot.js';
import type { FrozenMap } from './persistent-map.js';
import { PersistentMap, Versions, compareStrings } from './persistent-map.js';
import type { StateMachine, StateMachineSnapshot } from './state-machine.js';

/** Results remembered per client, so a retried write returns its first result. */
interface Session extends SessionRecord {
  /** The Versions epoch this object was made in: it is changed in place only while
   * no live view can see it, and copied otherwise. */
  readonly owner: number;
  firstUnackedSeq: number;
  lastAppliedIndex: number;
  /** seq -> result, for seqs the client has not yet acknowledged. */
  readonly results: Map<number, KvResult>;
}

export interface KvStateMachineOptions {
  /** Sessions kept; the least recently used is forgotten beyond this, in log order, so
   * every node forgets the same ones. Default 10,000. */
  readonly sessionsMax?: number;
}

/**
 * The replicated key-value store: put, delete and compare-and-set go through the
 * log; reads are served from `read` after ReadIndex (or locally when stale reads are
 * allowed). Client sessions make every write apply at most once (Raft thesis §6.3).
 *
 * The data and the sessions live in persistent maps (persistent-map.ts), so
 * `snapshot()` is O(1) and its view can be serialized while apply() goes on.
 */
export class KvStateMachine implements StateMachine<KvResult> {
  private readonly versions = new Versions();
  private data: PersistentMap<string, string>;
  /** In least-recently-used order (a Map iterates in insertion order). A snapshot
   * copies this list of references, at most sessionsMax of them, and the objects
   * themselves are copied on write while a view holds them. */
  private sessions = new Map<string, Session>();
  private readonly sessionsMax: number;

  constructor(options: KvStateMachineOptions = {}) {
    this.sessionsMax = options.sessionsMax ?? 10_000;
    this.data = new PersistentMap(this.versions, compareStrings);
  }

  apply(entry: Entry): KvResult {
    if (entry.kind !== EntryKind.Command) return { ok: true, value: null, index: entry.index };
    const command = decodeKvCommand(entry.data);
    const session = this.session(command, entry.index);
    if (command.seq < session.firstUnackedSeq) {
      // The client already saw this write's answer and moved on; a late duplicate.
      return { ok: false, value: null, index: entry.index };
    }
    const previous = session.results.get(command.seq);
    if (previous !== undefined) return previous;
    const result = this.execute(command.operation, entry.index);
    session.results.set(command.seq, result);
    return result;
  }

  /** The command's session, made the most recently used and writable in place. */
  private session(command: KvCommand, index: number): Session {
    const { clientId } = command;
    let session = this.sessions.get(clientId);
    if (session === undefined) {
      session = { owner: this.versions.epoch, clientId, results: new Map(), firstUnackedSeq: 0, lastAppliedIndex: index };
    } else {
      this.sessions.delete(clientId);
      // A live view holds this object: change a copy.
      if (!this.versions.writable(session.owner)) session = { ...session, owner: this.versions.epoch, results: new Map(session.results) };
    }
    // Re-inserting keeps the Map in least-recently-used order.
    this.sessions.set(clientId, session);
    session.lastAppliedIndex = index;
    if (command.firstUnackedSeq > session.firstUnackedSeq) {
      session.firstUnackedSeq = command.firstUnackedSeq;
      for (const seq of session.results.keys()) if (seq < session.firstUnackedSeq) session.results.delete(seq);
    }
    if (this.sessions.size > this.sessionsMax) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
    return session;
  }

  private execute(operation: KvOperation, index: number): KvResult {
    switch (operation.op) {
      case 'put':
        return { ok: true, value: this.data.set(operation.key, operation.value) ?? null, index };
      case 'delete':
        return { ok: true, value: this.data.delete(operation.key) ?? null, index };
      case 'cas': {
        const current = this.data.get(operation.key) ?? null;
        if (current !== operation.expect) return { ok: false, value: current, index };
        this.data.set(operation.key, operation.value);
        return { ok: true, value: operation.value, index };
      }
      case 'get':
        return { ok: true, value: this.data.get(operation.key) ?? null, index };
      default: {
        const unreachable: never = operation;
        throw new Error(`unknown operation ${JSON.stringify(unreachable)}`);
      }
    }
  }

  /** The current value of `key`, or null. */
  read(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  size(): number {
    return this.data.size;
  }

  /** Pins the data map (O(1)) and copies the list of session references (at most
   * sessionsMax); writes from now on copy what they change. */
  snapshot(): StateMachineSnapshot {
    const epoch = this.versions.pin();
    return new KvSnapshotView(this.versions, epoch, this.data.freeze(), [...this.sessions.values()]);
  }

  /** Decodes the snapshot, throwing InvalidSnapshotDataError on malformed bytes. The
   * decoded form is not kept: the core may not install this snapshot at all, and a
   * second decode in restore() costs less than holding a copy of the state meanwhile. */
  verifySnapshot(snapshot: Uint8Array): void {
    decodeKvSnapshot(snapshot);
  }

  /** Replaces data and sessions with the snapshot's; on malformed bytes throws
   * InvalidSnapshotDataError and changes nothing. Live views keep their own state. */
  restore(snapshot: Uint8Array): void {
    const decoded = decodeKvSnapshot(snapshot);
    // A snapshot from a node with a larger sessionsMax: forget the least recent, as apply would have.
    const records = decoded.sessions.slice(Math.max(0, decoded.sessions.length - this.sessionsMax));
    const owner = this.versions.epoch;
    this.data = PersistentMap.fromSorted(this.versions, compareStrings, decoded.keys, decoded.values);
    this.sessions = new Map(records.map((record) => [record.clientId, { ...record, owner, results: new Map(record.results) }]));
  }

  /** A SHA-256 of the snapshot bytes: equal on two machines exactly when their data
   * and sessions are. O(state); meant for tests and checkers. */
  stateDigest(): string {
    const hash = createHash('sha256');
    const view = this.snapshot();
    try {
      for (const chunk of view.chunks()) hash.update(chunk);
    } finally {
      view.release();
    }
    return hash.digest('hex');
  }

  /** Views taken and not yet released (each pins the state it saw). */
  liveSnapshots(): number {
    return this.versions.liveViews;
  }
}

/** One snapshot(): the frozen maps, until release(). */
class KvSnapshotView implements StateMachineSnapshot {
  private released = false;

  constructor(
    private readonly versions: Versions,
    private readonly epoch: number,
    private readonly data: FrozenMap<string, string>,
    private readonly sessions: readonly SessionRecord[],
  ) {}

  *chunks(): Generator<Uint8Array> {
    this.checkLive();
    for (const chunk of encodeKvSnapshot(this.data, this.sessions)) {
      yield chunk;
      // Once released, the maps may be changed in place again: reading on would tear.
      this.checkLive();
    }
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.versions.unpin(this.epoch);
  }

  private checkLive(): void {
    if (this.released) throw new Error('snapshot view read after release()');
  }
}
