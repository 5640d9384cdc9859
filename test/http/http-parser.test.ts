import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Alert } from '../../src/alerts.js';
import { HttpHeadParser, headerValues, tokenList, type HeadResult, type HttpRequest, type HttpResponse } from '../../src/http/http-parser.js';
import { runs } from '../helpers/fuzz.js';
import { SAMPLE_REQUEST_LINES, SAMPLE_RESPONSE_LINES } from './rfc6455-sample.js';

const encoder = new TextEncoder();

function bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => char.charCodeAt(0) & 0xff);
}

function head(lines: string[], eol = '\r\n'): string {
  return lines.join(eol) + eol + eol;
}

/** RFC 6455 §1.2 sample handshake. */
const SAMPLE_REQUEST = head([...SAMPLE_REQUEST_LINES]);
const SAMPLE_RESPONSE = head([...SAMPLE_RESPONSE_LINES]);
/** RFC 6455 §5.7: a single-frame unmasked text message "Hello", sent right after the head. */
const HELLO_FRAME = Uint8Array.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);

/** A result without `rest`, whose extent depends on the chunking (`following` does not). */
type Settled = { state: 'need-more' } | { state: 'done'; head: HttpRequest | HttpResponse; alerts: Alert[] } | { state: 'error'; alerts: Alert[] };

interface Outcome {
  result: Settled;
  /** Every byte after the head: `rest` plus the chunks the caller had not pushed yet. */
  following: number[];
  needMoreCount: number;
}

/** Feeds the chunks until the parser finishes, as a caller would. */
function feed(kind: 'request' | 'response', chunks: Uint8Array[], maxHeadBytes?: number): Outcome {
  const parser = new HttpHeadParser(kind, maxHeadBytes === undefined ? {} : { maxHeadBytes });
  let needMoreCount = 0;
  for (const [index, chunk] of chunks.entries()) {
    const result = parser.push(chunk);
    if (result.state === 'need-more') {
      needMoreCount += 1;
      continue;
    }
    if (result.state === 'error') return { result, following: [], needMoreCount };
    const following = [...result.rest];
    for (const later of chunks.slice(index + 1)) following.push(...later);
    return { result: { state: 'done', head: result.head, alerts: result.alerts }, following, needMoreCount };
  }
  return { result: { state: 'need-more' }, following: [], needMoreCount };
}

function splitAt(data: Uint8Array, points: number[]): Uint8Array[] {
  const cuts = [...new Set(points.map((point) => point % (data.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const cut of cuts) {
    chunks.push(data.subarray(start, cut));
    start = cut;
  }
  chunks.push(data.subarray(start));
  return chunks;
}

function byteByByte(data: Uint8Array): Uint8Array[] {
  return Array.from(data, (_, index) => data.subarray(index, index + 1));
}

function done(kind: 'request' | 'response', text: string | Uint8Array) {
  const result = new HttpHeadParser(kind).push(typeof text === 'string' ? bytes(text) : text);
  if (result.state !== 'done') throw new Error(`expected done, got ${JSON.stringify(result)}`);
  return result;
}

function codes(result: HeadResult | Settled): string[] {
  return result.state === 'need-more' ? [] : result.alerts.map((alert) => alert.code);
}

describe('HttpHeadParser: valid heads', () => {
  it('parses the RFC 6455 §1.2 request and stops exactly at the blank line', () => {
    const data = new Uint8Array([...bytes(SAMPLE_REQUEST), ...HELLO_FRAME]);
    const result = done('request', data);
    const request = result.head as HttpRequest;
    expect(request).toMatchObject({ kind: 'request', method: 'GET', target: '/chat', version: 'HTTP/1.1', headBytes: SAMPLE_REQUEST.length });
    expect(request.headers).toHaveLength(7);
    expect(request.headers[0]).toEqual({ name: 'Host', value: 'server.example.com' });
    expect([...result.rest]).toEqual([...HELLO_FRAME]);
    expect(result.alerts).toEqual([]);
  });

  it('takes every RFC 9110 tchar in a method token, byte by byte as in one chunk', () => {
    // tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    for (const method of ['M-SEARCH', "!#$%&'*+-.^_`|~09azAZ"]) {
      const text = head([`${method} / HTTP/1.1`, 'Host: h']);
      expect((done('request', text).head as HttpRequest).method).toBe(method);
      const split = feed('request', byteByByte(bytes(text))).result;
      expect(split.state === 'done' && (split.head as HttpRequest).method).toBe(method);
    }
    // Any other byte before the first space ends it at once, before the line is complete.
    for (const bad of ['(', ')', ',', '/', ':', '@', '[', '{', '"', '\x80']) {
      expect(feed('request', [Uint8Array.from([0x47, bad.charCodeAt(0)])]).result.state).toBe('error');
    }
  });

  it('returns rest as a view of the pushed chunk, not a copy', () => {
    const data = new Uint8Array([...bytes(SAMPLE_REQUEST), ...HELLO_FRAME]);
    const result = new HttpHeadParser('request').push(data);
    if (result.state !== 'done') throw new Error('expected done');
    expect(result.rest.buffer).toBe(data.buffer);
    expect(result.rest.byteOffset).toBe(SAMPLE_REQUEST.length);
  });

  it('parses the RFC 6455 §1.2 response', () => {
    const result = done('response', SAMPLE_RESPONSE);
    const response = result.head as HttpResponse;
    expect(response.headers).toHaveLength(4);
    expect(response).toMatchObject({ kind: 'response', version: 'HTTP/1.1', status: 101, reason: 'Switching Protocols', headBytes: SAMPLE_RESPONSE.length });
    expect(result.rest.length).toBe(0);
    expect(result.alerts).toEqual([]);
  });

  it('keeps header names as sent, trims OWS from values and keeps repeats in order', () => {
    const result = done('request', head(['GET / HTTP/1.1', 'X-A: \t one \t', 'x-a:two', 'X-Empty:', 'Host: h']));
    const { headers } = result.head;
    expect(headers).toEqual([
      { name: 'X-A', value: 'one' },
      { name: 'x-a', value: 'two' },
      { name: 'X-Empty', value: '' },
      { name: 'Host', value: 'h' },
    ]);
    expect(headerValues(headers, 'x-A')).toEqual(['one', 'two']);
    expect(headerValues(headers, 'missing')).toEqual([]);
  });

  it('reads header bytes as latin1 without failing on non-UTF-8', () => {
    const data = new Uint8Array([...bytes('GET / HTTP/1.1\r\nX-Name: caf'), 0xe9, 0xff, ...bytes('\r\n\r\n')]);
    const result = done('request', data);
    expect(result.head.headers[0]?.value).toBe('caf\u00e9\u00ff');
    expect(result.alerts).toEqual([]);
  });

  it('accepts an empty reason phrase and any 3-digit status', () => {
    const result = done('response', 'HTTP/1.1 426 \r\nSec-WebSocket-Version: 13, 8\r\n\r\n');
    expect(result.head).toMatchObject({ status: 426, reason: '' });
    expect(result.alerts).toEqual([]);
  });

  it('after finishing, hands every further chunk back as rest', () => {
    const parser = new HttpHeadParser('response');
    expect(parser.push(bytes(SAMPLE_RESPONSE)).state).toBe('done');
    const later = parser.push(HELLO_FRAME);
    expect(later.state === 'done' && [...later.rest]).toEqual([...HELLO_FRAME]);
    expect(codes(later)).toEqual([]);
  });
});

describe('HttpHeadParser: split invariance', () => {
  const inputs: Array<['request' | 'response', Uint8Array]> = [
    ['request', new Uint8Array([...bytes(SAMPLE_REQUEST), ...HELLO_FRAME])],
    ['response', new Uint8Array([...bytes(SAMPLE_RESPONSE), ...HELLO_FRAME])],
    // With alerts: obs-fold, bare LF, a bad line, a lenient request line.
    ['request', bytes('GET  /x HTTP/1.1\nHost: a\r\nX-F: a\r\n b\r\nbad line\r\nX : y\r\n\n\x81\x00')],
    // Not HTTP at all.
    ['request', Uint8Array.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])],
    ['response', bytes('HTTX/1.1 101 Switching Protocols\r\n\r\n')],
  ];

  it.each(inputs.map((input, index) => [index, ...input] as const))('input %i: whole, byte by byte and in two halves agree', (_index, kind, data) => {
    const whole = feed(kind, [data]);
    expect(feed(kind, byteByByte(data))).toMatchObject({ result: whole.result, following: whole.following });
    expect(feed(kind, splitAt(data, [data.length >> 1]))).toMatchObject({ result: whole.result, following: whole.following });
  });

  it('random split points give identical results (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...inputs),
        fc.array(fc.nat(), { maxLength: 12 }),
        ([kind, data], points) => {
          const whole = feed(kind, [data]);
          const split = feed(kind, splitAt(data, points));
          expect(split.result).toEqual(whole.result);
          expect(split.following).toEqual(whole.following);
        },
      ),
    );
  });

  it('generated requests round-trip their headers at any split (fast-check)', () => {
    const tokenChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-_.!#$%&\'*+^`|~');
    const name = fc.string({ unit: tokenChar, minLength: 1, maxLength: 12 });
    const valueChar = fc.constantFrom(...'abcXYZ019 \t,;="/()[]{}?@\u00e9');
    const value = fc.string({ unit: valueChar, maxLength: 20 }).map((text) => text.replace(/^[ \t]+|[ \t]+$/g, ''));
    fc.assert(
      fc.property(
        fc.array(fc.record({ name, value }), { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.uint8Array({ maxLength: 10 }),
        (headers, points, trailing) => {
          const text = head(['GET /path?q=1 HTTP/1.1', ...headers.map((header) => `${header.name}: ${header.value}`)]);
          const data = new Uint8Array([...bytes(text), ...trailing]);
          const outcome = feed('request', splitAt(data, points));
          expect(outcome.result.state).toBe('done');
          if (outcome.result.state !== 'done') return;
          expect(outcome.result.head.headers).toEqual(headers);
          expect(outcome.result.head.headBytes).toBe(text.length);
          expect(outcome.result.alerts).toEqual([]);
          expect(outcome.following).toEqual([...trailing]);
        },
      ),
    );
  });
});

describe('HttpHeadParser: never throws', () => {
  it('on random bytes at random splits, for requests and responses (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('request' as const, 'response' as const),
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.integer({ min: 1, max: 400 }),
        (kind, data, points, limit) => {
          const outcome = feed(kind, splitAt(data, points), limit);
          expect(['need-more', 'done', 'error']).toContain(outcome.result.state);
        },
      ),
      { numRuns: runs(500) },
    );
  });

  it('on random bytes behind a valid start line (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(), { maxLength: 6 }), (tail, points) => {
        const data = new Uint8Array([...bytes('GET / HTTP/1.1\r\n'), ...tail]);
        const whole = feed('request', [data]);
        expect(feed('request', splitAt(data, points)).result).toEqual(whole.result);
      }),
      { numRuns: runs(300) },
    );
  });

  it('on random printable text made of header-like lines (fast-check)', () => {
    const line = fc.string({ unit: fc.constantFrom(...'ab: \t\r\n,"\\'), maxLength: 30 });
    fc.assert(
      fc.property(fc.array(line, { maxLength: 10 }), (lines) => {
        const data = encoder.encode(`HTTP/1.1 101 OK\r\n${lines.join('\r\n')}\r\n\r\n`);
        const whole = feed('response', [data]);
        expect(feed('response', byteByByte(data)).result).toEqual(whole.result);
      }),
    );
  });
});

describe('HttpHeadParser: malformed input', () => {
  it('flags obs-fold and joins the continuation to the previous value', () => {
    const result = done('request', head(['GET / HTTP/1.1', 'Host: a', 'X-Long: first', ' \tsecond', '\tthird', 'Upgrade: websocket']));
    expect(codes(result)).toEqual(['handshake.obs-fold', 'handshake.obs-fold']);
    expect(headerValues(result.head.headers, 'x-long')).toEqual(['first second third']);
    expect(headerValues(result.head.headers, 'upgrade')).toEqual(['websocket']);
    expect(result.alerts[0]).toMatchObject({ severity: 'error', direction: 'client', detail: { header: 'X-Long' } });
  });

  it('accepts bare LF line endings but flags them once', () => {
    const text = head(['GET / HTTP/1.1', 'Host: a', 'Upgrade: websocket'], '\n');
    const result = done('request', text);
    expect(codes(result)).toEqual(['handshake.malformed']);
    expect(result.alerts[0]?.message).toMatch(/bare LF/);
    expect(result.head.headers).toHaveLength(2);
    expect(result.head.headBytes).toBe(text.length);
  });

  it('does not flag CRLF-only heads as bare LF', () => {
    expect(codes(done('request', SAMPLE_REQUEST))).toEqual([]);
  });

  it('carries on after a header line that is not "name: value"', () => {
    const result = done('request', head(['GET / HTTP/1.1', 'Host: a', 'this is not a header', 'Upgrade: websocket']));
    expect(codes(result)).toEqual(['handshake.malformed']);
    expect(result.head.headers.map((header) => header.name)).toEqual(['Host', 'Upgrade']);
  });

  it('drops a header line with no field name before its colon', () => {
    const result = done('request', head(['GET / HTTP/1.1', ': websocket', 'Host: a']));
    expect(codes(result)).toEqual(['handshake.malformed']);
    expect(result.head.headers).toEqual([{ name: 'Host', value: 'a' }]);
  });

  it('drops a header with whitespace before the colon (RFC 9112 §5.1)', () => {
    const result = done('request', head(['GET / HTTP/1.1', 'Upgrade : websocket', 'Host: a']));
    expect(codes(result)).toEqual(['handshake.malformed']);
    expect(result.alerts[0]?.message).toMatch(/whitespace between the field name and the colon/);
    expect(headerValues(result.head.headers, 'Upgrade')).toEqual([]);
  });

  it('flags whitespace right after the start line (RFC 9112 §2.2)', () => {
    const result = done('request', head(['GET / HTTP/1.1', ' Host: a', 'Host: b']));
    expect(codes(result)).toEqual(['handshake.malformed']);
    expect(result.head.headers).toEqual([{ name: 'Host', value: 'b' }]);
  });

  it('replaces control characters in a value by spaces and flags them', () => {
    const result = done('request', 'GET / HTTP/1.1\r\nX-A: a\x00b\rc\r\n\r\n');
    expect(codes(result)).toEqual(['handshake.malformed']);
    expect(result.head.headers).toEqual([{ name: 'X-A', value: 'a b c' }]);
  });

  it('carries on after a request line with extra spaces', () => {
    const result = done('request', head(['GET  /chat   HTTP/1.1', 'Host: a']));
    expect(codes(result)).toEqual(['handshake.malformed']);
    expect(result.head).toMatchObject({ method: 'GET', target: '/chat', version: 'HTTP/1.1' });
  });

  it('carries on after a status line without the space before the (empty) reason', () => {
    const result = done('response', head(['HTTP/1.1 101', 'Upgrade: websocket']));
    expect(codes(result)).toEqual(['handshake.malformed']);
    expect(result.head).toMatchObject({ status: 101, reason: '' });
  });

  it.each([
    ['HTTP/0.9 style request line', 'request', 'GET /\r\n\r\n'],
    ['request line without version', 'request', 'GET / FOO\r\n\r\n'],
    ['status line without status', 'response', 'HTTP/1.1 Switching Protocols\r\n\r\n'],
    ['empty start line', 'request', '\r\nHost: a\r\n\r\n'],
  ] as const)('gives up on a start line that is not HTTP: %s', (_label, kind, text) => {
    const { result } = feed(kind, [bytes(text)]);
    expect(result.state).toBe('error');
    expect(codes(result)).toEqual(['handshake.malformed']);
  });

  it.each([
    ['a TLS ClientHello', 'request', [0x16, 0x03, 0x01, 0x00, 0xa5], 1],
    ['a WebSocket frame', 'request', [0x81, 0x85, 0x37, 0xfa], 1],
    ['a request line starting with a space', 'request', [0x20, 0x47], 1],
    ['a response that is not HTTP/', 'response', [...bytes('HTTP 200')], 5],
    ['a lowercase http/ response', 'response', [...bytes('http/1.1 101')], 1],
    ['binary after a method', 'request', [...bytes('GET /'), 0x00, 0x41], 6],
    ['a bare CR in the start line', 'request', [...bytes('GET /\rx')], 7],
    ['a method longer than any real one', 'request', [...bytes('A'.repeat(40))], 25],
  ] as const)('detects %s within the first few bytes', (_label, kind, data, atByte) => {
    const parser = new HttpHeadParser(kind);
    const all = Uint8Array.from(data);
    for (let index = 0; index < atByte - 1; index += 1) {
      expect(parser.push(all.subarray(index, index + 1)).state).toBe('need-more');
    }
    const result = parser.push(all.subarray(atByte - 1, atByte));
    expect(result.state).toBe('error');
    expect(codes(result)).toEqual(['handshake.malformed']);
    expect(parser.push(bytes('more')).state).toBe('error');
  });

  it('gives up after too many malformed header lines (binary behind a plausible start line)', () => {
    const lines = Array.from({ length: 12 }, (_, index) => `garbage ${index}`);
    const { result } = feed('request', [bytes(head(['GET / HTTP/1.1', ...lines]))]);
    expect(result.state).toBe('error');
    expect(codes(result)).toEqual([...Array(8).fill('handshake.malformed'), 'handshake.malformed']);
    expect(result.state === 'error' && result.alerts.at(-1)?.message).toMatch(/not an HTTP head/);
  });
});

describe('HttpHeadParser: size limit', () => {
  it('accepts a head of exactly maxHeadBytes and refuses one byte more', () => {
    const text = head(['GET / HTTP/1.1', 'Host: a']);
    expect(feed('request', [bytes(text)], text.length).result.state).toBe('done');
    const over = feed('request', [bytes(text)], text.length - 1).result;
    expect(over.state).toBe('error');
    expect(codes(over)).toEqual(['handshake.header-too-large']);
    expect(feed('request', byteByByte(bytes(text)), text.length - 1).result).toEqual(over);
  });

  it('stops buffering an endless header block at the default 64 KiB', () => {
    const parser = new HttpHeadParser('request');
    expect(parser.push(bytes('GET / HTTP/1.1\r\n')).state).toBe('need-more');
    let result: HeadResult = { state: 'need-more' };
    let pushed = 16;
    while (result.state === 'need-more' && pushed < 200_000) {
      result = parser.push(bytes(`X-Pad: ${'a'.repeat(1000)}\r\n`));
      pushed += 1010;
    }
    expect(result.state).toBe('error');
    expect(codes(result)).toEqual(['handshake.header-too-large']);
    expect(pushed).toBeLessThanOrEqual(64 * 1024 + 1010);
    expect(result.state === 'error' && result.alerts[0]?.detail).toEqual({ limit: 65536 });
  });

  it('counts a line without its LF towards the limit', () => {
    const { result } = feed('response', [bytes(`HTTP/1.1 101 ${'x'.repeat(200)}`)], 100);
    expect(codes(result)).toEqual(['handshake.header-too-large']);
  });

  it('uses the direction option on alerts', () => {
    const parser = new HttpHeadParser('request', { direction: 'server' });
    const result = parser.push(Uint8Array.of(0x00));
    expect(result.state === 'error' && result.alerts[0]?.direction).toBe('server');
  });
});

describe('tokenList', () => {
  it.each([
    [['keep-alive, Upgrade'], ['keep-alive', 'Upgrade']],
    [['a', 'b, c'], ['a', 'b', 'c']],
    [[' , a ,, \t b ,'], ['a', 'b']],
    [[''], []],
    [['x; q="a, b", y'], ['x; q="a, b"', 'y']],
    [['x; q="a\\", b", y'], ['x; q="a\\", b"', 'y']],
  ])('%j -> %j', (values, expected) => {
    expect(tokenList(values)).toEqual(expected);
  });
});
