/**
 * Output written as bytes into a buffer that is handed on whole when it fills: what wsdump's
 * fast paths (NDJSON lines, table rows) write instead of building a string per line, which
 * cost three times over on big captures (the pieces, flattening them, encoding the result).
 */

/** Bytes gathered before they go to the sink. */
const CHUNK = 256 * 1024;

/**
 * Room for the fixed parts of a line and its numbers up to its next variable part, with much
 * to spare. A line asks for it when it starts, and each variable part (hex, text) asks for its
 * own size plus this, so what follows it fits too.
 */
export const LINE_ROOM = 1024;

export const ascii = (text: string): Uint8Array => Buffer.from(text, 'latin1');

export const NULL = ascii('null');

export const HEX_DIGITS = ascii('0123456789abcdef');

/**
 * `count` bytes of `bytes` as lowercase hex pairs into `target` from `at`, with `separator`
 * (a character code, or -1 for none) between pairs. Returns where the hex ends.
 */
export function spellHex(target: Uint8Array, at: number, bytes: Uint8Array, count: number, separator = -1): number {
  for (let i = 0; i < count; i++) {
    if (separator >= 0 && i > 0) target[at++] = separator;
    target[at++] = HEX_DIGITS[bytes[i]! >> 4]!;
    target[at++] = HEX_DIGITS[bytes[i]! & 15]!;
  }
  return at;
}

/** Whether `n` is written digit by digit by `num` (a non-negative integer below 2^31). */
export function isSmallCount(n: number): boolean {
  return n >= 0 && n <= 0x7fffffff && n === (n | 0);
}

/** How many decimal digits a small count (see isSmallCount) has. */
export function digitCount(n: number): number {
  return n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : n < 100000 ? 5 : n < 1000000 ? 6 : n < 10000000 ? 7 : n < 100000000 ? 8 : n < 1000000000 ? 9 : 10;
}

export class ByteWriter {
  protected buffer: Buffer;
  protected pos = 0;

  /** `sink` gets each full buffer and may keep it: a new one is taken. */
  constructor(
    private readonly sink: (bytes: Buffer) => void,
    protected readonly chunk = CHUNK,
  ) {
    this.buffer = Buffer.allocUnsafe(chunk);
  }

  /** Hands over the bytes gathered so far, if any. */
  flush(): void {
    if (this.pos === 0) return;
    const full = this.buffer.subarray(0, this.pos);
    this.buffer = Buffer.allocUnsafe(this.chunk);
    this.pos = 0;
    this.sink(full);
  }

  /** What was written since the last flush, as text, keeping the buffer (one line at a time). */
  takeText(): string {
    const text = this.buffer.toString('utf8', 0, this.pos);
    this.pos = 0;
    // A buffer grown for one large line is not kept.
    if (this.buffer.length > this.chunk) this.buffer = Buffer.allocUnsafe(this.chunk);
    return text;
  }

  /**
   * Text of any characters, as UTF-8 (at most 3 bytes a UTF-16 code unit). A text too large for
   * a chunk (a whole payload with --full) is handed over as a buffer of its exact size, after
   * what came before it, rather than room for three times its length.
   */
  text(text: string): void {
    if (text === '') return;
    if (text.length * 3 + LINE_ROOM > this.chunk) {
      this.flush();
      this.sink(Buffer.from(text));
      return;
    }
    this.room(text.length * 3 + LINE_ROOM);
    this.pos += this.buffer.write(text, this.pos);
  }

  /** Makes room for `n` more bytes; a piece larger than a chunk gets a buffer of its own size. */
  protected room(n: number): void {
    if (this.buffer.length - this.pos >= n) return;
    this.flush();
    if (n > this.buffer.length) this.buffer = Buffer.allocUnsafe(n);
  }

  protected put(part: Uint8Array): void {
    this.buffer.set(part, this.pos);
    this.pos += part.length;
  }

  /** A number as JSON.stringify and String write it: non-negative integers below 2^31 digit by digit. */
  protected num(n: number | null | undefined): void {
    if (n === null || n === undefined) {
      this.put(NULL);
      return;
    }
    if (!isSmallCount(n)) {
      this.pos += this.buffer.write(Number.isFinite(n) ? String(n) : 'null', this.pos, 'latin1');
      return;
    }
    const buffer = this.buffer;
    let at = this.pos + digitCount(n);
    this.pos = at;
    let rest = n;
    do {
      const next = (rest / 10) | 0;
      buffer[--at] = 0x30 + rest - next * 10;
      rest = next;
    } while (rest > 0);
  }
}
