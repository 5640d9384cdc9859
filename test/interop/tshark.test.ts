/**
 * Differential test: for every bundled capture, the header fields of every WebSocket frame
 * (fin, rsv, opcode, mask, payload length, masking key, close code) must be what tshark reports,
 * packet by packet. tshark is a second opinion, not the truth: where it is known to be wrong,
 * the difference is listed in KNOWN_DIFFERENCES with the reason.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dissectFile, fixtureKeyLog } from '../helpers/dissect.js';

const TSHARK = (() => {
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * Packets where tshark and wsdump legitimately differ, with the reason. tshark only hands a
 * stream to its WebSocket dissector once it has seen the 101 response.
 */
const KNOWN_PACKETS: Record<string, { packets: number[]; reason: string }> = {
  'fixtures/crafted/handshake-early-data.pcap': { packets: [5], reason: 'a client frame sent before the 101: tshark does not decode it, wsdump does (and flags handshake.early-data)' },
  'fixtures/tls/curl-tls12.pcap': { packets: [10], reason: 'curl sends its frames as the body of the upgrade request, before the 101: tshark does not decode them, wsdump does (and flags handshake.early-data)' },
};

/** Captures whose frames tshark cannot be compared on, with the reason. */
const KNOWN_DIFFERENCES: Record<string, string> = {
  // Every packet is cut at 96 bytes, the upgrade request included: tshark finds no WebSocket
  // at all, and wsdump decodes only with --decode-as (test/engine/capture-dissector.test.ts).
  'fixtures/real/snaplen-96.pcap': 'handshake cut by the snap length',
};

/** Directories whose captures are deliberately broken (tested elsewhere). */
const EXCLUDED_DIRS = new Set(['bad']);

function captures(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (!EXCLUDED_DIRS.has(name)) out.push(...captures(path));
    } else if (/\.(pcap|pcapng)(\.gz)?$/.test(name)) out.push(path);
  }
  return out.sort();
}

const FIELDS = ['frame.number', 'websocket.fin', 'websocket.rsv', 'websocket.opcode', 'websocket.mask', 'websocket.payload_length', 'websocket.payload_length_ext_16', 'websocket.payload_length_ext_64', 'websocket.masking_key', 'websocket.payload.close.status_code'];

interface FrameFields {
  fin: boolean;
  rsv: number;
  opcode: number;
  mask: boolean;
  length: number;
  key: string | null;
}

/**
 * Server ports of connections whose handshake is not in the capture, from the generator's
 * NAME.expected.json beside the capture: both tools are told to decode them as WebSocket.
 */
function midstreamPorts(file: string): number[] {
  const manifest = file.replace(/\.(pcap|pcapng)(\.gz)?$/, '.expected.json');
  if (!existsSync(manifest)) return [];
  const { connections = [] } = JSON.parse(readFileSync(manifest, 'utf8')) as { connections?: { handshake?: { captured?: boolean }; server?: { port: number } }[] };
  return connections.filter((c) => c.handshake?.captured === false && c.server).map((c) => c.server!.port);
}

/**
 * tshark's view: per packet, the frames it decoded there, and the close codes in order. For
 * TLS (fixtures/tls) it is given the same key log (`-o tls.keylog_file:`) and told the ports are TLS.
 */
function tsharkFrames(file: string, httpPorts: number[], websocketPorts: number[], keyLogFile?: string): Map<number, { frames: FrameFields[]; closeCodes: number[] }> {
  const args = ['-r', file, '-Y', 'websocket', '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  const tls = file.startsWith('fixtures/tls/');
  if (keyLogFile !== undefined) args.push('-o', `tls.keylog_file:${keyLogFile}`);
  for (const port of httpPorts) args.push('-d', `tcp.port==${port},${tls ? 'tls' : 'http'}`);
  for (const port of websocketPorts) args.push('-d', `tcp.port==${port},websocket`);
  for (const f of FIELDS) args.push('-e', f);
  const text = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const result = new Map<number, { frames: FrameFields[]; closeCodes: number[] }>();
  for (const line of text.split('\n').filter(Boolean)) {
    const [no, fin, rsv, opcode, mask, len7, len16, len64, key, close] = line.split('|').map((v) => (v === '' ? [] : v.split(',')));
    const frames: FrameFields[] = [];
    let ext16 = 0;
    let ext64 = 0;
    let keyAt = 0;
    for (let i = 0; i < fin!.length; i++) {
      const masked = mask![i] === '1' || mask![i] === 'True';
      const short = Number(len7![i]);
      const length = short === 126 ? Number(len16![ext16++]) : short === 127 ? Number(len64![ext64++]) : short;
      frames.push({ fin: fin![i] === '1' || fin![i] === 'True', rsv: Number(rsv![i]), opcode: Number(opcode![i]), mask: masked, length, key: masked ? (key![keyAt++] ?? '').replace(/:/g, '') : null });
    }
    result.set(Number(no![0]), { frames, closeCodes: (close ?? []).map(Number) });
  }
  return result;
}

const files = captures('fixtures');

describe.skipIf(!TSHARK && !process.env.CI)('frames agree with tshark', () => {
  it('has tshark installed in CI', () => {
    expect(TSHARK).toBe(true);
  });

  it('has captures to compare', () => {
    expect(files.length).toBeGreaterThan(3);
  });

  let framesCompared = 0;
  afterAll(() => {
    // Refused upgrades rightly have no frames; the suite as a whole must compare many.
    expect(framesCompared).toBeGreaterThan(100);
  });

  it.each(files)('%s', async (file) => {
    if (KNOWN_DIFFERENCES[file]) return;
    const decodeAs = midstreamPorts(file);
    const keyLog = fixtureKeyLog(file);
    const { json } = await dissectFile(file, { decodeAs, ...(keyLog ? { keyLog } : {}) });
    const ports = [...new Set(json.filter((e) => e.type === 'connection').map((e) => e.server.port as number))].filter((p) => !decodeAs.includes(p));
    const theirs = tsharkFrames(file, ports, decodeAs, keyLog ? file.replace(/\.(pcap|pcapng)$/, '.keys') : undefined);
    const ours = new Map<number, { frames: FrameFields[]; closeCodes: number[] }>();
    for (const f of json.filter((e) => e.type === 'frame' && !e.incomplete)) {
      const entry = ours.get(f.packet) ?? { frames: [], closeCodes: [] };
      entry.frames.push({ fin: f.fin, rsv: (f.rsv1 ? 4 : 0) | (f.rsv2 ? 2 : 0) | (f.rsv3 ? 1 : 0), opcode: f.opcode, mask: f.masked, length: f.payloadLength, key: f.maskingKey });
      if (f.closeCode !== undefined) entry.closeCodes.push(f.closeCode);
      ours.set(f.packet, entry);
    }
    for (const packet of KNOWN_PACKETS[file]?.packets ?? []) ours.delete(packet);
    framesCompared += ours.size;
    // Mid-stream, a direction's first frame is only emitted once the next header confirms it.
    const sorted = (m: Map<number, unknown>) => [...m.keys()].sort((a, b) => a - b);
    expect(sorted(ours)).toEqual(sorted(theirs));
    for (const [packet, entry] of ours) expect(entry, `packet ${packet}`).toEqual(theirs.get(packet));
  });

  it('with a wrong key log, neither decodes a frame of the wss:// connection', async () => {
    const file = 'fixtures/tls/tls13-aes128gcm.pcap';
    const { json } = await dissectFile(file, { keyLog: fixtureKeyLog(file, '.wrong')! });
    const port = json.find((e) => e.type === 'connection')!.server.port as number;
    expect(json.filter((e) => e.type === 'frame')).toEqual([]);
    expect(tsharkFrames(file, [port], [], file.replace(/\.pcap$/, '.wrong.keys')).size).toBe(0);
    // And with the right one, both do (the wrong one is wrong, not the comparison).
    expect(tsharkFrames(file, [port], [], file.replace(/\.pcap$/, '.keys')).size).toBeGreaterThan(5);
  });
});
