/**
 * Live output that can never hold up the relay. Text is handed to the stream at the end of the
 * current turn of the event loop (the lines of one turn in one write), but only while fewer than
 * `maxPendingBytes` are still waiting to be written; past that, whole events
 * are dropped and counted, and one line saying how many goes out as soon as the stream has
 * room again (or at `flush()`). A slow terminal or a paused pager thus costs at most
 * `maxPendingBytes` of memory and never a byte of relayed traffic.
 */
export interface BoundedOutputOptions {
  /** Bytes accepted but not yet written by the stream before events are dropped. Default 4 MiB. */
  maxPendingBytes?: number;
  /** The line (or NDJSON record) that reports `count` dropped events. */
  droppedLine: (count: number) => string;
  /** The stream failed with something other than a closed pipe (reported once; output stops). */
  onError?: (error: Error) => void;
}

export const DEFAULT_MAX_PENDING_OUTPUT = 4 * 1024 * 1024;

/** Text gathered before it is handed to the stream even within one turn of the event loop. */
const BATCH_BYTES = 64 * 1024;

export class BoundedOutput {
  private pending = 0;
  private droppedSince = 0;
  private droppedTotal = 0;
  private closed = false;
  private readonly max: number;
  private waiters: (() => void)[] = [];
  /** Text accepted in this turn of the event loop, handed to the stream in one write at its end. */
  private batch = '';
  private batchBytes = 0;
  private batchScheduled = false;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly options: BoundedOutputOptions,
  ) {
    this.max = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_OUTPUT;
    stream.on('error', (error: NodeJS.ErrnoException) => {
      // `| head` closed the pipe: output ends quietly, the relay goes on.
      if (!this.closed && error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') this.options.onError?.(error);
      this.stop();
    });
    stream.on('close', () => this.stop());
  }

  /** Events dropped so far because the output was too slow. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** Bytes accepted and not yet written. */
  get pendingBytes(): number {
    return this.pending;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Queues one event's text; false when it was dropped (or output has stopped). */
  write(text: string): boolean {
    if (text === '') return true;
    if (this.closed) return false;
    const size = Buffer.byteLength(text);
    if (this.pending + size > this.max) {
      this.droppedSince++;
      this.droppedTotal++;
      return false;
    }
    this.reportDropped();
    this.send(text, size);
    return true;
  }

  /**
   * Resolves when everything accepted has been written (or the stream is gone), or after
   * `timeoutMs` at the latest: with the bytes still not written then (0 when all were), which
   * are given up (a reader that never reads must not keep the proxy from stopping).
   */
  async flush(timeoutMs = Infinity): Promise<number> {
    this.reportDropped();
    this.writeBatch();
    if (this.pending === 0 || this.closed) return 0;
    let timer: NodeJS.Timeout | undefined;
    const written = new Promise<void>((resolve) => this.waiters.push(resolve));
    const late = Number.isFinite(timeoutMs) ? new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))) : null;
    await (late === null ? written : Promise.race([written, late]));
    clearTimeout(timer);
    const left = this.closed ? 0 : this.pending;
    if (left > 0) this.stop();
    return left;
  }

  private reportDropped(): void {
    if (this.droppedSince === 0 || this.closed) return;
    const line = this.options.droppedLine(this.droppedSince);
    this.droppedSince = 0;
    // Always sent, even over the limit: it is one line, and it must not be lost.
    this.send(line, Buffer.byteLength(line));
  }

  /**
   * Events come in bursts (one chunk of traffic can make many lines): they are joined and written
   * once per turn of the event loop (or per BATCH_BYTES), not once per line, which for a file or
   * /dev/null would be one system call per line.
   */
  private send(text: string, size: number): void {
    this.pending += size;
    this.batch += text;
    this.batchBytes += size;
    if (this.batchBytes >= BATCH_BYTES) this.writeBatch();
    else if (!this.batchScheduled) {
      this.batchScheduled = true;
      queueMicrotask(this.writeBatchLater);
    }
  }

  private readonly writeBatchLater = (): void => {
    this.batchScheduled = false;
    this.writeBatch();
  };

  private writeBatch(): void {
    if (this.batchBytes === 0) return;
    const text = this.batch;
    const size = this.batchBytes;
    this.batch = '';
    this.batchBytes = 0;
    if (this.closed) {
      this.pending -= size;
      return;
    }
    this.stream.write(text, () => {
      this.pending -= size;
      if (this.pending === 0) this.wake();
    });
  }

  private stop(): void {
    this.closed = true;
    this.pending -= this.batchBytes;
    this.batch = '';
    this.batchBytes = 0;
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
