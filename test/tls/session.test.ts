/**
 * The TLS layer over real streams (fixtures/tls): the same bytes fed whole, byte by byte and at
 * random splits give identical events; records lost to a capture gap are skipped and
 * decryption picks up again; damaged or random bytes never throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Direction } from '../../src/alerts.js';
import { openCapture } from '../../src/capture/index.js';
import { ConnectionDissector } from '../../src/engine/connection-dissector.js';
import type { DissectEvent } from '../../src/engine/events.js';
import { PacketDecoder } from '../../src/net/decode.js';
import { TcpReassembler } from '../../src/net/tcp-reassembler.js';
import { eventToJson } from '../../src/render/json.js';
import { TlsContext } from '../../src/tls/context.js';
import { TlsDissector } from '../../src/tls/dissector.js';
import type { KeyLog } from '../../src/tls/keylog.js';
import { plausibleHeader, RecordReader, type ReadRecord } from '../../src/tls/records.js';
import { looksLikeTls, looksLikeTlsMidstream } from '../../src/tls/sniff.js';
import type { StreamPosition } from '../../src/websocket/types.js';
import { fixtureKeyLog } from '../helpers/dissect.js';
import { runs } from '../helpers/fuzz.js';

type Piece = { type: 'data'; direction: Direction; bytes: Uint8Array; pos: StreamPosition } | { type: 'gap'; direction: Direction; size: number; pos: StreamPosition };

/** The reassembled streams of the first connection that carries data, in capture order. */
async function streams(path: string): Promise<Piece[]> {
  const capture = await openCapture(path);
  const decoder = new PacketDecoder();
  const reassembler = new TcpReassembler();
  const out: Piece[] = [];
  let conn: number | null = null;
  const take = (events: ReturnType<TcpReassembler['push']>) => {
    for (const e of events) if (e.type === 'data' && (conn ??= e.conn) === e.conn) out.push({ type: 'data', direction: e.direction, bytes: Uint8Array.from(e.bytes), pos: { packet: e.packet, ts: e.ts } });
  };
  for await (const batch of capture.batches) {
    for (const item of batch) {
      if (item.kind !== 'packet') continue;
      const d = decoder.decode(item.linkType, item.data, item.originalLength);
      if (d.kind === 'tcp') take(reassembler.push(d, item.no, item.ts));
    }
  }
  take(reassembler.finish());
  return out;
}

function dissectPieces(pieces: Piece[], keyLog: KeyLog | undefined): Record<string, any>[] {
  const tls = new TlsDissector(1, new ConnectionDissector(1), new TlsContext(keyLog));
  const events: DissectEvent[] = [];
  for (const p of pieces) events.push(...(p.type === 'data' ? tls.data(p.direction, p.bytes, p.pos) : tls.gap(p.direction, p.size, p.pos)));
  events.push(...tls.finish({}));
  return events.map((e) => eventToJson(e, { maxHexBytes: Infinity }));
}

/** Each data piece cut at the given offsets (relative, 0-1), keeping its position. */
function resplit(pieces: Piece[], cuts: (p: Piece, i: number) => number[]): Piece[] {
  return pieces.flatMap((p, i): Piece[] => {
    if (p.type !== 'data') return [p];
    const at = [...new Set(cuts(p, i).map((f) => Math.floor(f * p.bytes.length)))].filter((n) => n > 0 && n < p.bytes.length).sort((a, b) => a - b);
    const bounds = [0, ...at, p.bytes.length];
    return bounds.slice(1).map((end, k) => ({ ...p, bytes: p.bytes.subarray(bounds[k], end) }));
  });
}

const FIXTURES = ['fixtures/tls/tls13-aes128gcm.pcap', 'fixtures/tls/tls12-cbc.pcap', 'fixtures/tls/openssl-keyupdate.pcap', 'fixtures/tls/chromium-tls13.pcap'];

describe('the TLS layer on streams split anywhere', () => {
  it.each(FIXTURES)('%s: whole, byte by byte and at random splits give the same events', async (path) => {
    const pieces = await streams(path);
    const keyLog = fixtureKeyLog(path);
    const whole = dissectPieces(pieces, keyLog);
    expect(whole.filter((e) => e.type === 'frame').length).toBeGreaterThan(3);
    const size = (p: Piece) => (p.type === 'data' ? p.bytes.length : 0);
    expect(dissectPieces(resplit(pieces, (p) => Array.from({ length: size(p) }, (_, k) => k / size(p))), keyLog)).toEqual(whole);
    fc.assert(
      fc.property(fc.array(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }), { minLength: pieces.length, maxLength: pieces.length }), (cuts) => {
        expect(dissectPieces(resplit(pieces, (_, i) => cuts[i]!), keyLog)).toEqual(whole);
      }),
      { numRuns: runs(15) },
    );
  });
});

describe('bytes missing from the capture', () => {
  it('skips the records a gap took, says how many, and decrypts from the next one on', async () => {
    const path = 'fixtures/tls/tls13-aes128gcm.pcap';
    const pieces = await streams(path);
    const keyLog = fixtureKeyLog(path);
    const whole = dissectPieces(pieces, keyLog);
    const serverFrames = whole.filter((e) => e.type === 'frame' && e.from === 'server');
    // Drop the server's packet that carries its first data frame (the 101 is before it).
    const victim = pieces.findIndex((p) => p.type === 'data' && p.pos.packet === serverFrames[1]!.packet);
    const gapped: Piece[] = pieces.map((p, i) => (i === victim && p.type === 'data' ? { type: 'gap', direction: p.direction, size: p.bytes.length, pos: p.pos } : p));
    const events = dissectPieces(gapped, keyLog);
    const resync = events.filter((e) => e.type === 'alert' && e.code === 'tls.resync');
    expect(resync).toHaveLength(1);
    expect((resync[0]!.detail as { recordsLost: number }).recordsLost).toBeGreaterThanOrEqual(1);
    const after = events.filter((e) => e.type === 'frame' && e.from === 'server' && e.packet > serverFrames[1]!.packet);
    // Every server frame after the lost packet is still decoded, the close among them.
    expect(after.map((f) => f.opcode)).toEqual(serverFrames.filter((f) => f.packet > serverFrames[1]!.packet).map((f) => f.opcode));
    expect(events.some((e) => e.type === 'alert' && e.code === 'tcp.gap')).toBe(true);
  });
});

describe('damaged and random bytes', () => {
  it('a flipped bit in a record is reported at its packet and the records after it still decrypt', async () => {
    const path = 'fixtures/tls/tls13-aes128gcm.pcap';
    const pieces = await streams(path);
    const keyLog = fixtureKeyLog(path);
    const whole = dissectPieces(pieces, keyLog);
    const clientFrames = whole.filter((e) => e.type === 'frame' && e.from === 'client');
    const target = clientFrames[0]!.packet as number;
    const damaged = pieces.map((p): Piece => (p.type === 'data' && p.pos.packet === target ? { ...p, bytes: Uint8Array.from(p.bytes, (b, i) => (i === p.bytes.length - 3 ? b ^ 0x10 : b)) } : p));
    const events = dissectPieces(damaged, keyLog);
    const failed = events.filter((e) => e.type === 'alert' && e.code === 'tls.decrypt-failed');
    expect(failed.map((a) => [a.from, a.packet])).toEqual([['client', target]]);
    const later = events.filter((e) => e.type === 'frame' && e.from === 'client');
    expect(later.map((f) => f.packet)).toEqual(clientFrames.slice(1).map((f) => f.packet));
  });

  it('random bytes and mutated streams never throw', async () => {
    const pieces = await streams('fixtures/tls/tls12-cbc.pcap');
    const keyLog = fixtureKeyLog('fixtures/tls/tls12-cbc.pcap');
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 20 }), fc.uint8Array({ maxLength: 300 }), (flips, noise) => {
        const mutated = pieces.map((p, i) => {
          if (p.type !== 'data') return p;
          const bytes = Uint8Array.from(p.bytes);
          for (const [at, value] of flips) if (at % pieces.length === i) bytes[at % bytes.length] = value;
          return { ...p, bytes };
        });
        dissectPieces(mutated, keyLog);
        dissectPieces([{ type: 'data', direction: 'client', bytes: Uint8Array.of(0x16, 0x03, 0x01, ...noise), pos: {} }, { type: 'data', direction: 'server', bytes: noise, pos: {} }], keyLog);
      }),
      { numRuns: runs(60) },
    );
  });
});

describe('which connections are TLS', () => {
  it('a first segment that starts like a record header, and not HTTP, a WebSocket frame or nothing', () => {
    expect(looksLikeTls(Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00, 0x01))).toBe(true);
    expect(looksLikeTls(Uint8Array.of(0x17, 0x03, 0x03))).toBe(true);
    expect(looksLikeTls(Uint8Array.of(0x16))).toBe(true);
    expect(looksLikeTls(Buffer.from('GET / HTTP/1.1\r\n'))).toBe(false);
    expect(looksLikeTls(Uint8Array.of(0x81, 0x85, 0x37, 0xfa))).toBe(false);
    expect(looksLikeTls(Uint8Array.of(0x16, 0x03, 0x05, 0x00, 0x10))).toBe(false);
    expect(looksLikeTls(Uint8Array.of(0x16, 0x03, 0x03, 0xff, 0xff))).toBe(false);
    expect(looksLikeTls(new Uint8Array(0))).toBe(false);
  });

  it('from the middle: an application data record that ends where the bytes do or where another begins', () => {
    const tail = [0x9a, 0x17, 0x03, 0x01, 0x55];
    const rec = (n: number) => [0x17, 0x03, 0x03, n >> 8, n & 0xff, ...Array(n).fill(0x42)];
    expect(looksLikeTlsMidstream(Uint8Array.from([...tail, ...rec(20)]))).toBe(true);
    expect(looksLikeTlsMidstream(Uint8Array.from([...tail, ...rec(20), 0x17, 0x03, 0x03]))).toBe(true);
    expect(looksLikeTlsMidstream(Uint8Array.from([...tail, ...rec(20), 0x41]))).toBe(false);
    expect(looksLikeTlsMidstream(Buffer.from('HTTP/1.1 200 OK\r\n\r\nhello'))).toBe(false);
    expect(looksLikeTlsMidstream(Uint8Array.of(0x82, 0x05, 0x17, 0x03, 0x03, 0x00, 0x00))).toBe(true);
    expect(looksLikeTlsMidstream(Uint8Array.of(0x82, 0x06, 0x17, 0x03, 0x03, 0x00, 0x00, 0x00))).toBe(false);
  });
});

describe('the record reader', () => {
  const record = (type: number, body: number[]) => [type, 3, 3, body.length >> 8, body.length & 0xff, ...body];
  /** Records as they come out, copied (each is a view valid only during its callback). */
  const collector = (out: ReadRecord[]) => (r: ReadRecord) => out.push({ ...r, header: Uint8Array.from(r.header), fragment: Uint8Array.from(r.fragment) });

  it('gives records whole at any split, with where they began and ended', () => {
    const bytes = Uint8Array.from([...record(22, [1, 2, 3]), ...record(23, Array.from({ length: 300 }, (_, i) => i & 0xff)), ...record(21, [1, 0])]);
    for (let cut = 1; cut < bytes.length; cut++) {
      const reader = new RecordReader();
      const out: ReadRecord[] = [];
      expect(reader.push(bytes.subarray(0, cut), { packet: 1 }, collector(out))).toBeNull();
      expect(reader.push(bytes.subarray(cut), { packet: 2 }, collector(out))).toBeNull();
      expect(out.map((r) => [r.type, r.fragment.length, r.start.packet, r.end.packet])).toEqual([
        [22, 3, 1, cut >= 8 ? 1 : 2],
        [23, 300, cut > 8 ? 1 : 2, cut >= 313 ? 1 : 2],
        [21, 2, cut > 313 ? 1 : 2, 2],
      ]);
    }
  });

  it('stops at an impossible header, and says where', () => {
    const reader = new RecordReader();
    const out: ReadRecord[] = [];
    const error = reader.push(Uint8Array.from([...record(23, [9]), 0x47, 0x45, 0x54, 0x20, 0x2f]), { packet: 3 }, collector(out));
    expect(out).toHaveLength(1);
    expect(error).toMatchObject({ offset: 6, at: { packet: 3 } });
    expect(error!.reason).toMatch(/^bytes 47 45 54 20 2f are not a TLS record header/);
    expect(plausibleHeader(23, 3, 3, 16384 + 2048)).toBe(true);
    expect(plausibleHeader(23, 3, 3, 16384 + 2049)).toBe(false);
  });

  it('after a gap, finds the next application data record header', () => {
    const reader = new RecordReader();
    const out: ReadRecord[] = [];
    reader.push(Uint8Array.from(record(23, [1, 2, 3])).subarray(0, 4), { packet: 1 }, collector(out));
    reader.resync();
    reader.push(Uint8Array.from([0x17, 0x03, 0x03, 0xff, 0xff, 0x00, ...record(23, [7, 7])]), { packet: 2 }, collector(out));
    expect(out.map((r) => [...r.fragment])).toEqual([[7, 7]]);
  });

  it('a record spanning chunks is put together in a buffer that is reused: each is whole in its callback', () => {
    const a = Array.from({ length: 100 }, (_, i) => i);
    const b = Array.from({ length: 100 }, (_, i) => 255 - i);
    const bytes = Uint8Array.from([...record(23, a), ...record(23, b), ...record(23, a)]);
    const reader = new RecordReader();
    const out: ReadRecord[] = [];
    for (let at = 0; at < bytes.length; at += 30) reader.push(bytes.subarray(at, at + 30), {}, collector(out));
    expect(out.map((r) => [...r.fragment])).toEqual([a, b, a]);
  });
});
