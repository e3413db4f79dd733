// A progress bar on stderr with a caller-made summary (counts, rates) and cli-progress's ETA; silent when not a TTY.
import { SingleBar } from 'cli-progress';

export class ProgressBar {
  private readonly bar?: SingleBar;
  private readonly started = Date.now();

  constructor(label: string, total: number, enabled: boolean = process.stderr.isTTY === true) {
    if (!enabled) return;
    this.bar = new SingleBar({
      format: `${label} [{bar}] {percentage}% | {summary} | ETA {eta_formatted}`,
      stream: process.stderr,
      barsize: 24,
      fps: 5,
      hideCursor: true,
      etaBuffer: 50,
    });
    this.bar.start(Math.max(total, 1), 0, { summary: '' });
  }

  /** Per-second rate of `count` since the bar started. */
  rate(count: number): number {
    return count / Math.max((Date.now() - this.started) / 1000, 1e-3);
  }

  update(value: number, summary: string): void {
    this.bar?.update(value, { summary });
  }

  stop(): void {
    this.bar?.stop();
  }
}
