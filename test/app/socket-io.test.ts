import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBase64Packet, parseBinaryPacket, parseTextPacket, splitPayloadV3, splitPayloadV4 } from '../../src/app/engine-io.js';
import { parseSocketIoPacket, payloadProblem, type SocketIoPacket } from '../../src/app/socket-io.js';
import { alertCodes, apps, run } from './helpers.js';

const SIO = '/socket.io/?EIO=4&transport=websocket';
const packet = (text: string) => parseSocketIoPacket(text) as SocketIoPacket;

describe('Socket.IO packet encoding (the protocol document\'s own examples)', () => {
  it.each([
    ['0', { kind: 'connect', nsp: '/', ackId: null, payload: undefined }],
    ['0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}', { kind: 'connect', nsp: '/admin', ackId: null, payload: { sid: 'oSO0OpakMV_3jnilAAAA' } }],
    ['4{"message":"Not authorized"}', { kind: 'connect_error', nsp: '/', payload: { message: 'Not authorized' } }],
    ['2["foo"]', { kind: 'event', nsp: '/', ackId: null, payload: ['foo'] }],
    ['2/admin,["bar"]', { kind: 'event', nsp: '/admin', payload: ['bar'] }],
    ['51-["baz",{"_placeholder":true,"num":0}]', { type: 5, kind: 'event', attachments: 1, nsp: '/' }],
    ['52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', { type: 5, attachments: 2, nsp: '/admin' }],
    ['212["foo"]', { kind: 'event', ackId: 12, payload: ['foo'] }],
    ['3/admin,13["bar"]', { kind: 'ack', nsp: '/admin', ackId: 13, payload: ['bar'] }],
    ['61-15["bar",{"_placeholder":true,"num":0}]', { type: 6, kind: 'ack', attachments: 1, ackId: 15 }],
    ['1', { kind: 'disconnect', nsp: '/' }],
    ['1/admin,', { kind: 'disconnect', nsp: '/admin' }],
  ])('%s', (text, expected) => {
    const p = packet(text);
    expect(p).toMatchObject(expected);
    expect(payloadProblem(p)).toBeNull();
    // The pieces spell the packet back exactly.
    const s = p.spelled;
    expect(s.type + s.attachments + s.nsp + s.ackId + s.json).toBe(text);
  });

  it('says what is wrong with a packet that is not Socket.IO', () => {
    expect(parseSocketIoPacket('9["x"]')).toEqual({ error: 'packet type "9" is not 0-6' });
    expect(parseSocketIoPacket('5["x"]')).toMatchObject({ error: expect.stringContaining('attachment count') });
    expect(parseSocketIoPacket('2["x"')).toEqual({ error: 'its payload is not JSON' });
    expect(parseSocketIoPacket('21234567890123456["x"]')).toMatchObject({ error: expect.stringContaining('15 digits') });
    expect(payloadProblem(packet('2[]'))).toMatch(/non-empty array/);
    expect(payloadProblem(packet('2["connect"]'))).toMatch(/reserved/);
    expect(payloadProblem(packet('2[{"x":1}]'))).toMatch(/name/);
    expect(payloadProblem(packet('3[]'))).toMatch(/id/);
    expect(payloadProblem(packet('0["x"]'))).toMatch(/object/);
    expect(payloadProblem(packet('1{}'))).toMatch(/no payload/);
    expect(payloadProblem(packet('2[1,"numbers are names too"]'))).toBeNull();
  });

  it('never throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        parseSocketIoPacket(text);
        parseTextPacket(text);
        splitPayloadV3(text);
        parseBase64Packet(`b${text}`, 3);
      }),
    );
  });
});

describe('Engine.IO packets', () => {
  it('reads the type digit, and a v3 binary type byte', () => {
    expect(parseTextPacket('2probe')).toMatchObject({ kind: 'ping', text: 'probe' });
    expect(parseTextPacket('4hello')).toMatchObject({ kind: 'message', text: 'hello' });
    expect(parseTextPacket('7')).toBeNull();
    expect(parseTextPacket('')).toBeNull();
    expect(parseBinaryPacket(Uint8Array.of(4, 1, 2), 3)).toMatchObject({ kind: 'message', bytes: Uint8Array.of(1, 2) });
    expect(parseBinaryPacket(Uint8Array.of(4, 1, 2), 4)).toMatchObject({ kind: 'message', bytes: Uint8Array.of(4, 1, 2) });
    expect(parseBinaryPacket(Uint8Array.of(9), 3)).toBeNull();
  });

  it('splits polling bodies (v4 on 0x1e, base64 behind b; v3 by length in characters)', () => {
    expect(splitPayloadV4('4hello\x1e2\x1e4world')).toEqual(['4hello', '2', '4world']);
    expect(parseBase64Packet('bAQIDBA==', 4)).toMatchObject({ kind: 'message', bytes: Uint8Array.of(1, 2, 3, 4) });
    expect(splitPayloadV3('6:4hello2:4€')).toEqual(['4hello', '4€']);
    expect(parseBase64Packet('b4AQIDBA==', 3)).toMatchObject({ kind: 'message', bytes: Uint8Array.of(1, 2, 3, 4) });
    expect(splitPayloadV3('6:4hel')).toBeNull();
    expect(splitPayloadV3('x:4')).toBeNull();
  });
});

describe('the Socket.IO decoder', () => {
  it('reads a session as the events its peers sent: open, namespaces, acks, heartbeats', () => {
    const events = run(
      [
        ['server', '0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}'],
        ['client', '40'],
        ['server', '40{"sid":"wZX3oN0bSVIhsaknAAAI"}'],
        ['client', '42/chat,3["pushMsg","你好"]'],
        ['server', '43/chat,3["ok"]'],
        ['server', '2'],
        ['client', '3'],
      ],
      { target: SIO },
    );
    const a = apps(events);
    expect(a.map((e) => `${e.protocol} ${e.kind}`)).toEqual(['engine.io open', 'socket.io connect', 'socket.io connect', 'socket.io event', 'socket.io ack', 'engine.io ping', 'engine.io pong']);
    expect(a.every((e) => e.session === 'lv_VI97HAXpY6yYWAAAC')).toBe(true);
    expect(a[0]!.fields.data).toMatchObject({ pingInterval: 25000, pingTimeout: 5000 });
    expect(a[0]!.summary).toBe('engine.io open sid lv_VI97HAXpY6yYWAAAC  pingInterval 25000 ms  pingTimeout 5000 ms  upgrades []');
    expect(a[3]!.summary).toBe('socket.io event pushMsg ["你好"]  nsp /chat  ack 3');
    expect(a[3]!.fields).toEqual({ nsp: '/chat', event: 'pushMsg', args: ['你好'], ackId: 3 });
    expect(a[3]!.name).toBe('pushMsg');
    // The ack answers packet 13 (the event), 1 ms later (packets are 1 ms apart here).
    expect(a[4]).toMatchObject({ replyTo: 13, latencyMs: 1, fields: { nsp: '/chat', args: ['ok'], ackId: 3 } });
    expect(a[2]).toMatchObject({ replyTo: 11 });
    expect(a[6]).toMatchObject({ replyTo: 15, heartbeat: true });
    expect(alertCodes(events)).toEqual([]);
  });

  it('joins binary attachments to their event, placeholders replaced, and says when they are missing', () => {
    const events = run(
      [
        ['client', '451-["upload",{"_placeholder":true,"num":0},"name.bin"]'],
        ['client', Uint8Array.of(1, 2, 3, 4)],
        ['server', '462-7[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]'],
        ['server', Uint8Array.of(0xaa)],
        ['server', Uint8Array.of(0xbb, 0xcc)],
        ['client', '451-["second",{"_placeholder":true,"num":0}]'],
        ['client', '42["interrupts"]'],
        ['client', '451-["never",{"_placeholder":true,"num":0}]'],
      ],
      { target: SIO },
    );
    const a = apps(events);
    expect(a.map((e) => e.name ?? e.kind)).toEqual(['upload', 'ack', 'second', 'interrupts', 'never']);
    expect(a[0]!.fields).toMatchObject({ event: 'upload', args: [Uint8Array.of(1, 2, 3, 4), 'name.bin'], attachments: 1 });
    expect(a[0]!.at.packet).toBe(11);
    expect(a[1]!.fields).toMatchObject({ args: [Uint8Array.of(0xbb, 0xcc), Uint8Array.of(0xaa)], ackId: 7 });
    expect(a[1]!.alerts.map((x) => x.code)).toEqual(['socketio.ack-unknown']);
    // A text packet before the attachment: the event is shown with its placeholder, and flagged.
    expect(a[2]!.alerts.map((x) => x.code)).toEqual(['socketio.attachments-missing']);
    expect(a[2]!.fields.args).toEqual([{ _placeholder: true, num: 0 }]);
    // Still waiting when the connection ends.
    expect(a[4]!.alerts[0]!.message).toMatch(/0 arrived: the connection ended/);
  });

  it('flags what breaks the encoding, and gives up after three packets in a row that are not Engine.IO', () => {
    const events = run(
      [
        ['client', '42["ok"]'],
        ['client', '42["bad"'],
        ['client', '42[]'],
        ['server', Uint8Array.of(9, 9)],
        ['client', '43["no such ack"]'],
        ['client', '9nine'],
        ['client', 'hello'],
        ['client', ''],
        ['client', '42["after"]'],
      ],
      { target: SIO },
    );
    expect(alertCodes(events)).toEqual(['socketio.packet-invalid', 'socketio.payload-invalid', 'socketio.binary-unexpected', 'socketio.payload-invalid', 'engineio.packet-invalid', 'engineio.packet-invalid', 'engineio.packet-invalid', 'app.decoder-stopped']);
    expect(apps(events).some((e) => e.name === 'after')).toBe(false);
    const end = events.at(-1)!;
    expect(end.type === 'end' && end.alerts).toEqual({ error: 7, warning: 1, info: 0 });
  });

  it('tells Socket.IO from plain Engine.IO when it found the session by sniffing', () => {
    const plain = apps(run([['server', '0{"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":1}'], ['client', '4hello'], ['server', '4{"not":"socket.io"}']], { target: '/custom' }));
    expect(plain.map((e) => `${e.protocol} ${e.kind}`)).toEqual(['engine.io open', 'engine.io message', 'engine.io message']);
    expect(plain[1]!.summary).toBe('engine.io message "hello"');
    const sio = apps(run([['server', '0{"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":1}'], ['client', '40'], ['client', '42["x"]']], { target: '/custom' }));
    expect(sio.map((e) => `${e.protocol} ${e.kind}`)).toEqual(['engine.io open', 'socket.io connect', 'socket.io event']);
  });

  it('follows Engine.IO v3: binary packets carry their type in the first byte', () => {
    const a = apps(run([['client', '451-["bin",{"_placeholder":true,"num":0}]'], ['client', Uint8Array.of(4, 0xde, 0xad)], ['client', '2'], ['server', '3']], { target: '/socket.io/?EIO=3&transport=websocket' }));
    expect(a[0]!.fields.args).toEqual([Uint8Array.of(0xde, 0xad)]);
    expect(a.slice(1).map((e) => e.kind)).toEqual(['ping', 'pong']);
    expect(a[2]!.replyTo).toBe(12);
  });

  it('takes apart the encoding for --explain', () => {
    const [e] = apps(run([['client', '42/chat,3["pushMsg","hi"]']], { target: SIO, layer: { explain: true } }));
    expect(e!.parts!.map((p) => p.text)).toEqual(['4', '2', '/chat,', '3', '["pushMsg","hi"]']);
    expect(e!.parts![2]!.meaning).toMatch(/namespace \/chat/);
    expect(e!.detail).toEqual({ label: 'event "pushMsg", its arguments', value: ['hi'] });
    const [plain] = apps(run([['client', '42["x"]']], { target: SIO }));
    expect(plain!.parts).toBeUndefined();
  });
});
