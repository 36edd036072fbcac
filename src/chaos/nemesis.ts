import { SeededRandom } from '../core/random.js';
import type { CutMode } from './fault-proxy.js';
import type { ChaosNetwork } from './network.js';
import { describeCuts, planPartition } from './partition-plan.js';

export const FAULT_KINDS = [
  'partition-leader',
  'partition-halves',
  'partition-ring',
  'partition-one-way',
  'kill-one',
  'kill-majority',
  'kill-all',
  'pause-leader',
  'delay',
  'reset',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

export function isFaultKind(text: string): text is FaultKind {
  return (FAULT_KINDS as readonly string[]).includes(text);
}

/** What the nemesis may do to the nodes; the harness implements it on its cluster. */
export interface NemesisControl {
  readonly ids: readonly number[];
  readonly network: ChaosNetwork;
  /** The current leader as the nodes report it (highest term), if any answers soon. */
  leader(): Promise<number | undefined>;
  /** SIGKILLs node `id` and waits until its process is gone. */
  kill(id: number): Promise<void>;
  /** Starts node `id` again from its data dir. */
  restart(id: number): void;
  /** SIGSTOP / SIGCONT. */
  pause(id: number): void;
  resume(id: number): void;
}

export interface FaultEvent {
  readonly kind: FaultKind;
  readonly event: 'start' | 'heal';
  readonly detail: string;
  /** Monotonic nanoseconds, on the history's clock. */
  readonly time: number;
  /** Milliseconds since the run started. */
  readonly elapsedMs: number;
}

export interface NemesisOptions {
  readonly control: NemesisControl;
  readonly seed: number;
  /** Which kinds to inject; default all. Each cycle runs every kind once, in a
   * shuffled order, so a run of one cycle's length sees every kind. */
  readonly kinds?: readonly FaultKind[];
  /** How long each fault lasts, drawn from [min, max] ms. */
  readonly faultMs: readonly [number, number];
  /** Quiet time before each fault, drawn from [min, max] ms. */
  readonly quietMs: readonly [number, number];
  /** A paused leader stays stopped at least this long (default 1000 ms: longer than
   * the 600 ms maximum election timeout, so the others elect a new leader). */
  readonly pauseMsMin?: number;
  readonly onEvent?: (event: FaultEvent) => void;
  /** performance.now() at the start of the run, for `elapsedMs`; default construction time. */
  readonly startedAt?: number;
  readonly now?: () => number;
}

interface ActiveFault {
  readonly kind: FaultKind;
  readonly detail: string;
  readonly heal: () => Promise<void>;
  /** What to log at heal time, when it differs from `detail`. */
  readonly healDetail?: () => string;
}

/**
 * Injects one fault at a time on a seeded schedule: quiet, fault, heal, quiet, ...
 * It keeps track of what it broke (killed and paused nodes, proxy faults) so that
 * `healAll` can always restore a whole cluster.
 */
export class Nemesis {
  readonly counts: Record<FaultKind, number>;
  private readonly options: NemesisOptions;
  private readonly control: NemesisControl;
  private readonly random: SeededRandom;
  private readonly kinds: readonly FaultKind[];
  private cycle: FaultKind[] = [];
  private active: ActiveFault | undefined;
  private readonly killed = new Set<number>();
  private readonly paused = new Set<number>();
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly startedAt: number;
  private resetTimer: NodeJS.Timeout | undefined;

  constructor(options: NemesisOptions) {
    this.options = options;
    this.control = options.control;
    this.random = new SeededRandom(options.seed);
    this.kinds = options.kinds ?? FAULT_KINDS;
    if (this.kinds.length === 0) throw new Error('the nemesis needs at least one fault kind');
    this.counts = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
    this.startedAt = options.startedAt ?? performance.now();
  }

  /** The fault in force, for progress lines. */
  current(): string {
    return this.active === undefined ? 'none' : `${this.active.kind} (${this.active.detail})`;
  }

  /** Runs the schedule until `stop()`; heals the last fault before resolving. */
  async run(): Promise<void> {
    while (!this.stopped) {
      await this.sleep(this.draw(this.options.quietMs));
      if (this.stopped) break;
      const kind = this.nextKind();
      let fault: ActiveFault;
      try {
        fault = await this.inject(kind);
      } catch (err) {
        this.emit(kind, 'start', `failed to inject: ${String(err)}`);
        continue;
      }
      this.active = fault;
      this.counts[kind] += 1;
      this.emit(kind, 'start', fault.detail);
      const duration = kind === 'pause-leader' ? Math.max(this.options.pauseMsMin ?? 1000, this.draw(this.options.faultMs)) : this.draw(this.options.faultMs);
      await this.sleep(duration);
      await this.healActive();
    }
  }

  /** Ends the schedule early: the current sleep ends at once. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  /** Heals the fault in force (if any), then everything else the nemesis may have
   * left: every proxy fault, every paused node, every killed node. */
  async healAll(): Promise<void> {
    this.stop();
    await this.healActive();
    this.control.network.healAll();
    for (const id of [...this.paused]) this.resumeNode(id);
    for (const id of [...this.killed]) this.restartNode(id);
  }

  private async healActive(): Promise<void> {
    const fault = this.active;
    if (fault === undefined) return;
    this.active = undefined;
    await fault.heal();
    this.emit(fault.kind, 'heal', fault.healDetail?.() ?? fault.detail);
  }

  private emit(kind: FaultKind, event: 'start' | 'heal', detail: string): void {
    const now = this.options.now ?? (() => Number(process.hrtime.bigint()));
    this.options.onEvent?.({ kind, event, detail, time: now(), elapsedMs: Math.round(performance.now() - this.startedAt) });
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  private draw([min, max]: readonly [number, number]): number {
    return min + this.random.nextInt(Math.max(1, max - min + 1));
  }

  private chance(percent: number): boolean {
    return this.random.nextInt(100) < percent;
  }

  private shuffled<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i -= 1) {
      const j = this.random.nextInt(i + 1);
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy;
  }

  private nextKind(): FaultKind {
    if (this.cycle.length === 0) this.cycle = this.shuffled(this.kinds);
    return this.cycle.shift()!;
  }

  private cutMode(): CutMode {
    return this.chance(70) ? 'drop' : 'refuse';
  }

  private async leaderOrRandom(): Promise<{ id: number; known: boolean }> {
    const leader = await this.control.leader();
    if (leader !== undefined && !this.killed.has(leader) && !this.paused.has(leader)) return { id: leader, known: true };
    const candidates = this.control.ids.filter((id) => !this.killed.has(id) && !this.paused.has(id));
    return { id: this.shuffled(candidates.length > 0 ? candidates : this.control.ids)[0]!, known: false };
  }

  private majority(): number {
    return Math.floor(this.control.ids.length / 2) + 1;
  }

  private healNetwork = async (): Promise<void> => {
    this.control.network.healAll();
  };

  private async inject(kind: FaultKind): Promise<ActiveFault> {
    const network = this.control.network;
    const ids = this.control.ids;
    const groups = network.groups;
    switch (kind) {
      case 'partition-leader': {
        const { id, known } = await this.leaderOrRandom();
        const plan = planPartition('isolate-one', ids, this.random, { victim: id });
        const others = ids.filter((other) => other !== id);
        const mode = this.cutMode();
        const withVictim = Array.from({ length: groups }, () => this.chance(30));
        network.applyCuts(plan.cuts, mode, (group) => (withVictim[group]! ? id : others[0]!));
        return {
          kind,
          detail: `${known ? 'leader' : 'node (no leader known)'} ${id} isolated from ${others.join(',')}, ${mode}; client groups with it: ${listGroups(withVictim)}`,
          heal: this.healNetwork,
        };
      }
      case 'partition-halves': {
        const plan = planPartition('random-halves', ids, this.random);
        const [first, second] = plan.sides;
        const mode = this.cutMode();
        const withFirst = Array.from({ length: groups }, () => this.random.nextInt(2) === 0);
        network.applyCuts(plan.cuts, mode, (group) => (withFirst[group]! ? first[0]! : second[0]!));
        return {
          kind,
          detail: `{${first.join(',')}} | {${second.join(',')}}, ${mode}; client groups with the first: ${listGroups(withFirst)}`,
          heal: this.healNetwork,
        };
      }
      case 'partition-ring': {
        // Every node keeps links both ways to a majority counting itself, yet no two
        // nodes see the same majority (see planPartition's majority-ring).
        const plan = planPartition('majority-ring', ids, this.random);
        const mode = this.cutMode();
        const anchors = Array.from({ length: groups }, () => plan.ring[this.random.nextInt(plan.ring.length)]!);
        network.applyCuts(plan.cuts, mode, (group) => anchors[group]!);
        return {
          kind,
          detail: `ring ${plan.ring.join('-')} cutting ${describeCuts(plan.cuts)}, ${mode}; client groups around ${anchors.join(',')}`,
          heal: this.healNetwork,
        };
      }
      case 'partition-one-way': {
        const { id, known } = this.chance(50) ? await this.leaderOrRandom() : { id: undefined, known: false };
        const plan = planPartition('one-way', ids, this.random, id === undefined ? {} : { victim: id });
        const mode = this.cutMode();
        network.applyCuts(plan.cuts, mode);
        const who = `${known ? 'leader ' : 'node '}${plan.victim}`;
        const peers = plan.peers.join(',');
        return {
          kind,
          detail: plan.direction === 'outbound' ? `${who} cannot send to ${peers} (the reverse direction still works), ${mode}` : `${who} cannot hear ${peers} (the reverse direction still works), ${mode}`,
          heal: this.healNetwork,
        };
      }
      case 'kill-one': {
        const { id, known } = this.chance(50) ? await this.leaderOrRandom() : { id: this.shuffled(ids)[0]!, known: false };
        await this.killNode(id);
        return { kind, detail: `SIGKILL ${known ? 'leader' : 'node'} ${id}`, heal: async () => this.restartNode(id) };
      }
      case 'kill-majority': {
        const victims = this.shuffled(ids).slice(0, this.majority()).sort();
        await Promise.all(victims.map((id) => this.killNode(id)));
        return { kind, detail: `SIGKILL ${victims.join(',')}`, heal: async () => victims.forEach((id) => this.restartNode(id)) };
      }
      case 'kill-all': {
        const victims = [...ids];
        await Promise.all(victims.map((id) => this.killNode(id)));
        return { kind, detail: `SIGKILL every node (${victims.join(',')})`, heal: async () => victims.forEach((id) => this.restartNode(id)) };
      }
      case 'pause-leader': {
        const { id, known } = await this.leaderOrRandom();
        this.pauseNode(id);
        return { kind, detail: `SIGSTOP ${known ? 'leader' : 'node (no leader known)'} ${id}`, heal: async () => this.resumeNode(id) };
      }
      case 'delay': {
        const ms = 30 + this.random.nextInt(371);
        const delayed: string[] = [];
        for (const proxy of network.allProxies()) {
          if (this.chance(50)) {
            proxy.delay(ms);
            delayed.push(proxy.name);
          }
        }
        return { kind, detail: `${ms} ms on ${delayed.length} links (${delayed.slice(0, 12).join(' ')}${delayed.length > 12 ? ' …' : ''})`, heal: this.healNetwork };
      }
      case 'reset': {
        let resets = 0;
        const proxies = network.allProxies();
        const tick = (): void => {
          for (const proxy of proxies) if (this.chance(50)) resets += proxy.reset();
          this.resetTimer = setTimeout(tick, 100 + this.random.nextInt(300));
        };
        tick();
        return {
          kind,
          detail: 'resetting random connections every 100-400 ms',
          heal: async () => {
            clearTimeout(this.resetTimer);
            this.resetTimer = undefined;
          },
          healDetail: () => `${resets} connections reset in all`,
        };
      }
    }
  }

  private async killNode(id: number): Promise<void> {
    if (this.killed.has(id)) return;
    this.killed.add(id);
    this.paused.delete(id);
    await this.control.kill(id);
  }

  private restartNode(id: number): void {
    if (!this.killed.has(id)) return;
    this.killed.delete(id);
    this.control.restart(id);
  }

  private pauseNode(id: number): void {
    this.paused.add(id);
    this.control.pause(id);
  }

  private resumeNode(id: number): void {
    if (!this.paused.has(id)) return;
    this.paused.delete(id);
    this.control.resume(id);
  }
}

function listGroups(chosen: readonly boolean[]): string {
  const groups = chosen.flatMap((yes, group) => (yes ? [group] : []));
  return groups.length === 0 ? 'none' : groups.join(',');
}
