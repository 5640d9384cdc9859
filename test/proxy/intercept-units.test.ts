/**
 * The interceptor's parts on their own: the strict frame splitter (whatever the chunking, the
 * same frames, each with its exact bytes, and a frame too large to hold relayed as bytes), the
 * re-framing encoder, the outbox's order and rate, and the fault option parsers.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FrameSplitter, UnitAssembler, encodeMessage } from '../../src/proxy/intercept/frames.js';
import { Outbox } from '../../src/proxy/intercept/outbox.js';
import { parseCloseAfter, parseDelay } from '../../src/proxy/intercept/faults.js';
import { encodeFrame } from '../../src/websocket/frame-encoder.js';
import { FrameParser } from '../../src/websocket/frame-parser.js';
import { Opcode } from '../../src/websocket/constants.js';

const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
const frames = [
  encodeFrame({ opcode: Opcode.Text, payload: 'Hel', fin: false, maskingKey: KEY }),
  encodeFrame({ opcode: Opcode.Ping, payload: 'p', maskingKey: KEY }),
  encodeFrame({ opcode: Opcode.Continuation, payload: 'lo', maskingKey: KEY }),
  encodeFrame({ opcode: Opcode.Binary, payload: new Uint8Array(300).fill(9) }),
  encodeFrame({ opcode: Opcode.Binary, payload: new Uint8Array(70_000).fill(3), lengthEncoding: 64 }),
];
const stream = Buffer.concat(frames);

function split(chunks: Uint8Array[]) {
  const splitter = new FrameSplitter(1 << 20);
  const assembler = new UnitAssembler(1 << 20);
  const raws: Uint8Array[] = [];
  const units = [];
  for (const chunk of chunks) {
    const { frames: out, through } = splitter.push(chunk);
    expect(through).toBeNull();
    for (const frame of out) {
      raws.push(frame.raw);
      units.push(...assembler.push(frame));
    }
  }
  return { raws, units };
}

describe('FrameSplitter and UnitAssembler', () => {
  it('give the same frames, byte for byte, and the same units however the stream is cut', () => {
    const whole = split([stream]);
    expect(whole.raws.map((r) => Buffer.from(r).toString('hex'))).toEqual(frames.map((f) => Buffer.from(f).toString('hex')));
    expect(whole.units.map((u) => (u.kind === 'message' ? `${u.opcode}:${Buffer.from(u.data).toString('latin1').slice(0, 5)}:${u.frames.length}` : `${u.kind}`))).toEqual(['control', '1:Hello:2', '2:\t\t\t\t\t:1', '2:\x03\x03\x03\x03\x03:1']);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 20 }), (cuts) => {
        const points = [0, ...[...new Set(cuts)].sort((a, b) => a - b), stream.length];
        const chunks = points.slice(1).map((end, i) => stream.subarray(points[i]!, end));
        const cut = split(chunks);
        expect(Buffer.concat(cut.raws).equals(stream)).toBe(true);
        expect(cut.units.length).toBe(whole.units.length);
      }),
      { numRuns: 200 },
    );
  });

  it('relays a frame that declares more than it may hold as bytes, from its header on, and every later chunk', () => {
    const splitter = new FrameSplitter(100);
    const small = encodeFrame({ opcode: Opcode.Text, payload: 'ok' });
    const huge = encodeFrame({ opcode: Opcode.Binary, payload: new Uint8Array(10), declaredLength: 2n ** 63n - 1n });
    const first = splitter.push(Buffer.concat([small, huge.subarray(0, 10)]));
    expect(first.frames.map((f) => Buffer.from(f.raw).toString('hex'))).toEqual([Buffer.from(small).toString('hex')]);
    expect(Buffer.from(first.through!).toString('hex')).toBe(Buffer.from(huge.subarray(0, 10)).toString('hex'));
    expect(splitter.through).toBe(true);
    expect(Buffer.from(splitter.push(huge.subarray(10)).through!).equals(Buffer.from(huge.subarray(10)))).toBe(true);
  });

  it('hands back a message over the limit as its frames, untouched', () => {
    const assembler = new UnitAssembler(4);
    const splitter = new FrameSplitter(100);
    const bytes = Buffer.concat([encodeFrame({ opcode: Opcode.Text, payload: 'abc', fin: false }), encodeFrame({ opcode: Opcode.Continuation, payload: 'def', fin: false }), encodeFrame({ opcode: Opcode.Continuation, payload: 'g' })]);
    const units = splitter.push(bytes).frames.flatMap((f) => assembler.push(f));
    expect(units.map((u) => [u.kind, u.kind === 'control' ? 1 : u.frames.length])).toEqual([['stray', 2], ['stray', 1]]);
  });
});

describe('encodeMessage', () => {
  it('cuts a message into N-byte frames the dissector joins back, RSV on the first only, each client frame with its own key', () => {
    const data = Buffer.from('0123456789abcdefghij-');
    const out = encodeMessage(Opcode.Text, data, { masked: true, rsv: 0x40, fragment: 4 });
    expect(out).toHaveLength(6);
    const parser = new FrameParser({ direction: 'client', allowedRsv: 4 });
    const parsed = parser.push(Buffer.concat(out));
    expect(parsed.map((f) => [f.opcode, f.fin, f.rsv1, f.masked])).toEqual([[1, false, true, true], ...Array(4).fill([0, false, false, true]), [0, true, false, true]]);
    expect(Buffer.concat(parsed.map((f) => f.data)).equals(data)).toBe(true);
    expect(new Set(parsed.map((f) => Buffer.from(f.maskingKey!).toString('hex'))).size).toBe(6);
    expect(encodeMessage(Opcode.Text, new Uint8Array(0), { masked: false, fragment: 4 })).toHaveLength(1);
    expect(encodeMessage(Opcode.Ping, Buffer.from('123456'), { masked: false, fragment: 2 })).toHaveLength(1);
  });
});

describe('Outbox', () => {
  it('keeps order: a piece never overtakes a delayed one before it', async () => {
    const out: string[] = [];
    const box = new Outbox((b) => out.push(Buffer.from(b).toString()));
    box.push(Buffer.from('a'), performance.now() + 60);
    box.push(Buffer.from('b'));
    expect(out).toEqual([]);
    expect(box.held).toBe(2);
    await new Promise<void>((resolve) => box.whenEmpty(resolve));
    expect(out).toEqual(['a', 'b']);
  });

  it('writes at once with neither delay nor rate', () => {
    const out: number[] = [];
    const box = new Outbox((b) => out.push(b.length));
    box.push(new Uint8Array(5));
    expect(out).toEqual([5]);
    expect(box.held).toBe(0);
  });

  it('with a rate, cuts what it holds into pieces that keep to it', async () => {
    const sizes: number[] = [];
    let said = 0;
    const box = new Outbox((b) => sizes.push(b.length), { rate: 10_000, onThrottled: () => said++ });
    const start = performance.now();
    box.push(new Uint8Array(3000));
    await new Promise<void>((resolve) => box.whenEmpty(resolve));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(3000);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1000);
    expect(performance.now() - start).toBeGreaterThanOrEqual(200);
    expect(said).toBe(1);
  });
});

describe('fault option parsers', () => {
  it('read delays, ranges and close-after, and refuse what makes no sense', () => {
    expect(parseDelay('200')).toEqual({ min: 200, max: 200 });
    expect(parseDelay('50-300')).toEqual({ min: 50, max: 300 });
    expect(() => parseDelay('300-50')).toThrow(/backwards/);
    expect(() => parseDelay('fast')).toThrow(/milliseconds/);
    expect(parseCloseAfter('5')).toEqual({ messages: 5, code: 1000 });
    expect(parseCloseAfter('5:4000')).toEqual({ messages: 5, code: 4000 });
    expect(() => parseCloseAfter('5:1005')).toThrow(/not a close code/);
    expect(() => parseCloseAfter('0')).toThrow(/at least 1/);
  });
});
