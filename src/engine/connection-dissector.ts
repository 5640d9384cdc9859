import { makeAlert, sideOf, type Alert, type Direction } from '../alerts.js';
import { checkRequest, checkResponse, type HandshakeVerdict, type RequestCheck } from '../http/handshake.js';
import { HttpHeadParser, type HttpRequest, type HttpResponse } from '../http/http-parser.js';
import { Opcode } from '../websocket/constants.js';
import { assumedPermessageDeflate } from '../websocket/permessage-deflate.js';
import { WebSocketSession, type SessionEvent } from '../websocket/session.js';
import type { Limits, StreamPosition } from '../websocket/types.js';
import type { ConnectionEndEvent, DirectionTotals, DissectEvent, HandshakeEvent } from './events.js';
import { extensionsFor } from './extensions.js';

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
}

type Phase =
  | 'request' // waiting for the client's HTTP request
  | 'response' // upgrade request seen, waiting for the server's answer
  | 'http' // a plain HTTP request seen: waiting for its status line, to say what it was
  | 'websocket'
  | 'done'; // not WebSocket (or lost): bytes are only counted

interface Pending {
  bytes: Uint8Array;
  pos: StreamPosition;
}

const DEFAULT_MAX_EARLY = 1024 * 1024;

function newTotals(): DirectionTotals {
  return { bytes: 0, frames: 0, messages: 0, missing: 0, byOpcode: {} };
}

function requestLine(req: HttpRequest): string {
  return `${req.method} ${req.target} ${req.version}`;
}

/**
 * One TCP connection: the HTTP/1.1 upgrade phase, then the WebSocket phase (RFC 6455 §4, §5).
 * Fed the two ordered byte streams in capture (or arrival) order, it emits the typed events of
 * src/engine/events.ts. It never throws on traffic: problems become alert events.
 */
export class ConnectionDissector {
  private phase: Phase;
  private kind: ConnectionEndEvent['kind'] = 'unknown';
  private readonly requestParser = new HttpHeadParser('request', { direction: 'client' });
  private readonly responseParser = new HttpHeadParser('response', { direction: 'server' });
  private request: { head: HttpRequest; check: RequestCheck; parseAlerts: Alert[]; at: StreamPosition } | null = null;
  /** The request line of a plain (non-upgrade) HTTP request. */
  private plainRequest: string | null = null;
  private session: WebSocketSession | null = null;
  /** Client bytes sent after the request but before the server's answer (§4.1 says wait). */
  private early: Pending[] = [];
  private earlyBytes = 0;
  private readonly totals: Record<Direction, DirectionTotals> = { client: newTotals(), server: newTotals() };
  /** The entries of each side's `totals.byOpcode`, by opcode (0-15). */
  private readonly byOpcode: Record<Direction, (DirectionTotals['byOpcode'][string] | undefined)[]> = { client: [], server: [] };
  private readonly alertCounts = { error: 0, warning: 0, info: 0 };
  private readonly closeCodes: Record<Direction, (number | null)[]> = { client: [], server: [] };
  private readonly limits: Partial<Limits>;
  private readonly maxEarly: number;
  private readonly fallback: boolean;
  private ended = false;
  private firstTs: number | undefined;
  private lastTs: number | undefined;

  constructor(
    readonly conn: number,
    options: ConnectionDissectorOptions = {},
  ) {
    this.limits = options.limits ?? {};
    this.maxEarly = options.maxEarlyBytes ?? DEFAULT_MAX_EARLY;
    this.fallback = options.fallbackToMidstream ?? false;
    this.phase = options.midstream ? 'websocket' : 'request';
    if (options.midstream) {
      this.kind = 'websocket';
      this.session = this.midstreamSession();
    }
  }

  /** Events to emit before any traffic (the mid-stream notice). */
  start(at: StreamPosition = {}): DissectEvent[] {
    this.noteTime(at);
    if (this.session === null || this.phase !== 'websocket' || this.request !== null) return [];
    return [this.alertEvent(makeAlert('handshake.not-seen', 'No opening handshake in the capture: decoding as WebSocket from here; negotiated extensions (permessage-deflate) are unknown, RSV bits are not judged.', { ...(at.packet !== undefined ? { packet: at.packet } : {}) }))];
  }

  data(direction: Direction, bytes: Uint8Array, pos: StreamPosition = {}): DissectEvent[] {
    sideOf(this.totals, direction).bytes += bytes.length;
    this.noteTime(pos);
    switch (this.phase) {
      case 'websocket':
        return this.fromSession(this.session!.push(direction, bytes, pos));
      case 'request':
        return direction === 'client' ? this.onRequestBytes(bytes, pos) : this.notHttp(pos, 'the server spoke first');
      case 'response':
        return direction === 'server' ? this.onResponseBytes(bytes, pos) : this.onEarlyBytes(bytes, pos);
      case 'http':
        return direction === 'server' ? this.onPlainResponseBytes(bytes, pos) : [];
      case 'done':
        return [];
    }
  }

  gap(direction: Direction, size: number, pos: StreamPosition = {}): DissectEvent[] {
    sideOf(this.totals, direction).missing += size;
    const events: DissectEvent[] = [this.alertEvent(makeAlert('tcp.gap', `${size} byte(s) of the ${direction}'s stream were not captured.`, { direction, ...(pos.packet !== undefined ? { packet: pos.packet } : {}), detail: { size } }))];
    if (this.phase === 'websocket') return [...events, ...this.fromSession(this.session!.gap(direction, size, pos))];
    if (this.phase === 'request' || this.phase === 'response') {
      // The HTTP head cannot be parsed across missing bytes.
      if (this.fallback) {
        this.phase = 'websocket';
        this.kind = 'websocket';
        this.session = this.midstreamSession();
        events.push(this.alertEvent(makeAlert('handshake.not-seen', 'The handshake was cut by bytes missing from the capture: decoding as WebSocket from here (--decode-as); negotiated extensions are unknown, frames are resynchronised.', { direction, ...(pos.packet !== undefined ? { packet: pos.packet } : {}) })));
        return [...events, ...this.fromSession(this.session.gap(direction, size, pos))];
      }
      this.phase = 'done';
      events.push({ type: 'other', conn: this.conn, kind: 'not-http', requestLine: this.request ? requestLine(this.request.head) : null, status: null, note: 'the handshake was cut by bytes missing from the capture (snap length?); --decode-as PORT decodes the frames after it', at: pos });
    }
    return events;
  }

  /** One direction's stream ended (FIN or RST). */
  end(direction: Direction, pos: StreamPosition = {}): DissectEvent[] {
    if (this.phase !== 'websocket') return [];
    return this.fromSession(this.session!.end(direction, pos));
  }

  /** The connection is over (both ends closed, or the capture ended). */
  finish(pos: StreamPosition = {}): DissectEvent[] {
    if (this.ended) return [];
    this.ended = true;
    const events: DissectEvent[] = this.session !== null ? this.fromSession(this.session.finish(pos)) : [];
    if (this.phase === 'request' && this.totals.client.bytes > 0) {
      events.push(...this.notHttp(pos, 'the client stream ended before a complete HTTP request'));
    } else if (this.phase === 'response') {
      // The upgrade was asked for but never answered within the capture.
      events.push(...this.handshakeEvents(null, []));
      this.phase = 'done';
    } else if (this.phase === 'http') {
      events.push(...this.plainHttp(pos, null, 'not answered'));
    }
    this.noteTime(pos);
    events.push({
      type: 'end',
      conn: this.conn,
      kind: this.kind,
      totals: this.totals,
      alerts: { ...this.alertCounts },
      closeCodes: this.closeCodes,
      duration: this.firstTs !== undefined && this.lastTs !== undefined ? this.lastTs - this.firstTs : null,
      at: pos,
    });
    return events;
  }

  private onRequestBytes(bytes: Uint8Array, pos: StreamPosition): DissectEvent[] {
    const result = this.requestParser.push(bytes);
    if (result.state === 'need-more') return [];
    if (result.state === 'error') return this.notHttp(pos, 'the client stream is not HTTP');
    const head = result.head;
    if (head.kind !== 'request') return this.notHttp(pos, 'the client stream is not an HTTP request');
    const check = checkRequest(head);
    // A request with a key but no Upgrade header is a broken WebSocket attempt, not plain HTTP.
    if (!check.isUpgrade && check.key === null) {
      // Plain HTTP on the same port: not ours to dissect, but say what it was once answered.
      this.phase = 'http';
      this.kind = 'http';
      this.plainRequest = requestLine(head);
      return [];
    }
    this.request = { head, check, parseAlerts: result.alerts, at: pos };
    this.phase = 'response';
    const events: DissectEvent[] = [];
    // Alerts about the request are reported with the handshake, once the answer is known.
    if (result.rest.length > 0) events.push(...this.onEarlyBytes(result.rest, pos));
    return events;
  }

  /** The status line of the answer to a plain HTTP request; then the connection is only counted. */
  private onPlainResponseBytes(bytes: Uint8Array, pos: StreamPosition): DissectEvent[] {
    const result = this.responseParser.push(bytes);
    if (result.state === 'need-more') return [];
    const status = result.state === 'done' && result.head.kind === 'response' ? result.head : null;
    return this.plainHttp(pos, status === null ? null : status.status, status === null ? 'the answer is not HTTP' : `answered ${status.status} ${status.reason}`.trimEnd());
  }

  private plainHttp(pos: StreamPosition, status: number | null, answer: string): DissectEvent[] {
    this.phase = 'done';
    return [{ type: 'other', conn: this.conn, kind: 'http', requestLine: this.plainRequest, status, note: `an HTTP request without Upgrade: websocket, ${answer}`, at: pos }];
  }

  private onEarlyBytes(bytes: Uint8Array, pos: StreamPosition): DissectEvent[] {
    const events: DissectEvent[] = [];
    if (this.early.length === 0) {
      events.push(this.alertEvent(makeAlert('handshake.early-data', 'The client sent data before the server answered the upgrade request.', { direction: 'client', ...(pos.packet !== undefined ? { packet: pos.packet } : {}) })));
    }
    const room = this.maxEarly - this.earlyBytes;
    if (room > 0) {
      const kept = bytes.length > room ? bytes.subarray(0, room) : bytes;
      // Copy: the caller may reuse its buffer before the answer arrives.
      this.early.push({ bytes: Uint8Array.from(kept), pos });
      this.earlyBytes += kept.length;
    }
    return events;
  }

  private onResponseBytes(bytes: Uint8Array, pos: StreamPosition): DissectEvent[] {
    const result = this.responseParser.push(bytes);
    if (result.state === 'need-more') return [];
    const request = this.request!;
    if (result.state === 'error' || result.head.kind !== 'response') {
      this.phase = 'done';
      this.kind = 'not-http';
      const alerts = result.state === 'error' ? result.alerts : [];
      return [...this.handshakeEvents(null, alerts), { type: 'other', conn: this.conn, kind: 'not-http', requestLine: requestLine(request.head), status: null, note: 'the answer to the upgrade request is not HTTP', at: pos }];
    }
    const head = result.head;
    const verdict = checkResponse(head, request.check);
    const events = this.handshakeEvents({ head, verdict, at: pos }, result.alerts);
    if (!verdict.upgraded) {
      this.phase = 'done';
      this.kind = 'refused';
      events.push({ type: 'other', conn: this.conn, kind: 'refused', requestLine: requestLine(request.head), status: head.status, note: `upgrade refused: ${head.status} ${head.reason}`.trimEnd(), at: pos });
      return events;
    }
    this.phase = 'websocket';
    this.kind = 'websocket';
    this.session = new WebSocketSession({ limits: this.limits, extensions: extensionsFor(verdict) });
    for (const pending of this.early) events.push(...this.fromSession(this.session.push('client', pending.bytes, pending.pos)));
    this.early = [];
    if (result.rest.length > 0) events.push(...this.fromSession(this.session.push('server', result.rest, pos)));
    return events;
  }

  /** A session for streams joined without their handshake (see assumedPermessageDeflate). */
  private midstreamSession(): WebSocketSession {
    return new WebSocketSession({ limits: this.limits, extensions: [assumedPermessageDeflate()], extensionsKnown: false, synced: false });
  }

  /** The handshake event: the request's alerts, then the response's, in one place. */
  private handshakeEvents(answer: { head: HttpResponse; verdict: HandshakeVerdict; at: StreamPosition } | null, responseAlerts: Alert[]): DissectEvent[] {
    const request = this.request!;
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
    if (this.phase === 'done') return [];
    this.phase = 'done';
    this.kind = 'not-http';
    return [{ type: 'other', conn: this.conn, kind: 'not-http', requestLine: null, status: null, note, at: pos }];
  }

  private fromSession(events: SessionEvent[]): DissectEvent[] {
    const out: DissectEvent[] = [];
    for (const e of events) {
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
        this.countAlerts(e.frame.alerts);
        out.push({ type: 'frame', conn: this.conn, frame: e.frame });
      } else if (e.type === 'message') {
        sideOf(this.totals, e.message.direction).messages++;
        this.countAlerts(e.message.alerts);
        if (e.message.opcode === Opcode.Close && e.message.close) this.closeCodes[e.message.direction].push(e.message.close.code);
        out.push({ type: 'message', conn: this.conn, message: e.message });
      } else {
        out.push(this.alertEvent(e.alert));
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
