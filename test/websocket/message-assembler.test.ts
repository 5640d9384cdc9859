import { describe, expect, it } from 'vitest';
import type { ExtensionDecoder } from '../../src/websocket/extension.js';
import { MessageAssembler } from '../../src/websocket/message-assembler.js';
import type { Frame, Message } from '../../src/websocket/types.js';
import { collected } from '../helpers/gc.js';
import { codes, makeFrame } from './frame-factory.js';

const TEXT = 1, BINARY = 2, CONT = 0, CLOSE = 8, PING = 9;

function feed(assembler: MessageAssembler, frames: Frame[]): Message[] {
  return frames.flatMap((f) => assembler.push(f));
}

describe('MessageAssembler (RFC 6455 §5.4)', () => {
  it('joins "Hel" + "lo" (the §5.7 fragmented example)', () => {
    const a = new MessageAssembler({ direction: 'server' });
    const first = makeFrame({ opcode: TEXT, fin: false, data: 'Hel' });
    const last = makeFrame({ opcode: CONT, fin: true, data: 'lo' });
    expect(a.push(first)).toEqual([]);
    expect(a.inMessage).toBe(true);
    const [msg] = a.push(last);
    expect(msg).toMatchObject({ type: 'text', text: 'Hello', fragments: 2, length: 5, wireLength: 5, truncated: false, compressed: false });
    expect(msg!.frameOffsets).toEqual([first.offset, last.offset]);
    expect(first.alerts).toEqual([]);
    expect(last.alerts).toEqual([]);
  });

  it('keeps no view of the read chunks an open fragmented message came from', async () => {
    const a = new MessageAssembler({ direction: 'server' });
    // Each fragment a 1-byte view of its own 256 KiB chunk, as the parser hands them out.
    const refs: WeakRef<ArrayBuffer>[] = [];
    const fragment = (opcode: number, fin: boolean, byte: number) => {
      const chunk = new Uint8Array(256 * 1024);
      chunk[1000] = byte;
      refs.push(new WeakRef(chunk.buffer));
      const view = chunk.subarray(1000, 1001);
      return makeFrame({ opcode, fin, data: view, payload: view, header: chunk.subarray(998, 1000) });
    };
    a.push(fragment(TEXT, false, 0x61));
    for (let i = 0; i < 5; i++) a.push(fragment(CONT, false, 0x62));
    const gone: boolean[] = [];
    for (const ref of refs) gone.push(await collected(ref));
    expect(gone).toEqual(refs.map(() => true));
    const [msg] = a.push(makeFrame({ opcode: CONT, data: 'z' }));
    expect(msg).toMatchObject({ text: 'abbbbbz', fragments: 7, length: 7 });
  });

  it('keeps of an open message no more than the reassembly limit, however many fragments', () => {
    const a = new MessageAssembler({ direction: 'server', limits: { maxMessageSize: 1000 } });
    a.push(makeFrame({ opcode: BINARY, fin: false, data: new Uint8Array(10) }));
    const data = new Uint8Array(1000).fill(9);
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 2000; i++) a.push(makeFrame({ opcode: CONT, fin: false, data }));
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
    const [msg] = a.push(makeFrame({ opcode: CONT, data: new Uint8Array(1) }));
    expect(msg).toMatchObject({ truncated: true, fragments: 2002, wireLength: 2_000_011 });
    expect(msg!.data.length).toBe(1000);
  });

  it('keeps a byte order mark at the start of a text message: it crossed the wire', () => {
    const a = new MessageAssembler({ direction: 'server' });
    const [msg] = a.push(makeFrame({ opcode: TEXT, data: new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69]) }));
    expect(msg!.text).toBe('\ufeffhi');
    const [close] = a.push(makeFrame({ opcode: CLOSE, data: new Uint8Array([0x03, 0xe8, 0xef, 0xbb, 0xbf, 0x21]) }));
    expect(close!.close?.reason).toBe('\ufeff!');
  });

  it('lets a control frame interleave a fragmented message without breaking it (§5.4)', () => {
    const a = new MessageAssembler({ direction: 'client' });
    const msgs = feed(a, [
      makeFrame({ opcode: TEXT, fin: false, direction: 'client', data: 'frag' }),
      makeFrame({ opcode: PING, direction: 'client', data: 'p' }),
      makeFrame({ opcode: CONT, fin: false, direction: 'client', data: 'ment' }),
      makeFrame({ opcode: CONT, fin: true, direction: 'client', data: 'ed' }),
    ]);
    expect(msgs.map((m) => [m.type, m.text ?? Buffer.from(m.data).toString()])).toEqual([['ping', 'p'], ['text', 'fragmented']]);
    expect(msgs.flatMap((m) => m.alerts)).toEqual([]);
  });

  it('checks UTF-8 on the whole message, so a code point split across fragments is valid', () => {
    const euro = new TextEncoder().encode('€'); // e2 82 ac
    const a = new MessageAssembler({ direction: 'server' });
    const [msg] = feed(a, [makeFrame({ opcode: TEXT, fin: false, data: euro.subarray(0, 1) }), makeFrame({ opcode: CONT, data: euro.subarray(1) })]);
    expect(msg!.text).toBe('€');
    expect(msg!.alerts).toEqual([]);
  });

  it('flags invalid UTF-8 in a text message (§8.1) and keeps the bytes', () => {
    const a = new MessageAssembler({ direction: 'server' });
    const [msg] = a.push(makeFrame({ opcode: TEXT, data: new Uint8Array([0xce, 0xba, 0xe1, 0xbd]) }));
    expect(codes(msg!.alerts)).toEqual(['message.utf8-invalid']);
    expect(msg!.text).toBeUndefined();
    expect([...msg!.data]).toEqual([0xce, 0xba, 0xe1, 0xbd]);
  });

  it('does not check UTF-8 on binary messages', () => {
    const [msg] = new MessageAssembler({ direction: 'server' }).push(makeFrame({ opcode: BINARY, data: new Uint8Array([0xff]) }));
    expect(msg!.alerts).toEqual([]);
  });

  it('flags a continuation with no message open (§5.4) and produces no message', () => {
    const a = new MessageAssembler({ direction: 'server' });
    const stray = makeFrame({ opcode: CONT, data: 'x' });
    expect(a.push(stray)).toEqual([]);
    expect(codes(stray.alerts)).toEqual(['frame.continuation-unexpected']);
  });

  it('flags a new data frame while a message is open, abandons the old one and carries on', () => {
    const a = new MessageAssembler({ direction: 'server' });
    a.push(makeFrame({ opcode: TEXT, fin: false, data: 'abc' }));
    const intruder = makeFrame({ opcode: BINARY, data: new Uint8Array([1, 2]) });
    const msgs = a.push(intruder);
    expect(codes(intruder.alerts)).toEqual(['frame.message-interleaved']);
    expect(msgs.map((m) => [m.type, m.truncated, m.length])).toEqual([['text', true, 3], ['binary', false, 2]]);
    expect(a.inMessage).toBe(false);
  });

  it('decodes close frames and flags data frames after this side closed (§5.5.1)', () => {
    const a = new MessageAssembler({ direction: 'client' });
    const [close] = a.push(makeFrame({ opcode: CLOSE, direction: 'client', data: new Uint8Array([0x03, 0xe8, 0x6f, 0x6b]) }));
    expect(close!.close).toEqual({ code: 1000, codeName: 'Normal Closure', reason: 'ok', reasonValid: true });
    expect(a.closed).toBe(true);
    const late = makeFrame({ opcode: TEXT, direction: 'client', data: 'late' });
    a.push(late);
    expect(codes(late.alerts)).toEqual(['frame.after-close']);
    // Control frames after Close are not data frames: not flagged.
    const ping = makeFrame({ opcode: PING, direction: 'client' });
    a.push(ping);
    expect(ping.alerts).toEqual([]);
  });

  it('puts close-body violations on the close message', () => {
    const [close] = new MessageAssembler({ direction: 'server' }).push(makeFrame({ opcode: CLOSE, data: new Uint8Array([0x03, 0xed]) }));
    expect(codes(close!.alerts)).toEqual(['close.code-invalid']);
  });

  it('keeps at most maxMessageSize bytes, reports the full length and says so once', () => {
    const a = new MessageAssembler({ direction: 'server', limits: { maxMessageSize: 4 } });
    const [msg] = feed(a, [makeFrame({ opcode: TEXT, fin: false, data: 'abc' }), makeFrame({ opcode: CONT, fin: false, data: 'def' }), makeFrame({ opcode: CONT, data: 'gh' })]);
    expect(msg!.data.length).toBe(4);
    expect(msg!.length).toBe(8);
    expect(msg!.truncated).toBe(true);
    expect(msg!.text).toBe('abcd');
    expect(codes(msg!.alerts)).toEqual(['message.too-large']);
  });

  it('says a message is over the limit even when the limit is reached exactly or the frames were already cut', () => {
    const exact = new MessageAssembler({ direction: 'server', limits: { maxMessageSize: 4 } });
    const [m1] = feed(exact, [makeFrame({ opcode: TEXT, fin: false, data: 'abcd' }), makeFrame({ opcode: CONT, data: 'ef' })]);
    expect(codes(m1!.alerts)).toEqual(['message.too-large']);
    expect(m1).toMatchObject({ truncated: true, text: 'abcd' });
    // Frames cut by --max-frame: 2 bytes kept of 10 each, 20 on the wire, limit 8.
    const cut = new MessageAssembler({ direction: 'server', limits: { maxMessageSize: 8 } });
    const [m2] = feed(cut, [makeFrame({ opcode: BINARY, fin: false, data: 'ab', payloadLength: 10, truncated: true }), makeFrame({ opcode: CONT, data: 'cd', payloadLength: 10, truncated: true })]);
    expect(codes(m2!.alerts)).toEqual(['message.too-large']);
    expect(m2).toMatchObject({ truncated: true, wireLength: 20 });
  });

  it('reports a fragmented message left open at the end of the stream', () => {
    const a = new MessageAssembler({ direction: 'server' });
    a.push(makeFrame({ opcode: BINARY, fin: false, data: new Uint8Array(3) }));
    const [msg] = a.end();
    expect(msg).toMatchObject({ type: 'binary', truncated: true, fragments: 1 });
    expect(codes(msg!.alerts)).toEqual(['frame.incomplete']);
    expect(a.end()).toEqual([]);
  });

  it('hands complete data messages to the negotiated extensions (RSV handling is theirs)', () => {
    const seen: string[] = [];
    const upper: ExtensionDecoder = {
      name: 'x-upper',
      rsvMask: 4,
      checkFrame: (frame, first) => {
        seen.push(`${frame.opcodeName}:${first}`);
        return [];
      },
      decodeMessage: (data, first) => {
        if (!first.rsv1) return { data, transformed: false, truncated: false, length: data.length, alerts: [] };
        const out = new TextEncoder().encode(new TextDecoder().decode(data).toUpperCase() + '!');
        return { data: out, transformed: true, truncated: false, length: out.length, alerts: [] };
      },
    };
    const a = new MessageAssembler({ direction: 'server', extensions: [upper] });
    const msgs = feed(a, [
      makeFrame({ opcode: TEXT, fin: false, rsv1: true, data: 'he' }),
      makeFrame({ opcode: PING }),
      makeFrame({ opcode: CONT, data: 'y' }),
      makeFrame({ opcode: TEXT, data: 'plain' }),
    ]);
    expect(seen).toEqual(['text:true', 'ping:false', 'continuation:false', 'text:true']);
    expect(msgs.map((m) => [m.type, m.text, m.compressed, m.wireLength, m.length])).toEqual([
      ['ping', undefined, false, 0, 0],
      ['text', 'HEY!', true, 3, 4],
      ['text', 'plain', false, 5, 5],
    ]);
  });
});
