// Deterministic benchmark captures (issue 8), built with the project's own recorder and
// streamed to disk with PcapStreamWriter, so generating 800 MB never holds more than one batch
// in memory. The same scale always gives the same bytes: runs on different days compare.
import { createWriteStream } from 'node:fs';
import { constants, createDeflateRaw } from 'node:zlib';
import { computeAccept, encodeFrame, PcapStreamWriter, TcpConversationRecorder } from '../dist/index.js';

export const SERVER_PORT = 8080;
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const enc = (s) => new TextEncoder().encode(s);

/** mulberry32: a small, fast, seedable PRNG, so captures are byte-identical run to run. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 256 KiB of pseudo-random bytes; binary payloads are slices of it (random bytes per frame would dominate generation time). */
function bytePool(rand) {
  const pool = new Uint8Array(256 * 1024);
  for (let i = 0; i < pool.length; i++) pool[i] = (rand() * 256) | 0;
  return pool;
}

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima'];

/** A JSON chat/tick message of roughly 60-400 bytes. */
function jsonMessage(i, rand) {
  const n = 3 + ((rand() * 50) | 0);
  const words = [];
  for (let j = 0; j < n; j++) words.push(WORDS[(rand() * WORDS.length) | 0]);
  return JSON.stringify({ id: i, type: rand() < 0.5 ? 'chat' : 'tick', user: `user${(rand() * 997) | 0}`, ts: 1_700_000_000 + i, price: Math.round(rand() * 1e6) / 100, text: words.join(' ') });
}

/** A writer over a file with backpressure: `await put(packets)`. */
function sink(path) {
  const file = createWriteStream(path, { highWaterMark: 1 << 20 });
  const writer = new PcapStreamWriter(file);
  let pending = [];
  let pendingBytes = 0;
  return {
    async put(packets) {
      for (const p of packets) {
        pending.push(p);
        pendingBytes += p.data.length;
      }
      // Batch records: one chunk per ~256 KiB instead of one write per packet.
      if (pendingBytes >= 256 * 1024) await this.flush();
    },
    async flush() {
      if (pending.length === 0) return;
      const ok = writer.write(pending);
      pending = [];
      pendingBytes = 0;
      if (!ok) await writer.drained();
    },
    async end() {
      await this.flush();
      await writer.end();
      return writer.packets;
    },
  };
}

function handshake(rec, ts, deflate) {
  const ext = deflate ? 'Sec-WebSocket-Extensions: permessage-deflate\r\n' : '';
  return [
    ...rec.open(ts),
    ...rec.data('client', enc(`GET /feed HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${ext}\r\n`), ts),
    ...rec.data('server', enc(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(KEY)}\r\n${ext}\r\n`), ts),
  ];
}

function maskKey(rand) {
  // Random per frame: a repeated key is itself an alert (RFC 6455 §5.3), which the bench should not measure.
  return Uint8Array.of((rand() * 256) | 0, (rand() * 256) | 0, (rand() * 256) | 0, (rand() * 256) | 0);
}

/**
 * The bulk capture: `frames` frames on a few long connections, both directions (about a third
 * from the client, masked), 70% JSON text, 29% binary of 1-1536 bytes, 1% binary of
 * 64-85 KiB. Each application write carries 1-12 frames, so segments hold several frames and
 * frames span segments. Returns { frames, packets }.
 */
export async function writeBulk(path, frames, seed = 1) {
  const rand = prng(seed);
  const pool = bytePool(rand);
  const out = sink(path);
  const CONNS = 4;
  const recs = [];
  let ts = 1_700_000_000;
  for (let c = 0; c < CONNS; c++) {
    const rec = new TcpConversationRecorder({ client: { ip: `192.0.2.${10 + c}`, port: 40000 + c }, server: { ip: '198.51.100.1', port: SERVER_PORT } });
    recs.push(rec);
    await out.put(handshake(rec, ts, false));
  }
  let written = 0;
  while (written < frames) {
    const rec = recs[(rand() * CONNS) | 0];
    const from = rand() < 0.33 ? 'client' : 'server';
    const batch = Math.min(frames - written, 1 + ((rand() * 12) | 0));
    const parts = [];
    for (let b = 0; b < batch; b++) {
      const r = rand();
      let opcode;
      let payload;
      if (r < 0.7) {
        opcode = 1;
        payload = enc(jsonMessage(written + b, rand));
      } else {
        opcode = 2;
        const size = r < 0.99 ? 1 + ((rand() * 1536) | 0) : 64 * 1024 + ((rand() * 21 * 1024) | 0);
        const at = (rand() * (pool.length - size)) | 0;
        payload = pool.subarray(at, at + size);
      }
      parts.push(encodeFrame({ opcode, payload, ...(from === 'client' ? { maskingKey: maskKey(rand) } : {}) }));
    }
    written += batch;
    ts += 0.0001;
    await out.put(rec.data(from, Buffer.concat(parts), ts));
  }
  for (const rec of recs) {
    await out.put(rec.data('client', encodeFrame({ opcode: 8, payload: Uint8Array.of(0x03, 0xe8), maskingKey: maskKey(rand) }), ts));
    await out.put(rec.data('server', encodeFrame({ opcode: 8, payload: Uint8Array.of(0x03, 0xe8) }), ts));
    await out.put(rec.close('server', ts));
    await out.put(rec.close('client', ts));
  }
  return { frames: frames + 2 * CONNS, packets: await out.end() };
}

async function compressor() {
  const deflate = createDeflateRaw({ windowBits: 15 });
  const chunks = [];
  deflate.on('data', (c) => chunks.push(c));
  return async (bytes) => {
    deflate.write(bytes);
    await new Promise((resolve) => deflate.flush(constants.Z_SYNC_FLUSH, resolve));
    const all = Buffer.concat(chunks.splice(0));
    return all.subarray(0, all.length - 4); // RFC 7692 §7.2.1: strip 00 00 ff ff
  };
}

/**
 * The compressed capture: `messages` JSON text messages, permessage-deflate with context
 * takeover in both directions (as ws and browsers do), several per write.
 */
export async function writeCompressed(path, messages, seed = 2) {
  const rand = prng(seed);
  const out = sink(path);
  const rec = new TcpConversationRecorder({ client: { ip: '192.0.2.50', port: 45000 }, server: { ip: '198.51.100.1', port: SERVER_PORT } });
  let ts = 1_700_000_000;
  await out.put(handshake(rec, ts, true));
  const deflaters = { client: await compressor(), server: await compressor() };
  let written = 0;
  while (written < messages) {
    const from = rand() < 0.33 ? 'client' : 'server';
    const batch = Math.min(messages - written, 1 + ((rand() * 12) | 0));
    const parts = [];
    for (let b = 0; b < batch; b++) {
      const payload = await deflaters[from](enc(jsonMessage(written + b, rand)));
      parts.push(encodeFrame({ opcode: 1, rsv1: true, payload, ...(from === 'client' ? { maskingKey: maskKey(rand) } : {}) }));
    }
    written += batch;
    ts += 0.0001;
    await out.put(rec.data(from, Buffer.concat(parts), ts));
  }
  await out.put(rec.close('server', ts));
  await out.put(rec.close('client', ts));
  return { frames: messages, packets: await out.end() };
}

/**
 * Many short connections: handshake, 3 messages each way, close handshake, FIN both ways,
 * with up to 64 connections open at once (interleaved as a busy server sees them).
 */
export async function writeManyConnections(path, connections, seed = 3) {
  const rand = prng(seed);
  const out = sink(path);
  const OPEN = 64;
  let ts = 1_700_000_000;
  let frames = 0;
  const live = [];
  let started = 0;
  while (started < connections || live.length > 0) {
    while (live.length < OPEN && started < connections) {
      const n = started++;
      const rec = new TcpConversationRecorder({
        client: { ip: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${(n & 255) || 1}`, port: 20000 + (n % 40000) },
        server: { ip: '198.51.100.1', port: SERVER_PORT },
      });
      await out.put(handshake(rec, ts, false));
      live.push({ rec, step: 0 });
    }
    const i = (rand() * live.length) | 0;
    const conn = live[i];
    ts += 0.00001;
    if (conn.step < 6) {
      const from = conn.step % 2 === 0 ? 'client' : 'server';
      await out.put(conn.rec.data(from, encodeFrame({ opcode: 1, payload: enc(jsonMessage(conn.step, rand)), ...(from === 'client' ? { maskingKey: maskKey(rand) } : {}) }), ts));
      frames++;
    } else {
      await out.put(conn.rec.data('client', encodeFrame({ opcode: 8, payload: Uint8Array.of(0x03, 0xe8), maskingKey: maskKey(rand) }), ts));
      await out.put(conn.rec.data('server', encodeFrame({ opcode: 8, payload: Uint8Array.of(0x03, 0xe8) }), ts));
      await out.put(conn.rec.close('server', ts));
      await out.put(conn.rec.close('client', ts));
      frames += 2;
      live.splice(i, 1);
    }
    conn.step++;
  }
  return { frames, packets: await out.end() };
}
