import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePacket } from '../../src/net/decode.js';
import { runs } from '../helpers/fuzz.js';
import {
  encodeTcpPacket,
  internetChecksum,
  parseIpAddress,
  parseIpv4,
  parseIpv6,
  type TcpPacketSpec,
} from '../../src/net/packet-encoder.js';

const LINKTYPE_ETHERNET = 1;

/**
 * An independent RFC 1071 sum, written the slow obvious way: concatenate, pad to even length,
 * add 16-bit words, fold carries. Used to check the encoder's checksums without trusting it.
 */
function referenceChecksum(data: number[]): number {
  const padded = data.length % 2 === 0 ? data : [...data, 0];
  let sum = 0;
  for (let i = 0; i < padded.length; i += 2) sum += padded[i]! * 256 + padded[i + 1]!;
  while (sum > 0xffff) sum = (sum % 65536) + Math.floor(sum / 65536);
  return 0xffff - sum;
}

/** Splits an Ethernet frame into its IP header, and the TCP segment with the addresses for the pseudo-header. */
function layers(frame: Uint8Array): { etherType: number; ipHeader: Uint8Array; tcp: Uint8Array; src: Uint8Array; dst: Uint8Array } {
  const etherType = (frame[12]! << 8) | frame[13]!;
  const ip = frame.subarray(14);
  if (etherType === 0x0800) {
    const ihl = (ip[0]! & 0x0f) * 4;
    const total = (ip[2]! << 8) | ip[3]!;
    return { etherType, ipHeader: ip.subarray(0, ihl), tcp: ip.subarray(ihl, total), src: ip.subarray(12, 16), dst: ip.subarray(16, 20) };
  }
  const payloadLength = (ip[4]! << 8) | ip[5]!;
  return { etherType, ipHeader: ip.subarray(0, 40), tcp: ip.subarray(40, 40 + payloadLength), src: ip.subarray(8, 24), dst: ip.subarray(24, 40) };
}

/** Recomputes the TCP checksum over the pseudo-header of RFC 9293 §3.1 / RFC 8200 §8.1: 0 means it verifies. */
function verifyTcpChecksum(frame: Uint8Array): number {
  const { tcp, src, dst } = layers(frame);
  const length = tcp.length;
  const pseudo =
    src.length === 4
      ? [...src, ...dst, 0, 6, length >> 8, length & 0xff]
      : [...src, ...dst, 0, 0, length >> 8, length & 0xff, 0, 0, 0, 6];
  return referenceChecksum([...pseudo, ...tcp]);
}

function spec(overrides: Partial<TcpPacketSpec> = {}): TcpPacketSpec {
  return {
    srcIp: '192.168.1.10',
    dstIp: '192.168.1.20',
    srcPort: 51000,
    dstPort: 8080,
    seq: 1000,
    ack: 2000,
    flags: { ack: true, psh: true },
    payload: new TextEncoder().encode('hello'),
    ipId: 0x1234,
    ...overrides,
  };
}

describe('internetChecksum', () => {
  it('matches the worked example of RFC 1071 §3', () => {
    // 0001 + f203 + f4f5 + f6f7 = 2ddf0, folded ddf2, complemented 220d.
    expect(internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7))).toBe(0x220d);
  });

  it('sums parts as one byte string, odd-length parts included', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 70 }), { maxLength: 6 }), (parts) => {
        const whole = parts.flatMap((p) => [...p]);
        expect(internetChecksum(...parts)).toBe(referenceChecksum(whole));
      }),
    );
  });
});

describe('address parsing', () => {
  it('reads dotted quads and rejects anything else', () => {
    expect([...parseIpv4('10.0.0.255')]).toEqual([10, 0, 0, 255]);
    for (const bad of ['10.0.0', '10.0.0.256', '10.0.0.01', '1.2.3.4.5', 'a.b.c.d', '', '1..2.3']) {
      expect(() => parseIpv4(bad), bad).toThrow(RangeError);
    }
  });

  it('reads every RFC 4291 §2.2 form of IPv6', () => {
    const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
    expect(hex(parseIpv6('::1'))).toBe('00000000000000000000000000000001');
    expect(hex(parseIpv6('::'))).toBe('0'.repeat(32));
    expect(hex(parseIpv6('2001:db8::'))).toBe('20010db8' + '0'.repeat(24));
    expect(hex(parseIpv6('2001:DB8:0:0:8:800:200C:417A'))).toBe('20010db80000000000080800200c417a');
    expect(hex(parseIpv6('ff01::101'))).toBe('ff010000000000000000000000000101');
    expect(hex(parseIpv6('::ffff:192.0.2.1'))).toBe('00000000000000000000ffffc0000201');
    expect(hex(parseIpv6('0:0:0:0:0:ffff:192.0.2.1'))).toBe('00000000000000000000ffffc0000201');
    expect(hex(parseIpv6('fe80::1%eth0'))).toBe('fe800000000000000000000000000001');
    for (const bad of ['1::2::3', '12345::1', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7::8', 'g::1', ':1', '1:', '::1.2.3', 'fe80::1%']) {
      expect(() => parseIpv6(bad), bad).toThrow(RangeError);
    }
  });

  it('tells the versions apart', () => {
    expect(parseIpAddress('127.0.0.1').version).toBe(4);
    expect(parseIpAddress('::1').version).toBe(6);
  });
});

describe('encodeTcpPacket over IPv4', () => {
  it('decodes back to the fields it was given', () => {
    const frame = encodeTcpPacket(spec());
    const decoded = decodePacket(LINKTYPE_ETHERNET, frame, frame.length);
    expect(decoded).toMatchObject({
      kind: 'tcp',
      ipVersion: 4,
      src: '192.168.1.10',
      dst: '192.168.1.20',
      srcPort: 51000,
      dstPort: 8080,
      seq: 1000,
      ack: 2000,
      flags: { syn: false, ack: true, psh: true, fin: false, rst: false, urg: false },
      window: 65535,
      missing: 0,
    });
    if (decoded.kind !== 'tcp') throw new Error('not tcp');
    expect(new TextDecoder().decode(decoded.payload)).toBe('hello');
  });

  it('writes a correct IPv4 header: lengths, DF, TTL 64, identification, checksum', () => {
    const frame = encodeTcpPacket(spec());
    expect(frame.length).toBe(14 + 20 + 20 + 5);
    const { etherType, ipHeader } = layers(frame);
    expect(etherType).toBe(0x0800);
    expect(ipHeader[0]).toBe(0x45);
    expect((ipHeader[2]! << 8) | ipHeader[3]!).toBe(45);
    expect((ipHeader[4]! << 8) | ipHeader[5]!).toBe(0x1234);
    expect((ipHeader[6]! << 8) | ipHeader[7]!).toBe(0x4000);
    expect(ipHeader[8]).toBe(64);
    expect(ipHeader[9]).toBe(6);
    // Summing a header together with its own checksum gives 0xffff, i.e. a complement of 0.
    expect(referenceChecksum([...ipHeader])).toBe(0);
  });

  it('writes a TCP checksum that verifies over the pseudo-header', () => {
    expect(verifyTcpChecksum(encodeTcpPacket(spec()))).toBe(0);
    expect(verifyTcpChecksum(encodeTcpPacket(spec({ payload: Uint8Array.of(0xff) })))).toBe(0);
  });

  it('adds the MSS option only when asked (for SYN and SYN+ACK)', () => {
    const plain = layers(encodeTcpPacket(spec())).tcp;
    expect(plain[12]! >> 4).toBe(5);
    const syn = layers(encodeTcpPacket(spec({ flags: { syn: true }, ack: 0, mss: 1460, payload: new Uint8Array(0) }))).tcp;
    expect(syn[12]! >> 4).toBe(6);
    expect([...syn.subarray(20, 24)]).toEqual([2, 4, 0x05, 0xb4]);
    expect(syn[13]).toBe(0x02);
    expect(verifyTcpChecksum(encodeTcpPacket(spec({ flags: { syn: true }, mss: 1460 })))).toBe(0);
  });

  it('wraps sequence numbers into 32 bits', () => {
    const decoded = decodePacket(LINKTYPE_ETHERNET, encodeTcpPacket(spec({ seq: 2 ** 32 + 5, ack: -1 })));
    expect(decoded).toMatchObject({ seq: 5, ack: 0xffffffff });
  });

  it('refuses mixed IP versions, bad ports and oversized packets', () => {
    expect(() => encodeTcpPacket(spec({ dstIp: '::1' }))).toThrow(RangeError);
    expect(() => encodeTcpPacket(spec({ srcPort: 70000 }))).toThrow(RangeError);
    expect(() => encodeTcpPacket(spec({ payload: new Uint8Array(65535 - 40 + 1) }))).toThrow(RangeError);
    expect(() => encodeTcpPacket(spec({ mss: 0 }))).toThrow(RangeError);
  });
});

describe('encodeTcpPacket over IPv6', () => {
  it('writes a correct IPv6 header and a checksum over the IPv6 pseudo-header', () => {
    const frame = encodeTcpPacket(spec({ srcIp: '2001:db8::10', dstIp: '::1' }));
    const { etherType, ipHeader } = layers(frame);
    expect(etherType).toBe(0x86dd);
    expect(ipHeader[0]! >> 4).toBe(6);
    expect((ipHeader[4]! << 8) | ipHeader[5]!).toBe(25);
    expect(ipHeader[6]).toBe(6);
    expect(ipHeader[7]).toBe(64);
    expect(verifyTcpChecksum(frame)).toBe(0);
    expect(decodePacket(LINKTYPE_ETHERNET, frame, frame.length)).toMatchObject({ kind: 'tcp', ipVersion: 6, src: '2001:db8::10', dst: '::1' });
  });
});

describe('encodeTcpPacket (property)', () => {
  const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
  const ipv6 = fc.ipV6();
  it('always produces packets whose checksums verify and that decode to what was given', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.tuple(ipv4, ipv4), fc.tuple(ipv6, ipv6)),
        fc.integer({ min: 1, max: 65535 }),
        fc.integer({ min: 1, max: 65535 }),
        fc.nat({ max: 0xffffffff }),
        fc.nat({ max: 0xffffffff }),
        fc.uint8Array({ maxLength: 3000 }),
        fc.record({ fin: fc.boolean(), syn: fc.boolean(), rst: fc.boolean(), psh: fc.boolean(), ack: fc.boolean(), urg: fc.boolean() }),
        fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        ([srcIp, dstIp], srcPort, dstPort, seq, ack, payload, flags, mss) => {
          const frame = encodeTcpPacket({ srcIp, dstIp, srcPort, dstPort, seq, ack, flags, payload, ...(mss !== undefined ? { mss } : {}), ipId: seq & 0xffff });
          expect(verifyTcpChecksum(frame)).toBe(0);
          const { ipHeader } = layers(frame);
          if (ipHeader.length === 20) expect(referenceChecksum([...ipHeader])).toBe(0);
          const decoded = decodePacket(LINKTYPE_ETHERNET, frame, frame.length);
          expect(decoded).toMatchObject({ kind: 'tcp', srcPort, dstPort, seq, ack, flags, missing: 0 });
          if (decoded.kind !== 'tcp') return;
          expect(Buffer.from(decoded.payload).equals(Buffer.from(payload))).toBe(true);
          expect([...parseIpAddress(decoded.src).bytes]).toEqual([...parseIpAddress(srcIp).bytes]);
        },
      ),
      { numRuns: runs(300) },
    );
  });
});
