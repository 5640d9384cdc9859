/**
 * The TLS record layer of one direction (RFC 8446 §5.1, RFC 5246 §6.2): records reassembled
 * from the TCP stream, each with the stream positions where it began and ended. A record is the
 * unit of decryption, and the packet where it ends is the packet its plaintext is shown at.
 */
import type { StreamPosition } from '../websocket/types.js';
import type { WireRecord } from './crypto.js';

/** Record content types (RFC 8446 §5.1). */
export const ContentType = { ChangeCipherSpec: 20, Alert: 21, Handshake: 22, ApplicationData: 23, Heartbeat: 24 } as const;

/**
 * The largest fragment a record may declare: 2^14 + 2048 in TLS 1.2 (§6.2.3), 2^14 + 256 in
 * TLS 1.3 (§5.2). A larger one means the stream is not (or no longer) TLS records.
 */
export const MAX_FRAGMENT = 16384 + 2048;

export interface ReadRecord extends WireRecord {
  /** Where its first byte arrived and where its last byte arrived. */
  start: StreamPosition;
  end: StreamPosition;
  /** Offset of its header in the direction's stream. */
  offset: number;
}

/** Why the stream stopped being read as records: an impossible header. */
export interface RecordFramingError {
  offset: number;
  at: StreamPosition;
  reason: string;
}

/** Does this 5-byte header look like a TLS record's? (type 20-24, version 3.x, a possible length) */
export function plausibleHeader(type: number, major: number, minor: number, length: number): boolean {
  return type >= 20 && type <= 24 && major === 3 && minor <= 4 && length <= MAX_FRAGMENT;
}

/** Where the first plausible application data record header in `bytes` is, or bytes.length. */
function findApplicationDataHeader(bytes: Uint8Array): number {
  for (let i = bytes.indexOf(ContentType.ApplicationData); i >= 0 && i + 5 <= bytes.length; i = bytes.indexOf(ContentType.ApplicationData, i + 1)) {
    if (bytes[i + 1] === 3 && bytes[i + 2] === 3 && ((bytes[i + 3]! << 8) | bytes[i + 4]!) <= MAX_FRAGMENT) return i;
  }
  return bytes.length;
}

/**
 * An incremental record parser: a header state and a body state, each waiting for the bytes it
 * needs, so a record split at any byte boundary parses as a whole one does. Records inside one
 * chunk are handed out as views of it; a record spanning chunks is copied together once, into
 * a buffer the reader reuses. Either way a record is valid until the next push: whoever keeps
 * one longer copies it.
 */
export class RecordReader {
  private readonly header = new Uint8Array(5);
  private headerHave = 0;
  /**
   * Where records spanning chunks are put together, reused (most records of a bulk transfer
   * span segments); grown to the largest record seen, so an idle connection keeps little.
   */
  private scratch: Buffer | null = null;
  private body: Uint8Array | null = null;
  private bodyHave = 0;
  private start: StreamPosition = {};
  private startOffset = 0;
  /** Bytes of the stream consumed so far. */
  private offset = 0;
  /** Set once a header is impossible: the rest of the stream is not parsed. */
  failed = false;
  /** After bytes went missing: looking for the next application data record header. */
  private scanning = false;

  /**
   * Bytes of the stream are missing: what was begun is dropped, and the next record is looked
   * for as the next `17 03 03` header with a possible length (TLS 1.2 and 1.3 application data,
   * RFC 8446 §5.1). The decryption above confirms it, or asks for the next one.
   */
  resync(): void {
    this.headerHave = 0;
    this.body = null;
    this.scanning = true;
  }

  /**
   * Bytes of the stream, in order: each record they complete goes to `onRecord` at once (it is a
   * view, valid until onRecord returns).
   */
  push(bytes: Uint8Array, pos: StreamPosition, onRecord: (record: ReadRecord) => void): RecordFramingError | null {
    let at = 0;
    while (at < bytes.length && !this.failed) {
      // After a gap (or when a record found after one did not decrypt: onRecord asked again).
      if (this.scanning) {
        const found = findApplicationDataHeader(bytes.subarray(at));
        this.offset += found;
        at += found;
        if (at === bytes.length) break;
        this.scanning = false;
      }
      if (this.body === null) {
        // Fast path: a whole record inside this chunk is a view of it.
        if (this.headerHave === 0 && bytes.length - at >= 5) {
          const length = (bytes[at + 3]! << 8) | bytes[at + 4]!;
          if (!plausibleHeader(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, length)) return this.fail(bytes.subarray(at, at + 5), pos, this.offset);
          if (bytes.length - at - 5 >= length) {
            const record: ReadRecord = { type: bytes[at]!, version: (bytes[at + 1]! << 8) | bytes[at + 2]!, header: bytes.subarray(at, at + 5), fragment: bytes.subarray(at + 5, at + 5 + length), start: pos, end: pos, offset: this.offset };
            at += 5 + length;
            this.offset += 5 + length;
            onRecord(record);
            continue;
          }
        }
        const n = Math.min(5 - this.headerHave, bytes.length - at);
        if (this.headerHave === 0) {
          this.start = pos;
          this.startOffset = this.offset;
        }
        this.header.set(bytes.subarray(at, at + n), this.headerHave);
        this.headerHave += n;
        at += n;
        this.offset += n;
        if (this.headerHave < 5) break;
        const length = (this.header[3]! << 8) | this.header[4]!;
        if (!plausibleHeader(this.header[0]!, this.header[1]!, this.header[2]!, length)) return this.fail(this.header, pos, this.startOffset);
        if (this.scratch === null || this.scratch.length < length) this.scratch = Buffer.allocUnsafeSlow(length);
        this.body = this.scratch.subarray(0, length);
        this.bodyHave = 0;
      }
      const n = Math.min(this.body.length - this.bodyHave, bytes.length - at);
      this.body.set(bytes.subarray(at, at + n), this.bodyHave);
      this.bodyHave += n;
      at += n;
      this.offset += n;
      if (this.bodyHave === this.body.length) {
        const header = this.header;
        const fragment = this.body;
        this.body = null;
        this.headerHave = 0;
        onRecord({ type: header[0]!, version: (header[1]! << 8) | header[2]!, header, fragment, start: this.start, end: pos, offset: this.startOffset });
      }
    }
    return null;
  }

  private fail(header: Uint8Array, at: StreamPosition, offset: number): RecordFramingError {
    this.failed = true;
    const hex = Buffer.from(header).toString('hex');
    return { offset, at, reason: `bytes ${hex.replace(/(..)/g, '$1 ').trim()} are not a TLS record header (type 20-24, version 3.x, length at most ${MAX_FRAGMENT})` };
  }
}
