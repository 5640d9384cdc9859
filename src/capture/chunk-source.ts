import { CaptureFormatError, type CaptureItem, type CaptureNotice } from './types.js';

/**
 * Pulls chunks from a stream's async iterator, so the stream stays paused (backpressure)
 * while nobody asks for the next chunk, and lets the format sniffer put bytes back.
 */
export class ChunkSource {
  private readonly iterator: AsyncIterator<unknown>;
  private readonly pushedBack: Buffer[] = [];
  private closed = false;

  constructor(
    iterable: AsyncIterable<unknown>,
    private readonly onClose: () => void = () => {},
  ) {
    this.iterator = iterable[Symbol.asyncIterator]();
  }

  /** The next chunk, or null at the end. Rejects with whatever the stream failed with. */
  async read(): Promise<Buffer | null> {
    const back = this.pushedBack.pop();
    if (back !== undefined) return back;
    if (this.closed) return null;
    for (;;) {
      const result = await this.iterator.next();
      if (result.done === true) return null;
      const chunk = toBuffer(result.value);
      if (chunk.length > 0) return chunk;
    }
  }

  /** Makes `chunk` the next thing read() returns. */
  unread(chunk: Buffer): void {
    if (chunk.length > 0) this.pushedBack.push(chunk);
  }

  /** Reads until at least n bytes are available or the input ends, and puts them back. */
  async peekAtLeast(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let total = 0;
    while (total < n) {
      const chunk = await this.read();
      if (chunk === null) break;
      parts.push(chunk);
      total += chunk.length;
    }
    const head = parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
    this.unread(head);
    return head;
  }

  /** Every remaining chunk, ending with the input; closes the source when the loop stops. */
  async *chunks(): AsyncGenerator<Buffer> {
    try {
      for (let chunk = await this.read(); chunk !== null; chunk = await this.read()) yield chunk;
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pushedBack.length = 0;
    try {
      // On a Readable's iterator, return() destroys the stream and so releases the file.
      await this.iterator.return?.();
    } catch {
      // The stream had already failed; that failure was reported where it was read.
    }
    this.onClose();
  }
}

function toBuffer(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  // A stream with an encoding set hands out strings; latin1 maps them back byte for byte.
  if (typeof value === 'string') return Buffer.from(value, 'latin1');
  return Buffer.alloc(0);
}

/**
 * Turns a failure while reading the body of a capture into a notice when it is a flaw of the
 * data (corrupt or cut gzip stream), so the packets before it still count; any other read
 * failure (EIO, a stream destroyed elsewhere) makes the input unusable.
 */
function readFailureNotice(err: unknown, name: string, packetsSoFar: number): CaptureNotice {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof code === 'string' && code.startsWith('Z_')) {
    const truncated = code === 'Z_BUF_ERROR';
    return {
      kind: 'notice',
      code: truncated ? 'truncated-gzip' : 'gzip-error',
      message: truncated
        ? `${name}: the gzip stream ends early, after packet ${packetsSoFar}`
        : `${name}: the gzip data is corrupt after packet ${packetsSoFar} (${message})`,
    };
  }
  throw new CaptureFormatError(`${name}: cannot read: ${message}`);
}

/**
 * The loop both capture readers run: `take` turns a chunk (null at first when the reader
 * starts from bytes it already holds) into items and says whether to go on; the items of each
 * chunk are yielded as one batch. Returns true when the input ended, false when reading stopped
 * early: `take` found the file corrupt, or a read failed (then reported as a notice).
 */
export async function* readInBatches(
  input: ChunkSource,
  name: string,
  packetsSoFar: () => number,
  take: (chunk: Buffer | null, batch: CaptureItem[]) => boolean,
): AsyncGenerator<CaptureItem[], boolean> {
  let chunk: Buffer | null = null;
  for (;;) {
    const batch: CaptureItem[] = [];
    const proceed = take(chunk, batch);
    if (batch.length > 0) yield batch;
    if (!proceed) return false;
    try {
      chunk = await input.read();
    } catch (err) {
      yield [readFailureNotice(err, name, packetsSoFar())];
      return false;
    }
    if (chunk === null) return true;
  }
}
