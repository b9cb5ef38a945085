import { SingleBar } from 'cli-progress';

/**
 * Progress for long work: a bar on an interactive terminal, a line every few seconds otherwise (CI logs, pipes).
 * Always on stderr, so stdout stays clean for data.
 */
export class Progress {
  private bar: SingleBar | null = null;
  private lastLine = 0;
  private value = 0;
  private readonly started = Date.now();

  constructor(
    private readonly label: string,
    private total: number,
  ) {
    if (process.stderr.isTTY) {
      this.bar = new SingleBar({
        format: `${label} [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left | {rate}/s`,
        stream: process.stderr,
        hideCursor: true,
      });
      this.bar.start(total, 0, { rate: '0' });
    }
  }

  update(value: number, total = this.total): void {
    this.value = value;
    this.total = total;
    const rate = Math.round(value / Math.max((Date.now() - this.started) / 1000, 0.001));
    if (this.bar) {
      this.bar.setTotal(total);
      this.bar.update(value, { rate: String(rate) });
    } else if (Date.now() - this.lastLine >= 2_000) {
      this.lastLine = Date.now();
      process.stderr.write(`${this.label}: ${value}/${total} (${rate}/s)\n`);
    }
  }

  stop(): void {
    this.bar?.update(this.value);
    this.bar?.stop();
  }

  get elapsedS(): number {
    return (Date.now() - this.started) / 1000;
  }
}
