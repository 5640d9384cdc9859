import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../../src/websocket/frame-encoder.js';

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

const KEY = Uint8Array.from([0x37, 0xfa, 0x21, 0x3d]);

describe('encodeFrame: RFC 6455 §5.7 examples', () => {
  it('single-frame unmasked text "Hello"', () => {
    expect(toHex(encodeFrame({ opcode: 1, payload: 'Hello' }))).toBe('810548656c6c6f');
  });

  it('single-frame masked text "Hello"', () => {
    expect(toHex(encodeFrame({ opcode: 1, payload: 'Hello', maskingKey: KEY }))).toBe('818537fa213d7f9f4d5158');
  });

  it('fragmented unmasked text "Hel" + "lo"', () => {
    expect(toHex(encodeFrame({ opcode: 1, payload: 'Hel', fin: false }))).toBe('010348656c');
    expect(toHex(encodeFrame({ opcode: 0, payload: 'lo' }))).toBe('80026c6f');
  });

  it('unmasked ping and masked pong', () => {
    expect(toHex(encodeFrame({ opcode: 9, payload: 'Hello' }))).toBe('890548656c6c6f');
    expect(toHex(encodeFrame({ opcode: 0xa, payload: 'Hello', maskingKey: KEY }))).toBe('8a8537fa213d7f9f4d5158');
  });

  it('256 bytes binary with a 16-bit length', () => {
    const payload = Uint8Array.from({ length: 256 }, (_, i) => i);
    const out = encodeFrame({ opcode: 2, payload });
    expect(toHex(out.subarray(0, 4))).toBe('827e0100');
    expect(out.length).toBe(260);
    expect(out.subarray(4)).toEqual(payload);
  });

  it('64 KiB binary with a 64-bit length', () => {
    const payload = new Uint8Array(65536).fill(0x5a);
    const out = encodeFrame({ opcode: 2, payload });
    expect(toHex(out.subarray(0, 10))).toBe('827f0000000000010000');
    expect(out.length).toBe(65546);
    expect(out.subarray(10)).toEqual(payload);
  });
});

describe('encodeFrame: any header, including wrong ones', () => {
  it('sets FIN, RSV1-3 and reserved opcodes as asked', () => {
    expect(toHex(encodeFrame({ opcode: 0x3, fin: false, rsv1: true }))).toBe('4300');
    expect(toHex(encodeFrame({ opcode: 0xf, rsv2: true, rsv3: true }))).toBe('bf00');
    expect(toHex(encodeFrame({ opcode: 0x8, rsv1: true, rsv2: true, rsv3: true }))).toBe('f800');
  });

  it('empty payload by default', () => {
    expect(toHex(encodeFrame({ opcode: 0xa }))).toBe('8a00');
    expect(toHex(encodeFrame({ opcode: 0x9, maskingKey: KEY }))).toBe('898037fa213d');
  });

  it('forces non-minimal length encodings', () => {
    expect(toHex(encodeFrame({ opcode: 1, payload: 'Hello', lengthEncoding: 16 }))).toBe('817e000548656c6c6f');
    expect(toHex(encodeFrame({ opcode: 1, payload: 'Hello', lengthEncoding: 64 }))).toBe('817f000000000000000548656c6c6f');
    expect(toHex(encodeFrame({ opcode: 1, payload: 'Hello', lengthEncoding: 64, maskingKey: KEY }))).toBe(
      '81ff000000000000000537fa213d7f9f4d5158',
    );
  });

  it('chooses the minimal encoding at the boundaries 125/126 and 65535/65536', () => {
    expect(encodeFrame({ opcode: 2, payload: new Uint8Array(125) })[1]).toBe(125);
    expect(toHex(encodeFrame({ opcode: 2, payload: new Uint8Array(126) }).subarray(0, 4))).toBe('827e007e');
    expect(toHex(encodeFrame({ opcode: 2, payload: new Uint8Array(65535) }).subarray(0, 4))).toBe('827effff');
    expect(toHex(encodeFrame({ opcode: 2, payload: new Uint8Array(65536) }).subarray(0, 10))).toBe('827f0000000000010000');
  });

  it('lies about the length without sending the bytes', () => {
    expect(toHex(encodeFrame({ opcode: 2, declaredLength: 2n ** 63n - 1n }))).toBe('827f7fffffffffffffff');
    expect(toHex(encodeFrame({ opcode: 2, declaredLength: 2n ** 63n }))).toBe('827f8000000000000000');
    expect(toHex(encodeFrame({ opcode: 2, declaredLength: 2n ** 64n - 1n }))).toBe('827fffffffffffffffff');
    expect(toHex(encodeFrame({ opcode: 1, payload: 'Hi', declaredLength: 10 }))).toBe('810a4869');
    expect(toHex(encodeFrame({ opcode: 1, payload: 'Hi', declaredLength: 300 }))).toBe('817e012c4869');
    expect(toHex(encodeFrame({ opcode: 1, payload: 'Hi', declaredLength: 124, lengthEncoding: 16 }))).toBe('817e007c4869');
  });

  it('masks the payload without touching the caller\'s bytes', () => {
    const payload = new TextEncoder().encode('Hello');
    const before = Uint8Array.from(payload);
    const out = encodeFrame({ opcode: 1, payload, maskingKey: KEY });
    expect(payload).toEqual(before);
    expect(toHex(out.subarray(6))).toBe('7f9f4d5158');
  });

  it('encodes string payloads as UTF-8', () => {
    expect(toHex(encodeFrame({ opcode: 1, payload: 'é€' }))).toBe('8105c3a9e282ac');
  });

  it('throws only on impossible specs', () => {
    expect(() => encodeFrame({ opcode: 2, payload: new Uint8Array(200), lengthEncoding: 7 })).toThrow(RangeError);
    expect(() => encodeFrame({ opcode: 2, declaredLength: 126, lengthEncoding: 7 })).toThrow(RangeError);
    expect(() => encodeFrame({ opcode: 2, declaredLength: 65536, lengthEncoding: 16 })).toThrow(RangeError);
    expect(() => encodeFrame({ opcode: 2, maskingKey: new Uint8Array(3) })).toThrow(RangeError);
    expect(() => encodeFrame({ opcode: 2, maskingKey: new Uint8Array(5) })).toThrow(RangeError);
    expect(() => encodeFrame({ opcode: 16 })).toThrow(RangeError);
    expect(() => encodeFrame({ opcode: -1 })).toThrow(RangeError);
    expect(() => encodeFrame({ opcode: 2, declaredLength: 2n ** 64n })).toThrow(RangeError);
    expect(() => encodeFrame({ opcode: 2, declaredLength: -1 })).toThrow(RangeError);
    expect(() => encodeFrame({ opcode: 2, declaredLength: 1.5 })).toThrow(RangeError);
  });
});
