/**
 * A frame's payload kept as the pieces it arrived in (views of the relay's read chunks), made
 * one buffer only when something reads it. wsproxy relays large messages in many 64 KiB reads:
 * copying each payload into a buffer of its own, then unmasking it into another (RFC 6455
 * §5.3), cost two fresh allocations of the message's size, and fresh memory is what made those
 * copies expensive (page faults, then the collector), not the copying itself. What the NDJSON
 * line needs of a binary message is its first bytes and its SHA-256: both are taken from the
 * pieces, unmasked through a small scratch buffer, and the whole `data` is never built.
 *
 * The frame and message objects keep `payload` and `data` as properties that build the buffer
 * on first read (and keep it), so every reader sees the same bytes as before; only when nobody
 * reads them is the copy saved. The pieces are never written to: the relay may still hold the
 * chunks they view (socket.write keeps a reference until the kernel has them).
 */
import { createHash } from 'node:crypto';
import { uninitialisedBytes } from './bytes.js';
import { applyMask } from './mask.js';

/** Unmasking for the hash goes through this many bytes at a time (plus 3 for alignment). */
const SCRATCH_SIZE = 64 * 1024;
let scratch: Uint8Array | null = null;

export class PayloadPieces {
  private asSent: Uint8Array | null = null;
  private unmasked: Uint8Array | null = null;
  private prefixBytes: Uint8Array | null = null;

  /**
   * `pieces`: the payload as sent, in order, `length` bytes together; `key`: the masking key,
   * or null when the frame is not masked.
   */
  constructor(
    private readonly pieces: readonly Uint8Array[],
    readonly length: number,
    private readonly key: Uint8Array | null,
  ) {}

  /** True once the whole unmasked buffer has been built (then readers share it). */
  get built(): boolean {
    return this.unmasked !== null;
  }

  /** The payload as sent (still masked for a masked frame), one buffer. */
  payload(): Uint8Array {
    if (this.key === null) return this.data();
    return (this.asSent ??= this.joined());
  }

  /**
   * The payload unmasked, one buffer. Copied, then unmasked in place: the buffer is ours, and a
   * piece seldom sits at the same alignment as its place in the payload, which would hold
   * applyMask to its byte loop.
   */
  data(): Uint8Array {
    if (this.unmasked === null) {
      const out = this.joined();
      this.unmasked = this.key === null ? out : applyMask(out, this.key, 0, out);
    }
    return this.unmasked;
  }

  /** The pieces copied into one new buffer (always new, unlike concatBytes: data() unmasks it in place). */
  private joined(): Uint8Array {
    const out = uninitialisedBytes(this.length);
    let at = 0;
    for (const piece of this.pieces) {
      out.set(piece, at);
      at += piece.length;
    }
    return out;
  }

  /**
   * The first `n` bytes unmasked (all when fewer), without building the whole: the same
   * buffer for the same `n`, so a reader that caches by identity (the hex of a frame and of its
   * message) does its work once.
   */
  prefix(n: number): Uint8Array {
    const size = Math.min(n, this.length);
    if (this.unmasked !== null || size === this.length) return size === this.length ? this.data() : this.unmasked!.subarray(0, size);
    if (this.prefixBytes !== null && this.prefixBytes.length === size) return this.prefixBytes;
    const out = new Uint8Array(size);
    let at = 0;
    for (const piece of this.pieces) {
      if (at === size) break;
      const part = piece.length > size - at ? piece.subarray(0, size - at) : piece;
      if (this.key === null) out.set(part, at);
      else applyMask(part, this.key, at, out.subarray(at));
      at += part.length;
    }
    this.prefixBytes = out;
    return out;
  }

  /** SHA-256 of the unmasked payload, in hex, hashed piece by piece. */
  sha256(): string {
    const hash = createHash('sha256');
    if (this.unmasked !== null) return hash.update(this.unmasked).digest('hex');
    const key = this.key;
    if (key === null) {
      for (const piece of this.pieces) hash.update(piece);
      return hash.digest('hex');
    }
    const buffer = (scratch ??= new Uint8Array(SCRATCH_SIZE + 3));
    let at = 0;
    for (const piece of this.pieces) {
      for (let from = 0; from < piece.length; from += SCRATCH_SIZE) {
        const part = piece.subarray(from, Math.min(from + SCRATCH_SIZE, piece.length));
        // Aligned like the piece, so applyMask's word loop runs.
        const shift = (part.byteOffset - buffer.byteOffset) & 3;
        const out = buffer.subarray(shift, shift + part.length);
        applyMask(part, key, at, out);
        hash.update(out);
        at += part.length;
      }
    }
    return hash.digest('hex');
  }
}

/**
 * Where a frame or message keeps its PayloadPieces: a property that is not enumerable, so
 * spreads, comparisons and JSON do not see it; on the objects that have none, looking it up
 * costs less than a WeakMap would (wsdump asks for every frame and message).
 */
const PIECES = Symbol('payload pieces');

/** The pieces `payload` is built from: kept when `data` is replaced (PIECES is then cleared). */
const PAYLOAD_PIECES = Symbol('payload pieces of payload');

type Lazy = { [PIECES]?: PayloadPieces; [PAYLOAD_PIECES]?: PayloadPieces };

/** Writing `data` or `payload` replaces the accessor with a plain value (and `data` forgets its pieces). */
function plain(target: object, name: 'data' | 'payload', value: Uint8Array): void {
  Object.defineProperty(target, name, { value, enumerable: true, configurable: true, writable: true });
}

/*
 * The accessors are the same four functions for every object, reading the pieces from the
 * object they are called on. They were closures made for each object, and with those V8's
 * scavenges kept every payload alive (and promoted it) until the next mark-compact: measured
 * in wsproxy, Node 20, the read chunks behind them piled up to ~70 MB between mark-compacts, 8
 * of them per 512 MiB relayed, where the same traffic without pieces, or with these shared
 * functions, is freed by each scavenge (docs/performance.md, "pieces kept alive by closures").
 */
const accessor = (get: (this: Lazy) => Uint8Array, set: (this: Lazy, value: Uint8Array) => void): PropertyDescriptor => ({ enumerable: true, configurable: true, get, set });
const DATA = accessor(
  function () {
    return this[PIECES]!.data();
  },
  function (value) {
    this[PIECES] = undefined;
    plain(this, 'data', value);
  },
);
const PAYLOAD = accessor(
  function () {
    return this[PAYLOAD_PIECES]!.payload();
  },
  function (value) {
    plain(this, 'payload', value);
  },
);

/**
 * Gives `target` a `data` (and, with `payload`, a `payload`) that builds the buffer from
 * `pieces` when first read; writing the property replaces it with a plain value.
 */
export function defineLazyBytes(target: { data: Uint8Array; payload?: Uint8Array }, pieces: PayloadPieces, payload: boolean): void {
  Object.defineProperty(target, PIECES, { value: pieces, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(target, 'data', DATA);
  if (!payload) return;
  Object.defineProperty(target, PAYLOAD_PIECES, { value: pieces, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(target, 'payload', PAYLOAD);
}

/** The pieces behind `target`'s `data`, while it has not been replaced. */
export function piecesOf(target: object): PayloadPieces | undefined {
  return (target as { [PIECES]?: PayloadPieces })[PIECES];
}

/**
 * At least the first `n` bytes of `target.data` (all when fewer), without building the whole of
 * it when it is in pieces. Otherwise `target.data` itself, whole: the same buffer on every call,
 * which the NDJSON encoder's hex cache relies on; a caller that wants only `n` cuts it.
 */
export function dataPrefix(target: { data: Uint8Array }, n: number): Uint8Array {
  const pieces = piecesOf(target);
  return pieces !== undefined ? pieces.prefix(n) : target.data;
}
