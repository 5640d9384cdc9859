import { Chalk, type ChalkInstance } from 'chalk';
import type { Alert, Direction } from '../alerts.js';
import { isAppAlert } from '../app/registry.js';
import type { AppEvent } from '../app/types.js';
import type { DissectEvent, Endpoint, ProxyVia, FrameEvent, HandshakeEvent, HttpExchangeEvent, MessageEvent, OtherTrafficEvent } from '../engine/events.js';
import type { ExtensionOffer } from '../http/extensions.js';
import type { Frame, Message } from '../websocket/types.js';
import { dataPrefix } from '../websocket/payload-pieces.js';
import { decodeUtf8Lossy, isValidUtf8Prefix } from '../websocket/utf8.js';
import { AppSummary, appText, viaText } from './app-view.js';
import { ascii } from './byte-writer.js';
import { escapeText, hexPreview, hexString } from './escape.js';
import { appHeartbeatLines, closeLine, formatMs, heartbeatLines, timingLine } from './health-text.js';
import { compactJson, spreadOverLines } from './json-text.js';
import { pickColumns } from './columns.js';
import { isEventStreamType } from '../engine/http-patterns.js';
import { bodyPreview, exchangeFacts, exchangeTitle, transportLines } from './http-text.js';
import { RowWriter, tableRow, type CellGroup } from './row.js';
import { KEYLOG_HINT, keylogWouldHelp, tlsHeadline, tlsSummaryNote } from './tls-text.js';
import { visibleLength, wrapBlock } from './wrap.js';

export interface TableOptions {
  /** chalk color level: 0 = none (NO_COLOR, not a terminal), 1-3 = terminal colors. */
  colorLevel: 0 | 1 | 2 | 3;
  /** Terminal width the rows must fit in. */
  width: number;
  /**
   * A row per frame (default), a row per reassembled message, a row per application message
   * (--events), or only per-connection summaries.
   */
  view?: 'frames' | 'messages' | 'events' | 'summary';
  /** Characters of payload preview (default: what fits the width). */
  payloadChars?: number;
  /** Show whole payloads, under the row they belong to. */
  full?: boolean;
  /** WebSocket and protocol heartbeats --hide-heartbeats hid on a connection, for its summary. */
  hiddenHeartbeats?: (conn: number) => number;
  /** The columns shown, in order, by name (src/render/columns.ts); default: all of the view's. */
  columns?: readonly string[];
}

/** One color per field, used by every human view so a field is recognisable anywhere. */
type Style = (text: string) => string;
const asIs: Style = (text) => text;

/**
 * The color of each kind of field. Without color every style is the identity: a chalk call
 * costs a rest-argument array even at level 0, and a table row makes eleven of them.
 */
export function palette(chalk: ChalkInstance): Record<keyof ReturnType<typeof styles>, Style> {
  const all = styles(chalk);
  if (chalk.level > 0) return all;
  return Object.fromEntries(Object.keys(all).map((k) => [k, asIs])) as Record<keyof typeof all, Style>;
}

function styles(chalk: ChalkInstance) {
  return {
    packet: chalk.gray,
    time: chalk.gray,
    client: chalk.cyan,
    server: chalk.magenta,
    fin: chalk.white,
    rsv: chalk.yellow,
    opcode: chalk.green,
    mask: chalk.blue,
    length: chalk.white,
    key: chalk.blue,
    payload: chalk.reset,
    error: chalk.red.bold,
    warning: chalk.yellow,
    info: chalk.cyan,
    dim: chalk.dim,
    ok: chalk.green,
    heading: chalk.bold,
  };
}

/** Symbols carry the meaning without color (NO_COLOR, printed output, color blindness). */
const SEVERITY_SYMBOL: Record<Alert['severity'], string> = { error: '✖ error', warning: '▲ warning', info: 'ℹ info' };
const ARROW: Record<Direction, string> = { client: 'C→S', server: 'S→C' };

/** Widths include cli-table3's one space of left padding, which also separates the columns. */
const COLUMNS = [
  { id: 'no', head: 'No.', width: 7 },
  { id: 'time', head: 'Time', width: 11 },
  { id: 'conn', head: 'Conn', width: 5 },
  { id: 'dir', head: 'Dir', width: 4 },
  { id: 'fin', head: 'FIN', width: 4 },
  { id: 'rsv', head: 'RSV', width: 4 },
  { id: 'opcode', head: 'Opcode', width: 13 },
  { id: 'mask', head: 'MASK', width: 5 },
  { id: 'length', head: 'Length', width: 12 },
  { id: 'key', head: 'Key', width: 9 },
] as const;

/**
 * The frame table below COMPACT_BELOW columns: time in milliseconds, FIN/RSV1-3/MASK merged
 * into one Flags cell (F = FIN, 1 2 3 = RSV1-3, M = MASK, - = bit clear), "cont" for
 * continuation, so a row fits an 80-column terminal with room for the payload.
 */
const COMPACT_COLUMNS = [
  { id: 'no', head: 'No.', width: 7 },
  { id: 'time', head: 'Time', width: 9 },
  { id: 'conn', head: 'Conn', width: 5 },
  { id: 'dir', head: 'Dir', width: 4 },
  { id: 'flags', head: 'Flags', width: 6 },
  { id: 'opcode', head: 'Opcode', width: 9 },
  { id: 'length', head: 'Length', width: 11 },
  { id: 'key', head: 'Key', width: 9 },
] as const;

/** Narrower than this, the frame table is compact and long lines are folded to the width. */
export const COMPACT_BELOW = 100;

const MESSAGE_COLUMNS = [
  { id: 'no', head: 'No.', width: 7 },
  { id: 'time', head: 'Time', width: 11 },
  { id: 'conn', head: 'Conn', width: 5 },
  { id: 'dir', head: 'Dir', width: 4 },
  { id: 'type', head: 'Type', width: 8 },
  { id: 'frags', head: 'Frags', width: 6 },
  { id: 'length', head: 'Length', width: 16 },
] as const;

/** --events: one row per application message, whatever carried it. */
const EVENT_COLUMNS = [
  { id: 'no', head: 'No.', width: 7 },
  { id: 'time', head: 'Time', width: 11 },
  { id: 'conn', head: 'Conn', width: 5 },
  { id: 'dir', head: 'Dir', width: 4 },
  { id: 'via', head: 'Via', width: 5 },
] as const;

const SUFFIX_16 = ascii(' (16)');
const SUFFIX_64 = ascii(' (64)');
/** What the Length cell shows after the number: the extended length's size, as frameCellsAround writes it. */
const lengthSuffix = (f: Frame): Uint8Array | undefined => (f.lengthEncoding === 7 ? undefined : f.lengthEncoding === 16 ? SUFFIX_16 : SUFFIX_64);
const fixedWidth = (columns: readonly { width: number }[]) => columns.reduce((w, c) => w + c.width, 0);
const MIN_PAYLOAD = 12;

/** UTF-8 (possibly cut mid code point) without control characters other than tab and newlines. */
function looksLikeText(bytes: Uint8Array): boolean {
  for (const b of bytes) if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b === 0x7f) return false;
  return isValidUtf8Prefix(bytes);
}

/** Are the first n bytes (or all, if fewer) ASCII? */
function isAscii(bytes: Uint8Array, n: number): boolean {
  const end = Math.min(n, bytes.length);
  for (let i = 0; i < end; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/**
 * What an `other` line is about. A connection may carry plain HTTP exchanges, or a refused
 * upgrade, before it upgrades (keep-alive): only a stream that is not HTTP is "not WebSocket".
 */
export function otherLabel(event: OtherTrafficEvent): string {
  return event.kind === 'http' ? 'HTTP:' : event.kind === 'refused' ? 'WebSocket:' : 'not WebSocket:';
}

/** The table's mark on a Pong: the Ping it answers and the round trip, or that it answers none. */
function pongText(m: Message): string {
  const a = m.answers;
  if (a === null || a === undefined) return 'pong answering no ping: a one-way heartbeat (RFC 6455 §5.5.3)';
  const ping = a.packet !== null ? `the ping of packet ${a.packet}` : 'a ping';
  return `pong answers ${ping}${a.rttMs !== null ? `: round trip ${formatMs(a.rttMs)}` : ''}`;
}

function endpoint(e: Endpoint): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

function extensionText(e: ExtensionOffer): string {
  return [e.name, ...e.params.map((p) => (p.value === null ? p.name : `${p.name}=${p.value}`))].join('; ');
}

/**
 * The default wsdump/wsproxy view: a header per connection (addresses, request, handshake
 * verdict), a row per frame with its header fields, alerts under the frame they concern, and
 * a summary line per connection. Rows are rendered one at a time, so output is live.
 */
export class TableRenderer {
  private readonly c: ReturnType<typeof palette>;
  private readonly view: 'frames' | 'messages' | 'events' | 'summary';
  private readonly columns: readonly { id: string; head: string; width: number }[];
  private readonly payloadWidth: number;
  /** Column widths of a row as shown, in order. */
  private readonly widths: readonly number[];
  /** --columns: which of a row's cells (the view's columns, then the payload) are shown, in order; null for all. */
  private readonly picks: number[] | null;
  /** Rows since the last column header are all there is: anything else printed asks for it again. */
  private needHead = true;
  private headText: string | null = null;
  /** Connections whose first line (handshake, TLS, or what they were) has been printed. */
  private readonly described = new Set<number>();
  /** Characters of content shown in a row. */
  private readonly previewChars: number;
  /** Narrow terminal: compact frame rows, lines folded to the width. */
  private readonly compact: boolean;
  private t0: number | null = null;
  /** The last timestamp shown and its text. */
  private lastTime: { ts: number | null; text: string } = { ts: null, text: '' };
  /** "client → server" per open connection, for the handshake header. */
  private readonly endpoints = new Map<number, string>();
  /** Request path per open connection, for --summary. */
  private readonly paths = new Map<number, string>();
  /** --summary: HTTP exchanges per pattern, per open connection. */
  private readonly patterns = new Map<number, Map<string, number>>();
  /** What --summary says of a TLS connection, per open connection. */
  private readonly tlsNotes = new Map<number, string>();
  /** The --keylog hint is given once per run. */
  private keylogHinted = false;
  /** Laid-out middle cells of plain frame rows, per open connection (see middleGroup). */
  private readonly middleGroups = new Map<number, Map<number, CellGroup | null>>();
  /** --messages: the application message shown in the last message's row (not repeated under it). */
  private inRow: AppEvent | undefined;
  /** --summary: application messages counted per connection. */
  private readonly appSummary = new AppSummary();
  /**
   * Exchanges whose response head has come and whose `http` event has not, by "conn:index":
   * held until something else is printed first (then the head gets its row, in its place on
   * the timeline), or told in one row by the `http` event.
   */
  private readonly heldHeads = new Map<string, OtherTrafficEvent>();
  /** Exchanges whose head row is printed: their `http` event prints their completion. */
  private readonly openHeads = new Set<string>();

  constructor(private readonly options: TableOptions) {
    this.c = palette(new Chalk({ level: options.colorLevel }));
    this.view = options.view ?? 'frames';
    this.compact = options.width < COMPACT_BELOW;
    this.columns = this.view === 'messages' ? MESSAGE_COLUMNS : this.view === 'events' ? EVENT_COLUMNS : this.compact ? COMPACT_COLUMNS : COLUMNS;
    const columns = this.columns;
    const picks = options.columns ? pickColumns([...columns.map((col) => col.id), this.lastColumn().id], options.columns) : [];
    // None of the names is a column of this view (--columns via in the frame table): all of them, rather than empty rows.
    this.picks = picks.length > 0 ? picks : null;
    const fixed = this.picks === null ? fixedWidth(columns) : this.picks.reduce((w, i) => w + (columns[i]?.width ?? 0), 0);
    // --payload N asks for N characters: the column grows to hold them, whatever the width.
    const asked = options.payloadChars !== undefined ? options.payloadChars + 3 : 0;
    this.payloadWidth = Math.max(MIN_PAYLOAD, options.width - fixed - 1, asked);
    this.previewChars = options.payloadChars ?? this.payloadWidth - 4;
    const widths = [...columns.map((col) => col.width), this.payloadWidth];
    this.widths = this.picks === null ? widths : this.picks.map((i) => widths[i]!);
  }

  /** Text to print for one event (possibly empty), ending with a newline when not empty. */
  render(event: DissectEvent): string {
    let text = this.renderWide(event);
    // Something else comes while responses are still streaming in: their heads are shown first.
    if (text !== '' && this.heldHeads.size > 0) text = this.releaseHeads() + text;
    return this.compact ? wrapBlock(text, this.options.width - 1, 2) : text;
  }

  private renderWide(event: DissectEvent): string {
    if (this.view === 'summary') return this.renderSummaryView(event);
    if (this.view === 'events') return this.renderEventsView(event);
    switch (event.type) {
      case 'notice':
        this.needHead = true;
        return `${this.c.info('ℹ')} ${this.c.dim(event.code)} ${escapeText(event.message, 300)}\n`;
      case 'connection':
        this.noteTime(event.at.ts);
        this.endpoints.set(event.conn, `${endpoint(event.client)} → ${endpoint(event.server)}${event.proxy ? ` ${this.c.dim(proxyViaText(event.proxy))}` : ''}`);
        return '';
      case 'tls': {
        this.noteTime(event.at.ts);
        this.interrupted(event.conn);
        let text = tlsHeadline(event, this.endpoints.get(event.conn) ?? '', this.c) + this.alerts(event.alerts);
        if (!this.keylogHinted && keylogWouldHelp(event)) {
          this.keylogHinted = true;
          text += `   ${this.c.info('ℹ')} ${KEYLOG_HINT}\n`;
        }
        return text;
      }
      case 'tls-record':
        return '';
      case 'handshake':
        this.noteTime(event.request.at.ts);
        this.interrupted(event.conn);
        return this.handshake(event);
      case 'other':
        this.noteTime(event.at.ts);
        // An exchange: its `http` event tells it in full, in its own row, unless it streams (see heldHeads).
        if (event.exchange !== undefined) return this.exchangeHead(event);
        this.interrupted(event.conn);
        return `${this.c.heading(`#${event.conn}`)} ${this.endpoints.get(event.conn) ?? ''} ${this.c.dim(otherLabel(event))} ${escapeText(event.note)}${event.requestLine ? ` ${this.c.dim('(')}${escapeText(event.requestLine, 80)}${this.c.dim(')')}` : ''}\n`;
      case 'frame':
        this.noteTime(event.frame.start.ts);
        if (this.view === 'messages') return this.alerts(event.frame.alerts);
        if (!this.options.full && event.frame.alerts.length === 0) return this.headed(this.frameRow(event.conn, event.frame));
        return this.headed(this.frameRow(event.conn, event.frame)) + this.fullPayload(event.frame, event.frame.opcode === 0x1 && !event.frame.rsv1) + this.alerts(event.frame.alerts);
      case 'message':
        if (this.view === 'messages') return this.messageView(event);
        return this.message(event.message);
      case 'app':
        return this.appLine(event);
      case 'http': {
        this.noteTime(event.start.ts);
        const key = `${event.conn}:${event.index}`;
        this.heldHeads.delete(key);
        if (this.openHeads.delete(key)) return this.httpHead(event.conn) + this.exchangeRow(event, true);
        return this.httpHead(event.conn) + this.exchangeRow(event);
      }
      case 'alert':
        return this.alerts([event.alert], `#${event.conn} `);
      case 'end': {
        for (const key of [...this.heldHeads.keys(), ...this.openHeads]) {
          if (key.startsWith(`${event.conn}:`)) {
            this.heldHeads.delete(key);
            this.openHeads.delete(key);
          }
        }
        const text = this.summary(event);
        this.endpoints.delete(event.conn);
        this.middleGroups.delete(event.conn);
        this.described.delete(event.conn);
        if (text !== '') this.needHead = true;
        return text;
      }
    }
  }

  /** --messages: a row per message, its application message (if any) as the content. */
  private messageView(event: MessageEvent): string {
    this.inRow = event.app?.[0];
    return this.headed(this.messageRow(event.conn, event.message, this.inRow)) + this.fullPayload(event.message, event.message.text !== undefined) + this.alerts(event.message.alerts);
  }

  /** An application message: a line under the message it came from (in --messages, the first one is the row's content already). */
  private appLine(event: AppEvent): string {
    if (event === this.inRow) return this.alerts(event.alerts);
    if (event.transport !== 'websocket') return this.httpHead(event.conn) + this.bodyAppRow(event);
    return `${this.c.dim('   └')} ${appText(event, this.options.width - 6)}\n${this.alerts(event.alerts)}`;
  }

  /** The connection's addresses once, above the first exchange or event-stream row of an HTTP connection. */
  private httpHead(conn: number): string {
    const head = this.described.has(conn) ? '' : `${this.c.heading(`#${conn}`)} ${this.endpoints.get(conn) ?? ''}  HTTP/1.1\n`;
    this.interrupted(conn);
    return head;
  }

  /**
   * An application message that came in an HTTP body (a Server-Sent Event, an Engine.IO packet
   * of long-polling): a row of its own, on the same timeline as the exchanges and the frames.
   */
  private bodyAppRow(e: AppEvent): string {
    const c = this.c;
    const packet = e.at.packet !== undefined ? String(e.at.packet) : '-';
    const time = this.time(e.at.ts);
    const lead = ` ${c.packet(packet.padEnd(6))} ${c.time(time.padEnd(this.compact ? 8 : 10))} ${`#${e.conn}`.padEnd(4)} `;
    const label = e.transport === 'sse' ? 'SSE ' : 'POLL';
    return `${lead}${this.dir(e.direction)} ${c.opcode(label)} ${appText(e, this.options.width - 36)}\n${this.alerts(e.alerts)}`;
  }

  /** Something other than rows about `conn` is printed: the next row gets the column header again. */
  private interrupted(conn: number): void {
    this.needHead = true;
    this.described.add(conn);
  }

  /** A row, after the column header when something else was printed since the last one. */
  private headed(row: string): string {
    if (!this.needHead) return row;
    this.needHead = false;
    return this.headRow() + row;
  }

  /**
   * The Time column counts from this moment: the capture's first packet (or the proxy's first
   * event), whatever the filters show, as tshark's frame.time_relative does. Without it, the
   * first event shown sets it.
   */
  setTimeOrigin(ts: number): void {
    this.t0 ??= ts;
  }

  /**
   * A response head: an event stream's row now, before its events (it streams until it ends);
   * any other exchange's held until something else is printed before its end.
   */
  private exchangeHead(e: OtherTrafficEvent): string {
    const key = `${e.conn}:${e.exchange}`;
    if (!isEventStreamType(e.contentType ?? null)) {
      this.heldHeads.set(key, e);
      return '';
    }
    this.openHeads.add(key);
    return this.httpHead(e.conn) + this.responseHeadRow(e);
  }

  /** The held heads' rows, in the order they came: their exchanges are still receiving. */
  private releaseHeads(): string {
    let out = '';
    for (const [key, e] of this.heldHeads) {
      this.openHeads.add(key);
      out += this.httpHead(e.conn) + this.responseHeadRow(e);
    }
    this.heldHeads.clear();
    return out;
  }

  /** `GET /events → 200  text/event-stream, receiving…`: where the head came, what it said. */
  private responseHeadRow(e: OtherTrafficEvent): string {
    const c = this.c;
    const packet = e.at.packet !== undefined ? String(e.at.packet) : '-';
    const lead = ` ${c.packet(packet.padEnd(6))} ${c.time(this.time(e.at.ts).padEnd(this.compact ? 8 : 10))} ${`#${e.conn}`.padEnd(4)} `;
    const request = e.requestLine === null ? '(no request)' : e.requestLine.replace(/ HTTP\/\d(\.\d)?$/, '');
    const room = this.compact ? 40 : 80;
    return `${lead}${c.opcode('HTTP')} ${c.heading(`${escapeText(request, room)} → ${e.status ?? '?'}`)}  ${c.dim(`${e.contentType ? `${escapeText(e.contentType, 40)}, ` : ''}receiving…`)}\n`;
  }

  /**
   * An HTTP exchange: its packet (where the response ended), the time its request began, the
   * connection, then what was asked and answered and what it cost; the body's start under it.
   * `ended`: its head has a row already (it streamed): this row is its end, at the time it ended.
   */
  private exchangeRow(e: HttpExchangeEvent, ended = false): string {
    const c = this.c;
    const packet = e.at.packet !== undefined ? String(e.at.packet) : '-';
    const time = this.time(ended ? e.at.ts : e.start.ts);
    const lead = ` ${c.packet(packet.padEnd(6))} ${c.time(time.padEnd(this.compact ? 8 : 10))} ${`#${e.conn}`.padEnd(4)} `;
    let out = `${lead}${c.opcode('HTTP')} ${ended ? c.dim('end of ') : ''}${c.heading(exchangeTitle(e, this.compact ? 40 : 80))}  ${c.dim(exchangeFacts(e))}\n`;
    const preview = bodyPreview(e.responseBody, this.options.full ? Infinity : Math.max(20, this.previewChars));
    if (preview !== '' && e.pattern !== 'sse') out += `${c.dim('   └')} ${preview}\n`;
    // Its alerts were shown as they arose.
    return out;
  }

  private noteTime(ts: number | undefined): void {
    if (this.t0 === null && ts !== undefined) this.t0 = ts;
  }

  private handshake(h: HandshakeEvent): string {
    const c = this.c;
    const lines: string[] = [];
    const where = `${c.heading(`#${h.conn}`)} ${this.endpoints.get(h.conn) ?? ''}  `;
    const requestRoom = this.compact ? Math.max(20, this.options.width - 2 - visibleLength(where)) : 120;
    lines.push(`${where}${c.heading(escapeText(`${h.request.method} ${h.request.target} ${h.request.version}`, requestRoom))}`);
    if (h.response === null) {
      lines.push(`   ${c.warning('▲')} no answer from the server in this capture`);
    } else {
      const status = `${h.response.status} ${escapeText(h.response.reason, 60)}`.trimEnd();
      lines.push(`   ${h.upgraded ? c.ok(`✓ ${status}`) : c.warning(`▲ ${status}: not upgraded`)}${h.supportedVersions.length > 0 ? ` (server supports version ${escapeText(h.supportedVersions.join(', '))})` : ''}`);
    }
    if (h.key !== null) {
      if (h.receivedAccept === null) {
        if (h.upgraded) lines.push(`   ${c.error('✖')} Sec-WebSocket-Accept missing (expected ${h.expectedAccept ?? '?'})`);
      } else if (h.acceptValid) {
        lines.push(`   ${c.ok('✓')} Sec-WebSocket-Accept ${escapeText(h.receivedAccept)} ${this.compact ? 'matches the key' : '= base64(SHA-1(key + GUID))'}`);
      } else {
        lines.push(`   ${c.error('✖')} Sec-WebSocket-Accept ${escapeText(h.receivedAccept, this.compact ? 40 : Infinity)},${this.compact ? '\n    ' : ''} expected ${h.expectedAccept ?? '?'}`);
      }
    }
    if (h.upgraded) {
      const ext = h.extensions.length > 0 ? h.extensions.map(extensionText).join(', ') : 'none';
      lines.push(`   subprotocol: ${escapeText(h.protocol ?? 'none')}   extensions: ${escapeText(ext)}`);
    }
    return lines.join('\n') + '\n' + this.alerts(h.alerts);
  }

  /**
   * A rendered row, without the padding cli-table3 would leave at the end of the line.
   * `ownCells`: how many leading cells hold only this renderer's numbers and words (ASCII and
   * "→"), which without color need no scan for their width.
   */
  private row(cells: string[], ownCells = 0): string {
    if (this.picks !== null) return tableRow(this.picks.map((i) => cells[i]!), this.widths);
    return tableRow(cells, this.widths, this.options.colorLevel === 0 ? ownCells : 0);
  }

  /** The column header: the same line every time, made once. */
  private headRow(): string {
    return (this.headText ??= this.row([...this.columns.map((col) => this.c.heading(col.head)), this.c.heading(this.lastColumn().head)]));
  }

  /** The free-text column that ends a row and takes the room the others leave. */
  private lastColumn(): { id: string; head: string } {
    if (this.view === 'messages') return { id: 'content', head: 'Content' };
    if (this.view === 'events') return { id: 'message', head: 'Application message' };
    return { id: 'payload', head: 'Payload' };
  }

  /** --events: a row per application message, its alerts under it, and nothing else but notices. */
  private renderEventsView(event: DissectEvent): string {
    switch (event.type) {
      case 'notice':
        return `${this.c.info('ℹ')} ${this.c.dim(event.code)} ${escapeText(event.message, 300)}\n`;
      case 'connection':
        this.noteTime(event.at.ts);
        return '';
      case 'alert':
        return isAppAlert(event.alert.code) ? this.alerts([event.alert], `#${event.conn} `) : '';
      case 'app': {
        const c = this.c;
        const out = this.headed(this.row([
          c.packet(event.at.packet !== undefined ? String(event.at.packet) : '-'),
          c.time(this.time(event.at.ts)),
          `#${event.conn}`,
          this.dir(event.direction),
          c.dim(viaText(event)),
          appText(event, this.previewChars),
        ]));
        return out + this.alerts(event.alerts);
      }
      default:
        return '';
    }
  }

  private time(ts: number | undefined): string {
    if (ts === undefined || this.t0 === null) return '';
    // The frames of one packet share a timestamp, and toFixed is not cheap (t0 never changes once set).
    if (ts !== this.lastTime.ts) this.lastTime = { ts, text: (ts - this.t0).toFixed(this.compact && this.view === 'frames' ? 3 : 6) };
    return this.lastTime.text;
  }

  private dir(direction: Direction): string {
    return direction === 'client' ? this.c.client(ARROW.client) : this.c.server(ARROW.server);
  }

  private messageRow(conn: number, m: Message, app: AppEvent | undefined): string {
    const c = this.c;
    const length = m.inflated ? `${m.wireLength}→${m.length}` : String(m.length);
    return this.row([
      c.packet(m.end.packet !== undefined ? String(m.end.packet) : '-'),
      c.time(this.time(m.start.ts)),
      `#${conn}`,
      this.dir(m.direction),
      c.opcode(m.type.length > 8 ? `0x${m.opcode.toString(16)}` : m.type),
      String(m.fragments),
      c.length(length + (m.truncated ? '+' : '')),
      app !== undefined ? appText(app, this.previewChars) : this.content(m),
    ]);
  }

  private content(m: Message): string {
    if (m.close) {
      const code = m.close.code === null ? 'no code' : `${m.close.code} ${m.close.codeName}`;
      return `${code}${m.close.reason ? ` "${escapeText(m.close.reason, this.previewChars)}"` : ''}`;
    }
    if (m.answers !== undefined) {
      // The mark first, so a narrow column keeps it.
      const mark = m.answers === null ? '(unsolicited)' : m.answers.rttMs !== null ? `(RTT ${formatMs(m.answers.rttMs)})` : '(answer)';
      return `${this.c.dim(mark)} ${m.length === 0 ? this.c.dim('(empty)') : this.payloadText(m)}`;
    }
    if (m.length === 0) return this.c.dim('(empty)');
    return this.payloadText(m);
  }

  private payloadText(m: Message): string {
    if (m.text !== undefined) return `"${escapeText(this.oneLineJson(m.text, m.truncated), this.previewChars)}"`;
    // Ping and Pong payloads are bytes, often readable ones.
    if (m.type !== 'binary' && !m.compressed && looksLikeText(m.data)) return `"${escapeText(decodeUtf8Lossy(m.data), this.previewChars)}"`;
    const count = Math.max(1, Math.floor(this.previewChars / 3));
    return hexPreview(dataPrefix(m, count + 1), count);
  }

  /** --full: the whole payload under its row, escaped text or a hex dump, indented. */
  private fullPayload(of: { data: Uint8Array }, isText: boolean): string {
    if (!this.options.full) return '';
    // Read only here: a payload kept in pieces (wsproxy) is built only for --full.
    const data = of.data;
    if (data.length === 0) return '';
    if (isText) return `      ${escapeText(decodeUtf8Lossy(data)).replace(/\\n/g, '\\n\n      ')}\n`;
    let out = '';
    for (let at = 0; at < data.length; at += 16) {
      const row = data.subarray(at, at + 16);
      const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
      out += `      ${this.c.dim(at.toString(16).padStart(6, '0'))}  ${hexPreview(row, 16).padEnd(47)}  ${ascii}\n`;
    }
    return out;
  }

  private frameRow(conn: number, f: Frame): string {
    if (this.compact) return this.compactFrameRow(conn, f);
    return this.row(this.frameCells(conn, f), 10);
  }

  /**
   * Writes a frame event's row into `out` as bytes, the same bytes render() would return, when
   * the row is of the plain kind: no color, the wide frames view, no --full, no alerts, and
   * every cell of characters RowWriter can lay out. Returns false, having written nothing,
   * otherwise; the caller then uses render(). wsdump's table on a big capture is mostly such rows.
   */
  writeFrameRow(event: FrameEvent, out: RowWriter): boolean {
    if (this.options.colorLevel !== 0 || this.view !== 'frames' || this.compact || this.options.full || event.frame.alerts.length > 0 || this.needHead || this.picks !== null || this.heldHeads.size > 0) return false;
    const f = event.frame;
    this.noteTime(f.start.ts);
    out.beginRow(this.widths);
    // Numbers and the key straight from the frame, and the same text as frameCellsAround
    // (without color, its palette changes nothing) where a cell must be cut.
    const packet = f.end.packet;
    let ok = (packet !== undefined && out.numberCell(packet)) || out.cell(this.frameCellsAround(f, 0)[0]);
    ok &&= out.cell(this.time(f.start.ts));
    const middle = ok ? this.middleGroup(event.conn, f) : null;
    if (middle !== null) out.group(middle);
    else if (ok) ok = this.frameCellsMiddle(event.conn, f).every((cell) => out.cell(cell));
    ok &&= out.numberCell(f.payloadLength, lengthSuffix(f)) || out.cell(this.frameCellsAround(f, 1)[0]);
    const key = f.maskingKey;
    ok &&= key !== null ? out.hexCell(key, key.length, false, false) || out.cell(this.frameCellsAround(f, 1)[1]) : out.cell('-');
    if (!ok) {
      out.abandonRow();
      return false;
    }
    if (!this.previewInto(f, out)) {
      const preview = this.preview(f);
      if (!out.cell(preview)) {
        out.abandonRow();
        return false;
      }
    }
    out.endRow();
    return true;
  }

  /**
   * The payload column of the commonest frames straight from their bytes, as preview() would
   * show it: binary payloads in hex, and text whose shown part is printable ASCII without a
   * backslash (escapeText leaves it as it is). False, with nothing written, for anything else.
   */
  private previewInto(f: Frame, out: RowWriter): boolean {
    const width = this.previewChars;
    // (With no room for content, preview() has its own answers.)
    if (f.truncated || f.payloadLength === 0 || f.rsv1 || width < 1) return false;
    if (f.opcode === 0x2) {
      const count = Math.max(1, Math.floor(width / 3));
      // One byte more than shown says whether there is more, without building a payload kept in pieces.
      const first = dataPrefix(f, count + 1);
      return out.hexCell(first, Math.min(count, first.length), first.length > count);
    }
    const data = f.data;
    if (f.opcode !== 0x1) return false;
    const shown = Math.min(width, data.length);
    for (let i = 0; i < shown; i++) {
      const b = data[i]!;
      if (b < 0x20 || b > 0x7e || b === 0x5c) return false;
    }
    return out.quotedAsciiCell(data, shown, data.length > width);
  }

  /** The cells of a wide frame row (the first ten are this renderer's own numbers and words), the payload preview last. */
  private frameCells(conn: number, f: Frame): string[] {
    return [...this.frameCellsAround(f, 0), ...this.frameCellsMiddle(conn, f), ...this.frameCellsAround(f, 1), this.preview(f)];
  }

  /** Before the middle cells (0: No., Time) or after them (1: Length, Key). */
  private frameCellsAround(f: Frame, which: 0 | 1): [string, string] {
    const c = this.c;
    if (which === 0) return [c.packet(f.end.packet !== undefined ? String(f.end.packet) : '-'), c.time(this.time(f.start.ts))];
    const enc = f.lengthEncoding === 7 ? '' : ` (${f.lengthEncoding})`;
    return [c.length(`${f.payloadLength}${enc}`), f.maskingKey ? c.key(hexString(f.maskingKey)) : c.dim('-')];
  }

  /** Conn, Dir, FIN, RSV, Opcode, MASK: a few combinations per connection. */
  private frameCellsMiddle(conn: number, f: Frame): string[] {
    const c = this.c;
    const rsv = `${+f.rsv1}${+f.rsv2}${+f.rsv3}`;
    return [
      `#${conn}`,
      this.dir(f.direction),
      c.fin(f.fin ? '1' : '0'),
      rsv === '000' ? c.dim(rsv) : c.rsv(rsv),
      c.opcode(f.opcodeName.length > 13 ? `0x${f.opcode.toString(16)} rsvd` : f.opcodeName),
      c.mask(f.masked ? '1' : '0'),
    ];
  }

  /**
   * The middle cells of a plain frame row laid out as bytes, made once per connection and
   * combination of direction, FIN, RSV, opcode and MASK (forgotten when the connection ends).
   */
  private middleGroup(conn: number, f: Frame): CellGroup | null {
    let groups = this.middleGroups.get(conn);
    if (groups === undefined) {
      groups = new Map();
      this.middleGroups.set(conn, groups);
    }
    const key = (((((f.direction === 'client' ? 1 : 0) << 1) | +f.fin) << 3 | (+f.rsv1 << 2) | (+f.rsv2 << 1) | +f.rsv3) << 4 | (f.opcode & 15)) << 1 | +f.masked;
    let group = groups.get(key);
    if (group === undefined) {
      group = RowWriter.layOut(this.frameCellsMiddle(conn, f), this.widths.slice(2, 8));
      groups.set(key, group);
    }
    return group;
  }

  /** The frame row for narrow terminals (COMPACT_COLUMNS). */
  private compactFrameRow(conn: number, f: Frame): string {
    const c = this.c;
    const bit = (on: boolean, mark: string, color: (s: string) => string) => (on ? color(mark) : c.dim('-'));
    const flags = bit(f.fin, 'F', c.fin) + bit(f.rsv1, '1', c.rsv) + bit(f.rsv2, '2', c.rsv) + bit(f.rsv3, '3', c.rsv) + bit(f.masked, 'M', c.mask);
    const opcode = f.opcode === 0x0 ? 'cont' : f.opcodeName.length > 8 ? `0x${f.opcode.toString(16)} rsvd` : f.opcodeName;
    const enc = f.lengthEncoding === 7 ? '' : ` (${f.lengthEncoding})`;
    return this.row([
      c.packet(f.end.packet !== undefined ? String(f.end.packet) : '-'),
      c.time(this.time(f.start.ts)),
      `#${conn}`,
      this.dir(f.direction),
      flags,
      c.opcode(opcode),
      c.length(`${f.payloadLength}${enc}`),
      f.maskingKey ? c.key(hexString(f.maskingKey)) : c.dim('-'),
      this.preview(f),
    ]);
  }

  private preview(f: Frame): string {
    const width = this.previewChars;
    const more = f.truncated ? this.c.dim(' [truncated]') : '';
    if (f.payloadLength === 0) return this.c.dim('(empty)');
    if (f.opcode === 0x8 && f.data.length >= 2) {
      const code = (f.data[0]! << 8) | f.data[1]!;
      const reason = decodeUtf8Lossy(f.data.subarray(2));
      return `${code}${reason ? ` "${escapeText(reason, width - 8)}"` : ''}`;
    }
    // The first bytes only (a payload kept in pieces is not built for a preview): the verdict
    // on text and the check for lines are about what the preview shows, not the whole payload.
    const sample = dataPrefix(f, width * 4).subarray(0, width * 4);
    // A continuation or control frame does not say whether it carries text: judge by content.
    const asText = !f.rsv1 && (f.opcode === 0x1 || (f.opcode !== 0x2 && looksLikeText(sample)));
    if (!asText) {
      const count = Math.max(1, Math.floor(width / 3));
      return hexPreview(dataPrefix(f, count + 1), count) + more;
    }
    // A whole text message in one frame that is JSON spread over lines: shown on one line.
    if (f.opcode === 0x1 && f.fin && !f.truncated && (sample.includes(0x0a) || sample.includes(0x0d) || sample.includes(0x09))) {
      return `"${escapeText(this.oneLineJson(decodeUtf8Lossy(f.data), false), width)}"`;
    }
    // When the first width + 1 bytes are ASCII they are the first width + 1 characters, all
    // that escapeText looks at: the rest of the sample need not be decoded.
    return `"${escapeText(decodeUtf8Lossy(isAscii(sample, width + 1) ? sample.subarray(0, width + 1) : sample), width)}"${more}`;
  }

  /** JSON text spread over lines (pretty-printed) made compact, as JSON reads on one line; other text as it is. */
  private oneLineJson(text: string, truncated: boolean): string {
    if (truncated || !spreadOverLines(text, this.previewChars * 4)) return text;
    return compactJson(text) ?? text;
  }

  private message(m: Message): string {
    // Most messages are one frame, plain, with nothing to say under their frame's row.
    if (m.close === undefined && m.fragments === 1 && !m.compressed && m.answers === undefined && m.alerts.length === 0) return '';
    const c = this.c;
    const parts: string[] = [];
    if (m.close) {
      const code = m.close.code === null ? 'no code' : `${m.close.code} ${m.close.codeName}`;
      parts.push(`close: ${code}${m.close.reason ? ` "${escapeText(m.close.reason, 60)}"` : ''}`);
    } else if (m.fragments > 1 || m.compressed) {
      const how = [m.fragments > 1 ? `${m.fragments} fragments` : '', m.inflated ? `inflated ${m.wireLength} → ${m.length} bytes (${(m.length === 0 ? 0 : (m.wireLength / m.length) * 100).toFixed(0)}%)` : m.compressed ? `${m.length} bytes compressed, not inflated` : `${m.length} bytes`].filter(Boolean).join(', ');
      const content = m.text !== undefined ? `"${escapeText(m.text, Math.max(20, this.options.width - 40))}"` : hexPreview(m.data, 16);
      parts.push(`${m.type} message, ${how}: ${content}`);
    }
    if (m.answers !== undefined) parts.push(pongText(m));
    const out = parts.length > 0 ? `${c.dim('   └')} ${parts.join(' ')}\n` : '';
    return out + this.alerts(m.alerts);
  }

  private alerts(alerts: Alert[], prefix = ''): string {
    let out = '';
    for (const a of alerts) {
      const color = this.c[a.severity];
      const where = a.packet !== undefined ? ` [packet ${a.packet}]` : '';
      out += `   ${prefix}${color(SEVERITY_SYMBOL[a.severity])} ${this.c.dim(a.code)} ${escapeText(a.message, 400)} ${this.c.dim(`(${a.section})${where}`)}\n`;
    }
    return out;
  }

  /** --summary: connection lines and per-connection totals only. */
  private renderSummaryView(event: DissectEvent): string {
    switch (event.type) {
      case 'notice':
        return `${this.c.info('ℹ')} ${this.c.dim(event.code)} ${escapeText(event.message, 300)}\n`;
      case 'connection':
        // Joined, not a template: a template's rope of ~10 strings was ~300 bytes of every open connection.
        this.endpoints.set(event.conn, [endpoint(event.client), ' → ', endpoint(event.server)].join(''));
        return '';
      case 'handshake':
        this.paths.set(event.conn, `${event.request.target}${event.upgraded ? '' : ` (${event.response ? `${event.response.status} refused` : 'unanswered'})`}`);
        return '';
      case 'tls':
        this.tlsNotes.set(event.conn, tlsSummaryNote(event));
        return '';
      case 'http': {
        const counts = this.patterns.get(event.conn) ?? new Map<string, number>();
        counts.set(event.pattern, (counts.get(event.pattern) ?? 0) + 1);
        this.patterns.set(event.conn, counts);
        return '';
      }
      case 'end':
        return this.summaryBlock(event);
      case 'app':
        this.appSummary.add(event);
        return '';
      default:
        return '';
    }
  }

  private summaryBlock(e: Extract<DissectEvent, { type: 'end' }>): string {
    const c = this.c;
    const where = this.endpoints.get(e.conn) ?? '';
    const path = this.paths.get(e.conn);
    const tls = this.tlsNotes.get(e.conn) ?? '';
    this.endpoints.delete(e.conn);
    this.paths.delete(e.conn);
    this.tlsNotes.delete(e.conn);
    const patterns = this.patterns.get(e.conn);
    this.patterns.delete(e.conn);
    const duration = e.duration !== null ? `, ${e.duration.toFixed(3)} s` : '';
    const lines = [`${c.heading(`#${e.conn}`)} ${where}  ${e.kind}${path ? ` ${escapeText(path, 80)}` : ''}${tls}${duration}`];
    if (e.kind === 'websocket') {
      for (const d of ['client', 'server'] as const) {
        const t = e.totals[d];
        const ops = Object.entries(t.byOpcode).map(([op, v]) => `${op} ${v.frames}/${v.bytes} B`).join(', ');
        lines.push(`   ${this.dir(d)} ${t.frames} frames, ${t.messages} messages, ${t.bytes} bytes${t.missing ? `, ${t.missing} missing` : ''}${ops ? `  (${ops})` : ''}`);
      }
      for (const line of heartbeatLines(e.heartbeat)) lines.push(`   heartbeat: ${line}`);
      for (const line of appHeartbeatLines(e.appHeartbeat)) lines.push(`   app heartbeat: ${line}`);
      if (e.close !== null) lines.push(`   close: ${closeLine(e.close)}`);
      if (e.timing !== null) {
        const timing = timingLine(e.timing);
        if (timing) lines.push(`   timing: ${timing}`);
      }
    }
    lines.push(...this.appSummary.take(e.conn));
    const hidden = this.options.hiddenHeartbeats?.(e.conn) ?? 0;
    if (hidden > 0) lines.push(`   ${hidden} heartbeat message(s) hidden (--hide-heartbeats)`);
    if (patterns !== undefined) {
      const total = [...patterns.values()].reduce((a, b) => a + b, 0);
      lines.push(`   HTTP: ${total} exchange${total === 1 ? '' : 's'} (${[...patterns].map(([p, n]) => `${p} ${n}`).join(', ')})`);
    }
    for (const line of transportLines(e.transports)) lines.push(`   ${line}`);
    const alerts = [e.alerts.error && c.error(`✖ ${e.alerts.error} error(s)`), e.alerts.warning && c.warning(`▲ ${e.alerts.warning} warning(s)`), e.alerts.info && c.info(`ℹ ${e.alerts.info} info`)].filter(Boolean).join(', ');
    if (alerts) lines.push(`   alerts: ${alerts}`);
    return lines.join('\n') + '\n';
  }

  private summary(e: Extract<DissectEvent, { type: 'end' }>): string {
    const c = this.c;
    const described = this.described.has(e.conn);
    // A connection that carried nothing either way and showed nothing (a browser's unused
    // preconnect) gets no summary line either: a summary without a header is said of nothing.
    // --summary lists it; --json has its `end`.
    if (!described && e.kind === 'unknown' && e.totals.client.bytes + e.totals.server.bytes === 0) return '';
    // A connection with no line of its own yet (one decoded mid-stream) is named here.
    const who = described ? `#${e.conn} summary` : `#${e.conn} ${this.endpoints.get(e.conn) ?? ''} summary`;
    if (e.kind !== 'websocket') {
      // Not WebSocket: what was seen was said when it was seen; here, how much crossed.
      return `${c.heading(who)}: ${e.kind}; C→S ${e.totals.client.bytes} bytes, S→C ${e.totals.server.bytes} bytes\n`;
    }
    const side = (d: Direction) => `${ARROW[d]} ${e.totals[d].frames} frames, ${e.totals[d].messages} messages, ${e.totals[d].bytes} bytes${e.totals[d].missing ? `, ${e.totals[d].missing} missing` : ''}`;
    const alerts = [e.alerts.error && c.error(`${e.alerts.error} error(s)`), e.alerts.warning && c.warning(`${e.alerts.warning} warning(s)`), e.alerts.info && c.info(`${e.alerts.info} info`)].filter(Boolean).join(', ') || c.ok('no alerts');
    const close = (d: Direction) => (e.closeCodes[d].length > 0 ? e.closeCodes[d].map((x) => x ?? 'no code').join('/') : '-');
    const hidden = this.options.hiddenHeartbeats?.(e.conn) ?? 0;
    return `${c.heading(who)}: ${side('client')}; ${side('server')}; close C→S ${close('client')}, S→C ${close('server')}; ${alerts}${hidden > 0 ? `; ${hidden} heartbeat message(s) hidden` : ''}\n`;
  }
}

/** How wsproxy --mode proxy got the connection: `(CONNECT example.org:443, TLS intercepted)`. */
function proxyViaText(via: ProxyVia): string {
  const host = via.host.includes(':') ? `[${via.host}]` : via.host;
  const tls = via.tls === 'intercepted' ? ', TLS intercepted' : via.tls === 'passed-through' ? ', TLS passed through' : '';
  return `(${via.request === 'CONNECT' ? 'CONNECT' : 'via proxy'} ${escapeText(host, 80)}:${via.port}${tls})`;
}
