import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { unescapeHeader } from '../../src/app/stomp.js';
import type { AppEvent } from '../../src/app/types.js';
import { alertCodes, apps, run } from './helpers.js';

/** A frame as STOMP 1.2 writes it: command, headers, blank line, body, NUL. */
const frame = (command: string, headers: [string, string][], body = '') => `${command}\n${headers.map(([k, v]) => `${k}:${v}\n`).join('')}\n${body}\0`;

const CONNECT = frame('CONNECT', [['accept-version', '1.2,1.1,1.0'], ['host', 'broker'], ['heart-beat', '4000,10000']]);
const CONNECTED = frame('CONNECTED', [['version', '1.2'], ['heart-beat', '5000,3000'], ['server', 'test/1']]);
const SUBSCRIBE = frame('SUBSCRIBE', [['id', 'sub-0'], ['destination', '/topic/news'], ['receipt', 'r-1']]);
const RECEIPT_1 = frame('RECEIPT', [['receipt-id', 'r-1']]);
const SEND = frame('SEND', [['destination', '/topic/news'], ['content-type', 'text/plain'], ['content-length', '6'], ['receipt', 'r-2']], 'héllo');
const RECEIPT_2 = frame('RECEIPT', [['receipt-id', 'r-2']]);
const MESSAGE = frame('MESSAGE', [['destination', '/topic/news'], ['message-id', 'm-1'], ['subscription', 'sub-0'], ['content-length', '6']], 'héllo');
const ERROR = frame('ERROR', [['message', 'bad things']], 'details');
const DISCONNECT = frame('DISCONNECT', [['receipt', 'r-3']]);

const SESSION: ['client' | 'server', string][] = [
  ['client', CONNECT],
  ['server', CONNECTED],
  ['client', SUBSCRIBE],
  ['server', RECEIPT_1],
  ['client', '\n'],
  ['server', '\n'],
  ['client', SEND],
  ['server', RECEIPT_2],
  ['server', MESSAGE],
  ['client', DISCONNECT],
  ['server', frame('RECEIPT', [['receipt-id', 'r-3']])],
];

describe('STOMP 1.2 over WebSocket', () => {
  const events = run(SESSION, { subprotocol: 'v12.stomp' });
  const got = apps(events);

  it('decodes every frame with its command, headers and body', () => {
    expect(alertCodes(events)).toEqual([]);
    expect(got.map((e) => e.kind)).toEqual(['connect', 'connected', 'subscribe', 'receipt', 'heartbeat', 'heartbeat', 'send', 'receipt', 'message', 'disconnect', 'receipt']);
    expect(got[0]!.fields.headers).toEqual({ 'accept-version': '1.2,1.1,1.0', host: 'broker', 'heart-beat': '4000,10000' });
    expect(got[2]!.fields).toMatchObject({ destination: '/topic/news', id: 'sub-0', receipt: 'r-1' });
    expect(got[6]!.fields).toMatchObject({ destination: '/topic/news', body: 'héllo', receipt: 'r-2' });
    expect(got[8]!.fields).toMatchObject({ destination: '/topic/news', subscription: 'sub-0', messageId: 'm-1', body: 'héllo' });
    expect(got[8]!.summary).toBe('stomp message "/topic/news" "héllo"  subscription "sub-0"  message-id "m-1"');
    expect(got.filter((e) => e.heartbeat).map((e) => e.direction)).toEqual(['client', 'server']);
  });

  it('negotiates the heart-beat as the spec says: each way 0 if either says 0, else the larger', () => {
    // Client 4000,10000 and server 5000,3000: the client beats every max(4000, 3000), the server every max(5000, 10000).
    expect(got[1]!.fields).toMatchObject({ version: '1.2', heartBeat: { client: 4000, server: 10000 } });
    expect(got[1]!.summary).toBe('stomp connected version 1.2  server "test/1"  heart-beat client 4000 ms, server 10000 ms  answers packet 10 after 1 ms');
    const off = apps(run([['client', frame('CONNECT', [['accept-version', '1.2'], ['host', 'h'], ['heart-beat', '0,10000']])], ['server', frame('CONNECTED', [['version', '1.2'], ['heart-beat', '5000,0']])]], { subprotocol: 'v12.stomp' }));
    expect(off[1]!.fields.heartBeat).toEqual({ client: 0, server: 10000 });
  });

  it('reports the negotiated heart-beat as each side\'s duty, and EOLs as one-way beats', () => {
    // A side silent for twice its interval is late (STOMP leaves the margin to the receiver; @stomp/stompjs's default).
    expect(got[1]!.heartbeatTerms).toEqual({ client: { intervalMs: 4000, timeoutMs: null, silenceMs: 8000, anyMessage: true }, server: { intervalMs: 10000, timeoutMs: null, silenceMs: 20000, anyMessage: true } });
    expect(got.filter((e) => e.heartbeat).map((e) => e.heartbeatRole)).toEqual(['beat', 'beat']);
  });

  it('pairs receipts with the frame that asked for them, and names destinations for --event', () => {
    const receipts = got.filter((e) => e.kind === 'receipt');
    expect(receipts.map((e) => [e.replyTo, e.name])).toEqual([[12, '/topic/news'], [16, '/topic/news'], [19, null]]);
    expect(receipts[1]!.summary).toMatch(/^stomp receipt "r-2" \(send "\/topic\/news"\)  answers packet 16 after 1 ms$/);
    expect(got.filter((e) => e.name === '/topic/news').map((e) => e.kind)).toEqual(['subscribe', 'receipt', 'send', 'receipt', 'message']);
  });

  it('decodes the same however the messages cut the stream: frames split, several in one message', () => {
    const shape = (e: AppEvent) => ({ from: e.direction, kind: e.kind, fields: e.fields });
    const frames = got.filter((e) => !e.heartbeat).map(shape);
    // Each direction's frames as one stream, cut at random points.
    const streams = { client: '', server: '' };
    for (const [from, text] of SESSION) if (text !== '\n') streams[from] += text;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 10 }), (sizes) => {
        const messages: ['client' | 'server', Uint8Array][] = [];
        for (const from of ['client', 'server'] as const) {
          const bytes = new TextEncoder().encode(streams[from]);
          for (let at = 0, i = 0; at < bytes.length; i++) {
            const n = sizes[i % sizes.length]!;
            messages.push([from, bytes.subarray(at, at + n)]);
            at += n;
          }
        }
        const events = run(messages, { subprotocol: 'v12.stomp' });
        const out = apps(events);
        expect(out.filter((e) => e.heartbeat)).toEqual([]);
        const byDirection = [...frames.filter((f) => f.from === 'client'), ...frames.filter((f) => f.from === 'server')];
        // Pairing across directions depends on their order; the frames themselves do not.
        const strip = (f: ReturnType<typeof shape>) => ({ ...f, fields: { ...f.fields, heartBeat: undefined } });
        expect(out.map(shape).map(strip)).toEqual(byDirection.map(strip));
        expect(alertCodes(events).filter((c) => c !== 'stomp.receipt-unknown')).toEqual([]);
      }),
      { numRuns: 50 },
    );
    const both = apps(run([['client', CONNECT], ['server', CONNECTED + '\n' + MESSAGE + '\n\n']], { subprotocol: 'v12.stomp' }));
    expect(both.map((e) => e.kind)).toEqual(['connect', 'connected', 'message']);
  });

  it('reads bodies by content-length, NULs included, and binary bodies as bytes', () => {
    const body = new Uint8Array([0x00, 0xff, 0x01]);
    const head = new TextEncoder().encode('MESSAGE\ndestination:/q\nmessage-id:1\nsubscription:s\ncontent-length:3\n\n');
    const bytes = new Uint8Array([...head, ...body, 0]);
    const e = apps(run([['server', bytes]], { subprotocol: 'v12.stomp' }))[0]!;
    expect(e.fields.body).toEqual(body);
    expect(e.summary).toContain('<3 bytes 00ff01>');
  });

  it('joins a long body sent in many messages once, with or without content-length', () => {
    const body = 'x'.repeat(2 * 1024 * 1024);
    for (const headers of [[['destination', '/q'], ['content-length', String(body.length)]], [['destination', '/q']]] as [string, string][][]) {
      const whole = frame('SEND', headers, body);
      const pieces: ['client', string][] = [];
      for (let at = 0; at < whole.length; at += 2048) pieces.push(['client', whole.slice(at, at + 2048)]);
      const events = run(pieces, { subprotocol: 'v12.stomp' });
      expect(alertCodes(events)).toEqual([]);
      expect(apps(events).map((e) => [e.kind, (e.fields.body as string).length])).toEqual([['send', body.length]]);
    }
  });

  it('unescapes header values as 1.2 says, except in CONNECT and CONNECTED', () => {
    expect(unescapeHeader('a\\nb\\cc\\\\d\\re', 12)).toEqual({ value: 'a\nb:c\\d\re', bad: null });
    expect(unescapeHeader('a\\tb', 12).bad).toBe('\\t');
    expect(unescapeHeader('a\\rb', 11).bad).toBe('\\r');
    const e = apps(run([['client', frame('SEND', [['destination', '/q\\cx'], ['x', 'y']])]], { subprotocol: 'v12.stomp' }))[0]!;
    expect(e.fields.destination).toBe('/q:x');
    const c = apps(run([['client', frame('CONNECT', [['accept-version', '1.2'], ['host', 'a\\cb']])]], { subprotocol: 'v12.stomp' }))[0]!;
    expect((c.fields.headers as Record<string, string>).host).toBe('a\\cb');
  });

  it('is chosen by the v1x.stomp subprotocols, and by a CONNECT frame among the first messages', () => {
    for (const sub of ['v10.stomp', 'v11.stomp', 'v12.stomp']) expect(apps(run([['client', CONNECT]], { subprotocol: sub }))[0]!.protocol).toBe('stomp');
    expect(apps(run([['client', CONNECT]], { target: '/ws' }))[0]!.protocol).toBe('stomp');
    expect(apps(run([['client', 'CONNECT me please']], { target: '/ws' }))).toEqual([]);
  });
});

describe('STOMP alerts', () => {
  it('each violation gets its code', () => {
    const cases: [string, ['client' | 'server', string][], string[]][] = [
      ['a server frame from the client', [['client', frame('MESSAGE', [['destination', '/q'], ['message-id', '1'], ['subscription', 's']])]], ['stomp.command-unknown']],
      ['an unknown command', [['client', frame('PUBLISH', [])]], ['stomp.command-unknown']],
      ['SEND without a destination', [['client', frame('SEND', [], 'x')]], ['stomp.header-missing']],
      ['SUBSCRIBE without an id', [['client', frame('SUBSCRIBE', [['destination', '/q']])]], ['stomp.header-missing']],
      ['an undefined escape', [['client', frame('SEND', [['destination', '/q\\t']])]], ['stomp.header-escape-invalid']],
      ['content-length that is no number', [['client', frame('SEND', [['destination', '/q'], ['content-length', 'ten']], 'x')]], ['stomp.header-invalid']],
      ['a body longer than content-length', [['client', frame('SEND', [['destination', '/q'], ['content-length', '1']], 'xyz')]], ['stomp.frame-invalid']],
      ['a header without a colon', [['client', frame('SEND', [['destination', '/q']]).replace('\n\n', '\nnocolon\n\n')]], ['stomp.frame-invalid']],
      ['a bad heart-beat', [['client', frame('CONNECT', [['accept-version', '1.2'], ['host', 'h'], ['heart-beat', 'soon']])]], ['stomp.header-invalid']],
      ['a RECEIPT nobody asked for', [['client', CONNECT], ['server', RECEIPT_1]], ['stomp.receipt-unknown']],
      ['a MESSAGE for no subscription', [['client', CONNECT], ['server', MESSAGE]], ['stomp.subscription-unknown']],
      ['the end inside a frame', [['client', 'SEND\ndestination:/q\n\nhal']], ['stomp.frame-incomplete']],
      ['garbage', [['client', CONNECT], ['client', 'hello world\0']], ['stomp.frame-invalid']],
    ];
    for (const [what, messages, codes] of cases) expect(alertCodes(run(messages, { subprotocol: 'v12.stomp' })), what).toEqual(codes);
    // The frame ends at the NUL, with the body up to it: one SEND, its alert on it.
    const long = apps(run([['client', frame('SEND', [['destination', '/q'], ['content-length', '1']], 'xyz')]], { subprotocol: 'v12.stomp' }));
    expect(long.map((e) => [e.kind, e.fields.body, e.alerts.map((a) => a.code)])).toEqual([['send', 'xyz', ['stomp.frame-invalid']]]);
    expect(alertCodes(run([['client', CONNECT], ['server', ERROR]], { subprotocol: 'v12.stomp' }))).toEqual([]);
    const error = apps(run([['client', CONNECT], ['server', ERROR]], { subprotocol: 'v12.stomp' }))[1]!;
    expect(error).toMatchObject({ kind: 'error', replyTo: 10, fields: { message: 'bad things', body: 'details' } });
  });

  it('gives up after three frames in a row that are not STOMP', () => {
    const events = run([['client', CONNECT], ['client', 'x\0'], ['client', 'y\0'], ['client', 'z\0'], ['client', SEND]], { subprotocol: 'v12.stomp' });
    expect(alertCodes(events)).toEqual(['stomp.frame-invalid', 'stomp.frame-invalid', 'stomp.frame-invalid', 'app.decoder-stopped']);
    expect(apps(events).map((e) => e.kind)).toEqual(['connect']);
  });

  it('never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom(CONNECT, SEND, MESSAGE, '\n', '\0')), { maxLength: 8 }), (messages) => {
        run(messages.map((m, i) => [i % 2 === 0 ? 'client' : 'server', m]), { subprotocol: 'v12.stomp' });
      }),
    );
  });
});

describe('STOMP --explain', () => {
  it('takes a frame apart line by line', () => {
    const e = apps(run([['client', SEND]], { subprotocol: 'v12.stomp', layer: { explain: true } }))[0]!;
    expect(e.parts!.map((p) => p.text)).toEqual(['SEND', 'destination:/topic/news', 'content-type:text/plain', 'content-length:6', 'receipt:r-2', '', 'héllo', '\\0']);
    expect(e.parts![6]!.meaning).toMatch(/6 octet\(s\), as many as content-length says/);
  });
});
