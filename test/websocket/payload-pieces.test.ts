import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Direction } from '../../src/alerts.js';
import { AppLayer, messageInput } from '../../src/app/layer.js';
import type { DissectEvent } from '../../src/engine/events.js';
import { NdjsonEncoder } from '../../src/render/ndjson-encoder.js';
import { TableRenderer } from '../../src/render/table.js';
import { encodeFrame } from '../../src/websocket/frame-encoder.js';
import { FrameParser } from '../../src/websocket/frame-parser.js';
import { dataPrefix, PayloadPieces, piecesOf } from '../../src/websocket/payload-pieces.js';
import { WebSocketSession, type SessionEvent } from '../../src/websocket/session.js';
import type { Frame, Message } from '../../src/websocket/types.js';
import { runs } from '../helpers/fuzz.js';

const KEY = Uint8Array.from([0x37, 0xfa, 0x21, 0x3d]);
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return out;
}

/** `whole` cut into chunks of its own buffers (as socket reads are), at the given sizes, cycling. */
function chunked(whole: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0, i = 0; at < whole.length; i++) {
    const n = Math.max(1, sizes[i % sizes.length]!);
    out.push(Uint8Array.from(whole.subarray(at, at + n)));
    at += n;
  }
  return out;
}

function parse(chunks: Uint8Array[], direction: Direction, keepPieces: boolean): Frame[] {
  const parser = new FrameParser({ direction, keepPieces });
  const frames: Frame[] = [];
  for (const c of chunks) frames.push(...parser.push(c));
  frames.push(...parser.end());
  return frames;
}

/** What a reader sees of a frame, payload and data as hex. */
function seen(f: Frame): unknown {
  return { ...f, header: Buffer.from(f.header).toString('hex'), payload: Buffer.from(f.payload).toString('hex'), data: Buffer.from(f.data).toString('hex'), maskingKey: f.maskingKey && Buffer.from(f.maskingKey).toString('hex') };
}

describe('PayloadPieces', () => {
  it('gives the payload as sent, unmasked, its first bytes and its SHA-256, at any alignment and key offset', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70_000 }), fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 }), fc.boolean(), fc.integer({ min: 0, max: 300 }), (n, sizes, shifts, masked, prefix) => {
        const sent = bytes(n, sizes.length);
        // Each piece at its own offset in a buffer of its own, so the word loops meet every alignment.
        const pieces: Uint8Array[] = [];
        for (let at = 0, i = 0; at < n; i++) {
          const size = Math.min(sizes[i % sizes.length]!, n - at);
          const shift = shifts[i % shifts.length]!;
          const piece = new Uint8Array(size + shift).subarray(shift);
          piece.set(sent.subarray(at, at + size));
          pieces.push(piece);
          at += size;
        }
        const key = masked ? KEY : null;
        const unmasked = masked ? sent.map((b, i) => b ^ KEY[i & 3]!) : sent;
        const lazy = new PayloadPieces(pieces, n, key);
        expect(lazy.sha256()).toBe(sha256(unmasked));
        expect(Buffer.from(lazy.prefix(prefix)).equals(Buffer.from(unmasked.subarray(0, prefix)))).toBe(true);
        expect(lazy.built).toBe(n <= prefix);
        expect(Buffer.from(lazy.payload()).equals(Buffer.from(sent))).toBe(true);
        expect(Buffer.from(lazy.data()).equals(Buffer.from(unmasked))).toBe(true);
        expect(lazy.built).toBe(true);
        // Once built, the same answers from the built buffer.
        expect(lazy.sha256()).toBe(sha256(unmasked));
        expect(Buffer.from(lazy.prefix(prefix)).equals(Buffer.from(unmasked.subarray(0, prefix)))).toBe(true);
        // The pieces themselves are never written to.
        expect(Buffer.from(Buffer.concat(pieces)).equals(Buffer.from(sent))).toBe(true);
      }),
      { numRuns: runs(150) },
    );
  });
});

describe('FrameParser keepPieces (wsproxy)', () => {
  it('gives every frame exactly as without it, however the stream is cut, and never writes to a chunk', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ length: fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1000, max: 40_000 })), masked: fc.boolean(), opcode: fc.constantFrom(0x1, 0x2, 0x9), fin: fc.boolean() }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 900, max: 20_000 })), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        (specs, sizes, cut) => {
          const wire = Buffer.concat(specs.map((s, i) => encodeFrame({ opcode: s.opcode === 0x9 ? 0x2 : s.opcode, payload: bytes(s.length, i), maskingKey: s.masked ? KEY : null, fin: s.fin })));
          const chunks = chunked(wire, sizes);
          const copies = chunks.map((c) => Uint8Array.from(c));
          // Cut short: the last frame ends incomplete.
          const fed = cut ? chunks.slice(0, Math.max(1, chunks.length - 1)) : chunks;
          const plain = parse(fed.map((c) => Uint8Array.from(c)), 'client', false);
          const pieces = parse(fed, 'client', true);
          expect(pieces.map(seen)).toEqual(plain.map(seen));
          chunks.forEach((c, i) => expect(Buffer.from(c).equals(Buffer.from(copies[i]!))).toBe(true));
        },
      ),
      { numRuns: runs(150) },
    );
  });

  it('keeps a payload of several large reads in pieces until it is read, and reads of small ones are bounded', () => {
    const payload = bytes(300_000);
    const wire = encodeFrame({ opcode: 0x2, payload, maskingKey: KEY });
    const [frame] = parse(chunked(wire, [65536]), 'client', true);
    const lazy = piecesOf(frame!)!;
    expect(lazy).toBeDefined();
    expect(lazy.built).toBe(false);
    expect(Buffer.from(dataPrefix(frame!, 4)).equals(Buffer.from(payload.subarray(0, 4)))).toBe(true);
    expect(lazy.built).toBe(false);
    expect(Buffer.from(frame!.data).equals(Buffer.from(payload))).toBe(true);
    expect(lazy.built).toBe(true);

    // Trickled a byte at a time: copied into a few buffers of the frame's own, not 300,000 views.
    const [trickled] = parse(chunked(wire, [1]), 'client', true);
    expect((piecesOf(trickled!) as unknown as { pieces: Uint8Array[] }).pieces.length).toBeLessThanOrEqual(Math.ceil(300_000 / (16 * 1024)) + 8);
    expect(Buffer.from(trickled!.data).equals(Buffer.from(payload))).toBe(true);
  });

  it('writing data or payload replaces it', () => {
    const [frame] = parse(chunked(encodeFrame({ opcode: 0x2, payload: bytes(5000), maskingKey: KEY }), [2000]), 'client', true);
    const other = Uint8Array.from([1, 2, 3]);
    frame!.data = other;
    expect(frame!.data).toBe(other);
    expect(piecesOf(frame!)).toBeUndefined();
    // The payload as sent (masked) is still there.
    expect(Buffer.from(frame!.payload).equals(Buffer.from(bytes(5000).map((b, i) => b ^ KEY[i & 3]!)))).toBe(true);
  });
});

describe('WebSocketSession keepPieces: messages and their NDJSON lines', () => {
  function events(keepPieces: boolean, direction: Direction, wire: Uint8Array, sizes: number[]): SessionEvent[] {
    const session = new WebSocketSession({ keepPieces });
    return chunked(wire, sizes).flatMap((c) => session.push(direction, c, { ts: 1 }));
  }

  function ndjson(list: SessionEvent[]): string {
    const out: Buffer[] = [];
    const encoder = new NdjsonEncoder({}, (b) => out.push(Buffer.from(b)));
    for (const e of list) if (e.type !== 'alert') encoder.write({ ...e, conn: 1 } as never);
    encoder.flush();
    return Buffer.concat(out).toString();
  }

  it('hashes and shows a binary message of one frame without building it, with the same lines as before', () => {
    for (const direction of ['client', 'server'] as const) {
      const payload = bytes(1 << 20, direction.length);
      const wire = encodeFrame({ opcode: 0x2, payload, maskingKey: direction === 'client' ? KEY : null });
      const lazyEvents = events(true, direction, wire, [65536, 4096, 333]);
      const message = lazyEvents.find((e) => e.type === 'message');
      expect(message?.type).toBe('message');
      const m = (message as { message: { data: Uint8Array } }).message;
      expect(piecesOf(m)?.built).toBe(false);
      const lines = ndjson(lazyEvents);
      expect(lines).toBe(ndjson(events(false, direction, wire, [65536, 4096, 333])));
      expect(lines).toContain(`"sha256":"${sha256(payload)}"`);
      // The lines were written from the pieces: nothing was built.
      expect(piecesOf(m)?.built).toBe(false);
      expect(Buffer.from(m.data).equals(Buffer.from(payload))).toBe(true);
    }
  });

  it('shows the rows of the table without building the payload, as before', () => {
    const table = (list: SessionEvent[], view: 'frames' | 'messages'): string => {
      const renderer = new TableRenderer({ colorLevel: 0, width: 160, view });
      return list.map((e) => (e.type === 'alert' ? '' : renderer.render({ ...e, conn: 1 } as never))).join('');
    };
    for (const view of ['frames', 'messages'] as const) {
      for (const [opcode, n] of [[0x2, 200_000], [0x2, 2000], [0x9, 100]] as const) {
        const wire = encodeFrame({ opcode, payload: bytes(n), maskingKey: KEY });
        const lazy = events(true, 'client', wire, [1500]);
        const rows = table(lazy, view);
        expect(rows).toBe(table(events(false, 'client', wire, [1500]), view));
        expect(rows).toContain(Buffer.from(bytes(n).subarray(0, 3)).toString('hex').replace(/(..)(?!$)/g, '$1 '));
        for (const e of lazy) if (e.type !== 'alert') expect(piecesOf(e.type === 'frame' ? e.frame : e.message)?.built ?? false).toBe(false);
      }
    }
  });

  it('gives every frame and message in pieces the same accessor functions, never closures of its own', () => {
    // Closures made per object kept every payload alive through V8's scavenges until the next
    // mark-compact (wsproxy's read chunks piled up to ~70 MB, 8 mark-compacts per 512 MiB
    // relayed on Node 20): the accessors must read the pieces from the object they are called on.
    const lazy = [1, 2].flatMap((seed) => events(true, 'server', encodeFrame({ opcode: 0x2, payload: bytes(200_000, seed), maskingKey: null }), [65536]));
    const frames = lazy.filter((e) => e.type === 'frame').map((e) => (e as { frame: Frame }).frame);
    const messages = lazy.filter((e) => e.type === 'message').map((e) => (e as { message: { data: Uint8Array } }).message);
    expect(frames).toHaveLength(2);
    expect(messages).toHaveLength(2);
    const accessor = (o: object, name: string) => Object.getOwnPropertyDescriptor(o, name)!;
    for (const name of ['data', 'payload']) {
      expect(accessor(frames[0]!, name).get).toBeTypeOf('function');
      expect(accessor(frames[1]!, name).get).toBe(accessor(frames[0]!, name).get);
      expect(accessor(frames[1]!, name).set).toBe(accessor(frames[0]!, name).set);
    }
    expect(accessor(messages[1]!, 'data').get).toBe(accessor(messages[0]!, 'data').get);
    expect(accessor(messages[0]!, 'data').get).toBe(accessor(frames[0]!, 'data').get);
    // Each still reads its own bytes.
    expect(Buffer.from(messages[1]!.data).equals(Buffer.from(bytes(200_000, 2)))).toBe(true);
    expect(Buffer.from(frames[0]!.payload).equals(Buffer.from(bytes(200_000, 1)))).toBe(true);
  });

  it('lets the application layer sniff a message in pieces by its first bytes, building it only when they pass', () => {
    const sniffed = (payload: Uint8Array) => {
      const lazy = events(true, 'client', encodeFrame({ opcode: 0x2, payload, maskingKey: KEY }), [65536]);
      const m = (lazy.find((e) => e.type === 'message') as { message: { data: Uint8Array } }).message;
      expect(piecesOf(m)?.built).toBe(false);
      const out = new AppLayer().process(lazy.filter((e) => e.type !== 'alert').map((e) => ({ ...e, conn: 1 }) as DissectEvent));
      return { built: piecesOf(m)!.built, app: out.filter((e) => e.type === 'app') };
    };
    // No sniffer's first byte (SignalR 0x7b, MQTT 0x10, MessagePack and CBOR containers): not built.
    expect(sniffed(new Uint8Array(300_000).fill(0x5a))).toEqual({ built: false, app: [] });
    // A MessagePack map (fixmap of one bin 32 entry): its first bytes pass, so it is read whole, and decoded.
    const bin = 300_000;
    const msgpack = Buffer.concat([Buffer.from([0x81, 0xa1, 0x6b, 0xc6]), Buffer.from([bin >>> 24, (bin >>> 16) & 0xff, (bin >>> 8) & 0xff, bin & 0xff]), Buffer.from(bytes(bin))]);
    const seen = sniffed(msgpack);
    expect(seen.built).toBe(true);
    expect(seen.app).toHaveLength(1);
    expect((seen.app[0] as { protocol: string }).protocol).toBe('msgpack');
  });

  it('gives the application layer inputs whose lazy data is one shared getter, with the first bytes in head', () => {
    // A getter made per input kept every payload alive through V8's scavenges, as the frames' did.
    const messages = [1, 2].map((seed) => {
      const lazy = events(true, 'client', encodeFrame({ opcode: 0x2, payload: bytes(200_000, seed), maskingKey: KEY }), [65536]);
      return (lazy.find((e) => e.type === 'message') as { message: Message }).message;
    });
    const inputs = messages.map((m) => messageInput(1, m, null));
    const getter = (o: object) => Object.getOwnPropertyDescriptor(o, 'data')!.get;
    expect(getter(inputs[0]!)).toBeTypeOf('function');
    expect(getter(inputs[1]!)).toBe(getter(inputs[0]!));
    expect(Buffer.from(inputs[1]!.head!).equals(Buffer.from(bytes(200_000, 2).subarray(0, 16)))).toBe(true);
    expect(piecesOf(messages[1]!)!.built).toBe(false);
    expect(Buffer.from(inputs[1]!.data).equals(Buffer.from(bytes(200_000, 2)))).toBe(true);
    // A message not in pieces: its data as it is, no head.
    const whole = (events(false, 'client', encodeFrame({ opcode: 0x2, payload: bytes(300), maskingKey: KEY }), [65536]).find((e) => e.type === 'message') as { message: Message }).message;
    const plainInput = messageInput(1, whole, null);
    expect(plainInput.data).toBe(whole.data);
    expect(plainInput.head).toBeUndefined();
  });

  it('builds text and fragmented messages as before', () => {
    const text = 'é'.repeat(20_000);
    const wire = Buffer.concat([
      encodeFrame({ opcode: 0x1, payload: text, maskingKey: KEY }),
      encodeFrame({ opcode: 0x2, payload: bytes(9000), maskingKey: KEY, fin: false }),
      encodeFrame({ opcode: 0x0, payload: bytes(7000, 2), maskingKey: KEY }),
    ]);
    const lazy = events(true, 'client', wire, [3000]);
    expect(ndjson(lazy)).toBe(ndjson(events(false, 'client', wire, [3000])));
    const messages = lazy.filter((e) => e.type === 'message').map((e) => (e as { message: { text?: string; data: Uint8Array } }).message);
    expect(messages[0]!.text).toBe(text);
    expect(Buffer.from(messages[1]!.data).equals(Buffer.concat([bytes(9000), bytes(7000, 2)]))).toBe(true);
  });
});
