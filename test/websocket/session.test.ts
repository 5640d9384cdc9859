import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Direction } from '../../src/alerts.js';
import type { WorkBudget } from '../../src/websocket/extension.js';
import { encodeFrame, type FrameSpec } from '../../src/websocket/frame-encoder.js';
import { permessageDeflate } from '../../src/websocket/permessage-deflate.js';
import { WebSocketSession, type SessionEvent } from '../../src/websocket/session.js';
import { runs } from '../helpers/fuzz.js';

const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
let keySeed = 1;
/** A fresh key per client frame, as a real client would use. */
const freshKey = () => new Uint8Array([keySeed++ & 0xff, (keySeed * 7) & 0xff, 0x5a, 0xa5]);
const client = (spec: FrameSpec) => encodeFrame({ maskingKey: freshKey(), ...spec });
const server = (spec: FrameSpec) => encodeFrame(spec);
const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

const deflate = (clientNoCtx = false, serverNoCtx = false) =>
  permessageDeflate({ client: { noContextTakeover: clientNoCtx, maxWindowBits: 15 }, server: { noContextTakeover: serverNoCtx, maxWindowBits: 15 } });

function run(session: WebSocketSession, steps: [Direction, Uint8Array][]): SessionEvent[] {
  return [...steps.flatMap(([d, bytes]) => session.push(d, bytes)), ...session.finish()];
}

const frames = (events: SessionEvent[]) => events.flatMap((e) => (e.type === 'frame' ? [e.frame] : []));
const messages = (events: SessionEvent[]) => events.flatMap((e) => (e.type === 'message' ? [e.message] : []));
const allAlertCodes = (events: SessionEvent[]) =>
  events.flatMap((e) => (e.type === 'alert' ? [e.alert.code] : e.type === 'frame' ? e.frame.alerts.map((a) => a.code) : e.message.alerts.map((a) => a.code)));

describe('WebSocketSession', () => {
  it('decodes a clean conversation with no alerts', () => {
    const events = run(new WebSocketSession(), [
      ['client', client({ opcode: 1, payload: 'Hello' })],
      ['server', server({ opcode: 1, payload: 'Hi there' })],
      ['client', client({ opcode: 9, payload: 'p1' })],
      ['server', server({ opcode: 10, payload: 'p1' })],
      ['client', client({ opcode: 8, payload: hex('03e8') })],
      ['server', server({ opcode: 8, payload: hex('03e8') })],
    ]);
    expect(allAlertCodes(events)).toEqual([]);
    expect(messages(events).map((m) => [m.direction, m.type, m.text ?? m.close?.code ?? null])).toEqual([
      ['client', 'text', 'Hello'],
      ['server', 'text', 'Hi there'],
      ['client', 'ping', null],
      ['server', 'pong', null],
      ['client', 'close', 1000],
      ['server', 'close', 1000],
    ]);
  });

  it('emits each frame before the message it completes', () => {
    const events = run(new WebSocketSession(), [['server', server({ opcode: 1, payload: 'x' })]]);
    expect(events.map((e) => e.type)).toEqual(['frame', 'message']);
  });

  it('applies the header rules to every frame (§5.1, §5.2)', () => {
    const events = run(new WebSocketSession(), [
      ['client', server({ opcode: 1, payload: 'unmasked' })],
      ['server', client({ opcode: 2, payload: 'masked' })],
      ['server', server({ opcode: 1, rsv2: true, payload: 'rsv' })],
    ]);
    expect(frames(events).map((f) => f.alerts.map((a) => a.code))).toEqual([['frame.client-unmasked'], ['frame.server-masked'], ['frame.rsv-unnegotiated']]);
  });

  it('flags a masking key reused by consecutive frames (§5.3)', () => {
    const events = run(new WebSocketSession(), [
      ['client', encodeFrame({ opcode: 1, payload: 'a', maskingKey: KEY })],
      ['client', encodeFrame({ opcode: 1, payload: 'b', maskingKey: KEY })],
    ]);
    expect(frames(events)[1]!.alerts.map((a) => a.code)).toEqual(['mask.key-repeated']);
  });

  it('warns about a Ping never answered and a Close never answered, at the end', () => {
    const events = run(new WebSocketSession(), [
      ['client', client({ opcode: 9, payload: 'anyone?' })],
      ['server', server({ opcode: 8, payload: hex('03e9') })],
    ]);
    const standalone = events.flatMap((e) => (e.type === 'alert' ? [[e.alert.code, e.alert.direction]] : []));
    expect(standalone).toEqual([
      ['ping.unanswered', 'client'],
      ['close.unanswered', 'server'],
    ]);
  });

  it('accepts an unsolicited Pong and a Pong answering only the latest Ping (§5.5.3)', () => {
    const events = run(new WebSocketSession(), [
      ['server', server({ opcode: 10, payload: 'heartbeat' })],
      ['client', client({ opcode: 9, payload: 'one' })],
      ['client', client({ opcode: 9, payload: 'two' })],
      ['server', server({ opcode: 10, payload: 'two' })],
    ]);
    expect(allAlertCodes(events)).toEqual([]);
  });

  it('flags a Pong that echoes no outstanding Ping', () => {
    const events = run(new WebSocketSession(), [
      ['client', client({ opcode: 9, payload: 'abc' })],
      ['server', server({ opcode: 10, payload: 'xyz' })],
    ]);
    expect(allAlertCodes(events)).toEqual(['pong.mismatch']);
  });

  it('flags data frames after Close but keeps decoding them', () => {
    const events = run(new WebSocketSession(), [
      ['server', server({ opcode: 8, payload: hex('03e8') })],
      ['server', server({ opcode: 1, payload: 'too late' })],
      ['client', client({ opcode: 8, payload: hex('03e8') })],
    ]);
    expect(frames(events)[1]!.alerts.map((a) => a.code)).toEqual(['frame.after-close']);
    expect(messages(events)[1]!.text).toBe('too late');
  });

  it('reports a frame cut by the end of the stream', () => {
    const whole = server({ opcode: 2, payload: new Uint8Array(100) });
    const events = run(new WebSocketSession(), [['server', whole.subarray(0, 50)]]);
    const [f] = frames(events);
    expect(f).toMatchObject({ incomplete: true, payloadLength: 100 });
    expect(f!.alerts.map((a) => a.code)).toContain('frame.incomplete');
  });

  it('does not judge RSV bits mid-stream, when the extensions are unknown', () => {
    const events = run(new WebSocketSession({ extensionsKnown: false }), [['server', server({ opcode: 1, rsv1: true, payload: 'x' })]]);
    expect(allAlertCodes(events)).toEqual([]);
  });

  it('gives the same events however the bytes are split (property)', () => {
    const spec = fc.record({
      dir: fc.constantFrom<Direction>('client', 'server'),
      opcode: fc.constantFrom(0, 1, 2, 8, 9, 10, 3, 0xb),
      fin: fc.boolean(),
      rsv1: fc.boolean(),
      payload: fc.uint8Array({ maxLength: 300 }),
    });
    fc.assert(
      fc.property(fc.array(spec, { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1 }), (specs, cuts) => {
        keySeed = 1;
        const streams: Record<Direction, Uint8Array[]> = { client: [], server: [] };
        for (const s of specs) streams[s.dir].push(s.dir === 'client' ? client({ ...s }) : server({ ...s }));
        const joined = (d: Direction) => new Uint8Array(Buffer.concat(streams[d]));
        const whole = new WebSocketSession({ extensions: [deflate()] });
        const expected = [...whole.push('client', joined('client')), ...whole.push('server', joined('server')), ...whole.finish()];
        const split = new WebSocketSession({ extensions: [deflate()] });
        const actual: SessionEvent[] = [];
        for (const d of ['client', 'server'] as const) {
          const bytes = joined(d);
          let at = 0;
          for (let i = 0; at < bytes.length; i++) {
            const n = cuts[i % cuts.length]!;
            actual.push(...split.push(d, bytes.subarray(at, at + n)));
            at += n;
          }
        }
        actual.push(...split.finish());
        const strip = (events: SessionEvent[]) => JSON.stringify(events, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
        expect(strip(actual)).toBe(strip(expected));
      }),
      { numRuns: runs(150) },
    );
  });
});

describe('permessage-deflate through the extension hook (RFC 7692 §7.2.3)', () => {
  const texts = (events: SessionEvent[]) => messages(events).map((m) => m.text);

  it('inflates "Hello" in one frame (§7.2.3.1) and in two fragments', () => {
    const one = run(new WebSocketSession({ extensions: [deflate()] }), [['server', hex('c1 07 f2 48 cd c9 c9 07 00')]]);
    expect(texts(one)).toEqual(['Hello']);
    expect(messages(one)[0]).toMatchObject({ compressed: true, wireLength: 7, length: 5 });
    const two = run(new WebSocketSession({ extensions: [deflate()] }), [['server', hex('41 03 f2 48 cd 80 04 c9 c9 07 00')]]);
    expect(texts(two)).toEqual(['Hello']);
    expect(allAlertCodes(two)).toEqual([]);
  });

  it('shares the LZ77 window across messages (§7.2.3.2)', () => {
    const events = run(new WebSocketSession({ extensions: [deflate()] }), [['server', hex('c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00')]]);
    expect(texts(events)).toEqual(['Hello', 'Hello']);
  });

  it('fails the second message when the window must not be shared (no_context_takeover)', () => {
    const events = run(new WebSocketSession({ extensions: [deflate(false, true)] }), [['server', hex('c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00')]]);
    expect(texts(events)[0]).toBe('Hello');
    expect(allAlertCodes(events)).toEqual(['deflate.inflate-failed']);
  });

  it('inflates a stored block (§7.2.3.3), a final block (§7.2.3.4) and two blocks (§7.2.3.5)', () => {
    const events = run(new WebSocketSession({ extensions: [deflate()] }), [
      ['server', hex('c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00')],
      ['server', hex('c1 08 f3 48 cd c9 c9 07 00 00')],
      ['server', hex('c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00')],
    ]);
    expect(texts(events)).toEqual(['Hello', 'Hello', 'Hello']);
  });

  it('leaves messages without RSV1 alone (§6: compression is per message)', () => {
    const events = run(new WebSocketSession({ extensions: [deflate()] }), [['server', server({ opcode: 1, payload: 'plain' })]]);
    expect(messages(events)[0]).toMatchObject({ text: 'plain', compressed: false });
  });

  it('flags RSV1 on control and continuation frames (§6.1)', () => {
    const events = run(new WebSocketSession({ extensions: [deflate()] }), [
      ['server', server({ opcode: 9, rsv1: true })],
      ['server', hex('41 03 f2 48 cd c0 04 c9 c9 07 00')],
    ]);
    expect(frames(events).map((f) => f.alerts.map((a) => a.code))).toEqual([['deflate.rsv1-control'], [], ['deflate.rsv1-continuation']]);
  });

  it('stops inflating a direction after 3 messages over the limit (decompression bombs), and says so once', () => {
    const bomb = new Uint8Array(Buffer.from(deflateRawSync(Buffer.alloc(1 << 20), { level: 9 })));
    const s = new WebSocketSession({ extensions: [deflate(true, true)], limits: { maxInflatedSize: 4096 } });
    const events = run(s, [
      ...Array.from({ length: 5 }, (): [Direction, Uint8Array] => ['server', server({ opcode: 2, rsv1: true, payload: bomb })]),
      ['server', hex('c1 07 f2 48 cd c9 c9 07 00')],
      // The other direction is inflated still.
      ['client', client({ opcode: 1, rsv1: true, payload: hex('f2 48 cd c9 c9 07 00') })],
    ]);
    expect(messages(events).map((m) => [m.direction, m.alerts.map((a) => a.code), m.compressed, m.length, m.text ?? null])).toEqual([
      ['server', ['deflate.too-large'], true, 4096, null],
      ['server', ['deflate.too-large'], true, 4096, null],
      ['server', ['deflate.too-large'], true, 4096, null],
      ['server', ['deflate.bombs'], true, bomb.length, null],
      ['server', [], true, bomb.length, null],
      ['server', [], true, 7, null],
      ['client', [], true, 5, 'Hello'],
    ]);
  });

  it('caps the inflated size of a bomb and keeps going', () => {
    const bomb = new Uint8Array(Buffer.from(deflateRawSync(Buffer.alloc(1 << 20), { level: 9 })));
    const s = new WebSocketSession({ extensions: [deflate(true, true)], limits: { maxInflatedSize: 4096 } });
    const events = run(s, [
      ['server', server({ opcode: 2, rsv1: true, payload: bomb })],
      ['server', hex('c1 07 f2 48 cd c9 c9 07 00')],
    ]);
    expect(allAlertCodes(events)).toEqual(['deflate.too-large']);
    expect(messages(events)[0]).toMatchObject({ truncated: true, compressed: true });
    expect(texts(events)[1]).toBe('Hello');
  });
});

describe('WebSocketSession with a work budget (wsproxy inflates a slice at a time)', () => {
  /** Feeds `steps` then finishes, refilling `budget` with `refill()` and resuming while suspended; also counts suspensions. */
  function runBudgeted(session: WebSocketSession, budget: WorkBudget, refill: () => number, steps: [Direction, Uint8Array][]): { events: SessionEvent[]; suspensions: number; overdraft: number } {
    const events: SessionEvent[] = [];
    let suspensions = 0;
    let overdraft = 0;
    const settle = () => {
      while (session.suspended) {
        suspensions++;
        overdraft = Math.min(overdraft, budget.remaining);
        budget.remaining = refill();
        events.push(...session.resume());
      }
    };
    for (const [d, bytes] of steps) {
      budget.remaining = refill();
      events.push(...session.push(d, bytes));
      settle();
    }
    budget.remaining = refill();
    events.push(...session.finish());
    settle();
    return { events, suspensions, overdraft };
  }

  const strip = (events: SessionEvent[]) => JSON.stringify(events, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));

  it('gives the same events as without a budget, however small the budget (property)', () => {
    const zeros = deflateRawSync(Buffer.alloc(300_000), { level: 9, finishFlush: 2 /* Z_SYNC_FLUSH */ });
    const bomb = zeros.subarray(0, zeros.length - 4);
    const spec = fc.record({
      dir: fc.constantFrom<Direction>('client', 'server'),
      kind: fc.constantFrom('text', 'bomb', 'fragmented', 'control', 'plain'),
      text: fc.string({ maxLength: 200 }),
    });
    // At least 1: a resume with an empty budget makes no progress (the TapQueue resumes only with some left).
    fc.assert(
      fc.property(fc.array(spec, { maxLength: 8 }), fc.boolean(), fc.integer({ min: 1, max: 200_000 }), fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1 }), (specs, noContext, slice, cuts) => {
        keySeed = 1;
        const compress = (text: string) => {
          const c = deflateRawSync(Buffer.from(text), { finishFlush: 2 });
          return c.subarray(0, c.length - 4);
        };
        const frame = (dir: Direction, f: FrameSpec) => (dir === 'client' ? client(f) : server(f));
        const steps: [Direction, Uint8Array][] = [];
        for (const s of specs) {
          const parts =
            s.kind === 'bomb' ? [frame(s.dir, { opcode: 2, rsv1: true, payload: bomb })]
            : s.kind === 'fragmented' ? [frame(s.dir, { opcode: 1, rsv1: true, fin: false, payload: compress(s.text).subarray(0, 3) }), frame(s.dir, { opcode: 9, payload: 'p' }), frame(s.dir, { opcode: 0, payload: compress(s.text).subarray(3) })]
            : s.kind === 'control' ? [frame(s.dir, { opcode: 10, payload: s.text.slice(0, 10) })]
            : s.kind === 'plain' ? [frame(s.dir, { opcode: 1, payload: s.text })]
            : [frame(s.dir, { opcode: 1, rsv1: true, payload: compress(s.text) })];
          const bytes = Buffer.concat(parts);
          // Several frames in one push, and a frame over several pushes.
          for (let at = 0, i = 0; at < bytes.length; i++) {
            const n = cuts[i % cuts.length]!;
            steps.push([s.dir, bytes.subarray(at, at + n)]);
            at += n;
          }
        }
        const limits = { maxInflatedSize: 200_000 };
        const make = (budget?: WorkBudget) => new WebSocketSession({ limits, extensions: [deflate(noContext, noContext)], ...(budget ? { budget } : {}) });
        keySeed = 1;
        const plain = make();
        const expected = [...steps.flatMap(([d, b]) => plain.push(d, b)), ...plain.finish()];
        const budget: WorkBudget = { remaining: 0 };
        const { events } = runBudgeted(make(budget), budget, () => slice, steps);
        expect(strip(events)).toBe(strip(expected));
      }),
      { numRuns: runs(60) },
    );
  });

  it('inflates at most the budget (plus one 64 KiB output chunk) between two returns', () => {
    const zeros = deflateRawSync(Buffer.alloc(4 << 20), { level: 9, finishFlush: 2 });
    const budget: WorkBudget = { remaining: 0 };
    const session = new WebSocketSession({ extensions: [deflate()], limits: { maxInflatedSize: 8 << 20 }, budget });
    const { events, suspensions, overdraft } = runBudgeted(session, budget, () => 256 * 1024, [
      ['server', server({ opcode: 2, rsv1: true, payload: zeros.subarray(0, zeros.length - 4) })],
      ['server', hex('c1 07 f2 48 cd c9 c9 07 00')],
    ]);
    // 4 MiB at 256 KiB a turn.
    expect(suspensions).toBeGreaterThanOrEqual(15);
    expect(overdraft).toBeGreaterThanOrEqual(-64 * 1024);
    expect(messages(events).map((m) => [m.length, m.text ?? null])).toEqual([[4 << 20, null], [5, 'Hello']]);
  });
});
