import { CommanderError, InvalidArgumentError, Option, type Command } from 'commander';
import type { Direction } from '../alerts.js';
import type { AppLayerOptions } from '../app/layer.js';
import { APP_NAMES } from '../app/registry.js';
import type { AppEvent } from '../app/types.js';
import type { DissectEvent } from '../engine/events.js';
import { escapeText } from '../render/escape.js';
import type { AppFilter } from './app-filter.js';
import { COLUMN_NAMES, parseColumnNames } from '../render/columns.js';
import { ndjsonLines } from '../render/ndjson-encoder.js';
import { Opcode } from '../websocket/constants.js';
import { DEFAULT_LIMITS, type Limits } from '../websocket/types.js';

/** Streams the CLI writes to; injected so tests can run the program without spawning it. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
}

export const processIo = (): CliIo => ({ stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env });

/**
 * Writes to stderr with everything escaped as in the views (src/render/escape.ts), line by
 * line: messages quote file names, option values, host names and bytes of the input, and none
 * of them may reach the terminal raw. `text` ends with its newline.
 */
export function warn(io: Pick<CliIo, 'stderr'>, text: string): void {
  io.stderr.write(text.split('\n').map((line) => escapeText(line)).join('\n'));
}

/** Unusable input or arguments: one line on stderr, exit 1. */
export class UsageError extends Error {}

/** Options shared by wsdump and wsproxy for what is shown and how. */
export interface ViewOptions {
  json?: boolean;
  messages?: boolean;
  summary?: boolean;
  /** The teaching view (src/render/explain.ts). */
  explain?: boolean;
  /** Per connection, a picture of its life (src/render/timeline.ts). */
  timeline?: boolean;
  color?: boolean;
  width?: number;
  payload?: number;
  full?: boolean;
  conn?: number[];
  from?: Direction;
  opcode?: string[];
  host?: string[];
  port?: number[];
  /** Only connections that are WebSocket (upgraded, or decoded mid-stream). */
  wsOnly?: boolean;
  /** The table's columns, in order (src/render/columns.ts). */
  columns?: string[];
  maxFrame?: number;
  maxMessage?: number;
  maxInflated?: number;
  /** The application layer: a protocol forced for every connection, or `none` (src/app). */
  app?: string;
  /** One row per application message. */
  events?: boolean;
  /** Globs over event names, methods, targets, topics. */
  event?: string[];
  grep?: RegExp;
  hideHeartbeats?: boolean;
  /** Seconds an HTTP answer must be held to be long polling. */
  longPoll?: number;
  /** Write HAR 1.2 to this file as well (src/render/har.ts). */
  har?: string;
}

export function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number.');
  return Number(value);
}

export function parseSeconds(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new InvalidArgumentError('expected a number of seconds, such as 2 or 0.5.');
  return Number(value);
}

export function parsePort(value: string, previous: number[] = []): number[] {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new InvalidArgumentError('expected a port number (1-65535).');
  return [...previous, port];
}

export function parseConnList(value: string, previous: number[] = []): number[] {
  return [...previous, ...value.split(',').map((v) => parseCount(v.trim()))];
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];
}

export function parseColumns(value: string): string[] {
  const parsed = parseColumnNames(value);
  if ('unknown' in parsed) throw new InvalidArgumentError(`unknown column "${parsed.unknown}": use ${COLUMN_NAMES.join(', ')}.`);
  if (parsed.names.length === 0) throw new InvalidArgumentError('expected at least one column name.');
  return parsed.names;
}

export function parseDirection(value: string): Direction {
  if (value !== 'client' && value !== 'server') throw new InvalidArgumentError('expected "client" or "server".');
  return value;
}

export function parseRegex(value: string): RegExp {
  try {
    return new RegExp(value);
  } catch (error) {
    throw new InvalidArgumentError(`not a regular expression (${(error as Error).message}).`);
  }
}

/** Accepts 1048576, 64k, 16M, 1G (binary multiples). */
export function parseSize(value: string): number {
  const m = /^(\d+)([kKmMgG]?)[bB]?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected a size such as 65536, 64k or 16M.');
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * scale;
}

/** --opcode names: text → 0x1 … (RFC 6455 §5.2). */
const OPCODES: Readonly<Record<string, number>> = Object.fromEntries(Object.entries(Opcode).map(([name, value]) => [name.toLowerCase(), value]));
const OPCODE_NAMES = Object.keys(OPCODES);

export function parseOpcodes(value: string, previous: string[] = []): string[] {
  const list = collect(value, previous);
  for (const name of list) {
    if (name !== 'none' && !OPCODE_NAMES.includes(name) && !/^0x[0-9a-f]$/i.test(name)) throw new InvalidArgumentError(`unknown opcode "${name}": use ${OPCODE_NAMES.join(', ')}, 0x0-0xf, or none.`);
  }
  return list;
}

/**
 * The options that choose what is shown and how, shared by wsdump and wsproxy so both accept
 * exactly the same ones. `fromHelp` lets a program say more about --from.
 */
export function addViewOptions(command: Command, fromHelp = 'only frames sent by this side'): Command {
  return command
    .option('-j, --json', 'NDJSON: one event per line (schema in docs/json.md)')
    .option('-e, --explain', 'teaching view: each frame as the RFC 6455 header diagram with its bits, the handshake header by header')
    .option('-m, --messages', 'one row per reassembled message instead of per frame (its application message when it has one); with --json, no frame lines')
    .option('--events', 'one row per application message (Socket.IO event, JSON-RPC call …), across connections')
    .option('-s, --summary', 'only per-connection totals, heartbeats, closing handshake and timing (and application messages by kind, name and latency)')
    .option('--timeline', 'per connection, a picture of its life in time: messages, pings and pongs, silences, the close')
    .option('--conn <n,...>', 'only these connections', parseConnList)
    .addOption(new Option('--from <side>', fromHelp).choices(['client', 'server']).argParser(parseDirection))
    .option('--opcode <names>', 'only these opcodes: text,binary,close,ping,pong,continuation; none shows handshakes only', parseOpcodes)
    .option('--host <ip>', 'only connections with this address (repeatable)', collect)
    .option('--port <port>', 'only connections with this port (repeatable)', parsePort)
    .option('--ws-only', 'only WebSocket connections: plain HTTP, refused upgrades and other traffic are not shown')
    .addOption(new Option('--app <name>', 'decode every connection as this application protocol, or none (default: recognised per connection by subprotocol, path, first messages)').choices(APP_NAMES))
    .option('--event <glob>', 'only application messages whose name matches (* and ?; repeatable): a Socket.IO event, JSON-RPC method, SignalR target, graphql operation name, STOMP destination, MQTT topic (or topic filter), SSE event type, or with --app json the first of type/event/action/… members; an answer (except a Socket.IO ack) carries its request\'s name', collect)
    .option('--grep <regex>', 'only messages whose text or application fields match this regular expression', parseRegex)
    .option('--hide-heartbeats', 'hide WebSocket ping/pong and protocol keep-alives (Engine.IO ping/pong …); summaries count them')
    .option('--payload <n>', 'characters of payload preview, widening the column as needed (bytes of hex with --json)', parseCount)
    .option('--columns <names>', `the table's columns, in order, from ${COLUMN_NAMES.join(', ')} (e.g. no,time,dir,opcode,length,payload)`, parseColumns)
    .option('--full', 'show whole payloads')
    .option('--width <columns>', 'table width (default: the terminal width, or 120)', parseCount)
    .option('--har <file>', 'also write every HTTP exchange and WebSocket (with its messages) to FILE as HAR 1.2')
    .option('--long-poll <seconds>', 'an HTTP answer held this long is long polling when the client asks again (default 1)', parseSeconds)
    .option('--color', 'force colors (default: only on a terminal; NO_COLOR or FORCE_COLOR=0 turn them off, FORCE_COLOR=1-3 on)')
    .option('--no-color', 'no colors');
}

/** The dissection's memory limits, shared by wsdump and wsproxy. */
export function addLimitOptions(command: Command): Command {
  return command
    .option('--max-frame <size>', 'largest frame payload kept in memory (default 16M)', parseSize)
    .option('--max-message <size>', 'largest message reassembled (default 16M)', parseSize)
    .option('--max-inflated <size>', 'largest inflated permessage-deflate message (default 64M)', parseSize);
}

/** Help and --version text; a reader that goes away (`wsdump --help | head`) ends it quietly, as it ends the output. */
function writeHelp(stream: NodeJS.WritableStream, text: string): void {
  if (stream.listenerCount('error') === 0) stream.on('error', () => {});
  stream.write(text);
}

/**
 * Parses argv without letting commander exit the process: help, --version and argument errors
 * end with `exit` (0 for help, 1 for errors, already written to io), as do conflicting views.
 */
export function parseProgram<T extends ViewOptions>(program: Command, argv: string[], io: CliIo): { options: T; args: string[] } | { exit: number } {
  program.exitOverride().configureOutput({ writeOut: (s) => writeHelp(io.stdout, s), writeErr: (s) => warn(io, s) });
  try {
    program.parse(argv);
  } catch (error) {
    if (error instanceof CommanderError) return { exit: error.exitCode === 0 ? 0 : 1 };
    throw error;
  }
  const options = program.opts<T>();
  const conflict = conflictingViews(options);
  if (conflict !== null) {
    warn(io, `${program.name()}: ${conflict}\n`);
    return { exit: 1 };
  }
  return { options, args: program.args };
}

/** At most one of the views may be chosen: the one-line complaint, or null. */
export function conflictingViews(options: ViewOptions): string | null {
  // --json --messages is NDJSON at the message level (see messageLevel), not two views.
  const chosen = (['json', 'explain', 'messages', 'events', 'summary', 'timeline'] as const).filter((v) => options[v] && !(v === 'messages' && options.json));
  return chosen.length > 1 ? `choose one of --json, --explain, --messages, --events, --summary, --timeline (got ${chosen.map((v) => `--${v}`).join(', ')})` : null;
}

/**
 * --json --messages: NDJSON without `frame` lines (the bulk of --json: a header, a masking key
 * and payload hex per frame, most of it again in the message). A frame's alerts, which would
 * have been in its `alerts`, become `alert` lines, so nothing found in the traffic is lost.
 * Every other event is written as it is.
 */
export function messageLevel(write: (event: DissectEvent) => void): (event: DissectEvent) => void {
  return (event) => {
    if (event.type !== 'frame') write(event);
    else for (const alert of event.frame.alerts) write({ type: 'alert', conn: event.conn, alert });
  };
}

export function limitsFrom(options: ViewOptions): Limits {
  return {
    maxFramePayload: options.maxFrame ?? DEFAULT_LIMITS.maxFramePayload,
    maxMessageSize: options.maxMessage ?? DEFAULT_LIMITS.maxMessageSize,
    maxInflatedSize: options.maxInflated ?? DEFAULT_LIMITS.maxInflatedSize,
  };
}

/**
 * The filters (--conn, --from, --opcode, --host, --port). Connection-level filters are decided
 * on the `connection` event and remembered until the connection ends, so memory stays bounded.
 */
export class EventFilter {
  private readonly hidden = new Set<number>();
  private readonly opcodes: Set<number> | null;
  /** The application messages of the last message judged, and whether it was shown: they follow it. */
  private lastApp: AppEvent[] | undefined;
  private lastShown = true;
  /** --ws-only: what a connection not yet known to be WebSocket has shown (its intro), held until it is. */
  private readonly pending = new Map<number, DissectEvent[]>();
  private released: DissectEvent[] | null = null;
  private seenCount = 0;
  private matchedCount = 0;

  constructor(private readonly options: ViewOptions) {
    // `none` names no opcode: no frame or message passes, the handshakes and summaries stay.
    this.opcodes = options.opcode?.length ? new Set(options.opcode.filter((o) => o !== 'none').map((o) => (o.startsWith('0x') ? parseInt(o, 16) : OPCODES[o]!))) : null;
  }

  /** Connections seen so far. */
  get seen(): number {
    return this.seenCount;
  }

  /** Connections shown so far (that passed the connection filters, and --ws-only). */
  get matched(): number {
    return this.matchedCount;
  }

  /** Whether any filter chooses connections (--conn, --host, --port, --ws-only). */
  get choosesConnections(): boolean {
    const o = this.options;
    return Boolean(o.conn?.length || o.host?.length || o.port?.length || o.wsOnly);
  }

  /**
   * Events held back by --ws-only that are to be shown now, before the event just judged
   * (a connection proved WebSocket: its `connection` line comes first); null mostly. Call
   * after each accepts().
   */
  takeHeld(): DissectEvent[] | null {
    const held = this.released;
    this.released = null;
    return held;
  }

  accepts(event: DissectEvent): boolean {
    if (event.type === 'notice') return true;
    const o = this.options;
    if (event.type === 'connection') {
      this.seenCount++;
      const byConn = !o.conn?.length || o.conn.includes(event.conn);
      const byHost = !o.host?.length || o.host.includes(event.client.ip) || o.host.includes(event.server.ip);
      const byPort = !o.port?.length || o.port.includes(event.client.port) || o.port.includes(event.server.port);
      if (!(byConn && byHost && byPort)) {
        this.hidden.add(event.conn);
        return false;
      }
      if (o.wsOnly) {
        this.pending.set(event.conn, [event]);
        return false;
      }
      this.matchedCount++;
      return true;
    }
    if (this.hidden.has(event.conn)) {
      if (event.type === 'end') this.hidden.delete(event.conn);
      return false;
    }
    const pending = this.pending.get(event.conn);
    if (pending !== undefined && !this.provesWebSocket(event, pending)) return false;
    switch (event.type) {
      case 'frame':
        return (!o.from || event.frame.direction === o.from) && (this.opcodes === null || this.opcodes.has(event.frame.opcode));
      case 'message':
        this.lastApp = event.app;
        return (this.lastShown = (!o.from || event.message.direction === o.from) && (this.opcodes === null || this.opcodes.has(event.message.opcode)));
      case 'app':
        if (this.lastApp?.includes(event)) return this.lastShown;
        return !o.from || event.direction === o.from;
      case 'alert':
        return !o.from || event.alert.direction === undefined || event.alert.direction === o.from;
      case 'tls-record':
        return !o.from || event.direction === o.from;
      default:
        return true;
    }
  }

  /**
   * --ws-only, for a connection not yet known to be WebSocket: true when this event shows it is
   * (an accepted upgrade, frames, a mid-stream start), releasing what was held. Its TLS line
   * is held with its connection line; everything else (plain HTTP, a refusal) is dropped, and
   * so is the whole connection if it ends first.
   */
  private provesWebSocket(event: DissectEvent, pending: DissectEvent[]): boolean {
    const conn = 'conn' in event ? event.conn : -1;
    const proof =
      (event.type === 'handshake' && event.upgraded) ||
      event.type === 'frame' ||
      event.type === 'message' ||
      (event.type === 'alert' && event.alert.code === 'handshake.not-seen');
    if (proof) {
      this.pending.delete(conn);
      this.matchedCount++;
      this.released = pending;
      return true;
    }
    if (event.type === 'tls') pending.push(event);
    else if (event.type === 'end') this.pending.delete(conn);
    return false;
  }
}

/** The line that says no connection was shown, or null when one was (or no filter chose any). */
export function noConnectionMatched(filter: EventFilter, options: ViewOptions): string | null {
  if (!filter.choosesConnections || filter.matched > 0) return null;
  const o = options;
  const asked = [
    o.conn?.length ? `--conn ${o.conn.join(',')}` : '',
    ...(o.host ?? []).map((h) => `--host ${h}`),
    ...(o.port ?? []).map((p) => `--port ${p}`),
    o.wsOnly ? '--ws-only' : '',
  ].filter(Boolean);
  const seen = filter.seen === 0 ? 'no TCP connection was seen' : `${filter.seen} connection(s) were seen`;
  return `no connection matched ${asked.join(' ')} (${seen})`;
}

/** Bytes of each payload --json shows as hex. */
export function jsonHexBytes(options: ViewOptions): number {
  return options.full ? Infinity : (options.payload ?? 256);
}

/** A view: event in, text out, with the filter it applies (for what it let through). */
export type View = ((event: DissectEvent) => string) & { readonly filter: EventFilter };

/**
 * The chosen view as a function from event to text. The terminal views are loaded only when
 * chosen (src/cli/renderers.ts).
 */
export async function makeView(options: ViewOptions, io: CliIo): Promise<View> {
  const filter = new EventFilter(options);
  const appFilter = await makeAppFilter(options);
  const view = (render: (event: DissectEvent) => string, observe?: (event: DissectEvent) => void): View =>
    Object.assign((event: DissectEvent) => {
      observe?.(event);
      return filtered(filter, appFilter, event, render);
    }, { filter });
  if (options.json) {
    const line = ndjsonLines({ maxHexBytes: jsonHexBytes(options) });
    if (!options.messages) return view(line);
    return view((event) => {
      let text = '';
      messageLevel((e) => (text += line(e)))(event);
      return text;
    });
  }
  const { makeExplain, makeTable, makeTimeline } = await import('./renderers.js');
  // The timeline's times are per connection, from the connection's start.
  if (options.timeline) {
    const timeline = makeTimeline(options, io);
    return view((event) => timeline.render(event));
  }
  const renderer = options.explain ? makeExplain(options, io) : makeTable(options, io, appFilter);
  // Times count from the first event, whatever the filters show (live, there is no first packet).
  let started = false;
  return view(
    (event) => renderer.render(event),
    (event) => {
      if (started) return;
      const ts = eventTime(event);
      if (ts === undefined) return;
      started = true;
      renderer.setTimeOrigin(ts);
    },
  );
}

/** What the filters let through of `event`, rendered: what --ws-only held back first. */
function filtered(filter: EventFilter, appFilter: AppFilter | null, event: DissectEvent, render: (event: DissectEvent) => string): string {
  const shown = filter.accepts(event);
  const held = filter.takeHeld();
  let out = held === null ? '' : held.map(render).join('');
  if (!shown) return out;
  if (appFilter === null) return out + render(event);
  appFilter.push(event, (e) => (out += render(e)));
  return out;
}

/** When an event happened, when it says. */
function eventTime(event: DissectEvent): number | undefined {
  switch (event.type) {
    case 'handshake':
      return event.request.at.ts;
    case 'frame':
      return event.frame.start.ts;
    case 'message':
      return event.message.start.ts;
    case 'alert':
      return undefined;
    default:
      return event.at.ts;
  }
}

/**
 * The filters by meaning (--event, --grep, --hide-heartbeats), or null when none is asked
 * for; loaded only then (src/cli/app-filter.ts).
 */
export async function makeAppFilter(options: ViewOptions): Promise<AppFilter | null> {
  if (!(options.event?.length || options.grep !== undefined || options.hideHeartbeats)) return null;
  const { AppFilter } = await import('./app-filter.js');
  return new AppFilter(options);
}

/** The application layer's options as the views ask for them (--app, --explain). */
export function appOptionsFrom(options: ViewOptions): AppLayerOptions | false {
  if (options.app === 'none') return false;
  return { ...(options.app !== undefined ? { app: options.app } : {}), explain: options.explain === true };
}

/** Did this event carry an error-severity alert? (for --strict) */
export function hasError(event: DissectEvent): boolean {
  switch (event.type) {
    case 'alert':
      return event.alert.severity === 'error';
    case 'frame':
      return event.frame.alerts.some((a) => a.severity === 'error');
    case 'message':
      return event.message.alerts.some((a) => a.severity === 'error');
    case 'handshake':
      return event.alerts.some((a) => a.severity === 'error');
    case 'app':
      return event.alerts.some((a) => a.severity === 'error');
    default:
      return false;
  }
}

/**
 * Writes to a stream with backpressure: `flush()` waits for 'drain' when the stream's buffer is
 * full, so a slow pager or terminal slows the decoder instead of growing memory. A closed pipe
 * (`| head`) ends output quietly. wsdump gathers what it writes into large buffers first
 * (src/render/byte-writer.ts), so a big capture makes few writes.
 */
export class Output {
  private closed = false;
  private error: Error | null = null;
  /** A write since the last flush was refused (the stream's buffer is full). */
  private pending = false;

  constructor(private readonly stream: NodeJS.WritableStream) {
    // Never throw from here: an exception in an 'error' listener is an uncaught crash.
    stream.on('error', (error: NodeJS.ErrnoException) => {
      this.closed = true;
      if (error.code !== 'EPIPE') this.error = error;
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Why output stopped, other than the reader going away (EPIPE): for a one-line report. */
  get failure(): Error | null {
    return this.error;
  }

  /** Bytes, in order; nothing waits here: `flush()` applies the backpressure. */
  addBytes(bytes: Uint8Array): void {
    if (bytes.length === 0 || this.closed) return;
    this.pending = !this.stream.write(bytes) || this.pending;
  }

  /** Waits until the stream can take more, if a write since the last flush was refused. */
  async flush(): Promise<void> {
    if (this.pending && !this.closed) await this.drained();
    this.pending = false;
  }

  async write(text: string): Promise<void> {
    if (text === '' || this.closed) return;
    if (!this.stream.write(text)) await this.drained();
  }

  private drained(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.stream.off('drain', done);
        this.stream.off('close', done);
        this.stream.off('error', done);
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('close', done);
      this.stream.on('error', done);
    });
  }
}
