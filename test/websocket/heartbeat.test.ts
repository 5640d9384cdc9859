import { describe, expect, it } from 'vitest';
import type { Direction } from '../../src/alerts.js';
import { encodeFrame, type FrameSpec } from '../../src/websocket/frame-encoder.js';
import { Samples } from '../../src/websocket/samples.js';
import { WebSocketSession, type SessionEvent } from '../../src/websocket/session.js';

let keySeed = 1;
const frame = (direction: Direction, spec: FrameSpec) => encodeFrame(direction === 'client' ? { maskingKey: new Uint8Array([keySeed++ & 0xff, 3, 5, 7]), ...spec } : spec);
const PING = 9;
const PONG = 10;

/** Steps of [seconds, sender, frame]; `end` says when and whether TCP ended. */
function run(steps: [number, Direction, FrameSpec][], end: { ts: number; tcpEnded: boolean } = { ts: 100, tcpEnded: true }) {
  const session = new WebSocketSession();
  const events: SessionEvent[] = [];
  steps.forEach(([ts, d, spec], i) => events.push(...session.push(d, frame(d, spec), { packet: i + 1, ts })));
  events.push(...session.finish({ ts: end.ts }, end));
  const alerts = events.flatMap((e) => (e.type === 'alert' ? [e.alert] : e.type === 'message' ? e.message.alerts : e.frame.alerts));
  const pongs = events.flatMap((e) => (e.type === 'message' && e.message.opcode === PONG ? [e.message] : []));
  return { stats: session.heartbeatStats(), alerts, pongs };
}

describe('WebSocket heartbeats (RFC 6455 §5.5.2-§5.5.3)', () => {
  it('pairs each Ping with the Pong echoing it: round trips and intervals per side that pings', () => {
    const { stats, alerts, pongs } = run([
      [1.0, 'server', { opcode: PING, payload: 'a' }],
      [1.0002, 'client', { opcode: PONG, payload: 'a' }],
      [1.15, 'server', { opcode: PING, payload: 'b' }],
      [1.1505, 'client', { opcode: PONG, payload: 'b' }],
      [1.3, 'server', { opcode: PING, payload: 'c' }],
      [1.3011, 'client', { opcode: PONG, payload: 'c' }],
    ]);
    expect(alerts).toEqual([]);
    expect(stats.client).toBeNull();
    expect(stats.server).toEqual({ pings: 3, pongs: 3, unsolicitedPongs: 0, unanswered: 0, rttMs: { min: 0.2, median: 0.5, max: 1.1 }, intervalMs: { min: 150, median: 150, max: 150 } });
    expect(pongs.map((p) => p.answers)).toEqual([
      { offset: 0, packet: 1, rttMs: 0.2 },
      { offset: 3, packet: 3, rttMs: 0.5 },
      { offset: 6, packet: 5, rttMs: 1.1 },
    ]);
  });

  it('counts unsolicited Pongs apart, as the one-way heartbeat of their sender', () => {
    const { stats, alerts, pongs } = run([
      [0, 'server', { opcode: PONG, payload: '' }],
      [2, 'server', { opcode: PONG, payload: '' }],
      [5, 'server', { opcode: PONG, payload: '' }],
    ]);
    expect(alerts).toEqual([]);
    expect(pongs.map((p) => p.answers)).toEqual([null, null, null]);
    expect(stats).toEqual({ client: null, server: { pings: 0, pongs: 0, unsolicitedPongs: 3, unanswered: 0, rttMs: null, intervalMs: { min: 2000, median: 2500, max: 3000 } } });
  });

  it('says how long the connection lived after a Ping never answered', () => {
    const { stats, alerts } = run(
      [
        [10, 'server', { opcode: PING, payload: '1' }],
        [10.15, 'server', { opcode: PING, payload: '2' }],
        [10.3, 'server', { opcode: PING, payload: '3' }],
      ],
      { ts: 10.75, tcpEnded: true },
    );
    expect(stats.server).toMatchObject({ pings: 3, pongs: 0, unanswered: 3, rttMs: null });
    expect(alerts.map((a) => [a.code, a.direction, a.packet, a.detail])).toEqual([
      ['ping.unanswered', 'server', 1, { livedMs: 750, tcpEnded: true }],
      ['ping.unanswered', 'server', 2, { livedMs: 600, tcpEnded: true }],
      ['ping.unanswered', 'server', 3, { livedMs: 450, tcpEnded: true }],
    ]);
    expect(alerts[2]!.message).toBe("The server's Ping was never answered by a Pong; the connection ended 450 ms after it.");
  });

  it('says so when the capture ended with the connection still open', () => {
    const { alerts } = run([[1, 'client', { opcode: PING, payload: 'x' }]], { ts: 3.5, tcpEnded: false });
    expect(alerts[0]!.message).toContain('the capture ended 2500 ms after it, the connection still open');
    expect(alerts[0]!.detail).toEqual({ livedMs: 2500, tcpEnded: false });
  });

  it('counts Pings the peer skipped by answering a later one as unanswered, without an alert (§5.5.3 allows it)', () => {
    const { stats, alerts, pongs } = run([
      [0, 'client', { opcode: PING, payload: 'one' }],
      [1, 'client', { opcode: PING, payload: 'two' }],
      [1.001, 'server', { opcode: PONG, payload: 'two' }],
    ]);
    expect(alerts).toEqual([]);
    expect(stats.client).toMatchObject({ pings: 2, pongs: 1, unanswered: 1, rttMs: { min: 1, median: 1, max: 1 } });
    expect(pongs[0]!.answers).toMatchObject({ packet: 2 });
  });

  it('takes a late Pong as the answer to its own Ping, so a slow peer shows as a long round trip', () => {
    const { stats, alerts } = run([
      [0, 'client', { opcode: PING, payload: 'one' }],
      [1, 'client', { opcode: PING, payload: 'two' }],
      [1.5, 'server', { opcode: PONG, payload: 'one' }],
      [1.6, 'server', { opcode: PONG, payload: 'two' }],
    ]);
    expect(alerts).toEqual([]);
    expect(stats.client).toMatchObject({ pings: 2, pongs: 2, unanswered: 0, rttMs: { min: 600, median: 1050, max: 1500 } });
  });

  it('flags a Pong echoing none of the outstanding Pings, once, and takes it as the answer to the latest', () => {
    const { stats, alerts, pongs } = run([
      [0, 'client', { opcode: PING, payload: 'abc' }],
      [0.002, 'server', { opcode: PONG, payload: 'xyz' }],
    ]);
    expect(alerts.map((a) => a.code)).toEqual(['pong.mismatch']);
    expect(stats.client).toMatchObject({ pings: 1, pongs: 1, unanswered: 0 });
    expect(pongs[0]!.answers).toEqual({ offset: 0, packet: 1, rttMs: 2 });
  });

  it('keeps at most 64 Pings waiting and 64 alerts per side; the counts stay exact', () => {
    const steps: [number, Direction, FrameSpec][] = Array.from({ length: 200 }, (_, i) => [i, 'server', { opcode: PING, payload: String(i) }]);
    const { stats, alerts } = run(steps, { ts: 300, tcpEnded: true });
    expect(stats.server).toMatchObject({ pings: 200, unanswered: 200, intervalMs: { min: 1000, median: 1000, max: 1000 } });
    expect(alerts).toHaveLength(64);
    expect(alerts[63]!.message).toContain('(136 more such Pings of the server are counted in the end event, not listed)');
  });
});

describe('Samples', () => {
  it('gives the exact median of up to 4,096 values, and exact min and max always', () => {
    const s = new Samples();
    for (const v of [5, 1, 4, 2, 3]) s.add(v);
    expect(s.spread()).toEqual({ min: 1, median: 3, max: 5 });
    s.add(10);
    expect(s.spread()).toEqual({ min: 1, median: 3.5, max: 10 });
  });

  it('estimates the median from a bounded sample beyond, deterministically', () => {
    const fill = () => {
      const s = new Samples();
      for (let i = 0; i < 100_000; i++) s.add(i % 1000);
      return s.spread()!;
    };
    const a = fill();
    expect(a.min).toBe(0);
    expect(a.max).toBe(999);
    expect(Math.abs(a.median - 500)).toBeLessThan(50);
    expect(fill()).toEqual(a);
  });
});
