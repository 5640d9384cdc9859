/**
 * Protocol Buffers without a schema, as `protoc --decode_raw` shows them
 * (https://protobuf.dev/programming-guides/encoding/): each field's number and wire type, and
 * its value: varints as unsigned integers, fixed64/fixed32 in hex, length-delimited fields as
 * a nested message when they parse as one, else as text when they are UTF-8, else as bytes.
 *
 * In NDJSON a message is an array of `{ "field": n, "wire": "varint" | "i64" | "len" | "group"
 * | "i32", "value": … }`, a nested message being such an array. A binary message is decoded
 * only when it parses whole; it is never guessed by sniffing (nearly any short byte string is
 * some protobuf message), only chosen with --app protobuf or a subprotocol naming it.
 */
import { binaryFormatDecoder, exact, MAX_DEPTH, Reader, text } from './binary-reader.js';
import type { AppDecoder, AppPart, AppValue, DecoderContext } from './types.js';
import { bytesNote, SUMMARY_VALUE_CHARS } from './values.js';

const WIRE = ['varint', 'i64', 'len', 'group', 'end-group', 'i32'] as const;
/** Field numbers are 1 to 2^29 - 1 (encoding guide, "Message Structure"). */
const MAX_FIELD = 2 ** 29 - 1;

type Field = { field: number; wire: string; value: AppValue };

/** A varint of at most 10 bytes, exact (a number while safe). */
function varint(r: Reader): number | string | undefined {
  let result = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    const b = r.u8();
    if (b === undefined) return undefined;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return exact(BigInt.asUintN(64, result));
  }
  return undefined;
}

function hex(bytes: Uint8Array): string {
  // Little-endian on the wire: shown most significant byte first, as decode_raw does.
  return `0x${Buffer.from(bytes).reverse().toString('hex')}`;
}

/** The fields of one message up to `end` (or to a matching end-group), or undefined. */
function fields(r: Reader, end: number, depth: number, group: number | null): Field[] | undefined {
  if (depth > MAX_DEPTH) return undefined;
  const out: Field[] = [];
  while (r.at < end) {
    const key = varint(r);
    if (typeof key !== 'number') return undefined;
    const wire = key & 7;
    const field = Math.floor(key / 8);
    if (field < 1 || field > MAX_FIELD || wire > 5) return undefined;
    switch (wire) {
      case 0: {
        const v = varint(r);
        if (v === undefined) return undefined;
        out.push({ field, wire: 'varint', value: v });
        break;
      }
      case 1:
      case 5: {
        const bytes = r.take(wire === 1 ? 8 : 4);
        if (bytes === undefined || r.at > end) return undefined;
        out.push({ field, wire: WIRE[wire], value: hex(bytes) });
        break;
      }
      case 2: {
        const n = varint(r);
        if (typeof n !== 'number' || n > end - r.at) return undefined;
        out.push({ field, wire: 'len', value: lengthDelimited(r.take(n)!, depth) });
        break;
      }
      case 3: {
        const inner = fields(r, end, depth + 1, field);
        if (inner === undefined) return undefined;
        out.push({ field, wire: 'group', value: inner });
        break;
      }
      case 4:
        // An end-group closes the group it names, and nothing else.
        return group === field ? out : undefined;
    }
  }
  return group === null && r.at === end ? out : undefined;
}

/** A nested message if the bytes are one, else text if UTF-8, else bytes (decode_raw's order). */
function lengthDelimited(bytes: Uint8Array, depth: number): AppValue {
  if (bytes.length > 0) {
    const nested = fields(new Reader(bytes), bytes.length, depth + 1, null);
    if (nested !== undefined) return nested;
  }
  return text(bytes) ?? bytes.slice();
}

/** The whole message as protobuf fields, or undefined when it does not parse whole. */
export function decodeProtobuf(bytes: Uint8Array): AppValue | undefined {
  if (bytes.length === 0) return undefined;
  return fields(new Reader(bytes), bytes.length, 0, null);
}

/** `1: 150 2: "testing" 3 { 1: 2 }`, as decode_raw prints a message, on one line and cut. */
export function protobufText(value: AppValue, max = SUMMARY_VALUE_CHARS): string {
  let out = '';
  const walk = (list: AppValue): boolean => {
    for (const f of list as Field[]) {
      if (out.length > max) return false;
      if (out !== '') out += ' ';
      if (Array.isArray(f.value)) {
        out += `${f.field} {`;
        if (!walk(f.value)) return false;
        out += ' }';
      } else {
        out += `${f.field}: ${f.value instanceof Uint8Array ? bytesNote(f.value) : typeof f.value === 'string' && f.wire === 'len' ? JSON.stringify(f.value) : String(f.value)}`;
      }
    }
    return true;
  };
  walk(value);
  return out.length > max ? `${out.slice(0, max)}…` : out;
}

function firstPart(bytes: Uint8Array): AppPart | null {
  const b = bytes[0];
  if (b === undefined) return null;
  return { text: b.toString(16).padStart(2, '0'), meaning: `the first key (a varint): field number ${b >> 3}${b & 0x80 ? ' and more' : ''}, wire type ${b & 7} (${WIRE[b & 7] ?? 'invalid'})` };
}

export function createProtobufDecoder(context: DecoderContext): AppDecoder {
  return binaryFormatDecoder('protobuf', context.explain, decodeProtobuf, () => 'message', (v) => protobufText(v), firstPart);
}
