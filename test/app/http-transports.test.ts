/**
 * Application messages that come in HTTP bodies: Engine.IO long-polling packets (fed through
 * the application layer with the request's sid as their session) and Server-Sent Events (one
 * `app` event per dispatched event, when its blank line arrives). Crafted exchanges, then the
 * real peers of fixtures/real/socketio-chromium.pcap and fixtures/real/sse.pcap.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { AppLayer } from '../../src/app/layer.js';
import type { Direction } from '../../src/alerts.js';
import { ConnectionDissector } from '../../src/engine/connection-dissector.js';
import type { AppEvent, DissectEvent } from '../../src/engine/events.js';
import { eventToJson } from '../../src/render/json.js';
import { dissectFile } from '../helpers/dissect.js';

const enc = (s: string) => new TextEncoder().encode(s);
const cat = (...parts: (Uint8Array | string)[]) => new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? enc(p) : p))));

type Step = [Direction, Uint8Array | string];

/** One connection's steps through the engine and an application layer, packet i + 2 each. */
function run(steps: Step[], options: { layer?: AppLayer; conn?: number; limits?: { maxMessageSize?: number } } = {}): DissectEvent[] {
  const layer = options.layer ?? new AppLayer();
  const d = new ConnectionDissector(options.conn ?? 1, options.limits ? { limits: options.limits } : {});
  const events = d.start({ packet: 1, ts: 0 });
  steps.forEach(([dir, bytes], i) => events.push(...d.data(dir, typeof bytes === 'string' ? enc(bytes) : bytes, { packet: i + 2, ts: i / 10 })));
  events.push(...d.finish({ packet: steps.length + 2, ts: steps.length }));
  return layer.process(events);
}

const apps = (events: DissectEvent[]) => events.filter((e): e is AppEvent => e.type === 'app');
const json = (events: DissectEvent[]) => events.map((e) => eventToJson(e, { maxHexBytes: Infinity })) as Record<string, any>[];
const ok = (body: string | Uint8Array, type = 'text/plain; charset=UTF-8') => cat(`HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nContent-Length: ${typeof body === 'string' ? enc(body).length : body.length}\r\n\r\n`, body);
const get = (target: string) => `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`;
const post = (target: string, body: string) => `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: ${enc(body).length}\r\n\r\n${body}`;
const OPEN = '0{"sid":"s1d","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}';

describe('Engine.IO long-polling through the application layer', () => {
  it('splits v4 bodies on 0x1E, the client\'s POSTs and the answers to its GETs, one session by sid across connections', () => {
    const layer = new AppLayer();
    const first = run([['client', get('/socket.io/?EIO=4&transport=polling&t=a')], ['server', ok(OPEN)]], { layer, conn: 1 });
    const second = run([
      ['client', post('/socket.io/?EIO=4&transport=polling&t=b&sid=s1d', '40')],
      ['server', ok('ok', 'text/html')],
      ['client', get('/socket.io/?EIO=4&transport=polling&t=c&sid=s1d')],
      ['server', ok('40{"sid":"x"}\x1e42["news",1]\x1e451-["file",{"_placeholder":true,"num":0}]\x1ebAQID\x1e2')],
    ], { layer, conn: 2 });
    const got = json([...apps(first), ...apps(second)]).map((e) => [e.conn, e.from, e.transport, e.protocol, e.kind, e.session, e.packet]);
    expect(got).toEqual([
      [1, 'server', 'polling', 'engine.io', 'open', 's1d', 3],
      [2, 'client', 'polling', 'socket.io', 'connect', 's1d', 2],
      [2, 'server', 'polling', 'socket.io', 'connect', 's1d', 5],
      [2, 'server', 'polling', 'socket.io', 'event', 's1d', 5],
      [2, 'server', 'polling', 'socket.io', 'event', 's1d', 5],
      [2, 'server', 'polling', 'engine.io', 'ping', 's1d', 5],
    ]);
    const [, , news, file] = json(apps(second));
    expect(news).toMatchObject({ event: 'news', args: [1], alerts: [] });
    // "b" + base64: a binary packet (v4 "Packet encoding"), here the attachment of the event before it.
    expect(file).toMatchObject({ event: 'file', args: [{ length: 3, hex: '010203' }], alerts: [] });
    // The app events follow the exchange's http event, which says it was long polling.
    const http = second.filter((e) => e.type === 'http');
    expect(http.map((e) => e.type === 'http' && [e.method, e.session, e.pattern])).toEqual([['POST', 's1d', 'request'], ['GET', 's1d', 'long-poll']]);
    expect(second.findIndex((e) => e.type === 'app' && e.direction === 'server')).toBeGreaterThan(second.findIndex((e) => e.type === 'http' && e.method === 'GET'));
  });

  it('splits v3 bodies on their length prefixes, counted in characters', () => {
    const open = OPEN;
    const body = `${open.length}:${open}2:40${'42["é"]'.length}:42["é"]`;
    const events = run([['client', get('/socket.io/?EIO=3&transport=polling')], ['server', ok(body)]]);
    expect(apps(events).map((e) => [e.protocol, e.kind, e.session])).toEqual([
      ['engine.io', 'open', 's1d'],
      ['socket.io', 'connect', 's1d'],
      ['socket.io', 'event', 's1d'],
    ]);
  });

  it('says once why a body gives no packets: broken v3 framing, a body cut by --max-message', () => {
    const broken = run([['client', get('/socket.io/?EIO=3&transport=polling')], ['server', ok('99:0{}')]]);
    expect(apps(broken)).toEqual([]);
    expect(broken.filter((e) => e.type === 'alert').map((e) => e.type === 'alert' && e.alert.code)).toEqual(['engineio.payload-invalid']);
    const cut = run([['client', get('/socket.io/?EIO=4&transport=polling')], ['server', ok(OPEN)]], { limits: { maxMessageSize: 10 } });
    expect(apps(cut)).toEqual([]);
    expect(cut.filter((e) => e.type === 'alert').map((e) => e.type === 'alert' && e.alert.code)).toEqual(['engineio.payload-skipped']);
    // Counted in the connection's end event.
    const end = cut.find((e) => e.type === 'end');
    expect(end?.type === 'end' && end.alerts.warning).toBe(1);
  });

  it('counts the packets of polling in the end event\'s transport costs', () => {
    const events = run([['client', get('/socket.io/?EIO=4&transport=polling&sid=s1d')], ['server', ok('42["a"]\x1e42["b"]')]]);
    const end = events.find((e) => e.type === 'end');
    expect(end?.type === 'end' && end.transports.polling?.server).toMatchObject({ messages: 2, payloadBytes: 14 });
  });
});

describe('Server-Sent Events as app events', () => {
  const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n';

  it('emits each event at the packet of its blank line, with the last event id and the retry in force', () => {
    const events = run([
      ['client', get('/events')],
      ['server', head],
      ['server', 'retry: 1500\nid: 7\nevent: tick\ndata: one\n'],
      ['server', 'data: two\n\n: comment\n\ndata: three\n\n'],
    ]);
    expect(json(apps(events))).toEqual([
      expect.objectContaining({ conn: 1, from: 'server', packet: 5, transport: 'sse', protocol: 'sse', kind: 'event', session: null, event: 'tick', data: 'one\ntwo', id: '7', retry: 1500 }),
      expect.objectContaining({ packet: 5, event: 'message', data: 'three', id: '7', retry: 1500 }),
    ]);
    const http = events.find((e) => e.type === 'http');
    expect(http?.type === 'http' && [http.pattern, http.events]).toEqual(['sse', 2]);
  });

  it('reads a gzip-coded event stream as it streams', () => {
    const packed = gzipSync(Buffer.from('data: compressed\n\n'));
    const events = run([['client', get('/events')], ['server', cat(`HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n`, packed)]]);
    expect(apps(events).map((e) => e.fields.data)).toEqual(['compressed']);
    // Its cost on the wire: the compressed body split as its decoded stream is, 10 B of data in 18 B.
    const end = events.find((e) => e.type === 'end');
    const sse = end?.type === 'end' ? end.transports.sse!.server : null;
    const http = events.find((e) => e.type === 'http');
    const wireBody = http?.type === 'http' ? http.responseBodyBytes : NaN;
    expect(wireBody).toBe(packed.length);
    expect(sse?.payloadBytes).toBe(Math.round((packed.length * 10) / 18));
    expect(end?.type === 'end' && sse!.payloadBytes + sse!.overheadBytes).toBe(end?.type === 'end' && end.totals.server.bytes);
  });

  it('says once that a stream is not UTF-8, and carries on', () => {
    const events = run([['client', get('/events')], ['server', cat(head, 'data: a', Uint8Array.of(0xff), '\n\ndata: b\xff\n\n')]]);
    expect(apps(events).map((e) => e.fields.data)).toEqual(['a\ufffd', 'b\u00ff']);
    expect(events.filter((e) => e.type === 'alert' && e.alert.code === 'sse.utf8-invalid')).toHaveLength(1);
  });

  it('gives no app events without the application layer (--app none)', () => {
    const d = new ConnectionDissector(1, { appEvents: false });
    const events = [...d.start({ packet: 1 }), ...d.data('client', enc(get('/e')), { packet: 2 }), ...d.data('server', enc(`${head}data: x\n\n`), { packet: 3 })];
    expect(apps(events)).toEqual([]);
  });
});

describe('real peers', () => {
  it('socket.io in Chromium: polling, then the upgrade, one session; every event as the peers emitted it, over the transport it took', async () => {
    const spec = JSON.parse(readFileSync('fixtures/real/socketio-chromium.expected.json', 'utf8'));
    const session = spec.session;
    const { json: all } = await dissectFile('fixtures/real/socketio-chromium.pcap');
    const app = all.filter((e) => e.type === 'app');
    expect(app.every((e) => e.session === session.sid)).toBe(true);
    expect(app.flatMap((e) => e.alerts)).toEqual([]);
    // Polling connections end quietly when the session moves to its WebSocket: no heartbeat is late.
    expect(all.filter((e) => e.type === 'alert')).toEqual([]);
    // The WebSocket's Engine.IO heartbeat is judged against the pingInterval of the open packet that came over polling.
    const wsEnd = all.find((e) => e.type === 'end' && e.kind === 'websocket');
    expect(wsEnd!.appHeartbeat).toMatchObject({ protocol: 'engine.io', negotiated: { server: { intervalMs: session.pingInterval, timeoutMs: session.pingTimeout } } });
    // The open packet came over polling, with the heartbeat the server was configured with.
    expect(app[0]).toMatchObject({ transport: 'polling', protocol: 'engine.io', kind: 'open', data: { sid: session.sid, pingInterval: session.pingInterval, pingTimeout: session.pingTimeout } });
    // Several TCP connections carried the session: polling requests, then the WebSocket.
    expect(new Set(app.map((e) => e.conn)).size).toBeGreaterThanOrEqual(2);
    expect(app.some((e) => e.protocol === 'engine.io' && e.kind === 'upgrade' && e.transport === 'websocket')).toBe(true);
    for (const from of ['client', 'server'] as const) {
      const got = app.filter((e) => e.from === from && e.protocol === 'socket.io').map((e) => ({ kind: e.kind, nsp: e.nsp, ...(e.event !== undefined ? { event: e.event } : {}), ...(e.kind === 'event' || e.kind === 'ack' ? { args: e.args } : {}), transport: e.transport }));
      const want = session.events[from].map((e: Record<string, unknown>) => ({ kind: e.kind, nsp: e.nsp, ...(e.event !== undefined ? { event: e.event } : {}), ...(e.args !== undefined ? { args: e.args } : {}), transport: e.transport }));
      expect(got, from).toEqual(want);
    }
    // The polling exchanges are long polling (Engine.IO polling GETs), with the sid of their URL.
    const polls = all.filter((e) => e.type === 'http' && e.method === 'GET');
    expect(polls.length).toBeGreaterThanOrEqual(2);
    expect(polls.every((e) => e.pattern === 'long-poll')).toBe(true);
    expect(polls.filter((e) => e.session === session.sid).length).toBe(polls.length - 1);
  });

  it('socket.io that never upgrades: every polling exchange of the session, over many TCP connections, read as one long-polling story', async () => {
    const spec = JSON.parse(readFileSync('fixtures/real/socketio-polling.expected.json', 'utf8'));
    const session = spec.session;
    expect(session.transports).toEqual(['polling']);
    const { json: all } = await dissectFile('fixtures/real/socketio-polling.pcap');
    expect(all.filter((e) => e.type === 'handshake' || e.type === 'frame' || e.type === 'alert')).toEqual([]);
    // Every exchange the server read, in the order it read them, with the session's sid from its second on.
    const http = all.filter((e) => e.type === 'http').sort((a, b) => a.startTs - b.startTs);
    expect(http.map((e) => `${e.method} ${e.path}`)).toEqual(session.requests);
    expect(http.map((e) => e.session)).toEqual([null, ...Array(http.length - 1).fill(session.sid)]);
    // The GETs are long polls (held until the server had packets), the POSTs the client's sends.
    expect(http.map((e) => e.pattern)).toEqual(http.map((e) => (e.method === 'GET' ? 'long-poll' : 'request')));
    expect(http.some((e) => e.method === 'GET' && e.waitMs >= session.pingInterval * 0.75)).toBe(true);
    expect(new Set(http.map((e) => e.conn)).size).toBe(session.tcpConnections);
    // One session: every packet of every body, with the sid, over polling, nothing wrong.
    const app = all.filter((e) => e.type === 'app');
    expect(app.every((e) => e.session === session.sid && e.transport === 'polling')).toBe(true);
    expect(app.flatMap((e) => e.alerts)).toEqual([]);
    expect(app[0]).toMatchObject({ from: 'server', protocol: 'engine.io', kind: 'open', data: { sid: session.sid, pingInterval: session.pingInterval, pingTimeout: session.pingTimeout, upgrades: ['websocket'] } });
    for (const from of ['client', 'server'] as const) {
      const got = app.filter((e) => e.from === from && e.protocol === 'socket.io').map((e) => ({ kind: e.kind, nsp: e.nsp, ...(e.event !== undefined ? { event: e.event } : {}), ...(e.kind === 'event' || e.kind === 'ack' ? { args: e.args } : {}) }));
      const want = session.events[from].map((e: Record<string, unknown>) => ({ kind: e.kind, nsp: e.nsp, ...(e.event !== undefined ? { event: e.event } : {}), ...(e.args !== undefined ? { args: (e.args as unknown[]).map((a: any) => (a?.$binary !== undefined ? { length: a.$binary.length / 2, hex: a.$binary } : a)) } : {}) }));
      expect(got, from).toEqual(want);
      // Engine.IO's heartbeat over polling: the server's pings in GET answers, the client's pongs in POSTs.
      const kind = from === 'server' ? 'ping' : 'pong';
      const sent = session.packets[from].filter((p: { type: string }) => p.type === kind).length;
      expect(sent).toBeGreaterThan(0);
      expect(app.filter((e) => e.from === from && e.protocol === 'engine.io' && e.kind === kind)).toHaveLength(sent);
    }
    expect(app.filter((e) => e.kind === 'pong').every((e) => e.replyTo !== null)).toBe(true);
    // The whole cost is on the polling transport.
    const ends = all.filter((e) => e.type === 'end');
    expect(ends.every((e) => Object.keys(e.transports).join() === 'polling')).toBe(true);
  });

  it('SSE: what Chromium\'s EventSource, curl -N and Python received, each event as the standard dispatches it', async () => {
    const spec = JSON.parse(readFileSync('fixtures/real/sse.expected.json', 'utf8'));
    const { json: all } = await dissectFile('fixtures/real/sse.pcap');
    expect(spec.connections).toHaveLength(3);
    for (const c of spec.connections) {
      const conn = all.find((e) => e.type === 'connection' && e.client.port === c.client.port)?.conn;
      const got = all.filter((e) => e.type === 'app' && e.conn === conn);
      expect(got.map((e) => ({ event: e.event, data: e.data, id: e.id ?? '' })), c.sse.client).toEqual(c.sse.dispatched);
      expect(got.every((e) => e.retry === c.sse.retry && e.transport === 'sse' && e.protocol === 'sse' && e.kind === 'event')).toBe(true);
      expect(all.find((e) => e.type === 'http' && e.conn === conn)).toMatchObject({ method: 'GET', path: '/events', status: 200, pattern: 'sse', events: c.sse.dispatched.length });
    }
    // Chromium's own report of what it dispatched is in the capture too.
    const report = all.find((e) => e.type === 'http' && e.method === 'POST' && e.path === '/report');
    expect(JSON.parse(report!.requestBody.text)).toEqual(spec.connections[0].sse.dispatched);
  });
});
