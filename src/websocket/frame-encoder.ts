/**
 * Builds WebSocket frames (RFC 6455 §5.2) byte for byte, including deliberately wrong ones:
 * reserved opcodes, RSV bits, non-minimal or lying lengths, MSB-set 64-bit lengths, MASK on
 * server frames. Tests and the proxy's fault injection use it; it judges nothing.
 */
import { applyMask } from './mask.js';
import type { LengthEncoding } from './types.js';

export interface FrameSpec {
  /** 0x0-0xF, reserved values included. */
  opcode: number;
  /** A string is sent as UTF-8. */
  payload?: Uint8Array | string;
  /** Default true. */
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** 4 bytes: MASK=1 and the payload is masked with it (§5.3); null/absent: MASK=0. */
  maskingKey?: Uint8Array | null;
  /** Force a length encoding, possibly non-minimal (§5.2 demands the minimal one). */
  lengthEncoding?: LengthEncoding;
  /** The length written in the header instead of the payload's real length (hostile tests). */
  declaredLength?: number | bigint;
}

const MAX_UINT64 = (1n << 64n) - 1n;

function toBigLength(value: number | bigint): bigint {
  if (typeof value === 'number' && !Number.isInteger(value)) throw new RangeError(`declared length ${value} is not an integer`);
  const big = BigInt(value);
  if (big < 0n || big > MAX_UINT64) throw new RangeError(`declared length ${big} does not fit 64 bits`);
  return big;
}

/** The minimal encoding for a length (§5.2: 0-125 in 7 bits, up to 65535 in 16, else 64). */
function minimalEncoding(length: bigint): LengthEncoding {
  if (length <= 125n) return 7;
  if (length <= 0xffffn) return 16;
  return 64;
}

/** Encodes one frame: header, optional masking key, payload (masked when a key is given). */
export function encodeFrame(spec: FrameSpec): Uint8Array {
  if (!Number.isInteger(spec.opcode) || spec.opcode < 0 || spec.opcode > 0xf) {
    throw new RangeError(`opcode ${spec.opcode} does not fit 4 bits`);
  }
  const payload = typeof spec.payload === 'string' ? new TextEncoder().encode(spec.payload) : (spec.payload ?? new Uint8Array(0));
  const key = spec.maskingKey ?? null;
  if (key !== null && key.length !== 4) throw new RangeError(`masking key must have 4 bytes, got ${key.length}`);

  const declared = toBigLength(spec.declaredLength ?? payload.length);
  const encoding = spec.lengthEncoding ?? minimalEncoding(declared);
  // 126 and 127 in the 7-bit field announce the longer forms, so 7 bits carry at most 125.
  if (encoding === 7 && declared > 125n) throw new RangeError(`length ${declared} does not fit the 7-bit form (max 125)`);
  if (encoding === 16 && declared > 0xffffn) throw new RangeError(`length ${declared} does not fit the 16-bit form`);

  const extra = encoding === 7 ? 0 : encoding === 16 ? 2 : 8;
  const headerLength = 2 + extra + (key !== null ? 4 : 0);
  const out = new Uint8Array(headerLength + payload.length);

  out[0] =
    ((spec.fin ?? true) ? 0x80 : 0) |
    (spec.rsv1 === true ? 0x40 : 0) |
    (spec.rsv2 === true ? 0x20 : 0) |
    (spec.rsv3 === true ? 0x10 : 0) |
    spec.opcode;
  const maskBit = key !== null ? 0x80 : 0;
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (encoding === 7) {
    out[1] = maskBit | Number(declared);
  } else if (encoding === 16) {
    out[1] = maskBit | 126;
    view.setUint16(2, Number(declared));
  } else {
    out[1] = maskBit | 127;
    // §5.2: network byte order; values with the MSB set are written as asked.
    view.setBigUint64(2, declared);
  }

  if (key !== null) {
    out.set(key, 2 + extra);
    applyMask(payload, key, 0, out.subarray(headerLength));
  } else {
    out.set(payload, headerLength);
  }
  return out;
}
