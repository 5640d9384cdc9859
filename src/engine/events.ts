/**
 * The one event model shared by wsdump and wsproxy. NDJSON output is these events serialised
 * (see src/render/json.ts and docs/json.md), so scripts and tests read what the table shows.
 */
import type { Alert, Direction } from '../alerts.js';
import type { DeflateParams, ExtensionOffer } from '../http/extensions.js';
import type { HttpHeader } from '../http/http-parser.js';
import type { Frame, Message, StreamPosition } from '../websocket/types.js';

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
  /** 'websocket', 'http', 'refused', 'not-http', or 'unknown' when nothing decisive was seen. */
  kind: 'websocket' | 'http' | 'refused' | 'not-http' | 'unknown';
  totals: Record<Direction, DirectionTotals>;
  alerts: { error: number; warning: number; info: number };
  /** The close codes each side sent, in order. */
  closeCodes: Record<Direction, (number | null)[]>;
  /** Seconds from the connection's first to its last packet, when timestamps are known. */
  duration: number | null;
  at: StreamPosition;
}

/** Something about the capture itself rather than one connection (unsupported link type, cut file …). */
export interface NoticeEvent {
  type: 'notice';
  /** Stable code: a capture notice code, or an alert code such as capture.link-unsupported. */
  code: string;
  message: string;
  at: StreamPosition;
}

export type DissectEvent = NoticeEvent | ConnectionEvent | HandshakeEvent | OtherTrafficEvent | FrameEvent | MessageEvent | AlertEvent | ConnectionEndEvent;
