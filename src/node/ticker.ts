/** Calls `onTick` every tick; the only place real time enters the driver. */
export interface Ticker {
  start(onTick: () => void): void;
  stop(): void;
}

export class IntervalTicker implements Ticker {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly tickMs: number) {}

  start(onTick: () => void): void {
    this.stop();
    this.timer = setInterval(onTick, this.tickMs);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
