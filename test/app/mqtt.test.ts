import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppLayer } from '../../src/app/layer.js';
import type { AppEvent } from '../../src/app/types.js';
import type { DissectEvent } from '../../src/engine/events.js';
import { alertCodes, apps, endEvent, handshakeEvent, messageEvent, run } from './helpers.js';

/** A control packet: first byte (type << 4 | flags), the remaining length as MQTT writes it (§2.2.3), the body. */
function pkt(first: number, ...body: (number[] | Uint8Array)[]): Uint8Array {
  const bytes = body.flatMap((b) => Array.from(b));
  const length: number[] = [];
  let n = bytes.length;
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    length.push(b);
  } while (n > 0);
  return Uint8Array.from([first, ...length, ...bytes]);
}
const str = (s: string) => {
  const b = Array.from(new TextEncoder().encode(s));
  return [b.length >> 8, b.length & 0xff, ...b];
};
const u16 = (n: number) => [n >> 8, n & 0xff];
const bytes = (s: string) => Array.from(new TextEncoder().encode(s));

// MQTT 3.1.1: CONNECT "MQTT" level 4, clean session, will "dev/gone" QoS 1 retained, user name, keep alive 30.
const CONNECT_311 = pkt(0x10, str('MQTT'), [4, 0b1010_1110], u16(30), str('client-1'), str('dev/gone'), str('offline'), str('alice'));
const CONNACK_311 = pkt(0x20, [0, 0]);
const SUBSCRIBE = pkt(0x82, u16(1), str('sensors/#'), [1], str('cmd'), [0]);
const SUBACK = pkt(0x90, u16(1), [1, 0]);
const PUBLISH_QOS0 = pkt(0x30, str('sensors/temp'), bytes('21.5'));
const PUBLISH_QOS1 = pkt(0x32, str('sensors/hum'), u16(7), bytes('40%'));
const PUBACK = pkt(0x40, u16(7));
const PUBLISH_QOS2_RETAIN = pkt(0x35, str('cmd'), u16(8), [0xff, 0xfe]);
const PUBREC = pkt(0x50, u16(8));
const PUBREL = pkt(0x62, u16(8));
const PUBCOMP = pkt(0x70, u16(8));
const PINGREQ = pkt(0xc0);
const PINGRESP = pkt(0xd0);
const DISCONNECT = pkt(0xe0);

const SESSION: [ 'client' | 'server', Uint8Array][] = [
  ['client', CONNECT_311],
  ['server', CONNACK_311],
  ['client', SUBSCRIBE],
  ['server', SUBACK],
  ['client', PUBLISH_QOS1],
  ['server', PUBACK],
  ['server', PUBLISH_QOS0],
  ['server', PUBLISH_QOS2_RETAIN],
  ['client', PUBREC],
  ['server', PUBREL],
  ['client', PUBCOMP],
  ['client', PINGREQ],
  ['server', PINGRESP],
  ['client', DISCONNECT],
];


describe('MQTT 3.1.1 over WebSocket', () => {
  const events = run(SESSION, { subprotocol: 'mqtt' });
  const got = apps(events);

  it('decodes every control packet of a session, with its fields', () => {
    expect(alertCodes(events)).toEqual([]);
    expect(got.map((e) => e.kind)).toEqual(['connect', 'connack', 'subscribe', 'suback', 'publish', 'puback', 'publish', 'publish', 'pubrec', 'pubrel', 'pubcomp', 'pingreq', 'pingresp', 'disconnect']);
    expect(got[0]!.fields).toMatchObject({ version: '3.1.1', protocolName: 'MQTT', protocolLevel: 4, clientId: 'client-1', cleanSession: true, keepAlive: 30, will: { topic: 'dev/gone', qos: 1, retain: true, payload: 'offline' }, username: 'alice', password: null, properties: null });
    expect(got[1]!.fields).toMatchObject({ sessionPresent: false, returnCode: 0, reason: 'accepted' });
    expect(got[2]!.fields).toMatchObject({ packetId: 1, subscriptions: [{ topic: 'sensors/#', qos: 1 }, { topic: 'cmd', qos: 0 }] });
    expect(got[3]!.fields).toMatchObject({ packetId: 1, codes: [1, 0], topics: 'sensors/#, cmd' });
    expect(got[4]!.fields).toMatchObject({ topic: 'sensors/hum', qos: 1, packetId: 7, retain: false, dup: false, text: '40%' });
    expect(got[6]!.fields).toMatchObject({ topic: 'sensors/temp', qos: 0, packetId: null, text: '21.5' });
    expect(got[7]!.fields).toMatchObject({ topic: 'cmd', qos: 2, packetId: 8, retain: true, text: null });
    expect(got[7]!.fields.payload).toEqual(Uint8Array.of(0xff, 0xfe));
    expect(got[7]!.summary).toBe('mqtt publish "cmd" <2 bytes fffe>  qos 2  id 8  retain');
  });

  it('pairs answers with their requests by packet identifier, and names the topic', () => {
    const byKind = (kind: string) => got.filter((e) => e.kind === kind);
    expect(byKind('connack')[0]!.replyTo).toBe(10);
    expect(byKind('suback')[0]).toMatchObject({ replyTo: 12, name: 'sensors/#, cmd' });
    expect(byKind('puback')[0]).toMatchObject({ replyTo: 14, name: 'sensors/hum', summary: expect.stringMatching(/^mqtt puback id 7 "sensors\/hum"  answers packet 14 after 1 ms$/) });
    expect(byKind('pubrec')[0]).toMatchObject({ replyTo: 17, name: 'cmd' });
    // PUBREL is the publisher's second step; PUBCOMP answers it.
    expect(byKind('pubrel')[0]).toMatchObject({ replyTo: null, name: 'cmd' });
    expect(byKind('pubcomp')[0]).toMatchObject({ replyTo: 19, name: 'cmd' });
    expect(byKind('pingresp')[0]).toMatchObject({ replyTo: 21, heartbeat: true });
    expect(byKind('pingreq')[0]!.heartbeat).toBe(true);
    expect(got.filter((e) => e.heartbeat).map((e) => e.kind)).toEqual(['pingreq', 'pingresp']);
  });

  it('reports the keep-alive as the client\'s heartbeat duty, PINGREQ as a ping and PINGRESP as its pong', () => {
    expect(got[0]!.heartbeatTerms).toEqual({ client: { intervalMs: 30000, timeoutMs: null, silenceMs: 45000, anyMessage: true }, server: null });
    expect(got.filter((e) => e.heartbeat).map((e) => e.heartbeatRole)).toEqual(['ping', 'pong']);
    const off = apps(run([['client', pkt(0x10, str('MQTT'), [4, 0x02], u16(0), str('z'))]], { subprotocol: 'mqtt' }))[0]!;
    expect(off.heartbeatTerms).toEqual({ client: null, server: null });
  });

  it('decodes the same however the messages cut the byte stream (a byte at a time, at random points, all in one)', () => {
    const ANSWERS = new Set(['connack', 'suback', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'pingresp']);
    // Answers name their request's topic; cut across directions, an answer may come before its request.
    const shape = (e: AppEvent) => ({ from: e.direction, kind: e.kind, fields: ANSWERS.has(e.kind) ? { packetId: e.fields.packetId } : e.fields });
    const byDirection = (events: AppEvent[]) => [...events.filter((e) => e.direction === 'client'), ...events.filter((e) => e.direction === 'server')].map(shape);
    const expected = byDirection(got);
    const whole = { client: [] as number[], server: [] as number[] };
    for (const [from, b] of SESSION) whole[from].push(...b);
    const feed = (cut: (data: number[]) => number[][]) => {
      const layer = new AppLayer();
      const out: DissectEvent[] = [...layer.process([handshakeEvent(1, '/mqtt', 'mqtt')])];
      let packet = 10;
      for (const from of ['client', 'server'] as const) for (const piece of cut(whole[from])) out.push(...layer.process([messageEvent(1, from, Uint8Array.from(piece), packet++)]));
      out.push(...layer.process([endEvent(1)]));
      return out;
    };
    const check = (events: DissectEvent[]) => {
      expect(alertCodes(events).filter((c) => c !== 'mqtt.packet-id-unknown')).toEqual([]);
      expect(byDirection(apps(events))).toEqual(expected);
    };
    check(feed((data) => data.map((b) => [b])));
    check(feed((data) => [data]));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }), (sizes) => {
        check(
          feed((data) => {
            const out: number[][] = [];
            for (let at = 0, i = 0; at < data.length; i++) {
              const n = sizes[i % sizes.length]!;
              out.push(data.slice(at, at + n));
              at += n;
            }
            return out;
          }),
        );
      }),
      { numRuns: 50 },
    );
    // In the session's order, each packet cut in two messages: the very same events, pairing included.
    const halves = SESSION.flatMap(([from, b]) => [[from, b.subarray(0, 1)], [from, b.subarray(1)]] as ['client' | 'server', Uint8Array][]);
    const cutEvents = apps(run(halves, { subprotocol: 'mqtt' }));
    expect(cutEvents.map((e) => ({ ...shape(e), name: e.name, summary: e.summary.replace(/  answers .*$/, '') }))).toEqual(got.map((e) => ({ ...shape(e), name: e.name, summary: e.summary.replace(/  answers .*$/, '') })));
    expect(cutEvents.map((e) => e.replyTo !== null)).toEqual(got.map((e) => e.replyTo !== null));
  });

  it('gives several events for a message holding several packets, in order, each where the message ended', () => {
    const both = Uint8Array.from([...PUBLISH_QOS0, ...PUBLISH_QOS1, ...PINGREQ]);
    const events = run([['client', CONNECT_311], ['client', both]], { subprotocol: 'mqtt' });
    expect(apps(events).slice(1).map((e) => [e.kind, e.at.packet])).toEqual([['publish', 11], ['publish', 11], ['pingreq', 11]]);
  });

  it('is chosen by the subprotocols mqtt and mqttv3.1, and by a CONNECT among the first messages', () => {
    expect(apps(run([['client', CONNECT_311]], { subprotocol: 'mqttv3.1' }))[0]!.protocol).toBe('mqtt');
    expect(apps(run([['client', CONNECT_311]], { target: '/' }))[0]!.protocol).toBe('mqtt');
    // A binary message starting 0x10 that is not a CONNECT is not taken for MQTT.
    expect(apps(run([['client', Uint8Array.of(0x10, 0x02, 0x00, 0x00)]], { target: '/' }))).toEqual([]);
  });
});

describe('MQTT 5.0', () => {
  // CONNECT level 5, clean start, keep alive 60, properties: session expiry 120, receive maximum 10.
  const CONNECT_5 = pkt(0x10, str('MQTT'), [5, 0x02], u16(60), [8, 0x11, 0, 0, 0, 120, 0x21, 0, 10], str('c5'));
  const CONNACK_5 = pkt(0x20, [0, 0], [3, 0x22, 0, 5]);
  // PUBLISH QoS 1 with a topic alias 1 and a user property, then one using the alias alone.
  const PUBLISH_ALIAS = pkt(0x32, str('t/a'), u16(3), [3 + 1 + 3 + 3, 0x23, 0, 1, 0x26, ...str('k'), ...str('v')], bytes('x'));
  const PUBLISH_BY_ALIAS = pkt(0x30, str(''), [3, 0x23, 0, 1], bytes('y'));
  const PUBACK_NO_SUBSCRIBERS = pkt(0x40, u16(3), [0x10], [0]);
  const DISCONNECT_5 = pkt(0xe0, [0x8e], [0]);
  const events = run([['client', CONNECT_5], ['server', CONNACK_5], ['client', PUBLISH_ALIAS], ['client', PUBLISH_BY_ALIAS], ['server', PUBACK_NO_SUBSCRIBERS], ['server', DISCONNECT_5]], { subprotocol: 'mqtt' });
  const got = apps(events);

  it('reads properties, reason codes and topic aliases', () => {
    expect(alertCodes(events)).toEqual([]);
    expect(got[0]!.fields).toMatchObject({ version: '5.0', keepAlive: 60, clientId: 'c5', properties: { sessionExpiryInterval: 120, receiveMaximum: 10 } });
    expect(got[0]!.summary).toBe('mqtt connect 5.0 client "c5"  keepalive 60 s  clean start');
    expect(got[1]!.fields).toMatchObject({ reason: 'success', properties: { topicAliasMaximum: 5 } });
    expect(got[2]!.fields).toMatchObject({ topic: 't/a', properties: { topicAlias: 1, userProperty: [['k', 'v']] }, text: 'x' });
    expect(got[3]).toMatchObject({ name: 't/a', fields: { topic: 't/a', text: 'y' } });
    expect(got[4]).toMatchObject({ kind: 'puback', name: 't/a', fields: { reasonCode: 0x10 }, summary: expect.stringContaining('no matching subscribers') });
    expect(got[5]).toMatchObject({ kind: 'disconnect', fields: { reasonCode: 0x8e }, summary: 'mqtt disconnect session taken over' });
  });
});

describe('a 5.0 CONNECT refused by a 3.1.1 server', () => {
  it('reads the two-byte CONNACK as 3.1.1 writes it (§3.1.2.2: return code 1)', () => {
    const connect5 = pkt(0x10, str('MQTT'), [5, 0x02], u16(30), [0], str('b'));
    const events = run([['client', connect5], ['server', pkt(0x20, [0, 1])]], { subprotocol: 'mqtt' });
    expect(alertCodes(events)).toEqual([]);
    expect(apps(events)[1]).toMatchObject({ kind: 'connack', replyTo: 10, fields: { returnCode: 1, reason: 'refused: unacceptable protocol version', properties: null } });
  });
});

describe('MQTT alerts', () => {
  it('MQTT in a text message [MQTT-6.0.0-1], said once per side, and still decoded', () => {
    const text = new TextDecoder().decode(PUBLISH_QOS0);
    const events = run([['client', CONNECT_311], ['client', text], ['client', text]], { subprotocol: 'mqtt' });
    expect(alertCodes(events)).toEqual(['mqtt.text-frame']);
    expect(apps(events).map((e) => e.name)).toEqual([null, 'sensors/temp', 'sensors/temp']);
  });

  it('a remaining length of five bytes loses the framing: said, and the decoder stops', () => {
    const events = run([['client', CONNECT_311], ['client', Uint8Array.of(0x30, 0xff, 0xff, 0xff, 0xff, 0x01)], ['client', PINGREQ]], { subprotocol: 'mqtt' });
    expect(alertCodes(events)).toEqual(['mqtt.remaining-length-invalid', 'app.decoder-stopped']);
    expect(apps(events).map((e) => e.kind)).toEqual(['connect']);
  });

  it('flags, QoS 3, a reserved type, a field past the end, CONNECT not first, unknown and reused packet ids, a packet cut by the end', () => {
    const cases: [string, [('client' | 'server'), Uint8Array][], string[]][] = [
      ['SUBSCRIBE without its 0010 flags', [['client', CONNECT_311], ['client', pkt(0x80, u16(1), str('a'), [0])]], ['mqtt.flags-invalid']],
      ['PUBLISH QoS 3', [['client', CONNECT_311], ['client', pkt(0x36, str('a'), u16(1))]], ['mqtt.flags-invalid']],
      ['reserved type 0', [['client', CONNECT_311], ['client', pkt(0x00)]], ['mqtt.packet-invalid']],
      ['a topic longer than the packet', [['client', CONNECT_311], ['client', pkt(0x30, [0, 50], bytes('ab'))]], ['mqtt.packet-invalid']],
      ['invalid UTF-8 in a topic', [['client', CONNECT_311], ['client', pkt(0x30, [0, 2, 0xc3, 0x28])]], ['mqtt.packet-invalid']],
      ['the client starts with PUBLISH', [['client', PUBLISH_QOS0]], ['mqtt.connect-first']],
      ['a PUBACK nobody waits for', [['client', CONNECT_311], ['server', PUBACK]], ['mqtt.packet-id-unknown']],
      ['a packet id reused while in flight', [['client', CONNECT_311], ['client', PUBLISH_QOS1], ['client', PUBLISH_QOS1]], ['mqtt.packet-id-reused']],
      ['a SUBACK from the client', [['client', CONNECT_311], ['client', SUBACK]], ['mqtt.packet-invalid', 'mqtt.packet-id-unknown']],
      ['the end inside a packet', [['client', CONNECT_311], ['client', PUBLISH_QOS1.subarray(0, 5)]], ['mqtt.packet-incomplete']],
    ];
    for (const [what, messages, codes] of cases) expect(alertCodes(run(messages, { subprotocol: 'mqtt' })), what).toEqual(codes);
    // A PUBLISH resent with DUP reuses its id legitimately (§4.3.2).
    const dup = Uint8Array.from(PUBLISH_QOS1);
    dup[0] = 0x3a;
    expect(alertCodes(run([['client', CONNECT_311], ['client', PUBLISH_QOS1], ['client', dup]], { subprotocol: 'mqtt' }))).toEqual([]);
  });

  it('never throws and never stalls, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 60 }), { maxLength: 8 }), (messages) => {
        run(messages.map((m, i) => [i % 2 === 0 ? 'client' : 'server', m]), { subprotocol: 'mqtt' });
      }),
    );
  });

  it('a long packet in many small messages is joined once, whole', () => {
    const size = 900 * 1024;
    // PUBLISH "big", remaining length size + 5 = 921605 = 0x0e1005, written 85 a0 38.
    const whole = new Uint8Array(4 + 5 + size).fill(0x61);
    whole.set([0x30, 0x85, 0xa0, 0x38, ...str('big')]);
    const pieces: ['client', Uint8Array][] = [];
    for (let at = 0; at < whole.length; at += 1024) pieces.push(['client', whole.subarray(at, at + 1024)]);
    const events = run([['client', CONNECT_311], ...pieces, ['client', PINGREQ]], { subprotocol: 'mqtt' });
    expect(alertCodes(events)).toEqual([]);
    expect(apps(events).map((e) => [e.kind, e.name, e.kind === 'publish' ? (e.fields.payload as Uint8Array).length : null])).toEqual([['connect', null, null], ['publish', 'big', size], ['pingreq', null, null]]);
  });

  it('a packet longer than 1 MiB is decoded from its start and the rest skipped, without holding it', () => {
    const size = 3 * 1024 * 1024;
    // PUBLISH "big", remaining length size + 5 = 0x300005, written 85 80 c0 01.
    const head = new Uint8Array(5 + 5 + size);
    head.set([0x30, 0x85, 0x80, 0xc0, 0x01, ...str('big')]);
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < head.length; at += 256 * 1024) chunks.push(head.subarray(at, at + 256 * 1024));
    const events = run([['client', CONNECT_311], ...chunks.map((c) => ['client', c] as ['client', Uint8Array]), ['client', PINGREQ]], { subprotocol: 'mqtt' });
    expect(alertCodes(events)).toEqual([]);
    const publish = apps(events).find((e) => e.kind === 'publish')!;
    expect(publish.fields).toMatchObject({ topic: 'big', length: size + 5 });
    expect((publish.fields.payload as Uint8Array).length).toBe(64 * 1024 - 5);
    expect(apps(events).at(-1)!.kind).toBe('pingreq');
  });
});

describe('MQTT --explain', () => {
  it('takes a PUBLISH apart byte by byte', () => {
    const events = run([['client', CONNECT_311], ['client', PUBLISH_QOS1]], { subprotocol: 'mqtt', layer: { explain: true } });
    const parts = apps(events)[1]!.parts!;
    expect(parts.map((p) => p.text)).toEqual(['32', '12', '00 0b 73 65 6e 73 6f 72 73 2f 68 75 6d', '00 07', '34 30 25']);
    expect(parts[0]!.meaning).toMatch(/PUBLISH \(type 3\), flags 0010: DUP 0, QoS 1, RETAIN 0/);
    expect(parts[1]!.meaning).toMatch(/remaining length 18/);
  });
});
