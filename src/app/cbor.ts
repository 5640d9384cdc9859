/**
 * CBOR (RFC 8949): a binary message is decoded only when it is one whole data item with
 * nothing left over (§5.1's well-formedness, §3). Maps become objects (keys that are not text
 * written as their JSON), byte strings bytes, tags `{ "tag": n, "value": … }`, simple values
 * other than false, true and null `{ "simple": n }` (undefined is 23), integers exactly.
 */
import { binaryFormatDecoder, exact, jsonNumber, MAX_DEPTH, Reader, text, valueKind } from './binary-reader.js';
import type { AppDecoder, AppPart, AppValue, DecoderContext } from './types.js';
import { compactValue } from './values.js';

/** Returned by an item that is the "break" stop code (§3.2.1), which only ends indefinite items. */
const BREAK = Symbol('break');

/** The whole message as one CBOR data item, or undefined when it is not exactly one. */
export function decodeCbor(bytes: Uint8Array): AppValue | undefined {
  const r = new Reader(bytes);
  const value = item(r, 0);
  return value !== undefined && value !== BREAK && r.left === 0 ? value : undefined;
}

/** Sniffing: an array or map with something in it, parsing whole. */
export function isCbor(bytes: Uint8Array): boolean {
  const value = decodeCbor(bytes);
  return value !== undefined && typeof value === 'object' && value !== null && !(value instanceof Uint8Array) && Object.keys(value).length > 0;
}

/** The argument of an initial byte's additional information (§3): a count, length or value. */
function argument(r: Reader, info: number): number | bigint | undefined {
  if (info < 24) return info;
  if (info === 24) return r.uint(1);
  if (info === 25) return r.uint(2);
  if (info === 26) return r.uint(4);
  if (info === 27) {
    const bytes = r.take(8);
    if (bytes === undefined) return undefined;
    const v = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  // 28-30 are reserved (§3), 31 (indefinite) is handled by the caller.
  return undefined;
}

function item(r: Reader, depth: number): AppValue | typeof BREAK | undefined {
  if (depth > MAX_DEPTH) return undefined;
  const initial = r.u8();
  if (initial === undefined) return undefined;
  const major = initial >> 5;
  const info = initial & 0x1f;
  if (info === 31) return indefinite(r, major, depth);
  if (major === 7) return simple(r, info);
  const arg = argument(r, info);
  if (arg === undefined) return undefined;
  switch (major) {
    case 0:
      return typeof arg === 'bigint' ? exact(arg) : arg;
    case 1:
      return typeof arg === 'bigint' ? exact(-1n - arg) : -1 - arg;
    case 2:
    case 3: {
      if (typeof arg === 'bigint') return undefined;
      const bytes = r.take(arg);
      if (bytes === undefined) return undefined;
      return major === 2 ? bytes.slice() : text(bytes);
    }
    case 4:
      return typeof arg === 'bigint' ? undefined : array(r, arg, depth);
    case 5:
      return typeof arg === 'bigint' ? undefined : map(r, arg, depth);
    default: {
      // major 6: a tag on the next item (§3.4).
      const value = item(r, depth + 1);
      if (value === undefined || value === BREAK) return undefined;
      return { tag: typeof arg === 'bigint' ? exact(arg) : arg, value };
    }
  }
}

/** Major type 7 (§3.3): false, true, null, other simple values and floats. */
function simple(r: Reader, info: number): AppValue | typeof BREAK | undefined {
  switch (info) {
    case 20:
      return false;
    case 21:
      return true;
    case 22:
      return null;
    case 24: {
      const v = r.uint(1);
      // §3.3: values below 32 must use the one-byte form.
      return v === undefined || v < 32 ? undefined : { simple: v };
    }
    case 25:
      return num(r.float(2));
    case 26:
      return num(r.float(4));
    case 27:
      return num(r.float(8));
    default:
      return info < 24 ? { simple: info } : undefined;
  }
}

const num = (n: number | undefined) => (n === undefined ? undefined : jsonNumber(n));

/** Indefinite-length strings, arrays and maps, ended by the break code (§3.2). */
function indefinite(r: Reader, major: number, depth: number): AppValue | typeof BREAK | undefined {
  if (major === 7) return BREAK;
  if (major === 2 || major === 3) {
    // Chunks of definite length and the same major type (§3.2.3).
    const chunks: Uint8Array[] = [];
    for (;;) {
      const initial = r.u8();
      if (initial === undefined) return undefined;
      if (initial === 0xff) break;
      if (initial >> 5 !== major || (initial & 0x1f) === 31) return undefined;
      const n = argument(r, initial & 0x1f);
      if (n === undefined || typeof n === 'bigint') return undefined;
      const chunk = r.take(n);
      if (chunk === undefined) return undefined;
      chunks.push(chunk);
    }
    const joined = new Uint8Array(Buffer.concat(chunks));
    return major === 2 ? joined : text(joined);
  }
  if (major === 4 || major === 5) {
    const values: AppValue[] = [];
    for (;;) {
      const v = item(r, depth + 1);
      if (v === undefined) return undefined;
      if (v === BREAK) break;
      values.push(v);
    }
    if (major === 4) return values;
    if (values.length % 2 !== 0) return undefined;
    const out: { [key: string]: AppValue } = {};
    for (let i = 0; i < values.length; i += 2) out[key(values[i]!)] = values[i + 1]!;
    return out;
  }
  // Major types 0, 1 and 6 have no indefinite form.
  return undefined;
}

function array(r: Reader, n: number, depth: number): AppValue[] | undefined {
  if (n > r.left) return undefined;
  const out: AppValue[] = [];
  for (let i = 0; i < n; i++) {
    const v = item(r, depth + 1);
    if (v === undefined || v === BREAK) return undefined;
    out.push(v);
  }
  return out;
}

function map(r: Reader, n: number, depth: number): { [key: string]: AppValue } | undefined {
  if (2 * n > r.left) return undefined;
  const out: { [key: string]: AppValue } = {};
  for (let i = 0; i < n; i++) {
    const k = item(r, depth + 1);
    if (k === undefined || k === BREAK) return undefined;
    const v = item(r, depth + 1);
    if (v === undefined || v === BREAK) return undefined;
    out[key(k)] = v;
  }
  return out;
}

const key = (k: AppValue) => (typeof k === 'string' ? k : compactValue(k, Infinity));

const MAJOR = ['unsigned integer', 'negative integer', 'byte string', 'text string', 'array', 'map', 'tag', 'simple value or float'];

/** The initial byte, for --explain (§3: major type in the high 3 bits, additional information in the low 5). */
function firstPart(bytes: Uint8Array): AppPart | null {
  const b = bytes[0];
  if (b === undefined) return null;
  const info = b & 0x1f;
  const what = info < 24 ? `${info}` : info === 31 ? 'indefinite, ended by ff' : `in the next ${1 << (info - 24)} byte(s)`;
  return { text: b.toString(16).padStart(2, '0'), meaning: `initial byte: major type ${b >> 5} (${MAJOR[b >> 5]}), count/length ${what} (RFC 8949 §3)` };
}

export function createCborDecoder(context: DecoderContext): AppDecoder {
  return binaryFormatDecoder('cbor', context.explain, decodeCbor, valueKind, (v) => compactValue(v), firstPart);
}
