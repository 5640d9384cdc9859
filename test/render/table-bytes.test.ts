/**
 * wsdump's table writes plain frame rows as bytes (TableRenderer.writeFrameRow, RowWriter)
 * instead of the text render() returns. Whatever the frames and the options, the output must
 * be the same bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DissectEvent } from '../../src/engine/events.js';
import { RowWriter, tableRow } from '../../src/render/row.js';
import { TableRenderer, type TableOptions } from '../../src/render/table.js';
import { dissectEvents, FIXTURE_CAPTURES } from '../helpers/dissect.js';
import { runs } from '../helpers/fuzz.js';
import { makeFrame } from '../websocket/frame-factory.js';

/** The table as render() gives it, and as wsdump writes it (rows as bytes where it can); and how many rows went as bytes. */
function both(events: DissectEvent[], options: TableOptions): { text: string; bytes: string; direct: number } {
  const plain = new TableRenderer(options);
  const text = events.map((e) => plain.render(e)).join('');
  const chunks: Buffer[] = [];
  const rows = new RowWriter((b) => chunks.push(Buffer.from(b)), 4096);
  const fast = new TableRenderer(options);
  let direct = 0;
  for (const e of events) {
    if (e.type === 'frame' && fast.writeFrameRow(e, rows)) direct++;
    else rows.text(fast.render(e));
  }
  rows.flush();
  return { text, bytes: Buffer.concat(chunks).toString(), direct };
}

const OPTIONS: TableOptions[] = [
  { colorLevel: 0, width: 120 },
  { colorLevel: 0, width: 100 },
  { colorLevel: 0, width: 240 },
  { colorLevel: 0, width: 120, payloadChars: 0 },
  { colorLevel: 0, width: 120, payloadChars: 1 },
  { colorLevel: 0, width: 120, payloadChars: 400 },
  { colorLevel: 0, width: 80 },
  { colorLevel: 1, width: 120 },
  { colorLevel: 0, width: 120, full: true },
  { colorLevel: 0, width: 120, view: 'messages' },
];

describe('RowWriter', () => {
  const WIDTHS = [7, 11, 5, 4, 4, 4, 13, 5, 12, 9, 40];
  it('lays out cells as tableRow does, and refuses the characters it cannot measure', () => {
    const cell = fc.string({ unit: fc.constantFrom(...'ab Z09 "#-.'.split(''), '…', '→', ' ', '  '), maxLength: 20 });
    // Now and then one cell gets a character RowWriter must refuse.
    const odd = fc.option(fc.tuple(fc.nat(WIDTHS.length - 1), fc.constantFrom('é', '\t', '漢')), { freq: 5 });
    fc.assert(
      fc.property(fc.array(cell, { minLength: WIDTHS.length, maxLength: WIDTHS.length }), odd, (cells, spoil) => {
        if (spoil !== null) cells[spoil[0]] += spoil[1];
        const chunks: Buffer[] = [];
        const rows = new RowWriter((b) => chunks.push(Buffer.from(b)), 256);
        rows.text('before\n');
        rows.beginRow(WIDTHS);
        const fits = cells.every((c) => rows.cell(c));
        if (fits) rows.endRow();
        else rows.abandonRow();
        rows.text('after\n');
        rows.flush();
        const measurable = spoil === null;
        expect(fits).toBe(measurable);
        expect(Buffer.concat(chunks).toString()).toBe(`before\n${fits ? tableRow(cells, WIDTHS) : ''}after\n`);
      }),
      { numRuns: runs(2000) },
    );
  });
});

describe('table rows written as bytes', () => {
  it('are the bytes render() gives, on every fixture and with every option', async () => {
    let direct = 0;
    for (const capture of FIXTURE_CAPTURES) {
      const events = await dissectEvents(capture, { decodeAs: [8080, 80] });
      for (const options of OPTIONS) {
        const out = both(events, options);
        expect(out.bytes, `${capture} ${JSON.stringify(options)}`).toBe(out.text);
        direct += out.direct;
      }
    }
    // The fast path is taken, not merely harmless.
    expect(direct).toBeGreaterThan(500);
  });

  it('are the bytes render() gives for any frame', () => {
    const ascii = fc.uint8Array({ minLength: 0, maxLength: 200 }).map((a) => a.map((b) => 0x20 + (b % 0x5f)));
    const frame = fc.record({
      opcode: fc.constantFrom(0, 1, 1, 2, 2, 8, 9, 10, 3),
      data: fc.oneof(ascii, fc.uint8Array({ maxLength: 200 }), fc.constant(new Uint8Array(0))),
      truncated: fc.boolean(),
      rsv1: fc.boolean(),
      rsv2: fc.boolean(),
      rsv3: fc.boolean(),
      fin: fc.boolean(),
      masked: fc.boolean(),
      packet: fc.oneof(fc.nat(999_999), fc.integer({ min: 1_000_000, max: 2 ** 40 }), fc.constant(undefined)),
      ts: fc.oneof(fc.double({ min: 0, max: 1e7, noNaN: true }), fc.constant(undefined)),
      // Lengths past 2^31 too: numbers there are not written digit by digit.
      extra: fc.oneof(fc.nat(2 ** 20), fc.integer({ min: 2 ** 31, max: 2 ** 40 })),
      conn: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 ** 31 })),
      direction: fc.constantFrom('client' as const, 'server' as const),
    });
    fc.assert(
      fc.property(fc.array(frame, { minLength: 1, maxLength: 8 }), fc.constantFrom(...OPTIONS.slice(0, 7)), (frames, options) => {
        const events: DissectEvent[] = frames.map((f) => ({
          type: 'frame',
          conn: f.conn,
          frame: makeFrame({
            opcode: f.opcode,
            data: f.data,
            direction: f.direction,
            masked: f.masked,
            fin: f.fin,
            rsv1: f.rsv1,
            rsv2: f.rsv2,
            rsv3: f.rsv3,
            truncated: f.truncated,
            payloadLength: f.data.length + (f.truncated ? f.extra + 1 : 0),
            start: { packet: f.packet, ts: f.ts },
            end: { packet: f.packet, ts: f.ts },
          }),
        }));
        const out = both(events, options);
        expect(out.bytes).toBe(out.text);
      }),
      { numRuns: runs(1500) },
    );
  });
});
