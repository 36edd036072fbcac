import msgpack from 'msgpack-lite';
import type { Entry } from '../core/types.js';
import { EntryKind } from '../core/types.js';
import type { KvOperation, KvResult } from '../protocol/client-messages.js';
import type { KvCommand } from './kv-command.js';
import { decodeKvCommand } from './kv-command.js';
import type { StateMachine, StateMachineSnapshot } from './state-machine.js';

/** Results remembered per client, so a retried write returns its first result. */
interface Session {
  /** seq -> result, for seqs the client has not yet acknowledged. */
  readonly results: Map<number, KvResult>;
  firstUnackedSeq: number;
  lastAppliedIndex: number;
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
 */
export class KvStateMachine implements StateMachine<KvResult> {
  private data = new Map<string, string>();
  private sessions = new Map<string, Session>();
  private readonly sessionsMax: number;

  constructor(options: KvStateMachineOptions = {}) {
    this.sessionsMax = options.sessionsMax ?? 10_000;
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

  private session(command: KvCommand, index: number): Session {
    let session = this.sessions.get(command.clientId);
    if (session === undefined) {
      session = { results: new Map(), firstUnackedSeq: 0, lastAppliedIndex: index };
    } else {
      this.sessions.delete(command.clientId);
    }
    // Re-inserting keeps the Map in least-recently-used order.
    this.sessions.set(command.clientId, session);
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
    const current = this.data.get(operation.key) ?? null;
    switch (operation.op) {
      case 'put':
        this.data.set(operation.key, operation.value);
        return { ok: true, value: current, index };
      case 'delete':
        this.data.delete(operation.key);
        return { ok: true, value: current, index };
      case 'cas':
        if (current !== operation.expect) return { ok: false, value: current, index };
        this.data.set(operation.key, operation.value);
        return { ok: true, value: operation.value, index };
      case 'get':
        return { ok: true, value: current, index };
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

  snapshot(): StateMachineSnapshot {
    const sessions = [...this.sessions].map(([id, s]) => [id, s.firstUnackedSeq, s.lastAppliedIndex, [...s.results]]);
    const bytes = msgpack.encode({ data: [...this.data], sessions });
    return { chunks: () => [bytes], release: () => undefined };
  }

  restore(snapshot: Uint8Array): void {
    const decoded = msgpack.decode(snapshot) as {
      data: [string, string][];
      sessions: [string, number, number, [number, KvResult][]][];
    };
    this.data = new Map(decoded.data);
    this.sessions = new Map(
      decoded.sessions.map(([id, firstUnackedSeq, lastAppliedIndex, results]) => [id, { firstUnackedSeq, lastAppliedIndex, results: new Map(results) }]),
    );
  }
}
