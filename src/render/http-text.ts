/**
 * HTTP exchanges and transport costs in words, for the table, summary and explain views.
 * Plain text; everything from the traffic is escaped.
 */
import type { Direction } from '../alerts.js';
import type { HttpBody, HttpExchangeEvent, HttpPattern, TransportTotals, WireTransport } from '../engine/events.js';
import { decodeUtf8Lossy, isValidUtf8Prefix } from '../websocket/utf8.js';
import { escapeText, hexPreview } from './escape.js';
import { formatMs } from './health-text.js';

const ARROW: Record<Direction, string> = { client: 'C→S', server: 'S→C' };

/** What each pattern means, for --explain and the summary. */
export const PATTERN_MEANING: Readonly<Record<HttpPattern, string>> = {
  sse: 'Server-Sent Events: one response that stays open, the server writing events into it',
  'long-poll': 'long polling: the server holds each request until it has news, then the client asks again',
  poll: 'short polling: the client asks again and again, answered at once, news or not',
  request: 'a request and its answer',
};

/** `GET /poll?n=3 → 200 OK` (or `→ no answer`). */
export function exchangeTitle(e: HttpExchangeEvent, room = 100): string {
  const request = e.method === null ? '(no request)' : `${e.method} ${e.path ?? ''}`;
  const status = e.status === null ? 'no answer' : `${e.status} ${e.reason ?? ''}`.trimEnd();
  return `${escapeText(request, room)} → ${escapeText(status, 60)}`;
}

/** `head 78 B`, `head 145 B + body 27 B (chunked +12 B)`. */
function sizes(head: number, body: number, framing: number): string {
  return `${head} B head${body > 0 || framing > 0 ? ` + ${body} B body` : ''}${framing > 0 ? ` (+${framing} B chunk framing)` : ''}`;
}

/** The facts after the title: wait, duration, sizes, type, pattern. */
export function exchangeFacts(e: HttpExchangeEvent): string {
  const parts: string[] = [];
  if (e.waitMs !== null) parts.push(`wait ${formatMs(e.waitMs)}`);
  if (e.durationMs !== null) parts.push(`${formatMs(e.durationMs)} total`);
  parts.push(`C→S ${sizes(e.requestHeaderBytes, e.requestBodyBytes, e.requestFramingBytes)}`);
  if (e.status !== null) parts.push(`S→C ${sizes(e.responseHeaderBytes, e.responseBodyBytes, e.responseFramingBytes)}`);
  if (e.contentType !== null) parts.push(escapeText(e.contentType, 40));
  if (e.events !== null) parts.push(`${e.events} event${e.events === 1 ? '' : 's'}`);
  const body = e.responseBody;
  if (body !== null && body.codings.length > 0) parts.push(body.decoded ? `${body.codings.join('+')} ${e.responseBodyBytes} → ${body.data.length} B` : `${body.codings.join('+')} not decoded`);
  if (!e.complete) parts.push(e.status === null ? 'unanswered' : 'incomplete');
  parts.push(e.pattern);
  return parts.join(', ');
}

/** A preview of a body: text in quotes, else hex; '' when empty. */
export function bodyPreview(body: HttpBody | null, chars: number): string {
  if (body === null || body.data.length === 0) return '';
  const data = body.data;
  const sample = data.subarray(0, chars * 4);
  if (isValidUtf8Prefix(sample)) return `"${escapeText(decodeUtf8Lossy(sample), chars)}"`;
  return hexPreview(data, Math.max(1, Math.floor(chars / 3)));
}

const TRANSPORT_ORDER: readonly WireTransport[] = ['http', 'polling', 'sse', 'websocket'];

/** `C→S 3 messages, 35 B payload, 150 B around them (50.0 B per message)`. */
function costText(d: Direction, t: TransportTotals): string {
  if (t.messages === 0) return `${ARROW[d]} no message, ${t.payloadBytes + t.overheadBytes} B spent`;
  const per = (t.overheadBytes / t.messages).toFixed(1);
  return `${ARROW[d]} ${t.messages} message${t.messages === 1 ? '' : 's'}, ${t.payloadBytes} B payload, ${t.overheadBytes} B around ${t.messages === 1 ? 'it' : 'them'} (${per} B per message)`;
}

/** One line per transport a connection carried: what it delivered and what that cost. */
export function transportLines(transports: Partial<Record<WireTransport, Record<Direction, TransportTotals>>>): string[] {
  const lines: string[] = [];
  for (const name of TRANSPORT_ORDER) {
    const t = transports[name];
    if (t === undefined) continue;
    lines.push(`${name}: ${costText('client', t.client)}; ${costText('server', t.server)}`);
  }
  return lines;
}
