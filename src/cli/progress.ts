/**
 * wsdump's progress bar on stderr, for large files when stderr is a terminal. It stays on
 * screen while the work runs, whatever the view: when stdout is a terminal too (the same
 * screen, as far as anyone can tell), the bar's line is erased just before output is written
 * and drawn again once that output is out; otherwise the output goes elsewhere and the bar is
 * only redrawn in place. It is erased at the end.
 */
export interface ProgressOptions {
  /** Output goes to a terminal as well: erase the bar before it and draw it again after. */
  sharesTerminal: boolean;
  /** Milliseconds now (tests pass their own). */
  clock?: () => number;
}

/** The bar in place is updated at most this often. */
const REDRAW_MS = 200;
const WIDTH = 30;

export class Progress {
  private read = 0;
  private lastDraw = -Infinity;
  private shown = false;
  private readonly clock: () => number;

  constructor(
    private readonly total: number,
    private readonly stderr: NodeJS.WritableStream,
    private readonly options: ProgressOptions,
  ) {
    this.clock = options.clock ?? Date.now;
  }

  /** Bytes of the file read so far. */
  add(n: number): void {
    this.read += n;
  }

  /** Output is about to be written to stdout. */
  beforeOutput(): void {
    if (this.options.sharesTerminal) this.hide();
  }

  /** A piece of work (and its output) is done: the bar is drawn again, or brought up to date. */
  afterOutput(): void {
    const now = this.clock();
    if (this.shown && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    const fraction = Math.min(1, this.read / this.total);
    const bar = '#'.repeat(Math.round(fraction * WIDTH)).padEnd(WIDTH, '.');
    this.stderr.write(`\r[${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% of ${(this.total / 1e6).toFixed(1)} MB`);
    this.shown = true;
  }

  /** Erases the bar (before a line on stderr, and at the end). */
  hide(): void {
    if (!this.shown) return;
    this.stderr.write('\r\x1b[2K');
    this.shown = false;
  }
}
