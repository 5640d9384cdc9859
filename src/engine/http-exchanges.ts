/**
 * The HTTP exchanges of one connection as events: the HTTP layer's events in
 * (src/http/http-connection.ts, with body bytes), one `http` event out per exchange when its
 * response ends, with its bodies kept (capped) and their content coding undone for display,
 * event streams parsed as they arrive (src/http/sse.ts), and what each exchange delivered and
 * cost counted per transport for --summary.
 */
import { makeAlert, type Alert, type Direction } from '../alerts.js';
import { contentCodings, decodeBody, StreamingBodyDecoder } from '../http/content-coding.js';
import type { HttpEvent, HttpExchange } from '../http/http-connection.js';
import { headerValues, type HttpHeader } from '../http/http-parser.js';
import { SseParser, type SseEvent } from '../http/sse.js';
import type { Limits, StreamPosition } from '../websocket/types.js';
import type { HttpBody, HttpExchangeEvent, TransportTotals, WireTransport } from './events.js';
import { engineIoPollingTarget, engineIoSid, isEventStreamType, type HttpPatterns } from './http-patterns.js';

/** One dispatched Server-Sent Event, where the chunk holding its blank line arrived. */
export interface SseDispatch {
  event: SseEvent;
  at: StreamPosition;
}

export interface HttpExchangesOptions {
  conn: number;
  limits: Pick<Limits, 'maxMessageSize' | 'maxInflatedSize'>;
  /** The capture-wide judge of patterns; null: every exchange is judged alone. */
  patterns: HttpPatterns | null;
  /** The client's address, for the patterns' series. */
  client: string | null;
  /** Where each transport's totals are added up (shared with the WebSocket phase). */
  transports: Partial<Record<WireTransport, Record<Direction, TransportTotals>>>;
}

/** A body being received: its pieces (copies, capped) and its length. */
class BodyCollector {
  private pieces: Uint8Array[] = [];
  kept = 0;
  cut = false;

  constructor(private readonly max: number) {}

  add(bytes: Uint8Array): void {
    const room = this.max - this.kept;
    if (room <= 0) {
      this.cut = true;
      return;
    }
    const piece = bytes.length > room ? bytes.subarray(0, room) : bytes;
    if (piece.length < bytes.length) this.cut = true;
    this.pieces.push(Uint8Array.from(piece));
    this.kept += piece.length;
  }

  bytes(): Uint8Array {
    const pieces = this.pieces;
    if (pieces.length === 1) return pieces[0]!;
    return pieces.length === 0 ? new Uint8Array(0) : new Uint8Array(Buffer.concat(pieces, this.kept));
  }
}

interface ExchangeState {
  request: BodyCollector | null;
  response: BodyCollector | null;
  /** The event stream parser, when the response is text/event-stream. */
  sse: SseParser | null;
  sseDecoder: StreamingBodyDecoder | null;
  sseEvents: number;
  sseDataBytes: number;
  /** The stream's bytes once its content coding is undone (its wire bytes when it has none). */
  sseDecodedBytes: number;
  sseInvalidSaid: boolean;
  sseIndex: number;
  emitted: boolean;
  /** The exchange is an upgrade attempt: the handshake event tells it. */
  ignored: boolean;
}

const NONE: HttpHeader[] = [];

function contentTypeOf(headers: HttpHeader[] | null): string | null {
  if (headers === null) return null;
  const values = headerValues(headers, 'Content-Type');
  return values.length > 0 ? values[0]! : null;
}

function isEventStream(headers: HttpHeader[]): boolean {
  return isEventStreamType(contentTypeOf(headers));
}

const ms = (from: StreamPosition | null, to: StreamPosition | null): number | null =>
  from?.ts !== undefined && to?.ts !== undefined ? Math.round((to.ts - from.ts) * 1e6) / 1e3 : null;

export function newTransportTotals(): Record<Direction, TransportTotals> {
  return { client: { messages: 0, payloadBytes: 0, overheadBytes: 0 }, server: { messages: 0, payloadBytes: 0, overheadBytes: 0 } };
}

export class HttpExchanges {
  private readonly states = new Map<HttpExchange, ExchangeState>();
  constructor(private readonly options: HttpExchangesOptions) {}

  /** Nothing is waiting to be told: finish() would emit nothing. */
  get idle(): boolean {
    return this.states.size === 0;
  }

  /** This exchange is a WebSocket upgrade attempt: the handshake event tells it, not an `http` event. */
  ignore(exchange: HttpExchange): void {
    this.state(exchange).ignored = true;
  }

  /**
   * One event of the HTTP layer: `out` receives the `http` events it completes, `sse` each event
   * of an event stream as its blank line arrives.
   */
  handle(e: HttpEvent, out: HttpExchangeEvent[], sse: SseDispatch[], alerts: Alert[]): void {
    switch (e.type) {
      case 'body':
        this.body(e.exchange, e.direction, e.bytes, e.at, sse, alerts);
        break;
      case 'message-end':
        if (e.direction === 'server') this.emit(e.exchange, e.at, e.complete, out);
        break;
      case 'switch':
        this.emit(e.exchange, e.at, true, out);
        break;
      case 'unanswered':
      case 'request':
      case 'response':
        // Known from here on: told at the end even if the connection is lost before it ends.
        this.state(e.exchange);
        break;
      default:
        break;
    }
  }

  /** The connection is over: every exchange not yet told is told now, as incomplete. */
  finish(at: StreamPosition, out: HttpExchangeEvent[]): void {
    for (const [exchange, state] of this.states) if (!state.emitted) this.emit(exchange, at, false, out);
  }

  private state(exchange: HttpExchange): ExchangeState {
    let state = this.states.get(exchange);
    if (state === undefined) {
      state = { request: null, response: null, sse: null, sseDecoder: null, sseEvents: 0, sseDataBytes: 0, sseDecodedBytes: 0, sseInvalidSaid: false, sseIndex: 0, emitted: false, ignored: false };
      this.states.set(exchange, state);
    }
    return state;
  }

  private body(exchange: HttpExchange, direction: Direction, bytes: Uint8Array, at: StreamPosition, sse: SseDispatch[], alerts: Alert[]): void {
    // An exchange already told (or an upgrade, told by its handshake) keeps nothing more.
    const state = this.states.get(exchange);
    if (state === undefined || state.ignored) return;
    const max = this.options.limits.maxMessageSize;
    if (direction === 'client') {
      (state.request ??= new BodyCollector(max)).add(bytes);
      return;
    }
    const response = exchange.response;
    if (state.response === null && response !== null && isEventStream(response.headers)) {
      state.sse = new SseParser({ maxBytes: max });
      const codings = contentCodings(response.headers);
      if (codings.length > 0) state.sseDecoder = new StreamingBodyDecoder(codings, this.options.limits.maxInflatedSize);
    }
    (state.response ??= new BodyCollector(max)).add(bytes);
    if (state.sse === null) return;
    const pieces = state.sseDecoder === null ? [bytes] : state.sseDecoder.push(bytes);
    for (const piece of pieces) {
      state.sseDecodedBytes += piece.length;
      for (const event of state.sse.push(piece)) {
        state.sseEvents++;
        state.sseDataBytes += event.dataBytes;
        sse.push({ event, at });
      }
    }
    if (state.sse.invalidUtf8 && !state.sseInvalidSaid) {
      state.sseInvalidSaid = true;
      const alert = makeAlert('sse.utf8-invalid', `The event stream of ${exchange.request?.target ?? 'a response'} is not valid UTF-8: invalid bytes read as U+FFFD.`, { direction: 'server', ...(at.packet !== undefined ? { packet: at.packet } : {}) });
      exchange.alerts = [...exchange.alerts, alert];
      alerts.push(alert);
    }
  }

  private emit(exchange: HttpExchange, at: StreamPosition, complete: boolean, out: HttpExchangeEvent[]): void {
    const state = this.state(exchange);
    if (state.emitted || state.ignored) {
      // A refused upgrade attempt: bytes spent trying WebSocket (an accepted one is counted by the WebSocket phase).
      if (!state.emitted && exchange.response?.status !== 101) this.countAttempt(exchange);
      state.emitted = true;
      this.states.delete(exchange);
      return;
    }
    state.emitted = true;
    this.states.delete(exchange);
    const request = exchange.request;
    const response = exchange.response;
    const requestHeaders = request?.headers ?? NONE;
    const responseHeaders = response?.headers ?? null;
    const interimBytes = exchange.interim.reduce((n, r) => n + r.headBytes, 0);
    const requestFraming = exchange.requestFramingBytes;
    const responseFraming = exchange.responseFramingBytes;
    const target = request?.target ?? null;
    const polling = engineIoPollingTarget(target);
    const eventStream = responseHeaders !== null && isEventStream(responseHeaders);
    const waitMs = ms(exchange.requestEnd, exchange.responseStart);
    const pattern = this.options.patterns?.judge({ client: this.options.client, method: request?.method ?? null, path: target, waitMs, eventStream, engineIoPolling: polling })
      ?? (eventStream ? 'sse' : polling && request?.method === 'GET' ? 'long-poll' : 'request');
    if (state.sse !== null) state.sse.end();
    const event: HttpExchangeEvent = {
      type: 'http',
      conn: this.options.conn,
      index: exchange.index,
      at: exchange.responseEnd ?? at,
      start: exchange.requestStart,
      requestAt: exchange.requestEnd,
      method: request?.method ?? null,
      path: target,
      version: request?.version ?? null,
      status: response?.status ?? null,
      reason: response?.reason ?? null,
      contentType: contentTypeOf(responseHeaders),
      requestHeaders,
      responseHeaders,
      requestHeaderBytes: request?.headBytes ?? 0,
      requestBodyBytes: exchange.requestBodyBytes,
      responseHeaderBytes: (response?.headBytes ?? 0) + interimBytes,
      responseBodyBytes: exchange.responseBodyBytes,
      requestFramingBytes: requestFraming,
      responseFramingBytes: responseFraming,
      waitMs,
      durationMs: ms(exchange.requestStart, exchange.responseEnd ?? (complete ? at : null)),
      pattern,
      complete: complete && exchange.responseEnd !== null,
      requestBody: this.bodyOf(state.request, requestHeaders, exchange.requestBodyBytes),
      responseBody: responseHeaders === null ? null : this.bodyOf(state.response, responseHeaders, exchange.responseBodyBytes),
      interim: exchange.interim.map((r) => r.status),
      session: polling ? engineIoSid(target) : null,
      events: state.sse !== null ? state.sseEvents : null,
      alerts: exchange.alerts,
    };
    this.count(event, state);
    out.push(event);
  }

  private bodyOf(collector: BodyCollector | null, headers: HttpHeader[], length: number): HttpBody | null {
    if (length === 0 && collector === null) return null;
    const raw = collector?.bytes() ?? new Uint8Array(0);
    const cut = (collector?.cut ?? false) || raw.length < length;
    const codings = contentCodings(headers);
    if (codings.length === 0) return { data: raw, codings, decoded: false, decodeError: null, truncated: cut };
    const decoded = decodeBody(raw, codings, this.options.limits.maxInflatedSize);
    return { data: decoded.data, codings, decoded: decoded.error === null, decodeError: decoded.error, truncated: cut || decoded.truncated };
  }

  private countAttempt(exchange: HttpExchange): void {
    const totals = (this.options.transports.websocket ??= newTransportTotals());
    totals.client.overheadBytes += (exchange.request?.headBytes ?? 0) + exchange.requestBodyBytes + exchange.requestFramingBytes;
    totals.server.overheadBytes += (exchange.response?.headBytes ?? 0) + exchange.interim.reduce((n, r) => n + r.headBytes, 0) + exchange.responseBodyBytes + exchange.responseFramingBytes;
  }

  /** What the exchange delivered and cost, added to its transport's totals. */
  private count(e: HttpExchangeEvent, state: ExchangeState): void {
    const transport: WireTransport = e.pattern === 'sse' ? 'sse' : e.session !== null || engineIoPollingTarget(e.path) ? 'polling' : 'http';
    const totals = (this.options.transports[transport] ??= newTransportTotals());
    const client = totals.client;
    const server = totals.server;
    client.overheadBytes += e.requestHeaderBytes + e.requestFramingBytes;
    server.overheadBytes += e.responseHeaderBytes + e.responseFramingBytes;
    if (transport === 'sse') {
      server.messages += state.sseEvents;
      // Counted on the wire. A gzip/deflate/br-coded stream's compressed bytes cannot be told
      // apart: they are split in the proportion of data to framing in the decoded stream.
      const coded = state.sseDecoder !== null;
      const payload = !coded ? Math.min(state.sseDataBytes, e.responseBodyBytes)
        : state.sseDecodedBytes > 0 ? Math.round((e.responseBodyBytes * Math.min(state.sseDataBytes, state.sseDecodedBytes)) / state.sseDecodedBytes) : 0;
      server.payloadBytes += payload;
      server.overheadBytes += e.responseBodyBytes - payload;
    } else if (transport === 'http') {
      if (e.requestBodyBytes > 0) {
        client.messages++;
        client.payloadBytes += e.requestBodyBytes;
      }
      if (e.responseBodyBytes > 0) {
        server.messages++;
        server.payloadBytes += e.responseBodyBytes;
      }
    } else {
      // Engine.IO long-polling: the client's POST bodies and the answers to its GETs carry
      // packets (a POST's "ok" is no packet); a v4 body separates them with 0x1E, overhead too.
      const post = e.method === 'POST';
      addPackets(client, post ? e.requestBody : null, e.requestBodyBytes);
      addPackets(server, post ? null : e.responseBody, e.responseBodyBytes);
    }
  }
}

/** A polling body's packets into `t`: each packet a message, the v4 separators (when the body was sent as it is) overhead. */
function addPackets(t: TransportTotals, body: HttpBody | null, wireBytes: number): void {
  if (body === null || body.data.length === 0) {
    t.overheadBytes += wireBytes;
    return;
  }
  let separators = 0;
  for (const byte of body.data) if (byte === 0x1e) separators++;
  t.messages += separators + 1;
  const plain = body.codings.length === 0 && !body.truncated;
  t.payloadBytes += plain ? wireBytes - separators : wireBytes;
  if (plain) t.overheadBytes += separators;
}
