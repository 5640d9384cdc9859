// permessage-deflate cost (issue 5): the same messages dissected from an uncompressed and from a
// compressed capture (context takeover, as ws and browsers do), in the same run. Prints a
// Markdown table; run with `npm run bench` (needs the build: npm ci or npm run build).
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, createDeflateRaw } from 'node:zlib';
import { buildPcapFile, computeAccept, dissect, encodeFrame, TcpConversationRecorder } from '../dist/index.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 60_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const enc = (s) => new TextEncoder().encode(s);

/** Deterministic JSON-ish chat messages of 80-400 bytes. */
function message(i) {
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];
  const body = Array.from({ length: 5 + ((i * 7919) % 40) }, (_, j) => words[(i + j * 31) % words.length]).join(' ');
  return JSON.stringify({ id: i, user: `user${i % 97}`, ts: 1_700_000_000 + i, text: body });
}

async function compressor() {
  const deflate = createDeflateRaw({ windowBits: 15 });
  const chunks = [];
  deflate.on('data', (c) => chunks.push(c));
  return async (text) => {
    deflate.write(text);
    await new Promise((resolve) => deflate.flush(constants.Z_SYNC_FLUSH, resolve));
    const all = Buffer.concat(chunks.splice(0));
    return all.subarray(0, all.length - 4); // RFC 7692 §7.2.1: strip 00 00 ff ff
  };
}

async function buildCapture(compressed) {
  const rec = new TcpConversationRecorder({ client: { ip: '192.0.2.1', port: 50000 }, server: { ip: '192.0.2.2', port: 8080 } });
  const ext = compressed ? 'Sec-WebSocket-Extensions: permessage-deflate\r\n' : '';
  const packets = [
    ...rec.open(1),
    ...rec.data('client', enc(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${ext}\r\n`), 1),
    ...rec.data('server', enc(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(KEY)}\r\n${ext}\r\n`), 1),
  ];
  const deflate = await compressor();
  // Several frames per segment, as a busy server sends them.
  let batch = [];
  for (let i = 0; i < MESSAGES; i++) {
    const text = message(i);
    const payload = compressed ? await deflate(text) : enc(text);
    batch.push(encodeFrame({ opcode: 1, rsv1: compressed, payload }));
    if (batch.length === 8) {
      packets.push(...rec.data('server', Buffer.concat(batch), 2 + i / 1000));
      batch = [];
    }
  }
  if (batch.length) packets.push(...rec.data('server', Buffer.concat(batch), 100));
  return buildPcapFile(packets);
}

async function time(path) {
  const times = [];
  let messages = 0;
  for (let r = 0; r < RUNS; r++) {
    const start = process.hrtime.bigint();
    messages = 0;
    for await (const e of dissect(path)) if (e.type === 'message') messages++;
    times.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  times.sort((a, b) => a - b);
  return { seconds: times[Math.floor(times.length / 2)], messages };
}

const dir = mkdtempSync(join(tmpdir(), 'wsdump-bench-'));
try {
  const rows = [];
  for (const compressed of [false, true]) {
    const path = join(dir, compressed ? 'compressed.pcap' : 'plain.pcap');
    writeFileSync(path, await buildCapture(compressed));
    const { seconds, messages } = await time(path);
    const mb = statSync(path).size / 1e6;
    rows.push({ name: compressed ? 'permessage-deflate' : 'uncompressed', mb, messages, seconds });
  }
  const [plain, deflated] = rows;
  console.log(`Node ${process.version}, ${MESSAGES} text messages, median of ${RUNS} runs, in-process dissect()\n`);
  console.log('| capture | size | messages | wall time | messages/s | MB/s of capture |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.name} | ${r.mb.toFixed(1)} MB | ${r.messages} | ${r.seconds.toFixed(2)} s | ${Math.round(r.messages / r.seconds)} | ${(r.mb / r.seconds).toFixed(1)} |`);
  console.log(`\nTime per message, compressed / uncompressed: ${(deflated.seconds / plain.seconds).toFixed(2)}x (target: at most 2x)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
