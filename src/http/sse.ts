/**
 * Server-Sent Events: the WHATWG HTML standard's "event stream interpretation" (§9.2.6), as a
 * pure, incremental parser. Bytes of a `text/event-stream` body go in as they arrive; each event
 * comes out when the blank line that dispatches it arrives, so a live capture shows it then.
 *
 * What the standard says, and where it is done below:
 * - the stream is UTF-8; one leading U+FEFF (BOM) is ignored; invalid bytes decode as U+FFFD
 *   (reported once, as the alert `sse.utf8-invalid`);
 * - lines end with CRLF, LF or CR (a CR at the end of one chunk and an LF at the start of the
 *   next are one line end);
 * - a line that starts with ":" is a comment; otherwise the field name is what comes before
 *   the first ":" (the whole line when there is none) and the value what follows it, less one
 *   leading space;
 * - `event` sets the type, `data` appends its value and an LF, `id` sets the last event ID
 *   unless the value holds a NUL, `retry` sets the reconnection time when it is all ASCII
 *   digits; other fields are ignored;
 * - a blank line dispatches: the last event ID is set first; with no data nothing is
 *   dispatched; the last LF of the data is removed; the type defaults to "message";
 * - at the end of the stream an unfinished event is discarded.
 *
 * Memory is one line and one event's data, each capped (`maxBytes`): a line or data beyond
 * the cap is kept up to it and the event is marked truncated.
 */
import { decodeUtf8Lossy, isValidUtf8 } from '../websocket/utf8.js';

/** One dispatched event. */
export interface SseEvent {
  /** The event type: the `event` field, or "message". */
  event: string;
  /** The data lines joined with "\n". */
  data: string;
  /** The last event ID in force when it was dispatched, or null when empty. */
  id: string | null;
  /** The reconnection time in force (ms), or null when the stream never set one. */
  retry: number | null;
  /** Bytes of the stream that made this event (its lines, comments before it and the blank line). */
  wireBytes: number;
  /** UTF-8 bytes of `data`: the payload the event delivered. */
  dataBytes: number;
  /** A line or the data was longer than the cap: `data` holds its start. */
  truncated: boolean;
}

export interface SseParserOptions {
  /** Longest line, and longest data of one event, kept (bytes). Default 16 MiB. */
  maxBytes?: number;
}

const LF = 0x0a;
const CR = 0x0d;
const DEFAULT_MAX = 16 * 1024 * 1024;

export class SseParser {
  private readonly max: number;
  /** Pieces of the line being read (copies: the caller's chunk is not ours to keep). */
  private line: Uint8Array[] = [];
  private lineBytes = 0;
  private lineCut = false;
  /** The previous chunk ended with CR: an LF first in this one ends no line. */
  private afterCr = false;
  /** BOM check: bytes of the stream seen so far, up to 3. */
  private start: number[] = [];
  private started = false;
  private data = '';
  private dataCut = false;
  private hasData = false;
  private type = '';
  private lastId = '';
  private retryMs: number | null = null;
  /** Bytes since the last dispatch (or the start). */
  private eventBytes = 0;
  /** Some line was not valid UTF-8. */
  invalidUtf8 = false;
  /** Events dispatched so far. */
  dispatched = 0;

  constructor(options: SseParserOptions = {}) {
    this.max = options.maxBytes ?? DEFAULT_MAX;
  }

  /** The reconnection time in force (ms), or null. */
  get retry(): number | null {
    return this.retryMs;
  }

  /** Bytes of the body, in order: the events whose blank line they complete. */
  push(chunk: Uint8Array): SseEvent[] {
    const out: SseEvent[] = [];
    let pos = 0;
    if (!this.started) pos = this.skipBom(chunk);
    if (pos < chunk.length && this.afterCr) {
      this.afterCr = false;
      if (chunk[pos] === LF) {
        this.eventBytes++;
        pos++;
      }
    }
    while (pos < chunk.length) {
      let end = pos;
      while (end < chunk.length && chunk[end] !== LF && chunk[end] !== CR) end++;
      if (end > pos) this.keep(chunk.subarray(pos, end));
      this.eventBytes += end - pos;
      if (end === chunk.length) break;
      // A line end: CRLF, LF or CR.
      let next = end + 1;
      if (chunk[end] === CR) {
        if (next < chunk.length) {
          if (chunk[next] === LF) next++;
        } else {
          this.afterCr = true;
        }
      }
      this.eventBytes += next - end;
      pos = next;
      const event = this.endLine();
      if (event !== null) out.push(event);
    }
    return out;
  }

  /**
   * The stream ended: an event without its blank line is discarded (§9.2.6). Returns the bytes
   * left undispatched (for the overhead accounting).
   */
  end(): number {
    const left = this.eventBytes;
    this.line = [];
    this.lineBytes = 0;
    this.data = '';
    this.hasData = false;
    this.eventBytes = 0;
    return left;
  }

  /** A leading U+FEFF (EF BB BF) is not part of the stream; it may arrive split across chunks. */
  private skipBom(chunk: Uint8Array): number {
    const bom = [0xef, 0xbb, 0xbf];
    let pos = 0;
    while (pos < chunk.length && this.start.length < 3) {
      if (chunk[pos] !== bom[this.start.length]) {
        // Not a BOM: what was held back is the start of the first line.
        this.started = true;
        const held = Uint8Array.from(this.start);
        this.start = [];
        if (held.length > 0) {
          this.keep(held);
          this.eventBytes += held.length;
        }
        return pos;
      }
      this.start.push(chunk[pos++]!);
    }
    if (this.start.length === 3) {
      this.started = true;
      this.start = [];
      this.eventBytes += 3;
    }
    return pos;
  }

  private keep(piece: Uint8Array): void {
    const room = this.max - this.lineBytes;
    if (room <= 0) {
      this.lineCut = true;
      return;
    }
    const kept = piece.length > room ? piece.subarray(0, room) : piece;
    if (kept.length < piece.length) this.lineCut = true;
    this.line.push(Uint8Array.from(kept));
    this.lineBytes += kept.length;
  }

  private takeLine(): string {
    const pieces = this.line;
    this.line = [];
    const bytes = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, this.lineBytes);
    this.lineBytes = 0;
    if (bytes.length === 0) return '';
    if (!this.invalidUtf8 && !isValidUtf8(bytes)) this.invalidUtf8 = true;
    return decodeUtf8Lossy(bytes);
  }

  private endLine(): SseEvent | null {
    const cut = this.lineCut;
    this.lineCut = false;
    const line = this.takeLine();
    if (line === '') return this.dispatch();
    if (line.charCodeAt(0) === 0x3a) return null; // a comment
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    switch (field) {
      case 'event':
        this.type = value;
        break;
      case 'data':
        if (cut) this.dataCut = true;
        this.hasData = true;
        if (this.data.length + value.length + 1 > this.max) {
          this.dataCut = true;
          this.data += value.slice(0, Math.max(0, this.max - this.data.length));
        } else {
          this.data += `${value}\n`;
        }
        break;
      case 'id':
        if (!value.includes('\u0000')) this.lastId = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
    return null;
  }

  private dispatch(): SseEvent | null {
    const wireBytes = this.eventBytes;
    const hadData = this.hasData && this.data !== '';
    let data = this.data;
    const type = this.type;
    const truncated = this.dataCut;
    this.data = '';
    this.hasData = false;
    this.dataCut = false;
    this.type = '';
    if (!hadData) return null;
    this.eventBytes = 0;
    if (data.endsWith('\n')) data = data.slice(0, -1);
    this.dispatched++;
    return {
      event: type === '' ? 'message' : type,
      data,
      id: this.lastId === '' ? null : this.lastId,
      retry: this.retryMs,
      wireBytes,
      dataBytes: Buffer.byteLength(data),
      truncated,
    };
  }
}
