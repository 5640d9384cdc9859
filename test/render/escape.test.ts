import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeText, hasUnsafe, hexPreview } from '../../src/render/escape.js';

describe('escapeText (terminal safety)', () => {
  it('escapes ESC sequences, C0/C1 controls, DEL and bidi overrides', () => {
    expect(escapeText('a\x1b[31mred\x1b[0m')).toBe('a\\e[31mred\\e[0m');
    expect(escapeText('\x07\x00\x7f\u009b2J')).toBe('\\x07\\x00\\x7f\\x9b2J');
    expect(escapeText('line1\nline2\r\t')).toBe('line1\\nline2\\r\\t');
    expect(escapeText('abc\u202edcba\u2066x\u2069')).toBe('abc\\u{202e}dcba\\u{2066}x\\u{2069}');
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

describe('hexPreview', () => {
  it('shows bytes as spaced hex, cut with an ellipsis', () => {
    expect(hexPreview(new Uint8Array([0, 1, 0xab]))).toBe('00 01 ab');
    expect(hexPreview(new Uint8Array(20), 2)).toBe('00 00 …');
    expect(hexPreview(new Uint8Array(0))).toBe('');
  });
});
