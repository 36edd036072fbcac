import type { PeerMessage } from '../core/messages.js';
import type { Ready } from '../core/ready.js';
import type { Entry, Index } from '../core/types.js';

/**
 * What the driver tells an observer (metrics, the event stream) at a handful of
 * points of its turn. Every method runs on the hot path: implementations count
 * into preallocated fields and do the expensive work later (at scrape time, or on
 * a 100 ms flush), and must never throw.
 */
export interface NodeObserver {
  /** A Ready is about to be handled: its soft/hard state changes, the entries it
   * appends and the messages it sends. */
  ready(ready: Ready): void;
  /** A leader's appends and heartbeats sent while a Ready was being written
   * (RaftCore.takeEarlyMessages); like a Ready's messages. */
  sentEarly(messages: readonly PeerMessage[]): void;
  /** storage.append returned after `seconds`; `synced` when it fsynced. */
  persisted(seconds: number, entries: number, synced: boolean): void;
  /** A peer message arrived and was stepped into the core. */
  received(message: PeerMessage): void;
  /** Committed entries were applied; `applied` is the new applied index. */
  applied(entries: readonly Entry[], applied: Index): void;
  /** A proposal was accepted by the core; `outcome` settles when it is applied or fails. */
  proposed(outcome: Promise<unknown>): void;
  /** A proposal was refused at once (not the leader). */
  proposalRefused(): void;
  /** A snapshot was saved: taken here (`installed` false) or installed from the
   * leader; `seconds` from the view to the file on disk. */
  snapshotSaved(index: Index, bytes: number, seconds: number, installed: boolean): void;
  /** The node stopped. */
  stopped(): void;
}

/** Calls every observer in turn (metrics and events side by side). */
export function combineObservers(...observers: readonly NodeObserver[]): NodeObserver {
  return {
    ready: (ready) => observers.forEach((o) => o.ready(ready)),
    sentEarly: (messages) => observers.forEach((o) => o.sentEarly(messages)),
    persisted: (seconds, entries, synced) => observers.forEach((o) => o.persisted(seconds, entries, synced)),
    received: (message) => observers.forEach((o) => o.received(message)),
    applied: (entries, applied) => observers.forEach((o) => o.applied(entries, applied)),
    proposed: (outcome) => observers.forEach((o) => o.proposed(outcome)),
    proposalRefused: () => observers.forEach((o) => o.proposalRefused()),
    snapshotSaved: (index, bytes, seconds, installed) => observers.forEach((o) => o.snapshotSaved(index, bytes, seconds, installed)),
    stopped: () => observers.forEach((o) => o.stopped()),
  };
}
