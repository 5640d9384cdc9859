import { describe, expect, it } from 'vitest';
import { writePcapHeader, writePcapRecord } from '../../src/capture/pcap-writer.js';
import { bytesOf, packets, readAll } from './helpers.js';

describe('pcap writer', () => {
  it('writes the little-endian microsecond header of draft-ietf-opsawg-pcap §4', () => {
    expect(writePcapHeader({ linkType: 1, snapLength: 65535 }).toString('hex')).toBe(
      'd4c3b2a1' + '0200' + '0400' + '00000000' + '00000000' + 'ffff0000' + '01000000',
    );
    expect(writePcapHeader({ linkType: 101, nanosecond: true }).subarray(0, 4).toString('hex')).toBe('4d3cb2a1');
    expect(writePcapHeader({ linkType: 1, byteOrder: 'BE' }).subarray(0, 4).toString('hex')).toBe('a1b2c3d4');
  });

  it('writes records: seconds, fraction, captured and original length, data', () => {
    const record = writePcapRecord({ ts: 1700000000.25, data: Uint8Array.of(1, 2, 3) }, { linkType: 1 });
    expect(record.toString('hex')).toBe('00f15365' + '90d00300' + '03000000' + '03000000' + '010203');
  });

  it('carries a fraction that rounds up to a whole second', () => {
    const record = writePcapRecord({ ts: 9.9999999, data: new Uint8Array(0) }, { linkType: 1 });
    expect([record.readUInt32LE(0), record.readUInt32LE(4)]).toEqual([10, 0]);
  });

  it('cuts packets to the snap length and keeps the original length', async () => {
    const options = { linkType: 1, snapLength: 10 };
    const file = Buffer.concat([
      writePcapHeader(options),
      writePcapRecord({ ts: 1, data: bytesOf(25, 1) }, options),
      writePcapRecord({ ts: 2, data: bytesOf(5, 2), originalLength: 1500 }, options),
    ]);
    const got = packets((await readAll(file)).items);
    expect(got.map((p) => [p.data.length, p.originalLength])).toEqual([
      [10, 25],
      [5, 1500],
    ]);
    expect([...got[0]!.data]).toEqual([...bytesOf(10, 1)]);
  });

  it('round-trips nanosecond timestamps given as seconds and fraction', async () => {
    const options = { linkType: 1, nanosecond: true };
    const file = Buffer.concat([
      writePcapHeader(options),
      writePcapRecord({ ts: { seconds: 1700000000, fraction: 1 }, data: bytesOf(3, 1) }, options),
    ]);
    const { info, items } = await readAll(file);
    expect(info.format).toBe('pcap-ns');
    expect(packets(items)[0]?.ts).toBe(1700000000 + 1e-9);
  });
});
