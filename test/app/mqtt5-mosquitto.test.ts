/**
 * MQTT 5.0 from real peers: MQTT.js (protocolVersion 5) and the Mosquitto broker
 * (fixtures/real/mqtt5-mosquitto.pcap, made by fixtures/generate/scenarios/mqtt5-mosquitto.mjs).
 * Every packet is checked against what MQTT.js wrote and read in test/app/real-peers.test.ts;
 * here, what the broker itself decided: its CONNACK properties, its reason codes, the will it
 * published on reason code 0x04, and the subscription identifier it added to what it forwarded.
 */
import { describe, expect, it } from 'vitest';
import { dissectFile } from '../helpers/dissect.js';

const FILE = 'fixtures/real/mqtt5-mosquitto.pcap';

describe('MQTT 5.0 between MQTT.js and Mosquitto', async () => {
  const { json } = await dissectFile(FILE);
  const app = json.filter((e) => e.type === 'app' && e.protocol === 'mqtt');
  const conns = [...new Set(app.map((e) => e.conn))];
  const [sub, pub] = conns.map((c) => app.filter((e) => e.conn === c));

  it('decodes both connections as MQTT 5.0, with no alert on the MQTT layer', () => {
    expect(conns).toHaveLength(2);
    expect(sub![0]).toMatchObject({ kind: 'connect', version: '5.0', protocolLevel: 5, clientId: 'mq5-sub', properties: { sessionExpiryInterval: 120, receiveMaximum: 20, topicAliasMaximum: 5, userProperty: [['role', 'subscriber']] } });
    expect(pub![0]).toMatchObject({ kind: 'connect', version: '5.0', clientId: 'mq5-pub', will: { topic: 'lab/status/mq5-pub', qos: 1, properties: { contentType: 'text/plain', userProperty: [['kind', 'will']] } } });
    expect(app.flatMap((e) => e.alerts)).toEqual([]);
  });

  it("the broker's CONNACK properties and reason codes", () => {
    expect(sub!.find((e) => e.kind === 'connack')).toMatchObject({ from: 'server', returnCode: 0, reason: 'success', properties: { topicAliasMaximum: 10, receiveMaximum: 20 } });
    const pubacks = pub!.filter((e) => e.kind === 'puback');
    expect(pubacks.map((e) => [e.topic, e.reasonCode])).toEqual([
      ['lab/hum', 0],
      ['lab/alias/long/topic/name', 0],
      ['lab/alias/long/topic/name', 0],
      ['elsewhere/nobody', 0x10],
    ]);
    expect(pubacks.at(-1)!.summary).toContain('no matching subscribers');
    expect(sub!.find((e) => e.kind === 'unsuback')).toMatchObject({ topics: 'lab/#', codes: [0] });
  });

  it('PUBLISH properties both ways, a topic alias resolved, the subscription identifier the broker adds', () => {
    const sent = pub!.filter((e) => e.kind === 'publish');
    expect(sent[0]).toMatchObject({ topic: 'lab/temp', qos: 0, packetId: null, text: '21.5', properties: { userProperty: [['unit', 'C'], ['sensor', 't1']], contentType: 'text/plain' } });
    expect(sent[2]).toMatchObject({ topic: 'lab/cmd/led', qos: 2, properties: { responseTopic: 'lab/reply/led', correlationData: { length: 5, hex: Buffer.from('req-1').toString('hex') } } });
    // 5.0 §3.3.2.3.4: the second PUBLISH carries alias 1 and an empty topic.
    expect(sent.filter((e) => e.properties?.topicAlias === 1).map((e) => [e.topic, e.text])).toEqual([
      ['lab/alias/long/topic/name', 'first'],
      ['lab/alias/long/topic/name', 'second'],
    ]);
    const forwarded = sub!.filter((e) => e.kind === 'publish');
    expect(forwarded.map((e) => e.topic)).toEqual(['lab/temp', 'lab/hum', 'lab/cmd/led', 'lab/alias/long/topic/name', 'lab/alias/long/topic/name', 'lab/status/mq5-pub']);
    for (const e of forwarded) expect(e.properties.subscriptionIdentifier).toEqual([7]);
    expect(forwarded[1]).toMatchObject({ properties: { payloadFormatIndicator: 1, messageExpiryInterval: expect.any(Number), contentType: 'application/json' } });
  });

  it('DISCONNECT reason codes: 0x04 makes the broker publish the will; 0x00 with a user property', () => {
    expect(pub!.find((e) => e.kind === 'disconnect')).toMatchObject({ from: 'client', reasonCode: 4, properties: { reasonString: 'leaving, publish my will' } });
    expect(pub!.find((e) => e.kind === 'disconnect')!.summary).toContain('disconnect with will message');
    expect(sub!.find((e) => e.kind === 'publish' && e.topic === 'lab/status/mq5-pub')).toMatchObject({ text: 'mq5-pub left', qos: 1 });
    expect(sub!.find((e) => e.kind === 'disconnect')).toMatchObject({ reasonCode: 0, properties: { userProperty: [['bye', 'normal']] } });
    expect(sub!.find((e) => e.kind === 'subscribe')!.subscriptions).toEqual([{ topic: 'lab/#', qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 0 }]);
  });
});
