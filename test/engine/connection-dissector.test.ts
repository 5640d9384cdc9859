import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Direction } from '../../src/alerts.js';
import { ConnectionDissector } from '../../src/engine/connection-dissector.js';
import type { DissectEvent } from '../../src/engine/events.js';
import { computeAccept } from '../../src/http/accept.js';
import type { WorkBudget } from '../../src/websocket/extension.js';
import { encodeFrame } from '../../src/websocket/frame-encoder.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const enc = (s: string) => new TextEncoder().encode(s);
const cat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

function request(extra = ''): Uint8Array {
  return enc(`GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`);
}

function response(extra = '', accept = computeAccept(KEY)): Uint8Array {
  return enc(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${extra}\r\n`);
}

const maskedHello = Uint8Array.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
const serverHello = Uint8Array.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);

function dissect(steps: [Direction, Uint8Array][], options = {}): DissectEvent[] {
  const d = new ConnectionDissector(1, options);
  const events = d.start({ packet: 1 });
  steps.forEach(([dir, bytes], i) => events.push(...d.data(dir, bytes, { packet: i + 1, ts: i })));
  return [...events, ...d.finish()];
}

const byType = <T extends DissectEvent['type']>(events: DissectEvent[], type: T) => events.filter((e): e is Extract<DissectEvent, { type: T }> => e.type === type);

describe('ConnectionDissector', () => {
  it('verifies the RFC 6455 §1.2 handshake and decodes the frames after it', () => {
    const events = dissect([
      ['client', request('Sec-WebSocket-Protocol: chat, superchat\r\n')],
      ['server', cat(response('Sec-WebSocket-Protocol: chat\r\n'), serverHello)],
      ['client', maskedHello],
    ]);
    const [hs] = byType(events, 'handshake');
    expect(hs).toMatchObject({ upgraded: true, acceptValid: true, expectedAccept: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', receivedAccept: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', protocol: 'chat', alerts: [] });
    expect(hs!.request).toMatchObject({ method: 'GET', target: '/chat', at: { packet: 1 } });
    expect(hs!.response).toMatchObject({ status: 101, at: { packet: 2 } });
    // The server's frame arrived in the same segment as its 101 response.
    expect(byType(events, 'message').map((e) => [e.message.direction, e.message.text, e.message.start.packet])).toEqual([
      ['server', 'Hello', 2],
      ['client', 'Hello', 3],
    ]);
    const [end] = byType(events, 'end');
    expect(end).toMatchObject({ kind: 'websocket', alerts: { error: 0, warning: 0, info: 0 } });
    expect(end!.totals.client).toMatchObject({ frames: 1, messages: 1 });
  });

  it('gives the same events for any split of the handshake and frames', () => {
    const c = cat(request(), maskedHello);
    const s = cat(response(), serverHello);
    const whole = dissect([['client', request()], ['server', s], ['client', maskedHello]]);
    const d = new ConnectionDissector(1);
    const pieces: DissectEvent[] = [];
    // Request byte by byte, then the response byte by byte, then the client's frame.
    for (let i = 0; i < request().length; i++) pieces.push(...d.data('client', c.subarray(i, i + 1), { packet: 1, ts: 0 }));
    for (let i = 0; i < s.length; i++) pieces.push(...d.data('server', s.subarray(i, i + 1), { packet: 2, ts: 1 }));
    for (let i = request().length; i < c.length; i++) pieces.push(...d.data('client', c.subarray(i, i + 1), { packet: 3, ts: 2 }));
    pieces.push(...d.finish());
    const texts = (events: DissectEvent[]) => byType(events, 'message').map((e) => e.message.text);
    expect(texts(pieces)).toEqual(texts(whole));
    expect(byType(pieces, 'handshake')[0]!.acceptValid).toBe(true);
  });

  it('shows expected and received Accept when they differ', () => {
    const events = dissect([['client', request()], ['server', response('', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=')]]);
    const [hs] = byType(events, 'handshake');
    expect(hs).toMatchObject({ upgraded: true, acceptValid: false, receivedAccept: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=', expectedAccept: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=' });
    expect(hs!.alerts.map((a) => a.code)).toEqual(['handshake.accept-mismatch']);
  });

  it('reports a refused upgrade and stops treating the stream as WebSocket', () => {
    const events = dissect([
      ['client', request()],
      ['server', enc('HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13, 8\r\nContent-Length: 2\r\n\r\nno')],
      ['client', maskedHello],
    ]);
    const [hs] = byType(events, 'handshake');
    expect(hs).toMatchObject({ upgraded: false, supportedVersions: ['13', '8'] });
    expect(hs!.alerts.map((a) => a.code)).toEqual(['handshake.refused']);
    // What the client sends after a refusal is read as HTTP again: these frame bytes are not.
    expect(byType(events, 'other')).toMatchObject([{ kind: 'refused', status: 426 }, { kind: 'not-http', note: 'after 1 HTTP request(s), the client stream is no longer HTTP' }]);
    expect(byType(events, 'frame')).toEqual([]);
    expect(byType(events, 'end')[0]!.kind).toBe('refused');
  });

  it('says what a plain HTTP request or a non-HTTP stream was', () => {
    const http = dissect([['client', enc('GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n')], ['server', enc('HTTP/1.1 200 OK\r\n\r\n')]]);
    expect(byType(http, 'other')).toMatchObject([{ kind: 'http', requestLine: 'GET /index.html HTTP/1.1', status: 200, note: expect.stringContaining('answered 200 OK') }]);
    const unanswered = dissect([['client', enc('GET /x HTTP/1.1\r\nHost: x\r\n\r\n')]]);
    expect(byType(unanswered, 'other')).toMatchObject([{ kind: 'http', status: null, note: expect.stringContaining('not answered') }]);
    expect(byType(http, 'handshake')).toEqual([]);
    const tls = dissect([['client', Uint8Array.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])]]);
    expect(byType(tls, 'other')).toMatchObject([{ kind: 'not-http' }]);
  });

  it('flags client data sent before the 101 and still decodes it afterwards', () => {
    const events = dissect([['client', cat(request(), maskedHello)], ['server', response()]]);
    const codes = events.flatMap((e) => (e.type === 'alert' ? [e.alert.code] : []));
    expect(codes).toEqual(['handshake.early-data']);
    expect(byType(events, 'message').map((e) => e.message.text)).toEqual(['Hello']);
  });

  it('marks client data past the early-data limit as lost, and decodes the frame after the 101', () => {
    // Three 100-byte frames before the answer; the 150-byte limit cuts the second one.
    const early = [1, 2, 3].map((i) => encodeFrame({ opcode: 2, payload: new Uint8Array(100).fill(i), maskingKey: Uint8Array.from([1, 2, 3, i]) }));
    const after = encodeFrame({ opcode: 1, payload: 'after-answer', maskingKey: Uint8Array.from([5, 6, 7, 8]) });
    const events = dissect([['client', cat(request(), ...early)], ['server', response()], ['client', after]], { maxEarlyBytes: 150 });
    const alerts = byType(events, 'alert').map((e) => e.alert);
    const dropped = alerts.find((a) => a.code === 'handshake.early-data-dropped');
    expect(dropped).toMatchObject({ direction: 'client', detail: { limit: 150, dropped: 3 * 106 - 150 } });
    const frames = byType(events, 'frame').map((e) => e.frame);
    const frameCodes = frames.flatMap((f) => f.alerts.map((a) => a.code));
    expect([...alerts.map((a) => a.code), ...frameCodes]).not.toContain('frame.incomplete');
    expect(frameCodes).toContain('frame.resync');
    expect(byType(events, 'message').map((e) => e.message.text).at(-1)).toBe('after-answer');
  });

  it('says an over-long request head is too large, not that the stream is not HTTP', () => {
    const events = dissect([['client', request(`X-Big: ${'a'.repeat(100_000)}\r\n`)], ['server', response()]]);
    expect(byType(events, 'alert').map((e) => e.alert.code)).toEqual(['handshake.header-too-large']);
    const [other] = byType(events, 'other');
    expect(other).toMatchObject({ kind: 'not-http' });
    expect(other!.note).toMatch(/request's header is too long/);
  });

  it('reports an upgrade request left unanswered by the end of the capture', () => {
    const events = dissect([['client', request()]]);
    expect(byType(events, 'handshake')).toMatchObject([{ response: null, upgraded: false }]);
  });

  it('negotiates permessage-deflate and inflates with it', () => {
    const events = dissect([
      ['client', request('Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n')],
      ['server', cat(response('Sec-WebSocket-Extensions: permessage-deflate\r\n'), Uint8Array.from([0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]))],
    ]);
    expect(byType(events, 'handshake')[0]!.deflate).not.toBeNull();
    expect(byType(events, 'message').map((e) => [e.message.text, e.message.compressed])).toEqual([['Hello', true]]);
  });

  it('flags RSV1 when permessage-deflate was not negotiated', () => {
    const events = dissect([['client', request()], ['server', cat(response(), Uint8Array.from([0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]))]]);
    expect(byType(events, 'frame')[0]!.frame.alerts.map((a) => a.code)).toEqual(['frame.rsv-unnegotiated']);
  });

  it('decodes mid-stream with a notice when told the port is WebSocket', () => {
    const events = dissect([['client', maskedHello], ['server', serverHello]], { midstream: true });
    expect(events[0]).toMatchObject({ type: 'alert', alert: { code: 'handshake.not-seen' } });
    expect(byType(events, 'message').map((e) => e.message.text)).toEqual(['Hello', 'Hello']);
  });

  const alertCodes = (events: DissectEvent[]) => events.flatMap((e) => (e.type === 'alert' ? [e.alert.code] : e.type === 'frame' ? e.frame.alerts.map((a) => a.code) : []));

  it('keeps framing across a TCP gap inside a payload', () => {
    const d = new ConnectionDissector(1, { midstream: true });
    // The first frame puts the mid-stream parser in sync (confirmed by the header after it).
    const events = [...d.start(), ...d.data('server', serverHello), ...d.data('server', serverHello.subarray(0, 3)), ...d.gap('server', 4), ...d.data('server', serverHello), ...d.finish()];
    expect(alertCodes(events)).toEqual(['handshake.not-seen', 'tcp.gap', 'frame.payload-truncated']);
    expect(byType(events, 'message').map((e) => e.message.text)).toEqual(['Hello', 'H', 'Hello']);
  });

  it('resynchronises after a TCP gap inside a frame header', () => {
    const d = new ConnectionDissector(1, { midstream: true });
    const events = [...d.start(), ...d.data('server', serverHello.subarray(0, 1)), ...d.gap('server', 2), ...d.data('server', cat(serverHello.subarray(3), serverHello, serverHello)), ...d.finish()];
    expect(alertCodes(events)).toEqual(['handshake.not-seen', 'tcp.gap', 'frame.resync']);
    expect(byType(events, 'message').map((e) => e.message.text)).toEqual(['Hello', 'Hello']);
    expect(byType(events, 'end')[0]!.totals.server.missing).toBe(2);
  });
});

describe('ConnectionDissector: every request on a keep-alive connection', () => {
  const get = (path: string) => enc(`GET ${path} HTTP/1.1\r\nHost: server.example.com\r\n\r\n`);
  const ok = (body: string) => enc(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);

  it('decodes an upgrade that follows a GET answered 200 on the same connection', () => {
    const events = dissect([['client', get('/page')], ['server', ok('<html>')], ['client', request()], ['server', cat(response(), serverHello)], ['client', maskedHello]]);
    expect(byType(events, 'other')).toEqual([expect.objectContaining({ kind: 'http', requestLine: 'GET /page HTTP/1.1', status: 200 })]);
    expect(byType(events, 'handshake')).toMatchObject([{ upgraded: true, acceptValid: true, request: { at: { packet: 3 } } }]);
    expect(byType(events, 'message').map((e) => e.message.text)).toEqual(['Hello', 'Hello']);
    expect(byType(events, 'end')[0]!.kind).toBe('websocket');
  });

  it('decodes the retry after a 401, and an upgrade answered 100 Continue before its 101', () => {
    const refused = enc('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="x"\r\nContent-Length: 0\r\n\r\n');
    const events = dissect([['client', request()], ['server', refused], ['client', request('Authorization: Basic dXNlcjpwYXNz\r\n')], ['server', cat(response(), serverHello)]]);
    expect(byType(events, 'handshake').map((h) => [h.response?.status, h.upgraded])).toEqual([[401, false], [101, true]]);
    expect(byType(events, 'message').map((e) => e.message.text)).toEqual(['Hello']);
    expect(byType(events, 'end')[0]!.kind).toBe('websocket');
    const interim = dissect([['client', request()], ['server', cat(enc('HTTP/1.1 100 Continue\r\n\r\n'), response(), serverHello)]]);
    expect(byType(interim, 'handshake')).toMatchObject([{ upgraded: true, response: { status: 101 }, alerts: [] }]);
    expect(byType(interim, 'message').map((e) => e.message.text)).toEqual(['Hello']);
  });

  it('lists every request of a keep-alive connection, pipelined ones included', () => {
    const events = dissect([['client', cat(get('/a'), get('/b'))], ['server', cat(ok('first'), ok('second'))], ['client', get('/c')]]);
    expect(byType(events, 'other').map((o) => [o.requestLine, o.status])).toEqual([
      ['GET /a HTTP/1.1', 200],
      ['GET /b HTTP/1.1', 200],
      ['GET /c HTTP/1.1', null],
    ]);
    expect(byType(events, 'end')[0]!.kind).toBe('http');
  });

  it('says what a stream that is not HTTP looks like: TLS, or frames of a capture that started late', () => {
    const note = (steps: [Direction, Uint8Array][]) => byType(dissect(steps, { serverPort: 8443 }), 'other')[0]!.note;
    expect(note([['client', Uint8Array.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])]])).toMatch(/TLS \(a ClientHello\)/);
    expect(note([['client', maskedHello]])).toMatch(/look like WebSocket frames.*--decode-as 8443/);
    expect(note([['server', serverHello]])).toMatch(/server spoke first: .*--decode-as 8443/);
    expect(note([['client', enc('SSH-2.0-OpenSSH\r\n')]])).toBe('the client stream is not HTTP');
  });
});

describe('with a work budget (wsproxy)', () => {
  it('a message still being inflated when the connection finishes comes before the end event', () => {
    const ext = 'Sec-WebSocket-Extensions: permessage-deflate\r\n';
    const zeros = deflateRawSync(Buffer.alloc(2 << 20), { level: 9, finishFlush: 2 /* Z_SYNC_FLUSH */ });
    const payload = zeros.subarray(0, zeros.length - 4);
    // A frame whose last bytes never come: only the end of the stream completes it, as truncated.
    const frame = encodeFrame({ opcode: 2, rsv1: true, payload }).subarray(0, -1);
    const budget: WorkBudget = { remaining: Infinity };
    const d = new ConnectionDissector(1, { budget });
    const events = [...d.data('client', request(ext)), ...d.data('server', cat(response(ext), frame))];
    budget.remaining = 64 * 1024;
    events.push(...d.finish({ ts: 9 }));
    let turns = 0;
    while (d.suspended) {
      turns++;
      budget.remaining = 64 * 1024;
      events.push(...d.resume());
    }
    expect(turns).toBeGreaterThan(10);
    const types = events.map((e) => e.type).filter((t) => t !== 'alert');
    expect(types.slice(-3)).toEqual(['frame', 'message', 'end']);
    expect(byType(events, 'message')[0]!.message.truncated).toBe(true);
  });
});
