/**
 * The payload column of a text frame's row shows the first characters of its text, escaped and
 * cut with "…". Only the bytes those characters need are decoded (issue 8); whatever the text,
 * the column must read as if the whole payload had been decoded.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeText } from '../../src/render/escape.js';
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
        expect(previewOf(data)).toBe(`"${escapeText(new TextDecoder().decode(data), CHARS)}"`);
      }),
      { numRuns: runs(1000) },
    );
  });

  it('cuts right after the last character shown', () => {
    expect(previewOf(Buffer.from('a'.repeat(CHARS)))).toBe(`"${'a'.repeat(CHARS)}"`);
    expect(previewOf(Buffer.from('a'.repeat(CHARS + 1)))).toBe(`"${'a'.repeat(CHARS)}…"`);
    expect(previewOf(Buffer.from(`${'a'.repeat(CHARS)}é`))).toBe(`"${'a'.repeat(CHARS)}…"`);
    expect(previewOf(Buffer.from(`${'a'.repeat(CHARS - 1)}é`))).toBe(`"${'a'.repeat(CHARS - 1)}é"`);
  });
});
