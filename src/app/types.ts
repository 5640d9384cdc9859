/**
 * The application layer's vocabulary: what a decoder is fed (AppInput), what it gives back
 * (AppEvent, one of the engine's DissectEvents) and the decoder itself (AppDecoder). See
 * src/app/layer.ts for how decoders are chosen and fed, docs/json.md ("app") for the contract.
 */
import type { Alert, Direction } from '../alerts.js';
import type { AlertEvent } from '../engine/events.js';
import type { StreamPosition } from '../websocket/types.js';
import type { Pairs } from './pairs.js';

export type { Alert };

/** How the bytes travelled: a WebSocket message, an HTTP long-polling body, a Server-Sent Events stream. */
export type Transport = 'websocket' | 'polling' | 'sse';

/**
 * A decoded value: JSON, except that bytes are kept as Uint8Array (NDJSON writes them as
 * `{ "length": n, "hex": "…" }`, the hex capped like payloads). Decoders build values of
 * this shape only, so every view can print them.
 */
export type AppValue = null | boolean | number | string | Uint8Array | AppValue[] | { [key: string]: AppValue };

/** One piece of an encoding, for --explain: the characters or bytes as sent, and what they mean. */
export interface AppPart {
  text: string;
  meaning: string;
}

/**
 * What a heartbeat is to the connection-health figures (appHeartbeat of the `end` event):
 * `ping` asks the other side for an answer (Engine.IO ping, MQTT PINGREQ, graphql-ws ping),
 * `pong` is that answer (paired with the oldest unanswered ping of the other side), `beat`
 * expects none (a STOMP EOL heart-beat, a SignalR ping).
 */
export type HeartbeatRole = 'ping' | 'pong' | 'beat';

/**
 * One side's heartbeat duty as its protocol negotiated it: what `heartbeat.late` holds that
 * side to. Every figure is in milliseconds; null when the protocol does not fix it.
 */
export interface HeartbeatDuty {
  /** This side sends a heartbeat at least this often (Engine.IO pingInterval, STOMP's negotiated heart-beat, MQTT Keep Alive). */
  intervalMs: number | null;
  /** The other side must answer each of this side's pings within this (Engine.IO pingTimeout). */
  timeoutMs: number | null;
  /** The other side gives up after this long without hearing from this side (Engine.IO pingInterval + pingTimeout, MQTT 1.5 × Keep Alive). */
  silenceMs: number | null;
  /** Any message from this side counts as a heartbeat, not only the heartbeats themselves (STOMP, MQTT). */
  anyMessage: boolean;
}

/**
 * A protocol's negotiated heartbeat, by the side that owes it: a decoder sets it on the event
 * that settled it (Engine.IO's open packet, STOMP's CONNECTED, MQTT's CONNECT or CONNACK); a
 * later one replaces it. Protocols that negotiate nothing (SignalR, graphql-ws) never set it.
 * Remembered per session, so a WebSocket is held to what its polling request negotiated.
 */
export interface HeartbeatTerms {
  client: HeartbeatDuty | null;
  server: HeartbeatDuty | null;
}

/** One application message: a Socket.IO event, an Engine.IO ping, a JSON-RPC request … */
export interface AppEvent {
  type: 'app';
  conn: number;
  /** Who sent it. */
  direction: Direction;
  /** Where the message (or HTTP body) that completed it ended. */
  at: StreamPosition;
  transport: Transport;
  /** "socket.io", "engine.io", "json-rpc", "msgpack" … (see the registry). */
  protocol: string;
  /** Lowercase, per protocol: "event", "ack", "ping", "request" … */
  kind: string;
  /** A protocol session id (Engine.IO's sid), or null. */
  session: string | null;
  /** The line the table prints for it (raw: views escape it). */
  summary: string;
  /** The packet of the request this answers, when it is paired and its packet is known. */
  replyTo: number | null;
  /** Milliseconds from the request this answers to this answer, when paired. */
  latencyMs: number | null;
  /**
   * The request `replyTo` points at is this sender's own, which this ends or feeds (a graphql
   * client's complete/stop, a SignalR upload stream's item or completion): not an answer, and
   * `latencyMs` is how long that request had run.
   */
  ownRequest?: boolean;
  alerts: Alert[];
  /** The protocol's own fields, in the order NDJSON writes them after the shared keys. */
  fields: Record<string, AppValue>;
  /** The event name, method, target or topic (for --event and --summary), or null. */
  name: string | null;
  /** A protocol's own keep-alive (Engine.IO ping and pong …): --hide-heartbeats hides it. */
  heartbeat: boolean;
  /** A heartbeat's role (set when `heartbeat` is; from `kind` "ping"/"pong" unless the decoder says, else `beat`). */
  heartbeatRole?: HeartbeatRole;
  /** The heartbeat this event negotiated (see HeartbeatTerms). */
  heartbeatTerms?: HeartbeatTerms;
  /** --explain: the encoding taken apart (only when the layer was asked for it). */
  parts?: AppPart[];
  /** --explain: the value to print in full, indented (arguments, params, data). */
  detail?: { label: string; value: AppValue };
}

/** What a decoder gives back: application messages, and alerts that belong to none. */
export type AppOutput = AppEvent | AlertEvent;

/** One whole message (or one packet of an HTTP body) handed to a decoder. */
export interface AppInput {
  /** The TCP connection it came over (a session's decoder is fed by several). */
  conn: number;
  direction: Direction;
  transport: Transport;
  /** Where it ended. */
  at: StreamPosition;
  /** The text of a text message (valid UTF-8), or null for binary. */
  text: string | null;
  /** The bytes (for text, its UTF-8 bytes). */
  data: Uint8Array;
  /**
   * The first bytes of `data` (up to 16, all when fewer), where reading `data` would build it
   * (a large binary message wsproxy keeps in pieces); absent otherwise. What sniffing looks at.
   */
  head?: Uint8Array;
  /** A session id the transport carried (the sid of an Engine.IO polling request), or null. */
  session: string | null;
}

/** What a decoder knows of its connection, and the helpers it shares with the others. */
export interface DecoderContext {
  /** The request target of the upgrade (path and query), or null when not seen. */
  readonly target: string | null;
  /** The negotiated subprotocol, or null. */
  readonly subprotocol: string | null;
  /** The connection was forced to this decoder by --app (so sniffing proved nothing). */
  readonly forced: boolean;
  /** Fill AppEvent.parts and .detail (the explain view is on). */
  readonly explain: boolean;
  /** Request/answer pairing with latency, shared by the connections of one session. */
  readonly pairs: Pairs;
}

/** The fields of an AppEvent a decoder chooses; the rest come from its input. */
export interface AppEventInit {
  protocol: string;
  kind: string;
  summary: string;
  fields?: Record<string, AppValue>;
  name?: string | null;
  heartbeat?: boolean;
  /** Defaults: `ping` for kind "ping", `pong` for kind "pong", else `beat`. */
  heartbeatRole?: HeartbeatRole;
  heartbeatTerms?: HeartbeatTerms;
  alerts?: Alert[];
  session?: string | null;
  replyTo?: number | null;
  latencyMs?: number | null;
  ownRequest?: boolean;
  parts?: AppPart[];
  detail?: { label: string; value: AppValue };
}

/** Builds an AppEvent from a decoder's input and its choices. */
export function appEvent(input: AppInput, init: AppEventInit): AppEvent {
  const event: AppEvent = {
    type: 'app',
    conn: input.conn,
    direction: input.direction,
    at: input.at,
    transport: input.transport,
    protocol: init.protocol,
    kind: init.kind,
    session: init.session ?? input.session,
    summary: init.summary,
    replyTo: init.replyTo ?? null,
    latencyMs: init.latencyMs ?? null,
    alerts: init.alerts ?? [],
    fields: init.fields ?? {},
    name: init.name ?? null,
    heartbeat: init.heartbeat ?? false,
  };
  if (init.ownRequest === true) event.ownRequest = true;
  if (event.heartbeat) event.heartbeatRole = init.heartbeatRole ?? (init.kind === 'ping' ? 'ping' : init.kind === 'pong' ? 'pong' : 'beat');
  if (init.heartbeatTerms !== undefined) event.heartbeatTerms = init.heartbeatTerms;
  if (init.parts !== undefined) event.parts = init.parts;
  if (init.detail !== undefined) event.detail = init.detail;
  return event;
}

/**
 * A small state machine per connection (or per session), fed whole messages in order from
 * both directions. It never throws on traffic: what does not parse becomes an alert, and a
 * decoder that can no longer follow its connection sets `gaveUp` (the layer says so once and
 * stops feeding it; the frames still flow).
 */
export interface AppDecoder {
  /** The protocol name of the registry entry that made it. */
  readonly protocol: string;
  /** Why it stopped following the connection, once it has. */
  readonly gaveUp: string | null;
  /** The session id it has learnt (Engine.IO's sid), or null: sessions join connections. */
  readonly session: string | null;
  /**
   * One message (or packet): the application messages it completes (possibly none), and
   * alerts about what could not be made one (an Engine.IO packet of no known type …).
   */
  message(input: AppInput): AppOutput[];
  /** Connection `conn` is over: what it left waiting (a binary event short of attachments …). */
  end(conn: number, at: StreamPosition): AppOutput[];
}
