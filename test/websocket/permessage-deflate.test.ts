import { constants, createDeflateRaw, deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { TableRenderer } from '../../src/render/table.js';
import { eventToJson } from '../../src/render/json.js';
import { ConnectionDissector } from '../../src/engine/connection-dissector.js';
import type { DissectEvent } from '../../src/engine/events.js';
import { encodeFrame } from '../../src/websocket/frame-encoder.js';
import { permessageDeflate } from '../../src/websocket/permessage-deflate.js';
import { WebSocketSession, type SessionEvent } from '../../src/websocket/session.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/**
 * A real compressor as a permessage-deflate sender runs it (RFC 7692 §7.2.1): one raw deflate
 * stream, flushed with Z_SYNC_FLUSH after each message, the 00 00 ff ff tail removed.
 */
async function compressMessages(texts: string[], windowBits: number, contextTakeover = true): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  let deflate = createDeflateRaw({ windowBits });
  for (const text of texts) {
    if (!contextTakeover) deflate = createDeflateRaw({ windowBits });
    const chunks: Buffer[] = [];
    const onData = (c: Buffer) => chunks.push(c);
    deflate.on('data', onData);
    deflate.write(text);
    await new Promise<void>((resolve) => deflate.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    deflate.off('data', onData);
    const all = Buffer.concat(chunks);
    expect([...all.subarray(-4)]).toEqual([0, 0, 0xff, 0xff]);
    out.push(new Uint8Array(all.subarray(0, -4)));
  }
  deflate.close();
  return out;
}

const frames = (payloads: Uint8Array[]) => payloads.map((p) => encodeFrame({ opcode: 1, rsv1: true, payload: p }));
const texts = (events: (SessionEvent | DissectEvent)[]) => events.flatMap((e) => (e.type === 'message' ? [e.message.text ?? null] : []));
const codes = (events: (SessionEvent | DissectEvent)[]) =>
  events.flatMap((e) => (e.type === 'alert' ? [e.alert.code] : e.type === 'frame' ? e.frame.alerts.map((a) => a.code) : e.type === 'message' ? e.message.alerts.map((a) => a.code) : []));

const session = (serverNoContextTakeover = false) =>
  new WebSocketSession({ extensions: [permessageDeflate({ client: { noContextTakeover: false, maxWindowBits: 15 }, server: { noContextTakeover: serverNoContextTakeover, maxWindowBits: 15 } })] });

const MESSAGES = ['The quick brown fox jumps over the lazy dog. '.repeat(4), 'The quick brown fox jumps over the lazy dog again.', 'and the lazy dog, the quick brown fox.'];

describe('permessage-deflate inflation (RFC 7692)', () => {
  it.each([8, 9, 10, 11, 12, 13, 14, 15])('inflates a shared-context stream compressed with window bits %i', async (bits) => {
    const s = session();
    const events = [...frames(await compressMessages(MESSAGES, bits)).flatMap((f) => s.push('server', f)), ...s.finish()];
    expect(texts(events)).toEqual(MESSAGES);
    expect(codes(events)).toEqual([]);
  });

  it('inflates a message larger than an output chunk, and one that refers back into it', async () => {
    const long = Array.from({ length: 20_000 }, (_, i) => `line ${i} of ${i % 7 ? 'text' : 'more text'}`).join('\n');
    expect(long.length).toBeGreaterThan(3 * 64 * 1024);
    const s = session();
    const sent = [long, long.slice(-5_000)];
    const events = [...frames(await compressMessages(sent, 15)).flatMap((f) => s.push('server', f)), ...s.finish()];
    expect(texts(events)).toEqual(sent);
    expect(codes(events)).toEqual([]);
  });

  it('starts a new stream after a message that ends with a final block (§7.2.3.4)', () => {
    // Each message compressed on its own and finished (BFINAL set), the tail not stripped:
    // the receiver's appended 00 00 ff ff follows the end of the stream.
    const s = session();
    const sent = ['first, finished', 'second, finished too', 'third'];
    const events = [...frames(sent.map((text) => new Uint8Array(deflateRawSync(text)))).flatMap((f) => s.push('server', f)), ...s.finish()];
    expect(texts(events)).toEqual(sent);
    expect(codes(events)).toEqual([]);
  });

  it('inflates messages compressed without context takeover', async () => {
    const s = session(true);
    const events = [...frames(await compressMessages(MESSAGES, 15, false)).flatMap((f) => s.push('server', f)), ...s.finish()];
    expect(texts(events)).toEqual(MESSAGES);
  });

  it('reports a corrupt stream once, shows the bytes compressed, and carries on', async () => {
    const s = session(true);
    const [good] = await compressMessages(['still fine'], 15);
    const events = [...s.push('server', encodeFrame({ opcode: 1, rsv1: true, payload: hex('ff ff ff ff 00 12') })), ...s.push('server', frames([good!])[0]!), ...s.finish()];
    expect(codes(events)).toEqual(['deflate.inflate-failed']);
    expect(texts(events)).toEqual([null, 'still fine']);
    const failed = events.find((e) => e.type === 'message')!;
    expect(failed.type === 'message' && failed.message).toMatchObject({ compressed: true, length: 6 });
  });

  it('stops a bomb on a shared-window stream at the limit and keeps decoding what follows', async () => {
    const s = new WebSocketSession({
      limits: { maxInflatedSize: 64 * 1024 },
      extensions: [permessageDeflate({ client: { noContextTakeover: false, maxWindowBits: 15 }, server: { noContextTakeover: false, maxWindowBits: 15 } })],
    });
    const [bomb, after] = await compressMessages(['\0'.repeat(8 * 1024 * 1024), 'a message that stands alone'], 15);
    expect(bomb!.length).toBeLessThan(16 * 1024);
    const events = [...frames([bomb!, after!]).flatMap((f) => s.push('server', f)), ...s.finish()];
    expect(codes(events)).toEqual(['deflate.too-large']);
    const [first, second] = events.flatMap((e) => (e.type === 'message' ? [e.message] : []));
    expect(first).toMatchObject({ truncated: true, compressed: true, length: 64 * 1024 });
    expect(first!.data.length).toBe(0);
    // The window was lost with the bomb; this message does not refer back into it.
    expect(second!.text).toBe('a message that stands alone');
  });

  it('after a failure with a shared window, later back-references fail loudly, never silently wrong', async () => {
    const s = session();
    const [first, second] = await compressMessages(['Hello Hello Hello world', 'Hello Hello Hello world'], 15);
    // The first message is lost to corruption: the second refers back into it.
    const corrupt = Uint8Array.from(first!, (b, i) => (i === 0 ? b ^ 0xff : b));
    const events = [...frames([corrupt, second!]).flatMap((f) => s.push('server', f)), ...s.finish()];
    expect(texts(events)).toEqual([null, null]);
    expect(codes(events)).toEqual(['deflate.inflate-failed', 'deflate.context-unknown']);
  });
});

describe('permessage-deflate without the handshake (mid-stream)', () => {
  it('says once that the shared history is unknown, and inflates what does not depend on it', async () => {
    const d = new ConnectionDissector(1, { midstream: true });
    // RFC 7692 §7.2.3.2: the second "Hello" refers back to the first, which is not in the capture.
    const events = [
      ...d.start(),
      ...d.data('server', hex('c1 05 f2 00 11 00 00')),
      ...d.data('server', hex('c1 05 f2 00 11 00 00')),
      ...d.data('server', hex('c1 07 f2 48 cd c9 c9 07 00')),
      ...d.data('server', hex('c1 05 f2 00 11 00 00')),
      ...d.finish(),
    ];
    expect(codes(events)).toEqual(['handshake.not-seen', 'deflate.context-unknown']);
    // Undecodable messages are not judged as text; once a whole message is known, later ones inflate.
    expect(texts(events)).toEqual([null, null, 'Hello', 'Hello']);
    const messages = events.flatMap((e) => (e.type === 'message' ? [e.message] : []));
    expect(messages.map((m) => [m.compressed, m.inflated])).toEqual([[true, false], [true, false], [true, true], [true, true]]);
    // The views say which were not inflated instead of "inflated 5 → 5 bytes (100%)".
    const table = new TableRenderer({ colorLevel: 0, width: 120 });
    const lines = events.map((e) => table.render(e)).join('');
    expect(lines.match(/└ text message, 5 bytes compressed, not inflated: f2 00 11 00 00\n/g)).toHaveLength(2);
    expect(lines.match(/└ text message, inflated [75] → 5 bytes \(1[04]0%\): "Hello"\n/g)).toHaveLength(2);
    const json = events.filter((e) => e.type === 'message').map((e) => eventToJson(e));
    expect(json.map((m) => [m.compressed, m.inflated])).toEqual([[true, false], [true, false], [true, true], [true, true]]);
  });
});
