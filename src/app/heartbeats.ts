/**
 * Heartbeats of the protocols above WebSocket, against what they negotiated: the `appHeartbeat`
 * of an `end` event and `heartbeat.late`. Generic: each decoder marks its heartbeats (AppEvent
 * `heartbeat`, `heartbeatRole`) and reports what its protocol negotiated (`heartbeatTerms`, see
 * HeartbeatDuty); this counts and judges them the same way for every protocol, and decodes
 * nothing itself.
 *
 * Three things are late (each once): an answer later than the pinger's `timeoutMs` (Engine.IO
 * pingTimeout); a ping still unanswered past that timeout while the connection lived on; a side
 * silent for longer than its `silenceMs` (Engine.IO pingInterval + pingTimeout, MQTT 1.5 × Keep
 * Alive), between two of its heartbeats (or, where any message counts, two of its messages), or
 * from its last one to the end of the connection.
 */
import { makeAlert, sideOf, type Alert, type Direction } from '../alerts.js';
import { HeartbeatCounts, type HeartbeatStats } from '../websocket/heartbeat.js';
import { roundMs } from '../websocket/samples.js';
import type { StreamPosition } from '../websocket/types.js';
import type { AppEvent, HeartbeatDuty, HeartbeatTerms } from './types.js';

/** `appHeartbeat` of an end event (docs/json.md). */
export interface AppHeartbeatSummary {
  /** The protocol whose heartbeats these are ("engine.io", "stomp", "mqtt" …). */
  protocol: string;
  /** What it negotiated, by the side that owes the heartbeat; null when it negotiates nothing. */
  negotiated: HeartbeatTerms | null;
  /** As in `heartbeat`, by the side that sent the pings (one-way beats count as unsolicitedPongs). */
  client: HeartbeatStats | null;
  server: HeartbeatStats | null;
}

interface Outstanding {
  conn: number;
  direction: Direction;
  ts: number | undefined;
  packet: number | undefined;
}

interface ConnBeats {
  protocol: string | null;
  terms: HeartbeatTerms | null;
  session: string | null;
  sides: Record<Direction, HeartbeatCounts>;
  /** When each side last sent what its duty counts (a heartbeat, or any message), in seconds. */
  lastSent: Record<Direction, number | undefined>;
}

/** Pings waiting for their answer, per session or connection: bounded as the WebSocket ones are. */
const MAX_OUTSTANDING = 64;
/** Sessions whose negotiated terms are remembered (an open packet may come over another connection). */
const MAX_SESSIONS = 1024;

const other = (d: Direction): Direction => (d === 'client' ? 'server' : 'client');
const ms = (n: number) => `${roundMs(n)} ms`;

export class AppHeartbeats {
  private readonly conns = new Map<number, ConnBeats>();
  private readonly sessionTerms = new Map<string, HeartbeatTerms>();
  /** Pings not answered yet, by session (the answer may come over another connection) or connection. */
  private readonly outstanding = new Map<string, Outstanding[]>();

  /** An application event; returns the heartbeat.late alerts it shows. */
  observe(e: AppEvent): Alert[] {
    let conn = this.conns.get(e.conn);
    if (e.heartbeatTerms !== undefined) {
      conn ??= this.track(e);
      conn.protocol = e.protocol;
      conn.terms = e.heartbeatTerms;
      if (conn.session !== null) this.remember(conn.session, e.heartbeatTerms);
      // The clock of each duty starts when it is agreed.
      for (const side of ['client', 'server'] as const) if (e.heartbeatTerms[side] !== null && e.at.ts !== undefined) conn.lastSent[side] ??= e.at.ts;
    }
    if (e.heartbeat) {
      conn ??= this.track(e);
      conn.protocol ??= e.protocol;
    }
    if (conn === undefined) return [];
    conn.session ??= e.session;
    const alerts: Alert[] = [];
    const role = e.heartbeat ? (e.heartbeatRole ?? 'beat') : null;
    const duty = this.duty(conn, e.direction);
    if (duty !== null && (duty.anyMessage || role === 'ping' || role === 'beat')) this.sent(conn, e, duty, alerts);
    if (role === 'ping') this.ping(conn, e);
    else if (role === 'pong') this.pong(conn, e, alerts);
    else if (role === 'beat') {
      const side = sideOf(conn.sides, e.direction);
      side.unsolicited++;
      side.beat(e.at.ts);
    }
    return alerts;
  }

  /**
   * Connection `id` is over (at `at`): its summary, null when it carried no protocol heartbeat
   * and negotiated none, and the late findings only its end shows. `judgeSilence` false: the
   * connection was one of a session's HTTP long-polling connections, which come and go while
   * the session's heartbeats continue elsewhere, so its quiet end says nothing.
   */
  end(id: number, at: StreamPosition, judgeSilence = true): { summary: AppHeartbeatSummary | null; alerts: Alert[] } {
    const conn = this.conns.get(id);
    if (conn === undefined) return { summary: null, alerts: [] };
    this.conns.delete(id);
    const alerts: Alert[] = [];
    const key = this.key(conn, id);
    const list = this.outstanding.get(key) ?? [];
    const left = list.filter((p) => p.conn === id);
    if (left.length > 0) this.outstanding.set(key, list.filter((p) => p.conn !== id));
    if (this.outstanding.get(key)?.length === 0) this.outstanding.delete(key);
    for (const ping of left) {
      sideOf(conn.sides, ping.direction).unanswered++;
      const timeoutMs = this.duty(conn, ping.direction)?.timeoutMs ?? null;
      const lived = ping.ts !== undefined && at.ts !== undefined ? (at.ts - ping.ts) * 1000 : null;
      if (timeoutMs !== null && lived !== null && lived > timeoutMs) {
        alerts.push(late(other(ping.direction), ping.packet, `The ${conn.protocol} ping of the ${ping.direction} got no answer within its timeout (${ms(timeoutMs)}): the connection lived ${ms(lived)} after it.`, { waitedMs: roundMs(lived), timeoutMs }));
      }
    }
    for (const side of judgeSilence ? (['client', 'server'] as const) : []) {
      const duty = this.duty(conn, side);
      const last = conn.lastSent[side];
      if (duty?.silenceMs == null || last === undefined || at.ts === undefined) continue;
      const silent = (at.ts - last) * 1000;
      if (silent > duty.silenceMs) alerts.push(late(side, at.packet, `The ${conn.protocol} ${side} sent ${duty.anyMessage ? 'nothing' : 'no heartbeat'} for the last ${ms(silent)} of the connection: past the ${ms(duty.silenceMs)} after which the ${other(side)} gives up.`, { silentMs: roundMs(silent), limitMs: duty.silenceMs }));
    }
    if (conn.protocol === null) return { summary: null, alerts };
    const negotiated = conn.terms ?? (conn.session !== null ? this.sessionTerms.get(conn.session) : undefined) ?? null;
    return { summary: { protocol: conn.protocol, negotiated, client: conn.sides.client.stats(), server: conn.sides.server.stats() }, alerts };
  }

  /** `e` is something `e.direction` owes under `duty`: late when the previous one was too long ago. */
  private sent(conn: ConnBeats, e: AppEvent, duty: HeartbeatDuty, alerts: Alert[]): void {
    const previous = conn.lastSent[e.direction];
    if (e.at.ts === undefined) return;
    conn.lastSent[e.direction] = e.at.ts;
    if (previous === undefined || duty.silenceMs === null) return;
    const gap = (e.at.ts - previous) * 1000;
    if (gap <= duty.silenceMs) return;
    const what = duty.anyMessage ? 'message' : 'heartbeat';
    alerts.push(late(e.direction, e.at.packet, `The ${e.protocol} ${e.direction}'s ${what} came ${ms(gap)} after its previous one: past the ${ms(duty.silenceMs)} after which the ${other(e.direction)} gives up.`, { gapMs: roundMs(gap), limitMs: duty.silenceMs }));
  }

  private ping(conn: ConnBeats, e: AppEvent): void {
    const side = sideOf(conn.sides, e.direction);
    side.pings++;
    side.beat(e.at.ts);
    const key = this.key(conn, e.conn);
    let list = this.outstanding.get(key);
    if (list === undefined) this.outstanding.set(key, (list = []));
    list.push({ conn: e.conn, direction: e.direction, ts: e.at.ts, packet: e.at.packet });
    if (list.length > MAX_OUTSTANDING) {
      const dropped = list.shift()!;
      const owner = this.conns.get(dropped.conn);
      if (owner !== undefined) sideOf(owner.sides, dropped.direction).unanswered++;
    }
  }

  private pong(conn: ConnBeats, e: AppEvent, alerts: Alert[]): void {
    const pinger = other(e.direction);
    const list = this.outstanding.get(this.key(conn, e.conn));
    const index = list?.findIndex((p) => p.direction === pinger) ?? -1;
    if (list === undefined || index < 0) {
      // No ping waiting for it: a one-way heartbeat of its sender.
      const sender = sideOf(conn.sides, e.direction);
      sender.unsolicited++;
      sender.beat(e.at.ts);
      return;
    }
    // Answers come in order: the oldest waiting ping of the pinger is answered.
    const answered = list.splice(index, 1)[0]!;
    const owner = this.conns.get(answered.conn) ?? conn;
    const side = sideOf(owner.sides, pinger);
    side.pongs++;
    // The decoder's own pairing (by payload) when it made one, else the oldest ping's time.
    const latency = e.latencyMs ?? (answered.ts !== undefined && e.at.ts !== undefined ? roundMs((e.at.ts - answered.ts) * 1000) : null);
    if (latency === null) return;
    side.rtt.add(latency);
    const timeoutMs = this.duty(owner, pinger)?.timeoutMs ?? null;
    if (timeoutMs === null || latency <= timeoutMs) return;
    alerts.push(late(e.direction, e.at.packet, `The ${e.protocol} ${e.direction} answered a ping after ${ms(latency)}: later than its timeout (${ms(timeoutMs)}), after which the ${pinger} may close the connection.`, { latencyMs: roundMs(latency), timeoutMs }));
  }

  private track(e: AppEvent): ConnBeats {
    const conn: ConnBeats = { protocol: null, terms: null, session: e.session, sides: { client: new HeartbeatCounts(), server: new HeartbeatCounts() }, lastSent: { client: undefined, server: undefined } };
    this.conns.set(e.conn, conn);
    return conn;
  }

  private key(conn: ConnBeats, id: number): string {
    return conn.session !== null ? `s${conn.session}` : `#${id}`;
  }

  /** What `side` owes on this connection: its own terms, or its session's (negotiated over polling). */
  private duty(conn: ConnBeats, side: Direction): HeartbeatDuty | null {
    const terms = conn.terms ?? (conn.session !== null ? this.sessionTerms.get(conn.session) : undefined);
    return terms !== undefined && terms !== null ? sideOf(terms, side) : null;
  }

  private remember(session: string, terms: HeartbeatTerms): void {
    if (this.sessionTerms.size >= MAX_SESSIONS && !this.sessionTerms.has(session)) this.sessionTerms.delete(this.sessionTerms.keys().next().value!);
    this.sessionTerms.set(session, terms);
  }
}

function late(direction: Direction, packet: number | undefined, message: string, detail: Record<string, number>): Alert {
  return makeAlert('heartbeat.late', message, { direction, ...(packet !== undefined ? { packet } : {}), detail });
}
