import { makeAlert, type Alert, type Direction } from '../alerts.js';
import { decodeClose } from './close.js';
import { isControlOpcode, isReservedOpcode, opcodeName, Opcode } from './constants.js';
import { SUSPENDED, type ExtensionDecoder } from './extension.js';
import { withDefaults, type Frame, type Limits, type Message } from './types.js';
import { decodeUtf8Lossy, isValidUtf8, isValidUtf8Prefix } from './utf8.js';
import { ownedBytes } from './bytes.js';
import { defineLazyBytes, piecesOf, type PayloadPieces } from './payload-pieces.js';
import { frameWhere } from './rules.js';

const NO_BYTES = new Uint8Array(0);

interface OpenMessage {
  first: Frame;
  frameOffsets: number[];
  /**
   * The content so far. A message of one frame keeps its frame's data as it is (a view); a
   * fragmented one copies each fragment into `owned`, since a view of a 1-byte continuation
   * would keep alive the whole read chunk it came from (256 KiB from a file) for as long as
   * the message stays open: memory then followed the capture, not the limits.
   */
  view: Uint8Array | null;
  owned: Uint8Array | null;
  /** A message of one frame whose payload is still in pieces (FrameParser keepPieces): its data stays so. */
  pieces: PayloadPieces | null;
  kept: number;
  wireLength: number;
  truncated: boolean;
  /** message.too-large is said once per message. */
  overLimit: boolean;
  alerts: Alert[];
}

/** A complete message going through the extensions' decoders: `next` is the decoder it is at. */
interface Decoding {
  msg: OpenMessage;
  last: Frame;
  data: Uint8Array;
  length: number;
  truncated: boolean;
  compressed: boolean;
  undecodable: boolean;
  next: number;
  /** The decoder at `next` suspended it: ask it to resume rather than start again. */
  resuming: boolean;
}

export interface MessageAssemblerOptions {
  direction: Direction;
  limits?: Partial<Limits>;
  /** The negotiated extensions for this direction, in negotiation order. */
  extensions?: readonly ExtensionDecoder[];
}

/** The frame's fields but its bytes, without building a payload kept in pieces (a spread would read it). */
function withoutBytes(frame: Frame): Frame {
  if (piecesOf(frame) === undefined) return frame;
  const fields: Record<string, unknown> = {};
  for (const key of Object.keys(frame)) if (key !== 'payload' && key !== 'data') fields[key] = frame[key as keyof Frame];
  return fields as unknown as Frame;
}

/**
 * Joins one direction's frames into messages (RFC 6455 §5.4): a text or binary frame opens a
 * message, continuations extend it, FIN completes it. Control frames may arrive between the
 * fragments and are messages of their own. Fragmentation violations are attached to the frame
 * that commits them; content violations (UTF-8) to the message, since a code point may be
 * split across fragments (§5.6).
 */
export class MessageAssembler {
  private readonly direction: Direction;
  private readonly limits: Readonly<Limits>;
  private readonly extensions: readonly ExtensionDecoder[];
  private open: OpenMessage | null = null;
  /** A message whose decoding was suspended (see `suspended`). */
  private decoding: Decoding | null = null;
  private closeSent = false;

  /** Keeps what it reads of `options`, not the object: one per direction of every open connection. */
  constructor(options: MessageAssemblerOptions) {
    this.direction = options.direction;
    this.limits = withDefaults(options.limits);
    this.extensions = options.extensions ?? [];
  }

  /** True once this direction has sent a Close frame. */
  get closed(): boolean {
    return this.closeSent;
  }

  /** True while a fragmented data message is open. */
  get inMessage(): boolean {
    return this.open !== null;
  }

  /**
   * True when the last message's decoding (inflation) ran out of the work budget: nothing more
   * may be pushed until resume() has given the message.
   */
  get suspended(): boolean {
    return this.decoding !== null;
  }

  /** Goes on decoding the suspended message: it, once done (else suspended again). */
  resume(): Message[] {
    const d = this.decoding;
    if (d === null) return [];
    this.decoding = null;
    const message = this.decode(d);
    return message === null ? [] : [message];
  }

  /** Feed the next frame of this direction; returns the messages it completes. Adds alerts to `frame.alerts`. */
  push(frame: Frame): Message[] {
    const out: Message[] = [];
    const control = isControlOpcode(frame.opcode);
    const isData = !control && frame.opcode !== Opcode.Continuation;
    const firstOfMessage = isData;

    for (const ext of this.extensions) {
      if (ext.checkFrame) frame.alerts.push(...ext.checkFrame(frame, firstOfMessage));
    }

    // §5.5.1: "the endpoint MUST NOT send any more data frames after sending a Close frame".
    if (this.closeSent && !control) {
      frame.alerts.push(makeAlert('frame.after-close', `${frame.opcodeName} frame sent after this side's Close frame.`, frameWhere(frame)));
    }

    if (control) {
      // §5.4: control frames may be injected in the middle of a fragmented message.
      const message = this.controlMessage(frame);
      if (frame.opcode === Opcode.Close) this.closeSent = true;
      return [message];
    }

    if (frame.opcode === Opcode.Continuation) {
      if (this.open === null) {
        frame.alerts.push(makeAlert('frame.continuation-unexpected', 'Continuation frame with no fragmented message open: its payload belongs to no message.', frameWhere(frame)));
        return out;
      }
      this.append(this.open, frame);
      if (frame.fin) {
        const message = this.complete(this.open, frame);
        this.open = null;
        if (message !== null) out.push(message);
      }
      return out;
    }

    // A text, binary (or reserved data) frame starts a new message.
    if (this.open !== null) {
      frame.alerts.push(makeAlert('frame.message-interleaved', `New ${frame.opcodeName} frame while a fragmented ${this.open.first.opcodeName} message is still open (no FIN seen): the open message is abandoned.`, frameWhere(frame)));
      const abandoned = this.open;
      abandoned.truncated = true;
      this.open = null;
      out.push(this.complete(abandoned, abandoned.first, false)!);
    }
    if (isReservedOpcode(frame.opcode)) {
      // Reserved data opcodes have no defined fragmentation semantics: show the frame as is.
      out.push(this.controlMessage(frame));
      return out;
    }
    if (frame.fin) {
      const msg: OpenMessage = { first: frame, frameOffsets: [], view: null, owned: null, pieces: null, kept: 0, wireLength: 0, truncated: false, overLimit: false, alerts: [] };
      this.append(msg, frame);
      const message = this.complete(msg, frame);
      if (message === null) return out;
      // (An array made with its one element: a push into an empty one allocates room for 17.)
      if (out.length === 0) return [message];
      out.push(message);
      return out;
    }
    // Only what the message needs of its first frame, without the views of the read chunk.
    const first: Frame = { ...withoutBytes(frame), header: NO_BYTES, payload: NO_BYTES, data: NO_BYTES, maskingKey: null, alerts: [] };
    this.open = { first, frameOffsets: [], view: null, owned: null, pieces: null, kept: 0, wireLength: 0, truncated: false, overLimit: false, alerts: [] };
    this.append(this.open, frame);
    return out;
  }

  /** The stream ended: a message still open is reported as truncated. */
  end(): Message[] {
    if (this.open === null) return [];
    const msg = this.open;
    this.open = null;
    msg.truncated = true;
    msg.alerts.push(makeAlert('frame.incomplete', `Stream ended inside a fragmented ${msg.first.opcodeName} message (${msg.frameOffsets.length} fragment(s), no FIN).`, frameWhere(msg.first)));
    return [this.complete(msg, msg.first, false)!];
  }

  private append(msg: OpenMessage, frame: Frame): void {
    // Most messages are one frame: their list is made with its one element.
    if (msg.frameOffsets.length === 0) msg.frameOffsets = [frame.offset];
    else msg.frameOffsets.push(frame.offset);
    msg.wireLength += frame.payloadLength;
    if (frame.truncated) msg.truncated = true;
    const limit = this.limits.maxMessageSize;
    // Judged on the size on the wire: the frames may already have been cut by --max-frame.
    if (!msg.overLimit && msg.wireLength > limit) {
      msg.overLimit = true;
      msg.alerts.push(makeAlert('message.too-large', `Message is larger than the ${limit}-byte reassembly limit: content kept up to the limit.`, frameWhere(msg.first)));
    }
    const room = limit - msg.kept;
    const pieces = piecesOf(frame);
    if (pieces !== undefined && msg !== this.open && msg.kept === 0 && pieces.length <= room) {
      // A message of one frame, whole: its data as it is, still in pieces.
      msg.pieces = pieces;
      msg.kept = pieces.length;
      return;
    }
    let piece = frame.data;
    if (piece.length > room) {
      msg.truncated = true;
      piece = piece.subarray(0, Math.max(0, room));
    }
    if (piece.length === 0) return;
    if (msg !== this.open && msg.kept === 0) {
      // A message of one frame: its data as it is.
      msg.view = piece;
      msg.kept = piece.length;
      return;
    }
    const need = msg.kept + piece.length;
    if (msg.owned === null || msg.owned.length < need) {
      // Doubling, up to the limit: a message of many small fragments is copied about twice.
      const grown = ownedBytes(Math.min(limit, Math.max(need, 2 * (msg.owned?.length ?? 0), 256)));
      if (msg.owned !== null) grown.set(msg.owned.subarray(0, msg.kept));
      msg.owned = grown;
    }
    msg.owned.set(piece, msg.kept);
    msg.kept = need;
  }

  /** The message, or null when its decoding ran out of budget (see `suspended`). */
  private complete(msg: OpenMessage, last: Frame, finished = true): Message | null {
    // Nothing to decode (no extension, or a message cut off): built at once.
    if (!finished || this.extensions.length === 0) {
      if (msg.pieces !== null) return this.message(msg, last, NO_BYTES, msg.wireLength, msg.truncated, false, false, msg.pieces);
      return this.message(msg, last, this.content(msg), msg.wireLength, msg.truncated, false, false);
    }
    const data = this.content(msg);
    return this.decode({ msg, last, data, length: msg.wireLength, truncated: msg.truncated, compressed: false, undecodable: false, next: 0, resuming: false });
  }

  /** The message's content so far, one buffer. */
  private content(msg: OpenMessage): Uint8Array {
    if (msg.pieces !== null) return msg.pieces.data();
    return msg.view ?? (msg.owned === null ? NO_BYTES : msg.owned.subarray(0, msg.kept));
  }

  /** Runs the extensions' decoders over a message, from where it stands; null when one ran out of budget. */
  private decode(d: Decoding): Message | null {
    for (; d.next < this.extensions.length; d.next++) {
      const ext = this.extensions[d.next]!;
      if (!ext.decodeMessage) continue;
      const decoded = d.resuming ? ext.resumeMessage!() : ext.decodeMessage(d.data, d.msg.first, d.truncated);
      d.resuming = false;
      if (decoded === SUSPENDED) {
        d.resuming = true;
        this.decoding = d;
        return null;
      }
      d.msg.alerts.push(...decoded.alerts);
      if (decoded.failed) {
        d.compressed = true;
        d.undecodable = true;
        break;
      }
      if (!decoded.transformed) continue;
      d.compressed = true;
      d.data = decoded.data;
      d.length = decoded.length;
      d.truncated = decoded.truncated;
    }
    return this.message(d.msg, d.last, d.data, d.length, d.truncated, d.compressed, d.undecodable);
  }

  /** With `pieces`, the message's `data` is built from them when first read (`data` is a placeholder). */
  private message(msg: OpenMessage, last: Frame, data: Uint8Array, length: number, truncated: boolean, compressed: boolean, undecodable: boolean, pieces?: PayloadPieces): Message {
    const first = msg.first;
    const message: Message = {
      direction: this.direction,
      type: first.opcodeName,
      opcode: first.opcode,
      frameOffsets: msg.frameOffsets,
      fragments: msg.frameOffsets.length,
      wireLength: msg.wireLength,
      length,
      data,
      truncated,
      compressed,
      inflated: compressed && !undecodable,
      start: first.start,
      end: last.end,
      alerts: msg.alerts,
    };
    if (pieces !== undefined) defineLazyBytes(message, pieces, false);
    if (first.opcode === Opcode.Text && !undecodable) this.decodeText(message, first);
    return message;
  }

  /** §8.1: the whole message must be UTF-8; a message cut by a limit is checked up to the cut. */
  private decodeText(message: Message, first: Frame): void {
    const valid = message.truncated ? isValidUtf8Prefix(message.data) : isValidUtf8(message.data);
    if (valid) {
      message.text = decodeUtf8Lossy(message.data);
      return;
    }
    message.alerts.push(makeAlert('message.utf8-invalid', `Text message (${message.length} bytes${message.fragments > 1 ? `, ${message.fragments} fragments` : ''}) is not valid UTF-8: the receiver must fail the connection (1007).`, frameWhere(first)));
  }

  private controlMessage(frame: Frame): Message {
    const message: Message = {
      direction: this.direction,
      type: opcodeName(frame.opcode),
      opcode: frame.opcode,
      frameOffsets: [frame.offset],
      fragments: 1,
      wireLength: frame.payloadLength,
      length: frame.payloadLength,
      data: frame.data,
      truncated: frame.truncated,
      compressed: false,
      inflated: false,
      start: frame.start,
      end: frame.end,
      alerts: [],
    };
    if (frame.opcode === Opcode.Close && !frame.truncated) {
      const { close, alerts } = decodeClose(frame.data, frameWhere(frame));
      message.close = close;
      message.alerts.push(...alerts);
    }
    return message;
  }
}
