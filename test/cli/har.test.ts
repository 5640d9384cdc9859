/**
 * HAR in and out: `wsdump --har FILE` writes HAR 1.2 (the spec's required fields and types,
 * Chrome's `_webSocketMessages`), and `wsdump FILE.har` reads it back into the message-level
 * views: the round trip keeps every exchange, every WebSocket message and what the
 * application layer makes of them.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/wsdump.js';
import { argv, fakeIo, ndjson } from './io.js';

const dir = mkdtempSync(join(tmpdir(), 'wsdump-har-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function wsdump(...args: string[]) {
  const io = fakeIo();
  const code = await main(argv(...args), io);
  return { code, stdout: io.stdout.text, stderr: io.stderr.text };
}

type Json = Record<string, any>;

/** The HAR 1.2 rules for what we write ("HAR 1.2 Spec", softwareishard.com). */
function checkHar12(har: Json): void {
  expect(har.log.version).toBe('1.2');
  expect(har.log.creator).toMatchObject({ name: 'wsdump', version: expect.any(String) });
  expect(Array.isArray(har.log.entries)).toBe(true);
  const pair = { name: expect.any(String), value: expect.any(String) };
  for (const e of har.log.entries) {
    expect(new Date(e.startedDateTime).toISOString()).toBe(e.startedDateTime);
    expect(e.time).toBeGreaterThanOrEqual(0);
    // "time: total elapsed time of the request in milliseconds. This is the sum of all timings available in the timings object (i.e. not including -1 values)."
    const sum = ['blocked', 'dns', 'connect', 'send', 'wait', 'receive'].map((k) => e.timings[k] ?? -1).filter((v: number) => v !== -1).reduce((a: number, b: number) => a + b, 0);
    expect(Math.abs(sum - e.time)).toBeLessThan(0.01);
    for (const k of ['send', 'wait', 'receive']) expect(e.timings[k]).toBeGreaterThanOrEqual(0);
    expect(e.cache).toEqual({});
    const rq = e.request;
    expect(rq).toMatchObject({ method: expect.any(String), url: expect.stringMatching(/^(https?|wss?):\/\//), httpVersion: expect.any(String), cookies: [], headersSize: expect.any(Number), bodySize: expect.any(Number) });
    for (const h of [...rq.headers, ...rq.queryString]) expect(h).toEqual(pair);
    if (rq.postData !== undefined) expect(rq.postData).toMatchObject({ mimeType: expect.any(String), text: expect.any(String) });
    const rs = e.response;
    expect(rs).toMatchObject({ status: expect.any(Number), statusText: expect.any(String), httpVersion: expect.any(String), cookies: [], redirectURL: expect.any(String), headersSize: expect.any(Number), bodySize: expect.any(Number) });
    for (const h of rs.headers) expect(h).toEqual(pair);
    expect(rs.content).toMatchObject({ size: expect.any(Number), mimeType: expect.any(String) });
    if (rs.content.encoding !== undefined) expect(rs.content.encoding).toBe('base64');
    for (const m of e._webSocketMessages ?? []) {
      expect(['send', 'receive']).toContain(m.type);
      expect(typeof m.time).toBe('number');
      expect([1, 2]).toContain(m.opcode);
      expect(typeof m.data).toBe('string');
    }
  }
}

describe('wsdump --har', () => {
  it.each(['fixtures/real/socketio-chromium.pcap', 'fixtures/real/sse.pcap', 'fixtures/real/keepalive-upgrade.pcap', 'fixtures/real/deflate.pcap', 'fixtures/real/transports.pcap'])('%s: HAR 1.2 that reads back to the same exchanges (and their patterns), messages and app events', async (capture) => {
    const file = join(dir, `${capture.split('/').pop()}.har`);
    const direct = await wsdump('--json', '--full', '--har', file, capture);
    expect(direct.code).toBe(0);
    const har = JSON.parse(readFileSync(file, 'utf8'));
    checkHar12(har);
    const events = ndjson(direct.stdout);
    const http = events.filter((e) => e.type === 'http');
    const upgrades = events.filter((e) => e.type === 'handshake');
    expect(har.log.entries).toHaveLength(http.length + upgrades.length);
    // Every WebSocket's text and binary messages, in order, as Chrome writes them.
    for (const h of upgrades.filter((u) => u.upgraded)) {
      const entry = har.log.entries.find((e: Json) => e._wsdump.conn === h.conn && e.response.status === 101);
      expect(entry._resourceType).toBe('websocket');
      const messages = events.filter((e) => e.type === 'message' && e.conn === h.conn && (e.opcode === 1 || e.opcode === 2));
      expect(entry._webSocketMessages.map((m: Json) => [m.type, m.opcode, m.opcode === 1 ? m.data : Buffer.from(m.data, 'base64').toString('hex')])).toEqual(
        messages.map((m) => [m.from === 'client' ? 'send' : 'receive', m.opcode, m.opcode === 1 ? m.text : m.payload]),
      );
    }

    const back = await wsdump('--json', '--full', file);
    expect(back.code).toBe(0);
    expect(back.stderr).toMatch(/is a HAR \(wsdump .*\): it holds HTTP exchanges and WebSocket messages, not packets or frames/);
    const read = ndjson(back.stdout);
    expect(read.filter((e) => e.type === 'frame')).toEqual([]);
    // The patterns are judged again from the HAR's timings, by the same rules.
    const key = (e: Json) => [e.method, e.path, e.status, e.pattern, e.session, e.responseBody?.text ?? e.responseBody?.payload ?? null];
    expect(read.filter((e) => e.type === 'http').map(key).sort()).toEqual(http.map(key).sort());
    const text = (list: Json[]) => list.filter((e) => e.type === 'message' && (e.opcode === 1 || e.opcode === 2)).map((e) => [e.from, e.text ?? e.payload]);
    expect(text(read)).toEqual(text(events));
    const app = (list: Json[]) => list.filter((e) => e.type === 'app').map((e) => [e.from, e.transport, e.protocol, e.kind, e.session, e.event ?? null, e.data ?? null]).sort();
    expect(app(read)).toEqual(app(events));
  });

  it('reads a HAR as DevTools writes it: a WebSocket entry without our extras, a binary message in base64', async () => {
    const file = join(dir, 'devtools.har');
    writeFileSync(file, JSON.stringify({
      log: {
        version: '1.2',
        creator: { name: 'WebInspector', version: '537.36' },
        pages: [],
        entries: [
          {
            startedDateTime: '2026-12-05T10:00:00.000Z', time: 12, _resourceType: 'websocket',
            request: { method: 'GET', url: 'wss://example.test/chat', httpVersion: 'HTTP/1.1', headers: [{ name: 'Sec-WebSocket-Key', value: 'dGhlIHNhbXBsZSBub25jZQ==' }], queryString: [], cookies: [], headersSize: -1, bodySize: 0 },
            response: { status: 101, statusText: 'Switching Protocols', httpVersion: 'HTTP/1.1', headers: [{ name: 'Sec-WebSocket-Accept', value: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=' }], cookies: [], content: { size: 0, mimeType: 'x-unknown' }, redirectURL: '', headersSize: -1, bodySize: 0 },
            cache: {}, timings: { blocked: -1, dns: -1, ssl: -1, connect: -1, send: 0, wait: 12, receive: 0 },
            _webSocketMessages: [
              { type: 'send', time: 1796464800.1, opcode: 1, data: 'hello' },
              { type: 'receive', time: 1796464800.2, opcode: 2, data: Buffer.from([1, 2, 3]).toString('base64') },
            ],
          },
        ],
      },
    }));
    const { code, stdout } = await wsdump('--json', file);
    expect(code).toBe(0);
    const events = ndjson(stdout);
    expect(events.find((e) => e.type === 'handshake')).toMatchObject({ path: '/chat', status: 101, upgraded: true, acceptValid: true });
    expect(events.filter((e) => e.type === 'message').map((e) => [e.from, e.opcodeName, e.text ?? e.payload, e.ts])).toEqual([
      ['client', 'text', 'hello', 1796464800.1],
      ['server', 'binary', '010203', 1796464800.2],
    ]);
    const table = await wsdump('--messages', file);
    expect(table.stdout).toMatch(/C→S text .*"hello"/);
  });

  it('judges the patterns of a DevTools HAR\'s exchanges by the capture\'s rules (--long-poll too)', async () => {
    const file = join(dir, 'patterns.har');
    let t = Date.parse('2026-12-05T10:00:00.000Z');
    const entry = (url: string, wait: number, mimeType = 'application/json') => {
      const startedDateTime = new Date(t).toISOString();
      t += wait + 10;
      return {
        startedDateTime, time: wait + 1,
        request: { method: 'GET', url, httpVersion: 'HTTP/1.1', headers: [], queryString: [], cookies: [], headersSize: -1, bodySize: 0 },
        response: { status: 200, statusText: 'OK', httpVersion: 'HTTP/1.1', headers: [], cookies: [], content: { size: 2, mimeType, text: '[]' }, redirectURL: '', headersSize: -1, bodySize: 2 },
        cache: {}, timings: { blocked: -1, dns: -1, ssl: -1, connect: -1, send: 0, wait, receive: 1 },
      };
    };
    writeFileSync(file, JSON.stringify({
      log: {
        version: '1.2', creator: { name: 'WebInspector', version: '537.36' }, pages: [],
        entries: [
          entry('http://a.test/updates?since=0', 1500),
          entry('http://a.test/status?n=1', 20),
          entry('http://a.test/updates?since=1', 1400),
          entry('http://a.test/status?n=2', 15),
          entry('http://a.test/status?n=3', 12),
          entry('http://a.test/once', 3000),
          entry('http://a.test/socket.io/?EIO=4&transport=polling&t=x&sid=abc', 30, 'text/plain'),
        ],
      },
    }));
    const patterns = async (...args: string[]) => ndjson((await wsdump('--json', ...args, file)).stdout).filter((e) => e.type === 'http').map((e) => [e.path, e.pattern, e.session]);
    expect(await patterns()).toEqual([
      ['/updates?since=0', 'request', null], // the first of a series, judged as it ended (as in a capture)
      ['/status?n=1', 'request', null],
      ['/updates?since=1', 'long-poll', null],
      ['/status?n=2', 'request', null],
      ['/status?n=3', 'poll', null],
      ['/once', 'request', null],
      ['/socket.io/?EIO=4&transport=polling&t=x&sid=abc', 'long-poll', 'abc'],
    ]);
    // Held under 2 s is no longer held: the two /updates are a series of quick answers, too short for polling.
    expect((await patterns('--long-poll', '2')).slice(0, 3)).toEqual([['/updates?since=0', 'request', null], ['/status?n=1', 'request', null], ['/updates?since=1', 'request', null]]);
  });

  it.each([
    ['{ not json', /bad\.har: not a pcap or pcapng file, nor a HAR: it starts like JSON but is not JSON/],
    ['{"version": 1}', /not a pcap or pcapng file, nor a HAR: a JSON document with no "log"/],
    ['{"log": {}}', /not a pcap or pcapng file, nor a HAR: its "log" has no "entries" array/],
  ])('says in one line that %s is no HAR, exit 1', async (content, message) => {
    const file = join(dir, 'bad.har');
    writeFileSync(file, content);
    const { code, stderr, stdout } = await wsdump(file);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(message);
  });

  it('says in one line that it cannot write the HAR', async () => {
    const { code, stderr } = await wsdump('--har', join(dir, 'no', 'such', 'dir.har'), 'fixtures/real/ws-basic.pcap');
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/cannot write --har/);
  });
});

describe('a HAR recorded by headless Chromium over the DevTools protocol (fixtures/real/chromium-har.har)', () => {
  const spec = JSON.parse(readFileSync('fixtures/real/chromium-har.expected.json', 'utf8'));
  const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

  it('reads back every exchange the page made and every WebSocket message, as the server saw them', async () => {
    const { code, stdout, stderr } = await wsdump('--json', '--full', 'fixtures/real/chromium-har.har');
    expect(code).toBe(0);
    expect(stderr).toMatch(/is a HAR \(WebInspector [\d.]+\)/);
    const events = ndjson(stdout);
    const http = events.filter((e) => e.type === 'http').sort((a, b) => a.startTs - b.startTs);
    // The requests Chromium issued, in its order; the server read the same ones (its order may differ by a hair for parallel ones).
    expect(http.map((e) => `${e.method} ${e.path}`).sort()).toEqual([...spec.har.requests].sort());
    const by = (path: string) => http.find((e) => e.path === path)!;
    expect(by('/api/data')).toMatchObject({ status: 200, contentType: 'application/json', pattern: 'request' });
    expect(JSON.parse(by('/api/data').responseBody.text)).toEqual({ items: [1, 2, 3], note: 'gzip on the wire' });
    expect(by('/api/echo')).toMatchObject({ method: 'POST', status: 200 });
    expect(JSON.parse(by('/api/echo').requestBody.text)).toEqual({ hello: 'xhr' });
    expect(by('/api/echo').responseBody.text).toBe(by('/api/echo').requestBody.text);
    expect(by('/favicon.ico').status).toBe(404);
    // Held 1.2 s by the server, asked twice: long polling, judged from the HAR's own timings.
    expect(by('/poll?since=0').waitMs).toBeGreaterThanOrEqual(1000);
    expect([by('/poll?since=0').pattern, by('/poll?since=1').pattern]).toEqual(['request', 'long-poll']);
    // DevTools exports no body for an event stream (Network.getResponseBody has none): the exchange, without its events.
    expect(by('/events')).toMatchObject({ status: 200, pattern: 'sse', contentType: 'text/event-stream' });
    expect(events.filter((e) => e.type === 'app' && e.transport === 'sse')).toEqual([]);
    // The WebSocket: its handshake and each text and binary message, both ways, as the server read and wrote them.
    const handshake = events.find((e) => e.type === 'handshake');
    expect(handshake).toMatchObject({ path: '/ws', status: 101, upgraded: true, acceptValid: true });
    const messages = events.filter((e) => e.type === 'message' && e.conn === handshake!.conn);
    const got = messages.map((m) => [m.from, m.opcodeName, m.length, sha(m.text !== undefined ? Buffer.from(m.text, 'utf8') : Buffer.from(m.payload, 'hex'))]);
    const sent = spec.connections[0].messages;
    const want = (['client', 'server'] as const).flatMap((from) => sent[from].filter((m: Json) => m.type !== 'close').map((m: Json) => [from, m.type, m.length, m.sha256]));
    expect(got.slice().sort()).toEqual(want.slice().sort());
    // Chromium's order: both sends, then both answers, each at its own time.
    expect(messages.map((m) => m.from)).toEqual(['client', 'client', 'server', 'server']);
    expect(messages.every((m, i) => i === 0 || m.ts >= messages[i - 1]!.ts)).toBe(true);
  });

  it('agrees with the tcpdump capture of the same page: exchanges, statuses, patterns; the capture has the events the HAR lacks', async () => {
    const fromHar = ndjson((await wsdump('--json', 'fixtures/real/chromium-har.har')).stdout);
    const fromPcap = ndjson((await wsdump('--json', 'fixtures/real/chromium-har.pcap')).stdout);
    const key = (e: Json) => `${e.method} ${e.path} ${e.status} ${e.pattern}`;
    expect(fromHar.filter((e) => e.type === 'http').map(key).sort()).toEqual(fromPcap.filter((e) => e.type === 'http').map(key).sort());
    const dispatched = spec.har.eventSource[0].messages;
    const sse = fromPcap.filter((e) => e.type === 'app' && e.transport === 'sse');
    expect(sse.map((e) => [e.event, e.id, e.data])).toEqual(dispatched.map((m: Json) => [m.eventName, m.eventId, m.data]));
    const text = (list: Json[]) => list.filter((e) => e.type === 'message' && (e.opcode === 1 || e.opcode === 2)).map((e) => [e.from, e.text ?? e.payload]);
    expect(text(fromHar)).toEqual(text(fromPcap));
  });
});

describe('a Socket.IO session recorded by headless Chromium over the DevTools protocol (fixtures/real/socketio-chromium-har.har)', () => {
  it('reads as one session on one timeline: polling bodies and WebSocket messages, every event as the peers emitted it, no ack left unpaired', async () => {
    const spec = JSON.parse(readFileSync('fixtures/real/socketio-chromium-har.expected.json', 'utf8'));
    const session = spec.session;
    const { code, stdout } = await wsdump('--json', 'fixtures/real/socketio-chromium-har.har');
    expect(code).toBe(0);
    const events = ndjson(stdout);
    const app = events.filter((e) => e.type === 'app');
    expect(app.every((e) => e.session === session.sid)).toBe(true);
    expect(app.flatMap((e) => e.alerts)).toEqual([]);
    expect(events.filter((e) => e.type === 'alert')).toEqual([]);
    // Exchanges (when they ended) and WebSocket messages in time order, whatever order the HAR lists its entries in.
    const timeline = events.filter((e) => e.type === 'http' || e.type === 'message').map((e) => e.ts);
    expect(timeline).toEqual([...timeline].sort((a, b) => a - b));
    const socketIo = (list: Json[], from: string) => list.filter((e) => e.from === from && e.protocol === 'socket.io').map((e) => ({ kind: e.kind, nsp: e.nsp, ...(e.event !== undefined ? { event: e.event } : {}), ...(e.kind === 'event' || e.kind === 'ack' ? { args: e.args } : {}), transport: e.transport }));
    for (const from of ['client', 'server']) {
      const want = session.events[from].map((e: Json) => ({ kind: e.kind, nsp: e.nsp, ...(e.event !== undefined ? { event: e.event } : {}), ...(e.args !== undefined ? { args: e.args } : {}), transport: e.transport }));
      expect(socketIo(app, from), from).toEqual(want);
    }
    // Every ack answers its event, across the polling requests and the WebSocket.
    expect(app.filter((e) => e.kind === 'ack').every((e) => e.replyTo !== null || e.latencyMs !== null)).toBe(true);
    // The capture of the same session tells the same story.
    const pcap = ndjson((await wsdump('--json', 'fixtures/real/socketio-chromium-har.pcap')).stdout).filter((e) => e.type === 'app');
    for (const from of ['client', 'server']) expect(socketIo(app, from)).toEqual(socketIo(pcap, from));
  });
});
