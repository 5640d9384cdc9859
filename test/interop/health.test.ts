/**
 * Connection health against what real peers did: the generators of fixtures/real (ws, Python
 * websockets, headless Chromium) recorded, in `health` of NAME.expected.json, when their side
 * pinged, when the pong came back, when they gave up and how they closed. wsdump's figures,
 * taken from the capture alone, must agree: counts exactly, each round trip on the wire at most
 * what the pinging program measured (the ping leaves after its clock read, the pong arrives
 * before its event fires), intervals and "lived after" times within a few milliseconds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dissectFile } from '../helpers/dissect.js';

interface MeasuredPing {
  payload: string;
  atMs: number;
  rttMs?: number | null;
  livedMs?: number;
}

interface SideHealth {
  pings: number;
  pongs: number;
  unsolicitedPongs: number;
  unanswered: number;
  measured: MeasuredPing[];
}

interface Health {
  heartbeat?: { client: SideHealth | null; server: SideHealth | null };
  gaveUpAtMs?: number;
  close?: Record<string, unknown>;
}

interface Manifest {
  file: string;
  connections: { client: { port: number }; server: { port: number }; closeHandshake?: boolean; health?: Health }[];
}

const DIR = 'fixtures/real';
const manifests = readdirSync(DIR)
  .filter((f) => f.endsWith('.expected.json'))
  .map((f) => ({ name: f, spec: JSON.parse(readFileSync(`${DIR}/${f}`, 'utf8')) as Manifest }))
  .filter((m) => m.spec.connections.some((c) => c.health !== undefined));

/** Milliseconds a timer or a write may drift between the program's clock and the wire on a busy machine. */
const DRIFT = 5;
/** pcap timestamps are whole microseconds. */
const TICK = 0.001;

const other = (d: 'client' | 'server') => (d === 'client' ? 'server' : 'client');
/** A measured payload as hex: Python recorded hex, the Node.js scenarios text. */
const payloadHex = (p: string, hexPayloads: boolean) => (hexPayloads ? p : Buffer.from(p).toString('hex'));

describe('health figures agree with what the real peers measured', () => {
  it('has fixtures with health records', () => {
    expect(manifests.map((m) => m.name).sort()).toEqual(['chromium-ping.expected.json', 'killed-client.expected.json', 'python-keepalive.expected.json', 'ws-heartbeat.expected.json', 'ws-no-pong.expected.json']);
  });

  it.each(manifests.map((m) => [m.name, m.spec] as const))('%s', async (_name, spec) => {
    const { json } = await dissectFile(`${DIR}/${spec.file}`);
    const hexPayloads = spec.file.startsWith('python');
    for (const expected of spec.connections) {
      const health = expected.health;
      if (health === undefined) continue;
      const conn = json.find((e) => e.type === 'connection' && e.client.port === expected.client.port)?.conn;
      const events = json.filter((e) => e.conn === conn);
      const end = events.find((e) => e.type === 'end')!;
      const alerts = events.flatMap((e) => (e.type === 'alert' ? [e] : e.type === 'message' || e.type === 'frame' ? e.alerts : []));
      const messages = events.filter((e) => e.type === 'message');

      for (const side of ['client', 'server'] as const) {
        const want = health.heartbeat?.[side];
        if (want === undefined) continue;
        if (want === null) {
          expect(end.heartbeat[side], `${side} sent no pings`).toBeNull();
          continue;
        }
        const got = end.heartbeat[side];
        expect({ pings: got.pings, pongs: got.pongs, unsolicitedPongs: got.unsolicitedPongs, unanswered: got.unanswered }).toEqual({
          pings: want.pings,
          pongs: want.pongs,
          unsolicitedPongs: want.unsolicitedPongs,
          unanswered: want.unanswered,
        });
        const pings = messages.filter((m) => m.from === side && m.opcodeName === 'ping');
        const pongs = messages.filter((m) => m.from === other(side) && m.opcodeName === 'pong');
        expect(pings.map((p) => p.payload)).toEqual(want.measured.map((p) => payloadHex(p.payload, hexPayloads)));
        const rtts: number[] = [];
        want.measured.forEach((measured, i) => {
          const ping = pings[i]!;
          const pong = pongs.find((p) => p.answers?.packet === ping.startPacket);
          if (measured.rttMs === null || measured.rttMs === undefined) {
            expect(pong, `ping ${i} was never answered`).toBeUndefined();
            return;
          }
          expect(pong, `the pong answering ping ${i}`).toBeDefined();
          expect(pong!.payload).toBe(ping.payload);
          const rtt = pong!.answers.rttMs as number;
          // On the wire the round trip is shorter than what the program saw, never longer.
          expect(rtt).toBeGreaterThan(0);
          expect(rtt, `round trip of ping ${i}: wire ${rtt} ms, measured ${measured.rttMs} ms`).toBeLessThanOrEqual(measured.rttMs + TICK);
          rtts.push(rtt);
        });
        if (rtts.length > 0) {
          const sorted = [...rtts].sort((a, b) => a - b);
          expect(got.rttMs.min).toBe(sorted[0]);
          expect(got.rttMs.max).toBe(sorted.at(-1));
        }
        // Intervals: the wire's pings are the program's, each a little later than its clock read.
        const intervals = want.measured.slice(1).map((p, i) => p.atMs - want.measured[i]!.atMs);
        if (intervals.length > 0) {
          expect(got.intervalMs.min).toBeGreaterThanOrEqual(Math.min(...intervals) - DRIFT);
          expect(got.intervalMs.max).toBeLessThanOrEqual(Math.max(...intervals) + DRIFT);
        }
        // Pings never answered: one ping.unanswered each, saying how long the connection lived after it.
        const unanswered = alerts.filter((a) => a.code === 'ping.unanswered' && a.from === side);
        expect(unanswered).toHaveLength(want.unanswered);
        for (const measured of want.measured.filter((p) => p.livedMs !== undefined)) {
          const ping = pings[want.measured.indexOf(measured)]!;
          const alert = unanswered.find((a) => a.packet === ping.startPacket);
          expect(alert, `ping.unanswered for ${measured.payload}`).toBeDefined();
          expect(Math.abs(alert!.detail.livedMs - measured.livedMs!), `lived after ${measured.payload}: wire ${alert!.detail.livedMs}, measured ${measured.livedMs}`).toBeLessThanOrEqual(DRIFT);
        }
      }

      // The program gave up this long after its last ping: its Close frame, if it sent one, is that far after the ping on the wire.
      const initiator = health.close?.initiator as 'client' | 'server' | null | undefined;
      if (health.gaveUpAtMs !== undefined && initiator) {
        const measured = health.heartbeat![initiator]!.measured.at(-1)!;
        const lastPing = messages.filter((m) => m.from === initiator && m.opcodeName === 'ping').at(-1)!;
        const closeFrame = messages.find((m) => m.from === initiator && m.opcodeName === 'close')!;
        expect(Math.abs((closeFrame.ts - lastPing.ts) * 1000 - (health.gaveUpAtMs - measured.atMs))).toBeLessThanOrEqual(DRIFT);
      }

      for (const [key, value] of Object.entries(health.close ?? {})) expect(end.close[key], `close.${key}`).toEqual(value);
      expect(alerts.some((a) => a.code === 'close.missing')).toBe(expected.closeHandshake === false);
      if (expected.closeHandshake !== false) expect(end.close.echoMs).toBeGreaterThan(0);
    }
  });
});

describe('protocol heartbeats agree with what the real peers negotiated and did', () => {
  it('socketio-node: the socket.io server pings as its open packet says, the client answers each in time', async () => {
    const spec = JSON.parse(readFileSync(`${DIR}/socketio-node.expected.json`, 'utf8')) as { connections: { app: { pingInterval: number; pingTimeout: number; pings: number } }[] };
    const { json } = await dissectFile(`${DIR}/socketio-node.pcap`);
    const { pingInterval, pingTimeout, pings } = spec.connections[0]!.app;
    const end = json.find((e) => e.type === 'end')!;
    expect(end.appHeartbeat).toMatchObject({
      protocol: 'engine.io',
      negotiated: { client: null, server: { intervalMs: pingInterval, timeoutMs: pingTimeout, silenceMs: pingInterval + pingTimeout, anyMessage: false } },
      client: null,
      server: { pings, pongs: pings, unsolicitedPongs: 0, unanswered: 0 },
    });
    // Each round trip is the pong's own pairing (the app event's latencyMs), shorter than pingTimeout.
    const pongs = json.filter((e) => e.type === 'app' && e.protocol === 'engine.io' && e.kind === 'pong' && e.data === '');
    const rtts = pongs.map((p) => p.latencyMs as number).sort((a, b) => a - b);
    expect(rtts).toHaveLength(pings);
    expect(end.appHeartbeat.server.rttMs).toMatchObject({ min: rtts[0], max: rtts.at(-1) });
    for (const rtt of rtts) expect(rtt).toBeGreaterThan(0);
    expect(rtts.at(-1)).toBeLessThan(pingTimeout);
    // engine.io's timer fires every pingInterval (never early), each ping a little after it.
    expect(end.appHeartbeat.server.intervalMs.min).toBeGreaterThanOrEqual(pingInterval - DRIFT);
    expect(end.appHeartbeat.server.intervalMs.max).toBeLessThan(pingInterval + pingTimeout);
    expect(json.filter((e) => e.type === 'alert' && e.code === 'heartbeat.late')).toEqual([]);
  });
});

interface AppHealth {
  protocol: string;
  pingInterval: number;
  pingTimeout: number;
  server: { pings: number; pongs: number; unanswered: number; measured: { atMs: number; rttMs: number | null }[] };
  closedAtMs: number;
  reason: string;
}

describe('Engine.IO heartbeats agree with what the real socket.io server measured', () => {
  const spec = JSON.parse(readFileSync(`${DIR}/socketio-heartbeat.expected.json`, 'utf8')) as { file: string; connections: { client: { port: number }; appHealth: AppHealth }[] };

  it.each(spec.connections.map((c) => [c.appHealth.reason, c] as const))('a connection the server closed for "%s"', async (_reason, expected) => {
    const { json } = await dissectFile(`${DIR}/${spec.file}`);
    const want = expected.appHealth;
    const conn = json.find((e) => e.type === 'connection' && e.client.port === expected.client.port)?.conn;
    const events = json.filter((e) => e.conn === conn);
    const end = events.find((e) => e.type === 'end')!;
    const got = end.appHeartbeat;
    expect(got.protocol).toBe(want.protocol);
    expect(got.negotiated).toEqual({ client: null, server: { intervalMs: want.pingInterval, timeoutMs: want.pingTimeout, silenceMs: want.pingInterval + want.pingTimeout, anyMessage: false } });
    expect(got.client).toBeNull();
    expect({ pings: got.server.pings, pongs: got.server.pongs, unanswered: got.server.unanswered }).toEqual({ pings: want.server.pings, pongs: want.server.pongs, unanswered: want.server.unanswered });

    // Each ping on the wire, paired with its pong: the round trip on the wire is at most what the server measured.
    const pings = events.filter((e) => e.type === 'app' && e.protocol === 'engine.io' && e.kind === 'ping' && e.from === 'server');
    const pongs = events.filter((e) => e.type === 'app' && e.protocol === 'engine.io' && e.kind === 'pong' && e.from === 'client');
    expect(pings).toHaveLength(want.server.pings);
    want.server.measured.forEach((measured, i) => {
      const pong = pongs.find((p) => p.replyTo === pings[i]!.packet);
      if (measured.rttMs === null) return expect(pong, `ping ${i} was never answered`).toBeUndefined();
      expect(pong!.latencyMs).toBeGreaterThan(0);
      expect(pong!.latencyMs).toBeLessThanOrEqual(measured.rttMs + TICK);
    });
    const intervals = want.server.measured.slice(1).map((p, i) => p.atMs - want.server.measured[i]!.atMs);
    expect(got.server.intervalMs.min).toBeGreaterThanOrEqual(Math.min(...intervals) - DRIFT);
    expect(got.server.intervalMs.max).toBeLessThanOrEqual(Math.max(...intervals) + DRIFT);

    const late = events.filter((e) => e.type === 'alert' && e.code === 'heartbeat.late');
    if (want.reason !== 'ping timeout') return expect(late).toEqual([]);
    // The server gave up pingTimeout after its last ping: one heartbeat.late, on the client, for that ping.
    const last = want.server.measured.at(-1)!;
    expect(want.closedAtMs - last.atMs).toBeGreaterThanOrEqual(want.pingTimeout);
    expect(late).toHaveLength(1);
    expect(late[0]).toMatchObject({ from: 'client', packet: pings.at(-1)!.packet, detail: { timeoutMs: want.pingTimeout } });
    // It waited from the ping to the connection's end: past the timeout, and at least until the server's Close.
    const serverClose = events.find((e) => e.type === 'message' && e.from === 'server' && e.opcodeName === 'close')!;
    expect(late[0]!.detail.waitedMs).toBeGreaterThanOrEqual((serverClose.ts - pings.at(-1)!.ts) * 1000 - TICK);
    // engine.io emits 'close' when its timer fires; ws writes the Close frame after it, and the ping left after packetCreate.
    const wire = (serverClose.ts - pings.at(-1)!.ts) * 1000;
    expect(Math.abs(wire - (want.closedAtMs - last.atMs)), `ping to Close: wire ${wire} ms, measured ${want.closedAtMs - last.atMs} ms`).toBeLessThanOrEqual(4 * DRIFT);
  });
});
