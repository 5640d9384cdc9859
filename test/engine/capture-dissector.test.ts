import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CaptureDissector } from '../../src/engine/capture-dissector.js';
import type { DissectEvent } from '../../src/engine/events.js';
import { dissectFile } from '../helpers/dissect.js';

const serverPort = (name: string): number => JSON.parse(readFileSync(`fixtures/real/${name}.expected.json`, 'utf8')).connections[0].server.port;

const alertCodes = (json: Record<string, any>[]) => json.flatMap((e) => (e.type === 'alert' ? [e.code] : Array.isArray(e.alerts) ? e.alerts.map((a: { code: string }) => a.code) : []));
const texts = (json: Record<string, any>[], from: string) => json.filter((e) => e.type === 'message' && e.from === from).map((e) => e.text ?? e.closeCode ?? e.opcodeName);

describe('CaptureDissector on captures that miss bytes', () => {
  it('says why a connection whose handshake was cut by the snap length is not decoded', async () => {
    const { json } = await dissectFile('fixtures/real/snaplen-96.pcap');
    expect(alertCodes(json)).toEqual(expect.arrayContaining(['capture.snaplen-truncated', 'tcp.gap']));
    expect(json.find((e) => e.type === 'other')).toMatchObject({ kind: 'not-http', note: expect.stringContaining('--decode-as') });
    expect(json.filter((e) => e.type === 'frame')).toEqual([]);
  });

  it('recovers the frames after the cut with --decode-as, resynchronising each direction', async () => {
    const { json } = await dissectFile('fixtures/real/snaplen-96.pcap', { decodeAs: [serverPort('snaplen-96')] });
    expect(alertCodes(json)).toEqual(expect.arrayContaining(['handshake.not-seen', 'frame.resync']));
    // The generator sent "fits in 96", a 1000-byte binary, a ping and close 1000 (see the manifest);
    // the binary's payload is mostly beyond the snap length, its header is not.
    expect(texts(json, 'client')).toEqual(['fits in 96', 'binary', 'ping', 1000]);
    expect(json.find((e) => e.type === 'message' && e.opcodeName === 'binary')).toMatchObject({ length: 1000, truncated: true });
    expect(texts(json, 'server')).toContain(1000);
  });

  it('decodes a capture started mid-connection only when told the port', async () => {
    const without = await dissectFile('fixtures/real/midstream.pcap');
    expect(without.json.filter((e) => e.type === 'message')).toEqual([]);
    expect(without.json.find((e) => e.type === 'connection')).toMatchObject({ sawSyn: false });
    const { json } = await dissectFile('fixtures/real/midstream.pcap', { decodeAs: [serverPort('midstream')] });
    expect(alertCodes(json)[0]).toBe('handshake.not-seen');
    expect(json.filter((e) => e.type === 'message').length).toBeGreaterThan(3);
    // The reassembler guessed the client from the ports; --decode-as names the server, so
    // every client frame is masked and every server frame is not.
    for (const f of json.filter((e) => e.type === 'frame')) expect(f.masked).toBe(f.from === 'client');
    // In capture order: each direction's first frame is taken when its segment holds exactly
    // one frame, not held back until that direction's next frame arrives.
    const packets = json.filter((e) => e.type === 'frame').map((f) => f.packet as number);
    expect(packets).toEqual([2, 3, 5, 6, 8, 9, 10]);
  });


  it('says what a connection that is not HTTP looks like, with the port for --decode-as', async () => {
    const { json } = await dissectFile('fixtures/real/midstream.pcap');
    expect(json.find((e) => e.type === 'other')).toMatchObject({ kind: 'not-http', note: `the client stream is not HTTP: its bytes look like WebSocket frames, so the capture probably started after the handshake; --decode-as ${serverPort('midstream')} decodes them` });
  });
});

describe('CaptureDissector notices', () => {
  it('reports malformed packets once per kind of damage, whatever numbers each one carries', () => {
    const dissector = new CaptureDissector();
    const notices: DissectEvent[] = [];
    for (let no = 1; no <= 2000; no++) {
      // Raw IPv4 (LINKTYPE_RAW 101): 40 bytes on the wire, a total length that claims more, different in each packet.
      const data = new Uint8Array(40);
      data[0] = 0x45;
      data[2] = (100 + no) >> 8;
      data[3] = (100 + no) & 0xff;
      data[9] = 6;
      notices.push(...dissector.item({ kind: 'packet', no, ts: no, linkType: 101, data, originalLength: 40, interfaceId: 0 }).filter((e) => e.type === 'notice'));
    }
    // Another kind of damage is still told, once.
    for (let no = 2001; no <= 2100; no++) notices.push(...dissector.item({ kind: 'packet', no, ts: no, linkType: 101, data: Uint8Array.of(0x45, 0, 0, 20 + no), originalLength: 4, interfaceId: 0 }));
    expect(notices.map((n) => (n.type === 'notice' ? `${n.code} ${n.at.packet}` : n.type))).toEqual(['capture.malformed-packet 1', 'capture.malformed-packet 2001']);
  });
});
