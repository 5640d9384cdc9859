import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PacketDecoder, decodePacket, type DecodeResult, type TcpSegment } from '../../src/net/decode.js';
import { LINKTYPE } from '../../src/net/link.js';
import { runs } from '../helpers/fuzz.js';
import {
  buildEthernet,
  buildIpv4,
  buildIpv6,
  buildLoop,
  buildNull,
  buildSll,
  buildSll2,
  buildTcp,
  buildTcpPacket,
  concat,
  hex,
} from './packet-builder.js';

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

function expectTcp(result: DecodeResult): TcpSegment {
  if (result.kind !== 'tcp') throw new Error(`expected TCP, got ${JSON.stringify(result)}`);
  return result;
}

const tcp = buildTcp({ srcPort: 51000, dstPort: 80, seq: 1000, ack: 2000, flags: 'PA', payload: 'hello' });
const ipv4 = buildIpv4({ src: '192.0.2.1', dst: '198.51.100.2', payload: tcp });
const ipv6 = buildIpv6({ src: '2001:db8::1', dst: '2001:db8::2', payload: tcp });

function checkSegment(segment: TcpSegment, version: 4 | 6): void {
  expect(segment.ipVersion).toBe(version);
  expect(segment.src).toBe(version === 4 ? '192.0.2.1' : '2001:db8::1');
  expect(segment.dst).toBe(version === 4 ? '198.51.100.2' : '2001:db8::2');
  expect(segment.srcPort).toBe(51000);
  expect(segment.dstPort).toBe(80);
  expect(segment.seq).toBe(1000);
  expect(segment.ack).toBe(2000);
  expect(segment.flags).toEqual({ syn: false, ack: true, fin: false, rst: false, psh: true, urg: false });
  expect(segment.window).toBe(65535);
  expect(text(segment.payload)).toBe('hello');
  expect(segment.missing).toBe(0);
}

describe('link layers', () => {
  it('Ethernet', () => {
    checkSegment(expectTcp(decodePacket(LINKTYPE.ETHERNET, buildEthernet({ etherType: 0x0800, payload: ipv4 }))), 4);
    checkSegment(expectTcp(decodePacket(LINKTYPE.ETHERNET, buildEthernet({ etherType: 0x86dd, payload: ipv6 }))), 6);
  });

  it('Ethernet with an 802.1Q tag, QinQ (0x88a8 then 0x8100) and the old 0x9100 tag', () => {
    const tagged = buildEthernet({ etherType: 0x0800, payload: ipv4, vlans: [{ id: 10 }] });
    checkSegment(expectTcp(decodePacket(1, tagged)), 4);
    const qinq = buildEthernet({ etherType: 0x86dd, payload: ipv6, vlans: [{ tpid: 0x88a8, id: 100 }, { id: 200 }] });
    checkSegment(expectTcp(decodePacket(1, qinq)), 6);
    const deep = buildEthernet({
      etherType: 0x0800,
      payload: ipv4,
      vlans: [{ tpid: 0x9100, id: 1 }, { tpid: 0x88a8, id: 2 }, { id: 3 }],
    });
    checkSegment(expectTcp(decodePacket(1, deep)), 4);
  });

  it('Linux cooked SLL and SLL2', () => {
    checkSegment(expectTcp(decodePacket(LINKTYPE.LINUX_SLL, buildSll(0x0800, ipv4))), 4);
    checkSegment(expectTcp(decodePacket(LINKTYPE.LINUX_SLL, buildSll(0x86dd, ipv6, 4))), 6);
    checkSegment(expectTcp(decodePacket(LINKTYPE.LINUX_SLL2, buildSll2(0x0800, ipv4))), 4);
    checkSegment(expectTcp(decodePacket(LINKTYPE.LINUX_SLL2, buildSll2(0x86dd, ipv6))), 6);
  });

  it('SLL2 with a VLAN tag after the cooked header', () => {
    const frame = buildSll2(0x8100, concat(hex('0005 0800'), ipv4));
    checkSegment(expectTcp(decodePacket(LINKTYPE.LINUX_SLL2, frame)), 4);
  });

  it('BSD NULL in both byte orders, with every IPv6 family value', () => {
    checkSegment(expectTcp(decodePacket(LINKTYPE.NULL, buildNull(2, ipv4, true))), 4);
    checkSegment(expectTcp(decodePacket(LINKTYPE.NULL, buildNull(2, ipv4, false))), 4);
    for (const family of [24, 28, 30]) {
      checkSegment(expectTcp(decodePacket(LINKTYPE.NULL, buildNull(family, ipv6, true))), 6);
      checkSegment(expectTcp(decodePacket(LINKTYPE.NULL, buildNull(family, ipv6, false))), 6);
    }
    expect(decodePacket(LINKTYPE.NULL, buildNull(7, ipv4))).toMatchObject({ kind: 'other' });
  });

  it('LOOP in network byte order', () => {
    checkSegment(expectTcp(decodePacket(LINKTYPE.LOOP, buildLoop(2, ipv4))), 4);
    checkSegment(expectTcp(decodePacket(LINKTYPE.LOOP, buildLoop(30, ipv6))), 6);
  });

  it('raw IP: version from the first nibble (101, 12, 14), or fixed (228, 229)', () => {
    for (const linkType of [101, 12, 14]) {
      checkSegment(expectTcp(decodePacket(linkType, ipv4)), 4);
      checkSegment(expectTcp(decodePacket(linkType, ipv6)), 6);
    }
    checkSegment(expectTcp(decodePacket(LINKTYPE.IPV4, ipv4)), 4);
    checkSegment(expectTcp(decodePacket(LINKTYPE.IPV6, ipv6)), 6);
    expect(decodePacket(101, concat(new Uint8Array([0x50]), ipv4.subarray(1)))).toMatchObject({ kind: 'malformed', truncated: false });
    expect(decodePacket(LINKTYPE.IPV4, ipv6)).toMatchObject({ kind: 'malformed', truncated: false });
  });

  it('hands out the payload as a view into the packet, not a copy', () => {
    const frame = buildEthernet({ etherType: 0x0800, payload: ipv4 });
    const segment = expectTcp(decodePacket(1, frame));
    expect(segment.payload.buffer).toBe(frame.buffer);
    expect(segment.payload.byteOffset).toBe(14 + 20 + 20);
  });

  it('unknown link types are reported as unsupported', () => {
    expect(decodePacket(105, ipv4)).toEqual({ kind: 'unsupported-link', linkType: 105 });
  });

  it('ARP, LLC and UDP are "other"', () => {
    expect(decodePacket(1, buildEthernet({ etherType: 0x0806, payload: new Uint8Array(28) }))).toEqual({
      kind: 'other',
      reason: 'EtherType 0x0806 (ARP)',
    });
    expect(decodePacket(1, buildEthernet({ etherType: 0x002e, payload: new Uint8Array(46) }))).toMatchObject({ kind: 'other' });
    const udp = buildIpv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 17, payload: new Uint8Array(8) });
    expect(decodePacket(101, udp)).toEqual({ kind: 'other', reason: 'IPv4 protocol 17 (UDP)' });
  });

  it('builds frames with buildTcpPacket for both IP versions', () => {
    const v4 = expectTcp(decodePacket(1, buildTcpPacket({ srcPort: 1, dstPort: 2, payload: 'x' })));
    expect(v4.src).toBe('10.0.0.1');
    const v6 = expectTcp(decodePacket(101, buildTcpPacket({ src: 'fe80::1', dst: 'fe80::2', srcPort: 1, dstPort: 2, link: 'raw' })));
    expect(v6.dst).toBe('fe80::2');
    expect(v6.payload.length).toBe(0);
  });
});

describe('IPv4', () => {
  it('skips options using the header length (IHL)', () => {
    // Record Route (7) with room for one address, then End of Options.
    const packet = buildIpv4({ src: '192.0.2.1', dst: '198.51.100.2', payload: tcp, options: hex('07 07 04 00000000') });
    expect(packet[0]).toBe(0x47);
    checkSegment(expectTcp(decodePacket(101, packet)), 4);
  });

  it('cuts Ethernet padding off using the total length', () => {
    const tiny = buildIpv4({ src: '192.0.2.1', dst: '198.51.100.2', payload: buildTcp({ srcPort: 1, dstPort: 2, payload: 'a' }) });
    const frame = buildEthernet({ etherType: 0x0800, payload: tiny, minLength: 60 });
    expect(frame.length).toBe(60);
    const segment = expectTcp(decodePacket(1, frame, 60));
    expect(text(segment.payload)).toBe('a');
    expect(segment.missing).toBe(0);
  });

  it('counts payload cut by the snap length as missing', () => {
    const big = buildIpv4({ src: '192.0.2.1', dst: '198.51.100.2', payload: buildTcp({ srcPort: 1, dstPort: 2, payload: 'x'.repeat(1000) }) });
    const frame = buildEthernet({ etherType: 0x0800, payload: big });
    const segment = expectTcp(decodePacket(1, frame.subarray(0, 100), frame.length));
    expect(segment.payload.length).toBe(100 - 14 - 20 - 20);
    expect(segment.missing).toBe(1000 - segment.payload.length);
    // Without the original length the shortfall is still taken for a capture cut.
    expect(expectTcp(decodePacket(1, frame.subarray(0, 100))).missing).toBe(segment.missing);
  });

  it('keeps "truncated" (cut by the capture) apart from "malformed" (inconsistent on the wire)', () => {
    const frame = buildEthernet({ etherType: 0x0800, payload: ipv4 });
    expect(decodePacket(1, frame.subarray(0, 10), frame.length)).toMatchObject({ kind: 'malformed', truncated: true });
    expect(decodePacket(1, frame.subarray(0, 30), frame.length)).toMatchObject({ kind: 'malformed', truncated: true, reason: 'truncated IPv4 header' });
    expect(decodePacket(1, frame.subarray(0, 14 + 20 + 10), frame.length)).toMatchObject({ kind: 'malformed', truncated: true, reason: 'truncated TCP header' });
    // The same short packets with nothing cut by the capture are malformed.
    expect(decodePacket(1, frame.subarray(0, 30), 30)).toMatchObject({ kind: 'malformed', truncated: false });
    const lying = buildIpv4({ src: '192.0.2.1', dst: '198.51.100.2', payload: tcp, totalLength: 500 });
    expect(decodePacket(101, lying, lying.length)).toMatchObject({ kind: 'malformed', truncated: false });
    const tooShortTotal = buildIpv4({ src: '192.0.2.1', dst: '198.51.100.2', payload: tcp, totalLength: 19 });
    expect(decodePacket(101, tooShortTotal)).toMatchObject({ kind: 'malformed', truncated: false });
    const badIhl = ipv4.slice();
    badIhl[0] = 0x44;
    expect(decodePacket(101, badIhl)).toMatchObject({ kind: 'malformed', truncated: false });
    const badOffset = buildIpv4({ src: '192.0.2.1', dst: '198.51.100.2', payload: tcp });
    badOffset[20 + 12] = 0x30;
    expect(decodePacket(101, badOffset)).toMatchObject({ kind: 'malformed', truncated: false });
  });

  it('treats a total length of 0 as a segmentation-offload packet', () => {
    const offloaded = buildIpv4({ src: '192.0.2.1', dst: '198.51.100.2', payload: tcp, totalLength: 0 });
    checkSegment(expectTcp(decodePacket(101, offloaded, offloaded.length)), 4);
  });

  it('decodes TCP options through the data offset', () => {
    const withOptions = buildTcp({ srcPort: 51000, dstPort: 80, seq: 1000, ack: 2000, flags: 'PA', payload: 'hello', options: hex('020405b4 0101 080a 0000000100000002') });
    checkSegment(expectTcp(decodePacket(228, buildIpv4({ src: '192.0.2.1', dst: '198.51.100.2', payload: withOptions }))), 4);
  });

  describe('fragments', () => {
    const payload = buildTcp({ srcPort: 51000, dstPort: 80, seq: 1000, ack: 2000, flags: 'PA', payload: 'hello, fragmented world: '.repeat(4) });
    const fragment = (offset: number, length: number, more: boolean, id = 7): Uint8Array =>
      buildIpv4({ src: '192.0.2.1', dst: '198.51.100.2', id, payload: payload.subarray(offset, offset + length), fragmentOffset: offset, moreFragments: more });

    it('reassembles fragments arriving in any order', () => {
      const decoder = new PacketDecoder();
      expect(decoder.decode(101, fragment(48, payload.length - 48, false))).toMatchObject({ kind: 'other' });
      expect(decoder.decode(101, fragment(0, 24, true))).toMatchObject({ kind: 'other' });
      const segment = expectTcp(decoder.decode(101, fragment(24, 24, true)));
      expect(text(segment.payload)).toBe('hello, fragmented world: '.repeat(4));
      expect(segment.seq).toBe(1000);
    });

    it('keeps the first copy of overlapping fragments and separates datagrams by id', () => {
      const decoder = new PacketDecoder();
      expect(decoder.decode(101, fragment(0, 48, true, 1)).kind).toBe('other');
      expect(decoder.decode(101, fragment(0, 48, true, 2)).kind).toBe('other');
      const overlapping = buildIpv4({ src: '192.0.2.1', dst: '198.51.100.2', id: 1, payload: new Uint8Array(payload.length - 40).fill(0x58), fragmentOffset: 40, moreFragments: false });
      const segment = expectTcp(decoder.decode(101, overlapping));
      const expected = concat(payload.subarray(20, 48), new Uint8Array(payload.length - 48).fill(0x58));
      expect(segment.payload).toEqual(expected);
      expect(expectTcp(decoder.decode(101, fragment(48, payload.length - 48, false, 2))).payload).toEqual(payload.subarray(20));
    });

    it('is reported as "other" by the stateless decodePacket', () => {
      expect(decodePacket(101, fragment(0, 24, true))).toEqual({ kind: 'other', reason: 'IPv4 fragment' });
    });

    it('bounds the datagrams held for reassembly', () => {
      const decoder = new PacketDecoder({ maxDatagrams: 4 });
      for (let id = 0; id < 100; id++) decoder.decode(101, fragment(0, 24, true, id));
      // The oldest were dropped: completing id 0 no longer yields a segment, completing id 99 does.
      expect(decoder.decode(101, fragment(24, payload.length - 24, false, 0)).kind).toBe('other');
      expect(decoder.decode(101, fragment(24, payload.length - 24, false, 99)).kind).toBe('tcp');
    });
  });
});

describe('IPv6', () => {
  it('skips hop-by-hop, routing, destination options and AH headers', () => {
    const packet = buildIpv6({
      src: '2001:db8::1',
      dst: '2001:db8::2',
      payload: tcp,
      extensions: [
        { type: 0, body: hex('0104 00000000') },
        { type: 43, body: new Uint8Array(22) },
        { type: 60, body: new Uint8Array(6) },
        { type: 51, body: new Uint8Array(22) },
      ],
    });
    checkSegment(expectTcp(decodePacket(101, packet)), 6);
  });

  it('reports "no next header" as other and an extension running past the payload as malformed', () => {
    expect(decodePacket(101, buildIpv6({ src: '::1', dst: '::1', nextHeader: 59, payload: new Uint8Array(0) }))).toMatchObject({ kind: 'other' });
    const packet = buildIpv6({ src: '::1', dst: '::1', payload: tcp, extensions: [{ type: 60, body: new Uint8Array(6) }] });
    expect(decodePacket(101, packet.subarray(0, 44), packet.length)).toMatchObject({ kind: 'malformed', truncated: true });
    packet[41] = 200;
    expect(decodePacket(101, packet)).toMatchObject({ kind: 'malformed', truncated: false });
  });

  it('cuts link padding with the payload length and counts cut bytes as missing', () => {
    const frame = buildEthernet({ etherType: 0x86dd, payload: ipv6, minLength: 200 });
    checkSegment(expectTcp(decodePacket(1, frame)), 6);
    const cut = expectTcp(decodePacket(1, frame.subarray(0, 14 + 40 + 20 + 2), frame.length));
    expect(text(cut.payload)).toBe('he');
    expect(cut.missing).toBe(3);
  });

  it('passes atomic fragments through and reassembles real ones', () => {
    const atomic = buildIpv6({ src: '2001:db8::1', dst: '2001:db8::2', payload: tcp, extensions: [{ type: 44, identification: 5 }] });
    checkSegment(expectTcp(decodePacket(101, atomic)), 6);
    const decoder = new PacketDecoder();
    const part = (offset: number, end: number, more: boolean): Uint8Array =>
      buildIpv6({
        src: '2001:db8::1',
        dst: '2001:db8::2',
        payload: tcp.subarray(offset, end),
        extensions: [{ type: 0, body: new Uint8Array(6) }, { type: 44, identification: 9, fragmentOffset: offset, moreFragments: more }],
      });
    expect(decoder.decode(101, part(16, tcp.length, false))).toEqual({ kind: 'other', reason: 'IPv6 fragment (held for reassembly)' });
    checkSegment(expectTcp(decoder.decode(101, part(0, 16, true))), 6);
    expect(decodePacket(101, part(0, 16, true))).toEqual({ kind: 'other', reason: 'IPv6 fragment' });
  });
});

describe('robustness', () => {
  const linkTypes = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 9999];

  it('never throws on random bytes, for every link type', () => {
    fc.assert(
      fc.property(fc.constantFrom(...linkTypes), fc.uint8Array({ maxLength: 200 }), fc.option(fc.nat(400)), (linkType, data, original) => {
        const decoder = new PacketDecoder();
        const result = decoder.decode(linkType, data, original ?? undefined);
        expect(['tcp', 'other', 'unsupported-link', 'malformed']).toContain(result.kind);
      }),
      { numRuns: runs(3000) },
    );
  });

  it('never throws on valid packets with random bytes flipped or cut', () => {
    const frames: [number, Uint8Array][] = [
      [1, buildEthernet({ etherType: 0x0800, payload: ipv4 })],
      [1, buildEthernet({ etherType: 0x86dd, payload: ipv6, vlans: [{ id: 3 }] })],
      [276, buildSll2(0x86dd, buildIpv6({ src: '::1', dst: '::2', payload: tcp, extensions: [{ type: 0 }, { type: 44, moreFragments: true }] }))],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...frames), fc.array(fc.tuple(fc.nat(), fc.nat(255))), fc.nat(), ([linkType, frame], flips, cutAt) => {
        const data = frame.slice(0, (cutAt % (frame.length + 1)) || frame.length);
        for (const [at, value] of flips) if (data.length > 0) data[at % data.length] = value;
        const decoder = new PacketDecoder();
        decoder.decode(linkType, data, frame.length);
        decoder.decode(linkType, data);
      }),
      { numRuns: runs(3000) },
    );
  });
});
