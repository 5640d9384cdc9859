/**
 * WebSocket heartbeats (RFC 6455 §5.5.2, §5.5.3): each Ping paired with the Pong that answers
 * it, round-trip times, intervals, Pongs that answer nothing (one-way heartbeats) and Pings
 * that got no answer. Pure: messages in, alerts and figures out.
 *
 * Pairing: a Pong answers the oldest outstanding Ping of the other side that carries the same
 * payload (TCP keeps order, and peers answer in order). The outstanding Pings sent before that
 * one got no answer of their own: they count as unanswered, but raise no alert, since §5.5.3
 * lets a peer answer only the most recent Ping. A Pong matching none of the outstanding Pings
 * is `pong.mismatch` and is taken as the answer to the most recent one. Pings still outstanding
 * when the connection ends were never answered: `ping.unanswered`, with how long the connection
 * lived after each.
 */
import { makeAlert, sideOf, type Alert, type Direction } from '../alerts.js';
import { roundMs, Samples, type Spread } from './samples.js';
import type { Message } from './types.js';

/** The heartbeats of one side: the Pings it sent and what answered them. */
export interface HeartbeatStats {
  /** Pings this side sent. */
  pings: number;
  /** Pongs of the peer that answered them. */
  pongs: number;
  /** Pongs this side sent that answered no Ping: a one-way heartbeat (§5.5.3). */
  unsolicitedPongs: number;
  /** Pings of this side that got no Pong of their own, skipped ones included (see the pairing above). */
  unanswered: number;
  /** Ping to its Pong, over the answered Pings whose times are known. */
  rttMs: Spread | null;
  /** Between consecutive heartbeats of this side (its Pings and its unsolicited Pongs). */
  intervalMs: Spread | null;
}

/** What a Pong answers, set on the Pong message: the Ping's frame offset and packet, and the round trip. */
export interface PongAnswer {
  offset: number;
  packet: number | null;
  rttMs: number | null;
}

interface Ping {
  payload: string;
  offset: number;
  packet: number | undefined;
  ts: number | undefined;
}

/** Outstanding Pings kept per side: enough for any sane peer, bounded for hostile ones. */
const MAX_OUTSTANDING = 64;
/** Unanswered Pings reported one by one per side; more are counted, not listed. */
const MAX_REPORTED = 64;

const other = (d: Direction): Direction => (d === 'client' ? 'server' : 'client');

function payloadKey(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
}

/**
 * The figures of one side's heartbeats: what HeartbeatStats reports, counted as they come. Shared
 * by the WebSocket heartbeats here and the protocols' own (src/engine/app-heartbeat.ts).
 */
export class HeartbeatCounts {
  pings = 0;
  pongs = 0;
  unsolicited = 0;
  unanswered = 0;
  readonly rtt = new Samples();
  readonly interval = new Samples();
  private lastBeat: number | undefined;

  /** A heartbeat this side sent at `ts` (seconds): the interval since its previous one. */
  beat(ts: number | undefined): void {
    if (ts === undefined) return;
    if (this.lastBeat !== undefined) this.interval.add((ts - this.lastBeat) * 1000);
    this.lastBeat = ts;
  }

  /** null for a side that sent no heartbeat at all. */
  stats(): HeartbeatStats | null {
    if (this.pings === 0 && this.unsolicited === 0) return null;
    return { pings: this.pings, pongs: this.pongs, unsolicitedPongs: this.unsolicited, unanswered: this.unanswered, rttMs: this.rtt.spread(), intervalMs: this.interval.spread() };
  }
}

class SideBeats extends HeartbeatCounts {
  /** Pings never answered at all (not skipped), and the first MAX_REPORTED of them, for their alerts. */
  neverAnswered = 0;
  readonly outstanding: Ping[] = [];
  readonly reported: Ping[] = [];

  /** `ping` got no Pong; `skipped` when the peer answered a later one instead (§5.5.3). */
  giveUp(ping: Ping, skipped: boolean): void {
    this.unanswered++;
    if (skipped) return;
    this.neverAnswered++;
    if (this.reported.length < MAX_REPORTED) this.reported.push(ping);
  }
}

export class HeartbeatTracker {
  private readonly sides: Record<Direction, SideBeats> = { client: new SideBeats(), server: new SideBeats() };

  /** A Ping message of `message.direction`. */
  ping(message: Message): void {
    const side = sideOf(this.sides, message.direction);
    side.pings++;
    side.beat(message.end.ts);
    side.outstanding.push({ payload: payloadKey(message.data), offset: message.frameOffsets[0]!, packet: message.start.packet, ts: message.end.ts });
    if (side.outstanding.length > MAX_OUTSTANDING) side.giveUp(side.outstanding.shift()!, false);
  }

  /** A Pong message: sets `message.answers`, and returns pong.mismatch when it echoes no outstanding Ping. */
  pong(message: Message): Alert | null {
    const pinger = sideOf(this.sides, other(message.direction));
    const pending = pinger.outstanding;
    if (pending.length === 0) {
      // §5.5.3: "A Pong frame MAY be sent unsolicited. This serves as a unidirectional heartbeat."
      const sender = sideOf(this.sides, message.direction);
      sender.unsolicited++;
      sender.beat(message.end.ts);
      message.answers = null;
      return null;
    }
    const payload = payloadKey(message.data);
    let index = pending.findIndex((p) => p.payload === payload);
    let alert: Alert | null = null;
    if (index < 0) {
      index = pending.length - 1;
      if (!message.truncated) {
        alert = makeAlert('pong.mismatch', `Pong payload (${message.length} bytes) matches none of the ${pending.length} unanswered Ping(s); taken as the answer to the latest.`, {
          direction: message.direction,
          offset: message.frameOffsets[0]!,
          ...(message.start.packet !== undefined ? { packet: message.start.packet } : {}),
        });
      }
    }
    const answered = pending[index]!;
    for (const skipped of pending.splice(0, index + 1).slice(0, index)) pinger.giveUp(skipped, true);
    pinger.pongs++;
    const rtt = answered.ts !== undefined && message.end.ts !== undefined ? roundMs((message.end.ts - answered.ts) * 1000) : null;
    if (rtt !== null) pinger.rtt.add(rtt);
    message.answers = { offset: answered.offset, packet: answered.packet ?? null, rttMs: rtt };
    return alert;
  }

  /**
   * The connection is over: every Ping of `direction` still outstanding is unanswered. `end.ts` is when the
   * connection ended (the first FIN or RST), or when the capture did (`tcpEnded` false).
   */
  finish(direction: Direction, end: { ts?: number | undefined; tcpEnded: boolean }): Alert[] {
    const side = sideOf(this.sides, direction);
    for (const ping of side.outstanding.splice(0)) side.giveUp(ping, false);
    const alerts = side.reported.map((ping, i) => {
      const lived = ping.ts !== undefined && end.ts !== undefined ? roundMs(Math.max(0, end.ts - ping.ts) * 1000) : null;
      const after = lived === null ? '' : end.tcpEnded ? `; the connection ended ${lived} ms after it` : `; the capture ended ${lived} ms after it, the connection still open`;
      const more = i === side.reported.length - 1 && side.neverAnswered > side.reported.length ? ` (${side.neverAnswered - side.reported.length} more such Pings of the ${direction} are counted in the end event, not listed)` : '';
      return makeAlert('ping.unanswered', `The ${direction}'s Ping was never answered by a Pong${after}.${more}`, {
        direction,
        offset: ping.offset,
        ...(ping.packet !== undefined ? { packet: ping.packet } : {}),
        detail: { livedMs: lived, tcpEnded: end.tcpEnded },
      });
    });
    side.reported.length = 0;
    return alerts;
  }

  /** Per side that sent Pings (or unsolicited Pongs); null for a side that sent neither. */
  stats(): Record<Direction, HeartbeatStats | null> {
    return { client: this.sides.client.stats(), server: this.sides.server.stats() };
  }
}
