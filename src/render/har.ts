/**
 * HAR 1.2 out (http://www.softwareishard.com/blog/har-12-spec/): every HTTP exchange as an
 * entry, and each WebSocket connection as the entry of its upgrade with the
 * `_webSocketMessages` array Chrome DevTools writes (`type` send/receive, `time` in seconds
 * since the epoch, `opcode`, `data`; binary data in base64), so a capture or a proxied session
 * opens in DevTools, Charles, Fiddler and HAR viewers.
 *
 * Streaming: the document's head is written first, each entry as soon as it is complete (an
 * exchange when its response ends, a WebSocket when its connection ends) and the tail at the
 * end, so memory holds only the messages of the WebSocket connections still open. Entries are
 * therefore in completion order, not sorted by start (HAR does not require it).
 */
import type { DissectEvent, Endpoint, HandshakeEvent, HttpBody, HttpExchangeEvent } from '../engine/events.js';
import type { HttpHeader } from '../http/http-parser.js';
import type { StreamPosition } from '../websocket/types.js';
import { isValidUtf8 } from '../websocket/utf8.js';

export interface HarCreator {
  name: string;
  version: string;
}

interface HarMessage {
  type: 'send' | 'receive';
  time: number;
  opcode: number;
  data: string;
}

interface ConnInfo {
  client: Endpoint;
  server: Endpoint;
  tls: boolean;
  /** The upgrade of a WebSocket connection, with its messages so far. */
  websocket: { handshake: HandshakeEvent; messages: HarMessage[] } | null;
}

const iso = (ts: number | undefined): string => new Date((ts ?? 0) * 1000).toISOString();
const ms = (n: number | null | undefined): number => (n === null || n === undefined || !(n >= 0) ? 0 : Math.round(n * 1000) / 1000);

function headerList(headers: readonly HttpHeader[] | null): { name: string; value: string }[] {
  return headers === null ? [] : headers.map((h) => ({ name: h.name, value: h.value }));
}

function header(headers: readonly HttpHeader[] | null, name: string): string | null {
  const lower = name.toLowerCase();
  return headers?.find((h) => h.name.toLowerCase() === lower)?.value ?? null;
}

/** The query string of a target, as HAR lists it (names and values as sent, not decoded). */
function queryString(target: string | null): { name: string; value: string }[] {
  if (target === null) return [];
  const q = target.indexOf('?');
  if (q < 0) return [];
  return target
    .slice(q + 1)
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      return eq < 0 ? { name: p, value: '' } : { name: p.slice(0, eq), value: p.slice(eq + 1) };
    });
}

function hostOf(headers: readonly HttpHeader[] | null, server: Endpoint | undefined): string {
  const host = header(headers, 'Host');
  if (host !== null) return host;
  if (server === undefined) return 'unknown';
  return server.ip.includes(':') ? `[${server.ip}]:${server.port}` : `${server.ip}:${server.port}`;
}

/** A body as HAR content text: UTF-8 as it is, anything else in base64. */
function bodyText(body: HttpBody | null): { text?: string; encoding?: string } {
  if (body === null || body.data.length === 0) return {};
  if (isValidUtf8(body.data)) return { text: Buffer.from(body.data).toString('utf8') };
  return { text: Buffer.from(body.data).toString('base64'), encoding: 'base64' };
}

export class HarWriter {
  private readonly conns = new Map<number, ConnInfo>();
  private entries = 0;

  constructor(private readonly creator: HarCreator) {}

  /** The document up to its first entry. */
  head(): string {
    return `{"log":{"version":"1.2","creator":${JSON.stringify(this.creator)},"pages":[],"entries":[`;
  }

  /** One event of the engine: the text of the entries it completes ('' mostly). */
  event(e: DissectEvent): string {
    switch (e.type) {
      case 'connection':
        this.conns.set(e.conn, { client: e.client, server: e.server, tls: false, websocket: null });
        return '';
      case 'tls': {
        const conn = this.conns.get(e.conn);
        if (conn !== undefined && e.decrypted) conn.tls = true;
        return '';
      }
      case 'http':
        return this.write(this.exchange(e));
      case 'handshake': {
        const conn = this.conns.get(e.conn);
        if (e.upgraded && conn !== undefined) {
          conn.websocket = { handshake: e, messages: [] };
          return '';
        }
        // A refused upgrade (or one never answered): an exchange like any other.
        return this.write(this.upgradeEntry(e, conn, null));
      }
      case 'message': {
        const ws = this.conns.get(e.conn)?.websocket;
        const m = e.message;
        if (ws === undefined || ws === null || (m.opcode !== 0x1 && m.opcode !== 0x2)) return '';
        const binary = m.opcode === 0x2 || m.text === undefined;
        ws.messages.push({
          type: m.direction === 'client' ? 'send' : 'receive',
          time: m.end.ts ?? 0,
          opcode: m.opcode,
          data: binary ? Buffer.from(m.data).toString('base64') : m.text!,
        });
        return '';
      }
      case 'end': {
        const conn = this.conns.get(e.conn);
        this.conns.delete(e.conn);
        if (conn?.websocket == null) return '';
        return this.write(this.upgradeEntry(conn.websocket.handshake, conn, conn.websocket.messages));
      }
      default:
        return '';
    }
  }

  /** The rest of the document: WebSocket connections still open, then the tail. */
  finish(): string {
    let out = '';
    for (const [id, conn] of this.conns) {
      if (conn.websocket !== null) out += this.write(this.upgradeEntry(conn.websocket.handshake, conn, conn.websocket.messages));
      this.conns.delete(id);
    }
    return `${out}]}}\n`;
  }

  private write(entry: Record<string, unknown>): string {
    return `${this.entries++ === 0 ? '' : ','}\n${JSON.stringify(entry)}`;
  }

  private url(scheme: 'http' | 'ws', conn: ConnInfo | undefined, headers: readonly HttpHeader[] | null, target: string | null): string {
    const secure = conn?.tls ? 's' : '';
    // An absolute-form target (a proxy request) is the URL already.
    if (target !== null && /^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return target;
    return `${scheme}${secure}://${hostOf(headers, conn?.server)}${target ?? '/'}`;
  }

  private exchange(e: HttpExchangeEvent): Record<string, unknown> {
    const conn = this.conns.get(e.conn);
    const wait = ms(e.waitMs);
    const receive = Math.max(0, Math.round((ms(e.durationMs) - wait) * 1000) / 1000);
    const response = e.responseBody;
    const requestType = header(e.requestHeaders, 'Content-Type');
    const content: Record<string, unknown> = { size: response?.data.length ?? 0, mimeType: e.contentType ?? '', ...bodyText(response) };
    if (response?.decoded) content.compression = e.responseBodyBytes - response.data.length;
    if (response?.truncated) content.comment = 'cut by wsdump\'s limits (--max-message, --max-inflated) or by the capture';
    return {
      startedDateTime: iso(e.start.ts),
      time: Math.round((wait + receive) * 1000) / 1000,
      request: {
        method: e.method ?? '',
        url: this.url('http', conn, e.requestHeaders, e.path),
        httpVersion: e.version ?? 'HTTP/1.1',
        cookies: [],
        headers: headerList(e.requestHeaders),
        queryString: queryString(e.path),
        ...(e.requestBody !== null ? { postData: { mimeType: requestType ?? '', ...bodyText(e.requestBody), params: [] } } : {}),
        headersSize: e.method === null ? -1 : e.requestHeaderBytes,
        bodySize: e.requestBodyBytes,
      },
      response: {
        status: e.status ?? 0,
        statusText: e.reason ?? '',
        httpVersion: e.version ?? 'HTTP/1.1',
        cookies: [],
        headers: headerList(e.responseHeaders),
        content,
        redirectURL: header(e.responseHeaders, 'Location') ?? '',
        headersSize: e.status === null ? -1 : e.responseHeaderBytes,
        bodySize: e.status === null ? -1 : e.responseBodyBytes,
      },
      cache: {},
      timings: { send: 0, wait, receive },
      ...this.where(conn, e.conn),
      _wsdump: { conn: e.conn, packet: e.at.packet ?? null, pattern: e.pattern, complete: e.complete },
    };
  }

  private upgradeEntry(h: HandshakeEvent, conn: ConnInfo | undefined, messages: HarMessage[] | null): Record<string, unknown> {
    const wait = h.response !== null ? ms(elapsed(h.request.at, h.response.at)) : 0;
    return {
      startedDateTime: iso(h.request.at.ts),
      time: wait,
      request: {
        method: h.request.method,
        url: this.url(messages !== null ? 'ws' : 'http', conn, h.request.headers, h.request.target),
        httpVersion: h.request.version,
        cookies: [],
        headers: headerList(h.request.headers),
        queryString: queryString(h.request.target),
        headersSize: -1,
        bodySize: 0,
      },
      response: {
        status: h.response?.status ?? 0,
        statusText: h.response?.reason ?? '',
        httpVersion: h.response?.version ?? h.request.version,
        cookies: [],
        headers: headerList(h.response?.headers ?? null),
        content: { size: 0, mimeType: header(h.response?.headers ?? null, 'Content-Type') ?? '' },
        redirectURL: '',
        headersSize: -1,
        bodySize: h.response !== null && !h.upgraded ? -1 : 0,
      },
      cache: {},
      timings: { send: 0, wait, receive: 0 },
      ...this.where(conn, h.conn),
      ...(messages !== null ? { _resourceType: 'websocket', _webSocketMessages: messages } : {}),
      _wsdump: { conn: h.conn, packet: h.request.at.packet ?? null },
    };
  }

  private where(conn: ConnInfo | undefined, id: number): Record<string, string> {
    if (conn === undefined) return { connection: String(id) };
    return { serverIPAddress: conn.server.ip, connection: String(conn.client.port) };
  }
}

function elapsed(from: StreamPosition, to: StreamPosition): number | null {
  return from.ts !== undefined && to.ts !== undefined ? (to.ts - from.ts) * 1000 : null;
}

