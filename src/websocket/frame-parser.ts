/**
 * Incremental WebSocket frame parser (RFC 6455 §5.2), one per direction of a connection.
 *
 * Syntactic only: it splits the byte stream into frames and reports their fields; whether a
 * field is legal (masking direction, RSV, reserved opcodes, control-frame rules, minimal
 * length) is judged by the rules module from those fields. The parser itself only reports
 * what stops it from following the stream: impossible lengths, the payload limit, missing
 * bytes, the end of the stream, and where it picked the framing up again after losing it.
 *
 * State machine: Info (2 bytes) -> Length16 (2) | Length64 (8) -> Mask (4) -> Payload, and
 * Lost (scanning for a plausible header). Every state first checks that the bytes it needs
 * are buffered and otherwise waits, so a frame split at any byte boundary parses exactly like
 * a whole one. Input chunks are never written to.
 */
import { makeAlert, type Alert, type AlertCode, type AlertExtra, type Direction } from '../alerts.js';
import { isControlOpcode, isReservedOpcode, MAX_CONTROL_PAYLOAD, opcodeName } from './constants.js';
import { uninitialisedBytes } from './bytes.js';
import { applyMask } from './mask.js';
import { defineLazyBytes, PayloadPieces } from './payload-pieces.js';
import { Arena } from '../arena.js';
import { withDefaults, type Frame, type LengthEncoding, type Limits, type StreamPosition } from './types.js';

/** See FrameParser.resumePoint. */
export interface FramePoint {
  header: Uint8Array;
  remaining: number;
}

export interface FrameParserOptions {
  direction: Direction;
  limits?: Partial<Limits>;
  /**
   * RSV bits a negotiated extension defines, as a mask rsv1=4, rsv2=2, rsv3=1. Used only to
   * judge whether a candidate header is plausible while resynchronising.
   */
  allowedRsv?: number;
  /**
   * False when the stream is joined mid-way (the capture started after the handshake, or
   * bytes were missing): the first byte need not start a frame, so the parser begins by
   * scanning for a plausible header, exactly as after a gap.
   */
  synced?: boolean;
  /**
   * Keep a payload that arrives in several pieces as views of the input chunks, and build its
   * `payload` and `data` only when they are read (see PayloadPieces): for a caller whose chunks
   * are exactly what they carry (wsproxy's socket reads), and are never written to after.
   * Pieces under PIECE_MIN bytes are copied, so a payload trickled a byte at a time is not
   * millions of views.
   */
  keepPieces?: boolean;
}

/**
 * While lost, a candidate frame up to this size is confirmed by checking that the bytes after
 * it form a plausible header too; the scan buffer never holds much more than this. Larger
 * candidates are accepted on their header alone (confirming them would mean buffering them).
 */
const RESYNC_WINDOW = 128 * 1024;

/** With keepPieces, pieces shorter than this are copied into a buffer of the frame's own (at most PIECE_COPY bytes each). */
const PIECE_MIN = 1024;
const PIECE_COPY = 16 * 1024;

/** The longest header: 2 + 8 (64-bit length) + 4 (masking key). */
const MAX_HEADER = 14;
/** Each parser's header bytes, from arenas of their own (src/arena.ts): an ArrayBuffer per parser was ~120 bytes more for each direction of each open connection. */
const headers = new Arena(1024);

/** §5.2: the high 32 bits of a 64-bit length above this make it exceed Number.MAX_SAFE_INTEGER. */
const MAX_SAFE_HIGH = 0x1fffff;
const TWO_POW_32 = 0x1_0000_0000;

const NO_POSITION: StreamPosition = {};

interface Piece {
  readonly bytes: Uint8Array;
  /** Stream offset of bytes[0]. */
  readonly start: number;
  readonly pos: StreamPosition;
}

/**
 * The buffered part of the stream: a list of input chunks (held as given, never copied) and
 * absolute stream offsets, so positions stay right however the bytes arrived.
 */
class ByteQueue {
  private pieces: Piece[] = [];
  private head = 0;
  /** Stream offset of the first unread byte. */
  begin = 0;
  /** Stream offset just after the last byte handed in (pushed or gap). */
  end = 0;
  /** The position of the piece the last `take` read from. */
  takenPos: StreamPosition = {};

  get length(): number {
    return this.end - this.begin;
  }

  append(bytes: Uint8Array, pos: StreamPosition): void {
    if (bytes.length === 0) return;
    this.pieces.push({ bytes, start: this.end, pos });
    this.end += bytes.length;
  }

  /** Forget everything buffered; the stream continues at `at` (after a gap). */
  reset(at: number): void {
    this.pieces = [];
    this.head = 0;
    this.begin = at;
    this.end = at;
  }

  /** Index of the piece holding stream offset `abs` (which must be buffered). */
  private find(abs: number): number {
    let lo = this.head;
    const first = this.pieces[lo]!;
    if (abs < first.start + first.bytes.length) return lo;
    let hi = this.pieces.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.pieces[mid]!.start <= abs) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  byteAt(abs: number): number {
    const piece = this.pieces[this.find(abs)]!;
    return piece.bytes[abs - piece.start]!;
  }

  posAt(abs: number): StreamPosition {
    return this.pieces[this.find(abs)]!.pos;
  }

  /** Drop the bytes before stream offset `abs`. */
  discardTo(abs: number): void {
    this.begin = abs;
    while (this.head < this.pieces.length) {
      const p = this.pieces[this.head]!;
      if (p.start + p.bytes.length > abs) break;
      this.head++;
    }
    if (this.head === this.pieces.length) {
      this.pieces = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.pieces.length) {
      this.pieces = this.pieces.slice(this.head);
      this.head = 0;
    }
  }

  /** Copy `n` buffered bytes into `dst` at `at` and consume them; returns the last byte's position. */
  readInto(dst: Uint8Array, at: number, n: number): StreamPosition {
    // (n is at least 1: the loop below always sets it; no object made for nothing.)
    let pos = NO_POSITION;
    let done = 0;
    while (done < n) {
      const piece = this.pieces[this.head]!;
      const from = this.begin - piece.start;
      const take = Math.min(n - done, piece.bytes.length - from);
      // Header fields are 2 to 8 bytes: a loop is cheaper than a view and a set.
      const bytes = piece.bytes;
      for (let i = 0; i < take; i++) dst[at + done + i] = bytes[from + i]!;
      done += take;
      pos = piece.pos;
      this.discardTo(this.begin + take);
    }
    return pos;
  }

  /**
   * Consume up to `max` bytes from one piece and return them as a view (no copy); the position
   * of the piece they came from is left in `takenPos` (no object per call).
   */
  take(max: number): Uint8Array {
    const piece = this.pieces[this.head]!;
    const from = this.begin - piece.start;
    const n = Math.min(max, piece.bytes.length - from);
    // A whole piece (a segment in the middle of a large payload) needs no new view.
    const bytes = from === 0 && n === piece.bytes.length ? piece.bytes : piece.bytes.subarray(from, from + n);
    this.takenPos = piece.pos;
    this.discardTo(this.begin + n);
    return bytes;
  }
}

type State = 'info' | 'length16' | 'length64' | 'mask' | 'payload' | 'lost';

/** Result of judging a candidate header while lost: not plausible, undecided, or the frame's total length. */
const IMPLAUSIBLE = -1;
const UNDECIDED = -2;

interface PendingResync {
  /** Where framing was lost. */
  lostAt: number;
  /** Bytes of the gaps among the skipped ones. */
  missing: number;
}

export class FrameParser {
  private readonly direction: Direction;
  private readonly limits: Readonly<Limits>;
  private allowedRsv: number;
  private readonly q = new ByteQueue();
  private state: State = 'info';
  private ended = false;
  private out: Frame[] = [];

  // --- the frame in progress ---
  private readonly hdr = headers.bytes(MAX_HEADER);
  private hdrLen = 0;
  private headerLength = 2;
  private frameStart = 0;
  private startPos: StreamPosition = {};
  private lastPos: StreamPosition = {};
  private fin = false;
  private rsv = 0;
  private opcode = 0;
  private masked = false;
  private lengthEncoding: LengthEncoding = 7;
  private payloadLength = 0;
  private tooLarge = false;
  /** Alerts about the header (a 64-bit length), made for the few frames that have one. */
  private headerAlerts: Alert[] | null = null;
  /** Payload bytes seen or skipped (including bytes lost in a gap). */
  private received = 0;
  /** Payload bytes to keep: min(payloadLength, maxFramePayload). */
  private keepLimit = 0;
  /** False once a gap cut the payload: what follows cannot be placed in `data`. */
  private keeping = true;
  /** The kept payload when it arrived as one view of one chunk (no copy). */
  private single: Uint8Array | null = null;
  /** The kept payload when it spans chunks (an owned copy, grown up to keepLimit). */
  private buf: Uint8Array | null = null;
  private keptLen = 0;
  /** With keepPieces: the kept payload so far, views and copies in order (null when not in use). */
  private readonly pieces: Uint8Array[] | null;
  /** The copy the last small pieces went into, while it has room (its used part is added to `pieces` when closed). */
  private tail: Uint8Array | null = null;
  private tailUsed = 0;
  private gapMissing = 0;
  private gapAt = 0;

  // --- lost framing ---
  private lostAt = 0;
  private lostMissing = 0;
  private pendingResync: PendingResync | null = null;
  /**
   * For a stream joined mid-way: where its first chunk (the first captured segment) ends,
   * until the first frame is found. See scan().
   */
  private firstSegmentEnd: number | null = null;
  private joined: boolean;

  constructor(options: FrameParserOptions) {
    this.direction = options.direction;
    this.limits = withDefaults(options.limits);
    this.allowedRsv = (options.allowedRsv ?? 0) & 7;
    this.joined = options.synced === false;
    this.pieces = options.keepPieces === true ? [] : null;
    if (this.joined) this.loseFraming(0, 0);
  }

  /** Bytes of the stream handed to the parser so far (pushed plus gaps): the offset of the next byte. */
  get offset(): number {
    return this.q.end;
  }

  /** True while framing is lost and the parser is scanning for a plausible header. */
  get lost(): boolean {
    return this.state === 'lost';
  }

  /**
   * True while framing is lost and bytes are held that may start a frame: what they complete
   * will have ended earlier in the capture than what the other direction shows meanwhile.
   */
  get holdsCandidate(): boolean {
    return this.state === 'lost' && this.q.length > 0;
  }

  /**
   * Where the stream stands between frames, for a relay that must add a frame of its own without
   * cutting one (wsproxy's Close when it stops, RFC 6455 §5.2): the bytes of a header begun but
   * not complete, and the payload bytes the current frame still lacks (both empty/0 at a
   * boundary). Null while framing is lost, and once the stream has ended.
   */
  resumePoint(): FramePoint | null {
    if (this.ended || this.state === 'lost') return null;
    if (this.state === 'payload') return { header: new Uint8Array(0), remaining: this.payloadLength - this.received };
    const begun = this.state === 'info' ? 0 : this.hdrLen;
    const header = new Uint8Array(begun + this.q.length);
    header.set(this.hdr.subarray(0, begun));
    for (let i = 0; i < this.q.length; i++) header[begun + i] = this.q.byteAt(this.q.begin + i);
    return { header, remaining: 0 };
  }

  /** The RSV bits negotiated extensions define (rsv1=4, rsv2=2, rsv3=1), for resynchronisation. */
  setAllowedRsv(mask: number): void {
    this.allowedRsv = mask & 7;
  }

  /** Feed the next bytes of the stream; returns the frames they complete, in order. */
  push(chunk: Uint8Array, pos?: StreamPosition): Frame[] {
    if (this.ended) return [];
    this.out = [];
    if (this.joined) {
      this.joined = false;
      this.firstSegmentEnd = this.q.end + chunk.length;
    }
    this.q.append(chunk, pos ?? {});
    this.run(false);
    this.firstSegmentEnd = null;
    return this.out;
  }

  /**
   * `size` bytes of the stream were not captured. Inside a payload the frame boundary is still
   * known, so framing is kept and only the kept payload stops at the gap; anywhere else the
   * next header is (partly) missing, so framing is lost until a plausible header is found.
   */
  gap(size: number, pos?: StreamPosition): Frame[] {
    if (this.ended || !(size > 0)) return [];
    this.out = [];
    const where = pos ?? {};
    // The gap is a hard boundary: settle every decision that was waiting for more bytes.
    this.run(true);
    const gapStart = this.q.end;
    switch (this.state) {
      case 'payload': {
        const inFrame = Math.min(size, this.payloadLength - this.received);
        if (this.gapMissing === 0) this.gapAt = gapStart;
        this.keeping = false;
        this.gapMissing += inFrame;
        this.received += inFrame;
        this.lastPos = where;
        if (this.received === this.payloadLength) {
          this.emit(false);
          this.state = 'info';
          if (size > inFrame) this.loseFraming(gapStart + inFrame, size - inFrame);
        }
        break;
      }
      case 'lost':
        this.lostMissing += size;
        break;
      case 'info':
        this.loseFraming(this.q.begin, size);
        break;
      default:
        // Inside a header: the partial frame cannot be followed, it is dropped with the skip.
        this.loseFraming(this.frameStart, size);
        break;
    }
    this.q.reset(gapStart + size);
    return this.out;
  }

  /**
   * The stream is over. A frame whose header was complete is returned with incomplete=true
   * and a `frame.incomplete` alert; so is one cut inside its masking key (then maskingKey is
   * null although masked is true). A stream ending before the payload length is known (the
   * first 2 header bytes, or the 16/64-bit length) returns no frame: there is no length to
   * report. Bytes skipped while lost are dropped silently. Later calls return nothing.
   * `_pos` is accepted for symmetry with push/gap: a frame's `end` is where its last byte
   * arrived, not where the stream ended.
   */
  end(_pos?: StreamPosition): Frame[] {
    if (this.ended) return [];
    this.out = [];
    this.run(true);
    if (this.state === 'payload') {
      this.emit(true);
    } else if (this.state === 'mask') {
      const have = this.q.length;
      if (have > 0) this.lastPos = this.q.readInto(this.hdr, this.hdrLen, have);
      this.hdrLen += have;
      this.emit(true);
    }
    this.ended = true;
    this.q.discardTo(this.q.end);
    return this.out;
  }

  // ------------------------------------------------------------------------------------------

  /** Advance the state machine as far as the buffered bytes allow. */
  private run(final: boolean): void {
    for (;;) {
      switch (this.state) {
        case 'info': {
          if (this.q.length < 2) return;
          this.beginFrame();
          this.lastPos = this.q.readInto(this.hdr, 0, 2);
          this.hdrLen = 2;
          const b0 = this.hdr[0]!;
          const b1 = this.hdr[1]!;
          this.fin = (b0 & 0x80) !== 0;
          this.rsv = (b0 >> 4) & 7;
          this.opcode = b0 & 0x0f;
          this.masked = (b1 & 0x80) !== 0;
          const len7 = b1 & 0x7f;
          const maskBytes = this.masked ? 4 : 0;
          // §5.2: 126 announces a 16-bit length, 127 a 64-bit one.
          if (len7 === 126) {
            this.lengthEncoding = 16;
            this.headerLength = 4 + maskBytes;
            this.state = 'length16';
          } else if (len7 === 127) {
            this.lengthEncoding = 64;
            this.headerLength = 10 + maskBytes;
            this.state = 'length64';
          } else {
            this.lengthEncoding = 7;
            this.headerLength = 2 + maskBytes;
            this.payloadLength = len7;
            this.afterLength();
          }
          break;
        }
        case 'length16': {
          if (this.q.length < 2) return;
          this.lastPos = this.q.readInto(this.hdr, 2, 2);
          this.hdrLen = 4;
          this.payloadLength = (this.hdr[2]! << 8) | this.hdr[3]!;
          this.afterLength();
          break;
        }
        case 'length64': {
          if (this.q.length < 8) return;
          this.lastPos = this.q.readInto(this.hdr, 2, 8);
          this.hdrLen = 10;
          this.readLength64();
          this.afterLength();
          break;
        }
        case 'mask': {
          if (this.q.length < 4) return;
          this.lastPos = this.q.readInto(this.hdr, this.hdrLen, 4);
          this.hdrLen += 4;
          this.startPayload();
          break;
        }
        case 'payload': {
          const remaining = this.payloadLength - this.received;
          if (remaining === 0) {
            this.emit(false);
            this.state = 'info';
            break;
          }
          if (this.q.length === 0) return;
          const bytes = this.q.take(remaining);
          this.lastPos = this.q.takenPos;
          this.received += bytes.length;
          if (this.keeping && this.keptLen < this.keepLimit) {
            const room = this.keepLimit - this.keptLen;
            this.keep(bytes.length > room ? bytes.subarray(0, room) : bytes);
          }
          break;
        }
        case 'lost': {
          if (!this.scan(final)) return;
          break;
        }
      }
    }
  }

  private beginFrame(): void {
    this.frameStart = this.q.begin;
    this.startPos = this.q.posAt(this.q.begin);
    this.hdrLen = 0;
    this.payloadLength = 0;
    this.tooLarge = false;
    this.headerAlerts = null;
    this.received = 0;
    this.keepLimit = 0;
    this.keeping = true;
    this.single = null;
    this.buf = null;
    this.keptLen = 0;
    if (this.pieces !== null) {
      this.pieces.length = 0;
      this.tail = null;
    }
    this.gapMissing = 0;
    this.gapAt = 0;
  }

  private where(): AlertExtra {
    const extra: AlertExtra = { direction: this.direction, offset: this.frameStart };
    if (this.startPos.packet !== undefined) extra.packet = this.startPos.packet;
    return extra;
  }

  private alert(code: AlertCode, message: string, detail?: Record<string, string | number | boolean | null>): Alert {
    const extra = this.where();
    if (detail !== undefined) extra.detail = detail;
    return makeAlert(code, message, extra);
  }

  /**
   * §5.2: "If 127, the following 8 bytes interpreted as a 64-bit unsigned integer (the most
   * significant bit MUST be 0)". Read as two 32-bit halves; a length that a Number cannot hold
   * exactly cannot be followed, so it is reported and never allocated.
   */
  private readLength64(): void {
    const h = this.hdr;
    const hi = ((h[2]! << 24) | (h[3]! << 16) | (h[4]! << 8) | h[5]!) >>> 0;
    const lo = ((h[6]! << 24) | (h[7]! << 16) | (h[8]! << 8) | h[9]!) >>> 0;
    this.payloadLength = hi * TWO_POW_32 + lo;
    if (hi <= MAX_SAFE_HIGH) return;
    const declared = ((BigInt(hi) << 32n) | BigInt(lo)).toString();
    const headerAlerts = (this.headerAlerts ??= []);
    if ((hi & 0x80000000) !== 0) {
      headerAlerts.push(
        this.alert('frame.length-msb-set', `64-bit payload length ${declared} has its most significant bit set.`, { declared }),
      );
    }
    this.tooLarge = true;
    headerAlerts.push(
      this.alert(
        'frame.length-too-large',
        `Declared payload length ${declared} is above ${Number.MAX_SAFE_INTEGER}: the frame cannot be followed and framing of the ${this.direction} stream is lost.`,
        { declared },
      ),
    );
  }

  private afterLength(): void {
    if (this.masked) this.state = 'mask';
    else this.startPayload();
  }

  private startPayload(): void {
    if (this.tooLarge) {
      // Reported at once, without payload; the bytes that follow cannot be placed.
      this.emit(false);
      this.loseFraming(this.q.begin, 0);
      return;
    }
    this.keepLimit = Math.max(0, Math.min(this.payloadLength, this.limits.maxFramePayload));
    this.state = 'payload';
  }

  /**
   * Keep payload bytes: a view when the whole kept payload is one view and the frame ends with
   * it, else a copy. A frame still open must not hold a view: it would keep the whole read
   * chunk (256 KiB from a file) alive for as long as the frame stays unfinished.
   */
  private keep(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n === 0) return;
    if (this.pieces !== null) return this.keepPiece(bytes);
    if (this.keptLen === 0 && this.buf === null && n === this.keepLimit && this.received === this.payloadLength) {
      this.single = bytes;
      this.keptLen = n;
      return;
    }
    const need = this.keptLen + n;
    if (this.buf === null || this.buf.length < need) {
      // Not zero-filled: only the first keptLen bytes are ever read. It grows with the bytes
      // that arrive (to 8 times what has arrived, or to all that is kept once that is at most
      // 16 times), never to what the header declares before they do: a header claiming 1 MiB
      // followed by one byte cost 1 MiB (16,000 such connections took 46 s, most of it
      // collecting garbage). Going to the whole length from 1/16 of it spares a frame whose
      // length is just above a step its last copy: 75 KiB, its first segment bringing 1,000
      // bytes of it, went to 8,000 bytes, then 71 KiB, then copied those 71 KiB into 75 KiB.
      // A small buffer is a piece of the shared slab: a frame left unfinished keeps at most
      // that 64 KiB slab alive, per direction of a connection.
      const grown = uninitialisedBytes(this.keepLimit <= 16 * need ? this.keepLimit : 8 * need);
      if (this.buf !== null) grown.set(this.buf.subarray(0, this.keptLen));
      this.buf = grown;
    }
    this.buf.set(bytes, this.keptLen);
    this.keptLen = need;
  }

  /** keepPieces: a view of a large piece; a small one is copied (into the frame's current copy while it has room). */
  private keepPiece(bytes: Uint8Array): void {
    const pieces = this.pieces!;
    // A large piece, or the whole payload in one (as keep() keeps it): a view.
    if (bytes.length >= PIECE_MIN || (this.keptLen === 0 && bytes.length === this.keepLimit)) {
      this.closeTail();
      pieces.push(bytes);
      this.keptLen += bytes.length;
      return;
    }
    for (let at = 0; at < bytes.length; ) {
      if (this.tail === null || this.tailUsed === this.tail.length) {
        this.closeTail();
        // As in keep(): sized by what has arrived, never by what the header declares.
        this.tail = uninitialisedBytes(Math.min(this.keepLimit - this.keptLen, PIECE_COPY, Math.max(64, 8 * (this.keptLen + bytes.length - at))));
        this.tailUsed = 0;
      }
      const n = Math.min(bytes.length - at, this.tail.length - this.tailUsed);
      this.tail.set(n === bytes.length ? bytes : bytes.subarray(at, at + n), this.tailUsed);
      this.tailUsed += n;
      this.keptLen += n;
      at += n;
    }
  }

  private closeTail(): void {
    if (this.tail === null) return;
    this.pieces!.push(this.tail.subarray(0, this.tailUsed));
    this.tail = null;
  }

  private loseFraming(at: number, missing: number): void {
    this.state = 'lost';
    if (this.pendingResync !== null) {
      // Lost again before a frame could carry the resync notice: one longer skip.
      this.lostAt = this.pendingResync.lostAt;
      this.lostMissing = this.pendingResync.missing + missing;
      this.pendingResync = null;
    } else {
      this.lostAt = at;
      this.lostMissing = missing;
    }
  }

  /** Build the frame in progress and add it to the output. */
  private emit(incomplete: boolean): void {
    // The header's own copy (hdr is reused), from the slab like the payload; the key is a view of it.
    const header = uninitialisedBytes(this.hdrLen);
    for (let i = 0; i < this.hdrLen; i++) header[i] = this.hdr[i]!;
    const keyComplete = this.masked && this.hdrLen === this.headerLength;
    const maskingKey = keyComplete ? header.subarray(this.headerLength - 4, this.headerLength) : null;
    let payload: Uint8Array;
    let lazy: PayloadPieces | null = null;
    if (this.single !== null) payload = this.single;
    else if (this.buf !== null) payload = this.buf.length === this.keptLen ? this.buf : this.buf.subarray(0, this.keptLen);
    else if (this.pieces !== null && (this.closeTail(), this.pieces.length > 0)) {
      payload = this.pieces[0]!;
      if (this.pieces.length > 1) lazy = new PayloadPieces(this.pieces.slice(), this.keptLen, maskingKey);
    } else payload = new Uint8Array(0);
    // §5.3: unmask into a new buffer; the bytes as sent stay in `payload`.
    const data = lazy !== null ? payload : maskingKey !== null ? applyMask(payload, maskingKey, 0) : payload;

    const alerts: Alert[] = [];
    if (this.pendingResync !== null) {
      const { lostAt, missing } = this.pendingResync;
      const skipped = this.frameStart - lostAt;
      // A stream joined mid-way whose first byte starts a frame skipped nothing: no notice.
      if (skipped > 0 || missing > 0) alerts.push(
        this.alert(
          'frame.resync',
          `Framing was lost at stream offset ${lostAt} and picked up again here after ${skipped} bytes` +
            (missing > 0 ? ` (${missing} of them not captured).` : '.'),
          { skipped, missing, lostAt },
        ),
      );
      this.pendingResync = null;
    }
    if (this.headerAlerts !== null) for (const a of this.headerAlerts) alerts.push(a);
    if (!this.tooLarge && this.payloadLength > this.limits.maxFramePayload) {
      alerts.push(
        this.alert(
          'frame.payload-truncated',
          `Payload of ${this.payloadLength} bytes is over the ${this.limits.maxFramePayload}-byte limit: only the first ${this.keepLimit} bytes are kept.`,
          { length: this.payloadLength, limit: this.limits.maxFramePayload, kept: this.keptLen },
        ),
      );
    }
    if (this.gapMissing > 0) {
      alerts.push(
        this.alert(
          'frame.payload-truncated',
          `${this.gapMissing} payload bytes were not captured (gap at stream offset ${this.gapAt}): the kept payload stops at the gap, ${this.keptLen} of ${this.payloadLength} bytes.`,
          { missing: this.gapMissing, gapAt: this.gapAt, kept: this.keptLen },
        ),
      );
    }
    if (incomplete) {
      const missing = this.headerLength - this.hdrLen + this.payloadLength - this.received;
      const where =
        this.hdrLen < this.headerLength
          ? `inside the header (${this.hdrLen} of ${this.headerLength} bytes)`
          : `after ${this.received} of ${this.payloadLength} payload bytes`;
      alerts.push(this.alert('frame.incomplete', `Stream ended ${where}: ${missing} bytes of the frame are missing.`, { missing }));
    }

    const frame: Frame = {
      direction: this.direction,
      offset: this.frameStart,
      fin: this.fin,
      rsv1: (this.rsv & 4) !== 0,
      rsv2: (this.rsv & 2) !== 0,
      rsv3: (this.rsv & 1) !== 0,
      opcode: this.opcode,
      opcodeName: opcodeName(this.opcode),
      masked: this.masked,
      maskingKey,
      payloadLength: this.payloadLength,
      lengthEncoding: this.lengthEncoding,
      headerLength: this.headerLength,
      header,
      payload,
      data,
      truncated: this.keptLen < this.payloadLength || this.tooLarge,
      incomplete,
      start: this.startPos,
      end: this.lastPos,
      alerts,
    };
    if (lazy !== null) defineLazyBytes(frame, lazy, true);
    this.out.push(frame);
  }

  // --- resynchronisation ----------------------------------------------------------------------

  /**
   * Could a frame header start at stream offset `at`, judging by the buffered bytes? Returns
   * the candidate frame's total length, IMPLAUSIBLE, or UNDECIDED when the bytes seen so far
   * pass but more are needed. Plausible means what a conforming peer would send in this
   * direction: a defined opcode, only negotiated RSV bits, MASK = (sent by the client) (§5.1),
   * a minimal length encoding (§5.2), and for control frames FIN set and at most 125 bytes (§5.5).
   */
  private plausibleAt(at: number): number {
    const avail = this.q.end - at;
    if (avail < 1) return UNDECIDED;
    const b0 = this.q.byteAt(at);
    const opcode = b0 & 0x0f;
    if (((b0 >> 4) & 7 & ~this.allowedRsv) !== 0) return IMPLAUSIBLE;
    if (isReservedOpcode(opcode)) return IMPLAUSIBLE;
    const control = isControlOpcode(opcode);
    if (control && (b0 & 0x80) === 0) return IMPLAUSIBLE;
    if (avail < 2) return UNDECIDED;
    const b1 = this.q.byteAt(at + 1);
    const masked = (b1 & 0x80) !== 0;
    if (masked !== (this.direction === 'client')) return IMPLAUSIBLE;
    const len7 = b1 & 0x7f;
    if (control && len7 > MAX_CONTROL_PAYLOAD) return IMPLAUSIBLE;
    const maskBytes = masked ? 4 : 0;
    if (len7 < 126) return 2 + maskBytes + len7;
    if (len7 === 126) {
      if (avail < 4) return UNDECIDED;
      const len = (this.q.byteAt(at + 2) << 8) | this.q.byteAt(at + 3);
      return len < 126 ? IMPLAUSIBLE : 4 + maskBytes + len;
    }
    if (avail < 10) return UNDECIDED;
    let hi = 0;
    let lo = 0;
    for (let i = 0; i < 4; i++) hi = hi * 256 + this.q.byteAt(at + 2 + i);
    for (let i = 0; i < 4; i++) lo = lo * 256 + this.q.byteAt(at + 6 + i);
    if (hi > MAX_SAFE_HIGH) return IMPLAUSIBLE;
    const len = hi * TWO_POW_32 + lo;
    return len <= 0xffff ? IMPLAUSIBLE : 10 + maskBytes + len;
  }

  /**
   * One step of the scan while lost: returns true when framing was found again (state is then
   * Info at the candidate), false when more bytes are needed. Every decision depends only on
   * the bytes themselves and on gap/end boundaries (`final`), never on how the bytes were
   * chunked, so a resync lands on the same offset however the stream arrived.
   */
  private scan(final: boolean): boolean {
    for (;;) {
      if (this.q.length === 0) return false;
      const p = this.q.begin;
      const size = this.plausibleAt(p);
      if (size === IMPLAUSIBLE) {
        this.q.discardTo(p + 1);
        continue;
      }
      if (size === UNDECIDED) {
        if (!final) return false;
        this.q.discardTo(p + 1);
        continue;
      }
      const e = p + size;
      let accept: boolean;
      if (size > RESYNC_WINDOW) {
        // Too big to confirm within the window: trust the (strictly checked) header.
        accept = true;
      } else if (e < this.q.end) {
        const next = this.plausibleAt(e);
        if (next === UNDECIDED && !final) return false;
        // At a boundary, a next header that passes the checks its bytes allow counts as plausible.
        accept = next !== IMPLAUSIBLE;
      } else if (e === this.q.end) {
        // The candidate ends exactly where the bytes end: wait for the next byte, unless the
        // stream (or the captured part of it) ends right there, or unless this is the first
        // captured segment of a stream joined mid-way, starting with the header and ending
        // with the frame. Senders write whole frames, so that is as good a confirmation as the
        // next header, and waiting for it would show this frame after later packets of the
        // other direction.
        if (!final && !(p === 0 && e === this.firstSegmentEnd)) return false;
        accept = true;
      } else {
        if (!final) return false;
        accept = false;
      }
      if (!accept) {
        this.q.discardTo(p + 1);
        continue;
      }
      this.pendingResync = { lostAt: this.lostAt, missing: this.lostMissing };
      this.state = 'info';
      return true;
    }
  }
}
