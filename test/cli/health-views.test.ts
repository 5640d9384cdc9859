/**
 * The health views: --timeline through the CLI, on real-peer captures whose endings are known (fixtures/README.md):
 * where the marks fall, that it fits 80 columns (or --width), reads without color, and says the
 * connection's health in words under the picture; and the health lines of --summary and the table.
 */
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/wsdump.js';
import { TableRenderer } from '../../src/render/table.js';
import { TimelineRenderer } from '../../src/render/timeline.js';
import { encodeFrame } from '../../src/websocket/frame-encoder.js';
import { WebSocketSession } from '../../src/websocket/session.js';
import type { Message } from '../../src/websocket/types.js';
import { visibleLength } from '../../src/render/wrap.js';
import { dissectEvents, FIXTURE_CAPTURES } from '../helpers/dissect.js';
import { argv, fakeIo } from './io.js';

async function timeline(...args: string[]): Promise<string> {
  const io = fakeIo();
  expect(await main(argv('--timeline', ...args), io)).toBe(0);
  return io.stdout.text;
}

/** The plot row of one direction of the n-th connection drawn (0-based). */
function row(text: string, arrow: 'C→S' | 'S→C', n = 0): string {
  return text.split('\n').filter((l) => l.startsWith(`   ${arrow} `))[n]!.slice(7);
}

const count = (s: string, ch: string) => [...s].filter((c) => c === ch).length;

describe('wsdump --timeline', () => {
  it('shows a server pinging three times into silence, then closing TCP with no Close frame', async () => {
    const out = await timeline('fixtures/real/ws-no-pong.pcap');
    const server = row(out, 'S→C');
    const client = row(out, 'C→S');
    expect(count(server, '?')).toBe(3);
    expect(count(server, 'P') + count(server, 'p') + count(client, 'p')).toBe(0);
    expect(count(server + client, 'C')).toBe(0);
    // The three pings ~150 ms apart on a 467 ms axis of 70 columns: ~22 columns apart.
    const at = [...server].flatMap((c, i) => (c === '?' ? [i] : []));
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(19);
    expect(at[2]! - at[1]!).toBeLessThanOrEqual(25);
    // After the plot: the server sent the first FIN, the client the second.
    expect(server.trimEnd().endsWith(' F')).toBe(true);
    expect(client.trimEnd().endsWith(' f')).toBe(true);
    expect(out).toContain('heartbeat: server pings every 150 ms (3), never answered, 3 unanswered');
    expect(out).toContain('close: none; TCP: server FIN, then client FIN, so each application sees 1006');
    expect(out.match(/\? packet \d+: The server's Ping was never answered by a Pong; the connection\s+ended [\d.]+ ms after it\./g)).toHaveLength(3);
  });

  it('shows every ping answered, the Close both ways, and a reset', async () => {
    const heartbeat = await timeline('fixtures/real/ws-heartbeat.pcap');
    expect(count(row(heartbeat, 'S→C'), 'P')).toBe(6);
    expect(count(row(heartbeat, 'C→S'), 'p')).toBe(6);
    expect(count(row(heartbeat, 'S→C') + row(heartbeat, 'C→S'), '?')).toBe(0);
    expect(count(row(heartbeat, 'C→S'), 'C')).toBe(1);
    expect(count(row(heartbeat, 'S→C'), 'C')).toBe(1);
    const killed = await timeline('fixtures/real/killed-client.pcap');
    expect(row(killed, 'C→S').trimEnd().endsWith(' R')).toBe(true);
    expect(row(killed, 'S→C').trimEnd().endsWith('·')).toBe(true);
    expect(killed).toContain('close: none; TCP: client RST, so each application sees 1006');
  });

  it('draws each connection of a capture, Python giving up with 1011 on the second', async () => {
    const out = await timeline('fixtures/real/python-keepalive.pcap');
    expect(count(row(out, 'C→S', 0), 'P')).toBe(5);
    expect(count(row(out, 'S→C', 0), 'p')).toBe(5);
    expect(count(row(out, 'C→S', 1), '?')).toBe(1);
    expect(out).toContain('close: client 1011 "keepalive ping timeout" → server 1011');
    // The legend once, at the first picture.
    expect(out.match(/legend:/g)).toHaveLength(1);
  });

  it('fits 80 columns by default and the width asked for, and has no color unless asked', async () => {
    for (const file of FIXTURE_CAPTURES) {
      const out = await timeline(file);
      expect(Math.max(...out.split('\n').map(visibleLength)), file).toBeLessThanOrEqual(80);
      expect(out, file).not.toMatch(/\x1b/);
    }
    const wide = await timeline('--width', '120', 'fixtures/real/ws-no-pong.pcap');
    expect(row(wide, 'S→C').length).toBeGreaterThan(100);
    expect(Math.max(...wide.split('\n').map(visibleLength))).toBeLessThanOrEqual(120);
    expect(await timeline('--color', 'fixtures/real/ws-no-pong.pcap')).toMatch(/\x1b\[/);
  });

  it('keeps its memory bounded: a day-long connection is drawn with the same slots as a second', async () => {
    const events = await dissectEvents('fixtures/real/ws-heartbeat.pcap');
    const stretched = events.map((e) => {
      // Push the client's Close and everything after it a day later.
      const item = e.type === 'message' ? e.message : e.type === 'frame' ? e.frame : null;
      if (item !== null && item.opcode === 0x8) {
        return { ...e, [e.type]: { ...item, start: { ...item.start, ts: item.start.ts! + 86400 }, end: { ...item.end, ts: item.end.ts! + 86400 } } };
      }
      if (e.type === 'end') return { ...e, at: { ...e.at, ts: e.at.ts! + 86400 } };
      return e;
    }) as typeof events;
    const renderer = new TimelineRenderer({ colorLevel: 0, width: 80 });
    const out = stretched.map((e) => renderer.render(e)).join('');
    const server = row(out, 'S→C');
    // The six pings fall in the first column; the Close at the very end.
    expect(server.slice(0, 3)).toMatch(/P/);
    expect(server.trimEnd()).toMatch(/C F$/);
    expect(out).toMatch(/websocket \/heartbeat, 86\d{3} s/);
  });
});

describe('health in the other views', () => {
  it('--summary says each side\'s heartbeat, the close and the timing', async () => {
    const io = fakeIo();
    await main(argv('--summary', 'fixtures/real/ws-heartbeat.pcap'), io);
    expect(io.stdout.text).toMatch(/ {3}heartbeat: server pings every 150 ms \(6\), answered in [\d.]+\/[\d.]+\/[\d.]+ ms \(min\/median\/max\), 0 unanswered\n/);
    expect(io.stdout.text).toContain('   close: client 1000 "bye" → server 1000 in ');
    expect(io.stdout.text).toMatch(/, clean\n {3}timing: 101 after [\d.]+ ms; first message C→S after [\d.]+ ms, S→C none; longest silence C→S [\d.]+ ms, S→C [\d.]+ ms\n/);
    const two = fakeIo();
    await main(argv('--summary', 'fixtures/real/two-connections.pcap'), two);
    expect(two.stdout.text).toMatch(/close: client \(no code\) → server \(no code\) in [\d.]+ ms, clean\n/);
    expect(two.stdout.text).toMatch(/close: server 1001 "server going away" → client 1001 in [\d.]+ ms, clean, but the client closed TCP first\n/);
  });

  it('--summary, --timeline and --explain say the protocol\'s heartbeat against what it negotiated, and mark its pings', async () => {
    const io = fakeIo();
    await main(argv('--summary', '--hide-heartbeats', 'fixtures/real/socketio-heartbeat.pcap'), io);
    const [first, second] = io.stdout.text.split(/\n(?=#2 )/);
    expect(first).toMatch(/\n {3}app heartbeat: engine\.io: server pings every 15\d ms \(4\), answered in [\d.]+\/[\d.]+\/[\d.]+ ms \(min\/median\/max\), 0 unanswered\n/);
    expect(first).toContain('   app heartbeat: engine.io negotiated: the server pings every 150 ms, answered within 100 ms; the client gives up after 250 ms without one\n');
    expect(second).toMatch(/app heartbeat: engine\.io: server pings every 15\d ms \(3\), answered in [\d.]+\/[\d.]+\/[\d.]+ ms \(min\/median\/max\), 1 unanswered\n/);
    // What --hide-heartbeats hid is still counted.
    expect(second).toContain('   5 heartbeat message(s) hidden (--hide-heartbeats)\n');
    const picture = await timeline('fixtures/real/socketio-heartbeat.pcap');
    // Two pings answered, the third never: a `?` where it was sent.
    expect(count(row(picture, 'S→C', 1), 'P')).toBe(2);
    expect(count(row(picture, 'S→C', 1), '?')).toBe(1);
    expect(count(row(picture, 'C→S', 1), 'p')).toBe(2);
    expect(count(row(picture, 'S→C', 0), 'P')).toBe(4);
    expect(picture.replace(/\s+/g, ' ')).toMatch(/▲ packet \d+: The engine\.io ping of the server got no answer within its timeout \(100 ms\): the connection lived [\d.]+ ms after it\./);
    const explain = fakeIo();
    await main(argv('--explain', '--conn', '2', 'fixtures/real/socketio-heartbeat.pcap'), explain);
    expect(explain.stdout.text).toContain('app heartbeat: engine.io negotiated: the server pings every 150 ms');
    // SignalR pings ask for no answer: one-way heartbeats, and nothing negotiated.
    const signalr = fakeIo();
    await main(argv('--summary', '--conn', '3', 'fixtures/real/signalr.pcap'), signalr);
    expect(signalr.stdout.text).toMatch(/ {3}app heartbeat: signalr: client sends one-way heartbeats every [\d.]+ ms \(3\)\n {3}app heartbeat: signalr: server sends one-way heartbeats every [\d.]+ ms \(2\)\n {3}app heartbeat: signalr negotiates no heartbeat timing\n/);
  });

  it('--explain says which ping a pong answers and the round trip, and the health at the end', async () => {
    const io = fakeIo();
    await main(argv('--explain', '--opcode', 'pong', 'fixtures/real/ws-basic.pcap'), io);
    expect(io.stdout.text).toMatch(/└ this pong answers the client's ping of packet 22, echoing its data\s+\(§5\.5\.3\): round trip 0\.84 ms/);
    expect(io.stdout.text).toContain('   heartbeat: server pinged once, answered in 0.21 ms, 0 unanswered');
    expect(io.stdout.text).toMatch(/ {3}close: client 1000 "client done" → server 1000 in [\d.]+ ms, clean\n/);
  });

  it('the table marks each pong with the ping it answers and the round trip', async () => {
    const io = fakeIo();
    await main(argv('--opcode', 'ping,pong', 'fixtures/real/ws-basic.pcap'), io);
    expect(io.stdout.text).toMatch(/ 23 +[\d.]+ +#1 +S→C .* pong .*\n {3}└ pong answers the ping of packet 22: round trip 0\.84 ms\n/);
    const messages = fakeIo();
    await main(argv('--messages', '--opcode', 'pong', 'fixtures/real/ws-basic.pcap'), messages);
    expect(messages.stdout.text).toContain('(RTT 0.84 ms) "client-ping-payload"');
    // An unsolicited Pong, from the session straight to the table.
    const session = new WebSocketSession();
    const events = session.push('server', encodeFrame({ opcode: 0xa, payload: 'beat' }), { ts: 1 });
    const message = events.find((e) => e.type === 'message')!;
    const table = new TableRenderer({ colorLevel: 0, width: 120 });
    expect(table.render({ type: 'message', conn: 1, message: (message as { message: Message }).message })).toBe('   └ pong answering no ping: a one-way heartbeat (RFC 6455 §5.5.3)\n');
  });
});
