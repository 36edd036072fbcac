// A replicated FIFO queue: the smallest useful state machine that is not a key-value
// store, to show what an application implements to run on raft-ts. Commands are
// JSON ({ "push": value } or { "pop": true }); results are what the queue answers.
import type { Entry, StateMachine, StateMachineSnapshot } from '../../src/index.js';

export type QueueCommand = { readonly push: string } | { readonly pop: true };
export type QueueResult = { readonly length: number } | { readonly popped: string | null };

export function encodeQueueCommand(command: QueueCommand): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(command));
}

/**
 * The queue's items live in an array that is never changed in place once a snapshot
 * view holds it: the next write copies it first (copy-on-write). So `snapshot()`
 * returns at once, and the view stays exactly the state of its moment while apply
 * goes on, as the StateMachine contract requires.
 */
export class QueueStateMachine implements StateMachine<QueueResult> {
  private items: string[] = [];
  /** Set while a snapshot view shares `items`. */
  private shared = false;

  apply(entry: Entry): QueueResult {
    const command = JSON.parse(new TextDecoder().decode(entry.data)) as QueueCommand;
    if (this.shared) {
      this.items = [...this.items];
      this.shared = false;
    }
    if ('push' in command) {
      this.items.push(command.push);
      return { length: this.items.length };
    }
    return { popped: this.items.shift() ?? null };
  }

  snapshot(): StateMachineSnapshot {
    const items = this.items;
    this.shared = true;
    return {
      chunks: () => [new TextEncoder().encode(JSON.stringify(items))],
      release: () => undefined,
    };
  }

  restore(data: Uint8Array): void {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(data));
    if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) throw new Error('not a queue snapshot');
    this.items = parsed;
    this.shared = false;
  }

  /** The items, oldest first (reads are local: see RaftNode.readBarrier for linearizable ones). */
  contents(): readonly string[] {
    return this.items;
  }
}
