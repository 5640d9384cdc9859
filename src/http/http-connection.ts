/**
 * HTTP/1.1 on one TCP connection (RFC 9112): every request and response, in order, on
 * keep-alive and pipelined connections, until the connection switches protocols (a 101, or a
 * 2xx answer to CONNECT) or stops being HTTP.
 *
 * A pure, streaming state machine per direction: head → body → head …, where each body ends as
 * its head says (src/http/body-framing.ts): Content-Length, chunked with trailers, until the
 * server closes, or not at all (HEAD, 1xx, 204, 304). Responses are paired with requests in
 * order (RFC 9112 §9.3), so a response knows the method it answers. Bodies are counted and
 * skipped, never buffered: memory is one head per direction plus, after a request that may
 * switch protocols, the client bytes sent before the answer (bounded), since those are either
 * the new protocol (after a 101) or the next HTTP request (after anything else).
 *
 * Bytes in, events out, in stream order; every event names the exchange it belongs to, which
 * gathers what is known about one request and its response (positions, sizes, heads, alerts).
 * With `bodies: true`, body bytes are handed out as views (valid only during the call that
 * returns them), so a layer above can read a body as it streams by.
 */
import { makeAlert, type Alert, type AlertCode, type Direction } from '../alerts.js';
import type { StreamPosition } from '../websocket/types.js';
import { requestBody, responseBody, type BodyFraming, type BodyKind } from './body-framing.js';
import { HttpHeadParser, isAsciiCaseless, type HttpHeader, type HttpRequest, type HttpResponse } from './http-parser.js';

/** One request and its response, as far as the stream has shown them. */
export interface HttpExchange {
  /** 0-based, in the order of requests on the connection. */
  readonly index: number;
  /** null for a response that arrived with no request waiting (see http.response-without-request). */
  request: HttpRequest | null;
  /** Where the request's first byte arrived. */
  requestStart: StreamPosition;
  /** Where its last byte (end of head or body) arrived; null while it is incomplete. */
  requestEnd: StreamPosition | null;
  requestBodyBytes: number;
  /** Bytes around the request's content: chunk size lines, CRLFs after chunks, trailers. */
  requestFramingBytes: number;
  requestTrailers: HttpHeader[];
  /** The final response (status 101 or 200-599); null while it has not arrived. */
  response: HttpResponse | null;
  /** Interim (1xx) responses before the final one, RFC 9110 §15.2. */
  interim: HttpResponse[];
  /** Where the first byte of its first response (interim or final) arrived. */
  responseStart: StreamPosition | null;
  /** Where the response's last byte arrived; null while it is incomplete. */
  responseEnd: StreamPosition | null;
  responseBodyBytes: number;
  responseFramingBytes: number;
  /** How the final response's body is delimited (null until its head is known). */
  responseBody: BodyKind | null;
  responseTrailers: HttpHeader[];
  /** Bytes of its bodies the capture missed (a TCP gap that left the framing intact). */
  missing: number;
  /** Every alert about this exchange: head syntax, framing, incompleteness. */
  alerts: Alert[];
}

/** Client bytes held after a request that may switch protocols, in order; a gap is a count of missing bytes. */
export type HeldPiece = { bytes: Uint8Array; at: StreamPosition } | { gap: number; at: StreamPosition };

export type HttpEvent =
  /** A request head is complete; `alerts` are its syntax alerts (also in exchange.alerts). */
  | { type: 'request'; exchange: HttpExchange; alerts: Alert[]; at: StreamPosition }
  /** An interim 1xx response (not 101) to the exchange. */
  | { type: 'interim'; exchange: HttpExchange; response: HttpResponse; alerts: Alert[]; at: StreamPosition }
  /** The final response head is complete. */
  | { type: 'response'; exchange: HttpExchange; alerts: Alert[]; at: StreamPosition }
  /** Body bytes (only with `bodies: true`): a view valid during this call only. */
  | { type: 'body'; exchange: HttpExchange; direction: Direction; bytes: Uint8Array; at: StreamPosition }
  /** A request (direction client) or response (server) is over; `complete` false when its stream ended first. */
  | { type: 'message-end'; exchange: HttpExchange; direction: Direction; complete: boolean; at: StreamPosition }
  /** The client sent bytes after a request that may switch protocols, before its answer (they are held). */
  | { type: 'early'; exchange: HttpExchange; at: StreamPosition }
  /**
   * The connection switched protocols after this exchange's response head: `rest` is what the
   * server sent after the head in the same chunk, `held` what the client sent after the request,
   * `heldDropped` how many of the client's bytes were over the hold limit and dropped.
   */
  | { type: 'switch'; exchange: HttpExchange; at: StreamPosition; rest: Uint8Array; held: HeldPiece[]; heldDropped: number }
  /** A problem with a message's framing, also in the exchange's alerts. */
  | { type: 'alert'; exchange: HttpExchange | null; alert: Alert }
  /** A request the connection never answered (reported by finish()). */
  | { type: 'unanswered'; exchange: HttpExchange }
  /**
   * One direction can no longer be followed as HTTP; the connection stops here. `reason`:
   * `not-http` (a head that is not HTTP: `alerts` say why, `head` holds the bytes of this chunk
   * from where that head began, when it began in this chunk), `server-first` (the server sent
   * bytes before any request), `framing` (a body whose end cannot be known), `gap` (bytes
   * missing from the capture where the framing cannot survive them), `cut` (the stream ended
   * inside a head, reported by finish()).
   */
  | { type: 'lost'; direction: Direction; reason: 'not-http' | 'server-first' | 'framing' | 'gap' | 'cut'; alerts: Alert[]; head: Uint8Array | null; at: StreamPosition };

export interface HttpConnectionOptions {
  /** Largest head (and trailer section) accepted, blank line included. Default 64 KiB. */
  maxHeadBytes?: number;
  /** Client bytes held while a request that may switch protocols waits for its answer. Default 1 MiB. */
  maxHeldBytes?: number;
  /** Hand body bytes out as `body` events. Default false: bodies are only counted. */
  bodies?: boolean;
  /**
   * Whether a request may be answered by a protocol switch, so that the client's later bytes
   * must wait for the answer. Default: it has an Upgrade field (RFC 9110 §7.8) or is CONNECT.
   */
  mayUpgrade?: (request: HttpRequest) => boolean;
}

type State =
  | 'head' // reading a head (or waiting for one)
  | 'length' // a body of `remaining` bytes
  | 'chunk-size' // a chunk size line
  | 'chunk-data' // `remaining` bytes of chunk data
  | 'chunk-end' // the CRLF after chunk data
  | 'trailers' // the trailer section after the last chunk
  | 'close' // a response body that runs until the server closes
  | 'hold' // (client) waiting for the answer to a request that may switch protocols
  | 'stopped'; // ended, lost or switched

const LF = 0x0a;
const CR = 0x0d;
const DEFAULT_MAX_HEAD = 64 * 1024;
const DEFAULT_MAX_HELD = 1024 * 1024;
/** Longest chunk size line (size and extensions) followed before the chunking is called malformed. */
const MAX_CHUNK_LINE = 4096;
/** Hex digits of a chunk size that still count exactly (16^13 > 2^53 would not). */
const MAX_CHUNK_DIGITS = 13;
const NO_ALERTS: Alert[] = [];
const NO_BODY: BodyFraming = { kind: 'none', length: 0, alerts: NO_ALERTS };
/**
 * What an exchange's lists hold until something is added: most exchanges have no alert,
 * interim answer or trailer, and four empty arrays per request showed on captures of many
 * connections. Lists are replaced, never pushed to, so this one stays empty.
 */
const NONE: never[] = Object.freeze([]) as never[];

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** RFC 9110 §7.8: a request with an Upgrade field may be answered 101; §9.3.6: CONNECT opens a tunnel. */
export function defaultMayUpgrade(request: HttpRequest): boolean {
  if (request.method === 'CONNECT') return true;
  for (const header of request.headers) if (isAsciiCaseless(header.name, 'upgrade')) return true;
  return false;
}

class Half {
  readonly parser: HttpHeadParser;
  state: State = 'head';
  /** Stream offset of the next byte. */
  offset = 0;
  /** Body or chunk bytes left. */
  remaining = 0;
  /** The exchange whose request (client) or response (server) is being read. */
  exchange: HttpExchange | null = null;
  /** Where the head being read began (its first byte arrived). */
  headAt: StreamPosition | null = null;
  /** The chunk size line or trailer line so far. */
  chunkSize = 0;
  chunkDigits = 0;
  /** In a chunk size line: past the digits (whitespace or an extension). */
  chunkExtension = false;
  lineBytes = 0;
  trailerBytes = 0;
  trailerLine = '';
  /** No byte of the next head has been read yet. */
  fresh = true;
  ended = false;
  endAt: StreamPosition = {};

  constructor(
    readonly direction: Direction,
    maxHeadBytes: number,
  ) {
    this.parser = new HttpHeadParser(direction === 'client' ? 'request' : 'response', { direction, maxHeadBytes });
  }
}

export class HttpConnection {
  private readonly client: Half;
  private readonly server: Half;
  private readonly maxHead: number;
  private readonly maxHeld: number;
  private readonly bodies: boolean;
  private readonly mayUpgrade: (request: HttpRequest) => boolean;
  /** Requests whose head is complete and whose final response has not begun to be read. */
  private readonly pending: HttpExchange[] = [];
  private exchanges = 0;
  /** The exchange the client's held bytes wait on. */
  private holdFor: HttpExchange | null = null;
  private held: HeldPiece[] = [];
  private heldBytes = 0;
  private heldDropped = 0;
  /** The `early` event was given for the current hold. */
  private earlySeen = false;
  /** How the held request's body is delimited, applied if the answer is not a switch. */
  private heldBody: BodyFraming = NO_BODY;
  /** Where the held request's head ended. */
  private heldAt: StreamPosition = {};
  private stopped = false;

  constructor(options: HttpConnectionOptions = {}) {
    this.maxHead = options.maxHeadBytes ?? DEFAULT_MAX_HEAD;
    this.maxHeld = options.maxHeldBytes ?? DEFAULT_MAX_HELD;
    this.bodies = options.bodies ?? false;
    this.mayUpgrade = options.mayUpgrade ?? defaultMayUpgrade;
    this.client = new Half('client', this.maxHead);
    this.server = new Half('server', this.maxHead);
  }

  /** Requests seen so far (heads complete), and responses with no request. */
  get exchangeCount(): number {
    return this.exchanges;
  }

  /** Requests waiting for their final response, oldest first. */
  get waiting(): readonly HttpExchange[] {
    return this.pending;
  }

  /** False once the connection switched protocols or a direction was lost: later bytes are not HTTP. */
  get active(): boolean {
    return !this.stopped;
  }

  /** Bytes of one direction's stream, in order. */
  push(direction: Direction, chunk: Uint8Array, at: StreamPosition = {}): HttpEvent[] {
    const events: HttpEvent[] = [];
    if (!this.stopped && chunk.length > 0) this.run(direction === 'client' ? this.client : this.server, chunk, at, events);
    return events;
  }

  /** `size` bytes of one direction's stream were not captured. */
  gap(direction: Direction, size: number, at: StreamPosition = {}): HttpEvent[] {
    const events: HttpEvent[] = [];
    if (this.stopped) return events;
    const half = direction === 'client' ? this.client : this.server;
    const exchange = half.exchange;
    switch (half.state) {
      case 'hold':
        half.offset += size;
        this.hold({ gap: size, at }, events);
        return events;
      case 'close':
        half.offset += size;
        if (exchange !== null) this.skipped(exchange, direction, size);
        return events;
      case 'length':
      case 'chunk-data':
        // Inside a body of known size, missing bytes leave the framing intact.
        if (size <= half.remaining && exchange !== null) {
          half.offset += size;
          half.remaining -= size;
          this.skipped(exchange, direction, size);
          this.report(events, exchange, 'http.body-incomplete', `${size} byte(s) of the ${direction === 'client' ? 'request' : 'response'} body were not captured; the framing is intact.`, half, at, { missing: size });
          if (half.remaining === 0) {
            if (half.state === 'length') this.messageEnd(half, at, events);
            else half.state = 'chunk-end';
          }
          return events;
        }
        break;
      default:
        break;
    }
    // In a head, a chunk size line or a trailer, or past the end of a body: no way to know
    // where the next message starts.
    this.lose(half, 'gap', NO_ALERTS, null, at, events);
    return events;
  }

  /** One direction's stream ended (FIN, RST, or the end of the capture). */
  end(direction: Direction, at: StreamPosition = {}): HttpEvent[] {
    const events: HttpEvent[] = [];
    const half = direction === 'client' ? this.client : this.server;
    if (this.stopped || half.ended) return events;
    half.ended = true;
    half.endAt = at;
    this.ended(half, at, events);
    return events;
  }

  /** What the end of a direction's stream means for the message being read. */
  private ended(half: Half, at: StreamPosition, events: HttpEvent[]): void {
    const direction = half.direction;
    switch (half.state) {
      case 'close':
        this.messageEnd(half, at, events);
        break;
      case 'length':
      case 'chunk-size':
      case 'chunk-data':
      case 'chunk-end':
      case 'trailers': {
        const exchange = half.exchange!;
        const what = direction === 'client' ? 'request' : 'response';
        const expected = half.state === 'length' ? `, ${half.remaining} of its Content-Length bytes missing` : ', before its last chunk';
        this.report(events, exchange, 'http.body-incomplete', `The ${direction}'s stream ended inside the ${what} body${expected}.`, half, at, half.state === 'length' ? { missing: half.remaining } : undefined);
        this.messageEnd(half, at, events, false);
        break;
      }
      default:
        break;
    }
  }

  /** The connection is over: end both directions; every request still waiting is unanswered. */
  finish(at: StreamPosition = {}): HttpEvent[] {
    const events = [...this.end('client', at), ...this.end('server', at)];
    if (this.stopped) return events;
    this.stopped = true;
    if (this.client.state === 'head' && !this.client.fresh) {
      events.push({ type: 'lost', direction: 'client', reason: 'cut', alerts: NO_ALERTS, head: null, at });
    }
    for (const exchange of this.pending) events.push({ type: 'unanswered', exchange });
    this.pending.length = 0;
    return events;
  }

  private run(half: Half, chunk: Uint8Array, at: StreamPosition, events: HttpEvent[]): void {
    let pos = 0;
    while (pos < chunk.length && !this.stopped) {
      switch (half.state) {
        case 'head': {
          const parser = half.parser;
          if (half.fresh) {
            // RFC 9112 §2.2: empty lines before a request line are ignored (clients send a
            // stray CRLF after a body); the same for a status line costs nothing.
            const from = pos;
            while (pos < chunk.length && (chunk[pos] === CR || chunk[pos] === LF)) pos++;
            half.offset += pos - from;
            if (pos === chunk.length) return;
            parser.reset(half.offset);
            half.fresh = false;
            half.headAt = at;
            if (half.direction === 'server' && !this.beginResponse(half, at, chunk, pos, events)) return;
          }
          const piece = pos === 0 ? chunk : chunk.subarray(pos);
          const result = parser.push(piece);
          if (result.state === 'need-more') {
            half.offset += piece.length;
            return;
          }
          if (result.state === 'error') {
            const began = parser.started <= piece.length ? piece : null;
            this.lose(half, 'not-http', result.alerts, began, at, events);
            return;
          }
          const used = piece.length - result.rest.length;
          half.offset += used;
          pos += used;
          half.fresh = true;
          if (half.direction === 'client') this.onRequest(half, result.head as HttpRequest, result.alerts, at, events);
          else if (!this.onResponse(half, result.head as HttpResponse, result.alerts, at, chunk, pos, events)) return;
          break;
        }
        case 'length': {
          const n = Math.min(half.remaining, chunk.length - pos);
          this.body(half, chunk, pos, n, at, events);
          pos += n;
          half.remaining -= n;
          if (half.remaining === 0) this.messageEnd(half, at, events);
          break;
        }
        case 'close': {
          this.body(half, chunk, pos, chunk.length - pos, at, events);
          pos = chunk.length;
          break;
        }
        case 'chunk-size':
          pos = this.chunkSizeLine(half, chunk, pos, at, events);
          break;
        case 'chunk-data': {
          const n = Math.min(half.remaining, chunk.length - pos);
          this.body(half, chunk, pos, n, at, events);
          pos += n;
          half.remaining -= n;
          if (half.remaining === 0) half.state = 'chunk-end';
          break;
        }
        case 'chunk-end': {
          // RFC 9112 §7.1: CRLF after the chunk data (a bare LF is accepted, as in heads, §2.2).
          const byte = chunk[pos]!;
          if (byte === CR && half.lineBytes === 0) {
            half.lineBytes = 1;
            pos++;
            half.offset++;
            this.framing(half, 1);
          } else if (byte === LF) {
            half.lineBytes = 0;
            pos++;
            half.offset++;
            this.framing(half, 1);
            this.startChunkLine(half, 'chunk-size');
          } else {
            this.framingLost(half, 'http.chunk-invalid', `The chunk data is not followed by CRLF (byte 0x${byte.toString(16).padStart(2, '0')} at the end of a chunk): the chunked body cannot be followed.`, at, events);
            return;
          }
          break;
        }
        case 'trailers':
          pos = this.trailerLine(half, chunk, pos, at, events);
          break;
        case 'hold': {
          const piece = chunk.subarray(pos);
          half.offset += piece.length;
          const kept = Math.min(piece.length, this.maxHeld - this.heldBytes);
          // Copied: the caller may reuse its buffer before the answer arrives.
          this.hold(kept > 0 ? { bytes: Uint8Array.from(piece.subarray(0, kept)), at } : null, events, at);
          this.heldDropped += piece.length - kept;
          return;
        }
        case 'stopped':
          return;
      }
    }
  }

  /** A response head begins: it answers the oldest waiting request. False when the server spoke first. */
  private beginResponse(half: Half, at: StreamPosition, chunk: Uint8Array, pos: number, events: HttpEvent[]): boolean {
    const waiting = this.pending[0];
    if (waiting !== undefined) {
      waiting.responseStart ??= at;
      half.exchange = waiting;
      return true;
    }
    if (this.exchanges === 0) {
      this.lose(half, 'server-first', NO_ALERTS, chunk.subarray(pos), at, events);
      return false;
    }
    // RFC 9112 §9.3: responses answer requests in order; this one answers nothing we saw.
    const orphan = this.newExchange(null, at);
    orphan.responseStart = at;
    this.pending.push(orphan);
    half.exchange = orphan;
    this.report(events, orphan, 'http.response-without-request', `The server sent a response when no request was waiting for one (after ${this.exchanges - 1} exchange(s)); it is read as the answer to a GET.`, half, at);
    return true;
  }

  private newExchange(request: HttpRequest | null, at: StreamPosition): HttpExchange {
    return {
      index: this.exchanges++,
      request,
      requestStart: at,
      requestEnd: null,
      requestBodyBytes: 0,
      requestFramingBytes: 0,
      requestTrailers: NONE,
      response: null,
      interim: NONE,
      responseStart: null,
      responseEnd: null,
      responseBodyBytes: 0,
      responseFramingBytes: 0,
      responseBody: null,
      responseTrailers: NONE,
      missing: 0,
      alerts: NONE,
    };
  }

  private onRequest(half: Half, head: HttpRequest, alerts: Alert[], at: StreamPosition, events: HttpEvent[]): void {
    const exchange = this.newExchange(head, half.headAt ?? at);
    if (alerts.length > 0) exchange.alerts = [...alerts];
    half.exchange = exchange;
    this.pending.push(exchange);
    events.push({ type: 'request', exchange, alerts, at });
    const framing = requestBody(head, half.offset, at.packet);
    if (!this.mayUpgrade(head)) {
      this.startBody(half, framing, exchange, at, events);
      return;
    }
    // RFC 9110 §7.8: after a 101 the new protocol starts, and servers take the stream over right
    // after the head (node:http does, even when the request declares a body: clients have been
    // seen sending WebSocket frames as one); after any other answer this is HTTP again, the
    // request's body first. So what follows the head waits for the answer, and so does the body.
    this.framingAlerts(framing, exchange, events);
    if (framing.kind === 'none') this.messageEnd(half, at, events);
    half.state = 'hold';
    this.holdFor = exchange;
    this.heldBody = framing;
    this.heldAt = at;
  }

  /** A response head is complete. False when the connection switched protocols (stop reading). */
  /** `chunk` from `pos` on is what follows the head. */
  private onResponse(half: Half, head: HttpResponse, alerts: Alert[], at: StreamPosition, chunk: Uint8Array, pos: number, events: HttpEvent[]): boolean {
    const exchange = half.exchange!;
    if (alerts.length > 0) exchange.alerts = [...exchange.alerts, ...alerts];
    if (head.status >= 100 && head.status < 200 && head.status !== 101) {
      // RFC 9110 §15.2: interim; the final response follows.
      exchange.interim = [...exchange.interim, head];
      events.push({ type: 'interim', exchange, response: head, alerts, at });
      return true;
    }
    exchange.response = head;
    // The final answer has begun: the next response answers the next request.
    if (this.pending[0] === exchange) this.pending.shift();
    const method = exchange.request?.method ?? null;
    const framing = responseBody(head, method, half.offset, at.packet);
    exchange.responseBody = framing.kind;
    events.push({ type: 'response', exchange, alerts, at });
    if (framing.kind === 'switch') {
      exchange.responseEnd = at;
      if (this.holdFor === exchange && exchange.requestEnd === null) {
        // The declared body was the new protocol's first bytes: the request ended with its head.
        exchange.requestEnd = this.heldAt;
        events.push({ type: 'message-end', exchange, direction: 'client', complete: true, at: this.heldAt });
      }
      const held = this.holdFor === exchange ? this.held : [];
      events.push({ type: 'switch', exchange, at, rest: pos === 0 ? chunk : chunk.subarray(pos), held, heldDropped: this.holdFor === exchange ? this.heldDropped : 0 });
      this.held = [];
      this.holdFor = null;
      this.stopped = true;
      this.client.state = 'stopped';
      this.server.state = 'stopped';
      return false;
    }
    this.startBody(half, framing, exchange, at, events);
    if (this.holdFor === exchange) this.release(events);
    return true;
  }

  private framingAlerts(framing: BodyFraming, exchange: HttpExchange, events: HttpEvent[]): void {
    for (const alert of framing.alerts) {
      exchange.alerts = [...exchange.alerts, alert];
      events.push({ type: 'alert', exchange, alert });
    }
  }

  private startBody(half: Half, framing: BodyFraming, exchange: HttpExchange, at: StreamPosition, events: HttpEvent[], alerts = true): void {
    if (alerts) this.framingAlerts(framing, exchange, events);
    switch (framing.kind) {
      case 'none':
      case 'switch':
        this.messageEnd(half, at, events);
        return;
      case 'length':
        if (framing.length === 0) {
          this.messageEnd(half, at, events);
          return;
        }
        half.state = 'length';
        half.remaining = framing.length;
        return;
      case 'chunked':
        this.startChunkLine(half, 'chunk-size');
        return;
      case 'close':
        half.state = 'close';
        return;
      case 'invalid':
        this.lose(half, 'framing', NO_ALERTS, null, at, events);
        return;
    }
  }

  private body(half: Half, chunk: Uint8Array, pos: number, n: number, at: StreamPosition, events: HttpEvent[]): void {
    if (n === 0) return;
    half.offset += n;
    const exchange = half.exchange!;
    if (half.direction === 'client') exchange.requestBodyBytes += n;
    else exchange.responseBodyBytes += n;
    if (this.bodies) events.push({ type: 'body', exchange, direction: half.direction, bytes: chunk.subarray(pos, pos + n), at });
  }

  /** `n` bytes of chunk framing (size lines, CRLFs, trailers) in the message being read. */
  private framing(half: Half, n: number): void {
    const exchange = half.exchange;
    if (exchange === null) return;
    if (half.direction === 'client') exchange.requestFramingBytes += n;
    else exchange.responseFramingBytes += n;
  }

  private skipped(exchange: HttpExchange, direction: Direction, size: number): void {
    exchange.missing += size;
    if (direction === 'client') exchange.requestBodyBytes += size;
    else exchange.responseBodyBytes += size;
  }

  private messageEnd(half: Half, at: StreamPosition, events: HttpEvent[], complete = true): void {
    const exchange = half.exchange;
    half.state = 'head';
    half.fresh = true;
    half.exchange = null;
    half.headAt = null;
    if (exchange === null) return;
    if (half.direction === 'client') {
      exchange.requestEnd = at;
      events.push({ type: 'message-end', exchange, direction: 'client', complete, at });
    } else {
      exchange.responseEnd = at;
      events.push({ type: 'message-end', exchange, direction: 'server', complete, at });
    }
  }

  /** Keeps what the client sent while its request waits for an answer (null: over the limit, dropped). */
  private hold(piece: HeldPiece | null, events: HttpEvent[], at: StreamPosition = piece?.at ?? {}): void {
    if (!this.earlySeen && this.holdFor !== null) {
      this.earlySeen = true;
      events.push({ type: 'early', exchange: this.holdFor, at });
    }
    if (piece === null) return;
    this.held.push(piece);
    if ('bytes' in piece) this.heldBytes += piece.bytes.length;
  }

  /** The answer was not a protocol switch: what the client sent meanwhile is HTTP again. */
  private release(events: HttpEvent[]): void {
    const held = this.held;
    const exchange = this.holdFor!;
    const body = this.heldBody;
    this.held = [];
    this.heldBytes = 0;
    this.heldDropped = 0;
    this.earlySeen = false;
    this.holdFor = null;
    const client = this.client;
    client.state = 'head';
    // The request's body comes first (its alerts were given with the request).
    if (body.kind !== 'none') this.startBody(client, body, exchange, this.heldAt, events, false);
    for (const piece of held) {
      if (this.stopped) return;
      if (!('bytes' in piece)) events.push(...this.gap('client', piece.gap, piece.at));
      else if ((client.state as State) === 'hold') this.hold(piece, events);
      else this.run(client, piece.bytes, piece.at, events);
    }
    // A FIN that came while the bytes were held ends what they began.
    if (client.ended && !this.stopped && (client.state as State) !== 'hold') this.ended(client, client.endAt, events);
  }

  private startChunkLine(half: Half, state: 'chunk-size' | 'trailers'): void {
    half.state = state;
    half.chunkSize = 0;
    half.chunkDigits = 0;
    half.chunkExtension = false;
    half.lineBytes = 0;
    half.trailerLine = '';
  }

  /** RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF. Returns the position after what it read. */
  private chunkSizeLine(half: Half, chunk: Uint8Array, pos: number, at: StreamPosition, events: HttpEvent[]): number {
    const exchange = half.exchange;
    const next = this.chunkSizeBytes(half, chunk, pos, at, events);
    // Every byte of a chunk size line is framing.
    if (exchange !== null) {
      if (half.direction === 'client') exchange.requestFramingBytes += next - pos;
      else exchange.responseFramingBytes += next - pos;
    }
    return next;
  }

  private chunkSizeBytes(half: Half, chunk: Uint8Array, pos: number, at: StreamPosition, events: HttpEvent[]): number {
    while (pos < chunk.length) {
      const byte = chunk[pos++]!;
      half.offset++;
      half.lineBytes++;
      if (half.lineBytes > MAX_CHUNK_LINE) {
        this.framingLost(half, 'http.chunk-invalid', `A chunk size line is longer than ${MAX_CHUNK_LINE} bytes: the chunked body cannot be followed.`, at, events);
        return chunk.length;
      }
      if (byte === LF) {
        if (half.chunkDigits === 0) {
          this.framingLost(half, 'http.chunk-invalid', 'A chunk size line has no size: the chunked body cannot be followed.', at, events);
          return chunk.length;
        }
        if (half.chunkSize === 0) {
          // last-chunk: the trailer section follows (§7.1.2).
          this.startChunkLine(half, 'trailers');
          half.trailerBytes = 0;
          return pos;
        }
        half.state = 'chunk-data';
        half.remaining = half.chunkSize;
        half.lineBytes = 0;
        return pos;
      }
      if (half.chunkExtension) continue; // chunk-ext (and the CR before LF): skipped, §7.1.1 lets a recipient ignore it
      const digit = hexValue(byte);
      if (digit >= 0) {
        if (++half.chunkDigits > MAX_CHUNK_DIGITS) {
          this.framingLost(half, 'http.chunk-invalid', `A chunk size has more than ${MAX_CHUNK_DIGITS} hex digits: too large to follow.`, at, events);
          return chunk.length;
        }
        half.chunkSize = half.chunkSize * 16 + digit;
        continue;
      }
      if (half.chunkDigits > 0 && (byte === 0x3b || byte === 0x20 || byte === 0x09 || byte === CR)) {
        half.chunkExtension = true;
        continue;
      }
      this.framingLost(half, 'http.chunk-invalid', `A chunk size line starts with byte 0x${byte.toString(16).padStart(2, '0')}, not a hex digit: the chunked body cannot be followed.`, at, events);
      return chunk.length;
    }
    return pos;
  }

  /** RFC 9112 §7.1.2: trailer field lines, then an empty line that ends the message. */
  private trailerLine(half: Half, chunk: Uint8Array, pos: number, at: StreamPosition, events: HttpEvent[]): number {
    const lf = chunk.indexOf(LF, pos);
    const end = lf === -1 ? chunk.length : lf + 1;
    half.trailerBytes += end - pos;
    this.framing(half, end - pos);
    if (half.trailerBytes > this.maxHead) {
      this.framingLost(half, 'http.chunk-invalid', `The trailer section is longer than ${this.maxHead} bytes: the chunked body cannot be followed.`, at, events);
      return chunk.length;
    }
    half.trailerLine += Buffer.from(chunk.buffer, chunk.byteOffset + pos, (lf === -1 ? end : lf) - pos).toString('latin1');
    half.offset += end - pos;
    if (lf === -1) return end;
    const line = half.trailerLine.endsWith('\r') ? half.trailerLine.slice(0, -1) : half.trailerLine;
    half.trailerLine = '';
    if (line === '') {
      this.messageEnd(half, at, events);
      return end;
    }
    const exchange = half.exchange!;
    const colon = line.indexOf(':');
    if (colon > 0) {
      const trailer = { name: line.slice(0, colon), value: line.slice(colon + 1).trim() };
      if (half.direction === 'client') exchange.requestTrailers = [...exchange.requestTrailers, trailer];
      else exchange.responseTrailers = [...exchange.responseTrailers, trailer];
    } else {
      this.report(events, exchange, 'http.chunk-invalid', `Trailer line ${JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line)} is not a "name: value" field; it is ignored.`, half, at);
    }
    return end;
  }

  private framingLost(half: Half, code: AlertCode, message: string, at: StreamPosition, events: HttpEvent[]): void {
    if (half.exchange !== null) this.report(events, half.exchange, code, message, half, at);
    this.lose(half, 'framing', NO_ALERTS, null, at, events);
  }

  private lose(half: Half, reason: 'not-http' | 'server-first' | 'framing' | 'gap', alerts: Alert[], head: Uint8Array | null, at: StreamPosition, events: HttpEvent[]): void {
    half.state = 'stopped';
    this.stopped = true;
    events.push({ type: 'lost', direction: half.direction, reason, alerts, head, at });
  }

  private report(events: HttpEvent[], exchange: HttpExchange, code: AlertCode, message: string, half: Half, at: StreamPosition, detail?: Record<string, number>): void {
    const alert = makeAlert(code, message, { ...this.where(half, at), direction: half.direction, ...(detail ? { detail } : {}) });
    exchange.alerts = [...exchange.alerts, alert];
    events.push({ type: 'alert', exchange, alert });
  }

  private where(half: Half, at: StreamPosition): { offset: number; packet?: number } {
    return at.packet !== undefined ? { offset: half.offset, packet: at.packet } : { offset: half.offset };
  }
}

export type { BodyKind };
