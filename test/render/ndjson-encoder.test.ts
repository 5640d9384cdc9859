/**
 * The byte encoder behind `wsdump --json` (src/render/ndjson-encoder.ts) must write exactly
 * jsonText(eventToJson(event)) for every event, whatever its buffer size and wherever a line
 * crosses from one buffer to the next; and no line may hold a character a terminal or a line
 * splitter acts on.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeAlert } from '../../src/alerts.js';
import type { DissectEvent } from '../../src/engine/events.js';
import { eventToJson, jsonText } from '../../src/render/json.js';
import { eventToNdjson, NdjsonEncoder } from '../../src/render/ndjson-encoder.js';
import { MessageAssembler } from '../../src/websocket/message-assembler.js';
import type { Message } from '../../src/websocket/types.js';
import { dissectEvents, FIXTURE_CAPTURES } from '../helpers/dissect.js';
import { runs } from '../helpers/fuzz.js';
import { makeFrame } from '../websocket/frame-factory.js';

/** What the encoder writes for `events`, with buffers of `chunk` bytes, and the chunks it handed over. */
function encode(events: DissectEvent[], chunk: number, maxHexBytes?: number): { text: string; chunks: number[] } {
  const parts: Buffer[] = [];
  const encoder = new NdjsonEncoder({ maxHexBytes }, (bytes) => parts.push(Buffer.from(bytes)), chunk);
  for (const event of events) encoder.write(event);
  encoder.flush();
  return { text: Buffer.concat(parts).toString(), chunks: parts.map((p) => p.length) };
}

const reference = (events: DissectEvent[], maxHexBytes?: number): string => events.map((e) => jsonText(eventToJson(e, { maxHexBytes })) + '\n').join('');

function message(fields: Partial<Message> & { data: Uint8Array }): Message {
  return {
    direction: 'server',
    type: 'binary',
    opcode: 2,
    frameOffsets: [0],
    fragments: 1,
    wireLength: fields.data.length,
    length: fields.data.length,
    truncated: false,
    compressed: false,
    inflated: false,
    start: {},
    end: {},
    alerts: [],
    ...fields,
  };
}

/** Characters the JSON lines must escape, and neighbours of theirs that they must not. */
const TRICKY = ['\ufeff', '"', '\\', '\u2028', '\u2029', '\u007f', '\u0000\b\t\n\f\r\u001f', '😀', '\u0085', '\u009b[2J', '\u00a0\u00ad\u00e9', '\u202e', '\u2066', '\u034f', '\u061c', '\u115f\u3164\uffa0', '\u17b4', '\u180e', '\ufe0f', '\u{e0041}\u{e007f}', '\u{e01ef}', '\u{1d173}', 'ㅤ', '한국어', '\ufff9\ufffc'];

/** What may not stand raw in a JSON line: what Unicode calls control, format, default-ignorable, line or paragraph separator. */
const RAW_UNSAFE = /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}]/u;

describe('NdjsonEncoder', () => {
  it('writes every fixture as eventToJson does, across buffer boundaries, and line by line', async () => {
    let lines = 0;
    for (const capture of FIXTURE_CAPTURES) {
      const events = await dissectEvents(capture, { decodeAs: [8080, 80] });
      lines += events.length;
      for (const maxHexBytes of [undefined, 3, Infinity]) {
        const expected = reference(events, maxHexBytes);
        // A buffer smaller than one line's fixed part, one that lines often cross, and the default.
        for (const chunk of [64, 3000, 256 * 1024]) {
          expect(encode(events, chunk, maxHexBytes).text, `${capture}, chunk ${chunk}`).toBe(expected);
        }
        // One line at a time, as wsproxy and the library write them.
        expect(events.map((e) => eventToNdjson(e, { maxHexBytes })).join(''), capture).toBe(expected);
      }
    }
    expect(lines).toBeGreaterThan(500);
  });

  it('hands over full buffers and keeps nothing after flush', () => {
    const events: DissectEvent[] = Array.from({ length: 200 }, (_, i) => ({ type: 'frame', conn: 1, frame: makeFrame({ opcode: 2, data: new Uint8Array(100).fill(i) }) }));
    const { text, chunks } = encode(events, 4096);
    expect(text).toBe(reference(events));
    expect(chunks.length).toBeGreaterThan(10);
    // Every buffer but the last was handed over because the next line's part did not fit.
    for (const size of chunks.slice(0, -1)) expect(size).toBeGreaterThan(4096 - 1024 - 2 * 256 - 100);
  });

  it('writes numbers as JSON.stringify does, beyond 2^31 and when missing', () => {
    const events: DissectEvent[] = [
      { type: 'frame', conn: 2 ** 31, frame: makeFrame({ opcode: 2, payloadLength: 2 ** 53 - 1, offset: 2 ** 40 + 7, start: { packet: 0 }, end: { packet: 4_294_967_296, ts: 1e21 } }) },
      { type: 'frame', conn: 9, frame: makeFrame({ opcode: 2, offset: 2 ** 31 - 1, start: { packet: 1_000_000_000 }, end: { ts: Number.NaN } }) },
      { type: 'message', conn: 10, message: message({ data: new Uint8Array([1, 2]), start: { packet: 99, ts: 0.1 + 0.2 }, end: { packet: 100, ts: -0 }, wireLength: 4_000_000_000 }) },
    ];
    const text = encode(events, 1024).text;
    expect(text).toBe(reference(events));
    expect(text).toContain('"payloadLength":9007199254740991');
    expect(text).toContain('"ts":1e+21');
  });

  it('escapes text, close reasons and alerts as JSON.stringify does', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.boolean(), (text, alert) => {
        const alerts = alert ? [makeAlert('message.utf8-invalid', `"${text}"`, { direction: 'client', packet: 3 })] : [];
        const reason = Buffer.from(text.slice(0, 40));
        const events: DissectEvent[] = [
          { type: 'message', conn: 1, message: message({ type: 'text', opcode: 1, data: Buffer.from(text), text, alerts }) },
          { type: 'message', conn: 1, message: message({ type: 'close', opcode: 8, data: new Uint8Array(0), close: { code: 1000, codeName: 'normal closure', reason: text, reasonValid: true } }) },
          { type: 'frame', conn: 1, frame: makeFrame({ opcode: 8, data: Buffer.concat([Buffer.from([0x03, 0xe8]), reason]), alerts }) },
          { type: 'notice', code: 'capture.truncated', message: text, at: {} },
        ];
        expect(encode(events, 200).text).toBe(reference(events));
      }),
      { numRuns: runs(300) },
    );
  });

  it('writes text messages from their bytes as JSON.stringify writes their decoded text', () => {
    const piece = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom(...TRICKY));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), fc.boolean(), (pieces, bom) => {
        const bytes = Buffer.from((bom ? '\ufeff' : '') + pieces.join(''));
        // Through the assembler, so text is what the decoder makes of the bytes (a BOM dropped).
        const [m] = new MessageAssembler({ direction: 'client' }).push(makeFrame({ opcode: 1, data: bytes }));
        expect(m!.text).toBeDefined();
        const events: DissectEvent[] = [{ type: 'message', conn: 1, message: m! }];
        expect(encode(events, 100).text).toBe(reference(events));
      }),
      { numRuns: runs(500) },
    );
    const cut = new MessageAssembler({ direction: 'client', limits: { maxMessageSize: 4 } }).push(makeFrame({ opcode: 1, data: Buffer.from('ab\u00e9\u00e9') }));
    expect(cut[0]!.truncated).toBe(true);
    const events: DissectEvent[] = [{ type: 'message', conn: 1, message: cut[0]! }];
    expect(encode(events, 100).text).toBe(reference(events));
  });

  it('escapes C1, DEL, bidi, U+2028/9, U+FEFF and invisible characters everywhere, with the same value for a JSON reader', () => {
    const piece = fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom(...TRICKY));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (pieces) => {
        // As UTF-8 bytes carry it: a lone surrogate of the generated string becomes U+FFFD.
        const text = Buffer.from(pieces.join('')).toString();
        const latin1 = Buffer.from(text, 'utf8').toString('latin1');
        const [m] = new MessageAssembler({ direction: 'server' }).push(makeFrame({ opcode: 1, data: Buffer.from(text) }));
        const events: DissectEvent[] = [
          { type: 'message', conn: 1, message: m! },
          { type: 'message', conn: 1, message: message({ type: 'close', opcode: 8, data: new Uint8Array(0), close: { code: 1000, codeName: 'normal closure', reason: text, reasonValid: true } }) },
          { type: 'frame', conn: 1, frame: makeFrame({ opcode: 8, data: Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from(text)]) }) },
          { type: 'other', conn: 1, kind: 'http', requestLine: `GET /${latin1} HTTP/1.1`, status: 200, note: latin1, at: {} },
          { type: 'alert', conn: 1, alert: makeAlert('handshake.malformed', `bad line ${JSON.stringify(latin1)}`, { direction: 'client' }) },
        ];
        for (const chunk of [100, 256 * 1024]) {
          const out = encode(events, chunk).text;
          expect(out).toBe(reference(events));
          const lines = out.split('\n').slice(0, -1);
          for (const line of lines) expect(line).not.toMatch(RAW_UNSAFE);
          const [textLine, closeLine, frameLine, otherLine] = lines.map((l) => JSON.parse(l));
          expect(textLine.text).toBe(m!.text);
          expect(closeLine.closeReason).toBe(text);
          expect(frameLine.closeReason).toBe(text);
          expect(otherLine.note).toBe(latin1);
        }
      }),
      { numRuns: runs(300) },
    );
  });

  it('gives a line larger than its buffer a buffer of its own', () => {
    const text = 'ü"'.repeat(100_000);
    const events: DissectEvent[] = [{ type: 'message', conn: 1, message: message({ type: 'text', opcode: 1, data: Buffer.from(text), text }) }];
    const { text: out, chunks } = encode(events, 1024, Infinity);
    expect(out).toBe(reference(events, Infinity));
    expect(Math.max(...chunks)).toBeGreaterThan(1024);
    // eventToNdjson's buffer is 16 KiB: the line is handed over in parts and joined.
    expect(eventToNdjson(events[0]!, { maxHexBytes: Infinity })).toBe(reference(events, Infinity));
  });
});
