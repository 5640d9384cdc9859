/**
 * Table rows laid out without cli-table3 (src/render/row.ts, issue 8) must be exactly what
 * cli-table3 lays out. (The NDJSON encoder has its own test, ndjson-encoder.test.ts; rows
 * written as bytes, table-bytes.test.ts.)
 */
import { Chalk } from 'chalk';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cliTableRow, tableRow } from '../../src/render/row.js';
import { runs } from '../helpers/fuzz.js';

const WIDTHS = [7, 11, 5, 4, 4, 4, 13, 5, 12, 9, 40];
const colored = new Chalk({ level: 3 });
const styles = [(s: string) => s, colored.gray, colored.red.bold, colored.dim, colored.cyan, colored.bold, colored.yellow];

/** Cell text: ASCII, the "…" and "→" the renderer writes, and characters the fast path must hand over (wide, combining, newline). */
const piece = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: fc.constantFrom(...'abc XYZ 0123 "#-.'.split('')), maxLength: 16 }) },
  { weight: 2, arbitrary: fc.constantFrom('…', '→', ' ', '  ') },
  { weight: 1, arbitrary: fc.constantFrom('é', '漢字', 'e\u0301', '😀', '\t', '\n') },
);
const cell = fc.tuple(fc.array(fc.tuple(piece, fc.nat(styles.length - 1)), { maxLength: 4 })).map(([parts]) => parts.map(([text, style]) => styles[style]!(text)).join(''));

describe('table rows without cli-table3', () => {
  it('lays out every row as cli-table3 does', () => {
    fc.assert(
      fc.property(fc.array(cell, { minLength: WIDTHS.length, maxLength: WIDTHS.length }), (cells) => {
        expect(tableRow(cells, WIDTHS)).toBe(cliTableRow(cells, WIDTHS));
      }),
      { numRuns: runs(2000) },
    );
  });

  it('lays out cells the caller vouches for (plain, width one per character) without scanning them', () => {
    const plain = fc.string({ unit: fc.constantFrom(...'abc XYZ 0123 "#-.→'.split('')), maxLength: 16 });
    fc.assert(
      fc.property(fc.array(plain, { minLength: WIDTHS.length - 1, maxLength: WIDTHS.length - 1 }), cell, (cells, last) => {
        expect(tableRow([...cells, last], WIDTHS, WIDTHS.length - 1)).toBe(cliTableRow([...cells, last], WIDTHS));
      }),
      { numRuns: runs(1000) },
    );
  });

  it('cuts long plain cells as cli-table3 does', () => {
    const cells = ['1234567890', '12345678901234', 'abcdef', 'C→S', '1', '000', 'continuation!!', '1', '65535 (16)…x', 'deadbeef', 'y'.repeat(60)];
    expect(tableRow(cells, WIDTHS)).toBe(cliTableRow(cells, WIDTHS));
  });
});
