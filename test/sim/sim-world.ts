import { SeededRandom } from '../../src/core/random.js';
import { TimedQueue } from '../../src/util/timed-queue.js';

/** Something scheduled to happen at a simulated time. */
interface SimEvent {
  readonly time: number;
  readonly seq: number;
  readonly label: string;
  readonly run: () => void;
  /** Events of a crashed incarnation are skipped (`alive` returns false). */
  readonly alive: () => boolean;
}

/**
 * Simulated time and the single event queue every simulated component schedules
 * on. Nothing in a simulation touches real timers or I/O: events fire in (time,
 * seq) order, and promise continuations they trigger run before the next event,
 * so one seed always gives one interleaving (TigerBeetle's VOPR, FoundationDB).
 */
export class SimWorld {
  readonly random: SeededRandom;
  private readonly queue = new TimedQueue<SimEvent>();
  private seq = 0;
  private nowMs = 0;
  private hash = 0x811c9dc5;
  eventsRun = 0;

  constructor(readonly seed: number) {
    this.random = new SeededRandom(seed);
  }

  now(): number {
    return this.nowMs;
  }

  /** FNV-1a over every event label run so far: equal seeds must give equal hashes. */
  traceHash(): string {
    return (this.hash >>> 0).toString(16).padStart(8, '0');
  }

  at(delayMs: number, label: string, run: () => void, alive: () => boolean = () => true): void {
    const event: SimEvent = { time: this.nowMs + Math.max(0, delayMs), seq: this.seq, label, run, alive };
    this.seq += 1;
    this.queue.push(event);
  }

  /** Runs events until `until` (simulated ms) or the queue empties; returns false if
   * `stop` asked to stop early. Awaits between events so promise chains settle. */
  async runUntil(until: number, stop: () => boolean = () => false): Promise<boolean> {
    while (this.queue.size > 0 && this.queue.peek()!.time <= until) {
      const event = this.queue.pop();
      this.nowMs = event.time;
      if (!event.alive()) continue;
      this.mix(event.label);
      this.eventsRun += 1;
      event.run();
      await settleMicrotasks();
      if (stop()) return false;
    }
    if (this.nowMs < until) this.nowMs = until;
    return true;
  }

  /** Mixes a string into the trace hash. */
  mix(text: string): void {
    let h = this.hash;
    for (let i = 0; i < text.length; i += 1) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    this.hash = h >>> 0;
  }

  chance(probability: number): boolean {
    return probability > 0 && this.random.nextFloat() < probability;
  }

  between(min: number, max: number): number {
    return min + this.random.nextInt(Math.max(1, max - min + 1));
  }
}

/**
 * Lets every pending promise continuation run. Continuations are microtasks; a few
 * rounds of a resolved await drain chains of any realistic depth, and none of them
 * can wait on real I/O in a simulation.
 */
async function settleMicrotasks(): Promise<void> {
  for (let i = 0; i < 8; i += 1) await Promise.resolve();
}
