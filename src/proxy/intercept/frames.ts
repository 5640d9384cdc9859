/**
 * The frames and messages of one direction of an intercepted connection, with the exact bytes
 * each frame arrived as, so whatever the interceptor does not change is forwarded byte for byte.
 *
 * The dissector's FrameParser (src/websocket) is built to follow any stream, however broken,
 * and keeps at most a limit of each payload; the relay instead must hold every byte of a frame
 * it may forward, and must never drop one. So this splitter is strict and small: it cuts
 * complete frames (RFC 6455 §5.2) out of the stream, and the moment a header declares more than
 * `maxPayload` bytes it gives up and hands back everything from that header on as bytes to pass
 * through untouched (`through`), as it does with every later chunk. Nothing is judged here: the
 * tap's dissection does that on what was forwarded.
 */
import { applyMask } from '../../websocket/mask.js';
import { isControlOpcode, Opcode } from '../../websocket/constants.js';
import { encodeFrame } from '../../websocket/frame-encoder.js';
import { randomBytes } from 'node:crypto';

/** One complete frame as it arrived. */
export interface RawFrame {
  /** The frame's bytes exactly as received (header, masking key, masked payload). */
  raw: Uint8Array;
  fin: boolean;
  /** RSV1-3 as the top nibble's low bits (0x40 RSV1, 0x20 RSV2, 0x10 RSV3). */
  rsv: number;
  opcode: number;
  masked: boolean;
  /** The payload, unmasked. */
  payload: Uint8Array;
}

export interface SplitResult {
  frames: RawFrame[];
  /** Bytes to relay untouched: set once a frame too large to hold began (then for every later chunk). */
  through: Uint8Array | null;
}

const EMPTY = new Uint8Array(0);

export class FrameSplitter {
  private chunks: Uint8Array[] = [];
  private length = 0;
  private passing = false;

  constructor(private readonly maxPayload: number) {}

  /** True once the direction is relayed untouched. */
  get through(): boolean {
    return this.passing;
  }

  /** Bytes received and not yet part of a complete frame. */
  get buffered(): number {
    return this.length;
  }

  push(chunk: Uint8Array): SplitResult {
    if (this.passing) return { frames: [], through: chunk };
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.length += chunk.length;
    }
    const frames: RawFrame[] = [];
    for (;;) {
      const need = this.headerNeed();
      if (need === null) break;
      // A header that declares too much is given up on at once, without waiting for its payload.
      if (need.payload > this.maxPayload) {
        this.passing = true;
        return { frames, through: this.take(this.length) };
      }
      if (this.length < need.total) break;
      frames.push(this.frame(this.take(need.total), need.header));
    }
    return { frames, through: null };
  }

  /** Bytes left over when the stream ends (an incomplete frame), to relay as they are. */
  end(): Uint8Array {
    return this.length > 0 ? this.take(this.length) : EMPTY;
  }

  /** The header's and whole frame's size, once the bytes that say so are here (§5.2). */
  private headerNeed(): { header: number; payload: number; total: number } | null {
    if (this.length < 2) return null;
    const head = this.peek(Math.min(this.length, 14));
    const b1 = head[1]!;
    const masked = (b1 & 0x80) !== 0;
    const short = b1 & 0x7f;
    let header = 2 + (masked ? 4 : 0);
    let payload = short;
    if (short === 126) {
      header += 2;
      if (head.length < 4) return null;
      payload = (head[2]! << 8) | head[3]!;
    } else if (short === 127) {
      header += 8;
      if (head.length < 10) return null;
      // Two 32-bit halves: anything at or past 2^53 counts as too large to hold, never as a number.
      const high = ((head[2]! << 24) | (head[3]! << 16) | (head[4]! << 8) | head[5]!) >>> 0;
      const low = ((head[6]! << 24) | (head[7]! << 16) | (head[8]! << 8) | head[9]!) >>> 0;
      payload = high > 0x1fffff ? Number.POSITIVE_INFINITY : high * 0x1_0000_0000 + low;
    }
    return { header, payload, total: header + payload };
  }

  private frame(raw: Uint8Array, header: number): RawFrame {
    const b0 = raw[0]!;
    const masked = (raw[1]! & 0x80) !== 0;
    const body = raw.subarray(header);
    const payload = masked ? applyMask(body, raw.subarray(header - 4, header), 0) : body;
    return { raw, fin: (b0 & 0x80) !== 0, rsv: b0 & 0x70, opcode: b0 & 0x0f, masked, payload };
  }

  /** The first `n` buffered bytes, without consuming them (joined when they span chunks). */
  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  /** Consumes the first `n` buffered bytes (a view when they lie in one chunk). */
  private take(n: number): Uint8Array {
    this.length -= n;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const joined = Buffer.concat(this.chunks);
    this.chunks = joined.length > n ? [joined.subarray(n)] : [];
    return joined.subarray(0, n);
  }
}

/** A control frame, a whole data message, or a frame that belongs to no message: in arrival order. */
export type Unit =
  | { kind: 'control'; frame: RawFrame }
  | { kind: 'message'; opcode: number; frames: RawFrame[]; data: Uint8Array; compressed: boolean }
  | { kind: 'stray'; frames: RawFrame[] };

/**
 * Joins data frames into messages (§5.4); control frames between fragments come out at once, as
 * units of their own. A message over `maxMessage` bytes is given up: its frames so far and the
 * rest of its fragments come out as `stray` units, relayed as they are.
 */
export class UnitAssembler {
  private open: RawFrame[] | null = null;
  private openBytes = 0;
  private overLimit = false;

  constructor(private readonly maxMessage: number) {}

  /** Frames of a message still open (held, not yet forwarded). */
  get holding(): number {
    return this.openBytes;
  }

  push(frame: RawFrame): Unit[] {
    if (isControlOpcode(frame.opcode)) return [{ kind: 'control', frame }];
    const out: Unit[] = [];
    if (frame.opcode === Opcode.Continuation) {
      if (this.overLimit) {
        if (frame.fin) this.overLimit = false;
        return [{ kind: 'stray', frames: [frame] }];
      }
      if (this.open === null) return [{ kind: 'stray', frames: [frame] }];
      this.open.push(frame);
      this.openBytes += frame.payload.length;
      if (this.openBytes > this.maxMessage) {
        out.push({ kind: 'stray', frames: this.open });
        this.open = null;
        this.openBytes = 0;
        this.overLimit = !frame.fin;
        return out;
      }
      if (frame.fin) out.push(this.complete());
      return out;
    }
    // A new data message while one is open (no FIN seen): the open one goes on as it came.
    if (this.open !== null) {
      out.push({ kind: 'stray', frames: this.open });
      this.open = null;
      this.openBytes = 0;
    }
    this.overLimit = false;
    this.open = [frame];
    this.openBytes = frame.payload.length;
    if (frame.fin) out.push(this.complete());
    return out;
  }

  /** The stream ended: a message still open goes on as it came. */
  end(): Unit[] {
    if (this.open === null) return [];
    const frames = this.open;
    this.open = null;
    this.openBytes = 0;
    return [{ kind: 'stray', frames }];
  }

  private complete(): Unit {
    const frames = this.open!;
    this.open = null;
    this.openBytes = 0;
    const data = frames.length === 1 ? frames[0]!.payload : Buffer.concat(frames.map((f) => f.payload));
    return { kind: 'message', opcode: frames[0]!.opcode, frames, data, compressed: (frames[0]!.rsv & 0x40) !== 0 };
  }
}

/**
 * Frames for a message the proxy sends or changed: FIN on the last, `rsv` (the original first
 * frame's bits) on the first only, as RFC 7692 §6.1 wants of a compressed message; a client's
 * frames masked with a fresh random key each (§5.3: unpredictable, from a strong source).
 * `fragment` > 0 cuts the payload into frames of that many bytes.
 */
export function encodeMessage(opcode: number, data: Uint8Array, options: { masked: boolean; rsv?: number; fragment?: number }): Uint8Array[] {
  const size = options.fragment !== undefined && options.fragment > 0 && !isControlOpcode(opcode) ? options.fragment : Math.max(1, data.length);
  const out: Uint8Array[] = [];
  let offset = 0;
  do {
    const piece = data.subarray(offset, offset + size);
    offset += piece.length;
    const first = out.length === 0;
    const rsv = first ? (options.rsv ?? 0) : 0;
    out.push(
      encodeFrame({
        opcode: first ? opcode : Opcode.Continuation,
        payload: piece,
        fin: offset >= data.length,
        rsv1: (rsv & 0x40) !== 0,
        rsv2: (rsv & 0x20) !== 0,
        rsv3: (rsv & 0x10) !== 0,
        maskingKey: options.masked ? randomBytes(4) : null,
      }),
    );
  } while (offset < data.length);
  return out;
}

/**
 * Follows the frame boundaries of a stream without keeping any payload (RFC 6455 §5.2), from a
 * point the dissector's FrameParser gave (resumePoint): how wsproxy, stopping, finds where it
 * may add a Close of its own to a connection it relayed untouched, and sees the peer's answer.
 * Of each frame it keeps the opcode and, for a Close, the status code (§5.5.1).
 */
export class FrameWalker {
  private header: number[];
  private remaining: number;
  private key: number[] | null = null;
  /** Payload bytes of the current frame seen so far (for the Close code). */
  private seen = 0;
  /** The opcode of the frame walked last (-1 before a whole header). */
  opcode = -1;
  /** The status code of the Close walked last; null when its payload is empty. */
  code: number | null = null;

  constructor(start: { header: Uint8Array; remaining: number }) {
    this.header = [...start.header];
    this.remaining = start.remaining;
  }

  /** Between two frames: a frame of the relay's own may go here. */
  get atBoundary(): boolean {
    return this.header.length === 0 && this.remaining === 0;
  }

  /** Walks `chunk` from `from`: the offset just after the first frame that ends in it, or -1 (all of it walked). */
  next(chunk: Uint8Array, from = 0): number {
    let i = from;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - i);
        if (this.opcode === Opcode.Close) this.readCode(chunk, i, take);
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) return i;
        continue;
      }
      this.header.push(chunk[i++]!);
      if (this.header.length === this.headerSize() && this.frameBegins()) return i;
    }
    return -1;
  }

  /** The header's size once its first two bytes say it (§5.2); 0 until then. */
  private headerSize(): number {
    const h = this.header;
    if (h.length < 2) return 0;
    const short = h[1]! & 0x7f;
    return 2 + (short === 126 ? 2 : short === 127 ? 8 : 0) + ((h[1]! & 0x80) !== 0 ? 4 : 0);
  }

  /** The header is whole: the frame's payload begins. True when the frame has none (it ends here). */
  private frameBegins(): boolean {
    const h = this.header;
    const short = h[1]! & 0x7f;
    let length = short;
    if (short === 126) length = (h[2]! << 8) | h[3]!;
    // A length past 2^53 is walked as endless: such a frame never ends in practice.
    else if (short === 127) length = (h[2]! * 2 ** 24 + h[3]! * 2 ** 16 + h[4]! * 2 ** 8 + h[5]!) * 2 ** 32 + (((h[6]! << 24) | (h[7]! << 16) | (h[8]! << 8) | h[9]!) >>> 0);
    this.opcode = h[0]! & 0x0f;
    this.key = (h[1]! & 0x80) !== 0 ? h.slice(h.length - 4) : null;
    this.code = null;
    this.seen = 0;
    this.header = [];
    this.remaining = length;
    return length === 0;
  }

  /** The first two payload bytes of a Close, unmasked, are its status code (§5.5.1). */
  private readCode(chunk: Uint8Array, at: number, take: number): void {
    for (let j = 0; j < take && this.seen < 2; j++, this.seen++) {
      const byte = chunk[at + j]! ^ (this.key === null ? 0 : this.key[this.seen & 3]!);
      this.code = this.seen === 0 ? byte << 8 : this.code! | byte;
    }
  }
}
