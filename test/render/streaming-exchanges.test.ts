/**
 * An exchange whose response streams shows its row when its head arrives, its events under it,
 * and its end (sizes, duration) when it ends: in the table of wsdump (a capture) and of wsproxy
 * (live, while the stream is still open). An event stream's head is shown at once; any other
 * response's head only when something else is printed before it ends. NDJSON keeps its order:
 * `other` at the head (with `exchange` and `contentType`), the `app` events, `http` at the end.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { Direction } from '../../src/alerts.js';
import { main as wsdump } from '../../src/cli/wsdump.js';
import { main as wsproxyMain, type WsproxyControl } from '../../src/cli/wsproxy.js';
import { ConnectionDissector } from '../../src/engine/connection-dissector.js';
import type { DissectEvent } from '../../src/engine/events.js';
import type { HostPort } from '../../src/proxy/index.js';
import { TableRenderer } from '../../src/render/table.js';
import { argv, fakeIo, ndjson } from '../cli/io.js';
import { closeServer, listen } from '../proxy/helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The index of the first line matching each pattern, in order; -1 when one is missing. */
function linesAt<T extends RegExp[]>(text: string, ...patterns: T): { [K in keyof T]: number } {
  const lines = text.split('\n');
  return patterns.map((p) => lines.findIndex((l) => p.test(l))) as { [K in keyof T]: number };
}

describe('wsdump: an event stream in the table', () => {
  it('shows the exchange\'s head row before its events and its end after them (fixtures/real/sse.pcap)', async () => {
    const io = fakeIo();
    expect(await wsdump(argv('--conn', '1', 'fixtures/real/sse.pcap'), io)).toBe(0);
    const [head, first, last, end] = linesAt(io.stdout.text, /^ 6 .* #1 +HTTP GET \/events → 200 {2}text\/event-stream, receiving…$/, /S→C SSE +sse message id 1 "first"/, /S→C SSE +sse done "bye"/, /^ 36 .* #1 +HTTP end of GET \/events → 200 OK {2}wait .*9 events, incomplete, sse$/);
    expect(head).toBeGreaterThanOrEqual(0);
    expect([head, first, last, end]).toEqual([...[head, first, last, end]].sort((a, b) => a - b));
    expect(first).toBe(head + 1);
    // One row each: the head is not repeated at the end, nor the end at the head.
    expect(io.stdout.text.match(/GET \/events/g)).toHaveLength(2);
    const messages = fakeIo();
    expect(await wsdump(argv('--messages', '--conn', '1', 'fixtures/real/sse.pcap'), messages)).toBe(0);
    const order = linesAt(messages.stdout.text, /HTTP GET \/events → 200 {2}text\/event-stream, receiving…/, /sse message id 1 "first"/, /HTTP end of GET \/events/);
    expect(order[0]).toBeGreaterThanOrEqual(0);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('keeps NDJSON\'s order: other at the head (exchange, contentType), the app events, http at the end', async () => {
    const io = fakeIo();
    expect(await wsdump(argv('--json', '--conn', '1', 'fixtures/real/sse.pcap'), io)).toBe(0);
    const events = ndjson(io.stdout.text);
    const head = events.findIndex((e) => e.type === 'other');
    const http = events.findIndex((e) => e.type === 'http');
    const apps = events.flatMap((e, i) => (e.type === 'app' ? [i] : []));
    expect(events[head]).toMatchObject({ kind: 'http', requestLine: 'GET /events HTTP/1.1', status: 200, exchange: 0, contentType: 'text/event-stream', packet: 6 });
    expect(apps).toHaveLength(9);
    expect(head).toBeLessThan(apps[0]!);
    expect(http).toBeGreaterThan(apps[8]!);
    expect(events[http]).toMatchObject({ index: 0, path: '/events', pattern: 'sse' });
  });
});

describe('the table: a response of another kind', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  type Step = [conn: 1 | 2, Direction, string];

  /** Two connections' steps, interleaved as given, through the table. */
  function table(steps: Step[]): string {
    const dissectors = { 1: new ConnectionDissector(1), 2: new ConnectionDissector(2) };
    const events: DissectEvent[] = [...dissectors[1].start({ packet: 1, ts: 0 }), ...dissectors[2].start({ packet: 1, ts: 0 })];
    steps.forEach(([conn, dir, text], i) => events.push(...dissectors[conn].data(dir, enc(text), { packet: i + 2, ts: (i + 1) / 10 })));
    events.push(...dissectors[1].finish({ packet: 99, ts: 9 }), ...dissectors[2].finish({ packet: 99, ts: 9 }));
    const renderer = new TableRenderer({ colorLevel: 0, width: 200 });
    return events.map((e) => renderer.render(e)).join('');
  }
  const download: Step[] = [
    [1, 'client', 'GET /big HTTP/1.1\r\nHost: x\r\n\r\n'],
    [1, 'server', 'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\nhello'],
  ];

  it('gets its head row when something else is printed before it ends, and its end row when it does', () => {
    const text = table([...download, [2, 'client', 'GET /small HTTP/1.1\r\nHost: x\r\n\r\n'], [2, 'server', 'HTTP/1.1 204 No Content\r\n\r\n'], [1, 'server', 'world']]);
    const [head, small, end] = linesAt(text, /^ 3 .* #1 +HTTP GET \/big → 200 {2}application\/octet-stream, receiving…$/, /#2 +HTTP GET \/small → 204 No Content/, /^ 6 .* #1 +HTTP end of GET \/big → 200 OK {2}.*S→C \d+ B head \+ 10 B body/);
    expect(head).toBeGreaterThanOrEqual(0);
    expect(small).toBeGreaterThan(head);
    expect(end).toBeGreaterThan(small);
  });

  it('is one row when nothing comes between its head and its end', () => {
    const text = table([...download, [1, 'server', 'world'], [2, 'client', 'GET /small HTTP/1.1\r\nHost: x\r\n\r\n'], [2, 'server', 'HTTP/1.1 204 No Content\r\n\r\n']]);
    expect(text).not.toMatch(/receiving…|end of/);
    expect(text.match(/GET \/big → 200 OK/g)).toHaveLength(1);
  });
});

describe('wsproxy: an event stream, live', () => {
  it('prints the exchange\'s row and each event while the stream is open, its end when it closes', async () => {
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      res.write('data: one\n\n');
      void finished.then(() => res.end('event: last\ndata: two\n\n'));
    });
    const target = await listen(server as unknown as import('node:net').Server);
    cleanups.push(async () => {
      finish();
      server.closeAllConnections();
      await closeServer(server);
    });
    const io = fakeIo();
    const controller = new AbortController();
    let listening!: (address: HostPort) => void;
    const address = new Promise<HostPort>((resolve) => (listening = resolve));
    const control: WsproxyControl = { signal: controller.signal, onListening: listening };
    const exit = wsproxyMain(['node', 'wsproxy', '--listen', '0', '--target', String(target)], io, control);
    cleanups.push(async () => {
      controller.abort();
      await exit;
    });
    const { port } = await address;
    const received: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/events', agent: false }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (d: string) => received.push(d));
        res.on('end', resolve);
      }).on('error', reject);
    });
    // The stream is open: its row and its first event are on screen, its end is not.
    await expect.poll(() => io.stdout.text, { timeout: 5000 }).toMatch(/sse message "one"/);
    const open = io.stdout.text;
    const [head, one] = linesAt(open, /#1 +HTTP GET \/events → 200 {2}text\/event-stream, receiving…/, /#1 +S→C SSE +sse message "one"/);
    expect(head).toBeGreaterThanOrEqual(0);
    expect(one).toBe(head + 1);
    expect(open).not.toMatch(/end of GET \/events/);
    finish();
    await done;
    await expect.poll(() => io.stdout.text, { timeout: 5000 }).toMatch(/end of GET \/events → 200 OK .*2 events/);
    const [two, end] = linesAt(io.stdout.text, /#1 +S→C SSE +sse last "two"/, /#1 +HTTP end of GET \/events/);
    expect(two).toBeGreaterThan(one);
    expect(end).toBeGreaterThan(two);
    expect(received.join('')).toBe('data: one\n\nevent: last\ndata: two\n\n');
  });
});
