import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Direction } from '../../src/alerts.js';
import { encodeFrame, type FrameSpec } from '../../src/websocket/frame-encoder.js';
import { FrameParser, type FrameParserOptions } from '../../src/websocket/frame-parser.js';
import type { Frame, StreamPosition } from '../../src/websocket/types.js';
import { runs } from '../helpers/fuzz.js';
import { collected } from '../helpers/gc.js';

function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

function toHex(bytes: Uint8Array | null): string | null {
  return bytes === null ? null : Buffer.from(bytes).toString('hex');
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** Split `bytes` at the given cut points (any order, duplicates allowed). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const to of [...points, bytes.length]) {
    pieces.push(bytes.subarray(from, to));
    from = to;
  }
  return pieces;
}

function parseChunks(chunks: Uint8Array[], options: FrameParserOptions = { direction: 'server' }, finish = true): Frame[] {
  const parser = new FrameParser(options);
  const frames: Frame[] = [];
  for (const c of chunks) frames.push(...parser.push(c));
  if (finish) frames.push(...parser.end());
  return frames;
}

function byteByByte(bytes: Uint8Array): Uint8Array[] {
  return Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
}

/** Parse whole, byte by byte and at pseudo-random split points; all three must agree. */
function parseAllWays(bytes: Uint8Array, options: FrameParserOptions = { direction: 'server' }): Frame[] {
  const whole = parseChunks([bytes], options);
  expect(parseChunks(byteByByte(bytes), options)).toEqual(whole);
  let seed = bytes.length * 7919 + 13;
  const cuts = Array.from({ length: 5 }, () => (seed = (seed * 1103515245 + 12345) % 2147483648));
  expect(parseChunks(split(bytes, cuts), options)).toEqual(whole);
  return whole;
}

/** The fields of a frame that do not depend on positions, for field-by-field checks. */
function fields(f: Frame) {
  return {
    direction: f.direction,
    offset: f.offset,
    fin: f.fin,
    rsv1: f.rsv1,
    rsv2: f.rsv2,
    rsv3: f.rsv3,
    opcode: f.opcode,
    opcodeName: f.opcodeName,
    masked: f.masked,
    maskingKey: toHex(f.maskingKey),
    payloadLength: f.payloadLength,
    lengthEncoding: f.lengthEncoding,
    headerLength: f.headerLength,
    header: toHex(f.header),
    payload: toHex(f.payload),
    data: toHex(f.data),
    truncated: f.truncated,
    incomplete: f.incomplete,
    alerts: f.alerts.map((a) => a.code),
  };
}

const codes = (f: Frame): string[] => f.alerts.map((a) => a.code);

describe('FrameParser: RFC 6455 §5.7 examples', () => {
  it('single-frame unmasked text "Hello"', () => {
    const frames = parseAllWays(hex('81 05 48 65 6c 6c 6f'));
    expect(frames.map(fields)).toEqual([
      {
        direction: 'server',
        offset: 0,
        fin: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: 1,
        opcodeName: 'text',
        masked: false,
        maskingKey: null,
        payloadLength: 5,
        lengthEncoding: 7,
        headerLength: 2,
        header: '8105',
        payload: '48656c6c6f',
        data: '48656c6c6f',
        truncated: false,
        incomplete: false,
        alerts: [],
      },
    ]);
  });

  it('single-frame masked text "Hello": payload as sent, data unmasked', () => {
    const frames = parseAllWays(hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), { direction: 'client' });
    expect(frames.map(fields)).toEqual([
      {
        direction: 'client',
        offset: 0,
        fin: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: 1,
        opcodeName: 'text',
        masked: true,
        maskingKey: '37fa213d',
        payloadLength: 5,
        lengthEncoding: 7,
        headerLength: 6,
        header: '818537fa213d',
        payload: '7f9f4d5158',
        data: '48656c6c6f',
        truncated: false,
        incomplete: false,
        alerts: [],
      },
    ]);
    expect(new TextDecoder().decode(frames[0]!.data)).toBe('Hello');
  });

  it('fragmented unmasked text "Hel" + "lo"', () => {
    const frames = parseAllWays(hex('01 03 48 65 6c  80 02 6c 6f'));
    expect(frames.map((f) => [f.offset, f.fin, f.opcode, f.opcodeName, f.payloadLength, f.headerLength, toHex(f.header), toHex(f.data)])).toEqual([
      [0, false, 1, 'text', 3, 2, '0103', '48656c'],
      [5, true, 0, 'continuation', 2, 2, '8002', '6c6f'],
    ]);
    expect(frames.every((f) => !f.masked && f.maskingKey === null && f.alerts.length === 0)).toBe(true);
  });

  it('unmasked ping and masked pong', () => {
    const ping = parseAllWays(hex('89 05 48 65 6c 6c 6f'));
    expect(fields(ping[0]!)).toMatchObject({ opcode: 9, opcodeName: 'ping', fin: true, masked: false, payloadLength: 5, data: '48656c6c6f' });
    const pong = parseAllWays(hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'), { direction: 'client' });
    expect(fields(pong[0]!)).toMatchObject({
      opcode: 0xa,
      opcodeName: 'pong',
      fin: true,
      masked: true,
      maskingKey: '37fa213d',
      headerLength: 6,
      payload: '7f9f4d5158',
      data: '48656c6c6f',
    });
  });

  it('256 bytes binary with a 16-bit length (0x82 0x7E 0x0100)', () => {
    const body = Uint8Array.from({ length: 256 }, (_, i) => (i * 31) & 0xff);
    const frames = parseAllWays(concat(hex('82 7e 01 00'), body));
    expect(frames).toHaveLength(1);
    const f = frames[0]!;
    expect(fields(f)).toMatchObject({ opcode: 2, opcodeName: 'binary', fin: true, payloadLength: 256, lengthEncoding: 16, headerLength: 4, header: '827e0100', truncated: false, alerts: [] });
    expect(f.data).toEqual(body);
    expect(f.payload).toEqual(body);
  });

  it('64 KiB binary with a 64-bit length (0x82 0x7F 0x0000000000010000)', () => {
    const body = Uint8Array.from({ length: 65536 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
    const bytes = concat(hex('82 7f 00 00 00 00 00 01 00 00'), body);
    const frames = parseChunks([bytes]);
    expect(frames).toHaveLength(1);
    const f = frames[0]!;
    expect(fields(f)).toMatchObject({ opcode: 2, payloadLength: 65536, lengthEncoding: 64, headerLength: 10, header: '827f0000000000010000', truncated: false, incomplete: false, alerts: [] });
    expect(f.data).toEqual(body);
    expect(parseChunks(split(bytes, [1, 5, 9, 10, 11, 4000, 65000]))).toEqual(frames);
    // Byte by byte over 64 KiB: the copy-when-spanning path must produce the same payload.
    expect(parseChunks(byteByByte(bytes))).toEqual(frames);
  });
});

describe('FrameParser: views, copies and positions', () => {
  it('hands out a view for an unmasked payload inside one chunk, and a new buffer for unmasked data of a masked one', () => {
    const unmasked = hex('81 05 48 65 6c 6c 6f');
    const [f] = new FrameParser({ direction: 'server' }).push(unmasked);
    expect(f!.payload.buffer).toBe(unmasked.buffer);
    expect(f!.data).toBe(f!.payload);
    const masked = hex('81 85 37 fa 21 3d 7f 9f 4d 51 58');
    const [g] = new FrameParser({ direction: 'client' }).push(masked);
    expect(g!.payload.buffer).toBe(masked.buffer);
    expect(g!.data.buffer).not.toBe(masked.buffer);
    // The header is a copy: later changes by the caller do not reach it.
    expect(g!.header.buffer).not.toBe(masked.buffer);
  });

  it('never modifies input chunks (masked frames, any split)', () => {
    fc.assert(
      fc.property(fc.array(frameSpec(true), { minLength: 1, maxLength: 5 }), fc.array(fc.nat(2000), { maxLength: 8 }), (specs, cuts) => {
        const bytes = concat(...specs.map(encodeFrame));
        const chunks = split(bytes, cuts);
        const before = chunks.map((c) => Uint8Array.from(c));
        const frames = parseChunks(chunks, { direction: 'client' });
        expect(chunks).toEqual(before);
        expect(frames).toHaveLength(specs.length);
      }),
    );
  });

  it('reports the position of the header\'s first byte and of the frame\'s last byte', () => {
    const parser = new FrameParser({ direction: 'server' });
    const a = encodeFrame({ opcode: 1, payload: 'abcdef' });
    const b = encodeFrame({ opcode: 2, payload: new Uint8Array(300) });
    const bytes = concat(a, b);
    const frames: Frame[] = [];
    // Packet 1: all of A and the first byte of B's header; packet 2: the rest of B's header and
    // some payload; packet 3: the rest.
    frames.push(...parser.push(bytes.subarray(0, 9), { packet: 1, ts: 1.5 }));
    frames.push(...parser.push(bytes.subarray(9, 20), { packet: 2, ts: 2.5 }));
    expect(frames).toHaveLength(1);
    frames.push(...parser.push(bytes.subarray(20), { packet: 3, ts: 3.5 }));
    expect(frames.map((f) => [f.offset, f.start, f.end])).toEqual([
      [0, { packet: 1, ts: 1.5 }, { packet: 1, ts: 1.5 }],
      [8, { packet: 1, ts: 1.5 }, { packet: 3, ts: 3.5 }],
    ]);
    expect(parser.offset).toBe(bytes.length);
    expect(frames[1]!.data).toEqual(new Uint8Array(300));
  });

  it('ends an empty-payload frame at the packet of its last header byte', () => {
    const parser = new FrameParser({ direction: 'client' });
    expect(parser.push(hex('89 80 01 02'), { packet: 4 })).toEqual([]);
    const [f] = parser.push(hex('03 04 81'), { packet: 5 });
    expect(f).toMatchObject({ offset: 0, payloadLength: 0, start: { packet: 4 }, end: { packet: 5 } });
    expect(toHex(f!.maskingKey)).toBe('01020304');
    expect(f!.data).toEqual(new Uint8Array(0));
  });
});

/** Arbitrary frame specs, valid or not, that the encoder can build. */
function frameSpec(masked?: boolean): fc.Arbitrary<FrameSpec> {
  return fc
    .record({
      opcode: fc.integer({ min: 0, max: 15 }),
      fin: fc.boolean(),
      rsv1: fc.boolean(),
      rsv2: fc.boolean(),
      rsv3: fc.boolean(),
      key: masked === undefined ? fc.option(fc.uint8Array({ minLength: 4, maxLength: 4 })) : masked ? fc.uint8Array({ minLength: 4, maxLength: 4 }) : fc.constant(null),
      payload: fc.oneof({ weight: 4, arbitrary: fc.uint8Array({ maxLength: 140 }) }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 126, maxLength: 700 }) }),
      encoding: fc.constantFrom<(7 | 16 | 64 | undefined)[]>(undefined, undefined, 16, 64),
    })
    .map(({ opcode, fin, rsv1, rsv2, rsv3, key, payload, encoding }) => {
      const spec: FrameSpec = { opcode, fin, rsv1, rsv2, rsv3, payload, maskingKey: key };
      if (encoding !== undefined && !(encoding === 7 && payload.length > 125)) spec.lengthEncoding = encoding;
      return spec;
    });
}

describe('FrameParser: properties', () => {
  it('parses the same stream identically whole, byte by byte and at random split points', () => {
    fc.assert(
      fc.property(
        fc.array(frameSpec(), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(5000), { maxLength: 12 }),
        fc.constantFrom<Direction[]>('client', 'server'),
        (specs, cuts, direction) => {
          const bytes = concat(...specs.map(encodeFrame));
          const whole = parseChunks([bytes], { direction });
          expect(whole).toHaveLength(specs.length);
          expect(parseChunks(byteByByte(bytes), { direction })).toEqual(whole);
          expect(parseChunks(split(bytes, cuts), { direction })).toEqual(whole);
        },
      ),
      { numRuns: runs(150) },
    );
  });

  it('round-trips: encode(spec) then parse gives back every field of the spec', () => {
    fc.assert(
      fc.property(fc.array(frameSpec(), { minLength: 1, maxLength: 4 }), fc.array(fc.nat(3000), { maxLength: 6 }), (specs, cuts) => {
        const encoded = specs.map(encodeFrame);
        const frames = parseChunks(split(concat(...encoded), cuts));
        expect(frames).toHaveLength(specs.length);
        let offset = 0;
        specs.forEach((spec, i) => {
          const f = frames[i]!;
          const payload = spec.payload as Uint8Array;
          const key = spec.maskingKey ?? null;
          const encoding = spec.lengthEncoding ?? (payload.length <= 125 ? 7 : payload.length <= 0xffff ? 16 : 64);
          expect(f.offset).toBe(offset);
          expect(f.fin).toBe(spec.fin);
          expect([f.rsv1, f.rsv2, f.rsv3]).toEqual([spec.rsv1, spec.rsv2, spec.rsv3]);
          expect(f.opcode).toBe(spec.opcode);
          expect(f.masked).toBe(key !== null);
          expect(f.maskingKey).toEqual(key);
          expect(f.payloadLength).toBe(payload.length);
          expect(f.lengthEncoding).toBe(encoding);
          expect(f.headerLength).toBe(2 + (encoding === 7 ? 0 : encoding === 16 ? 2 : 8) + (key !== null ? 4 : 0));
          expect(f.header).toEqual(encoded[i]!.subarray(0, f.headerLength));
          expect(f.payload).toEqual(encoded[i]!.subarray(f.headerLength));
          expect(f.data).toEqual(payload);
          expect(f.truncated || f.incomplete).toBe(false);
          expect(f.alerts).toEqual([]);
          offset += encoded[i]!.length;
        });
      }),
    );
  });

  it('never throws on random bytes, gaps and splits, and keeps offsets consistent', () => {
    const event = fc.oneof(
      { weight: 5, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ bytes })) },
      { weight: 2, arbitrary: fc.array(frameSpec(), { maxLength: 3 }).map((specs) => ({ bytes: concat(...specs.map(encodeFrame)) })) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 400 }).map((gap) => ({ gap })) },
    );
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 12 }),
        fc.constantFrom<Direction[]>('client', 'server'),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 300 }),
        (events, direction, allowedRsv, maxFramePayload) => {
          const parser = new FrameParser({ direction, allowedRsv, limits: { maxFramePayload } });
          const frames: Frame[] = [];
          let total = 0;
          for (const e of events) {
            if ('gap' in e) {
              frames.push(...parser.gap(e.gap));
              total += e.gap;
            } else {
              frames.push(...parser.push(e.bytes));
              total += e.bytes.length;
            }
            expect(parser.offset).toBe(total);
          }
          frames.push(...parser.end());
          let next = 0;
          for (const f of frames) {
            expect(f.offset).toBeGreaterThanOrEqual(next);
            expect(f.payload.length).toBeLessThanOrEqual(Math.min(f.payloadLength, maxFramePayload));
            expect(f.data.length).toBe(f.payload.length);
            next = f.offset + f.headerLength + (Number.isSafeInteger(f.payloadLength) ? f.payloadLength : 0);
            expect(next).toBeLessThanOrEqual(f.incomplete || f.truncated ? Infinity : total);
          }
        },
      ),
      { numRuns: runs(300) },
    );
  });

  it('resynchronises at the same offset however the bytes around a gap are split', () => {
    fc.assert(
      fc.property(
        fc.array(frameSpec(false), { minLength: 2, maxLength: 8 }),
        fc.nat(),
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.nat(3000), { maxLength: 8 }),
        (specs, at, gapSize, cuts) => {
          const bytes = concat(...specs.map(encodeFrame));
          const cut = at % bytes.length;
          const before = bytes.subarray(0, cut);
          const after = bytes.subarray(Math.min(bytes.length, cut + gapSize));
          const run = (chunksBefore: Uint8Array[], chunksAfter: Uint8Array[]): Frame[] => {
            const parser = new FrameParser({ direction: 'server', allowedRsv: 7 });
            const frames: Frame[] = [];
            for (const c of chunksBefore) frames.push(...parser.push(c));
            frames.push(...parser.gap(gapSize));
            for (const c of chunksAfter) frames.push(...parser.push(c));
            frames.push(...parser.end());
            expect(parser.offset).toBe(cut + gapSize + after.length);
            return frames;
          };
          const whole = run([before], [after]);
          expect(run(byteByByte(before), byteByByte(after))).toEqual(whole);
          expect(run(split(before, cuts), split(after, cuts))).toEqual(whole);
        },
      ),
      { numRuns: runs(150) },
    );
  });
});

describe('FrameParser: impossible lengths', () => {
  it('reports a 2^63-1 length at once, allocates nothing, and loses framing', () => {
    const parser = new FrameParser({ direction: 'server' });
    const memBefore = process.memoryUsage().arrayBuffers;
    const frames = parser.push(hex('82 7f 7f ff ff ff ff ff ff ff'));
    expect(frames).toHaveLength(1);
    const f = frames[0]!;
    expect(fields(f)).toMatchObject({ opcode: 2, lengthEncoding: 64, headerLength: 10, header: '827f7fffffffffffffff', payload: '', data: '', truncated: true, incomplete: false });
    expect(f.payloadLength).toBe(2 ** 63);
    expect(codes(f)).toEqual(['frame.length-too-large']);
    expect(f.alerts[0]!.detail).toMatchObject({ declared: '9223372036854775807' });
    expect(parser.lost).toBe(true);
    // Bytes that follow are ignored while lost (0xff has RSV bits set: never a plausible header).
    const junk = new Uint8Array(1 << 20).fill(0xff);
    for (let i = 0; i < 16; i++) expect(parser.push(junk)).toEqual([]);
    expect(process.memoryUsage().arrayBuffers - memBefore).toBeLessThan(8 << 20);
    expect(parser.offset).toBe(10 + 16 * (1 << 20));
    expect(parser.end()).toEqual([]);
  });

  it('flags a 64-bit length with the most significant bit set, with its masking key', () => {
    const frames = parseAllWays(hex('82 ff 80 00 00 00 00 00 00 05 01 02 03 04'), { direction: 'client' });
    expect(frames).toHaveLength(1);
    expect(codes(frames[0]!)).toEqual(['frame.length-msb-set', 'frame.length-too-large']);
    expect(frames[0]!.alerts[0]!.detail).toMatchObject({ declared: (2n ** 63n + 5n).toString() });
    expect(toHex(frames[0]!.maskingKey)).toBe('01020304');
    expect(frames[0]!.truncated).toBe(true);
  });

  it('follows a length of exactly Number.MAX_SAFE_INTEGER, keeping only the limit', () => {
    const parser = new FrameParser({ direction: 'server', limits: { maxFramePayload: 1000 } });
    const header = encodeFrame({ opcode: 2, declaredLength: Number.MAX_SAFE_INTEGER });
    expect(parser.push(header)).toEqual([]);
    expect(parser.lost).toBe(false);
    for (let i = 0; i < 8; i++) expect(parser.push(new Uint8Array(1 << 20))).toEqual([]);
    const [f] = parser.end();
    expect(f!.payloadLength).toBe(Number.MAX_SAFE_INTEGER);
    expect(f!.payload.length).toBe(1000);
    expect(f).toMatchObject({ truncated: true, incomplete: true });
    expect(codes(f!)).toEqual(['frame.payload-truncated', 'frame.incomplete']);
    expect(f!.alerts[1]!.detail).toMatchObject({ missing: Number.MAX_SAFE_INTEGER - 8 * (1 << 20) });
  });

  it('resumes after an impossible length at the next plausible frame', () => {
    const next = encodeFrame({ opcode: 1, payload: 'after' });
    const bytes = concat(hex('82 7f 7f ff ff ff ff ff ff ff'), hex('ff ff ff'), next, encodeFrame({ opcode: 9 }));
    const frames = parseAllWays(bytes);
    expect(frames.map((f) => [f.offset, f.opcodeName, codes(f)])).toEqual([
      [0, 'binary', ['frame.length-too-large']],
      [13, 'text', ['frame.resync']],
      [13 + next.length, 'ping', []],
    ]);
    expect(frames[1]!.alerts[0]!.detail).toMatchObject({ skipped: 3, missing: 0, lostAt: 10 });
  });
});

describe('FrameParser: payload limit', () => {
  it('keeps the first maxFramePayload bytes, reports the full length, and parses on', () => {
    const key = hex('0a0b0c0d');
    const body = Uint8Array.from({ length: 100 }, (_, i) => i);
    const big = encodeFrame({ opcode: 2, payload: body, maskingKey: key });
    const after = encodeFrame({ opcode: 1, payload: 'next', maskingKey: key });
    const frames = parseAllWays(concat(big, after), { direction: 'client', limits: { maxFramePayload: 10 } });
    expect(frames).toHaveLength(2);
    const f = frames[0]!;
    expect(f.payloadLength).toBe(100);
    expect(f.data).toEqual(body.subarray(0, 10));
    expect(f.payload).toEqual(big.subarray(6, 16));
    expect(f.truncated).toBe(true);
    expect(f.incomplete).toBe(false);
    expect(codes(f)).toEqual(['frame.payload-truncated']);
    expect(f.alerts[0]!.detail).toMatchObject({ length: 100, limit: 10, kept: 10 });
    expect(frames[1]).toMatchObject({ offset: big.length, truncated: false, payloadLength: 4 });
    expect(new TextDecoder().decode(frames[1]!.data)).toBe('next');
  });

  it('does not truncate a payload of exactly the limit', () => {
    const frames = parseAllWays(encodeFrame({ opcode: 2, payload: new Uint8Array(10).fill(3) }), { direction: 'server', limits: { maxFramePayload: 10 } });
    expect(frames[0]).toMatchObject({ truncated: false, alerts: [] });
  });

  it('skips the bytes over the limit instead of buffering them', () => {
    const parser = new FrameParser({ direction: 'server', limits: { maxFramePayload: 4096 } });
    const size = 32 << 20;
    const chunk = new Uint8Array(1 << 20).fill(0x41);
    expect(parser.push(encodeFrame({ opcode: 2, declaredLength: size }))).toEqual([]);
    const memBefore = process.memoryUsage().arrayBuffers;
    const frames: Frame[] = [];
    // The same chunk object every time: retained views of it would cost nothing, copies would.
    for (let i = 0; i < 32; i++) frames.push(...parser.push(chunk.slice(0)));
    expect(process.memoryUsage().arrayBuffers - memBefore).toBeLessThan(40 << 20);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.payload.length).toBe(4096);
    expect(frames[0]!.payloadLength).toBe(size);
  });
});

describe('FrameParser: memory follows the bytes that arrive', () => {
  it('does not allocate what a header declares before the bytes come (1 MiB declared, 1 byte sent)', () => {
    const parsers = Array.from({ length: 200 }, () => new FrameParser({ direction: 'server' }));
    const before = process.memoryUsage().arrayBuffers;
    for (const parser of parsers) {
      expect(parser.push(encodeFrame({ opcode: 2, declaredLength: 1 << 20 }))).toEqual([]);
      expect(parser.push(Uint8Array.of(0x78))).toEqual([]);
    }
    // One MiB each would be 200 MiB.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 << 20);
    // The payload still comes out whole when it does arrive, however it is split (through 6 growths of its buffer).
    const body = Uint8Array.from({ length: 40_000 }, (_, i) => i * 7);
    const frames = parseAllWays(encodeFrame({ opcode: 2, payload: body }), { direction: 'server' });
    expect(frames[0]!.data).toEqual(body);
  });

  it('keeps no view of a read chunk while a frame is unfinished', async () => {
    const parser = new FrameParser({ direction: 'server', limits: { maxFramePayload: 10 } });
    // A 256 KiB read chunk ending with the header and first bytes of a frame declared long.
    let chunk: Uint8Array | null = new Uint8Array(256 * 1024);
    const head = concat(encodeFrame({ opcode: 2, declaredLength: 1000 }), new Uint8Array(20).fill(7));
    const start = chunk.length - head.length - 2;
    chunk.set(encodeFrame({ opcode: 2, payload: new Uint8Array(0) }), start - 2);
    chunk.set(head, start);
    parser.push(chunk.subarray(start - 2, start + head.length));
    const ref = new WeakRef(chunk.buffer);
    chunk = null;
    expect(await collected(ref)).toBe(true);
    const [frame] = parser.push(new Uint8Array(980).fill(7));
    expect(frame).toMatchObject({ payloadLength: 1000, truncated: true });
    expect([...frame!.data]).toEqual(new Array(10).fill(7));
  });
});

describe('FrameParser: end of stream', () => {
  it('returns the frame in progress with incomplete=true and how many bytes were missing', () => {
    const key = hex('11223344');
    const bytes = encodeFrame({ opcode: 1, payload: 'Hello, world', maskingKey: key });
    const cut = bytes.subarray(0, 6 + 4);
    for (const chunks of [[cut], byteByByte(cut)]) {
      const frames = parseChunks(chunks, { direction: 'client' });
      expect(frames).toHaveLength(1);
      const f = frames[0]!;
      expect(f).toMatchObject({ incomplete: true, truncated: true, payloadLength: 12 });
      expect(new TextDecoder().decode(f.data)).toBe('Hell');
      expect(codes(f)).toEqual(['frame.incomplete']);
      expect(f.alerts[0]!.detail).toEqual({ missing: 8 });
      expect(f.alerts[0]!.message).toContain('8 bytes');
    }
  });

  it('returns a frame cut inside its masking key, without the key', () => {
    const frames = parseChunks([hex('81 85 37 fa')], { direction: 'client' });
    expect(frames).toHaveLength(1);
    expect(fields(frames[0]!)).toMatchObject({ masked: true, maskingKey: null, header: '818537fa', headerLength: 6, payloadLength: 5, incomplete: true, truncated: true });
    expect(frames[0]!.alerts[0]!.detail).toEqual({ missing: 7 });
  });

  it('returns a header-only frame with no payload bytes as incomplete', () => {
    const frames = parseChunks([hex('82 7e 01 00')]);
    expect(frames[0]).toMatchObject({ payloadLength: 256, incomplete: true, truncated: true });
    expect(frames[0]!.alerts[0]!.detail).toEqual({ missing: 256 });
  });

  it('returns nothing when the stream ends before the payload length is known', () => {
    expect(parseChunks([hex('81')])).toEqual([]);
    expect(parseChunks([hex('82 7e 01')])).toEqual([]);
    expect(parseChunks([hex('82 7f 00 00 00 00')])).toEqual([]);
  });

  it('returns a complete zero-length frame at end without the incomplete flag', () => {
    const frames = parseChunks([hex('8a 00')]);
    expect(frames[0]).toMatchObject({ incomplete: false, truncated: false, payloadLength: 0 });
  });

  it('ignores input after end()', () => {
    const parser = new FrameParser({ direction: 'server' });
    expect(parser.end()).toEqual([]);
    expect(parser.push(hex('81 00'))).toEqual([]);
    expect(parser.gap(3)).toEqual([]);
    expect(parser.end()).toEqual([]);
  });
});

describe('FrameParser: gaps and resynchronisation', () => {
  const a = encodeFrame({ opcode: 1, payload: 'first frame' });
  const b = encodeFrame({ opcode: 2, payload: new Uint8Array(20).fill(0xff) });
  const c = encodeFrame({ opcode: 1, payload: 'third' });
  const d = encodeFrame({ opcode: 9, payload: 'ping' });

  it('keeps framing across a gap inside a payload; the kept payload stops at the gap', () => {
    const parser = new FrameParser({ direction: 'server' });
    const frames: Frame[] = [];
    frames.push(...parser.push(concat(a, b.subarray(0, 7)), { packet: 1 }));
    frames.push(...parser.gap(10, { packet: 2 }));
    expect(parser.lost).toBe(false);
    frames.push(...parser.push(concat(b.subarray(17), c), { packet: 3 }));
    expect(frames.map((f) => [f.offset, f.opcodeName])).toEqual([
      [0, 'text'],
      [a.length, 'binary'],
      [a.length + b.length, 'text'],
    ]);
    const fb = frames[1]!;
    expect(fb).toMatchObject({ payloadLength: 20, truncated: true, incomplete: false, start: { packet: 1 }, end: { packet: 3 } });
    expect(fb.payload).toEqual(new Uint8Array(5).fill(0xff));
    expect(codes(fb)).toEqual(['frame.payload-truncated']);
    expect(fb.alerts[0]!.message).toContain('not captured');
    expect(fb.alerts[0]!.detail).toMatchObject({ missing: 10, gapAt: a.length + 7, kept: 5 });
    expect(codes(frames[2]!)).toEqual([]);
    expect(parser.offset).toBe(a.length + b.length + c.length);
  });

  it('completes a frame whose last payload bytes are exactly the gap', () => {
    const parser = new FrameParser({ direction: 'server' });
    expect(parser.push(b.subarray(0, 12))).toEqual([]);
    const frames = parser.gap(10, { packet: 9 });
    expect(frames).toHaveLength(1);
    expect(frames[0]).toMatchObject({ payloadLength: 20, truncated: true, end: { packet: 9 } });
    expect(parser.lost).toBe(false);
    expect(parser.push(c).map((f) => f.offset)).toEqual([b.length]);
  });

  it('loses framing when a gap runs past the payload into the next header, then resyncs', () => {
    const parser = new FrameParser({ direction: 'server' });
    const frames: Frame[] = [];
    frames.push(...parser.push(b.subarray(0, 12)));
    frames.push(...parser.gap(b.length - 12 + 3)); // the rest of B and 3 bytes of C
    expect(parser.lost).toBe(true);
    frames.push(...parser.push(concat(c.subarray(3), d)));
    frames.push(...parser.end());
    expect(frames.map((f) => [f.offset, f.opcodeName, codes(f)])).toEqual([
      [0, 'binary', ['frame.payload-truncated']],
      [b.length + c.length, 'ping', ['frame.resync']],
    ]);
    expect(frames[1]!.alerts[0]!.detail).toEqual({ skipped: c.length, missing: 3, lostAt: b.length });
  });

  it('loses framing on a gap inside a header and resynchronises at the next plausible frame', () => {
    const e = encodeFrame({ opcode: 2, payload: Uint8Array.from([1, 2, 3]) });
    const stream = concat(a, b, c, d, e);
    const gapFrom = a.length + 1; // B's first header byte was captured, then 8 bytes are missing
    const gapSize = 8;
    const run = (chunks: Uint8Array[]): { frames: Frame[]; parser: FrameParser } => {
      const parser = new FrameParser({ direction: 'server' });
      const frames: Frame[] = [];
      frames.push(...parser.push(stream.subarray(0, gapFrom)));
      frames.push(...parser.gap(gapSize));
      expect(parser.lost).toBe(true);
      for (const chunk of chunks) frames.push(...parser.push(chunk));
      return { frames, parser };
    };
    const rest = stream.subarray(gapFrom + gapSize);
    const { frames, parser } = run([rest]);
    // The rest of B's payload is 0xff (RSV bits set: implausible), so the scan lands on C.
    const offC = a.length + b.length;
    expect(frames.map((f) => [f.offset, f.opcodeName, codes(f)])).toEqual([
      [0, 'text', []],
      [offC, 'text', ['frame.resync']],
      [offC + c.length, 'ping', []],
      [offC + c.length + d.length, 'binary', []],
    ]);
    const resync = frames[1]!.alerts[0]!;
    expect(resync.detail).toEqual({ skipped: offC - a.length, missing: gapSize, lostAt: a.length });
    expect(resync.offset).toBe(offC);
    expect(new TextDecoder().decode(frames[1]!.data)).toBe('third');
    expect(parser.lost).toBe(false);
    expect(parser.offset).toBe(stream.length);
    expect(run(byteByByte(rest)).frames).toEqual(frames);
  });

  it('confirms the last frame after a resync at the end of the stream', () => {
    const parser = new FrameParser({ direction: 'server' });
    parser.push(a.subarray(0, 1));
    parser.gap(a.length - 1);
    expect(parser.push(d)).toEqual([]); // waiting: is the byte after D a plausible header?
    const frames = parser.end();
    expect(frames.map((f) => [f.offset, f.opcodeName, codes(f)])).toEqual([[a.length, 'ping', ['frame.resync']]]);
  });

  it('loses framing on a gap exactly at a frame boundary', () => {
    const parser = new FrameParser({ direction: 'server' });
    expect(parser.push(a)).toHaveLength(1);
    parser.gap(b.length);
    expect(parser.lost).toBe(true);
    const frames = parser.push(concat(c, d));
    // C is confirmed by D's header; D then parses normally (framing is back).
    expect(frames.map((f) => [f.offset, codes(f)])).toEqual([
      [a.length + b.length, ['frame.resync']],
      [a.length + b.length + c.length, []],
    ]);
    expect(frames[0]!.alerts[0]!.detail).toMatchObject({ skipped: b.length, missing: b.length });
  });

  it('only resyncs on headers whose RSV bits a negotiated extension allows', () => {
    const compressed = encodeFrame({ opcode: 1, rsv1: true, payload: 'zz' });
    const tail = encodeFrame({ opcode: 0xa, payload: 'p' });
    const bytes = concat(compressed, tail);
    const strict = new FrameParser({ direction: 'server' });
    strict.gap(5);
    const strictFrames = [...strict.push(bytes), ...strict.end()];
    expect(strictFrames.map((f) => f.offset)).toEqual([5 + compressed.length]);
    const deflate = new FrameParser({ direction: 'server' });
    deflate.setAllowedRsv(4);
    deflate.gap(5);
    const deflateFrames = [...deflate.push(bytes), ...deflate.end()];
    expect(deflateFrames.map((f) => [f.offset, f.rsv1])).toEqual([
      [5, true],
      [5 + compressed.length, false],
    ]);
  });

  it('resyncs only on headers with the MASK bit of the direction', () => {
    const key = hex('01020304');
    const serverStyle = encodeFrame({ opcode: 1, payload: 'xx' });
    const clientFrame = encodeFrame({ opcode: 1, payload: 'yy', maskingKey: key });
    const parser = new FrameParser({ direction: 'client' });
    parser.gap(1);
    const frames = [...parser.push(concat(serverStyle, clientFrame)), ...parser.end()];
    expect(frames.map((f) => [f.offset, f.masked])).toEqual([[1 + serverStyle.length, true]]);
    expect(new TextDecoder().decode(frames[0]!.data)).toBe('yy');
  });

  it('does not resync on a non-minimal length or a long or fragmented control frame', () => {
    const junk = [
      encodeFrame({ opcode: 2, payload: 'abc', lengthEncoding: 16 }),
      encodeFrame({ opcode: 9, payload: 'abc', fin: false }),
      encodeFrame({ opcode: 8, payload: new Uint8Array(126).fill(0xf0) }),
    ];
    for (const j of junk) {
      const good = encodeFrame({ opcode: 1, payload: 'ok' });
      const parser = new FrameParser({ direction: 'server' });
      parser.gap(2);
      const frames = [...parser.push(concat(j, good)), ...parser.end()];
      // Bytes inside the junk may look like a header (e.g. the 16-bit length 00 03 reads as an
      // empty-FIN continuation header): only the junk header itself must be passed over.
      expect(frames.map((f) => f.offset)).not.toContain(2);
      expect(frames.map((f) => f.offset)).toContain(2 + j.length);
    }
  });

  it('rejects a plausible-looking header when the bytes after its frame are not a header', () => {
    // 01 00 reads as an empty text frame, but the byte after it (ff) has RSV bits set.
    const parser = new FrameParser({ direction: 'server' });
    parser.gap(1);
    const frames = [...parser.push(concat(hex('01 00 ff'), d, c)), ...parser.end()];
    expect(frames.map((f) => [f.offset, f.opcodeName])).toEqual([
      [4, 'ping'],
      [4 + d.length, 'text'],
    ]);
    expect(frames[0]!.alerts[0]!.detail).toEqual({ skipped: 4, missing: 1, lostAt: 0 });
  });

  it('a gap while lost adds to the skipped and missing counts', () => {
    const parser = new FrameParser({ direction: 'server' });
    parser.gap(4);
    expect(parser.push(new Uint8Array(6).fill(0xff))).toEqual([]);
    parser.gap(5);
    const frames = [...parser.push(d), ...parser.end()];
    expect(frames).toHaveLength(1);
    expect(frames[0]!.offset).toBe(15);
    expect(frames[0]!.alerts[0]!.detail).toEqual({ skipped: 15, missing: 9, lostAt: 0 });
  });

  it('positions stay right: start/end of the resynced frame come from its chunk', () => {
    const parser = new FrameParser({ direction: 'server' });
    parser.gap(3, { packet: 1 });
    const frames = [...parser.push(concat(new Uint8Array(2).fill(0xff), d, c), { packet: 2 } satisfies StreamPosition), ...parser.end()];
    expect(frames.map((f) => [f.offset, f.start.packet, f.end.packet, f.alerts[0]?.packet])).toEqual([
      [5, 2, 2, 2],
      [5 + d.length, 2, 2, undefined],
    ]);
  });
});

describe('FrameParser: a stream joined mid-way', () => {
  const text = encodeFrame({ opcode: 0x1, payload: new TextEncoder().encode('first in the capture') });
  const ping = encodeFrame({ opcode: 0x9, payload: new TextEncoder().encode('p') });

  it('takes a first segment that is exactly one plausible frame at once, without waiting for the next header', () => {
    const parser = new FrameParser({ direction: 'server', synced: false });
    expect(parser.push(text).map((f) => f.opcodeName)).toEqual(['text']);
    expect(parser.lost).toBe(false);
    expect(parser.push(ping).map((f) => f.opcodeName)).toEqual(['ping']);
  });

  it('still confirms by the next header a frame that ends inside a later segment, or mid-segment', () => {
    const split = new FrameParser({ direction: 'server', synced: false });
    expect(split.push(text.subarray(0, 5))).toEqual([]);
    expect(split.push(text.subarray(5))).toEqual([]);
    expect(split.push(ping).map((f) => f.opcodeName)).toEqual(['text', 'ping']);
    // A first segment starting mid-frame: its bytes are skipped until a confirmed header.
    const late = new FrameParser({ direction: 'server', synced: false });
    expect(late.push(concat(text.subarray(3), ping)).map((f) => f.opcodeName)).toEqual([]);
    expect(late.push(ping).map((f) => f.opcodeName)).toEqual(['ping', 'ping']);
  });
});
