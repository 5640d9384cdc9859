/**
 * Incremental HTTP/1.1 head parser (RFC 9112 §2-§5): one start line plus header block.
 *
 * It stops at the blank line, because what follows is not its business: a body whose framing
 * the head decides (src/http/http-connection.ts), or after a 101 the WebSocket frames (RFC 6455
 * §4.1). `reset()` readies it for the next head of a keep-alive stream. Bytes may arrive in any
 * pieces; the result never depends on how the stream was split. Problems are alerts; the
 * parser never throws on traffic.
 */
import { makeAlert, type Alert, type Direction } from '../alerts.js';

export interface HttpHeader {
  /** As sent (case preserved). */
  name: string;
  /** With leading and trailing OWS removed (RFC 9112 §5.1). */
  value: string;
}

export interface HttpRequest {
  kind: 'request';
  method: string;
  target: string;
  version: string;
  headers: HttpHeader[];
  /** Bytes from the first byte of the request line to the end of the blank line. */
  headBytes: number;
}

export interface HttpResponse {
  kind: 'response';
  version: string;
  status: number;
  reason: string;
  headers: HttpHeader[];
  headBytes: number;
}

export type HeadResult =
  | { state: 'need-more' }
  | { state: 'done'; head: HttpRequest | HttpResponse; rest: Uint8Array; alerts: Alert[] }
  | { state: 'error'; alerts: Alert[] };

export interface HttpHeadParserOptions {
  /** Largest head accepted, blank line included (RFC 9112 §2.3 lets a recipient set a limit). */
  maxHeadBytes?: number;
  /** Who sends this stream; defaults to client for requests and server for responses. */
  direction?: Direction;
}

const DEFAULT_MAX_HEAD_BYTES = 64 * 1024;
/** Longest method considered before deciding the stream is not HTTP (real ones are < 10). */
const MAX_METHOD_LENGTH = 24;
/** Bad header lines tolerated before deciding the stream is not HTTP after all. */
const MAX_MALFORMED_LINES = 8;

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HTAB = 0x09;
const HTTP_NAME = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

/** RFC 9110 §5.6.2 tchar, by byte value. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;

function isTchar(b: number): boolean {
  return TCHAR[b] === 1;
}

/** CTL other than HTAB (RFC 5234 B.1); CR is handled separately as a line ending. */
function isForbiddenControl(b: number): boolean {
  return (b < 0x20 && b !== HTAB && b !== CR) || b === 0x7f;
}

const TCHARS = "[!#$%&'*+.^_`|~0-9A-Za-z-]";
const REQUEST_LINE = new RegExp(`^(${TCHARS}+) ([\\x21-\\x7e\\x80-\\xff]+) (HTTP/[0-9]\\.[0-9])$`);
const REQUEST_LINE_LENIENT = new RegExp(`^(${TCHARS}+)[ \\t]+([^ \\t]+)[ \\t]+(HTTP/[0-9]+(?:\\.[0-9]+)?)[ \\t]*$`);
const STATUS_LINE = /^(HTTP\/[0-9]\.[0-9]) ([0-9]{3}) ([\t \x21-\x7e\x80-\xff]*)$/;
const STATUS_LINE_LENIENT = /^(HTTP\/[0-9]+(?:\.[0-9]+)?)[ \t]+([0-9]{3})(?:[ \t]+(.*))?$/s;
// RFC 9110 §5.5: NUL, CR and LF are never valid in a field value, other CTLs are not field-vchar.
const VALUE_CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
const VALUE_CONTROLS = /[\x00-\x08\x0a-\x1f\x7f]/g;

function isOws(code: number): boolean {
  return code === SP || code === HTAB;
}

function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** Where the field name of `line` ends: the index of a colon after one or more tchars, or -1. */
function fieldNameEnd(line: string): number {
  for (let i = 0; i < line.length; i++) {
    const code = line.charCodeAt(i);
    if (code === 0x3a) return i > 0 ? i : -1;
    if (!isTchar(code)) return -1;
  }
  return -1;
}

/** Shows a line in a message: printable, and short enough for one terminal line. */
function quoteLine(line: string): string {
  const shown = line.length > 60 ? `${line.slice(0, 60)}…` : line;
  return JSON.stringify(shown);
}

type Phase = 'first-line' | 'headers' | 'done' | 'error';

export class HttpHeadParser {
  private readonly kind: 'request' | 'response';
  private readonly maxHeadBytes: number;
  private readonly direction: Direction;
  private phase: Phase = 'first-line';
  /**
   * The current, incomplete line (copied: a line may span chunks). A Buffer from Node's pool:
   * two parsers per connection each allocating their own memory showed on captures of many
   * connections; and its text is read without a view.
   */
  private line = Buffer.allocUnsafe(256);
  private lineLength = 0;
  /** Bytes of this head consumed so far. */
  private consumed = 0;
  /** Stream offset of this head's first byte (see reset), added to the offsets alerts carry. */
  private base = 0;
  private lineStart = 0;
  private pendingCr = false;
  private methodSeen = false;
  private startLine: RegExpExecArray | null = null;
  private headers: HttpHeader[] = [];
  private alerts: Alert[] = [];
  private bareLfReported = false;
  private malformedLines = 0;
  private head: HttpRequest | HttpResponse | null = null;

  constructor(kind: 'request' | 'response', options: HttpHeadParserOptions = {}) {
    this.kind = kind;
    this.maxHeadBytes = options.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES;
    this.direction = options.direction ?? (kind === 'request' ? 'client' : 'server');
  }

  /**
   * Ready for the next head of the stream (keep-alive: RFC 9112 §9.3), whose first byte is at
   * stream offset `base`. The head returned before keeps its headers and alerts.
   */
  reset(base: number): void {
    // The lists went out with the head (or the error): the next head gets its own.
    if (this.phase === 'done' || this.phase === 'error') {
      this.headers = [];
      this.alerts = [];
    }
    this.phase = 'first-line';
    this.lineLength = 0;
    this.consumed = 0;
    this.base = base;
    this.lineStart = 0;
    this.pendingCr = false;
    this.methodSeen = false;
    this.startLine = null;
    this.bareLfReported = false;
    this.malformedLines = 0;
    this.head = null;
  }

  /** Bytes of the current head consumed so far (0 before its first byte). */
  get started(): number {
    return this.consumed;
  }

  /**
   * Feed the next bytes of the stream. Once the head is complete the parser is finished:
   * later pushes return the same head with the whole chunk as `rest` and no new alerts.
   */
  push(chunk: Uint8Array): HeadResult {
    if (this.phase === 'done' && this.head !== null) return { state: 'done', head: this.head, rest: chunk, alerts: [] };
    if (this.phase === 'error') return { state: 'error', alerts: [] };
    let pos = 0;
    while (pos < chunk.length) {
      if (this.phase === 'first-line') {
        // Byte by byte, so a stream that is not HTTP is recognised within a few bytes
        // instead of being buffered up to the limit.
        const byte = chunk[pos] as number;
        pos += 1;
        this.consumed += 1;
        if (this.consumed > this.maxHeadBytes) return this.tooLarge();
        if (byte === LF) {
          const outcome = this.completeLine();
          if (outcome !== null) return this.finish(outcome, chunk, pos);
          continue;
        }
        const problem = this.scanFirstLineByte(byte);
        if (problem !== null) {
          return this.fail(makeAlert('handshake.malformed', `Not HTTP: ${problem}; the stream is not parsed as HTTP.`, {
            direction: this.direction,
            offset: this.base + this.consumed - 1,
            detail: { byte: byte },
          }));
        }
        this.appendByte(byte);
      } else {
        const lf = chunk.indexOf(LF, pos);
        const end = lf === -1 ? chunk.length : lf + 1;
        if (this.consumed + (end - pos) > this.maxHeadBytes) return this.tooLarge();
        this.append(chunk.subarray(pos, lf === -1 ? end : lf));
        this.consumed += end - pos;
        pos = end;
        if (lf === -1) break;
        const outcome = this.completeLine();
        if (outcome !== null) return this.finish(outcome, chunk, pos);
      }
    }
    return { state: 'need-more' };
  }

  private finish(outcome: 'done' | 'error', chunk: Uint8Array, pos: number): HeadResult {
    if (outcome === 'done' && this.head !== null) {
      return { state: 'done', head: this.head, rest: chunk.subarray(pos), alerts: this.alerts };
    }
    return { state: 'error', alerts: this.alerts };
  }

  private fail(alert: Alert): HeadResult {
    this.phase = 'error';
    this.alerts.push(alert);
    return { state: 'error', alerts: this.alerts };
  }

  private tooLarge(): HeadResult {
    return this.fail(makeAlert('handshake.header-too-large', `The HTTP ${this.kind} head is longer than ${this.maxHeadBytes} bytes without reaching its blank line; the stream is not parsed as HTTP.`, {
      direction: this.direction,
      offset: this.base,
      detail: { limit: this.maxHeadBytes },
    }));
  }

  private append(bytes: Uint8Array): void {
    const needed = this.lineLength + bytes.length;
    if (needed > this.line.length) this.grow(needed);
    this.line.set(bytes, this.lineLength);
    this.lineLength = needed;
  }

  /** One byte of the start line (it is read byte by byte): no view of the chunk for it. */
  private appendByte(byte: number): void {
    if (this.lineLength === this.line.length) this.grow(this.lineLength + 1);
    this.line[this.lineLength++] = byte;
  }

  private grow(needed: number): void {
    const grown = Buffer.allocUnsafe(Math.max(needed, this.line.length * 2));
    grown.set(this.line.subarray(0, this.lineLength));
    this.line = grown;
  }

  /**
   * Checks one byte of the start line against what an HTTP start line can begin with.
   * Returns why the stream cannot be HTTP, or null while it still can be.
   */
  private scanFirstLineByte(byte: number): string | null {
    const index = this.lineLength;
    if (this.pendingCr) return 'a CR not followed by LF in the start line';
    if (byte === CR) {
      this.pendingCr = true;
      return null;
    }
    if (isForbiddenControl(byte)) return `control byte 0x${byte.toString(16).padStart(2, '0')} in the start line`;
    if (this.kind === 'response') {
      // RFC 9112 §4: status-line starts with HTTP-version, and HTTP-name is case-sensitive.
      const expected = HTTP_NAME[index];
      if (expected !== undefined && byte !== expected) return 'a status line must start with "HTTP/"';
      return null;
    }
    // RFC 9112 §3: request-line starts with method = token, then SP.
    if (this.methodSeen) return null;
    if (byte === SP) {
      this.methodSeen = true;
      return index === 0 ? 'the request line starts with a space' : null;
    }
    if (!isTchar(byte)) return 'the request line does not start with a method token';
    if (index >= MAX_METHOD_LENGTH) return `no method token within the first ${MAX_METHOD_LENGTH} bytes`;
    return null;
  }

  /** A whole line has arrived (LF consumed). Returns 'done' or 'error' when the head ends. */
  private completeLine(): 'done' | 'error' | null {
    let length = this.lineLength;
    const offset = this.lineStart;
    if (length > 0 && this.line[length - 1] === CR) {
      length -= 1;
    } else if (!this.bareLfReported) {
      // RFC 9112 §2.2: a recipient MAY accept a bare LF as a line terminator; say so once.
      this.bareLfReported = true;
      this.alerts.push(makeAlert('handshake.malformed', 'A line of the HTTP head ends with a bare LF instead of CRLF (RFC 9112 §2.2).', {
        direction: this.direction,
        offset: this.base + offset + length,
      }));
    }
    // Header bytes are latin1 (RFC 9110 §5.5: obs-text): decoding never fails, whatever the bytes.
    const text = this.line.toString('latin1', 0, length);
    this.lineLength = 0;
    this.pendingCr = false;
    this.lineStart = this.consumed;

    if (this.phase === 'first-line') {
      this.phase = 'headers';
      return this.parseStartLine(text, offset) ? null : 'error';
    }
    if (text.length === 0) {
      this.phase = 'done';
      this.head = this.buildHead();
      return 'done';
    }
    return this.parseFieldLine(text, offset) ? null : 'error';
  }

  private parseStartLine(text: string, offset: number): boolean {
    const isRequest = this.kind === 'request';
    const what = isRequest ? 'request line' : 'status line';
    const strict = (isRequest ? REQUEST_LINE : STATUS_LINE).exec(text);
    if (strict !== null) {
      this.startLine = strict;
      return true;
    }
    const lenient = (isRequest ? REQUEST_LINE_LENIENT : STATUS_LINE_LENIENT).exec(text);
    if (lenient !== null) {
      this.startLine = lenient;
      this.alerts.push(makeAlert('handshake.malformed', `The ${what} ${quoteLine(text)} is not valid syntax (RFC 9112 §${isRequest ? 3 : 4}: single spaces, HTTP/x.y).`, {
        direction: this.direction,
        offset: this.base + offset,
        detail: { line: text },
      }));
      return true;
    }
    this.phase = 'error';
    this.alerts.push(makeAlert('handshake.malformed', `The ${what} ${quoteLine(text)} is not HTTP/1.x; the stream is not parsed as HTTP.`, {
      direction: this.direction,
      offset: this.base + offset,
      detail: { line: text },
    }));
    return false;
  }

  /** One header line. Returns false when too many bad lines say this is not HTTP after all. */
  private parseFieldLine(text: string, offset: number): boolean {
    const first = text.charCodeAt(0);
    if (first === SP || first === HTAB) {
      const previous = this.headers[this.headers.length - 1];
      if (previous === undefined) {
        // RFC 9112 §2.2: whitespace between the start line and the first field line.
        return this.malformedLine(`Whitespace-prefixed line ${quoteLine(text)} right after the start line is ignored (RFC 9112 §2.2).`, text, offset);
      }
      // RFC 9112 §5.2: obs-fold must be rejected, or replaced by SP; we flag and join.
      this.alerts.push(makeAlert('handshake.obs-fold', `The value of ${previous.name} is continued on the next line (obsolete line folding); it is joined with a space.`, {
        direction: this.direction,
        offset: this.base + offset,
        detail: { header: previous.name },
      }));
      const continuation = trimOws(text);
      previous.value = previous.value === '' ? continuation : `${previous.value} ${continuation}`;
      return true;
    }
    const colon = fieldNameEnd(text);
    if (colon === -1) {
      const anyColon = text.indexOf(':');
      const reason = anyColon > 0 && /[ \t]$/.test(text.slice(0, anyColon))
        ? 'has whitespace between the field name and the colon (RFC 9112 §5.1)'
        : 'is not a "name: value" field line (RFC 9112 §5)';
      return this.malformedLine(`Header line ${quoteLine(text)} ${reason}; it is ignored.`, text, offset);
    }
    const name = text.slice(0, colon);
    let value = trimOws(text.slice(colon + 1));
    if (VALUE_CONTROL.test(value)) {
      value = value.replace(VALUE_CONTROLS, ' ');
      this.headers.push({ name, value });
      return this.malformedLine(`The value of ${name} contains control characters; they are replaced by spaces (RFC 9110 §5.5).`, text, offset);
    }
    this.headers.push({ name, value });
    return true;
  }

  private malformedLine(message: string, text: string, offset: number): boolean {
    this.malformedLines += 1;
    if (this.malformedLines > MAX_MALFORMED_LINES) {
      this.phase = 'error';
      this.alerts.push(makeAlert('handshake.malformed', `More than ${MAX_MALFORMED_LINES} malformed header lines: this is not an HTTP head; the stream is not parsed as HTTP.`, {
        direction: this.direction,
        offset: this.base + offset,
      }));
      return false;
    }
    this.alerts.push(makeAlert('handshake.malformed', message, { direction: this.direction, offset: this.base + offset, detail: { line: text } }));
    return true;
  }

  private buildHead(): HttpRequest | HttpResponse {
    const fields = this.startLine ?? [];
    if (this.kind === 'request') {
      return {
        kind: 'request',
        method: fields[1] ?? '',
        target: fields[2] ?? '',
        version: fields[3] ?? '',
        headers: this.headers,
        headBytes: this.consumed,
      };
    }
    return {
      kind: 'response',
      version: fields[1] ?? '',
      status: Number(fields[2] ?? 0),
      reason: fields[3] ?? '',
      headers: this.headers,
      headBytes: this.consumed,
    };
  }
}

/** All values of a header, in order; field names are case-insensitive (RFC 9110 §5.1). */
export function headerValues(headers: HttpHeader[], name: string): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const header of headers) if (isAsciiCaseless(header.name, wanted)) values.push(header.value);
  return values;
}

/**
 * Whether `text` is `lower` (lowercase ASCII) in any letter case, without a lowercase copy of
 * `text`: field names and tokens are compared so several times per handshake. (For a latin1
 * `text` this is what `text.toLowerCase() === lower` says: no other letter lowercases to ASCII.)
 */
export function isAsciiCaseless(text: string, lower: string): boolean {
  if (text.length !== lower.length) return false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code >= 0x41 && code <= 0x5a ? code + 0x20 : code) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Elements of comma-separated list headers (RFC 9110 §5.6.1), across repeated headers
 * (RFC 9110 §5.3: repeating a list header is the same as joining it with commas).
 * Empty elements are dropped, OWS trimmed, and commas inside quoted strings do not split.
 */
export function tokenList(values: string[]): string[] {
  const elements: string[] = [];
  const add = (value: string, start: number, end: number) => {
    const element = trimOws(value.slice(start, end));
    if (element !== '') elements.push(element);
  };
  for (const value of values) {
    let start = 0;
    let quoted = false;
    for (let i = 0; i < value.length; i++) {
      const char = value[i];
      if (quoted && char === '\\') {
        i++; // The escaped character, whatever it is.
      } else if (char === '"') {
        quoted = !quoted;
      } else if (char === ',' && !quoted) {
        add(value, start, i);
        start = i + 1;
      }
    }
    add(value, start, value.length);
  }
  return elements;
}
