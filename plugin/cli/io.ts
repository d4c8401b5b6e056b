// Where the CLI writes: stdout for results, stderr for diagnostics and progress. Tests pass their
// own to capture both.
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Whether stderr is a terminal (the progress bar redraws in place only there). */
  readonly tty: boolean;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  tty: process.stderr.isTTY === true,
};

/** A one-line progress bar on stderr: `[#####.....] 3/8 kernel_name`. */
export class ProgressBar {
  private done = 0;

  constructor(
    private readonly io: CliIo,
    private readonly total: number,
    private readonly width = 24,
  ) {}

  tick(label: string): void {
    this.done = Math.min(this.total, this.done + 1);
    const filled = this.total === 0 ? this.width : Math.round((this.done / this.total) * this.width);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(this.width - filled)}] ${this.done}/${this.total} ${label}`;
    // On a terminal the bar redraws in place; in a log each step is its own line.
    this.io.err(this.io.tty ? `\r\x1b[2K${line}${this.done === this.total ? '\n' : ''}` : `${line}\n`);
  }
}
