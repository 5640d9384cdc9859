import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildPcapFile, PcapStreamWriter } from '../../src/capture/pcap-file-writer.js';
import { TcpConversationRecorder, type RecordedPacket } from '../../src/capture/tcp-recorder.js';
import { packets, readAll } from './helpers.js';

function sample(): RecordedPacket[] {
  const recorder = new TcpConversationRecorder({ client: { ip: '127.0.0.1', port: 40000 }, server: { ip: '127.0.0.1', port: 9000 } });
  return [
    ...recorder.open(1_700_000_000.25),
    ...recorder.data('client', new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'), 1_700_000_000.5),
    ...recorder.close('client', 1_700_000_001),
  ];
}

function collect(): { sink: PassThrough; bytes: () => Buffer } {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  return { sink, bytes: () => Buffer.concat(chunks) };
}

describe('buildPcapFile', () => {
  it('writes a little-endian microsecond Ethernet pcap that our reader reads back', async () => {
    const recorded = sample();
    const file = buildPcapFile(recorded);
    expect(file.readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect(file.readUInt32LE(20)).toBe(1);
    const { info, items } = await readAll(file);
    expect(info).toMatchObject({ format: 'pcap', byteOrder: 'LE', linkType: 1 });
    const read = packets(items);
    expect(read.map((p) => p.no)).toEqual(recorded.map((_, i) => i + 1));
    expect(read.map((p) => p.ts)).toEqual(recorded.map((p) => p.ts));
    read.forEach((p, i) => expect(Buffer.from(p.data).equals(Buffer.from(recorded[i]!.data))).toBe(true));
  });
});

describe('PcapStreamWriter', () => {
  it('streams the same bytes as buildPcapFile and counts packets', async () => {
    const recorded = sample();
    const { sink, bytes } = collect();
    const writer = new PcapStreamWriter(sink);
    writer.write(recorded.slice(0, 2));
    writer.write(recorded[2]!);
    writer.write(recorded.slice(3));
    expect(writer.packets).toBe(recorded.length);
    await writer.end();
    expect(bytes().equals(buildPcapFile(recorded))).toBe(true);
  });

  it('leaves a readable file after every write (a killed proxy loses nothing already written)', async () => {
    const recorded = sample();
    const { sink, bytes } = collect();
    const writer = new PcapStreamWriter(sink);
    for (let i = 0; i < recorded.length; i++) {
      writer.write(recorded[i]!);
      await new Promise((resolve) => setImmediate(resolve));
      const { items } = await readAll(bytes());
      expect(packets(items)).toHaveLength(i + 1);
      expect(items.filter((item) => item.kind === 'notice')).toEqual([]);
    }
  });

  it('reports backpressure and waits for the sink to drain', async () => {
    const written: Buffer[] = [];
    let release: (() => void) | undefined;
    const slow = new Writable({
      highWaterMark: 64,
      write(chunk: Buffer, _encoding, callback) {
        written.push(chunk);
        release = callback;
      },
    });
    const writer = new PcapStreamWriter(slow);
    expect(writer.write(sample())).toBe(false);
    let drained = false;
    const waiting = writer.drained().then(() => {
      drained = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(drained).toBe(false);
    while (release !== undefined) {
      const next = release;
      release = undefined;
      next();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waiting;
    expect(drained).toBe(true);
    await expect(writer.drained()).resolves.toBeUndefined();
  });

  it('keeps a sink error away from the caller until drained() or end()', async () => {
    const failing = new Writable({
      write(_chunk, _encoding, callback) {
        callback(new Error('disk full'));
      },
    });
    const writer = new PcapStreamWriter(failing);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writer.error?.message).toBe('disk full');
    expect(() => writer.write(sample())).not.toThrow();
    await expect(writer.drained()).rejects.toThrow('disk full');
    await expect(writer.end()).rejects.toThrow('disk full');
  });
});
