import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Direction } from '../../src/alerts.js';
import { ConnectionDissector } from '../../src/engine/connection-dissector.js';
import type { DissectEvent, HttpExchangeEvent } from '../../src/engine/events.js';
import { HttpPatterns } from '../../src/engine/http-patterns.js';
import { decodeUtf8Lossy } from '../../src/websocket/utf8.js';

const enc = (s: string) => new TextEncoder().encode(s);
const cat = (...parts: (Uint8Array | string)[]) => new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? enc(p) : p))));

type Step = [Direction, Uint8Array | string, number?];

/** Feeds the steps (with a timestamp each: the third item, else its index), then finishes. */
function run(steps: Step[], options: ConstructorParameters<typeof ConnectionDissector>[1] = {}): DissectEvent[] {
  const d = new ConnectionDissector(1, options);
  const events = d.start({ packet: 1, ts: 0 });
  steps.forEach(([dir, bytes, ts], i) => events.push(...d.data(dir, typeof bytes === 'string' ? enc(bytes) : bytes, { packet: i + 2, ts: ts ?? i })));
  events.push(...d.end('client', { packet: steps.length + 2, ts: steps.length }), ...d.end('server', { packet: steps.length + 3, ts: steps.length }));
  return [...events, ...d.finish({ packet: steps.length + 3, ts: steps.length })];
}

/** The same steps, every byte its own chunk: the same exchanges must come out. */
function runBytewise(steps: Step[]): DissectEvent[] {
  const split: Step[] = [];
  for (const [dir, bytes, ts] of steps) for (const b of typeof bytes === 'string' ? enc(bytes) : bytes) split.push([dir, Uint8Array.of(b), ts]);
  return run(split);
}

const exchanges = (events: DissectEvent[]) => events.filter((e): e is HttpExchangeEvent => e.type === 'http');
const end = (events: DissectEvent[]) => events.find((e) => e.type === 'end') as Extract<DissectEvent, { type: 'end' }>;
const body = (e: HttpExchangeEvent) => (e.responseBody === null ? null : decodeUtf8Lossy(e.responseBody.data));

const GET = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: example.test\r\n${extra}\r\n`;
const OK = (content: string, extra = '') => `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(content)}\r\n${extra}\r\n${content}`;

describe('HTTP exchanges (RFC 9112)', () => {
  it('pairs requests and responses on a keep-alive connection, one http event each when its response ends', () => {
    const steps: Step[] = [
      ['client', GET('/a')],
      ['server', OK('alpha')],
      ['client', `POST /b HTTP/1.1\r\nHost: example.test\r\nContent-Length: 3\r\n\r\nxyz`],
      ['server', 'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n4\r\nbeta\r\n3;ext=1\r\n!!!\r\n0\r\nX-Sum: 7\r\n\r\n'],
    ];
    for (const events of [run(steps), runBytewise(steps)]) {
      const [a, b] = exchanges(events);
      expect(a).toMatchObject({ index: 0, method: 'GET', path: '/a', status: 200, reason: 'OK', contentType: 'text/plain', requestBodyBytes: 0, responseBodyBytes: 5, complete: true, pattern: 'request' });
      expect(body(a!)).toBe('alpha');
      expect(a!.requestHeaderBytes).toBe(GET('/a').length);
      expect(b).toMatchObject({ index: 1, method: 'POST', status: 201, requestBodyBytes: 3, responseBodyBytes: 7, complete: true });
      expect(decodeUtf8Lossy(b!.requestBody!.data)).toBe('xyz');
      expect(body(b!)).toBe('beta!!!');
      // Chunk framing: "4\r\n", "\r\n", "3;ext=1\r\n", "\r\n", "0\r\n", "X-Sum: 7\r\n", "\r\n".
      expect(b!.responseFramingBytes).toBe(3 + 2 + 9 + 2 + 3 + 10 + 2);
    }
  });

  it('times each exchange: wait from the end of the request to the first byte of the answer, duration to its end', () => {
    const [e] = exchanges(run([
      ['client', GET('/slow'), 10],
      ['server', 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab', 12.5],
      ['server', 'cd', 13],
    ]));
    expect(e).toMatchObject({ waitMs: 2500, durationMs: 3000, start: { packet: 2, ts: 10 }, at: { packet: 4, ts: 13 } });
  });

  it('answers without a body: HEAD, 204, 304, and a 100 Continue before the final answer', () => {
    const events = run([
      ['client', `HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n${GET('/n')}${GET('/c')}PUT /u HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n`],
      ['server', 'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n'],
      ['client', 'ok'],
      ['server', OK('done')],
    ]);
    const list = exchanges(events);
    expect(list.map((e) => [e.method, e.status, e.responseBodyBytes, e.complete])).toEqual([
      ['HEAD', 200, 0, true],
      ['GET', 204, 0, true],
      ['GET', 304, 0, true],
      ['PUT', 200, 4, true],
    ]);
    expect(list[3]!.interim).toEqual([100]);
    expect(list[3]!.responseHeaderBytes).toBe('HTTP/1.1 100 Continue\r\n\r\n'.length + OK('done').length - 4);
  });

  it('reads a body that runs until the server closes', () => {
    const [e] = exchanges(run([['client', GET('/stream')], ['server', 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end'], ['server', ' of it']]));
    expect(e).toMatchObject({ responseBodyBytes: 16, complete: true });
    expect(body(e!)).toBe('to the end of it');
  });

  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['deflate', deflateRawSync],
    ['br', brotliCompressSync],
  ] as const)('decodes a %s body for display', (coding, compress) => {
    const text = 'compressible '.repeat(50);
    const packed = compress(Buffer.from(text));
    const [e] = exchanges(run([['client', GET('/z')], ['server', cat(`HTTP/1.1 200 OK\r\nContent-Encoding: ${coding}\r\nContent-Length: ${packed.length}\r\n\r\n`, packed)]]));
    expect(e!.responseBodyBytes).toBe(packed.length);
    expect(e!.responseBody).toMatchObject({ codings: [coding], decoded: true, decodeError: null, truncated: false });
    expect(body(e!)).toBe(text);
  });

  it('says when a coded body does not decode, and caps what it decodes to', () => {
    const [bad] = exchanges(run([['client', GET('/z')], ['server', 'HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope']]));
    expect(bad!.responseBody).toMatchObject({ decoded: false, truncated: false });
    expect(bad!.responseBody!.decodeError).toMatch(/gzip does not decode/);
    const bomb = gzipSync(Buffer.alloc(1 << 20));
    const [big] = exchanges(run([['client', GET('/z')], ['server', cat(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${bomb.length}\r\n\r\n`, bomb)]], { limits: { maxInflatedSize: 4096 } }));
    expect(big!.responseBody).toMatchObject({ decoded: false, truncated: true });
    expect(big!.responseBody!.decodeError).toMatch(/more than 4096 bytes/);
  });

  it('keeps at most --max-message bytes of a body and says it was cut', () => {
    const [e] = exchanges(run([['client', GET('/big')], ['server', OK('x'.repeat(5000))]], { limits: { maxMessageSize: 1000 } }));
    expect(e).toMatchObject({ responseBodyBytes: 5000 });
    expect(e!.responseBody).toMatchObject({ truncated: true });
    expect(e!.responseBody!.data.length).toBe(1000);
  });

  it('tells an exchange the capture cut, and a request never answered', () => {
    const [cut, unanswered] = exchanges(run([['client', GET('/cut')], ['server', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nonly part'], ['client', GET('/never')]]));
    expect(cut).toMatchObject({ status: 200, complete: false, responseBodyBytes: 9 });
    expect(cut!.alerts.map((a) => a.code)).toContain('http.body-incomplete');
    expect(unanswered).toMatchObject({ path: '/never', status: null, complete: false, responseBody: null });
  });

  it('keeps what came before a malformed chunk size, a response without a request, and a head over the limit', () => {
    const chunk = run([['client', GET('/a')], ['server', OK('first')], ['client', GET('/b')], ['server', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nbad\r\n0\r\n\r\n']]);
    const [first, broken] = exchanges(chunk);
    expect(body(first!)).toBe('first');
    expect(broken!.complete).toBe(false);
    expect(chunk.some((e) => e.type === 'alert' && e.alert.code === 'http.chunk-invalid')).toBe(true);

    const orphan = exchanges(run([['client', GET('/a')], ['server', OK('one') + OK('two')]]));
    expect(orphan.map((e) => [e.method, body(e)])).toEqual([['GET', 'one'], [null, 'two']]);
    expect(orphan[1]!.alerts.map((a) => a.code)).toEqual(['http.response-without-request']);

    const huge = run([['client', GET('/a')], ['server', OK('ok')], ['client', `GET /b HTTP/1.1\r\nX-Big: ${'y'.repeat(70000)}\r\n\r\n`]]);
    expect(exchanges(huge).map((e) => e.path)).toEqual(['/a']);
    expect(huge.some((e) => e.type === 'alert' || (e.type === 'other' && e.kind === 'not-http'))).toBe(true);
  });

  it('does not tell an upgrade as an exchange: the handshake does', () => {
    const events = run([
      ['client', GET('/page')],
      ['server', OK('page')],
      ['client', 'GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'],
      ['server', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n'],
    ]);
    expect(exchanges(events).map((e) => e.path)).toEqual(['/page']);
    expect(events.filter((e) => e.type === 'handshake')).toHaveLength(1);
  });

  it('counts every byte once: payload plus overhead per transport is what each side sent', () => {
    const steps: Step[] = [
      ['client', GET('/page')],
      ['server', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
      ['client', GET('/events', 'Accept: text/event-stream\r\n')],
      ['server', 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n: hi\ndata: one\n\nevent: x\ndata: two\n\n'],
    ];
    const events = run(steps);
    const e = end(events);
    const { http, sse } = e.transports;
    expect(http!.server).toEqual({ messages: 1, payloadBytes: 5, overheadBytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'.length + '5\r\n\r\n0\r\n\r\n'.length });
    expect(sse!.server).toMatchObject({ messages: 2, payloadBytes: 6 });
    for (const d of ['client', 'server'] as const) {
      const sum = Object.values(e.transports).reduce((n, t) => n + t[d].payloadBytes + t[d].overheadBytes, 0);
      expect(sum, d).toBe(e.totals[d].bytes);
    }
    expect(exchanges(events)[1]!.pattern).toBe('sse');
  });
});

describe('HttpPatterns', () => {
  const facts = (path: string, waitMs: number, extra = {}) => ({ client: '10.0.0.1', method: 'GET', path, waitMs, eventStream: false, engineIoPolling: false, ...extra });

  it('calls a series of quick answers polling from the third, held answers long polling from the second', () => {
    const p = new HttpPatterns(1000);
    expect([1, 2, 3, 4].map((n) => p.judge(facts(`/poll?n=${n}`, 20)))).toEqual(['request', 'request', 'poll', 'poll']);
    expect([1, 2, 3].map(() => p.judge(facts('/lp', 5000)))).toEqual(['request', 'long-poll', 'long-poll']);
    // A quick answer in a held series: the server had news waiting.
    expect(p.judge(facts('/lp', 3))).toBe('long-poll');
    // Another client, another series.
    expect(p.judge({ ...facts('/poll', 20), client: '10.0.0.2' })).toBe('request');
    expect(p.judge(facts('/sse', 1, { eventStream: true }))).toBe('sse');
    expect(p.judge(facts('/socket.io/?EIO=4&transport=polling', 2, { engineIoPolling: true }))).toBe('long-poll');
    // Engine.IO's POSTs are the client's sends: never polling, however many.
    expect([1, 2, 3, 4].map(() => p.judge(facts('/socket.io/?EIO=4&transport=polling&sid=x', 2, { engineIoPolling: true, method: 'POST' })))).toEqual(['request', 'request', 'request', 'request']);
  });

  it('follows the --long-poll threshold', () => {
    const p = new HttpPatterns(10_000);
    expect([1, 2, 3].map(() => p.judge(facts('/lp', 5000)))).toEqual(['request', 'request', 'poll']);
  });

  it('judges across the connections that share it', () => {
    const patterns = new HttpPatterns(1000);
    const judged = [1, 2, 3].map((i) => exchanges(run([['client', GET('/news'), i], ['server', OK('nothing'), i + 0.01]], { httpPatterns: patterns, clientAddress: '192.0.2.1' }))[0]!.pattern);
    expect(judged).toEqual(['request', 'request', 'poll']);
  });
});
