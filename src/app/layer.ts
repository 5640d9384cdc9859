/**
 * The application layer: between the WebSocket messages and the views, one decoder per
 * connection (or per protocol session), chosen as src/app/registry.ts says and fed whole
 * messages in order. It passes the engine's events through and adds an `app` event right
 * after the message that completed it (a message may complete several, or none yet).
 *
 * Like a Zeek analyzer, a decoder that cannot follow its connection says so once (an
 * `app.decoder-stopped` alert) and is removed; the frames and messages flow as before.
 * Connections on which no protocol is recognised cost one map lookup per message once their
 * first messages have been looked at.
 *
 * HTTP bodies (Engine.IO long-polling, Server-Sent Events) come in through `input()`, with
 * their transport and the session id their request carried: decoders are shared by session,
 * so one Engine.IO session reads as one story across its polling requests and its WebSocket.
 */
import { makeAlert, type Alert } from '../alerts.js';
import type { ConnectionEndEvent, DissectEvent, HandshakeEvent, HttpExchangeEvent, MessageEvent } from '../engine/events.js';
import { dataPrefix, piecesOf } from '../websocket/payload-pieces.js';
import type { StreamPosition } from '../websocket/types.js';
import { AppHeartbeats } from './heartbeats.js';
import { Pairs } from './pairs.js';
import { pollingPackets } from './polling.js';
import { protocolByName, protocolBySniffing, protocolForSubprotocol, protocolForTarget, type ProtocolEntry } from './registry.js';
import type { AppDecoder, AppEvent, AppInput, AppOutput, DecoderContext } from './types.js';

const NO_BYTES = new Uint8Array(0);

/** The message behind an input whose `data` is built only when read (see messageInput). */
const MESSAGE = Symbol('message');
/**
 * That `data`: one getter for every input, reading the message from the input it is called on.
 * A closure per input kept every large payload alive until the next mark-compact (the comment
 * on the accessors in src/websocket/payload-pieces.ts says how that was measured).
 */
const LAZY_DATA: PropertyDescriptor = {
  enumerable: true,
  get(this: { [MESSAGE]: MessageEvent['message'] }) {
    return this[MESSAGE].data;
  },
};

/**
 * What decoders and sniffers get of a WebSocket message. A large binary message relayed by
 * wsproxy may still be in pieces (src/websocket/payload-pieces.ts): its `data` is then built
 * only if a decoder or sniffer reads it, and `head` holds its first bytes for the sniffers. Only
 * then: with an accessor on every message, wsdump's peak RSS on 4,000 messages of 256 KiB rose
 * from ~100 to ~150 MB and its CPU time by a quarter (bench/hostile.mjs's pinned and unpinned
 * shapes).
 */
export function messageInput(conn: number, m: MessageEvent['message'], text: string | null): AppInput {
  if (piecesOf(m) === undefined) return { conn, direction: m.direction, transport: 'websocket', at: m.end, text, data: m.data, session: null };
  const input: AppInput = { conn, direction: m.direction, transport: 'websocket', at: m.end, text, data: NO_BYTES, head: dataPrefix(m, 16), session: null };
  Object.defineProperty(input, MESSAGE, { value: m });
  Object.defineProperty(input, 'data', LAZY_DATA);
  return input;
}

export interface AppLayerOptions {
  /**
   * A protocol name (see PROTOCOLS): every connection is decoded as that; `none`: the layer
   * adds nothing. By default each connection's protocol is recognised on its own.
   */
  app?: string;
  /** Fill each event's `parts` and `detail` (the encoding taken apart, for --explain). */
  explain?: boolean;
}

/** Messages of each kind looked at for a protocol before a connection is taken as plain. */
const SNIFF_MESSAGES = 8;
/** Protocol sessions remembered across connections (the oldest are forgotten beyond this). */
const MAX_SESSIONS = 1024;

interface ConnState {
  target: string | null;
  subprotocol: string | null;
  /** The protocol the subprotocol or the target names, found once (undefined: none). */
  named: ProtocolEntry | undefined;
  decoder: AppDecoder | null;
  /** The session key the decoder is filed under, once it has one. */
  sessionKey: string | null;
  /** Text and binary messages still to be sniffed while no decoder is chosen. */
  textLeft: number;
  binaryLeft: number;
  /** Nothing more to do on this connection: no protocol found, or the decoder gave up. */
  off: boolean;
  /** The connection upgraded to WebSocket (a session ends with its WebSocket, not with a polling request's connection). */
  websocket: boolean;
  /** Alerts raised here, by severity: added to the connection's `end` counts. */
  counts: { error: number; warning: number; info: number };
}

export class AppLayer {
  private readonly off: boolean;
  private readonly forced: ProtocolEntry | null;
  private readonly explain: boolean;
  private readonly conns = new Map<number, ConnState>();
  private readonly sessions = new Map<string, AppDecoder>();
  /** Every protocol's heartbeats against what it negotiated (appHeartbeat, heartbeat.late). */
  private readonly heartbeats = new AppHeartbeats();

  constructor(options: AppLayerOptions = {}) {
    this.off = options.app === 'none';
    this.forced = options.app !== undefined && !this.off ? (protocolByName(options.app) ?? null) : null;
    if (options.app !== undefined && !this.off && this.forced === null) throw new Error(`unknown application protocol "${options.app}"`);
    this.explain = options.explain ?? false;
  }

  /**
   * The engine's events with the application layer's added: each `app` event right after the
   * message it came from, alerts and what a connection left waiting just before its `end`.
   * Returns the same array when nothing was added.
   */
  process(events: DissectEvent[]): DissectEvent[] {
    if (this.off) return events;
    let out: DissectEvent[] | null = null;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      let added: DissectEvent[] | null = null;
      if (event.type === 'message') added = this.message(event);
      else if (event.type === 'http') added = this.polling(event);
      else if (event.type === 'handshake') this.handshake(event);
      else if (event.type === 'end') added = this.end(event);
      if (added === null) {
        if (out !== null) out.push(event);
        continue;
      }
      out ??= events.slice(0, i);
      if (event.type === 'end') {
        for (const a of added) out.push(a);
        out.push(event);
      } else {
        out.push(event);
        for (const a of added) out.push(a);
      }
    }
    return out ?? events;
  }

  /**
   * A packet of an HTTP body (an Engine.IO polling packet, a Server-Sent Event's data) for
   * connection `input.conn`, whose request went to `target`. Returns the events to emit after
   * it: app events, and an alert if the decoder gave up.
   */
  input(input: AppInput, target: string | null): DissectEvent[] {
    if (this.off) return [];
    let state = this.conns.get(input.conn);
    if (state === undefined) {
      state = this.newState(target, null);
      this.conns.set(input.conn, state);
    }
    return this.feed(state, input);
  }

  private handshake(h: HandshakeEvent): void {
    if (!h.upgraded) return;
    const state = this.newState(h.request.target, h.protocol);
    state.websocket = true;
    this.conns.set(h.conn, state);
  }

  /**
   * An HTTP exchange of Engine.IO long-polling: its body's packets, each fed as the packets of
   * a WebSocket are (src/app/polling.ts); the app events follow the exchange's `http` event.
   */
  private polling(e: HttpExchangeEvent): DissectEvent[] | null {
    const packets = pollingPackets(e);
    if (packets === null) return null;
    const out: DissectEvent[] = [];
    for (const input of packets.inputs) for (const event of this.input(input, e.path)) out.push(event);
    if (packets.alerts.length > 0) {
      let state = this.conns.get(e.conn);
      if (state === undefined) {
        state = this.newState(e.path, null);
        this.conns.set(e.conn, state);
      }
      this.count(state, packets.alerts);
      for (const alert of packets.alerts) out.push({ type: 'alert', conn: e.conn, alert });
    }
    return out.length > 0 ? out : null;
  }

  private newState(target: string | null, subprotocol: string | null): ConnState {
    const named = (subprotocol !== null ? protocolForSubprotocol(subprotocol) : undefined) ?? (target !== null ? protocolForTarget(target) : undefined);
    return { target, subprotocol, named, decoder: null, sessionKey: null, textLeft: SNIFF_MESSAGES, binaryLeft: SNIFF_MESSAGES, off: false, websocket: false, counts: { error: 0, warning: 0, info: 0 } };
  }

  private message(event: MessageEvent): DissectEvent[] | null {
    const m = event.message;
    if (m.opcode !== 0x1 && m.opcode !== 0x2) return null;
    let state = this.conns.get(event.conn);
    if (state === undefined) {
      // No handshake seen (--decode-as): only sniffing can tell.
      state = this.newState(null, null);
      this.conns.set(event.conn, state);
    }
    // Cut by a limit, or still compressed (its history is not in the capture): not the message sent.
    if (state.off || m.truncated || (m.compressed && !m.inflated)) return null;
    // A text message that is not UTF-8 is no application message (message.utf8-invalid says why).
    const text = m.opcode === 0x1 ? m.text : null;
    if (text === undefined) return null;
    const out = this.feed(state, messageInput(event.conn, m, text));
    if (out.length === 0) return null;
    const app = out.filter((e): e is AppEvent => e.type === 'app');
    if (app.length > 0) event.app = app;
    return out;
  }

  private feed(state: ConnState, input: AppInput): DissectEvent[] {
    if (state.decoder === null) {
      const entry = this.choose(state, input);
      if (entry === null) return [];
      const made = this.attach(state, entry, input);
      if (made !== null) return made;
    }
    const decoder = state.decoder!;
    let out: AppOutput[];
    try {
      out = decoder.message(input);
    } catch (error) {
      // A bug in a decoder must not stop the dissection: the connection is shown plain from here.
      return this.stop(state, input.conn, decoder.protocol, `internal error (${error instanceof Error ? error.message : String(error)}), please report it`, input.at);
    }
    out = this.judgeHeartbeats(out);
    this.countOutput(state, out);
    if (decoder.session !== null && state.sessionKey === null) this.file(state, decoder);
    if (decoder.gaveUp !== null) return [...out, ...this.stop(state, input.conn, decoder.protocol, decoder.gaveUp, input.at)];
    return out;
  }

  /** The decoder's output with each heartbeat.late it shows right after the event that showed it. */
  private judgeHeartbeats(out: AppOutput[]): AppOutput[] {
    let judged: AppOutput[] | null = null;
    for (let i = 0; i < out.length; i++) {
      const e = out[i]!;
      const late = e.type === 'app' ? this.heartbeats.observe(e) : [];
      if (late.length === 0) {
        judged?.push(e);
        continue;
      }
      judged ??= out.slice(0, i);
      judged.push(e);
      for (const alert of late) judged.push({ type: 'alert', conn: e.conn, alert });
    }
    return judged ?? out;
  }

  /** The protocol for a connection without a decoder yet, or null (and sniffing counted down). */
  private choose(state: ConnState, input: AppInput): ProtocolEntry | null {
    if (this.forced !== null) return this.forced;
    if (state.named !== undefined) return state.named;
    if (input.text !== null ? state.textLeft-- <= 0 : state.binaryLeft-- <= 0) {
      if (state.textLeft <= 0 && state.binaryLeft <= 0) state.off = true;
      return null;
    }
    return protocolBySniffing(input) ?? null;
  }

  /** Gives the connection its decoder: a session's (when its target names one) or a new one. */
  private attach(state: ConnState, entry: ProtocolEntry, input: AppInput): DissectEvent[] | null {
    const sid = sessionFromTarget(state.target) ?? input.session;
    const key = sid !== null ? `${entry.name} ${sid}` : null;
    const shared = key !== null ? this.sessions.get(key) : undefined;
    if (shared !== undefined) {
      state.decoder = shared;
      state.sessionKey = key;
      return null;
    }
    const context: DecoderContext = { target: state.target, subprotocol: state.subprotocol, forced: this.forced !== null, explain: this.explain, pairs: new Pairs() };
    try {
      state.decoder = entry.create(context);
    } catch (error) {
      return this.stop(state, input.conn, entry.name, `its decoder could not be loaded (${error instanceof Error ? error.message : String(error)})`, input.at);
    }
    if (key !== null) this.remember(key, state.decoder);
    state.sessionKey = key;
    return null;
  }

  /** Files a decoder that has learnt its session (an open packet's sid) under it. */
  private file(state: ConnState, decoder: AppDecoder): void {
    const key = `${decoder.protocol} ${decoder.session}`;
    state.sessionKey = key;
    if (!this.sessions.has(key)) this.remember(key, decoder);
  }

  private remember(key: string, shared: AppDecoder): void {
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    this.sessions.set(key, shared);
  }

  /** The decoder gave up (or failed): said once, and the connection is plain from here. */
  private stop(state: ConnState, conn: number, protocol: string, reason: string, at: StreamPosition): DissectEvent[] {
    state.decoder = null;
    state.off = true;
    if (state.sessionKey !== null) this.sessions.delete(state.sessionKey);
    const alert = makeAlert('app.decoder-stopped', `${protocol}: ${reason}; the rest of the connection is shown as plain messages.`, { ...(at.packet !== undefined ? { packet: at.packet } : {}), detail: { protocol } });
    this.count(state, [alert]);
    return [{ type: 'alert', conn, alert }];
  }

  private end(e: ConnectionEndEvent): DissectEvent[] | null {
    const state = this.conns.get(e.conn);
    if (state === undefined) return null;
    this.conns.delete(e.conn);
    let out: AppOutput[] = [];
    if (state.decoder !== null) {
      try {
        out = state.decoder.end(e.conn, e.at);
      } catch {
        out = [];
      }
      this.countOutput(state, out);
      // A session ends with the WebSocket that carried it last; polling requests come and go.
      if (state.websocket && state.sessionKey !== null && this.sessions.get(state.sessionKey) === state.decoder) this.sessions.delete(state.sessionKey);
    }
    const beats = this.heartbeats.end(e.conn, e.at, e.kind === 'websocket' || state.websocket);
    e.appHeartbeat = beats.summary;
    if (beats.alerts.length > 0) {
      const late: AppOutput[] = beats.alerts.map((alert) => ({ type: 'alert', conn: e.conn, alert }));
      this.countOutput(state, late);
      out = [...out, ...late];
    }
    e.alerts.error += state.counts.error;
    e.alerts.warning += state.counts.warning;
    e.alerts.info += state.counts.info;
    return out.length > 0 ? out : null;
  }

  private count(state: ConnState, alerts: readonly Alert[]): void {
    for (const a of alerts) state.counts[a.severity]++;
  }

  private countOutput(state: ConnState, out: readonly AppOutput[]): void {
    for (const e of out) {
      if (e.type === 'alert') state.counts[e.alert.severity]++;
      else this.count(state, e.alerts);
    }
  }
}

/** The Engine.IO session id in a request target (`…?EIO=4&transport=websocket&sid=…`), or null. */
function sessionFromTarget(target: string | null): string | null {
  if (target === null) return null;
  const q = target.indexOf('?');
  if (q < 0) return null;
  try {
    return new URLSearchParams(target.slice(q + 1)).get('sid');
  } catch {
    return null;
  }
}
