/**
 * How an HTTP exchange was used to push data, judged across the connections of a capture (a
 * poller often opens a new connection per request): the series is one client address asking
 * the same method and path (query ignored).
 *
 * - `sse`: the response is text/event-stream;
 * - `long-poll`: an Engine.IO polling GET (its POSTs, the client's sends, are `request`); or
 *   the answer was held at least `longPollMs` and the series has more than one request (an
 *   answer given at once in a series whose answers were held counts too: the server had news
 *   waiting);
 * - `poll`: the series has at least 3 requests, each answered sooner than `longPollMs`;
 * - `request`: anything else.
 *
 * The judgement is made when each exchange ends, from the series as seen so far: the first
 * request of a series reads `request` until the next ones show what it was part of (a live
 * view cannot wait for the future; --summary counts whole series).
 */
import type { HttpPattern } from './events.js';

export interface ExchangeFacts {
  client: string | null;
  method: string | null;
  path: string | null;
  waitMs: number | null;
  eventStream: boolean;
  engineIoPolling: boolean;
}

interface Series {
  count: number;
  /** Some answer in the series was held at least longPollMs. */
  held: boolean;
}

/** Series remembered; the oldest are forgotten beyond this (memory stays bounded). */
const MAX_SERIES = 4096;

export const DEFAULT_LONG_POLL_MS = 1000;

export class HttpPatterns {
  private readonly series = new Map<string, Series>();

  constructor(readonly longPollMs = DEFAULT_LONG_POLL_MS) {}

  judge(facts: ExchangeFacts): HttpPattern {
    if (facts.eventStream) return 'sse';
    const held = facts.waitMs !== null && facts.waitMs >= this.longPollMs;
    const series = this.note(facts, held);
    // Engine.IO's POSTs carry the client's packets: its sends, not a poll, however many.
    if (facts.engineIoPolling) return facts.method === 'GET' ? 'long-poll' : 'request';
    if (series === null) return 'request';
    if (series.held && series.count > 1) return 'long-poll';
    if (!series.held && series.count >= 3) return 'poll';
    return 'request';
  }

  private note(facts: ExchangeFacts, held: boolean): Series | null {
    if (facts.method === null || facts.path === null) return null;
    const q = facts.path.indexOf('?');
    const key = `${facts.client ?? ''} ${facts.method} ${q < 0 ? facts.path : facts.path.slice(0, q)}`;
    let series = this.series.get(key);
    if (series === undefined) {
      if (this.series.size >= MAX_SERIES) this.series.delete(this.series.keys().next().value!);
      series = { count: 0, held: false };
      this.series.set(key, series);
    }
    series.count++;
    if (held) series.held = true;
    return series;
  }
}

/** A Content-Type of text/event-stream (parameters ignored, ASCII case-insensitive). */
export function isEventStreamType(type: string | null): boolean {
  if (type === null) return false;
  const semi = type.indexOf(';');
  return (semi < 0 ? type : type.slice(0, semi)).trim().toLowerCase() === 'text/event-stream';
}

/** An Engine.IO long-polling request: `EIO=` and `transport=polling` in the query. */
export function engineIoPollingTarget(target: string | null): boolean {
  if (target === null) return false;
  const q = target.indexOf('?');
  if (q < 0) return false;
  const query = target.slice(q + 1);
  return /(^|&)EIO=\d/.test(query) && /(^|&)transport=polling(&|$)/.test(query);
}

/** The `sid` of an Engine.IO request target, or null. */
export function engineIoSid(target: string | null): string | null {
  if (target === null) return null;
  const m = /[?&]sid=([^&#]*)/.exec(target);
  if (m === null || m[1] === '') return null;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return m[1]!;
  }
}
