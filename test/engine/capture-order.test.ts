/**
 * Late captures with --decode-as (issue 18): a direction whose framing is being found again
 * holds its first frame until its next bytes confirm it, so the other direction's rows came
 * out first (packet 3 printed after packet 5). The rows of a connection now come in the order
 * their frames ended in the capture. The late captures are real ones cut as `editcap -r
 * FILE N-` cuts them: the first packets are dropped, the rest renumbered from 1.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeInCaptureOrder } from '../../src/engine/capture-order.js';
import type { DissectEvent } from '../../src/engine/events.js';
import { dissectEvents } from '../helpers/dissect.js';

const dir = mkdtempSync(join(tmpdir(), 'wsdump-late-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A classic little-endian pcap from packet `from` (1-based) on, as editcap -r FILE from- writes it. */
function lateCapture(path: string, from: number): string {
  const file = readFileSync(path);
  expect(file.readUInt32LE(0)).toBe(0xa1b2c3d4);
  const records: Buffer[] = [];
  for (let at = 24, n = 1; at < file.length; n++) {
    const length = 16 + file.readUInt32LE(at + 8);
    if (n >= from) records.push(file.subarray(at, at + length));
    at += length;
  }
  const out = join(dir, `${path.split('/').pop()}-from-${from}.pcap`);
  writeFileSync(out, Buffer.concat([file.subarray(0, 24), ...records]));
  return out;
}

const serverPort = (path: string): number => JSON.parse(readFileSync(path.replace(/\.pcap$/, '.expected.json'), 'utf8')).connections[0].server.port;

/** Per connection, the packet each frame ended in, in the order the frames were emitted. */
function framePackets(events: DissectEvent[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const e of events) if (e.type === 'frame') out.set(e.conn, [...(out.get(e.conn) ?? []), e.frame.end.packet!]);
  return out;
}

describe('a late capture decoded with --decode-as', () => {
  it.each([
    ['fixtures/real/socketio-node.pcap', 6],
    ['fixtures/real/python-client.pcap', 6],
    ['fixtures/real/two-connections.pcap', 10],
    ['fixtures/real/two-connections.pcap', 12],
  ])('%s from packet %i: each connection\'s rows come in capture order', async (path, from) => {
    const events = await dissectEvents(lateCapture(path, from), { decodeAs: [serverPort(path)] });
    const packets = framePackets(events);
    expect(packets.size).toBeGreaterThan(0);
    for (const [conn, list] of packets) expect(list, `#${conn}`).toEqual([...list].sort((a, b) => a - b));
  });

  it('shows the server frame of packet 3 before the client\'s of packet 5 (socket.io, the 101 cut off)', async () => {
    const path = 'fixtures/real/socketio-node.pcap';
    const events = await dissectEvents(lateCapture(path, 6), { decodeAs: [serverPort(path)] });
    const first = events.filter((e) => e.type === 'frame').slice(0, 2);
    expect(first.map((e) => e.type === 'frame' && [e.frame.end.packet, e.frame.direction])).toEqual([
      [3, 'server'],
      [5, 'client'],
    ]);
    // Its message and the resync alert stay with it.
    const i = events.indexOf(first[0]!);
    expect(events[i + 1]).toMatchObject({ type: 'message', message: { direction: 'server' } });
  });
});

describe('mergeInCaptureOrder', () => {
  const frame = (packet: number, direction: 'client' | 'server'): DissectEvent => ({ type: 'frame', conn: 1, frame: { direction, end: { packet }, start: { packet } } }) as never;
  const message = (packet: number, direction: 'client' | 'server'): DissectEvent => ({ type: 'message', conn: 1, message: { direction, end: { packet } } }) as never;

  it('interleaves by the packet a frame ended in, keeping each frame\'s message behind it', () => {
    const older = [frame(5, 'client'), message(5, 'client'), frame(7, 'client')];
    const newer = [frame(3, 'server'), message(3, 'server'), frame(6, 'server'), frame(7, 'server')];
    const order = mergeInCaptureOrder(older, newer).map((e) => `${e.type}:${e.type === 'frame' ? e.frame.end.packet : e.type === 'message' ? e.message.end.packet : ''}:${e.type === 'frame' ? e.frame.direction : e.type === 'message' ? e.message.direction : ''}`);
    expect(order).toEqual(['frame:3:server', 'message:3:server', 'frame:5:client', 'message:5:client', 'frame:6:server', 'frame:7:client', 'frame:7:server']);
  });
});
