/**
 * What the interceptor sends one way, in order: each piece may have to wait until a time (a
 * delay) and, with a rate, goes out no faster than that many bytes per second (cut into as many
 * writes as it takes). With neither, a piece is written at once, in the call that queued it.
 * A piece never overtakes the one before it: a delayed message holds back what follows it, as
 * latency on a real path does.
 */

interface Piece {
  bytes: Uint8Array;
  /** performance.now() before which it may not go. */
  at: number;
}

export interface OutboxOptions {
  /** Bytes per second; absent: no limit. */
  rate?: number;
  /** Something was written (the relay may read again). */
  onRoom?: () => void;
  /** The rate made bytes wait: told once per burst (until the outbox is empty again), with how many wait. */
  onThrottled?: (waiting: number) => void;
}

/** How often a throttled outbox writes, at most: small enough to look smooth, large enough to be cheap. */
const TICK_MS = 20;

export class Outbox {
  private readonly pieces: Piece[] = [];
  private head = 0;
  private heldBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private tokens = 0;
  private refilled = performance.now();
  private last = 0;
  private emptied: (() => void)[] = [];
  private disposed = false;
  private throttledSaid = false;

  constructor(
    private readonly sink: (bytes: Uint8Array) => void,
    private readonly options: OutboxOptions = {},
  ) {}

  /** Bytes queued and not yet written. */
  get held(): number {
    return this.heldBytes;
  }

  /** Queues `bytes`, to go no earlier than `at` (performance.now() time; default now). */
  push(bytes: Uint8Array, at = 0): void {
    if (this.disposed || bytes.length === 0) return;
    this.last = Math.max(this.last, at);
    this.pieces.push({ bytes, at: this.last });
    this.heldBytes += bytes.length;
    if (this.timer === null) this.flush();
  }

  /** Calls `done` once everything queued so far is written (at once when nothing is). */
  whenEmpty(done: () => void): void {
    if (this.heldBytes === 0) done();
    else this.emptied.push(done);
  }

  /** Drops what is queued and stops the timer (the connection is gone). */
  dispose(): void {
    this.disposed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.pieces.length = 0;
    this.head = 0;
    this.heldBytes = 0;
    this.emptied = [];
  }

  private flush(): void {
    this.timer = null;
    const rate = this.options.rate;
    const now = performance.now();
    if (rate !== undefined) {
      // A bucket of at most a tenth of a second's bytes (at least one), refilled by the time passed.
      this.tokens = Math.min(Math.max(1, rate / 10), this.tokens + ((now - this.refilled) * rate) / 1000);
      this.refilled = now;
    }
    let wrote = false;
    while (this.head < this.pieces.length) {
      const piece = this.pieces[this.head]!;
      if (piece.at > now) {
        this.schedule(piece.at - now);
        break;
      }
      let bytes = piece.bytes;
      if (rate !== undefined) {
        const budget = Math.floor(this.tokens);
        if (budget < 1) {
          if (!this.throttledSaid) {
            this.throttledSaid = true;
            this.options.onThrottled?.(this.heldBytes);
          }
          this.schedule(Math.max(TICK_MS, ((1 - this.tokens) * 1000) / rate));
          break;
        }
        if (bytes.length > budget) {
          piece.bytes = bytes.subarray(budget);
          bytes = bytes.subarray(0, budget);
        } else this.head++;
        this.tokens -= bytes.length;
      } else this.head++;
      this.heldBytes -= bytes.length;
      this.sink(bytes);
      wrote = true;
      if (this.disposed) return;
    }
    if (this.head === this.pieces.length) {
      this.pieces.length = 0;
      this.head = 0;
    } else if (this.head > 64) {
      this.pieces.splice(0, this.head);
      this.head = 0;
    }
    if (wrote) this.options.onRoom?.();
    if (this.heldBytes === 0) this.throttledSaid = false;
    if (this.heldBytes === 0 && this.emptied.length > 0) {
      const waiting = this.emptied;
      this.emptied = [];
      for (const done of waiting) done();
    }
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => this.flush(), Math.ceil(ms));
  }
}
