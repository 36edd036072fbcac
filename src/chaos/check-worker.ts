// Runs the history checkers off the main thread, so that a long check leaves the
// chaos runner responsive (Ctrl-C works, a hard time limit can be enforced).
import { parentPort, workerData } from 'node:worker_threads';
import { checkAcknowledgedWritesVisible, checkLinearizability } from '../check/index.js';
import type { HistoryEvent, LinearizabilityResult } from '../check/index.js';

export interface CheckRequest {
  readonly events: HistoryEvent[];
  readonly finalReads: [string, string | null][];
  readonly timeoutMs: number;
}

export type CheckReply =
  | { readonly ok: true; readonly linearizability: LinearizabilityResult; readonly lostWrites: string[] }
  | { readonly ok: false; readonly error: string };

const request = workerData as CheckRequest;
let reply: CheckReply;
try {
  const linearizability = checkLinearizability(request.events, { timeoutMs: request.timeoutMs });
  const lostWrites = checkAcknowledgedWritesVisible(request.events, new Map(request.finalReads));
  reply = { ok: true, linearizability, lostWrites };
} catch (err) {
  reply = { ok: false, error: (err as Error).stack ?? String(err) };
}
parentPort!.postMessage(reply);
