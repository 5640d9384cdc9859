import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Direction } from '../../src/alerts.js';
import { buildPcapFile } from '../../src/capture/pcap-file-writer.js';
import { TcpConversationRecorder, type RecordedPacket, type TcpConversationOptions } from '../../src/capture/tcp-recorder.js';
import { PacketDecoder } from '../../src/net/decode.js';
import { seqAdd, seqDiff } from '../../src/net/seq.js';
import { TcpReassembler, type FlowEvent } from '../../src/net/tcp-reassembler.js';
import type { TcpSegment } from '../../src/net/types.js';
import { runs } from '../helpers/fuzz.js';

const V4: TcpConversationOptions = { client: { ip: '10.1.2.3', port: 50123 }, server: { ip: '10.9.8.7', port: 8080 } };
const V6: TcpConversationOptions = { client: { ip: '2001:db8::2', port: 40000 }, server: { ip: '::1', port: 443 } };

function decodeAll(packets: RecordedPacket[]): TcpSegment[] {
  const decoder = new PacketDecoder();
  return packets.map((p) => {
    const decoded = decoder.decode(1, p.data, p.data.length);
    if (decoded.kind !== 'tcp') throw new Error(`packet did not decode to TCP: ${JSON.stringify(decoded)}`);
    return decoded;
  });
}

/** Runs packets through our decoder and reassembler, as wsdump would. */
function reassemble(packets: RecordedPacket[]): { events: FlowEvent[]; streams: Record<Direction, Buffer> } {
  const reassembler = new TcpReassembler();
  const events: FlowEvent[] = [];
  decodeAll(packets).forEach((segment, i) => events.push(...reassembler.push(segment, i + 1, packets[i]!.ts)));
  events.push(...reassembler.finish());
  const chunks: Record<Direction, Buffer[]> = { client: [], server: [] };
  for (const e of events) if (e.type === 'data') chunks[e.direction].push(Buffer.from(e.bytes));
  return { events, streams: { client: Buffer.concat(chunks.client), server: Buffer.concat(chunks.server) } };
}

/**
 * Walks the conversation as each side's TCP would see it: every data segment starts at the
 * sender's next sequence number, no ACK covers bytes not yet sent, and no sender ever has more
 * than a window of unacknowledged bytes in flight.
 */
function checkSequenceSpace(packets: RecordedPacket[], clientIp: string, clientPort: number, mss: number): void {
  const next: Partial<Record<Direction, number>> = {};
  const acked: Partial<Record<Direction, number>> = {};
  for (const s of decodeAll(packets)) {
    const from: Direction = s.src === clientIp && s.srcPort === clientPort ? 'client' : 'server';
    const peer: Direction = from === 'client' ? 'server' : 'client';
    expect(s.payload.length).toBeLessThanOrEqual(mss);
    if (s.flags.syn) {
      next[from] = seqAdd(s.seq, 1);
    } else {
      expect(s.seq).toBe(next[from]);
      next[from] = seqAdd(s.seq, s.payload.length + (s.flags.fin ? 1 : 0));
    }
    if (s.flags.ack) {
      // Never acknowledges an unseen segment, never goes backwards.
      expect(seqDiff(s.ack, next[peer]!)).toBeLessThanOrEqual(0);
      if (acked[from] !== undefined) expect(seqDiff(s.ack, acked[from])).toBeGreaterThanOrEqual(0);
      acked[from] = s.ack;
    }
    if (acked[peer] !== undefined && !s.flags.syn) expect(seqDiff(next[from]!, acked[peer])).toBeLessThan(65535);
  }
}

function bytesOf(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 131 + seed * 7 + (i >> 8)) & 0xff);
}

function conversation(options: TcpConversationOptions, steps: { from: Direction; size: number }[]): { packets: RecordedPacket[]; sent: Record<Direction, Buffer> } {
  const recorder = new TcpConversationRecorder(options);
  const packets = recorder.open(1000);
  const sent: Record<Direction, Buffer[]> = { client: [], server: [] };
  steps.forEach((step, i) => {
    const data = bytesOf(step.size, i);
    sent[step.from].push(Buffer.from(data));
    packets.push(...recorder.data(step.from, data, 1000 + (i + 1) / 1000));
  });
  packets.push(...recorder.close('client', 1001), ...recorder.close('server', 1001.5));
  return { packets, sent: { client: Buffer.concat(sent.client), server: Buffer.concat(sent.server) } };
}

function expectClean(events: FlowEvent[]): void {
  expect(events.filter((e) => e.type === 'gap' || e.type === 'alert')).toEqual([]);
  const opens = events.filter((e) => e.type === 'open');
  expect(opens).toHaveLength(1);
  expect(opens[0]).toMatchObject({ sawSyn: true });
  const ends = events.filter((e) => e.type === 'end');
  expect(ends.map((e) => e.direction).sort()).toEqual(['client', 'server']);
}

describe('TcpConversationRecorder', () => {
  it('opens with SYN, SYN+ACK, ACK carrying the MSS on both SYNs', () => {
    const recorder = new TcpConversationRecorder({ ...V4, isn: { client: 100, server: 5000 } });
    const [syn, synAck, ack] = decodeAll(recorder.open(1));
    expect(syn).toMatchObject({ src: '10.1.2.3', srcPort: 50123, seq: 100, ack: 0, flags: { syn: true, ack: false } });
    expect(synAck).toMatchObject({ src: '10.9.8.7', srcPort: 8080, seq: 5000, ack: 101, flags: { syn: true, ack: true } });
    expect(ack).toMatchObject({ seq: 101, ack: 5001, flags: { syn: false, ack: true }, payload: new Uint8Array(0) });
  });

  it('gives back exactly the bytes fed in, in both directions, with open and end events and no gaps', () => {
    const steps = [
      { from: 'client' as const, size: 300 },
      { from: 'server' as const, size: 129 },
      { from: 'client' as const, size: 5000 },
      { from: 'server' as const, size: 100_000 },
      { from: 'server' as const, size: 1 },
      { from: 'client' as const, size: 1460 },
    ];
    const { packets, sent } = conversation(V4, steps);
    const { events, streams } = reassemble(packets);
    expectClean(events);
    expect(events.filter((e) => e.type === 'end').every((e) => e.type === 'end' && e.reason === 'fin')).toBe(true);
    expect(streams.client.equals(sent.client)).toBe(true);
    expect(streams.server.equals(sent.server)).toBe(true);
    checkSequenceSpace(packets, V4.client.ip, V4.client.port, 1460);
  });

  it('splits data into segments of at most the MSS with PSH only on the last', () => {
    const recorder = new TcpConversationRecorder({ ...V4, mss: 1000 });
    recorder.open(0);
    const segments = decodeAll(recorder.data('client', new Uint8Array(2500), 1)).filter((s) => s.srcPort === V4.client.port);
    expect(segments.map((s) => s.payload.length)).toEqual([1000, 1000, 500]);
    expect(segments.map((s) => s.flags.psh)).toEqual([false, false, true]);
  });

  it('has the receiver acknowledge at least every second full segment', () => {
    const recorder = new TcpConversationRecorder(V4);
    recorder.open(0);
    const segments = decodeAll(recorder.data('server', new Uint8Array(1460 * 6), 1));
    const pattern = segments.map((s) => (s.srcPort === V4.server.port ? 'D' : 'A')).join('');
    expect(pattern).toBe('DDADDADDA');
  });

  it('works across the 2^32 wrap of both sequence spaces', () => {
    for (const isn of [
      { client: 0xffffffff, server: 0xfffffffe },
      { client: 0xffffff00, server: 0xfffff000 },
      { client: 0, server: 0xffffffff },
    ]) {
      const steps = [
        { from: 'client' as const, size: 4000 },
        { from: 'server' as const, size: 70_000 },
      ];
      const { packets, sent } = conversation({ ...V4, isn }, steps);
      const { events, streams } = reassemble(packets);
      expectClean(events);
      expect(streams.client.equals(sent.client)).toBe(true);
      expect(streams.server.equals(sent.server)).toBe(true);
      checkSequenceSpace(packets, V4.client.ip, V4.client.port, 1460);
    }
  });

  it('records IPv6 conversations (default MSS 1440 for a 1500-byte MTU)', () => {
    const { packets, sent } = conversation(V6, [
      { from: 'client', size: 2000 },
      { from: 'server', size: 3000 },
    ]);
    const segments = decodeAll(packets);
    expect(segments.every((s) => s.ipVersion === 6)).toBe(true);
    expect(Math.max(...segments.map((s) => s.payload.length))).toBe(1440);
    const { events, streams } = reassemble(packets);
    expectClean(events);
    expect(events[0]).toMatchObject({ type: 'open', client: { ip: '2001:db8::2', port: 40000 }, server: { ip: '::1', port: 443 } });
    expect(streams.client.equals(sent.client)).toBe(true);
    expect(streams.server.equals(sent.server)).toBe(true);
  });

  it('closes each side with FIN+ACK answered by an ACK', () => {
    const recorder = new TcpConversationRecorder({ ...V4, isn: { client: 10, server: 20 } });
    recorder.open(0);
    const [fin, ack] = decodeAll(recorder.close('client', 1));
    expect(fin).toMatchObject({ srcPort: V4.client.port, seq: 11, ack: 21, flags: { fin: true, ack: true } });
    expect(ack).toMatchObject({ srcPort: V4.server.port, seq: 21, ack: 12, flags: { fin: false, ack: true } });
    expect(recorder.canSend('client')).toBe(false);
    expect(recorder.canSend('server')).toBe(true);
    expect(() => recorder.data('client', new Uint8Array(1), 2)).toThrow(/FIN/);
    expect(recorder.close('client', 2)).toEqual([]);
    // Half-close: the server may still send, and the client acknowledges it.
    const more = decodeAll(recorder.data('server', new Uint8Array(10), 3));
    expect(more[0]).toMatchObject({ seq: 21, ack: 12 });
  });

  it('resets with one RST+ACK that ends both directions', () => {
    const recorder = new TcpConversationRecorder(V4);
    const packets = [...recorder.open(0), ...recorder.data('client', new Uint8Array(50).fill(7), 1), ...recorder.reset('server', 2)];
    const last = decodeAll(packets).at(-1)!;
    expect(last.flags).toMatchObject({ rst: true, ack: true });
    expect(recorder.reset('client', 3)).toEqual([]);
    expect(() => recorder.data('client', new Uint8Array(1), 4)).toThrow(/reset/);
    const { events, streams } = reassemble(packets);
    expect(events.filter((e) => e.type === 'end').map((e) => e.type === 'end' && e.reason)).toEqual(['rst', 'rst']);
    expect(streams.client.length).toBe(50);
  });

  it('increments the IPv4 identification per direction', () => {
    const recorder = new TcpConversationRecorder(V4);
    const packets = [...recorder.open(0), ...recorder.data('client', new Uint8Array(3000), 1)];
    const ids = (port: number): number[] =>
      packets.filter((p) => ((p.data[34]! << 8) | p.data[35]!) === port).map((p) => (p.data[18]! << 8) | p.data[19]!);
    for (const port of [V4.client.port, V4.server.port]) {
      const list = ids(port);
      list.slice(1).forEach((id, i) => expect(id).toBe((list[i]! + 1) & 0xffff));
    }
  });

  it('is deterministic: the same endpoints give the same ISNs and the same bytes', () => {
    const a = conversation(V4, [{ from: 'client', size: 10 }]).packets;
    const b = conversation(V4, [{ from: 'client', size: 10 }]).packets;
    expect(buildPcapFile(a).equals(buildPcapFile(b))).toBe(true);
    const other = new TcpConversationRecorder({ ...V4, client: { ip: '10.1.2.3', port: 50124 } });
    expect(other.isn).not.toEqual(new TcpConversationRecorder(V4).isn);
  });

  it('refuses bad endpoints, MSS and ISNs, and calls out of order', () => {
    expect(() => new TcpConversationRecorder({ ...V4, server: { ip: '::1', port: 80 } })).toThrow(RangeError);
    expect(() => new TcpConversationRecorder({ ...V4, client: { ip: '10.0.0.1', port: 0 } })).toThrow(RangeError);
    expect(() => new TcpConversationRecorder({ ...V4, client: { ip: '10.0.0.300', port: 1 } })).toThrow(RangeError);
    expect(() => new TcpConversationRecorder({ ...V4, mss: 0 })).toThrow(RangeError);
    expect(() => new TcpConversationRecorder({ ...V4, mss: 65496 })).toThrow(RangeError);
    expect(() => new TcpConversationRecorder({ ...V4, isn: { client: 2 ** 32, server: 0 } })).toThrow(RangeError);
    const recorder = new TcpConversationRecorder(V4);
    expect(() => recorder.data('client', new Uint8Array(1), 0)).toThrow(/not open/);
    recorder.open(0);
    expect(() => recorder.open(0)).toThrow(/already open/);
    expect(recorder.data('client', new Uint8Array(0), 1)).toEqual([]);
  });

  it('round-trips any conversation: random sizes, MSS, ISNs and IP versions (property)', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        // Sizes scale with the MSS so that a tiny MSS does not mean tens of thousands of packets.
        fc
          .integer({ min: 1, max: 9000 })
          .chain((mss) =>
            fc.tuple(
              fc.constant(mss),
              fc.array(fc.record({ from: fc.constantFrom<Direction>('client', 'server'), size: fc.integer({ min: 0, max: Math.min(20_000, mss * 40) }) }), { maxLength: 12 }),
            ),
          ),
        fc.nat({ max: 0xffffffff }),
        fc.nat({ max: 0xffffffff }),
        (v6, [mss, steps], clientIsn, serverIsn) => {
          const options = { ...(v6 ? V6 : V4), mss, isn: { client: clientIsn, server: serverIsn } };
          const { packets, sent } = conversation(options, steps);
          const { events, streams } = reassemble(packets);
          expectClean(events);
          expect(streams.client.equals(sent.client)).toBe(true);
          expect(streams.server.equals(sent.server)).toBe(true);
          checkSequenceSpace(packets, options.client.ip, options.client.port, mss);
        },
      ),
      { numRuns: runs(60) },
    );
  });
});

/** tshark is optional locally; CI installs it, so there its absence is a failure, not a skip. */
const tsharkAvailable = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
const needTshark = tsharkAvailable || process.env.CI !== undefined;

describe.runIf(needTshark)('TcpConversationRecorder seen by tshark', () => {
  it('shows no TCP analysis flags (no lost segment, no ACKed unseen segment, no window problems)', () => {
    expect(tsharkAvailable, 'tshark must be installed in CI').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'tcp-recorder-'));
    try {
      const cases: [string, TcpConversationOptions][] = [
        ['v4.pcap', { ...V4, isn: { client: 0xfffff000, server: 0xffffff00 } }],
        ['v6.pcap', V6],
      ];
      for (const [name, options] of cases) {
        const { packets } = conversation(options, [
          { from: 'client', size: 700 },
          { from: 'server', size: 150_000 },
          { from: 'client', size: 3000 },
          { from: 'server', size: 5 },
        ]);
        const file = join(dir, name);
        writeFileSync(file, buildPcapFile(packets));
        const run = spawnSync('tshark', ['-r', file, '-o', 'tcp.check_checksum:TRUE', '-T', 'fields', '-e', 'tcp.analysis.flags', '-e', 'tcp.len', '-e', 'tcp.checksum.status'], { encoding: 'utf8' });
        expect(run.status, run.stderr).toBe(0);
        const rows = run.stdout.trimEnd().split('\n').map((line) => line.split('\t'));
        expect(rows).toHaveLength(packets.length);
        // Column 1 is empty when tshark has nothing to say; checksum status 1 is "Good".
        expect(rows.filter(([flags]) => flags !== '')).toEqual([]);
        expect(rows.every(([, , status]) => status === '1')).toBe(true);
        expect(rows.reduce((n, [, len]) => n + Number(len), 0)).toBe(700 + 150_000 + 3000 + 5);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
