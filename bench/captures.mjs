// Deterministic benchmark captures (issue 8), built with the project's own recorder and
// streamed to disk with PcapStreamWriter, so generating 800 MB never holds more than one batch
// in memory. The same scale always gives the same bytes: runs on different days compare.
import { createCipheriv } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, createDeflateRaw } from 'node:zlib';
import { computeAccept, encodeFrame, hkdfExpandLabel, PcapStreamWriter, TcpConversationRecorder } from '../dist/index.js';

export const SERVER_PORT = 8080;

/**
 * Builds the capture `name` once per scale in `dir` (`build(path)` returns its facts, kept
 * beside it as JSON); a later run with the same BENCH_DIR reuses it, the bytes being deterministic.
 */
export async function benchCapture(dir, scale, name, build) {
  const path = join(dir, `${name}-${scale}.pcap`);
  const meta = `${path}.json`;
  if (existsSync(meta)) return { path, ...JSON.parse(readFileSync(meta, 'utf8')) };
  const start = Date.now();
  const info = await build(path);
  process.stderr.write(`bench: built ${path} (${(statSync(path).size / 1e6).toFixed(1)} MB) in ${((Date.now() - start) / 1000).toFixed(1)} s\n`);
  writeFileSync(meta, JSON.stringify(info));
  return { path, ...info };
}
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

function handshake(rec, ts, deflate, target = '/feed') {
  const ext = deflate ? 'Sec-WebSocket-Extensions: permessage-deflate\r\n' : '';
  return [
    ...rec.open(ts),
    ...rec.data('client', enc(`GET ${target} HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${ext}\r\n`), ts),
    ...rec.data('server', enc(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(KEY)}\r\n${ext}\r\n`), ts),
  ];
}

function maskKey(rand) {
  // Random per frame: a repeated key is itself an alert (RFC 6455 §5.3), which the bench should not measure.
  return Uint8Array.of((rand() * 256) | 0, (rand() * 256) | 0, (rand() * 256) | 0, (rand() * 256) | 0);
}

/**
 * The bulk traffic: `frames` frames on `conns` long connections, both directions (about a third
 * from the client, masked), 70% JSON text, 29% binary of 1-1536 bytes, 1% binary of
 * 64-85 KiB. Each application write carries 1-12 frames. Yields { conn, from, bytes, count }
 * per write; the same seed gives the same writes, in clear (writeBulk) or in TLS (writeBulkTls).
 */
function* bulkWrites(frames, rand, conns) {
  const pool = bytePool(rand);
  let written = 0;
  while (written < frames) {
    const conn = (rand() * conns) | 0;
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
    yield { conn, from, bytes: Buffer.concat(parts), count: batch };
  }
}

/** Each connection's closing handshake: a close frame each way. */
function closeFrames(rand) {
  return { client: encodeFrame({ opcode: 8, payload: Uint8Array.of(0x03, 0xe8), maskingKey: maskKey(rand) }), server: encodeFrame({ opcode: 8, payload: Uint8Array.of(0x03, 0xe8) }) };
}

/**
 * The bulk capture: the bulk writes on four connections, so segments hold several frames and
 * frames span segments. Returns { frames, packets }.
 */
export async function writeBulk(path, frames, seed = 1) {
  const rand = prng(seed);
  const out = sink(path);
  const CONNS = 4;
  const recs = [];
  let ts = 1_700_000_000;
  for (let c = 0; c < CONNS; c++) {
    const rec = new TcpConversationRecorder({ client: { ip: `192.0.2.${10 + c}`, port: 40000 + c }, server: { ip: '198.51.100.1', port: SERVER_PORT } });
    recs.push(rec);
    await out.put(handshake(rec, ts, false));
  }
  for (const write of bulkWrites(frames, rand, CONNS)) {
    ts += 0.0001;
    await out.put(recs[write.conn].data(write.from, write.bytes, ts));
  }
  for (const rec of recs) {
    const close = closeFrames(rand);
    await out.put(rec.data('client', close.client, ts));
    await out.put(rec.data('server', close.server, ts));
    await out.put(rec.close('server', ts));
    await out.put(rec.close('client', ts));
  }
  return { frames: frames + 2 * CONNS, packets: await out.end() };
}

export const TLS_SERVER_PORT = 8443;

/** A TLS 1.3 record sender for one direction with TLS_AES_128_GCM_SHA256 (RFC 8446 §5.2, §7.3). */
function tls13Sender(secret) {
  const key = hkdfExpandLabel('sha256', secret, 'key', new Uint8Array(0), 16);
  const iv = hkdfExpandLabel('sha256', secret, 'iv', new Uint8Array(0), 12);
  let seq = 0n;
  return (type, content) => {
    const records = [];
    // At most 2^14 bytes of content per record (§5.1), as TLS stacks cut large writes.
    for (let at = 0; at < content.length || at === 0; at += 16384) {
      const inner = Buffer.concat([content.subarray(at, at + 16384), Buffer.of(type)]);
      const header = Buffer.from([23, 3, 3, (inner.length + 16) >> 8, (inner.length + 16) & 0xff]);
      const nonce = Buffer.from(iv);
      nonce.writeBigUInt64BE(nonce.readBigUInt64BE(4) ^ seq++, 4);
      const cipher = createCipheriv('aes-128-gcm', key, nonce);
      cipher.setAAD(header);
      records.push(header, cipher.update(inner), cipher.final(), cipher.getAuthTag());
      if (content.length === 0) break;
    }
    return Buffer.concat(records);
  };
}

function handshakeMessage(type, body) {
  return Buffer.concat([Buffer.from([type, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
}

const u16 = (n) => Buffer.from([n >> 8, n & 0xff]);
const extension = (type, body) => Buffer.concat([u16(type), u16(body.length), body]);
const ALPN_HTTP11 = extension(16, Buffer.from([0, 9, 8, ...Buffer.from('http/1.1')]));

/**
 * A TLS 1.3 handshake as a peer that is not verified would see it: ClientHello and ServerHello
 * in clear, the server's EncryptedExtensions (ALPN http/1.1), an empty Certificate, a
 * CertificateVerify and Finished under its handshake secret, the client's Finished under its
 * own. Nothing checks signatures or Finished here (neither wsdump nor tshark do). Returns the
 * application data senders and the key log lines.
 */
function tls13Handshake(rec, ts, rand) {
  const bytes = (n) => Buffer.from(Array.from({ length: n }, () => (rand() * 256) | 0));
  const clientRandom = bytes(32);
  const secrets = { ch: bytes(32), sh: bytes(32), c0: bytes(32), s0: bytes(32) };
  const keyShare = (share) => extension(51, share);
  const hello = handshakeMessage(1, Buffer.concat([u16(0x0303), clientRandom, Buffer.from([32]), bytes(32), u16(2), u16(0x1301), Buffer.from([1, 0]), (() => {
    const ext = Buffer.concat([extension(0, Buffer.concat([u16(8), Buffer.from([0]), u16(5), Buffer.from('bench')])), extension(10, Buffer.from([0, 2, 0, 0x1d])), extension(13, Buffer.from([0, 2, 4, 3])), extension(43, Buffer.from([2, 3, 4])), ALPN_HTTP11, keyShare(Buffer.concat([u16(36), u16(0x1d), u16(32), bytes(32)]))]);
    return Buffer.concat([u16(ext.length), ext]);
  })()]));
  const serverHello = handshakeMessage(2, Buffer.concat([u16(0x0303), bytes(32), Buffer.from([0]), u16(0x1301), Buffer.from([0]), (() => {
    const ext = Buffer.concat([extension(43, u16(0x0304)), keyShare(Buffer.concat([u16(0x1d), u16(32), bytes(32)]))]);
    return Buffer.concat([u16(ext.length), ext]);
  })()]));
  const plain = (type, body) => Buffer.concat([Buffer.from([type, 3, 3]), u16(body.length), body]);
  const server = tls13Sender(secrets.sh);
  const client = tls13Sender(secrets.ch);
  const flight = Buffer.concat([handshakeMessage(8, Buffer.concat([u16(ALPN_HTTP11.length), ALPN_HTTP11])), handshakeMessage(11, Buffer.from([0, 0, 0, 0])), handshakeMessage(15, Buffer.concat([u16(0x0403), u16(64), bytes(64)])), handshakeMessage(20, bytes(32))]);
  const packets = [...rec.open(ts)];
  const helloRecord = plain(22, hello);
  helloRecord[2] = 1; // legacy_record_version 0x0301 in a first ClientHello (§5.1)
  packets.push(...rec.data('client', helloRecord, ts));
  packets.push(...rec.data('server', Buffer.concat([plain(22, serverHello), server(22, flight)]), ts));
  packets.push(...rec.data('client', client(22, handshakeMessage(20, bytes(32))), ts));
  const hex = (b) => b.toString('hex');
  const lines = [
    `CLIENT_HANDSHAKE_TRAFFIC_SECRET ${hex(clientRandom)} ${hex(secrets.ch)}`,
    `SERVER_HANDSHAKE_TRAFFIC_SECRET ${hex(clientRandom)} ${hex(secrets.sh)}`,
    `CLIENT_TRAFFIC_SECRET_0 ${hex(clientRandom)} ${hex(secrets.c0)}`,
    `SERVER_TRAFFIC_SECRET_0 ${hex(clientRandom)} ${hex(secrets.s0)}`,
  ];
  return { packets, send: { client: tls13Sender(secrets.c0), server: tls13Sender(secrets.s0) }, lines };
}

/**
 * The bulk capture inside TLS 1.3 (TLS_AES_128_GCM_SHA256): the same writes as writeBulk with
 * the same seed, each sealed in records of at most 16 KiB as a TLS stack writes them, on four
 * connections to port 8443, and the key log that decrypts them at `keylog`.
 */
export async function writeBulkTls(path, keylog, frames, seed = 1) {
  const rand = prng(seed);
  const keyRand = prng(seed + 1000);
  const out = sink(path);
  const CONNS = 4;
  const conns = [];
  const lines = [];
  let ts = 1_700_000_000;
  for (let c = 0; c < CONNS; c++) {
    const rec = new TcpConversationRecorder({ client: { ip: `192.0.2.${10 + c}`, port: 40000 + c }, server: { ip: '198.51.100.1', port: TLS_SERVER_PORT } });
    const tls = tls13Handshake(rec, ts, keyRand);
    lines.push(...tls.lines);
    await out.put(tls.packets);
    await out.put(rec.data('client', tls.send.client(23, enc(`GET /feed HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`)), ts));
    await out.put(rec.data('server', tls.send.server(23, enc(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(KEY)}\r\n\r\n`)), ts));
    conns.push({ rec, send: tls.send });
  }
  writeFileSync(keylog, `${lines.join('\n')}\n`, { mode: 0o600 });
  for (const write of bulkWrites(frames, rand, CONNS)) {
    ts += 0.0001;
    const c = conns[write.conn];
    await out.put(c.rec.data(write.from, c.send[write.from](23, write.bytes), ts));
  }
  for (const c of conns) {
    const close = closeFrames(rand);
    await out.put(c.rec.data('client', c.send.client(23, close.client), ts));
    await out.put(c.rec.data('server', c.send.server(23, close.server), ts));
    await out.put(c.rec.close('server', ts));
    await out.put(c.rec.close('client', ts));
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

/**
 * A Socket.IO session of `events` application messages (issue 20's benchmark), on four
 * connections to /socket.io/?EIO=4&transport=websocket as socket.io 4 writes them: the
 * Engine.IO open packet and namespace CONNECTs, then server broadcasts (`42["pushMsg",{…}]`,
 * 55%), client events with an ack id answered by the server's ACK (`42N["sendMsg",…]` then
 * `43N[…]`, 2 × 15%), events in a namespace (10%), binary events with one attachment (a text
 * packet `451-[…]` and a binary one, 4%), and an Engine.IO ping/pong every 25 events per
 * connection. Several packets share a TCP segment, as a busy server's writes do.
 * Returns { frames, packets, events }.
 */
export async function writeSocketIo(path, events, seed = 4) {
  const rand = prng(seed);
  const pool = bytePool(rand);
  const out = sink(path);
  const CONNS = 4;
  const conns = [];
  let ts = 1_700_000_000;
  let frames = 0;
  const frame = (from, opcode, payload) => {
    frames++;
    return encodeFrame({ opcode, payload, ...(from === 'client' ? { maskingKey: maskKey(rand) } : {}) });
  };
  const text = (from, s) => frame(from, 1, enc(s));
  for (let c = 0; c < CONNS; c++) {
    const rec = new TcpConversationRecorder({ client: { ip: `192.0.2.${50 + c}`, port: 41000 + c }, server: { ip: '198.51.100.2', port: SERVER_PORT } });
    const sid = `bench${c}sid${'x'.repeat(12)}`;
    conns.push({ rec, ack: 0, sinceBeat: 0 });
    await out.put(handshake(rec, ts, false, '/socket.io/?EIO=4&transport=websocket'));
    await out.put(rec.data('server', text('server', `0{"sid":"${sid}","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`), ts));
    await out.put(rec.data('client', Buffer.concat([text('client', '40'), text('client', '40/chat,')]), ts));
    await out.put(rec.data('server', Buffer.concat([text('server', `40{"sid":"${sid}n"}`), text('server', `40/chat,{"sid":"${sid}c"}`)]), ts));
  }
  let made = 0;
  while (made < events) {
    const c = conns[(rand() * CONNS) | 0];
    const writes = { client: [], server: [] };
    // A write of 1-8 application messages, as a busy peer batches them.
    const batch = 1 + ((rand() * 8) | 0);
    for (let b = 0; b < batch && made < events; b++) {
      const r = rand();
      const i = made;
      if (r < 0.55) {
        writes.server.push(text('server', `42["pushMsg",{"id":${i},"user":"user${(rand() * 997) | 0}","text":"${WORDS[(rand() * WORDS.length) | 0]} ${WORDS[(rand() * WORDS.length) | 0]}","ts":${1_700_000_000 + i}}]`));
        made++;
      } else if (r < 0.85) {
        const id = c.ack++;
        writes.client.push(text('client', `42${id}["sendMsg","${WORDS[(rand() * WORDS.length) | 0]} ${i}"]`));
        writes.server.push(text('server', `43${id}[{"ok":true,"id":${i}}]`));
        made += 2;
      } else if (r < 0.96) {
        writes.client.push(text('client', `42/chat,["chat message",{"text":"${WORDS[(rand() * WORDS.length) | 0]}","n":${i}}]`));
        made++;
      } else {
        const size = 16 + ((rand() * 1024) | 0);
        const at = (rand() * (pool.length - size)) | 0;
        writes.client.push(text('client', `451-["upload",{"_placeholder":true,"num":0},"file${i}.bin"]`), frame('client', 2, pool.subarray(at, at + size)));
        made++;
      }
      if (++c.sinceBeat >= 25) {
        c.sinceBeat = 0;
        writes.server.push(text('server', '2'));
        writes.client.push(text('client', '3'));
        made += 2;
      }
    }
    ts += 0.0001;
    if (writes.client.length > 0) await out.put(c.rec.data('client', Buffer.concat(writes.client), ts));
    if (writes.server.length > 0) await out.put(c.rec.data('server', Buffer.concat(writes.server), ts));
  }
  for (const { rec } of conns) {
    const close = closeFrames(rand);
    frames += 2;
    await out.put(rec.data('client', close.client, ts));
    await out.put(rec.data('server', close.server, ts));
    await out.put(rec.close('server', ts));
    await out.put(rec.close('client', ts));
  }
  return { frames, packets: await out.end(), events: made };
}
