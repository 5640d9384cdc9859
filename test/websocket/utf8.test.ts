import { describe, expect, it } from 'vitest';
import { isValidUtf8, isValidUtf8Prefix } from '../../src/websocket/utf8.js';

const b = (...x: number[]) => new Uint8Array(x);

describe('UTF-8 validation (RFC 6455 §8.1, RFC 3629)', () => {
  it('accepts valid text and rejects overlongs, surrogates and stray bytes', () => {
    expect(isValidUtf8(new TextEncoder().encode('κόσμε 🌍'))).toBe(true);
    expect(isValidUtf8(b(0xc0, 0xaf))).toBe(false); // overlong '/'
    expect(isValidUtf8(b(0xed, 0xa0, 0x80))).toBe(false); // UTF-16 surrogate
    expect(isValidUtf8(b(0xf4, 0x90, 0x80, 0x80))).toBe(false); // above U+10FFFF
    expect(isValidUtf8(b(0x80))).toBe(false);
  });

  it('accepts a prefix cut inside a code point but not a broken one', () => {
    const globe = new TextEncoder().encode('a🌍'); // 61 f0 9f 8c 8d
    for (let cut = 2; cut < globe.length; cut++) expect(isValidUtf8Prefix(globe.subarray(0, cut)), `cut ${cut}`).toBe(true);
    expect(isValidUtf8Prefix(b(0x61, 0xff))).toBe(false);
    expect(isValidUtf8Prefix(b(0xf0, 0x9f, 0x41))).toBe(false);
    expect(isValidUtf8Prefix(b(0xc3, 0xa9, 0xc3))).toBe(true);
  });
});
