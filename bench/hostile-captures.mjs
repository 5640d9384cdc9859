// Captures of the traffic shapes an adversarial probe used against wsdump (issue 26), written
// with the project's own recorder from the BUILT library (npm run build first). Each shape made
// memory or time grow with the size of the capture instead of with the limits; bench/hostile.mjs
// measures them at full size, test/hostile-shapes.test.ts at a small one. Deterministic.
import { createWriteStream } from 'node:fs';
import { deflateRawSync, constants } from 'node:zlib';
import { computeAccept, encodeFrame, PcapStreamWriter, TcpConversationRecorder } from '../dist/index.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const enc = (s) => new TextEncoder().encode(s);
const MASK = Uint8Array.of(1, 2, 3, 4);

/** A pcap file written as it is built, with backpressure: `await put(packets)`, then `await end()`. */
function writer(path, linkType) {
  const file = createWriteStream(path, { highWaterMark: 1 << 20 });
  const pcap = new PcapStreamWriter(file, linkType === undefined ? {} : { linkType });
  return {
    async put(packets) {
      if (!pcap.write(packets)) await pcap.drained();
    },
    end: () => pcap.end(),
  };
}

function upgrade(rec, ts, ext = '') {
  const extension = ext === '' ? '' : `Sec-WebSocket-Extensions: ${ext}\r\n`;
  return [
    ...rec.data('client', enc(`GET /chat HTTP/1.1\r\nHost: server.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${extension}\r\n`), ts),
    ...rec.data('server', enc(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(KEY)}\r\n${extension}\r\n`), ts),
  ];
}

/**
 * One connection keeps a fragmented text message open for the whole capture, a 1-byte
 * continuation after each ~256 KiB of another connection's traffic (`fragmented: false`:
 * the same bytes as whole 1-byte messages, the control). A view of each continuation kept
 * the 256 KiB read chunk it came from alive: 1.12 GB of RSS for 4,000 iterations.
 */
export async function writePinned(path, iterations, { fragmented = true } = {}) {
  const out = writer(path);
  const a = new TcpConversationRecorder({ client: { ip: '192.0.2.10', port: 50001 }, server: { ip: '198.51.100.20', port: 8080 }, mss: 64000 });
  const b = new TcpConversationRecorder({ client: { ip: '192.0.2.10', port: 50002 }, server: { ip: '198.51.100.20', port: 8080 }, mss: 64000 });
  let ts = 1_700_000_000;
  await out.put([...a.open(ts), ...upgrade(a, ts), ...b.open(ts), ...upgrade(b, ts)]);
  const filler = encodeFrame({ opcode: 2, payload: new Uint8Array(256_000).map((_, i) => i) });
  await out.put(a.data('server', encodeFrame({ opcode: 1, fin: !fragmented, payload: 'a' }), ts));
  for (let i = 0; i < iterations; i++) {
    ts += 0.001;
    await out.put([...b.data('server', filler, ts), ...a.data('server', encodeFrame({ opcode: fragmented ? 0 : 1, fin: !fragmented, payload: 'b' }), ts)]);
  }
  await out.put([...a.data('server', encodeFrame({ opcode: fragmented ? 0 : 1, payload: 'z' }), ts), ...a.close('server', ts), ...a.close('client', ts), ...b.close('server', ts), ...b.close('client', ts)]);
  await out.end();
}

/**
 * `connections` connections that each leave a frame open in both directions, declaring
 * `declared` bytes and sending one. 1 MiB was allocated per declared frame: 16,000 connections
 * took 46 s, mostly collecting garbage (2.7 s with 100 bytes declared).
 */
export async function writeDeclared(path, connections, declared) {
  const out = writer(path);
  for (let i = 0; i < connections; i++) {
    const rec = new TcpConversationRecorder({ client: { ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 40000 + (i % 20000) }, server: { ip: '198.51.100.20', port: 8080 } });
    const ts = 1_700_000_000 + i / 1000;
    const server = encodeFrame({ opcode: 2, declaredLength: declared });
    const client = encodeFrame({ opcode: 2, declaredLength: declared, maskingKey: MASK });
    await out.put([...rec.open(ts), ...upgrade(rec, ts), ...rec.data('server', Uint8Array.of(...server, 0x78), ts), ...rec.data('client', Uint8Array.of(...client, 0x79), ts)]);
  }
  await out.end();
}

/**
 * `messages` permessage-deflate bombs on one connection: each 80 MB of zeros compressed to
 * ~78 KB, with context takeover unless `noContextTakeover`. Each one inflated to the
 * --max-inflated limit: 100 of them took 15 s.
 */
export async function writeBombs(path, messages, { noContextTakeover = false } = {}) {
  const ext = `permessage-deflate${noContextTakeover ? '; server_no_context_takeover' : ''}`;
  const deflated = deflateRawSync(Buffer.alloc(80_000_000), { level: 9, finishFlush: constants.Z_SYNC_FLUSH });
  // RFC 7692 §7.2.1: the sender strips the 00 00 ff ff of its sync flush.
  const bomb = encodeFrame({ opcode: 2, rsv1: true, payload: deflated.subarray(0, deflated.length - 4) });
  const out = writer(path);
  const rec = new TcpConversationRecorder({ client: { ip: '192.0.2.10', port: 51000 }, server: { ip: '198.51.100.20', port: 8080 } });
  let ts = 1_700_000_000;
  await out.put([...rec.open(ts), ...upgrade(rec, ts, ext)]);
  for (let i = 0; i < messages; i++) await out.put(rec.data('server', bomb, (ts += 0.001)));
  await out.put([...rec.close('server', ts), ...rec.close('client', ts)]);
  await out.end();
}

/**
 * `packets` raw IPv4 packets (LINKTYPE_RAW) whose total lengths all differ and all exceed the
 * 40 bytes on the wire. A "once" notice keyed by its text gave one line per packet.
 */
export async function writeMalformed(path, packets) {
  const out = writer(path, 101);
  for (let i = 0; i < packets; i += 1000) {
    const batch = [];
    for (let no = i; no < Math.min(packets, i + 1000); no++) {
      const data = new Uint8Array(40);
      data[0] = 0x45;
      data[2] = ((100 + no) >> 8) & 0xff;
      data[3] = (100 + no) & 0xff;
      data[9] = 6;
      batch.push({ ts: 1_700_000_000 + no / 1e6, data });
    }
    await out.put(batch);
  }
  await out.end();
}
