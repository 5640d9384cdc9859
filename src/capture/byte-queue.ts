/**
 * Incoming chunks kept as a list; bytes are handed out as views and copied only when a
 * requested range spans two chunks, so a record split at any byte boundary costs one copy.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  /** Bytes of chunks[0] already consumed. */
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** The n bytes at `offset` without consuming them. The caller must check `length` first. */
  peek(offset: number, n: number): Buffer {
    let skip = this.head + offset;
    let index = 0;
    while (index < this.chunks.length && skip >= this.chunks[index]!.length) {
      skip -= this.chunks[index]!.length;
      index++;
    }
    const first = this.chunks[index];
    if (first === undefined) return Buffer.alloc(0);
    if (skip + n <= first.length) return first.subarray(skip, skip + n);
    const out = Buffer.allocUnsafe(n);
    let written = 0;
    while (written < n && index < this.chunks.length) {
      const chunk = this.chunks[index]!;
      const piece = chunk.subarray(skip, skip + (n - written));
      piece.copy(out, written);
      written += piece.length;
      skip = 0;
      index++;
    }
    return written === n ? out : out.subarray(0, written);
  }

  /** Consumes n bytes (at most `length`) and returns them, as a view when they sit in one chunk. */
  take(n: number): Buffer {
    const count = Math.min(n, this.size);
    const out = this.peek(0, count);
    this.skip(count);
    return out;
  }

  /** Consumes and drops n bytes (at most `length`). */
  skip(n: number): void {
    let remaining = Math.min(n, this.size);
    this.size -= remaining;
    while (remaining > 0) {
      const first = this.chunks[0]!;
      const available = first.length - this.head;
      if (remaining < available) {
        this.head += remaining;
        return;
      }
      remaining -= available;
      this.chunks.shift();
      this.head = 0;
    }
  }
}
