import { describe, expect, it } from 'vitest';
import {
  block,
  enhancedPacket,
  interfaceDescription,
  obsoletePacket,
  sectionHeader,
  simplePacket,
} from './pcapng-builder.js';
import { bytesOf, comparable, notices, packets, readAll } from './helpers.js';

describe('pcapng', () => {
  for (const order of ['LE', 'BE'] as const) {
    it(`reads a ${order} section with the default microsecond resolution`, async () => {
      const file = Buffer.concat([
        sectionHeader(order),
        interfaceDescription(order, 1, 65535),
        enhancedPacket(order, 0, 1_700_000_000_250_000n, bytesOf(60, 1)),
        enhancedPacket(order, 0, 1_700_000_001_000_001n, bytesOf(61, 2), 1000),
      ]);
      const { info, items } = await readAll(file);
      expect(info).toEqual({ format: 'pcapng', gzip: false, byteOrder: order });
      expect(notices(items)).toEqual([expect.objectContaining({ code: 'snaplen-cut', packet: 2 })]);
      const got = packets(items);
      expect(got.map((p) => ({ no: p.no, ts: p.ts, linkType: p.linkType, id: p.interfaceId }))).toEqual([
        { no: 1, ts: 1700000000.25, linkType: 1, id: 0 },
        { no: 2, ts: 1700000001.000001, linkType: 1, id: 0 },
      ]);
      expect([...got[1]!.data]).toEqual([...bytesOf(61, 2)]);
      expect(got[1]!.originalLength).toBe(1000);
    });
  }

  it('applies each interface its own if_tsresol (power of 10 or of 2) and if_tsoffset', async () => {
    const file = Buffer.concat([
      sectionHeader('LE'),
      interfaceDescription('LE', 1, 0, { tsresol: 9 }),
      interfaceDescription('LE', 113, 0, { tsresol: 0x80 | 10 }),
      interfaceDescription('LE', 101, 0, { tsresol: 3, tsoffset: 1_000_000_000n }),
      enhancedPacket('LE', 0, 1_700_000_000_123_456_789n, bytesOf(10, 1)),
      enhancedPacket('LE', 1, 1_700_000_000n * 1024n + 512n, bytesOf(10, 2)),
      enhancedPacket('LE', 2, 700_000_000_500n, bytesOf(10, 3)),
    ]);
    const got = packets((await readAll(file)).items);
    expect(got.map((p) => [p.interfaceId, p.linkType, p.ts])).toEqual([
      [0, 1, 1700000000 + 0.123456789],
      [1, 113, 1700000000.5],
      [2, 101, 1700000000.5],
    ]);
  });

  it('starts a new interface list with every section, whatever its byte order', async () => {
    const file = Buffer.concat([
      sectionHeader('LE'),
      interfaceDescription('LE', 1, 0),
      interfaceDescription('LE', 113, 0),
      enhancedPacket('LE', 1, 1_000_000n, bytesOf(4, 1)),
      sectionHeader('BE'),
      interfaceDescription('BE', 101, 0),
      enhancedPacket('BE', 0, 2_000_000n, bytesOf(4, 2)),
      enhancedPacket('BE', 1, 3_000_000n, bytesOf(4, 3)),
      enhancedPacket('BE', 0, 4_000_000n, bytesOf(4, 4)),
    ]);
    const { info, items } = await readAll(file);
    expect(info.byteOrder).toBe('LE');
    expect(packets(items).map((p) => [p.no, p.linkType, p.ts])).toEqual([
      [1, 113, 1],
      [2, 101, 2],
      [4, 101, 4],
    ]);
    expect(notices(items)).toEqual([expect.objectContaining({ code: 'unknown-interface', packet: 3 })]);
  });

  it('reads simple packet blocks: interface 0, captured length cut to the snap length', async () => {
    const file = Buffer.concat([
      sectionHeader('BE'),
      interfaceDescription('BE', 1, 64),
      enhancedPacket('BE', 0, 5_000_000n, bytesOf(20, 1)),
      simplePacket('BE', 100, bytesOf(64, 2)),
      simplePacket('BE', 10, bytesOf(10, 3)),
    ]);
    const { items } = await readAll(file);
    const got = packets(items);
    expect(got.map((p) => [p.no, p.interfaceId, p.data.length, p.originalLength, p.ts])).toEqual([
      [1, 0, 20, 20, 5],
      [2, 0, 64, 100, 5],
      [3, 0, 10, 10, 5],
    ]);
    expect([...got[2]!.data]).toEqual([...bytesOf(10, 3)]);
    expect(notices(items)).toEqual([expect.objectContaining({ code: 'snaplen-cut', packet: 2 })]);
  });

  it('reads obsolete packet blocks', async () => {
    const file = Buffer.concat([
      sectionHeader('LE'),
      interfaceDescription('LE', 1, 0),
      obsoletePacket('LE', 0, 7_000_000n, bytesOf(30, 1)),
    ]);
    const got = packets((await readAll(file)).items);
    expect(got.map((p) => [p.no, p.ts, p.data.length])).toEqual([[1, 7, 30]]);
  });

  it('skips other blocks by their length, with one notice per unknown type', async () => {
    const file = Buffer.concat([
      sectionHeader('LE'),
      block('LE', 0x00000004, bytesOf(32, 1)), // name resolution: known, silent
      interfaceDescription('LE', 1, 0),
      block('LE', 0x12345678, bytesOf(100_000, 2)),
      enhancedPacket('LE', 0, 1_000_000n, bytesOf(8, 3)),
      block('LE', 0x00000005, bytesOf(24, 4)), // interface statistics: known, silent
      block('LE', 0x12345678, bytesOf(8, 5)),
      enhancedPacket('LE', 0, 2_000_000n, bytesOf(8, 6)),
    ]);
    const { items } = await readAll(file, 1000);
    expect(packets(items).map((p) => p.no)).toEqual([1, 2]);
    expect(notices(items)).toEqual([expect.objectContaining({ code: 'unknown-block' })]);
    expect(notices(items)[0]?.message).toContain('0x12345678');
  });

  it('skips sections of an unknown major version', async () => {
    const file = Buffer.concat([
      sectionHeader('LE', 2),
      interfaceDescription('LE', 1, 0),
      enhancedPacket('LE', 0, 1_000_000n, bytesOf(8, 1)),
      sectionHeader('LE'),
      interfaceDescription('LE', 1, 0),
      enhancedPacket('LE', 0, 2_000_000n, bytesOf(8, 2)),
    ]);
    const { items } = await readAll(file);
    expect(packets(items).map((p) => p.ts)).toEqual([2]);
    expect(notices(items).map((n) => n.code)).toEqual(['unsupported-version']);
  });

  it('reports a section header too short to be one as damage, and carries on at the next section', async () => {
    const short = block('LE', 0x0a0d0d0a, Uint8Array.of(0x4d, 0x3c, 0x2b, 0x1a));
    const file = Buffer.concat([
      sectionHeader('LE'),
      interfaceDescription('LE', 1, 0),
      enhancedPacket('LE', 0, 1_000_000n, bytesOf(8, 1)),
      short,
      // Blocks of the broken section describe nothing: skipped.
      interfaceDescription('LE', 1, 0),
      enhancedPacket('LE', 0, 2_000_000n, bytesOf(8, 2)),
      sectionHeader('BE'),
      interfaceDescription('BE', 1, 0),
      enhancedPacket('BE', 0, 3_000_000n, bytesOf(8, 3)),
    ]);
    for (const chunk of [undefined, 3]) {
      const { items } = await readAll(file, chunk);
      expect(packets(items).map((p) => p.ts)).toEqual([1, 3]);
      expect(notices(items).map((n) => n.code)).toEqual(['malformed-section']);
      expect(notices(items)[0]!.message).toMatch(/the section header at offset 88 is too short \(16 bytes/);
    }
  });

  describe('stops with a notice at impossible block lengths, after what came before', () => {
    const start = Buffer.concat([
      sectionHeader('LE'),
      interfaceDescription('LE', 1, 0),
      enhancedPacket('LE', 0, 1_000_000n, bytesOf(8, 1)),
    ]);
    const after = enhancedPacket('LE', 0, 2_000_000n, bytesOf(8, 2));

    it('trailing length differs from the leading one', async () => {
      const bad = enhancedPacket('LE', 0, 3_000_000n, bytesOf(8, 3));
      bad.writeUInt32LE(bad.length + 4, bad.length - 4);
      const { items } = await readAll(Buffer.concat([start, bad, after]));
      expect(packets(items)).toHaveLength(1);
      expect(notices(items)).toEqual([expect.objectContaining({ code: 'bad-block-length' })]);
    });

    it('trailing length of a skipped block differs', async () => {
      const bad = block('LE', 0x77, bytesOf(16, 3));
      bad.writeUInt32LE(8, bad.length - 4);
      const { items } = await readAll(Buffer.concat([start, bad, after]));
      expect(packets(items)).toHaveLength(1);
      expect(notices(items).map((n) => n.code)).toEqual(['unknown-block', 'bad-block-length']);
    });

    for (const length of [0, 8, 30]) {
      it(`length ${length}`, async () => {
        const bad = Buffer.from(after);
        bad.writeUInt32LE(length, 4);
        const { items } = await readAll(Buffer.concat([start, bad, after]));
        expect(packets(items)).toHaveLength(1);
        expect(notices(items).map((n) => n.code)).toEqual(['bad-block-length']);
      });
    }

    it('a packet block claiming gigabytes', async () => {
      const bad = Buffer.from(after);
      bad.writeUInt32LE(0xfffffff0, 4);
      const { items } = await readAll(Buffer.concat([start, bad, after]));
      expect(packets(items)).toHaveLength(1);
      expect(notices(items).map((n) => n.code)).toEqual(['block-too-large']);
    });
  });

  it('reports a captured length that does not fit its block and carries on', async () => {
    const bad = enhancedPacket('LE', 0, 1_000_000n, bytesOf(8, 1));
    bad.writeUInt32LE(1000, 20);
    const file = Buffer.concat([
      sectionHeader('LE'),
      interfaceDescription('LE', 1, 0),
      bad,
      enhancedPacket('LE', 0, 2_000_000n, bytesOf(8, 2)),
    ]);
    const { items } = await readAll(file);
    expect(packets(items).map((p) => p.no)).toEqual([2]);
    expect(notices(items)).toEqual([expect.objectContaining({ code: 'malformed-block', packet: 1 })]);
  });

  it('delivers the packets before a cut block and says the file is truncated', async () => {
    const head = Buffer.concat([sectionHeader('BE'), interfaceDescription('BE', 1, 0)]);
    const p1 = enhancedPacket('BE', 0, 1_000_000n, bytesOf(8, 1));
    const p2 = enhancedPacket('BE', 0, 2_000_000n, bytesOf(9, 2));
    const file = Buffer.concat([head, p1, p2]);
    for (let cut = head.length; cut <= file.length; cut++) {
      const { items } = await readAll(file.subarray(0, cut), 5);
      const whole = (cut >= head.length + p1.length ? 1 : 0) + (cut === file.length ? 1 : 0);
      expect(packets(items)).toHaveLength(whole);
      const atBoundary = cut === head.length || cut === head.length + p1.length || cut === file.length;
      expect(notices(items).map((n) => n.code)).toEqual(atBoundary ? [] : ['truncated']);
    }
  });

  it('gives the same items whatever the chunking (one byte, random splits)', async () => {
    const file = Buffer.concat([
      sectionHeader('LE'),
      interfaceDescription('LE', 1, 0, { tsresol: 9 }),
      block('LE', 0x99, bytesOf(40, 1)),
      enhancedPacket('LE', 0, 1_000_000_000n, bytesOf(33, 2)),
      sectionHeader('BE'),
      interfaceDescription('BE', 1, 16),
      simplePacket('BE', 40, bytesOf(16, 3)),
    ]);
    const whole = comparable((await readAll(file)).items);
    expect(whole.length).toBeGreaterThan(2);
    expect(comparable((await readAll(file, 1)).items)).toEqual(whole);
    for (let round = 0; round < 20; round++) {
      const splits = Array.from({ length: 6 }, () => Math.floor(Math.random() * file.length));
      expect(comparable((await readAll(file, splits)).items)).toEqual(whole);
    }
  });
});
