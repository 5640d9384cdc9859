import type { Alert, Direction } from '../alerts.js';
import type { PongAnswer } from './heartbeat.js';

/** §5.2: which of the three encodings carried the payload length. */
export type LengthEncoding = 7 | 16 | 64;

/**
 * Where a piece of the byte stream came from. The capture reader sets the packet number and
 * time; the proxy sets the time (and the packet number of its recording, with --write).
 */
export interface StreamPosition {
  /** 1-based packet number in the capture, when known. */
  packet?: number;
  /** Seconds since the epoch (fractional), when known. */
  ts?: number;
}

/** One WebSocket frame as it was on the wire (RFC 6455 §5.2). */
export interface Frame {
  /** Who sent it. */
  direction: Direction;
  /** Offset of the first header byte in the sender's stream (counted from the first framing byte). */
  offset: number;
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  /** 'text', 'binary', 'continuation', 'close', 'ping', 'pong' or 'reserved-…'. */
  opcodeName: string;
  masked: boolean;
  /** The 4-byte masking key, or null when MASK is 0. */
  maskingKey: Uint8Array | null;
  /** The declared payload length (exact up to Number.MAX_SAFE_INTEGER). */
  payloadLength: number;
  /** Which encoding carried the length: 7-bit, 16-bit (126) or 64-bit (127). */
  lengthEncoding: LengthEncoding;
  /** 2 + 0/2/8 + 0/4. */
  headerLength: number;
  /** The header bytes exactly as sent. */
  header: Uint8Array;
  /** Payload bytes as sent (still masked for masked frames); at most the configured limit. */
  payload: Uint8Array;
  /**
   * Payload after XOR with the masking key (the same bytes as `payload` when unmasked). With
   * the parser's keepPieces (wsproxy), a payload of several pieces is built on first read, as
   * `payload` is (src/websocket/payload-pieces.ts).
   */
  data: Uint8Array;
  /** True when `payload`/`data` hold fewer bytes than `payloadLength` (limit, or stream ended). */
  truncated: boolean;
  /** True when the stream ended before the whole frame was seen. */
  incomplete: boolean;
  /** Where the header started and where the last byte of the frame arrived. */
  start: StreamPosition;
  end: StreamPosition;
  /** Violations and notices that concern this frame. */
  alerts: Alert[];
}

/** A whole message: a data frame and its continuations, or a single control frame (§5.4). */
export interface Message {
  direction: Direction;
  /** 'text', 'binary', 'close', 'ping', 'pong' or 'reserved-…' (the first frame's opcode). */
  type: string;
  opcode: number;
  /** Offsets of the frames that made it, in order. */
  frameOffsets: number[];
  /** Number of frames (1 for unfragmented). */
  fragments: number;
  /** Length of the message content on the wire (sum of payload lengths). */
  wireLength: number;
  /** Length after extensions (inflated length for permessage-deflate), else wireLength. */
  length: number;
  /**
   * The content (unmasked, joined, decompressed), at most the reassembly limit. For a message of
   * one frame whose payload is kept in pieces (wsproxy), built on first read.
   */
  data: Uint8Array;
  truncated: boolean;
  /** Set by an extension that transformed the payload (permessage-deflate). */
  compressed: boolean;
  /**
   * The content was inflated. A compressed message that could not be (its history is not in the
   * capture, or it is corrupt) has `compressed` true, `inflated` false, and its bytes as sent.
   */
  inflated: boolean;
  /** For text messages (and close reasons): the decoded text when valid UTF-8. */
  text?: string;
  /** For close messages. */
  close?: CloseInfo;
  /** For Pong messages: the Ping it answers (§5.5.3), or null when it answers none (unsolicited). */
  answers?: PongAnswer | null;
  start: StreamPosition;
  end: StreamPosition;
  alerts: Alert[];
}

/** RFC 6455 §5.5.1, §7.4: the decoded body of a Close frame. */
export interface CloseInfo {
  /** null when the Close frame had no body (then the code is reported as 1005, not sent). */
  code: number | null;
  codeName: string;
  reason: string;
  /** False when the reason bytes are not valid UTF-8 (then `reason` holds a lossy rendering). */
  reasonValid: boolean;
}

/** Limits that bound memory, with defaults in DEFAULT_LIMITS. */
export interface Limits {
  /** Bytes of a single frame's payload kept in memory (the rest is counted, not kept). */
  maxFramePayload: number;
  /** Bytes of a reassembled message kept in memory. */
  maxMessageSize: number;
  /** Bytes of an inflated message (permessage-deflate) before it is cut off. */
  maxInflatedSize: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = {
  maxFramePayload: 16 * 1024 * 1024,
  maxMessageSize: 16 * 1024 * 1024,
  maxInflatedSize: 64 * 1024 * 1024,
};

/**
 * `limits` with DEFAULT_LIMITS where it says nothing (as `{ ...DEFAULT_LIMITS, ...limits }`),
 * without a copy when there is nothing to merge: the limits given (wsdump's are complete), or
 * DEFAULT_LIMITS itself. Each direction's parser and assembler of every connection asked for a
 * copy of their own: 16,000 open connections held 80,000 of them (issue 25). Neither is ever
 * written to.
 */
export function withDefaults(limits: Partial<Limits> | undefined): Readonly<Limits> {
  if (limits === undefined) return DEFAULT_LIMITS;
  const given = LIMIT_KEYS.filter((key) => key in limits).length;
  if (given === 0) return DEFAULT_LIMITS;
  if (given === LIMIT_KEYS.length) return limits as Limits;
  return { ...DEFAULT_LIMITS, ...limits };
}

const LIMIT_KEYS = Object.keys(DEFAULT_LIMITS) as (keyof Limits)[];
