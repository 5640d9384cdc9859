/**
 * The one event model shared by wsdump and wsproxy. NDJSON output is these events serialised
 * (see src/render/json.ts and docs/json.md), so scripts and tests read what the table shows.
 */
import type { Alert, Direction } from '../alerts.js';
import type { AppHeartbeatSummary } from '../app/heartbeats.js';
import type { AppEvent } from '../app/types.js';
import type { DeflateParams, ExtensionOffer } from '../http/extensions.js';
import type { HttpHeader } from '../http/http-parser.js';
import type { HeartbeatStats } from '../websocket/heartbeat.js';
import type { Frame, Message, StreamPosition } from '../websocket/types.js';
import type { CloseSummary, TimingSummary } from './health.js';

export type { Endpoint } from '../net/tcp-reassembler.js';
import type { Endpoint } from '../net/tcp-reassembler.js';

export interface ConnectionEvent {
  type: 'connection';
  conn: number;
  client: Endpoint;
  server: Endpoint;
  /** False when the capture has no SYN for this connection (it started before the capture). */
  sawSyn: boolean;
  at: StreamPosition;
  /** wsproxy --mode proxy: where the client asked to go, and how. */
  proxy?: ProxyVia;
}

/** How a connection came through wsproxy's explicit proxy mode. */
export interface ProxyVia {
  /** The host and port the client asked for (CONNECT's authority, or the absolute URI's). */
  host: string;
  port: number;
  request: 'CONNECT' | 'absolute-form';
  /** TLS inside the tunnel: opened by wsproxy, passed through unopened, or none. */
  tls: 'intercepted' | 'passed-through' | null;
  /** The name the client sent in its TLS ClientHello (intercepted tunnels). */
  sni?: string;
}

export interface HandshakeEvent {
  type: 'handshake';
  conn: number;
  request: { method: string; target: string; version: string; headers: HttpHeader[]; at: StreamPosition };
  /** null when the capture ended before the server answered. */
  response: { version: string; status: number; reason: string; headers: HttpHeader[]; at: StreamPosition } | null;
  /** True when the server answered 101 and the streams are now WebSocket. */
  upgraded: boolean;
  key: string | null;
  expectedAccept: string | null;
  receivedAccept: string | null;
  acceptValid: boolean;
  protocol: string | null;
  offeredProtocols: string[];
  offeredExtensions: ExtensionOffer[];
  extensions: ExtensionOffer[];
  deflate: DeflateParams | null;
  /** From a 426 answer's Sec-WebSocket-Version. */
  supportedVersions: string[];
  alerts: Alert[];
}

/** A connection whose streams are not a WebSocket upgrade: what was seen, for the record. */
export interface OtherTrafficEvent {
  type: 'other';
  conn: number;
  /** 'http' (a request without Upgrade: websocket), 'refused' (upgrade answered non-101), 'not-http'. */
  kind: 'http' | 'refused' | 'not-http';
  requestLine: string | null;
  status: number | null;
  /** One line saying what was seen ("the server spoke first", "403 Forbidden" …). */
  note: string;
  at: StreamPosition;
  /**
   * The exchange (0-based, in request order) whose `http` event tells the same in full, when
   * there is one: the table shows that event's row instead of this line.
   */
  exchange?: number;
  /** With `exchange`: the response's Content-Type (or null), known at its head. */
  contentType?: string | null;
}

/** How an exchange was used, judged when it ends (see src/engine/http-patterns.ts). */
export type HttpPattern = 'sse' | 'long-poll' | 'poll' | 'request';

/** A body as received, content coding undone for display (src/http/content-coding.ts). */
export interface HttpBody {
  /** The body, decoded; at most the --max-message limit (--max-inflated once decoded). */
  data: Uint8Array;
  /** Its Content-Encoding codings, e.g. ["gzip"] (empty when none). */
  codings: string[];
  /** The codings were undone: `data` is the decoded body. */
  decoded: boolean;
  /** Why they were not, or null. */
  decodeError: string | null;
  /** `data` holds less than the whole body (a limit, or bytes missing from the capture). */
  truncated: boolean;
}

/**
 * One HTTP/1.1 request and its response on a connection that did not switch protocols there
 * (an upgrade attempt is a `handshake` event instead), emitted when the response ends, or when
 * the connection (or the capture) does.
 */
export interface HttpExchangeEvent {
  type: 'http';
  conn: number;
  /** 0-based, in request order on the connection. */
  index: number;
  /** Where the response ended (or where the connection ended, for one never finished). */
  at: StreamPosition;
  /** Where the request began. */
  start: StreamPosition;
  /** Where the request ended (its last byte), or null when it never did. */
  requestAt: StreamPosition | null;
  /** null for a response with no request (http.response-without-request). */
  method: string | null;
  path: string | null;
  version: string | null;
  /** null when no final response came. */
  status: number | null;
  reason: string | null;
  /** The response's Content-Type, or null. */
  contentType: string | null;
  requestHeaders: HttpHeader[];
  responseHeaders: HttpHeader[] | null;
  /** Head bytes (request line or status line, fields, blank line); interim 1xx heads included. */
  requestHeaderBytes: number;
  /** Content bytes, after the chunked coding is undone (before the content coding). */
  requestBodyBytes: number;
  responseHeaderBytes: number;
  responseBodyBytes: number;
  /** Bytes of chunk size lines, CRLFs and trailers around the content. */
  requestFramingBytes: number;
  responseFramingBytes: number;
  /** End of the request to the first byte of the response (ms), or null. */
  waitMs: number | null;
  /** Start of the request to the end of the response (ms), or null. */
  durationMs: number | null;
  pattern: HttpPattern;
  /** The response ended as its framing said (false: the connection or the capture ended first). */
  complete: boolean;
  requestBody: HttpBody | null;
  responseBody: HttpBody | null;
  /** Interim (1xx) statuses before the final one. */
  interim: number[];
  /** Engine.IO long-polling: the session id (from the URL, or the open packet), else null. */
  session: string | null;
  /** Server-Sent Events dispatched by the response (each an `app` event), or null when it is no event stream. */
  events: number | null;
  alerts: Alert[];
}

export interface FrameEvent {
  type: 'frame';
  conn: number;
  frame: Frame;
}

export interface MessageEvent {
  type: 'message';
  conn: number;
  message: Message;
  /**
   * The application messages it completed, set by the application layer (src/app/layer.ts),
   * which also emits each as an `app` event right after this one. Views read it to show a
   * message by what it means (--messages) and filters to judge it by its events.
   */
  app?: AppEvent[];
}

export interface AlertEvent {
  type: 'alert';
  conn: number;
  alert: Alert;
}

export interface DirectionTotals {
  /** TCP payload bytes, handshake included. */
  bytes: number;
  frames: number;
  messages: number;
  /** Bytes not captured (TCP gaps). */
  missing: number;
  /** Frames and payload bytes per opcode name. */
  byOpcode: Record<string, { frames: number; bytes: number }>;
}

export interface ConnectionEndEvent {
  type: 'end';
  conn: number;
  /** 'websocket', 'http', 'refused', 'not-http', 'tls' (TLS not decrypted), or 'unknown' when nothing decisive was seen. */
  kind: 'websocket' | 'http' | 'refused' | 'not-http' | 'tls' | 'unknown';
  totals: Record<Direction, DirectionTotals>;
  /** TLS connections: records (null when not read) and decrypted bytes per direction (`totals` counts the TCP payload). */
  tls?: Record<Direction, { records: number | null; plaintextBytes: number }>;
  alerts: { error: number; warning: number; info: number };
  /** The close codes each side sent, in order. */
  closeCodes: Record<Direction, (number | null)[]>;
  /** Seconds from the connection's first to its last packet, when timestamps are known. */
  duration: number | null;
  /** WebSocket heartbeats (§5.5.2-§5.5.3), by the side that sent the Pings; null when not WebSocket. */
  heartbeat: Record<Direction, HeartbeatStats | null> | null;
  /** Heartbeats of the protocol above WebSocket (Engine.IO, STOMP, MQTT …) against what it negotiated; null when none was seen. */
  appHeartbeat: AppHeartbeatSummary | null;
  /** The closing handshake and how TCP ended; null when not WebSocket. */
  close: CloseSummary | null;
  /** Upgrade, first messages, silences; null when not WebSocket. */
  timing: TimingSummary | null;
  /** Per transport the connection carried, per sender: what it delivered and what that cost. */
  transports: Partial<Record<WireTransport, Record<Direction, TransportTotals>>>;
  at: StreamPosition;
}

/** How a connection carried messages: WebSocket, plain HTTP exchanges, an event stream, Engine.IO long-polling. */
export type WireTransport = 'websocket' | 'http' | 'sse' | 'polling';

/**
 * Messages delivered and the bytes spent around them, on the wire (TCP payload): for WebSocket
 * the data messages, their payload, and the handshake heads, frame headers, masking keys and
 * control frames; for HTTP the bodies, and the heads and chunk framing; for SSE the events,
 * their data, and everything else of the stream; for polling the Engine.IO message packets.
 */
export interface TransportTotals {
  messages: number;
  payloadBytes: number;
  overheadBytes: number;
}

/**
 * A TLS connection (RFC 8446, RFC 5246), once its handshake is seen (or once it is clear it
 * will not be): what was negotiated and whether wsdump could decrypt it with the key log.
 * Never carries a secret.
 */
export interface TlsEvent {
  type: 'tls';
  conn: number;
  at: StreamPosition;
  /** "TLS 1.3", "TLS 1.2" …; null when the capture holds no ServerHello. */
  version: string | null;
  /** The negotiated suite's IANA name (or its code in hex), or null. */
  cipher: string | null;
  /** server_name from the ClientHello (RFC 6066 §3), or null. */
  sni: string | null;
  /** The negotiated ALPN protocol (RFC 7301): from the ServerHello (TLS 1.2) or EncryptedExtensions (TLS 1.3, read only when decrypted). */
  alpn: string | null;
  offeredAlpn: string[];
  offeredVersions: string[];
  offeredCiphers: string[];
  /** The ClientHello's random in hex: the name of the connection's lines in a key log. */
  clientRandom: string | null;
  /** An abbreviated TLS 1.2 handshake or a TLS 1.3 PSK handshake. */
  resumed: boolean;
  /** The server asked for another ClientHello first (RFC 8446 §4.1.4). */
  helloRetry: boolean;
  /** 0-RTT data (§4.2.10): 'none', 'accepted', 'rejected' (by the server), or 'unknown' (offered; the answer is encrypted and not read). */
  earlyData: 'none' | 'accepted' | 'rejected' | 'unknown';
  /** Records of this connection were decrypted with the key log. */
  decrypted: boolean;
  /** Why not, in a few words, when `decrypted` is false. */
  reason: string | null;
  /** Which key log secrets decrypt each direction, by label (never the secrets). */
  keys: { client: string[]; server: string[] };
  alerts: Alert[];
}

/**
 * The record around a WebSocket frame: emitted once per direction of a decrypted connection,
 * before the first frame that direction's records complete, for the explain view.
 */
export interface TlsRecordEvent {
  type: 'tls-record';
  conn: number;
  direction: Direction;
  at: StreamPosition;
  /** The 5-byte record header (content type, legacy version, length). */
  header: Uint8Array;
  /** The content type inside: TLS 1.3 hides it after the content (§5.2); TLS 1.2 has it in the header. */
  innerType: number;
  /** The key log label of the secret the record's key comes from, and how. */
  secret: string;
  /** "TLS 1.3" or "TLS 1.2". */
  version: string;
  cipher: string;
  /** AEAD (nonce and tag) or CBC (IV and HMAC). */
  protection: 'aead' | 'cbc';
  seq: number;
  nonce: Uint8Array;
  explicitNonce: Uint8Array | null;
  /** The AEAD tag, or the HMAC of a CBC record. */
  tag: Uint8Array;
  ciphertextLength: number;
  plaintextLength: number;
  padding: number;
}

/** Something about the capture itself rather than one connection (unsupported link type, cut file …). */
export interface NoticeEvent {
  type: 'notice';
  /** Stable code: a capture notice code, or an alert code such as capture.link-unsupported. */
  code: string;
  message: string;
  at: StreamPosition;
}

export type { AppEvent } from '../app/types.js';

export type DissectEvent = NoticeEvent | ConnectionEvent | TlsEvent | TlsRecordEvent | HandshakeEvent | OtherTrafficEvent | HttpExchangeEvent | FrameEvent | MessageEvent | AlertEvent | ConnectionEndEvent | AppEvent;
