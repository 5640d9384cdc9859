import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseParser, type SseEvent } from '../../src/http/sse.js';

const enc = (s: string) => new TextEncoder().encode(s);

function parse(input: string | Uint8Array, sizes?: number[]): { events: Pick<SseEvent, 'event' | 'data' | 'id' | 'retry'>[]; parser: SseParser } {
  const bytes = typeof input === 'string' ? enc(input) : input;
  const parser = new SseParser();
  const events: SseEvent[] = [];
  if (sizes === undefined) events.push(...parser.push(bytes));
  else {
    let at = 0;
    for (const n of sizes) {
      events.push(...parser.push(bytes.subarray(at, at + n)));
      at += n;
    }
    events.push(...parser.push(bytes.subarray(at)));
  }
  parser.end();
  return { events: events.map(({ event, data, id, retry }) => ({ event, data, id, retry })), parser };
}

/** Every split of the input into one-byte chunks gives the same events as one chunk. */
function bytewise(input: string): ReturnType<typeof parse>['events'] {
  const bytes = enc(input);
  return parse(bytes, Array.from({ length: bytes.length }, () => 1)).events;
}

describe('SseParser (WHATWG HTML §9.2.6)', () => {
  it('reads the standard\'s examples', () => {
    // "data: This is the first message." … the three-line example of §9.2.6.
    const stream = 'data: This is the first message.\n\ndata: This is the second message, it\ndata: has two lines.\n\ndata: This is the third message.\n\n';
    expect(parse(stream).events.map((e) => e.data)).toEqual(['This is the first message.', 'This is the second message, it\nhas two lines.', 'This is the third message.']);
    // Two events, the second with type "add" and an id.
    const typed = 'event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n';
    expect(parse(typed).events).toEqual([
      { event: 'add', data: '73857293', id: null, retry: null },
      { event: 'remove', data: '2153', id: null, retry: null },
      { event: 'add', data: '113411', id: null, retry: null },
    ]);
    // "data" alone, "data" with an empty value, and the space rule: two identical events.
    expect(parse('data\n\ndata\ndata\n\ndata:\n').events).toEqual([
      { event: 'message', data: '', id: null, retry: null },
      { event: 'message', data: '\n', id: null, retry: null },
    ]);
    expect(parse('data:test\n\ndata: test\n\n').events.map((e) => e.data)).toEqual(['test', 'test']);
  });

  it('keeps the last event id in force, ignores an id holding NUL, and resets it with an empty id', () => {
    const stream = ': a comment\nid: 1\ndata: first\n\ndata: second\n\nid: 2\u0000x\ndata: third\n\nid\ndata: fourth\n\n';
    expect(parse(stream).events.map((e) => e.id)).toEqual(['1', '1', '1', null]);
  });

  it('takes retry only when it is all ASCII digits, and keeps it in force', () => {
    const stream = 'retry: 5000\ndata: a\n\nretry: 12x\ndata: b\n\nretry:  300\ndata: c\n\nretry: 250\ndata: d\n\n';
    expect(parse(stream).events.map((e) => e.retry)).toEqual([5000, 5000, 5000, 250]);
  });

  it('dispatches nothing for comments, blocks without data, and an unfinished event at the end', () => {
    expect(parse(': keep-alive\n\nevent: ping\n\nid: 7\n\ndata: never finished').events).toEqual([]);
    // The id of a data-less block still becomes the last event ID (dispatch sets it first).
    expect(parse('id: 7\n\ndata: x\n\n').events[0]!.id).toBe('7');
  });

  it('takes CRLF, LF and CR as line ends, a CRLF split across chunks as one', () => {
    const stream = 'data: a\r\n\r\ndata: b\r\rdata: c\n\n';
    const expected = [{ event: 'message', data: 'a', id: null, retry: null }, { event: 'message', data: 'b', id: null, retry: null }, { event: 'message', data: 'c', id: null, retry: null }];
    expect(parse(stream).events).toEqual(expected);
    expect(bytewise(stream)).toEqual(expected);
    // CR at the end of one chunk, LF at the start of the next: one line end, not a blank line.
    expect(parse('data: x\r\ndata: y\r\n\r\n', [8]).events).toEqual([{ event: 'message', data: 'x\ny', id: null, retry: null }]);
  });

  it('ignores one leading BOM, even split across chunks, and only at the start', () => {
    expect(parse('\ufeffdata: a\n\n').events[0]!.data).toBe('a');
    expect(bytewise('\ufeffdata: a\n\n')[0]!.data).toBe('a');
    // A second BOM is part of the field name: an unknown field, so no data.
    expect(parse('\ufeff\ufeffdata: a\n\n').events).toEqual([]);
  });

  it('ignores fields it does not know, and a field without a colon has an empty value', () => {
    expect(parse('foo: bar\ndata: a\nevent\n\n').events).toEqual([{ event: 'message', data: 'a', id: null, retry: null }]);
  });

  it('reads invalid UTF-8 as U+FFFD and says so', () => {
    const { events, parser } = parse(Uint8Array.from([...enc('data: caf'), 0xe9, ...enc('\n\n')]));
    expect(events[0]!.data).toBe('caf\ufffd');
    expect(parser.invalidUtf8).toBe(true);
    expect(parse('data: café\n\n').parser.invalidUtf8).toBe(false);
  });

  it('counts the bytes of each event: its data and the rest of the stream', () => {
    const parser = new SseParser();
    const [a, b] = parser.push(enc(': hi\nevent: x\ndata: 12345\n\ndata: é\n\n'));
    expect(a).toMatchObject({ dataBytes: 5, wireBytes: 5 + 9 + 12 + 1 });
    expect(b).toMatchObject({ dataBytes: 2, wireBytes: 10 });
  });

  it('caps a long line and marks the event truncated', () => {
    const parser = new SseParser({ maxBytes: 16 });
    const [e] = parser.push(enc(`data: ${'x'.repeat(100)}\n\n`));
    expect(e!.truncated).toBe(true);
    expect(e!.data.length).toBeLessThanOrEqual(16);
  });

  it('gives the same events whatever the chunk boundaries', () => {
    const stream = '\ufeff: c\r\nretry: 10\nid: a\revent: e\r\ndata: 1\ndata:2\r\n\r\ndata: é€😀\n\n:\n\nid: b\ndata\n\n';
    const whole = parse(stream).events;
    const bytes = enc(stream);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 12 }), (cuts) => {
        const sorted = [...cuts].sort((x, y) => x - y);
        const sizes = sorted.map((c, i) => c - (i === 0 ? 0 : sorted[i - 1]!));
        expect(parse(bytes, sizes).events).toEqual(whole);
      }),
    );
    expect(whole).toHaveLength(3);
  });
});
