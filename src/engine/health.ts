/**
 * Connection health, folded into the `end` event: the closing handshake (RFC 6455 §5.5.1, §7)
 * and how TCP ended under it, and the connection's timing. The WebSocket heartbeats come from
 * the session (src/websocket/heartbeat.ts). Pure: the ConnectionDissector feeds it what it sees,
 * and how each TCP direction ended, which only the byte source knows (the reassembler for a
 * capture, the sockets for the proxy).
 */
import { makeAlert, sideOf, type Alert, type Direction } from '../alerts.js';
import { Opcode } from '../websocket/constants.js';
import { roundMs } from '../websocket/samples.js';
import type { Frame, Message, StreamPosition } from '../websocket/types.js';

/** How one TCP direction ended: FIN, RST, the end of the capture, or abandoned (ports reused). */
export type TcpEndReason = 'fin' | 'rst' | 'capture-end' | 'abandoned';

export interface CloseSummary {
  /** The side whose Close frame came first, or null when neither sent one. */
  initiator: Direction | null;
  /** Each side's first Close code; null when it sent no Close, or one without a code (1005). */
  codes: Record<Direction, number | null>;
  /** Each side's first Close reason ("" when it gave none); null when it sent no Close. */
  reasons: Record<Direction, string | null>;
  /** Milliseconds from the first Close frame to the other side's, or null. */
  echoMs: number | null;
  /** Both Close frames exchanged and TCP ended with FIN, without a reset. */
  clean: boolean;
  /** "fin": both directions ended with FIN; "rst": a reset; "open": not ended when the capture (or proxy) stopped. */
  tcpEnd: 'fin' | 'rst' | 'open';
  /** The side that sent the first FIN or RST, or null. */
  tcpClosedFirstBy: Direction | null;
  /** What each side sent to end TCP: "rst" when it sent a reset (even after its FIN), "fin", or null (neither). */
  tcpSent: Record<Direction, 'fin' | 'rst' | null>;
  /** Data frames each side sent after its own Close (each one is a frame.after-close). */
  dataAfterClose: Record<Direction, number>;
}

export interface TimingSummary {
  /** The upgrade request to the 101 answer, or null (no handshake in the capture, or no 101). */
  upgradeMs: number | null;
  /** From the 101 to the start of each side's first text or binary message, or null. */
  firstMessageMs: Record<Direction, number | null>;
  /**
   * Each side's longest time without sending a byte while the connection was a WebSocket: from
   * the 101 (or the first byte seen, mid-stream) to the end of that side's stream.
   */
  longestSilenceMs: Record<Direction, number | null>;
}

interface FirstClose {
  code: number | null;
  reason: string;
  ts: number | undefined;
}

/** What one side did, in one object per side: a connection is short-lived, its allocations count. */
class Side {
  /** When its first text or binary message began (NaN: seen, time unknown). */
  firstMessage: number | undefined = undefined;
  /** When it last sent a byte (or the WebSocket phase began), and its longest silence so far, in seconds. */
  last: number | undefined = undefined;
  longest = 0;
  close: FirstClose | null = null;
  afterClose = 0;
  /** How its stream ended, and when. */
  tcp: TcpEndReason | null = null;
  streamEnd: number | undefined = undefined;
  /** What it sent to end TCP. */
  sent: 'fin' | 'rst' | null = null;
}

export class ConnectionHealth {
  private requestTs: number | undefined;
  private upgradeTs: number | undefined;
  private upgraded = false;
  private readonly sides: Record<Direction, Side> = { client: new Side(), server: new Side() };
  private initiator: Direction | null = null;
  private firstTcpEnd: { by: Direction; reason: 'fin' | 'rst'; at: StreamPosition } | null = null;

/** The upgrade request was complete at `ts`. */
  request(ts: number | undefined): void {
    this.requestTs = ts;
  }

  /** The WebSocket phase begins: at the 101 (`handshake` true), or mid-stream at the first byte seen. */
  websocket(ts: number | undefined, handshake: boolean): void {
    this.upgraded = handshake;
    if (handshake) this.upgradeTs = ts;
    this.sides.client.last = ts;
    this.sides.server.last = ts;
  }

  /** `direction` sent bytes at `ts` (WebSocket phase). */
  bytes(direction: Direction, ts: number | undefined): void {
    if (ts === undefined) return;
    const s = sideOf(this.sides, direction);
    if (s.last !== undefined && ts - s.last > s.longest) s.longest = ts - s.last;
    if (s.last === undefined || ts > s.last) s.last = ts;
  }

  /** A frame that broke a rule: counts data sent after its sender's Close. */
  frameAlerts(frame: Frame): void {
    for (const a of frame.alerts) if (a.code === 'frame.after-close') sideOf(this.sides, frame.direction).afterClose++;
  }

  message(m: Message): void {
    const side = sideOf(this.sides, m.direction);
    if (m.opcode === Opcode.Text || m.opcode === Opcode.Binary) {
      if (side.firstMessage === undefined) side.firstMessage = m.start.ts ?? Number.NaN;
      return;
    }
    if (m.opcode !== Opcode.Close || side.close !== null) return;
    side.close = { code: m.close?.code ?? null, reason: m.close?.reason ?? '', ts: m.end.ts };
    this.initiator ??= m.direction;
  }

  /** One TCP direction ended; `by` sent the FIN or RST that ended it. */
  tcpEnd(direction: Direction, reason: TcpEndReason, by: Direction | undefined, at: StreamPosition): void {
    const side = sideOf(this.sides, direction);
    if (side.tcp !== null) return;
    side.tcp = reason;
    side.streamEnd = at.ts;
    if ((reason !== 'fin' && reason !== 'rst') || by === undefined) return;
    if (this.firstTcpEnd === null) this.firstTcpEnd = { by, reason, at };
    // A reset ends both directions: one thing its sender sent. After a FIN it still aborts: it wins.
    const sender = sideOf(this.sides, by);
    if (sender.sent !== 'rst') sender.sent = reason;
  }

  /** When the connection ended (its first FIN or RST) and whether it did, or else `stopTs` (the capture or proxy stopped), for ping.unanswered. */
  ended(stopTs: number | undefined): { ts: number | undefined; tcpEnded: boolean } {
    return this.firstTcpEnd !== null ? { ts: this.firstTcpEnd.at.ts, tcpEnded: true } : { ts: stopTs, tcpEnded: false };
  }

  /**
   * The figures of a WebSocket connection, and the close findings the other rules do not make:
   * close.missing (TCP ended with no Close frame either way) and close.client-tcp-first.
   */
  finish(endTs: number | undefined): { close: CloseSummary; timing: TimingSummary; alerts: Alert[] } {
    const { client, server } = this.sides;
    const tcpEnd = client.tcp === 'rst' || server.tcp === 'rst' ? 'rst' : client.tcp === 'fin' && server.tcp === 'fin' ? 'fin' : 'open';
    const first = this.initiator === null ? null : sideOf(this.sides, this.initiator).close;
    const answer = this.initiator === null ? null : (this.initiator === 'client' ? server : client).close;
    const close: CloseSummary = {
      initiator: this.initiator,
      codes: { client: client.close?.code ?? null, server: server.close?.code ?? null },
      reasons: { client: client.close?.reason ?? null, server: server.close?.reason ?? null },
      echoMs: first?.ts !== undefined && answer?.ts !== undefined ? roundMs((answer.ts - first.ts) * 1000) : null,
      clean: client.close !== null && server.close !== null && tcpEnd === 'fin',
      tcpEnd,
      tcpClosedFirstBy: this.firstTcpEnd?.by ?? null,
      tcpSent: { client: client.sent, server: server.sent },
      dataAfterClose: { client: client.afterClose, server: server.afterClose },
    };
    const upgrade = this.upgraded ? this.upgradeTs : undefined;
    const timing: TimingSummary = {
      upgradeMs: this.upgraded ? since(this.upgradeTs, this.requestTs) : null,
      firstMessageMs: { client: since(client.firstMessage, upgrade), server: since(server.firstMessage, upgrade) },
      longestSilenceMs: { client: longestSilence(client, endTs), server: longestSilence(server, endTs) },
    };
    return { close, timing, alerts: this.alerts(tcpEnd) };
  }

  private alerts(tcpEnd: CloseSummary['tcpEnd']): Alert[] {
    const end = this.firstTcpEnd;
    if (end === null) return [];
    const where = { direction: end.by, ...(end.at.packet !== undefined ? { packet: end.at.packet } : {}) };
    const how = end.reason === 'fin' ? 'FIN' : 'RST';
    if (this.sides.client.close === null && this.sides.server.close === null) {
      // §7.1.5: with no Close frame received, the close code is 1006 (abnormal closure).
      return [makeAlert('close.missing', `The connection ended (TCP ${how} from the ${end.by}) with no Close frame either way: each application sees 1006 Abnormal Closure.`, { ...where, detail: { tcpEnd, by: end.by } })];
    }
    if (end.by === 'client') {
      // §7.1.1: the server should close TCP first, so that it, not the client, holds TIME_WAIT.
      return [makeAlert('close.client-tcp-first', `The client closed TCP first (${how}) after the closing handshake began; the server should, so it holds TIME_WAIT rather than the client.`, { ...where, detail: { tcpEnd } })];
    }
    return [];
  }
}

/** Milliseconds from `from` to `ts`, or null when either is unknown. */
function since(ts: number | undefined, from: number | undefined): number | null {
  return ts === undefined || from === undefined || Number.isNaN(ts) ? null : roundMs((ts - from) * 1000);
}

/** A side's longest silence, the one since its last byte up to the end of its stream included. */
function longestSilence(side: Side, endTs: number | undefined): number | null {
  if (side.last === undefined) return null;
  const end = side.streamEnd ?? endTs;
  const trailing = end !== undefined && end > side.last ? end - side.last : 0;
  return roundMs(Math.max(side.longest, trailing) * 1000);
}
