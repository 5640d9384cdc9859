import type { Alert, Direction } from '../alerts.js';
import type { Frame, Limits } from './types.js';

/** RSV bit masks as they sit in the first header byte, shifted down: rsv1=4, rsv2=2, rsv3=1. */
export const RSV1 = 4;
export const RSV2 = 2;
export const RSV3 = 1;

export function rsvBits(frame: Pick<Frame, 'rsv1' | 'rsv2' | 'rsv3'>): number {
  return (frame.rsv1 ? RSV1 : 0) | (frame.rsv2 ? RSV2 : 0) | (frame.rsv3 ? RSV3 : 0);
}

/** The result of an extension's work on a whole message. */
export interface DecodedPayload {
  data: Uint8Array;
  /** True when the extension transformed the payload (e.g. it was inflated). */
  transformed: boolean;
  /**
   * True when the payload is encoded by this extension but could not be decoded: `data` is
   * still encoded, so content checks (UTF-8) do not apply to it.
   */
  failed?: boolean;
  /** True when the output was cut by a limit or could not be produced completely. */
  truncated: boolean;
  /** The full decoded length, when known (it may exceed data.length when truncated). */
  length: number;
  alerts: Alert[];
}

/**
 * How much decoding work (bytes of decoded output) may be done before the caller gets control
 * back: wsproxy refills it for each turn of the event loop, so that one message cannot hold up
 * the relay of every connection; wsdump gives none (no bound). Shared by every decoder of a proxy.
 */
export interface WorkBudget {
  remaining: number;
}

/** What a decoder answers when the budget ran out in the middle of a message: ask again with resumeMessage(). */
export const SUSPENDED = 'suspended';
export type Suspended = typeof SUSPENDED;

/**
 * One direction's view of a negotiated extension (RFC 6455 §9). The session asks the
 * extensions, not a hard-coded list, which RSV bits are defined, so permessage-deflate
 * (RFC 7692) plugs in here without the framing code knowing about it.
 */
export interface ExtensionDecoder {
  readonly name: string;
  /** RSV bits this extension gives a meaning to (RFC 6455 §5.2). */
  readonly rsvMask: number;
  /** Extension-specific frame rules (e.g. RFC 7692 §6.1: RSV1 only on a message's first frame). */
  checkFrame?(frame: Frame, firstOfMessage: boolean): Alert[];
  /**
   * Transform a complete data message whose first frame is `first` (e.g. inflate it). With a
   * budget, SUSPENDED when it ran out first: the work so far is kept for resumeMessage().
   */
  decodeMessage?(data: Uint8Array, first: Frame, truncated: boolean): DecodedPayload | Suspended;
  /** Go on with the message that was SUSPENDED. */
  resumeMessage?(): DecodedPayload | Suspended;
}

/** A negotiated extension: creates the decoder for each direction of a connection. */
export interface Extension {
  readonly name: string;
  createDecoder(direction: Direction, limits: Limits, budget?: WorkBudget): ExtensionDecoder;
}
