import { makeAlert, sideOf, type Alert, type Direction } from '../alerts.js';
import { checkRequest, checkResponse, type HandshakeVerdict, type RequestCheck } from '../http/handshake.js';
import { HttpConnection, type HttpEvent, type HttpExchange, type HeldPiece } from '../http/http-connection.js';
import { headerValues, isAsciiCaseless, type HttpRequest, type HttpResponse } from '../http/http-parser.js';
import { Opcode } from '../websocket/constants.js';
import type { FramePoint } from '../websocket/frame-parser.js';
import { assumedPermessageDeflate } from '../websocket/permessage-deflate.js';
import type { WorkBudget } from '../websocket/extension.js';
import { WebSocketSession, type SessionEvent } from '../websocket/session.js';
import { withDefaults, type Limits, type StreamPosition } from '../websocket/types.js';
import type { ConnectionEndEvent, DirectionTotals, DissectEvent, HandshakeEvent, HttpExchangeEvent, TransportTotals } from './events.js';
import { CaptureOrder } from './capture-order.js';
import { extensionsFor } from './extensions.js';
import { ConnectionHealth, type TcpEndReason } from './health.js';
import { HttpExchanges, newTransportTotals, type SseDispatch } from './http-exchanges.js';
import type { HttpPatterns } from './http-patterns.js';
import { notHttpNote } from './sniff.js';
import { sseAppEvent } from '../app/sse.js';

export interface ConnectionDissectorOptions {
  limits?: Partial<Limits>;
  /**
   * Decode the streams as WebSocket from the first byte, without a handshake (the capture
   * started after it, or the user said "decode as"): extensions are unknown.
   */
  midstream?: boolean;
  /** Bytes a client may send before the server's answer that are kept for the session. */
  maxEarlyBytes?: number;
  /**
   * The user said this connection is WebSocket (--decode-as): if the handshake cannot be read
   * (bytes missing from the capture), decode the rest mid-stream instead of giving up.
   */
  fallbackToMidstream?: boolean;
  /** The server's port, for the hint a stream that is not HTTP may get (--decode-as PORT). */
  serverPort?: number;
  /**
   * Inflating allowed before control goes back to the caller (wsproxy refills it each turn of
   * the event loop). When a message runs out of it, the dissector is `suspended`: the caller
   * holds what comes next and calls resume() until it is not. None (wsdump): no bound.
   */
  budget?: WorkBudget;
  /**
   * Keep large payloads as views of the chunks handed in, building them only when read (see
   * FrameParser's keepPieces): for wsproxy, whose chunks are socket reads of their own.
   */
  keepPieces?: boolean;
  /** The client's address: HTTP exchanges of one client are judged as series (poll, long-poll). */
  clientAddress?: string;
  /** The judge of exchange patterns shared by the capture's connections (src/engine/http-patterns.ts). */
  httpPatterns?: HttpPatterns;
  /**
   * Emit each Server-Sent Event as an `app` event (default true); false when the application
   * layer is left out (--app none).
   */
  appEvents?: boolean;
}

type Phase =
  | 'http' // HTTP/1.1 requests and responses, until an upgrade
  | 'websocket'
  | 'done'; // not WebSocket (or lost): bytes are only counted

/** The WebSocket upgrade request waiting for its answer. */
interface Attempt {
  exchange: HttpExchange;
  head: HttpRequest;
  check: RequestCheck;
  parseAlerts: Alert[];
  at: StreamPosition;
  /** The checks of its answer, once it has come. */
  verdict?: HandshakeVerdict;
}

const DEFAULT_MAX_EARLY = 1024 * 1024;

/** The session options of every connection that has neither a budget nor keepPieces (wsdump's): shared, never written. */
const NO_SESSION_OPTIONS: { budget?: WorkBudget; keepPieces?: boolean } = Object.freeze({});

/** How telling each kind is: a connection keeps the most telling kind it has shown. */
const KIND_RANK: Record<ConnectionEndEvent['kind'], number> = { unknown: 0, tls: 1, 'not-http': 1, http: 2, refused: 3, websocket: 4 };

function newTotals(): DirectionTotals {
  return { bytes: 0, frames: 0, messages: 0, missing: 0, byOpcode: {} };
}

function requestLine(req: HttpRequest): string {
  return `${req.method} ${req.target} ${req.version}`;
}

function statusText(res: HttpResponse): string {
  return `${res.status} ${res.reason}`.trimEnd();
}

/** A request that is (meant as) a WebSocket upgrade: Upgrade: websocket, or a broken attempt with a key. */
function isAttempt(check: RequestCheck): boolean {
  return check.isUpgrade || check.key !== null;
}

/** The client's bytes wait for the answer after an upgrade request (any Upgrade field, CONNECT) or a WebSocket key. */
function mayUpgrade(request: HttpRequest): boolean {
  if (request.method === 'CONNECT') return true;
  for (const header of request.headers) {
    if (isAsciiCaseless(header.name, 'upgrade') || isAsciiCaseless(header.name, 'sec-websocket-key')) return true;
  }
  return false;
}

/**
 * One TCP connection: HTTP/1.1 exchanges (src/http/http-connection.ts) until an upgrade, then
 * the WebSocket phase (RFC 6455 §4, §5). Fed the two ordered byte streams in capture (or
 * arrival) order, it emits the typed events of src/engine/events.ts. It never throws on
 * traffic: problems become alert events.
 */
export class ConnectionDissector {
  private phase: Phase;
  private kind: ConnectionEndEvent['kind'] = 'unknown';
  private http: HttpConnection | null = null;
  private exchanges: HttpExchanges | null = null;
  /** Server-Sent Events become `app` events (not with --app none). */
  private readonly appEvents: boolean;
  /** What each transport delivered and cost (see TransportTotals). */
  private readonly transports: ConnectionEndEvent['transports'] = {};
  /** The WebSocket phase's totals, once it has begun. */
  private websocketTotals: Record<Direction, TransportTotals> | null = null;
  private attempt: Attempt | null = null;
  private session: WebSocketSession | null = null;
  private readonly totals: Record<Direction, DirectionTotals> = { client: newTotals(), server: newTotals() };
  /** The entries of each side's `totals.byOpcode`, by opcode (0-15). */
  private readonly byOpcode: Record<Direction, (DirectionTotals['byOpcode'][string] | undefined)[]> = { client: [], server: [] };
  private readonly alertCounts = { error: 0, warning: 0, info: 0 };
  /** Made at the first Close message: a connection left open has none. */
  private closeCodes: Record<Direction, (number | null)[]> | null = null;
  private readonly limits: Readonly<Limits>;
  /** `{ budget, keepPieces }` for the sessions, when given. */
  private readonly sessionOptions: { budget?: WorkBudget; keepPieces?: boolean };
  private readonly maxEarly: number;
  private readonly fallback: boolean;
  private readonly serverPort: number | undefined;
  private ended = false;
  /** finish() was called while a message was suspended: where, for the summary resume() gives. */
  private finishingAt: StreamPosition | null = null;
  private firstTs: number | undefined;
  private lastTs: number | undefined;
  private readonly health = new ConnectionHealth();
  /** Keeps the two directions' events in capture order while one resynchronises. */
  private readonly order = new CaptureOrder();

  constructor(
    readonly conn: number,
    options: ConnectionDissectorOptions = {},
  ) {
    this.limits = withDefaults(options.limits);
    this.sessionOptions = options.budget === undefined && options.keepPieces !== true ? NO_SESSION_OPTIONS : { ...(options.budget !== undefined ? { budget: options.budget } : {}), ...(options.keepPieces ? { keepPieces: true } : {}) };
    this.maxEarly = options.maxEarlyBytes ?? DEFAULT_MAX_EARLY;
    this.fallback = options.fallbackToMidstream ?? false;
    this.serverPort = options.serverPort;
    this.appEvents = options.appEvents ?? true;
    if (options.midstream) {
      this.phase = 'websocket';
      this.kind = 'websocket';
      this.session = this.midstreamSession();
    } else {
      this.phase = 'http';
      this.http = new HttpConnection({ maxHeldBytes: this.maxEarly, mayUpgrade, bodies: true });
      this.exchanges = new HttpExchanges({
        conn,
        limits: this.limits,
        patterns: options.httpPatterns ?? null,
        client: options.clientAddress ?? null,
        transports: this.transports,
      });
    }
  }

  /** True while a message's inflation has run out of the budget: nothing more may be fed until resume() says so. */
  get suspended(): boolean {
    return this.session?.suspended ?? false;
  }

  /** Goes on with the suspended message and what waited behind it (check `suspended` again after). */
  resume(): DissectEvent[] {
    if (this.session === null) return [];
    const events = this.fromSession(this.session.resume());
    const at = this.finishingAt;
    if (at !== null && !this.session.suspended) {
      this.finishingAt = null;
      events.push(...this.summary(at));
    }
    return events;
  }

  /** Where a WebSocket connection's directions stand between frames (WebSocketSession.framing); null for any other. */
  framing(): Record<Direction, FramePoint> | null {
    return this.phase === 'websocket' && this.session !== null ? this.session.framing() : null;
  }

  /** Events to emit before any traffic (the mid-stream notice). */
  start(at: StreamPosition = {}): DissectEvent[] {
    this.noteTime(at);
    if (this.session === null || this.phase !== 'websocket') return [];
    this.health.websocket(at.ts, false);
    return [this.alertEvent(makeAlert('handshake.not-seen', 'No opening handshake in the capture: decoding as WebSocket from here; negotiated extensions (permessage-deflate) are unknown, RSV bits are not judged.', { ...(at.packet !== undefined ? { packet: at.packet } : {}) }))];
  }

  data(direction: Direction, bytes: Uint8Array, pos: StreamPosition = {}): DissectEvent[] {
    sideOf(this.totals, direction).bytes += bytes.length;
    this.noteTime(pos);
    switch (this.phase) {
      case 'websocket':
        this.health.bytes(direction, pos.ts);
        return this.order.order(direction, this.fromSession(this.session!.push(direction, bytes, pos)), this.session!);
      case 'http':
        return this.fromHttp(this.http!.push(direction, bytes, pos), pos);
      case 'done':
        return [];
    }
  }

  gap(direction: Direction, size: number, pos: StreamPosition = {}): DissectEvent[] {
    sideOf(this.totals, direction).missing += size;
    const events: DissectEvent[] = [this.alertEvent(makeAlert('tcp.gap', `${size} byte(s) of the ${direction}'s stream were not captured.`, { direction, ...(pos.packet !== undefined ? { packet: pos.packet } : {}), detail: { size } }))];
    if (this.phase === 'websocket') return this.order.order(direction, [...events, ...this.fromSession(this.session!.gap(direction, size, pos))], this.session!);
    if (this.phase === 'http') events.push(...this.fromHttp(this.http!.gap(direction, size, pos), pos, { direction, size }));
    return events;
  }

  /**
   * One direction's stream ended: by a FIN of its sender (the default), by a RST that `by` sent,
   * or with the capture. Only the byte source knows which (the reassembler, the proxy's sockets).
   */
  end(direction: Direction, pos: StreamPosition = {}, how: { reason: TcpEndReason; by?: Direction | undefined } = { reason: 'fin', by: direction }): DissectEvent[] {
    this.health.tcpEnd(direction, how.reason, how.by, pos);
    if (this.phase === 'http') return this.fromHttp(this.http!.end(direction, pos), pos);
    if (this.phase !== 'websocket') return [];
    return this.order.order(direction, this.fromSession(this.session!.end(direction, pos)), this.session!);
  }

  /** The connection is over (both ends closed, or the capture ended). */
  finish(pos: StreamPosition = {}): DissectEvent[] {
    if (this.ended) return [];
    this.ended = true;
    const events: DissectEvent[] = this.session !== null ? this.order.flush(this.fromSession(this.session.finish(pos, this.health.ended(pos.ts ?? this.lastTs)))) : [];
    if (this.session?.suspended) {
      // The last message is still being inflated: the summary follows it (see resume()).
      this.finishingAt = pos;
      return events;
    }
    return [...events, ...this.summary(pos)];
  }

  /** What ends the connection, once its last messages are decoded: the HTTP leftovers, the health alerts and the end event. */
  private summary(pos: StreamPosition): DissectEvent[] {
    const events: DissectEvent[] = [];
    if (this.phase === 'http') events.push(...this.fromHttp(this.http!.finish(pos), pos));
    if (this.exchanges !== null) {
      const told: HttpExchangeEvent[] = [];
      this.exchanges.finish(pos, told);
      events.push(...told);
    }
    this.phase = this.phase === 'websocket' ? 'websocket' : 'done';
    this.noteTime(pos);
    const websocket = this.kind === 'websocket' && this.session !== null;
    const health = websocket ? this.health.finish(pos.ts) : null;
    for (const alert of health?.alerts ?? []) events.push(this.alertEvent(alert));
    events.push({
      type: 'end',
      conn: this.conn,
      kind: this.kind,
      totals: this.totals,
      alerts: { ...this.alertCounts },
      closeCodes: this.closeCodes ?? { client: [], server: [] },
      duration: this.firstTs !== undefined && this.lastTs !== undefined ? this.lastTs - this.firstTs : null,
      heartbeat: websocket ? this.session!.heartbeatStats() : null,
      appHeartbeat: null,
      close: health?.close ?? null,
      timing: health?.timing ?? null,
      transports: this.transports,
      at: pos,
    });
    return events;
  }

  /** The WebSocket phase's cost totals, made on first use. */
  private websocket(): Record<Direction, TransportTotals> {
    return (this.websocketTotals ??= this.transports.websocket ??= newTransportTotals());
  }

  private setKind(kind: ConnectionEndEvent['kind']): void {
    if (KIND_RANK[kind] > KIND_RANK[this.kind]) this.kind = kind;
  }

  /** The HTTP layer's events as dissection events; `gap` when they answer missing bytes. */
  private fromHttp(httpEvents: HttpEvent[], pos: StreamPosition, gap?: { direction: Direction; size: number }): DissectEvent[] {
    const out: DissectEvent[] = [];
    const exchanges = this.exchanges;
    for (const e of httpEvents) {
      if (exchanges !== null && e.type !== 'alert' && e.type !== 'early' && e.type !== 'lost' && e.type !== 'interim') this.fromExchanges(exchanges, e, out);
      switch (e.type) {
        case 'request':
          this.onRequest(e.exchange, e.alerts, e.at, out);
          break;
        case 'early':
          if (this.attempt?.exchange === e.exchange) {
            out.push(this.alertEvent(makeAlert('handshake.early-data', 'The client sent data before the server answered the upgrade request.', { direction: 'client', ...(e.at.packet !== undefined ? { packet: e.at.packet } : {}) })));
          }
          break;
        case 'response':
          this.onResponse(e.exchange, e.alerts, e.at, out);
          break;
        case 'switch':
          this.onSwitch(e.exchange, e.rest, e.held, e.heldDropped, e.at, out);
          break;
        case 'alert':
          out.push(this.alertEvent(e.alert));
          break;
        case 'unanswered':
          this.onUnanswered(e.exchange, pos, out);
          break;
        case 'lost':
          this.onLost(e, pos, gap, out);
          break;
        default:
          // interim, body, message-end: told by the exchange's `http` event.
          break;
      }
    }
    return out;
  }

  private onRequest(exchange: HttpExchange, parseAlerts: Alert[], at: StreamPosition, out: DissectEvent[]): void {
    const head = exchange.request!;
    const check = checkRequest(head);
    if (isAttempt(check)) {
      // Alerts about the request are reported with the handshake, once the answer is known.
      this.attempt = { exchange, head, check, parseAlerts, at };
      this.health.request(at.ts);
      this.exchanges?.ignore(exchange);
      return;
    }
    // Plain HTTP on the same port: said once answered. Its syntax problems are said now.
    this.setKind('http');
    for (const alert of parseAlerts) out.push(this.alertEvent(alert));
  }

  private onResponse(exchange: HttpExchange, parseAlerts: Alert[], at: StreamPosition, out: DissectEvent[]): void {
    const head = exchange.response!;
    const attempt = this.attempt;
    if (attempt !== null && attempt.exchange === exchange) {
      const verdict = checkResponse(head, attempt.check);
      attempt.verdict = verdict;
      out.push(...this.handshakeEvents({ head, verdict, at }, parseAlerts));
      if (verdict.upgraded) return; // the switch event follows
      this.attempt = null;
      this.setKind('refused');
      out.push({ type: 'other', conn: this.conn, kind: 'refused', requestLine: requestLine(attempt.head), status: head.status, note: `upgrade refused: ${statusText(head)}`, at });
      return;
    }
    for (const alert of parseAlerts) out.push(this.alertEvent(alert));
    if (head.status === 101) return; // a switch to another protocol: said by onSwitch
    const request = exchange.request;
    const note = request === null ? `a response with no request, ${statusText(head)}` : `an HTTP request without Upgrade: websocket, answered ${statusText(head)}`;
    this.setKind('http');
    const contentType = headerValues(head.headers, 'Content-Type')[0] ?? null;
    out.push({ type: 'other', conn: this.conn, kind: 'http', requestLine: request === null ? null : requestLine(request), status: head.status, note, at, exchange: exchange.index, contentType });
  }

  /** What an HTTP event completes: `http` events, and the events of an event stream. */
  private fromExchanges(exchanges: HttpExchanges, e: HttpEvent, out: DissectEvent[]): void {
    const told: HttpExchangeEvent[] = [];
    const sse: SseDispatch[] = [];
    const alerts: Alert[] = [];
    exchanges.handle(e, told, sse, alerts);
    if (this.appEvents) for (const d of sse) out.push(sseAppEvent(this.conn, d.event, d.at));
    for (const alert of alerts) out.push(this.alertEvent(alert));
    // Their alerts were counted when they arose (each was an `alert` event then).
    out.push(...told);
  }

  private onSwitch(exchange: HttpExchange, rest: Uint8Array, held: HeldPiece[], heldDropped: number, at: StreamPosition, out: DissectEvent[]): void {
    const attempt = this.attempt;
    this.attempt = null;
    this.http = null;
    const head = exchange.response!;
    if (attempt === null || attempt.exchange !== exchange || attempt.verdict === undefined || head.status !== 101) {
      // Another protocol (h2c, a CONNECT tunnel …): not ours to decode.
      this.phase = 'done';
      this.setKind('http');
      const request = exchange.request;
      const upgrade = request?.headers.find((h) => h.name.toLowerCase() === 'upgrade')?.value;
      const what = request?.method === 'CONNECT' ? 'a CONNECT tunnel was opened' : `the connection switched protocols${upgrade ? ` to ${upgrade}` : ''}`;
      out.push({ type: 'other', conn: this.conn, kind: 'http', requestLine: request === null ? null : requestLine(request), status: head.status, note: `${what} (${statusText(head)}); what follows is not decoded`, at });
      return;
    }
    this.phase = 'websocket';
    this.setKind('websocket');
    this.health.websocket(at.ts, true);
    // The HTTP phase is over for good: its exchanges go unless one is still to be told at the end
    // (its Map and options were ~400 bytes of every open WebSocket connection).
    if (this.exchanges?.idle) this.exchanges = null;
    const ws = this.websocket();
    ws.client.overheadBytes += attempt.head.headBytes;
    ws.server.overheadBytes += head.headBytes + exchange.interim.reduce((n, r) => n + r.headBytes, 0);
    this.session = new WebSocketSession({ limits: this.limits, extensions: extensionsFor(attempt.verdict), ...this.sessionOptions });
    for (const piece of held) {
      out.push(...this.fromSession('bytes' in piece ? this.session.push('client', piece.bytes, piece.at) : this.session.gap('client', piece.gap, piece.at)));
    }
    if (heldDropped > 0) {
      // Early bytes past the hold limit were not kept: they are a gap in the client's stream, so
      // the frame they cut is marked truncated and framing resynchronises after it (RFC 6455 §5.2).
      out.push(this.alertEvent(makeAlert('handshake.early-data-dropped', `The client sent more than ${this.maxEarly} bytes before the server answered the upgrade request; the ${heldDropped} bytes beyond that were not kept and are decoded as missing.`, { direction: 'client', ...(at.packet !== undefined ? { packet: at.packet } : {}), detail: { limit: this.maxEarly, dropped: heldDropped } })));
      out.push(...this.fromSession(this.session.gap('client', heldDropped, at)));
    }
    if (rest.length > 0) out.push(...this.fromSession(this.session.push('server', rest, at)));
  }

  private onUnanswered(exchange: HttpExchange, pos: StreamPosition, out: DissectEvent[]): void {
    if (this.attempt !== null && this.attempt.exchange === exchange) {
      // The upgrade was asked for but never answered within the capture.
      out.push(...this.handshakeEvents(null, []));
      this.attempt = null;
      return;
    }
    const request = exchange.request;
    out.push({ type: 'other', conn: this.conn, kind: 'http', requestLine: request === null ? null : requestLine(request), status: null, note: 'an HTTP request without Upgrade: websocket, not answered', at: pos, exchange: exchange.index });
  }

  private onLost(e: Extract<HttpEvent, { type: 'lost' }>, pos: StreamPosition, gap: { direction: Direction; size: number } | undefined, out: DissectEvent[]): void {
    const http = this.http!;
    const attempt = this.attempt;
    const waiting = http.waiting[0];
    this.phase = 'done';
    if (e.reason === 'gap') {
      if (this.fallback && gap !== undefined) {
        // The HTTP heads cannot be parsed across missing bytes; the user said this is WebSocket.
        this.phase = 'websocket';
        this.setKind('websocket');
        this.session = this.midstreamSession();
        this.health.websocket(pos.ts, false);
        out.push(this.alertEvent(makeAlert('handshake.not-seen', 'The handshake was cut by bytes missing from the capture: decoding as WebSocket from here (--decode-as); negotiated extensions are unknown, frames are resynchronised.', { direction: gap.direction, ...(pos.packet !== undefined ? { packet: pos.packet } : {}) })));
        out.push(...this.fromSession(this.session.gap(gap.direction, gap.size, pos)));
        return;
      }
      const cutHandshake = attempt !== null || http.exchangeCount === 0;
      const note = cutHandshake
        ? 'the handshake was cut by bytes missing from the capture (snap length?); --decode-as PORT decodes the frames after it'
        : 'bytes missing from the capture: the rest of the HTTP traffic on this connection cannot be followed';
      out.push({ type: 'other', conn: this.conn, kind: 'not-http', requestLine: attempt ? requestLine(attempt.head) : null, status: null, note, at: pos });
      return;
    }
    if (e.reason === 'server-first') {
      out.push(...this.notHttp(pos, notHttpNote(e.head, 'server', this.serverPort)));
      return;
    }
    if (e.reason === 'cut') {
      if (http.exchangeCount === 0) out.push(...this.notHttp(pos, 'the client stream ended before a complete HTTP request'));
      return;
    }
    if (e.reason === 'framing') {
      out.push({ type: 'other', conn: this.conn, kind: 'not-http', requestLine: null, status: null, note: `where an HTTP ${e.direction === 'client' ? 'request' : 'response'} body ends cannot be known (see the alert): the rest of the connection is not decoded`, at: pos });
      return;
    }
    // Not HTTP.
    if (e.direction === 'client') {
      const tooLarge = e.alerts.find((a) => a.code === 'handshake.header-too-large');
      if (tooLarge !== undefined) {
        // An over-long request head is HTTP the tool will not parse, not some other protocol.
        out.push(this.alertEvent(tooLarge));
        out.push(...this.notHttp(pos, `the HTTP request's header is too long (over ${String(tooLarge.detail?.limit)} bytes): the rest of the client stream is not parsed`));
        return;
      }
      if (http.exchangeCount === 0) out.push(...this.notHttp(pos, notHttpNote(e.head, 'client', this.serverPort)));
      else out.push({ type: 'other', conn: this.conn, kind: 'not-http', requestLine: null, status: null, note: `after ${http.exchangeCount} HTTP request(s), the client stream is no longer HTTP`, at: pos });
      return;
    }
    if (attempt !== null && waiting === attempt.exchange) {
      this.setKind('not-http');
      out.push(...this.handshakeEvents(null, e.alerts), { type: 'other', conn: this.conn, kind: 'not-http', requestLine: requestLine(attempt.head), status: null, note: 'the answer to the upgrade request is not HTTP', at: pos });
      this.attempt = null;
      return;
    }
    const request = waiting?.request ?? null;
    out.push({ type: 'other', conn: this.conn, kind: 'http', requestLine: request === null ? null : requestLine(request), status: null, note: 'an HTTP request without Upgrade: websocket, the answer is not HTTP', at: pos });
  }

  /** A session for streams joined without their handshake (see assumedPermessageDeflate). */
  private midstreamSession(): WebSocketSession {
    return new WebSocketSession({ limits: this.limits, extensions: [assumedPermessageDeflate()], extensionsKnown: false, synced: false, ...this.sessionOptions });
  }

  /** The handshake event: the request's alerts, then the response's, in one place. */
  private handshakeEvents(answer: { head: HttpResponse; verdict: HandshakeVerdict; at: StreamPosition } | null, responseAlerts: Alert[]): DissectEvent[] {
    const request = this.attempt!;
    const verdict = answer?.verdict;
    const alerts = [...request.parseAlerts, ...request.check.alerts, ...responseAlerts, ...(verdict?.alerts ?? [])];
    this.countAlerts(alerts);
    const handshake: HandshakeEvent = {
      type: 'handshake',
      conn: this.conn,
      request: { method: request.head.method, target: request.head.target, version: request.head.version, headers: request.head.headers, at: request.at },
      response: answer === null ? null : { version: answer.head.version, status: answer.head.status, reason: answer.head.reason, headers: answer.head.headers, at: answer.at },
      upgraded: verdict?.upgraded ?? false,
      key: request.check.key,
      expectedAccept: verdict?.expectedAccept ?? null,
      receivedAccept: verdict?.receivedAccept ?? null,
      acceptValid: verdict?.acceptValid ?? false,
      protocol: verdict?.protocol ?? null,
      offeredProtocols: request.check.offeredProtocols,
      offeredExtensions: request.check.offeredExtensions,
      extensions: verdict?.extensions ?? [],
      deflate: verdict?.deflate ?? null,
      supportedVersions: verdict?.supportedVersions ?? [],
      alerts,
    };
    return [handshake];
  }

  private notHttp(pos: StreamPosition, note: string): DissectEvent[] {
    this.phase = 'done';
    this.setKind('not-http');
    return [{ type: 'other', conn: this.conn, kind: 'not-http', requestLine: null, status: null, note, at: pos }];
  }

  private fromSession(events: SessionEvent[]): DissectEvent[] {
    // One event for each: written over the session's own array (made for this call and
    // not kept by it), rather than pushed into a new one.
    const out = events as unknown as DissectEvent[];
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.type === 'frame') {
        const totals = sideOf(this.totals, e.frame.direction);
        totals.frames++;
        // byOpcode's entry through an array indexed by opcode: a lookup by name is megamorphic.
        const ops = sideOf(this.byOpcode, e.frame.direction);
        let op = ops[e.frame.opcode];
        if (op === undefined) {
          op = totals.byOpcode[e.frame.opcodeName] ??= { frames: 0, bytes: 0 };
          ops[e.frame.opcode] = op;
        }
        op.frames++;
        op.bytes += e.frame.payloadLength;
        // Around the messages: every frame header (masking key included) and the control frames.
        const cost = sideOf(this.websocketTotals ?? this.websocket(), e.frame.direction);
        // Data frames carry the payload (bytes that arrived, for a frame the stream cut).
        const carried = e.frame.incomplete || !Number.isSafeInteger(e.frame.payloadLength) ? e.frame.payload.length : e.frame.payloadLength;
        cost.overheadBytes += e.frame.headerLength;
        if (e.frame.opcode >= 0x8) cost.overheadBytes += carried;
        else cost.payloadBytes += carried;
        if (e.frame.alerts.length > 0) {
          this.countAlerts(e.frame.alerts);
          this.health.frameAlerts(e.frame);
        }
        out[i] = { type: 'frame', conn: this.conn, frame: e.frame };
      } else if (e.type === 'message') {
        sideOf(this.totals, e.message.direction).messages++;
        if (e.message.opcode === Opcode.Text || e.message.opcode === Opcode.Binary) {
          const cost = sideOf(this.websocketTotals ?? this.websocket(), e.message.direction);
          cost.messages++;
        }
        this.countAlerts(e.message.alerts);
        this.health.message(e.message);
        if (e.message.opcode === Opcode.Close && e.message.close) (this.closeCodes ??= { client: [], server: [] })[e.message.direction].push(e.message.close.code);
        out[i] = { type: 'message', conn: this.conn, message: e.message };
      } else {
        out[i] = this.alertEvent(e.alert);
      }
    }
    return out;
  }

  private noteTime(pos: StreamPosition): void {
    if (pos.ts === undefined) return;
    this.firstTs ??= pos.ts;
    this.lastTs = pos.ts;
  }

  private alertEvent(alert: Alert): DissectEvent {
    this.countAlerts([alert]);
    return { type: 'alert', conn: this.conn, alert };
  }

  private countAlerts(alerts: Alert[]): void {
    for (const a of alerts) this.alertCounts[a.severity]++;
  }
}
