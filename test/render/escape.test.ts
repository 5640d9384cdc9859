import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeText, hasUnsafe, hexPreview, isUnsafeCodePoint, UNSAFE_RANGES } from '../../src/render/escape.js';
import { jsonText } from '../../src/render/json.js';

describe('escapeText (terminal safety)', () => {
  it('escapes ESC sequences, C0/C1 controls, DEL and bidi overrides', () => {
    expect(escapeText('a\x1b[31mred\x1b[0m')).toBe('a\\e[31mred\\e[0m');
    expect(escapeText('\x07\x00\x7f\u009b2J')).toBe('\\x07\\x00\\x7f\\x9b2J');
    expect(escapeText('line1\nline2\r\t')).toBe('line1\\nline2\\r\\t');
    expect(escapeText('abc\u202edcba\u2066x\u2069')).toBe('abc\\u{202e}dcba\\u{2066}x\\u{2069}');
  });

  it('shows invisible characters as escapes: tag characters, fillers, joiners, selectors, separators', () => {
    const hidden = [...'rm -rf /'].map((ch) => String.fromCodePoint(0xe0000 + ch.charCodeAt(0))).join('');
    expect(escapeText(`ok${hidden}!`)).toBe('ok\\u{e0072}\\u{e006d}\\u{e0020}\\u{e002d}\\u{e0072}\\u{e0066}\\u{e0020}\\u{e002f}!');
    expect(escapeText('shy\u00ad mvs\u180e cgj\u034f vs\ufe0f hf\u115f hjf\u3164 kh\u17b4 sep\u2029 nel\u0085 ann\ufff9')).toBe(
      'shy\\xad mvs\\u{180e} cgj\\u{34f} vs\\u{fe0f} hf\\u{115f} hjf\\u{3164} kh\\u{17b4} sep\\u{2029} nel\\x85 ann\\u{fff9}',
    );
  });

  it('lists every control, format, default-ignorable and separator character this Node.js knows', () => {
    const property = /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}]/u;
    const missed: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      if (property.test(String.fromCodePoint(cp)) !== isUnsafeCodePoint(cp)) missed.push(cp.toString(16));
    }
    expect(missed).toEqual([]);
    for (let i = 1; i < UNSAFE_RANGES.length; i++) expect(UNSAFE_RANGES[i]![0]).toBeGreaterThan(UNSAFE_RANGES[i - 1]![1] + 1);
  });

  it('doubles backslashes so an escape cannot be forged', () => {
    expect(escapeText('\\e[31m')).toBe('\\\\e[31m');
  });

  it('leaves ordinary text, including non-Latin scripts and emoji, alone', () => {
    expect(escapeText('Hello, κόσμε — 世界 🌍 {"a":1}')).toBe('Hello, κόσμε — 世界 🌍 {"a":1}');
  });

  it('cuts to a number of characters, not bytes or UTF-16 units', () => {
    expect(escapeText('🌍🌍🌍', 2)).toBe('🌍🌍…');
    expect(escapeText('abc', 3)).toBe('abc');
  });

  it('never lets a control character through (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const out = escapeText(s);
        expect(hasUnsafe(out.replaceAll('\\', ''))).toBe(false);
        expect(out).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
      }),
    );
  });
});

describe('jsonText', () => {
  it('writes C1, DEL, bidi, U+2028/9, U+FEFF and invisible characters as \\uXXXX, the same value for a JSON reader', () => {
    const value = { text: 'a\u009b2J\u0085\u007f\u202e\u2028\u2029\ufeff\u{e0041}\u00e9\u4e16', list: ['\u00ad'] };
    const json = jsonText(value);
    expect(json).toBe('{"text":"a\\u009b2J\\u0085\\u007f\\u202e\\u2028\\u2029\\ufeff\\udb40\\udc41\u00e9\u4e16","list":["\\u00ad"]}');
    expect(JSON.parse(json)).toEqual(value);
    expect(jsonText({ plain: 'ascii only' })).toBe(JSON.stringify({ plain: 'ascii only' }));
  });
});

describe('hexPreview', () => {
  it('shows bytes as spaced hex, cut with an ellipsis', () => {
    expect(hexPreview(new Uint8Array([0, 1, 0xab]))).toBe('00 01 ab');
    expect(hexPreview(new Uint8Array(20), 2)).toBe('00 00 …');
    expect(hexPreview(new Uint8Array(0))).toBe('');
  });
});
