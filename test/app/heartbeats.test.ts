import { describe, expect, it } from 'vitest';
import type { Direction } from '../../src/alerts.js';
import { AppHeartbeats } from '../../src/app/heartbeats.js';
import { appEvent, type AppEvent, type HeartbeatTerms } from '../../src/app/types.js';
import type { ConnectionEndEvent } from '../../src/engine/events.js';
import { AppLayer } from '../../src/app/layer.js';
import { endEvent, handshakeEvent, messageEvent } from './helpers.js';

let packet = 0;
/** An application event as a decoder makes it (seconds for `ts`). */
function ev(conn: number, direction: Direction, kind: string, ts: number, extra: Partial<Parameters<typeof appEvent>[1]> & { session?: string | null } = {}): AppEvent {
  const input = { conn, direction, transport: 'websocket' as const, at: { packet: ++packet, ts }, text: '', data: new Uint8Array(0), session: extra.session ?? 'sid1' };
  return appEvent(input, { protocol: 'engine.io', kind, summary: kind, heartbeat: kind === 'ping' || kind === 'pong', ...extra });
}
const engineIo = (pingInterval: number, pingTimeout: number): HeartbeatTerms => ({ client: null, server: { intervalMs: pingInterval, timeoutMs: pingTimeout, silenceMs: pingInterval + pingTimeout, anyMessage: false } });
const open = (conn: number, ts: number, pingInterval = 25000, pingTimeout = 20000) => ev(conn, 'server', 'open', ts, { heartbeatTerms: engineIo(pingInterval, pingTimeout) });
const lateOf = (alerts: { code: string; direction?: Direction; detail?: unknown }[]) => alerts.map((a) => [a.code, a.direction, a.detail]);

describe('protocol heartbeats against what they negotiated', () => {
  it('counts the server\'s pings and the client\'s pongs with the decoder\'s round trips, against pingInterval/pingTimeout', () => {
    const h = new AppHeartbeats();
    const alerts = [open(1, 0, 300, 200), ev(1, 'server', 'ping', 0.3), ev(1, 'client', 'pong', 0.3012, { latencyMs: 1.2 }), ev(1, 'server', 'ping', 0.6), ev(1, 'client', 'pong', 0.6008, { latencyMs: 0.8 })].flatMap((e) => h.observe(e));
    expect(alerts).toEqual([]);
    expect(h.end(1, { ts: 0.7 })).toEqual({
      summary: { protocol: 'engine.io', negotiated: engineIo(300, 200), client: null, server: { pings: 2, pongs: 2, unsolicitedPongs: 0, unanswered: 0, rttMs: { min: 0.8, median: 1, max: 1.2 }, intervalMs: { min: 300, median: 300, max: 300 } } },
      alerts: [],
    });
  });

  it('flags a pong later than the timeout, a ping left unanswered past it, and pings further apart than interval + timeout, each once', () => {
    const h = new AppHeartbeats();
    const late = [open(1, 0, 300, 200), ev(1, 'server', 'ping', 0.3), ev(1, 'client', 'pong', 0.55, { latencyMs: 250 }), ev(1, 'server', 'ping', 1.2), ev(1, 'server', 'ping', 1.5)].flatMap((e) => h.observe(e));
    expect(lateOf(late)).toEqual([
      ['heartbeat.late', 'client', { latencyMs: 250, timeoutMs: 200 }],
      ['heartbeat.late', 'server', { gapMs: 900, limitMs: 500 }],
    ]);
    const { summary, alerts } = h.end(1, { ts: 1.8 });
    expect(summary!.server).toMatchObject({ pings: 3, pongs: 1, unanswered: 2 });
    // The ping at 1.2 s waited 600 ms, the one at 1.5 s 300 ms: past the 200 ms both.
    expect(lateOf(alerts)).toEqual([
      ['heartbeat.late', 'client', { waitedMs: 600, timeoutMs: 200 }],
      ['heartbeat.late', 'client', { waitedMs: 300, timeoutMs: 200 }],
    ]);
  });

  it('a ping unanswered when the connection ends within the timeout is counted, not flagged', () => {
    const h = new AppHeartbeats();
    [open(1, 0, 300, 200), ev(1, 'server', 'ping', 0.3)].forEach((e) => h.observe(e));
    const { summary, alerts } = h.end(1, { ts: 0.4 });
    expect(summary!.server).toMatchObject({ pings: 1, pongs: 0, unanswered: 1 });
    expect(alerts).toEqual([]);
  });

  it('flags a side silent past its limit until the connection ended', () => {
    const h = new AppHeartbeats();
    [open(1, 0, 300, 200), ev(1, 'server', 'ping', 0.3), ev(1, 'client', 'pong', 0.301)].forEach((e) => h.observe(e));
    expect(lateOf(h.end(1, { ts: 0.9, packet: 99 }).alerts)).toEqual([['heartbeat.late', 'server', { silentMs: 600, limitMs: 500 }]]);
  });

  it('takes the terms of the session, negotiated over another connection (long-polling, then the WebSocket)', () => {
    const h = new AppHeartbeats();
    h.observe(open(1, 0, 100, 50));
    expect(h.end(1, { ts: 0.01 }).summary).toEqual({ protocol: 'engine.io', negotiated: engineIo(100, 50), client: null, server: null });
    const late = [ev(2, 'server', 'ping', 0.1), ev(2, 'client', 'pong', 0.2, { latencyMs: 100 })].flatMap((e) => h.observe(e));
    expect(late.map((a) => a.detail)).toEqual([{ latencyMs: 100, timeoutMs: 50 }]);
    expect(h.end(2, { ts: 0.2 }).summary).toMatchObject({ negotiated: engineIo(100, 50), server: { pings: 1, pongs: 1 } });
  });

  it('leaves events that are no heartbeat and negotiate none alone', () => {
    const h = new AppHeartbeats();
    expect(h.observe(ev(1, 'client', 'ping', 0, { heartbeat: false }))).toEqual([]);
    expect(h.observe(ev(1, 'client', 'message', 0))).toEqual([]);
    expect(h.end(1, { ts: 1 })).toEqual({ summary: null, alerts: [] });
  });

  it('a pong with no ping waiting, and a one-way beat, are one-way heartbeats of their sender; without negotiation `negotiated` is null', () => {
    const h = new AppHeartbeats();
    h.observe(ev(1, 'client', 'pong', 0.5, { protocol: 'graphql-ws', session: null }));
    h.observe(ev(1, 'server', 'ping', 0.5, { protocol: 'signalr', session: null, heartbeatRole: 'beat' }));
    h.observe(ev(1, 'server', 'ping', 0.75, { protocol: 'signalr', session: null, heartbeatRole: 'beat' }));
    expect(h.end(1, { ts: 1 }).summary).toMatchObject({ protocol: 'graphql-ws', negotiated: null, client: { pings: 0, unsolicitedPongs: 1 }, server: { pings: 0, unsolicitedPongs: 2, intervalMs: { min: 250, median: 250, max: 250 } } });
  });

  it('pairs a pong with the oldest ping of the other side when the decoder made no pairing', () => {
    const h = new AppHeartbeats();
    [ev(1, 'client', 'ping', 1, { protocol: 'mqtt', session: null, kind: 'pingreq', heartbeatRole: 'ping' }), ev(1, 'server', 'pingresp', 1.004, { protocol: 'mqtt', session: null, heartbeat: true, heartbeatRole: 'pong' })].forEach((e) => h.observe(e));
    expect(h.end(1, { ts: 2 }).summary!.client).toMatchObject({ pings: 1, pongs: 1, rttMs: { min: 4, median: 4, max: 4 } });
  });

  it('where any message counts (STOMP, MQTT), a side is late only when nothing at all came from it for too long', () => {
    const h = new AppHeartbeats();
    const terms: HeartbeatTerms = { client: { intervalMs: 100, timeoutMs: null, silenceMs: 200, anyMessage: true }, server: null };
    const stomp = (direction: Direction, kind: string, ts: number, heartbeat = false) => ev(1, direction, kind, ts, { protocol: 'stomp', session: null, heartbeat, ...(kind === 'connected' ? { heartbeatTerms: terms } : {}) });
    const late = [stomp('server', 'connected', 0), stomp('client', 'send', 0.15), stomp('client', 'heartbeat', 0.3, true), stomp('server', 'message', 0.6), stomp('client', 'send', 0.65)].flatMap((e) => h.observe(e));
    expect(lateOf(late)).toEqual([['heartbeat.late', 'client', { gapMs: 350, limitMs: 200 }]]);
    expect(h.end(1, { ts: 0.7 }).summary).toMatchObject({ protocol: 'stomp', negotiated: terms, client: { unsolicitedPongs: 1 }, server: null });
  });
});

describe('the application layer reports them', () => {
  it('Engine.IO over WebSocket: the open packet\'s terms, the pongs\' round trips and heartbeat.late in the event stream and on the end event', () => {
    const layer = new AppLayer();
    const events = layer.process([handshakeEvent(1, '/socket.io/?EIO=4&transport=websocket')]);
    const send = (from: Direction, text: string, ms: number) => events.push(...layer.process([messageEvent(1, from, text, ms, ms / 1000)]));
    send('server', '0{"sid":"abc","upgrades":[],"pingInterval":100,"pingTimeout":50}', 1);
    send('server', '2', 101);
    send('client', '3', 102);
    send('server', '2', 201);
    send('client', '3', 271);
    const end = endEvent(1, 300);
    events.push(...layer.process([end]));
    expect(events.filter((e) => e.type === 'alert').map((e) => e.type === 'alert' && [e.alert.code, e.alert.direction, e.alert.packet, e.alert.detail])).toEqual([['heartbeat.late', 'client', 271, { latencyMs: 70, timeoutMs: 50 }]]);
    // The alert comes right after the pong that was late.
    const pong = events.findIndex((e) => e.type === 'app' && e.at.packet === 271);
    expect(events[pong + 1]).toMatchObject({ type: 'alert', alert: { code: 'heartbeat.late' } });
    expect((end as ConnectionEndEvent).appHeartbeat).toEqual({
      protocol: 'engine.io',
      negotiated: engineIo(100, 50),
      client: null,
      server: { pings: 2, pongs: 2, unsolicitedPongs: 0, unanswered: 0, rttMs: { min: 1, median: 35.5, max: 70 }, intervalMs: { min: 100, median: 100, max: 100 } },
    });
    expect((end as ConnectionEndEvent).alerts.warning).toBe(1);
  });

  it('STOMP: a side silent for more than twice its negotiated heart-beat is late, within twice it is not', () => {
    const stomp = (command: string, headers: [string, string][]) => `${command}\n${headers.map(([k, v]) => `${k}:${v}\n`).join('')}\n\0`;
    const session = (clientBeatsMs: number[]) => {
      const layer = new AppLayer();
      const events = layer.process([handshakeEvent(1, '/stomp', 'v12.stomp')]);
      const send = (from: Direction, text: string, ms: number) => events.push(...layer.process([messageEvent(1, from, text, ms, ms / 1000)]));
      send('client', stomp('CONNECT', [['accept-version', '1.2'], ['host', 'h'], ['heart-beat', '100,0']]), 1);
      send('server', stomp('CONNECTED', [['version', '1.2'], ['heart-beat', '0,100']]), 2);
      for (const ms of clientBeatsMs) send('client', '\n', ms);
      const end = endEvent(1, 500);
      events.push(...layer.process([end]));
      return events.filter((e) => e.type === 'alert').map((e) => e.type === 'alert' && [e.alert.code, e.alert.direction]);
    };
    // The client owes a beat every 100 ms, so 200 ms of silence is its limit.
    expect(session([150, 320])).toEqual([]);
    expect(session([150])).toEqual([['heartbeat.late', 'client']]);
    expect(session([150, 400])).toEqual([['heartbeat.late', 'client']]);
  });

  it('Engine.IO v3: the client pings and owes the heartbeat', () => {
    const layer = new AppLayer();
    layer.process([handshakeEvent(1, '/socket.io/?EIO=3&transport=websocket')]);
    layer.process([messageEvent(1, 'server', '0{"sid":"abc","upgrades":[],"pingInterval":100,"pingTimeout":50}', 1)]);
    layer.process([messageEvent(1, 'client', '2', 2)]);
    layer.process([messageEvent(1, 'server', '3', 3)]);
    const end = endEvent(1, 4) as ConnectionEndEvent;
    layer.process([end]);
    expect(end.appHeartbeat).toMatchObject({ negotiated: { client: { intervalMs: 100, timeoutMs: 50, silenceMs: 150 }, server: null }, client: { pings: 1, pongs: 1 }, server: null });
  });
});
