/** A progress bar on stderr (one line per second when stderr is not a terminal). */
import cliProgress from 'cli-progress';

export class Progress {
  private readonly bar: cliProgress.SingleBar;
  private done = 0;
  private stopped = false;

  constructor(private readonly steps: number) {
    this.bar = new cliProgress.SingleBar(
      {
        format: 'bench |{bar}| {percentage}% | {duration_formatted} | {phase}',
        stream: process.stderr,
        noTTYOutput: true,
        notTTYSchedule: 1000,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(steps, 0, { phase: 'starting' });
  }

  /** Names the step now running. */
  begin(phase: string): void {
    this.bar.update(this.done, { phase });
  }

  /** Progress inside the current step, 0..1. */
  within(fraction: number): void {
    this.bar.update(Math.min(this.steps, this.done + fraction));
  }

  end(): void {
    this.done += 1;
    this.bar.update(Math.min(this.steps, this.done));
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.bar.stop();
  }
}
