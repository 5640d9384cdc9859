/**
 * MessagePack (https://github.com/msgpack/msgpack/blob/master/spec.md): a binary message is
 * decoded only when it is one whole MessagePack value with nothing left over. Maps become
 * objects (keys that are not strings are written as their JSON), bin as bytes, ext as
 * `{ "ext": type, "data": bytes }` (the timestamp extension, type -1, as an ISO time), and
 * 64-bit integers exactly.
 */
import { binaryFormatDecoder, exact, jsonNumber, MAX_DEPTH, Reader, text, valueKind } from './binary-reader.js';
import type { AppDecoder, AppPart, AppValue, DecoderContext } from './types.js';
import { compactValue } from './values.js';

/** The whole message as one MessagePack value, or undefined when it is not exactly one. */
export function decodeMsgpack(bytes: Uint8Array): AppValue | undefined {
  const r = new Reader(bytes);
  const value = read(r, 0);
  return value !== undefined && r.left === 0 ? value : undefined;
}

/** Sniffing: a map or array with something in it, parsing whole. */
export function isMsgpack(bytes: Uint8Array): boolean {
  const value = decodeMsgpack(bytes);
  return value !== undefined && typeof value === 'object' && value !== null && !(value instanceof Uint8Array) && Object.keys(value).length > 0;
}

function read(r: Reader, depth: number): AppValue | undefined {
  if (depth > MAX_DEPTH) return undefined;
  const b = r.u8();
  if (b === undefined) return undefined;
  if (b <= 0x7f) return b;
  if (b >= 0xe0) return b - 0x100;
  if (b <= 0x8f) return map(r, b & 0x0f, depth);
  if (b <= 0x9f) return array(r, b & 0x0f, depth);
  if (b <= 0xbf) return str(r, b & 0x1f);
  switch (b) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
    case 0xc5:
    case 0xc6: {
      const n = r.uint(b === 0xc4 ? 1 : b === 0xc5 ? 2 : 4);
      return n === undefined ? undefined : r.take(n)?.slice();
    }
    case 0xc7:
    case 0xc8:
    case 0xc9: {
      const n = r.uint(b === 0xc7 ? 1 : b === 0xc8 ? 2 : 4);
      return n === undefined ? undefined : ext(r, n);
    }
    case 0xca:
      return num(r.float(4));
    case 0xcb:
      return num(r.float(8));
    case 0xcc:
      return r.uint(1);
    case 0xcd:
      return r.uint(2);
    case 0xce:
      return r.uint(4);
    case 0xcf:
      return r.uint64(false);
    case 0xd0: {
      const v = r.uint(1);
      return v === undefined ? undefined : (v << 24) >> 24;
    }
    case 0xd1: {
      const v = r.uint(2);
      return v === undefined ? undefined : (v << 16) >> 16;
    }
    case 0xd2: {
      const v = r.uint(4);
      return v === undefined ? undefined : v | 0;
    }
    case 0xd3:
      return r.uint64(true);
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
      return ext(r, 1 << (b - 0xd4));
    case 0xd9:
    case 0xda:
    case 0xdb: {
      const n = r.uint(b === 0xd9 ? 1 : b === 0xda ? 2 : 4);
      return n === undefined ? undefined : str(r, n);
    }
    case 0xdc:
    case 0xdd: {
      const n = r.uint(b === 0xdc ? 2 : 4);
      return n === undefined ? undefined : array(r, n, depth);
    }
    case 0xde:
    case 0xdf: {
      const n = r.uint(b === 0xde ? 2 : 4);
      return n === undefined ? undefined : map(r, n, depth);
    }
    default:
      // 0xc1 is never used.
      return undefined;
  }
}

const num = (n: number | undefined) => (n === undefined ? undefined : jsonNumber(n));

function str(r: Reader, n: number): string | undefined {
  const bytes = r.take(n);
  return bytes === undefined ? undefined : text(bytes);
}

function array(r: Reader, n: number, depth: number): AppValue[] | undefined {
  // Every element takes at least a byte: a count beyond what is left is not MessagePack.
  if (n > r.left) return undefined;
  const out: AppValue[] = [];
  for (let i = 0; i < n; i++) {
    const v = read(r, depth + 1);
    if (v === undefined) return undefined;
    out.push(v);
  }
  return out;
}

function map(r: Reader, n: number, depth: number): { [key: string]: AppValue } | undefined {
  if (2 * n > r.left) return undefined;
  const out: { [key: string]: AppValue } = {};
  for (let i = 0; i < n; i++) {
    const k = read(r, depth + 1);
    if (k === undefined) return undefined;
    const v = read(r, depth + 1);
    if (v === undefined) return undefined;
    out[typeof k === 'string' ? k : compactValue(k, Infinity)] = v;
  }
  return out;
}

/** An extension (type, then data): the timestamp extension (-1) as an ISO time. */
function ext(r: Reader, n: number): AppValue | undefined {
  const t = r.uint(1);
  const data = r.take(n);
  if (t === undefined || data === undefined) return undefined;
  const type = (t << 24) >> 24;
  if (type === -1) {
    const time = timestamp(data);
    if (time !== undefined) return { ext: -1, timestamp: time };
  }
  return { ext: type, data: data.slice() };
}

/** The timestamp extension's three forms (spec "Timestamp extension type"). */
function timestamp(d: Uint8Array): string | undefined {
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  let seconds: number;
  let nanos = 0;
  if (d.length === 4) seconds = view.getUint32(0);
  else if (d.length === 8) {
    const hi = view.getUint32(0);
    nanos = hi >>> 2;
    seconds = (hi & 3) * 2 ** 32 + view.getUint32(4);
  } else if (d.length === 12) {
    nanos = view.getUint32(0);
    seconds = Number(view.getBigInt64(4));
  } else return undefined;
  const date = new Date(seconds * 1000);
  if (Number.isNaN(date.getTime()) || nanos > 999_999_999) return undefined;
  return date.toISOString().replace(/\.\d{3}Z$/, `.${String(nanos).padStart(9, '0')}Z`);
}

/** The first byte's format, for --explain. */
function firstPart(bytes: Uint8Array): AppPart | null {
  const b = bytes[0];
  if (b === undefined) return null;
  const hex = b.toString(16).padStart(2, '0');
  if (b >= 0x80 && b <= 0x8f) return { text: hex, meaning: `fixmap: a map of ${b & 0x0f} key/value pair(s) follows` };
  if (b >= 0x90 && b <= 0x9f) return { text: hex, meaning: `fixarray: an array of ${b & 0x0f} element(s) follows` };
  if (b === 0xdc || b === 0xdd) return { text: hex, meaning: `array 16/32: a ${b === 0xdc ? 2 : 4}-byte element count follows` };
  if (b === 0xde || b === 0xdf) return { text: hex, meaning: `map 16/32: a ${b === 0xde ? 2 : 4}-byte pair count follows` };
  return { text: hex, meaning: 'the first byte names the type of the value' };
}

export function createMsgpackDecoder(context: DecoderContext): AppDecoder {
  return binaryFormatDecoder('msgpack', context.explain, decodeMsgpack, valueKind, (v) => compactValue(v), firstPart);
}
