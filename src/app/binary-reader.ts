/**
 * What the binary formats (MessagePack, CBOR, protobuf) share: a cursor over a message that
 * reports "not this format" by returning undefined instead of throwing, strict UTF-8, and
 * 64-bit integers shown exactly (a number while it is safe, decimal digits beyond).
 */
import { appEvent, type AppDecoder, type AppInput, type AppOutput, type AppPart, type AppValue } from './types.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Nesting deeper than this is taken as not the format (it also bounds the recursion). */
export const MAX_DEPTH = 64;

export class Reader {
  at = 0;
  private view: DataView | null = null;

  constructor(readonly bytes: Uint8Array) {}

  get left(): number {
    return this.bytes.length - this.at;
  }

  /** The next `n` bytes (a view), or undefined when fewer are left. */
  take(n: number): Uint8Array | undefined {
    if (n > this.left) return undefined;
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  u8(): number | undefined {
    return this.at < this.bytes.length ? this.bytes[this.at++] : undefined;
  }

  /** A big-endian unsigned integer of 1, 2 or 4 bytes. */
  uint(n: 1 | 2 | 4): number | undefined {
    if (n > this.left) return undefined;
    const v = n === 1 ? this.bytes[this.at]! : n === 2 ? this.dv().getUint16(this.at) : this.dv().getUint32(this.at);
    this.at += n;
    return v;
  }

  /** A big-endian 64-bit integer, exact (see exact()). */
  uint64(signed: boolean): number | string | undefined {
    if (this.left < 8) return undefined;
    const v = signed ? this.dv().getBigInt64(this.at) : this.dv().getBigUint64(this.at);
    this.at += 8;
    return exact(v);
  }

  float(n: 2 | 4 | 8): number | undefined {
    if (n > this.left) return undefined;
    const v = n === 2 ? half(this.dv().getUint16(this.at)) : n === 4 ? this.dv().getFloat32(this.at) : this.dv().getFloat64(this.at);
    this.at += n;
    return v;
  }

  private dv(): DataView {
    return (this.view ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength));
  }
}

/** A 64-bit integer as a JSON number while it is exact, as decimal digits beyond. */
export function exact(v: bigint): number | string {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
}

/** UTF-8 text, or undefined when the bytes are not valid UTF-8. */
export function text(bytes: Uint8Array): string | undefined {
  // Map keys and short values are mostly ASCII: spelt out here, a TextDecoder call costs more.
  if (bytes.length <= 32) {
    let out = '';
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b >= 0x80) return decodeStrict(bytes);
      out += String.fromCharCode(b);
    }
    return out;
  }
  return decodeStrict(bytes);
}

function decodeStrict(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** IEEE 754 half precision (RFC 8949 Appendix D). */
function half(bits: number): number {
  const exp = (bits >> 10) & 0x1f;
  const mant = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** A number JSON can carry: NaN and the infinities become strings. */
export function jsonNumber(n: number): number | string {
  return Number.isFinite(n) ? n : String(n);
}

/**
 * The decoder of a binary payload format: each binary message that parses whole becomes one
 * app event (text messages, and binary ones that do not parse, are left as they are: a
 * format found by sniffing proves nothing about the next message).
 */
export function binaryFormatDecoder(protocol: string, explain: boolean, decode: (bytes: Uint8Array) => AppValue | undefined, kind: (value: AppValue) => string, summary: (value: AppValue) => string, part: (bytes: Uint8Array) => AppPart | null): AppDecoder {
  return {
    protocol,
    gaveUp: null,
    session: null,
    message(input: AppInput): AppOutput[] {
      if (input.text !== null) return [];
      const value = decode(input.data);
      if (value === undefined) return [];
      const first = explain ? part(input.data) : null;
      return [
        appEvent(input, {
          protocol,
          kind: kind(value),
          summary: `${protocol} ${summary(value)}`,
          fields: { data: value },
          ...(explain ? { parts: first ? [first] : [], detail: { label: 'decoded', value } } : {}),
        }),
      ];
    },
    end: () => [],
  };
}

/** "map", "array", "string" …: the JSON type of a decoded value, bytes as "bytes". */
export function valueKind(value: AppValue): string {
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return 'bytes';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'object' ? 'map' : typeof value;
}
