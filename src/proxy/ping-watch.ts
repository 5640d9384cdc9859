/**
 * wsproxy's live line for a Ping that goes unanswered: a capture is judged when it ends, but a
 * proxy can say it while it happens. Each Ping the dissection sees starts a timer; the Pong that
 * answers it (or a later Ping, §5.5.3) stops it; a timer that fires reports the Ping once.
 * Timers are unref'd and bounded per side, and all stop when the connection ends.
 */
import type { Direction } from '../alerts.js';
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
  private stopped = false;

  constructor(
    private readonly conn: number,
    /** Milliseconds without an answer before a Ping is reported. */
    private readonly timeout: number,
    private readonly report: (message: string) => void,
  ) {}

  /** An event of this connection, as the dissection emits it. */
  observe(event: DissectEvent): void {
    if (this.stopped || event.type !== 'message') return;
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

  /** The connection is over: nothing more to report. */
  stop(): void {
    this.stopped = true;
    for (const list of Object.values(this.waiting)) for (const w of list.splice(0)) clearTimeout(w.timer);
  }
}
