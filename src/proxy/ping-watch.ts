/**
 * wsproxy's live line for a Ping that goes unanswered: a capture is judged when it ends, but a
 * proxy can say it while it happens. Each Ping the dissection sees starts a timer; the Pong that
 * answers it (or a later Ping, §5.5.3) stops it; a timer that fires reports the Ping once.
 * The protocols' own pings (Engine.IO, MQTT PINGREQ, graphql-ws …) are watched the same way,
 * for the timeout their protocol negotiated (Engine.IO's pingTimeout) or else --ping-timeout;
 * their answer is the next pong of the other side. Timers are unref'd and bounded per side, and
 * all stop when the connection ends.
 */
import type { Direction } from '../alerts.js';
import type { AppEvent, HeartbeatTerms } from '../app/types.js';
import type { DissectEvent } from '../engine/events.js';
import { Opcode } from '../websocket/constants.js';

interface Waiting {
  offset: number;
  timer: NodeJS.Timeout;
}

/** Pings watched per side: as many as the session pairs (src/websocket/heartbeat.ts). */
const MAX_WATCHED = 64;

export class PingWatch {
  private readonly waiting: Record<Direction, Waiting[]> = { client: [], server: [] };
  /** The protocol's pings waiting for their pong, oldest first. */
  private readonly appWaiting: Record<Direction, NodeJS.Timeout[]> = { client: [], server: [] };
  /** What the protocol negotiated on this connection, once seen. */
  private terms: HeartbeatTerms | null = null;
  private stopped = false;

  constructor(
    private readonly conn: number,
    /** Milliseconds without an answer before a Ping is reported. */
    private readonly timeout: number,
    private readonly report: (message: string) => void,
  ) {}

  /** An event of this connection, as the dissection emits it. */
  observe(event: DissectEvent): void {
    if (this.stopped) return;
    if (event.type === 'app') return this.app(event);
    if (event.type !== 'message') return;
    const m = event.message;
    if (m.opcode === Opcode.Ping) {
      const list = this.waiting[m.direction];
      const packet = m.start.packet;
      const timer = setTimeout(() => {
        const at = list.findIndex((w) => w.timer === timer);
        if (at >= 0) list.splice(at, 1);
        const seconds = this.timeout / 1000;
        this.report(`#${this.conn}: the ${m.direction}'s Ping${packet !== undefined ? ` (packet ${packet})` : ''} has had no Pong for ${seconds} s (--ping-timeout).`);
      }, this.timeout);
      timer.unref();
      list.push({ offset: m.frameOffsets[0]!, timer });
      if (list.length > MAX_WATCHED) clearTimeout(list.shift()!.timer);
    } else if (m.opcode === Opcode.Pong && m.answers) {
      // The answered Ping and those before it (the peer may answer only the latest, §5.5.3).
      const list = this.waiting[m.direction === 'client' ? 'server' : 'client'];
      const answered = m.answers.offset;
      while (list.length > 0 && list[0]!.offset <= answered) clearTimeout(list.shift()!.timer);
    }
  }

  /** A protocol's own ping starts its timer; the other side's pong stops the oldest. */
  private app(e: AppEvent): void {
    if (e.heartbeatTerms !== undefined) this.terms = e.heartbeatTerms;
    // Over long-polling a ping's pong comes in another request, on another connection.
    if (e.transport !== 'websocket') return;
    if (e.heartbeatRole === 'ping') {
      const timeoutMs = this.terms?.[e.direction]?.timeoutMs;
      const negotiated = timeoutMs !== undefined && timeoutMs !== null && timeoutMs > 0 ? timeoutMs : null;
      const wait = negotiated ?? this.timeout;
      const list = this.appWaiting[e.direction];
      const packet = e.at.packet;
      const timer = setTimeout(() => {
        const at = list.indexOf(timer);
        if (at >= 0) list.splice(at, 1);
        this.report(`#${this.conn}: the ${e.direction}'s ${e.protocol} ping${packet !== undefined ? ` (packet ${packet})` : ''} has had no pong for ${wait / 1000} s (${negotiated !== null ? 'the timeout its protocol negotiated' : '--ping-timeout'}).`);
      }, wait);
      timer.unref();
      list.push(timer);
      if (list.length > MAX_WATCHED) clearTimeout(list.shift()!);
    } else if (e.heartbeatRole === 'pong') {
      const list = this.appWaiting[e.direction === 'client' ? 'server' : 'client'];
      if (list.length > 0) clearTimeout(list.shift()!);
    }
  }

  /** The connection is over: nothing more to report. */
  stop(): void {
    this.stopped = true;
    for (const list of Object.values(this.waiting)) for (const w of list.splice(0)) clearTimeout(w.timer);
    for (const list of Object.values(this.appWaiting)) for (const timer of list.splice(0)) clearTimeout(timer);
  }
}
