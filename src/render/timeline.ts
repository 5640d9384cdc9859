/**
 * `--timeline`: per WebSocket connection, a picture of its life, time left to right, one row per
 * direction: the handshake, messages, pings and pongs, pings never answered, frames that broke a
 * rule, the Close frames and how TCP ended; the quiet stretches are the runs of dots. Drawn when
 * the connection ends (only then is its length known), with its heartbeat, close and timing in
 * words under it, so a student sees at a glance where a connection died.
 *
 * Every mark is a character with a meaning of its own (the legend is printed once): the picture
 * reads the same without color, and fits 80 columns unless --width says more. Memory per open
 * connection is bounded: the marks are kept in 1,024 time slots per direction whose length
 * doubles (neighbours merged) whenever the connection outlives them.
 */
import { Chalk } from 'chalk';
import type { Alert, Direction } from '../alerts.js';
import type { DissectEvent, Endpoint } from '../engine/events.js';
import { Opcode } from '../websocket/constants.js';
import { escapeText } from './escape.js';
import { appHeartbeatLines, closeLine, formatMs, heartbeatLines, timingLine } from './health-text.js';
import { exchangeTitle } from './http-text.js';
import { otherLabel, palette } from './table.js';
import { KEYLOG_HINT, keylogWouldHelp, tlsSummaryNote } from './tls-text.js';
import { wrapBlock } from './wrap.js';

export interface TimelineOptions {
  colorLevel: 0 | 1 | 2 | 3;
  /** Columns the picture and its lines fit in (default 80). */
  width?: number;
}

type Colors = ReturnType<typeof palette>;

/** What happened in a slot, one bit each; the picture shows the most telling one per column. */
const MARK = {
  data: 1,
  handshake: 2,
  pong: 4,
  ping: 8,
  unanswered: 16,
  error: 32,
  close: 64,
} as const;

/** Highest priority first: the character of each mark. */
const GLYPHS: readonly { bit: number; char: string; nudge: boolean }[] = [
  { bit: MARK.close, char: 'C', nudge: true },
  { bit: MARK.error, char: '!', nudge: true },
  { bit: MARK.unanswered, char: '?', nudge: true },
  { bit: MARK.ping, char: 'P', nudge: true },
  { bit: MARK.pong, char: 'p', nudge: true },
  { bit: MARK.handshake, char: 'H', nudge: true },
  { bit: MARK.data, char: '▪', nudge: false },
];

const LEGEND = 'H handshake  ▪ messages  P ping  p pong (WebSocket\'s, or the protocol\'s own)  ? ping never answered  ! frame breaking a rule  C Close  · quiet; after a row, what that side sent to end TCP: F FIN, R reset (capital: it closed first)';

const SLOTS = 1024;
/** The first slot length: 0.1 ms; it doubles as the connection lasts. */
const FIRST_SLOT = 1e-4;
/** Unanswered-ping lines listed under a picture; more are counted. */
const LISTED = 5;
const LABEL = 7;
const ARROW: Record<Direction, string> = { client: 'C→S', server: 'S→C' };

class Slots {
  readonly rows: Record<Direction, Uint8Array> = { client: new Uint8Array(SLOTS), server: new Uint8Array(SLOTS) };
  slot = FIRST_SLOT;

  constructor(readonly t0: number) {}

  mark(direction: Direction, ts: number | undefined, bit: number): void {
    if (ts === undefined) return;
    const at = Math.max(0, ts - this.t0);
    while (at >= this.slot * SLOTS) this.widen();
    this.rows[direction][Math.floor(at / this.slot)]! |= bit;
  }

  /** Twice as long slots: neighbours merged, the second half emptied. */
  private widen(): void {
    for (const row of Object.values(this.rows)) {
      for (let i = 0; i < SLOTS / 2; i++) row[i] = row[2 * i]! | row[2 * i + 1]!;
      row.fill(0, SLOTS / 2);
    }
    this.slot *= 2;
  }
}

interface Connection {
  endpoints: string;
  path: string | null;
  /** " over TLS 1.3", or what the TLS layer could not do. */
  tls: string;
  slots: Slots | null;
  t0: number | undefined;
  /** Pings waiting for their Pong, by direction and frame offset: where a `?` goes if none comes. */
  pings: Map<string, number | undefined>;
  unanswered: Alert[];
  unansweredCount: number;
  /** heartbeat.late alerts, listed under the picture like the unanswered pings. */
  late: Alert[];
  lateCount: number;
  /** The protocol's pings by packet: where a `?` goes when one is never answered in time. */
  appPings: Map<number, number | undefined>;
}

function endpoint(e: Endpoint): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

/** Pings remembered per connection for their `?`: bounded like the session's own list. */
const MAX_PINGS = 128;

export class TimelineRenderer {
  private readonly c: Colors;
  private readonly width: number;
  private readonly connections = new Map<number, Connection>();
  private legendShown = false;
  private keylogHinted = false;

  constructor(options: TimelineOptions) {
    this.c = palette(new Chalk({ level: options.colorLevel }));
    this.width = Math.max(40, options.width ?? 80);
  }

  render(event: DissectEvent): string {
    switch (event.type) {
      case 'notice':
        return wrapBlock(`${this.c.info('ℹ')} ${this.c.dim(event.code)} ${escapeText(event.message, 300)}\n`, this.width, 2);
      case 'connection':
        this.connections.set(event.conn, { endpoints: `${endpoint(event.client)} → ${endpoint(event.server)}`, path: null, tls: '', slots: null, t0: event.at.ts, pings: new Map(), unanswered: [], unansweredCount: 0, late: [], lateCount: 0, appPings: new Map() });
        return '';
      case 'handshake': {
        const conn = this.connections.get(event.conn);
        if (conn === undefined) return '';
        conn.path = event.request.target;
        this.mark(conn, 'client', event.request.at.ts, MARK.handshake);
        if (event.response !== null) this.mark(conn, 'server', event.response.at.ts, MARK.handshake);
        return '';
      }
      case 'tls': {
        const conn = this.connections.get(event.conn);
        if (conn !== undefined) conn.tls = tlsSummaryNote(event);
        if (this.keylogHinted || !keylogWouldHelp(event)) return '';
        this.keylogHinted = true;
        return wrapBlock(`${this.c.info('ℹ')} ${KEYLOG_HINT}\n`, this.width, 2);
      }
      case 'tls-record':
        return '';
      case 'http': {
        const conn = this.connections.get(event.conn);
        return wrapBlock(`${this.c.heading(`#${event.conn}`)} ${conn?.endpoints ?? ''} ${this.c.dim('HTTP:')} ${exchangeTitle(event, 80)} (${event.pattern})\n`, this.width, 3);
      }
      case 'other': {
        if (event.exchange !== undefined) return '';
        const conn = this.connections.get(event.conn);
        return wrapBlock(`${this.c.heading(`#${event.conn}`)} ${conn?.endpoints ?? ''} ${this.c.dim(otherLabel(event))} ${escapeText(event.note, 200)}\n`, this.width, 3);
      }
      case 'frame': {
        const conn = this.connections.get(event.conn);
        if (conn !== undefined && event.frame.alerts.some((a) => a.severity === 'error')) this.mark(conn, event.frame.direction, event.frame.start.ts, MARK.error);
        return '';
      }
      case 'message':
        this.message(event.conn, event.message);
        return '';
      case 'alert': {
        const conn = this.connections.get(event.conn);
        if (conn !== undefined && event.alert.code === 'ping.unanswered') this.unanswered(conn, event.alert);
        if (conn !== undefined && event.alert.code === 'heartbeat.late') this.late(conn, event.alert);
        return '';
      }
      case 'end': {
        const conn = this.connections.get(event.conn);
        this.connections.delete(event.conn);
        if (conn === undefined) return '';
        // A TLS connection with nothing decoded inside it: say so, there is nothing to draw.
        if (event.kind === 'tls') return wrapBlock(`${this.c.heading(`#${event.conn}`)} ${conn.endpoints} ${this.c.dim('not drawn:')}${conn.tls}\n`, this.width, 3);
        if (event.kind !== 'websocket') return '';
        return this.picture(event.conn, conn, event);
      }
      case 'app': {
        // The picture is of the WebSocket; of what its messages carry, only the protocol's heartbeats.
        const conn = this.connections.get(event.conn);
        if (conn === undefined || event.heartbeatRole === undefined) return '';
        this.mark(conn, event.direction, event.at.ts, event.heartbeatRole === 'ping' ? MARK.ping : MARK.pong);
        if (event.heartbeatRole === 'ping' && event.at.packet !== undefined) {
          conn.appPings.set(event.at.packet, event.at.ts);
          if (conn.appPings.size > MAX_PINGS) conn.appPings.delete(conn.appPings.keys().next().value!);
        }
        return '';
      }
    }
  }

  private mark(conn: Connection, direction: Direction, ts: number | undefined, bit: number): void {
    if (ts === undefined) return;
    conn.t0 ??= ts;
    conn.slots ??= new Slots(conn.t0);
    conn.slots.mark(direction, ts, bit);
  }

  private message(id: number, m: Extract<DissectEvent, { type: 'message' }>['message']): void {
    const conn = this.connections.get(id);
    if (conn === undefined) return;
    switch (m.opcode) {
      case Opcode.Ping:
        this.mark(conn, m.direction, m.end.ts, MARK.ping);
        conn.pings.set(`${m.direction}:${m.frameOffsets[0]}`, m.end.ts);
        if (conn.pings.size > MAX_PINGS) conn.pings.delete(conn.pings.keys().next().value!);
        return;
      case Opcode.Pong:
        this.mark(conn, m.direction, m.end.ts, MARK.pong);
        if (m.answers) conn.pings.delete(`${m.direction === 'client' ? 'server' : 'client'}:${m.answers.offset}`);
        return;
      case Opcode.Close:
        this.mark(conn, m.direction, m.end.ts, MARK.close);
        return;
      default:
        this.mark(conn, m.direction, m.start.ts, MARK.data);
    }
  }

  private unanswered(conn: Connection, alert: Alert): void {
    conn.unansweredCount++;
    if (conn.unanswered.length < LISTED) conn.unanswered.push(alert);
    if (alert.direction === undefined || alert.offset === undefined) return;
    const key = `${alert.direction}:${alert.offset}`;
    if (!conn.pings.has(key)) return;
    this.mark(conn, alert.direction, conn.pings.get(key), MARK.unanswered);
    conn.pings.delete(key);
  }

  /** A protocol heartbeat came late: listed under the picture; a ping that never got its answer is a `?`. */
  private late(conn: Connection, alert: Alert): void {
    if (conn.lateCount++ < LISTED) conn.late.push(alert);
    if (alert.detail?.waitedMs === undefined || alert.packet === undefined || !conn.appPings.has(alert.packet)) return;
    this.mark(conn, alert.direction === 'client' ? 'server' : 'client', conn.appPings.get(alert.packet), MARK.unanswered);
  }

  private picture(id: number, conn: Connection, e: Extract<DissectEvent, { type: 'end' }>): string {
    const c = this.c;
    const t0 = conn.t0 ?? e.at.ts;
    const tEnd = e.at.ts;
    const duration = t0 !== undefined && tEnd !== undefined ? Math.max(0, tEnd - t0) : 0;
    // Two columns after the plot say how each side ended TCP.
    const plot = this.width - LABEL - 3;
    const head = `${c.heading(`#${id}`)} ${conn.endpoints}  websocket${conn.path !== null ? ` ${escapeText(conn.path, 60)}` : ''}${conn.tls}, ${formatMs(duration * 1000)}`;
    const lines: string[] = [];
    if (!this.legendShown) {
      this.legendShown = true;
      lines.push(wrapBlock(c.dim(`legend: ${LEGEND}`), this.width, 8).trimEnd());
    }
    lines.push(wrapBlock(head, this.width, 3).trimEnd());
    const left = '0';
    const right = formatMs(duration * 1000);
    const middle = formatMs((duration * 1000) / 2);
    const axis = [...' '.repeat(plot)];
    const put = (text: string, at: number) => [...text].forEach((ch, i) => (axis[at + i] = ch));
    put(left, 0);
    put(middle, Math.max(left.length + 1, Math.floor(plot / 2) - Math.floor(middle.length / 2)));
    put(right, plot - right.length);
    lines.push(' '.repeat(LABEL) + c.dim(axis.join('').trimEnd()));
    const ruler = Array.from({ length: plot }, (_, i) => (i === 0 ? '├' : i === plot - 1 ? '┤' : i % 10 === 0 && i < plot - 2 ? '┼' : '─')).join('');
    lines.push(' '.repeat(LABEL) + c.dim(ruler));
    for (const d of ['client', 'server'] as const) lines.push(`   ${d === 'client' ? c.client(ARROW[d]) : c.server(ARROW[d])} ${this.row(conn.slots, d, duration, plot, e)} ${this.tcpGlyph(d, e)}`.trimEnd());
    const words: string[] = [];
    for (const line of heartbeatLines(e.heartbeat)) words.push(`heartbeat: ${line}`);
    for (const line of appHeartbeatLines(e.appHeartbeat)) words.push(`app heartbeat: ${line}`);
    for (const a of conn.unanswered) words.push(`${c.warning('?')} ${a.packet !== undefined ? `packet ${a.packet}: ` : ''}${escapeText(a.message, 300)}`);
    if (conn.unansweredCount > conn.unanswered.length) words.push(`${c.warning('?')} and ${conn.unansweredCount - conn.unanswered.length} more unanswered ping(s)`);
    for (const a of conn.late) words.push(`${c.warning('▲')} ${a.packet !== undefined ? `packet ${a.packet}: ` : ''}${escapeText(a.message, 300)}`);
    if (conn.lateCount > conn.late.length) words.push(`${c.warning('▲')} and ${conn.lateCount - conn.late.length} more late heartbeat(s)`);
    if (e.close !== null) words.push(`close: ${closeLine(e.close)}`);
    if (e.timing !== null) {
      const timing = timingLine(e.timing);
      if (timing) words.push(`timing: ${timing}`);
    }
    const alerts = [e.alerts.error && c.error(`✖ ${e.alerts.error} error(s)`), e.alerts.warning && c.warning(`▲ ${e.alerts.warning} warning(s)`), e.alerts.info && c.info(`ℹ ${e.alerts.info} info`)].filter(Boolean).join(', ');
    if (alerts) words.push(`alerts: ${alerts} (the table or --json lists them)`);
    for (const w of words) lines.push(wrapBlock(`   ${w}`, this.width, 5).trimEnd());
    return lines.join('\n') + '\n\n';
  }

  /** One direction's row: for each column, the most telling mark of its slots; a second mark moves next door when that is free. */
  private row(slots: Slots | null, d: Direction, duration: number, plot: number, e: Extract<DissectEvent, { type: 'end' }>): string {
    const bits = new Uint8Array(plot);
    if (slots !== null) {
      const row = slots.rows[d];
      for (let i = 0; i < SLOTS; i++) {
        if (row[i] === 0) continue;
        const at = i * slots.slot;
        const col = duration > 0 ? Math.min(plot - 1, Math.floor((at / duration) * plot)) : 0;
        bits[col]! |= row[i]!;
      }
      // A ping never answered is drawn as its `?`, not also as a `P`.
      for (let col = 0; col < plot; col++) if (bits[col]! & MARK.unanswered) bits[col]! &= ~MARK.ping;
    }
    const chars: (string | null)[] = new Array(plot).fill(null);
    for (let g = 0; g < GLYPHS.length; g++) {
      const { bit, nudge } = GLYPHS[g]!;
      for (let col = 0; col < plot; col++) {
        if ((bits[col]! & bit) === 0) continue;
        let at = col;
        if (chars[at] !== null) {
          if (!nudge) continue;
          // Taken by a more telling mark: the nearest free column within two, later first.
          const free = [col + 1, col - 1, col + 2, col - 2].find((x) => x >= 0 && x < plot && chars[x] === null);
          if (free === undefined) continue;
          at = free;
        }
        chars[at] = this.glyph(g, d, e);
      }
    }
    return chars.map((ch) => ch ?? this.c.dim('·')).join('');
  }

  /** What `d` sent to end TCP: F (FIN) or R (reset), capital for the side that closed first; blank for neither. */
  private tcpGlyph(d: Direction, e: Extract<DissectEvent, { type: 'end' }>): string {
    const sent = e.close?.tcpSent[d] ?? null;
    if (sent === null) return '';
    const letter = sent === 'rst' ? 'R' : 'F';
    return this.c.error(e.close!.tcpClosedFirstBy === d ? letter : letter.toLowerCase());
  }

  private glyph(g: number, d: Direction, e: Extract<DissectEvent, { type: 'end' }>): string {
    const c = this.c;
    const { bit, char } = GLYPHS[g]!;
    switch (bit) {
      case MARK.close:
        return e.close?.codes[d] === 1000 || e.close?.codes[d] === 1001 ? c.ok(char) : c.warning(char);
      case MARK.error:
      case MARK.unanswered:
        return c.error(char);
      case MARK.data:
        return d === 'client' ? c.client(char) : c.server(char);
      case MARK.handshake:
        return c.dim(char);
      default:
        return c.opcode(char);
    }
  }
}
