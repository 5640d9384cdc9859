/**
 * HAR in: a HAR 1.2 file exported by Chrome or Firefox DevTools (or written by wsdump --har) as
 * the engine's events, so the message-level views (--messages, --events, --summary, --json)
 * read what the browser recorded. Each entry is one connection: an HTTP exchange becomes its
 * `http` event; a WebSocket (Chrome's `_webSocketMessages`, or a 101 answer) its `handshake`
 * and one `message` event per recorded message. A HAR holds no frames, packets or TCP facts:
 * those parts of the events are empty, and the caller says so once.
 *
 * Pure: text in, events out. What is not a HAR (not JSON, no `log.entries`) is a HarError;
 * an entry that lacks what it needs is skipped and counted.
 */
import type { Direction } from '../alerts.js';
import { computeAccept } from '../http/accept.js';
import type { HttpHeader } from '../http/http-parser.js';
import { closeCodeName, opcodeName } from '../websocket/constants.js';
import type { Message, StreamPosition } from '../websocket/types.js';
import { decodeUtf8Lossy, isValidUtf8 } from '../websocket/utf8.js';
import { sseAppEvent } from '../app/sse.js';
import { SseParser } from '../http/sse.js';
import type { ConnectionEndEvent, DirectionTotals, DissectEvent, HttpBody, HttpExchangeEvent } from './events.js';
import { engineIoPollingTarget, engineIoSid, HttpPatterns, isEventStreamType } from './http-patterns.js';

export class HarError extends Error {}

export interface HarInput {
  events: DissectEvent[];
  /** Entries skipped because they lack a request or a URL. */
  skipped: number;
  /** The program that wrote it (log.creator), e.g. "WebInspector 537.36". */
  creator: string | null;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function headers(v: unknown): HttpHeader[] {
  if (!Array.isArray(v)) return [];
  return v.filter(isObject).map((h) => ({ name: String(h.name ?? ''), value: String(h.value ?? '') }));
}

function header(list: HttpHeader[], name: string): string | null {
  const lower = name.toLowerCase();
  return list.find((h) => h.name.toLowerCase() === lower)?.value ?? null;
}

/** HAR content (or postData) as a body: text as UTF-8, base64 decoded. */
function body(content: unknown): HttpBody | null {
  if (!isObject(content)) return null;
  const text = str(content.text);
  if (text === null) return null;
  const data = content.encoding === 'base64' ? new Uint8Array(Buffer.from(text, 'base64')) : new Uint8Array(Buffer.from(text, 'utf8'));
  return { data, codings: [], decoded: false, decodeError: null, truncated: false };
}

function totals(): DirectionTotals {
  return { bytes: 0, frames: 0, messages: 0, missing: 0, byOpcode: {} };
}

function endEvent(conn: number, kind: ConnectionEndEvent['kind'], at: StreamPosition, startTs: number | undefined, sides: Record<Direction, DirectionTotals>): ConnectionEndEvent {
  return {
    type: 'end',
    conn,
    kind,
    totals: sides,
    alerts: { error: 0, warning: 0, info: 0 },
    closeCodes: { client: [], server: [] },
    duration: startTs !== undefined && at.ts !== undefined ? at.ts - startTs : null,
    heartbeat: null,
    appHeartbeat: null,
    close: null,
    timing: null,
    transports: {},
    at,
  };
}

export interface HarInputOptions {
  /** The events of an event stream body become `app` events (as from a capture; not with --app none). */
  appEvents?: boolean;
  /** --long-poll, in ms: for the patterns of the exchanges (src/engine/http-patterns.ts). */
  longPollMs?: number;
}

/** The events of a HAR document's text. */
export function harToEvents(text: string, options: HarInputOptions = {}): HarInput {
  const appEvents = options.appEvents ?? true;
  let doc: unknown;
  try {
    doc = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new HarError(`it starts like JSON but is not JSON (${(error as Error).message})`);
  }
  if (!isObject(doc) || !isObject(doc.log)) throw new HarError('a JSON document with no "log"');
  const entries = doc.log.entries;
  if (!Array.isArray(entries)) throw new HarError('its "log" has no "entries" array');
  const creator = isObject(doc.log.creator) ? [str(doc.log.creator.name), str(doc.log.creator.version)].filter(Boolean).join(' ') || null : null;
  const events: DissectEvent[] = [];
  let skipped = 0;
  let conn = 0;
  for (const entry of entries) {
    if (!isObject(entry) || !isObject(entry.request) || str(entry.request.url) === null) {
      skipped++;
      continue;
    }
    conn++;
    const made = entryEvents(conn, entry, appEvents);
    if (made === null) {
      skipped++;
      conn--;
      continue;
    }
    for (const e of made) events.push(e);
  }
  judgePatterns(events, new HttpPatterns(options.longPollMs));
  return { events: inTimeOrder(events), skipped, creator };
}

/** When an event happened: a message when it was sent, an exchange when its response ended. */
function eventTs(e: DissectEvent): number | undefined {
  switch (e.type) {
    case 'handshake':
      return e.request.at.ts;
    case 'message':
      return e.message.start.ts;
    case 'connection':
    case 'http':
    case 'app':
    case 'end':
      return e.at.ts;
    default:
      return undefined;
  }
}

/**
 * The entries' events on one timeline, as a capture gives them: a HAR lists entries in the
 * order their requests began, so a long poll's answer would otherwise come before a POST sent
 * while it was held, and a WebSocket's messages before the polling that preceded its upgrade
 * (the application layer pairs acks and answers in this order). Stable: an entry's own events
 * keep their order; a HAR with untimed entries keeps the entries' order.
 */
function inTimeOrder(events: DissectEvent[]): DissectEvent[] {
  const keyed = events.map((e, i) => ({ e, i, ts: eventTs(e) }));
  if (keyed.some((k) => k.ts === undefined)) return events;
  return keyed.sort((a, b) => a.ts! - b.ts! || a.i - b.i).map((k) => k.e);
}

/**
 * Each exchange's pattern, judged by the capture path's own rules, in the order the exchanges
 * ended (as a capture judges them). A HAR is one browser's record: every entry is the same
 * client, whatever connection it went over.
 */
function judgePatterns(events: DissectEvent[], patterns: HttpPatterns): void {
  const exchanges = events.filter((e): e is HttpExchangeEvent => e.type === 'http');
  const end = (e: HttpExchangeEvent) => e.at.ts ?? Infinity;
  exchanges.sort((a, b) => end(a) - end(b));
  for (const e of exchanges) {
    const eventStream = e.pattern === 'sse';
    e.pattern = patterns.judge({ client: null, method: e.method, path: e.path, waitMs: e.waitMs, eventStream, engineIoPolling: engineIoPollingTarget(e.path) });
  }
}

function entryEvents(conn: number, entry: Json, appEvents: boolean): DissectEvent[] | null {
  const request = entry.request as Json;
  const response = isObject(entry.response) ? entry.response : null;
  let url: URL;
  try {
    url = new URL(String(request.url));
  } catch {
    return null;
  }
  const started = Date.parse(String(entry.startedDateTime ?? ''));
  const startTs = Number.isFinite(started) ? started / 1000 : undefined;
  const time = num(entry.time) ?? 0;
  const timings = isObject(entry.timings) ? entry.timings : {};
  const waitMs = num(timings.wait);
  const endTs = startTs !== undefined ? startTs + time / 1000 : undefined;
  const start: StreamPosition = startTs !== undefined ? { ts: startTs } : {};
  const end: StreamPosition = endTs !== undefined ? { ts: endTs } : {};
  const secure = url.protocol === 'https:' || url.protocol === 'wss:';
  const port = url.port !== '' ? Number(url.port) : secure ? 443 : 80;
  const server = { ip: str(entry.serverIPAddress)?.replace(/^\[|\]$/g, '') || url.hostname, port };
  const client = { ip: 'browser', port: Number(str(entry.connection) ?? 0) || 0 };
  const target = `${url.pathname}${url.search}`;
  const requestHeaders = headers(request.headers);
  const responseHeaders = response !== null ? headers(response.headers) : null;
  const status = response !== null ? num(response.status) : null;
  const out: DissectEvent[] = [{ type: 'connection', conn, client, server, sawSyn: false, at: start }];
  const messages = Array.isArray(entry._webSocketMessages) ? entry._webSocketMessages.filter(isObject) : null;
  const sides = { client: totals(), server: totals() };
  if (messages !== null || status === 101 || url.protocol === 'ws:' || url.protocol === 'wss:') {
    const key = header(requestHeaders, 'Sec-WebSocket-Key');
    const expected = key !== null ? computeAccept(key) : null;
    const received = responseHeaders !== null ? header(responseHeaders, 'Sec-WebSocket-Accept') : null;
    const protocol = responseHeaders !== null ? header(responseHeaders, 'Sec-WebSocket-Protocol') : null;
    out.push({
      type: 'handshake',
      conn,
      request: { method: str(request.method) ?? 'GET', target, version: str(request.httpVersion) ?? 'HTTP/1.1', headers: requestHeaders, at: start },
      response: status !== null ? { version: str(response!.httpVersion) ?? 'HTTP/1.1', status, reason: str(response!.statusText) ?? '', headers: responseHeaders ?? [], at: start } : null,
      // Chrome records 101 for a WebSocket it opened; some exports leave the status out.
      upgraded: status === 101 || (status === null && messages !== null) || (status === 0 && messages !== null && messages.length > 0),
      key,
      expectedAccept: expected,
      receivedAccept: received,
      acceptValid: expected !== null && received === expected,
      protocol,
      offeredProtocols: [],
      offeredExtensions: [],
      extensions: [],
      deflate: null,
      supportedVersions: [],
      alerts: [],
    });
    let last = end;
    for (const m of messages ?? []) {
      const message = harMessage(m);
      if (message === null) continue;
      sides[message.direction].messages++;
      last = message.end;
      out.push({ type: 'message', conn, message });
    }
    out.push(endEvent(conn, 'websocket', last.ts !== undefined && (end.ts === undefined || last.ts > end.ts) ? last : end, startTs, sides));
    return out;
  }
  const requestBody = body(request.postData);
  const responseBody = response !== null ? body(response.content) : null;
  const requestBodySize = num(request.bodySize);
  const responseBodySize = response !== null ? num(response.bodySize) : null;
  const exchange: HttpExchangeEvent = {
    type: 'http',
    conn,
    index: 0,
    at: end,
    start,
    requestAt: start,
    method: str(request.method),
    path: target,
    version: str(request.httpVersion),
    status: status !== null && status > 0 ? status : null,
    reason: response !== null ? str(response.statusText) : null,
    contentType: response !== null && isObject(response.content) ? str(response.content.mimeType) : null,
    requestHeaders,
    responseHeaders,
    requestHeaderBytes: Math.max(0, num(request.headersSize) ?? 0),
    requestBodyBytes: requestBodySize !== null && requestBodySize >= 0 ? requestBodySize : (requestBody?.data.length ?? 0),
    responseHeaderBytes: response !== null ? Math.max(0, num(response.headersSize) ?? 0) : 0,
    responseBodyBytes: responseBodySize !== null && responseBodySize >= 0 ? responseBodySize : (responseBody?.data.length ?? 0),
    requestFramingBytes: 0,
    responseFramingBytes: 0,
    waitMs: waitMs !== null && waitMs >= 0 ? waitMs : null,
    durationMs: time,
    // Only whether it is an event stream, for now: judged with the others' (judgePatterns).
    pattern: contentTypeIsEventStream(response) ? 'sse' : 'request',
    complete: status !== null && status > 0,
    requestBody,
    responseBody,
    interim: [],
    session: engineIoPollingTarget(target) ? engineIoSid(target) : null,
    events: null,
    alerts: [],
  };
  if (exchange.pattern === 'sse' && responseBody !== null) {
    // The stream's events, all at the end of the exchange: a HAR keeps no time per event.
    const events = new SseParser().push(responseBody.data);
    exchange.events = events.length;
    if (appEvents) for (const e of events) out.push(sseAppEvent(conn, e, end));
  }
  out.push(exchange);
  out.push(endEvent(conn, 'http', end, startTs, sides));
  return out;
}

function contentTypeIsEventStream(response: Json | null): boolean {
  return isEventStreamType(response !== null && isObject(response.content) ? str(response.content.mimeType) : null);
}

/** One of Chrome's `_webSocketMessages`: `type` send/receive, `time` (s), `opcode`, `data` (binary in base64). */
function harMessage(m: Json): Message | null {
  const direction: Direction | null = m.type === 'send' ? 'client' : m.type === 'receive' ? 'server' : null;
  const opcode = num(m.opcode);
  const text = str(m.data);
  if (direction === null || opcode === null || !Number.isInteger(opcode) || opcode < 0 || opcode > 0xf || text === null) return null;
  const data = opcode === 0x1 ? new Uint8Array(Buffer.from(text, 'utf8')) : new Uint8Array(Buffer.from(text, 'base64'));
  const time = num(m.time);
  const at: StreamPosition = time !== null ? { ts: time } : {};
  const message: Message = {
    direction,
    type: opcodeName(opcode),
    opcode,
    frameOffsets: [],
    fragments: 1,
    wireLength: data.length,
    length: data.length,
    data,
    truncated: false,
    compressed: false,
    inflated: false,
    start: at,
    end: at,
    alerts: [],
  };
  if (opcode === 0x1) message.text = text;
  if (opcode === 0x8) {
    const code = data.length >= 2 ? (data[0]! << 8) | data[1]! : null;
    message.close = { code, codeName: code !== null ? closeCodeName(code) : 'no code', reason: decodeUtf8Lossy(data.subarray(2)), reasonValid: isValidUtf8(data.subarray(2)) };
  }
  return message;
}
