/**
 * The payload column of a text frame's row shows the first characters of its text, escaped and
 * cut with "…". Only the bytes those characters need are decoded (issue 8); whatever the text,
 * the column must read as if the whole payload had been decoded.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeText } from '../../src/render/escape.js';
import { compactJson } from '../../src/render/json-text.js';
import { TableRenderer } from '../../src/render/table.js';
import { runs } from '../helpers/fuzz.js';
import { makeFrame } from '../websocket/frame-factory.js';

const CHARS = 20;

function previewOf(data: Uint8Array): string {
  const table = new TableRenderer({ colorLevel: 0, width: 200, view: 'frames', payloadChars: CHARS });
  const row = table.render({ type: 'frame', conn: 1, frame: makeFrame({ opcode: 1, direction: 'server', data, start: { packet: 1, ts: 0 }, end: { packet: 1, ts: 0 } }) });
  return row.slice(row.indexOf('"')).trimEnd();
}

describe('text preview in the frame table', () => {
  it('reads as the whole payload decoded, escaped and cut', () => {
    const text = fc.array(fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...'abc xyz"{}:,0123'.split('')) }, { weight: 1, arbitrary: fc.constantFrom('é', '漢', '😀', '\n', '\u001b', '\\') }), { maxLength: 3 * CHARS });
    fc.assert(
      fc.property(text, fc.nat(3), (chars, cut) => {
        // Sometimes cut inside the last character's bytes, as a capture limit would.
        const full = Buffer.from(chars.join(''));
        const data = full.subarray(0, Math.max(0, full.length - cut));
        if (data.length === 0) return;
        // A whole JSON text spread over lines (a tab, CR or LF in its first 4 x CHARS bytes) reads as compact JSON.
        const text = new TextDecoder().decode(data);
        const spread = data.subarray(0, 4 * CHARS).some((b) => b === 0x0a || b === 0x0d || b === 0x09);
        expect(previewOf(data)).toBe(`"${escapeText(spread ? (compactJson(text) ?? text) : text, CHARS)}"`);
      }),
      { numRuns: runs(1000) },
    );
  });

  it('shows JSON spread over lines on one line (a counterexample fast-check found: seed 389685417)', () => {
    expect(previewOf(Buffer.from('{\n}'))).toBe('"{}"');
    expect(previewOf(Buffer.from('{\n}aa'))).toBe('"{\\n}aa"');
  });

  it('judges a continuation frame by its first bytes only, as a preview shows only those', () => {
    // Text for longer than the preview looks at, then a control byte: shown as the text it starts with.
    const data = Buffer.concat([Buffer.from('a'.repeat(4 * CHARS)), Buffer.from([0x00, 0x01])]);
    const table = new TableRenderer({ colorLevel: 0, width: 200, view: 'frames', payloadChars: CHARS });
    const row = table.render({ type: 'frame', conn: 1, frame: makeFrame({ opcode: 0, fin: true, direction: 'server', data, start: { packet: 1, ts: 0 }, end: { packet: 1, ts: 0 } }) });
    expect(row).toContain(`"${'a'.repeat(CHARS)}…"`);
  });

  it('cuts right after the last character shown', () => {
    expect(previewOf(Buffer.from('a'.repeat(CHARS)))).toBe(`"${'a'.repeat(CHARS)}"`);
    expect(previewOf(Buffer.from('a'.repeat(CHARS + 1)))).toBe(`"${'a'.repeat(CHARS)}…"`);
    expect(previewOf(Buffer.from(`${'a'.repeat(CHARS)}é`))).toBe(`"${'a'.repeat(CHARS)}…"`);
    expect(previewOf(Buffer.from(`${'a'.repeat(CHARS - 1)}é`))).toBe(`"${'a'.repeat(CHARS - 1)}é"`);
  });
});
