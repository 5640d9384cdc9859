import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyMask } from '../../src/websocket/mask.js';

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

/** The RFC 6455 §5.3 formula, byte by byte: the reference the fast paths must match. */
function reference(input: Uint8Array, key: Uint8Array, keyOffset: number): Uint8Array {
  const out = new Uint8Array(input.length);
  for (let i = 0; i < input.length; i++) out[i] = input[i]! ^ key[(keyOffset + i) & 3]!;
  return out;
}

/** `bytes` placed at byte offset `shift` of a larger buffer, to reach aligned and unaligned paths. */
function shifted(bytes: Uint8Array, shift: number): Uint8Array {
  const backing = new Uint8Array(bytes.length + shift + 3);
  backing.fill(0xaa);
  backing.set(bytes, shift);
  return backing.subarray(shift, shift + bytes.length);
}

describe('applyMask', () => {
  it('masks "Hello" with the RFC 6455 §5.7 key', () => {
    const out = applyMask(new TextEncoder().encode('Hello'), hex('37fa213d'), 0);
    expect(Buffer.from(out).toString('hex')).toBe('7f9f4d5158');
  });

  it('unmasks the RFC 6455 §5.7 masked payload back to "Hello"', () => {
    const out = applyMask(hex('7f9f4d5158'), hex('37fa213d'), 0);
    expect(new TextDecoder().decode(out)).toBe('Hello');
  });

  it('matches the §5.3 formula for any input, key, key offset and buffer alignment', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.nat(1000),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 7 }),
        (bytes, key, keyOffset, inShift, outShift) => {
          const input = shifted(bytes, inShift);
          const before = Uint8Array.from(input);
          const expected = reference(bytes, key, keyOffset);
          expect(applyMask(input, key, keyOffset)).toEqual(expected);
          const output = shifted(new Uint8Array(bytes.length), outShift);
          const returned = applyMask(input, key, keyOffset, output);
          expect(returned).toBe(output);
          expect(output).toEqual(expected);
          expect(input).toEqual(before);
        },
      ),
    );
  });

  it('matches the formula at every length around the word loop, at every alignment and key offset', () => {
    // fast-check draws mostly short arrays, which never reach the word loop (64 bytes and up):
    // walk its lengths one by one, so each tail length after the unrolled words is met.
    const key = hex('a1b2c3d4');
    const bytes = Uint8Array.from({ length: 160 }, (_, i) => (i * 37 + 11) & 0xff);
    for (let n = 56; n <= 160; n++) {
      for (let shift = 0; shift < 4; shift++) {
        for (let keyOffset = 0; keyOffset < 4; keyOffset++) {
          const input = shifted(bytes.subarray(0, n), shift);
          const expected = reference(input, key, keyOffset);
          expect(applyMask(input, key, keyOffset)).toEqual(expected);
          const output = shifted(new Uint8Array(n), shift);
          applyMask(input, key, keyOffset, output);
          expect(output).toEqual(expected);
        }
      }
    }
  });

  it('writes only input.length bytes of a longer output', () => {
    const output = new Uint8Array(40).fill(7);
    applyMask(new Uint8Array(33), hex('01020304'), 1, output);
    expect(Array.from(output.subarray(33))).toEqual([7, 7, 7, 7, 7, 7, 7]);
    expect(output[0]).toBe(2);
    expect(output[32]).toBe(2);
  });

  it('is its own inverse', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.nat(), (bytes, key, off) => {
        expect(applyMask(applyMask(bytes, key, off), key, off)).toEqual(bytes);
      }),
    );
  });

  it('unmasks a payload split into pieces with a running key index', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.array(fc.nat(200)), (bytes, key, cuts) => {
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const joined = new Uint8Array(bytes.length);
        let from = 0;
        for (const to of [...points, bytes.length]) {
          applyMask(bytes.subarray(from, to), key, from, joined.subarray(from, to));
          from = to;
        }
        expect(joined).toEqual(reference(bytes, key, 0));
      }),
    );
  });

  it('leaves data unchanged with an all-zero key', () => {
    const data = hex('00ff10203040506070');
    expect(applyMask(data, new Uint8Array(4), 3)).toEqual(data);
  });

  it('rejects a short key or a short output (caller bugs, not traffic)', () => {
    expect(() => applyMask(new Uint8Array(4), new Uint8Array(3), 0)).toThrow(RangeError);
    expect(() => applyMask(new Uint8Array(4), new Uint8Array(4), 0, new Uint8Array(3))).toThrow(RangeError);
  });
});
