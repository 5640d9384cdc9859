import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openCapture } from '../../src/capture/open-capture.js';
import { writePcapHeader, writePcapRecord } from '../../src/capture/pcap-writer.js';
import { CaptureFormatError, type CaptureItem } from '../../src/capture/types.js';
import { enhancedPacket, interfaceDescription, sectionHeader, simplePacket } from './pcapng-builder.js';
import { bytesOf, comparable, notices, packets, readAll, streamOf } from './helpers.js';
import { runs } from '../helpers/fuzz.js';

const options = { linkType: 1, snapLength: 65535 };
const samplePcap = Buffer.concat([
  writePcapHeader(options),
  ...[0, 1, 2, 3].map((i) => writePcapRecord({ ts: 1700000000 + i, data: bytesOf(50 + i * 10, i) }, options)),
]);
const samplePcapng = Buffer.concat([
  sectionHeader('LE'),
  interfaceDescription('LE', 1, 0, { tsresol: 9 }),
  enhancedPacket('LE', 0, 1_700_000_000_000_000_001n, bytesOf(40, 1)),
  simplePacket('LE', 20, bytesOf(20, 2)),
  enhancedPacket('LE', 0, 1_700_000_001_000_000_000n, bytesOf(41, 3)),
]);

const dir = mkdtempSync(join(tmpdir(), 'wsdump-capture-'));
function tempFile(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

async function formatError(source: string | Uint8Array): Promise<string> {
  const input = typeof source === 'string' ? source : streamOf(source);
  const err: unknown = await openCapture(input, { name: 'input.bin' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CaptureFormatError);
  const message = (err as Error).message;
  expect(message).not.toContain('\n');
  return message;
}

describe('openCapture: format detection', () => {
  it('detects pcap and pcapng by magic, whatever the file is called', async () => {
    const pcapNamedNg = tempFile('really-pcap.pcapng', samplePcap);
    const ngNamedPcap = tempFile('really-pcapng.pcap', samplePcapng);
    expect((await openCapture(pcapNamedNg)).info.format).toBe('pcap');
    expect((await openCapture(ngNamedPcap)).info.format).toBe('pcapng');
  });

  it('reads gzip-compressed pcap and pcapng transparently', async () => {
    for (const raw of [samplePcap, samplePcapng]) {
      const plain = await readAll(raw);
      const zipped = await readAll(gzipSync(raw), 13);
      expect(zipped.info).toEqual({ ...plain.info, gzip: true });
      expect(comparable(zipped.items)).toEqual(comparable(plain.items));
    }
  });

  it('reads a gzip file from disk (.pcap.gz as Wireshark ships them)', async () => {
    const path = tempFile('sample.pcap.gz', gzipSync(samplePcap));
    const capture = await openCapture(path);
    const items: CaptureItem[] = [];
    for await (const item of capture.items) items.push(item);
    expect(packets(items)).toHaveLength(4);
  });

  it('delivers the packets before the end of a cut gzip stream, then a notice', async () => {
    const big = Buffer.concat([
      writePcapHeader(options),
      ...Array.from({ length: 200 }, (_, i) => writePcapRecord({ ts: i, data: bytesOf(1000, i) }, options)),
    ]);
    const zipped = gzipSync(big, { level: 0 });
    const { items } = await readAll(zipped.subarray(0, Math.floor(zipped.length / 2)), 4096);
    const got = packets(items);
    expect(got.length).toBeGreaterThan(50);
    expect(got.length).toBeLessThan(200);
    expect(notices(items).map((n) => n.code)).toEqual(['truncated-gzip']);
  });

  it('says what an unknown file looks like, in one line naming the input', async () => {
    expect(await formatError(Buffer.from('<html><body>502 Bad Gateway</body></html>'))).toBe(
      'input.bin: not a pcap or pcapng file: it starts with 3c 68 74 6d (text?)',
    );
    expect(await formatError(Buffer.from('PK\x03\x04 and more bytes here', 'latin1'))).toContain('zip');
    expect(await formatError(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]))).toBe(
      'input.bin: not a pcap or pcapng file: it starts with 01 02 03 04',
    );
  });

  it('refuses empty, tiny and header-cut inputs', async () => {
    expect(await formatError(new Uint8Array(0))).toBe('input.bin: the input is empty');
    expect(await formatError(Buffer.from([0xd4, 0xc3]))).toContain('only 2 bytes');
    expect(await formatError(samplePcap.subarray(0, 20))).toContain('ends inside its 24-byte file header');
    expect(await formatError(samplePcapng.subarray(0, 10))).toContain('ends inside its section header');
    const badBom = Buffer.from(samplePcapng);
    badBom.writeUInt32LE(0x11223344, 8);
    expect(await formatError(badBom)).toContain('byte-order magic');
    expect(await formatError(gzipSync(Buffer.from('hello, not a capture')))).toContain('(decompressed)');
    expect(await formatError(Buffer.from([0x1f, 0x8b, 8, 0, 0xff, 0xff, 0xff, 0xff, 0, 3, 1, 2, 3]))).toContain(
      'gzip',
    );
  });

  it('refuses a pcap file header of another major version', async () => {
    const header = writePcapHeader(options);
    header.writeUInt16LE(1, 4);
    header.writeUInt16LE(0, 6);
    expect(await formatError(header)).toContain('unsupported version');
  });

  it('names the path of a missing file or a directory', async () => {
    const missing = join(dir, 'no-such.pcap');
    expect(await formatError(missing)).toBe(`${missing}: cannot open: no such file`);
    expect(await formatError(dir)).toBe(`${dir}: is a directory, not a capture file`);
    expect(await formatError(tempFile('empty.pcap', new Uint8Array(0)))).toContain('empty.pcap: the input is empty');
  });
});

describe('openCapture: streaming', () => {
  it('produces a packet before the input ends (tcpdump -U -w - | wsdump -)', async () => {
    const live = new PassThrough();
    live.write(writePcapHeader(options));
    live.write(writePcapRecord({ ts: 1700000000.5, data: bytesOf(60, 1) }, options));
    const capture = await openCapture(live, { name: '<stdin>' });
    const iterator = capture.items[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(live.writableEnded).toBe(false);
    expect(first.value).toMatchObject({ kind: 'packet', no: 1, ts: 1700000000.5 });

    live.write(writePcapRecord({ ts: 1700000001, data: bytesOf(10, 2) }, options));
    expect((await iterator.next()).value).toMatchObject({ kind: 'packet', no: 2 });
    live.end();
    expect((await iterator.next()).done).toBe(true);
  });

  it('does the same for pcapng', async () => {
    const live = new PassThrough();
    live.write(Buffer.concat([sectionHeader('LE'), interfaceDescription('LE', 1, 0)]));
    live.write(enhancedPacket('LE', 0, 1_000_000n, bytesOf(20, 1)));
    const capture = await openCapture(live);
    const first = await capture.items[Symbol.asyncIterator]().next();
    expect(live.writableEnded).toBe(false);
    expect(first.value).toMatchObject({ kind: 'packet', no: 1, ts: 1 });
    live.end();
  });

  it('leaves the source paused while the consumer does not pull (backpressure)', async () => {
    const record = writePcapRecord({ ts: 1, data: bytesOf(1000, 1) }, options);
    let pulled = 0;
    const source = new Readable({
      highWaterMark: 4096,
      read() {
        pulled++;
        this.push(pulled === 1 ? Buffer.concat([writePcapHeader(options), record]) : record);
        if (pulled === 100_000) this.push(null);
      },
    });
    const capture = await openCapture(source);
    const iterator = capture.items[Symbol.asyncIterator]();
    for (let i = 0; i < 10; i++) await iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pulled).toBeLessThan(50);
    await iterator.return?.();
    expect(source.destroyed).toBe(true);
  });

  it('keeps memory flat over a large capture', async () => {
    const record = writePcapRecord({ ts: 1, data: bytesOf(1500, 1) }, options);
    const total = 80_000; // about 120 MB through the reader
    let made = 0;
    const source = new Readable({
      read() {
        if (made === 0) this.push(writePcapHeader(options));
        const batch = Math.min(40, total - made);
        this.push(Buffer.concat(Array.from({ length: batch }, () => record)));
        made += batch;
        if (made === total) this.push(null);
      },
    });
    const used = (): number => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const baseline = used();
    const capture = await openCapture(source);
    let count = 0;
    let peak = 0;
    for await (const item of capture.items) {
      if (item.kind === 'packet' && ++count % 1000 === 0) peak = Math.max(peak, used() - baseline);
    }
    expect(count).toBe(total);
    // Whatever the garbage collector lets linger, it must be well under what went through.
    expect(peak).toBeLessThan(60e6);
  });
});

describe('openCapture: real captures', () => {
  // Expected values measured independently of this code: `tcpdump -r FILE -tt -n | wc -l`
  // and the first line's timestamp (tcpdump 4.99.3), and a few lines of python3 struct
  // walking the records; see fixtures/shared/SOURCES.md.
  const measured = [
    { file: 'suricata-websocket.pcap', count: 21, firstTs: 1699595270.342636, linkType: 1, snap: 65535 },
    { file: 'suricata-websocket-compressed.pcap', count: 27, firstTs: 1726767241.963952, linkType: 1, snap: 262144 },
    { file: 'suricata-websocket-control-frag.pcap', count: 15, firstTs: 1700000000, linkType: 1, snap: 65535 },
    { file: 'suricata-websocket-ping.pcap', count: 19, firstTs: 1394016340.965052, linkType: 113, snap: 65535 },
  ];
  for (const m of measured) {
    it(`reads ${m.file} as tcpdump does`, async () => {
      const capture = await openCapture(join('fixtures/shared', m.file));
      expect(capture.info).toEqual({ format: 'pcap', gzip: false, byteOrder: 'LE', snapLength: m.snap, linkType: m.linkType });
      const items: CaptureItem[] = [];
      for await (const item of capture.items) items.push(item);
      expect(notices(items)).toEqual([]);
      const got = packets(items);
      expect(got).toHaveLength(m.count);
      expect(got[0]?.ts).toBe(m.firstTs);
      expect(got.every((p) => p.linkType === m.linkType)).toBe(true);
    });
  }

  it('suricata-websocket.pcap: first frame is the 54-byte SYN, 2618 captured bytes in all', async () => {
    // Measured with python3 struct over the record headers.
    const capture = await openCapture('fixtures/shared/suricata-websocket.pcap');
    const got: number[] = [];
    for await (const item of capture.items) if (item.kind === 'packet') got.push(item.data.length);
    expect(got[0]).toBe(54);
    expect(got.reduce((a, b) => a + b, 0)).toBe(2618);
  });
});

describe('openCapture: never fails with anything but CaptureFormatError', () => {
  async function drain(bytes: Uint8Array, split: number[]): Promise<void> {
    try {
      const capture = await openCapture(streamOf(bytes, split));
      for await (const item of capture.items) void item;
    } catch (err) {
      if (!(err instanceof CaptureFormatError)) throw err;
    }
  }

  it('on random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(300)), drain),
      { numRuns: runs(300) },
    );
  });

  it('on random bytes behind a valid magic', async () => {
    const starts = [samplePcap.subarray(0, 24), samplePcapng.subarray(0, 12), Buffer.from([0x1f, 0x8b])];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...starts), fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(400)), (s, rest, split) =>
        drain(Buffer.concat([s, rest]), split),
      ),
      { numRuns: runs(300) },
    );
  });

  it('on mutated and cut valid captures (plain and gzip)', async () => {
    const originals = [samplePcap, samplePcapng, gzipSync(samplePcap), gzipSync(samplePcapng)];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...originals),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.option(fc.nat()),
        fc.array(fc.nat(600)),
        (original, mutations, cut, split) => {
          const bytes = Buffer.from(original);
          for (const [at, value] of mutations) bytes[at % bytes.length] = value;
          return drain(cut === null ? bytes : bytes.subarray(0, cut % (bytes.length + 1)), split);
        },
      ),
      { numRuns: runs(500) },
    );
  });
});
