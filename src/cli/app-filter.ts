/**
 * The filters that judge traffic by what it means: --event (a glob over event names, methods,
 * targets, topics), --grep (a regular expression over message text and application fields)
 * and --hide-heartbeats (WebSocket ping/pong and every protocol's own keep-alive).
 *
 * A message is judged by its application messages (MessageEvent.app), which the layer sets
 * before the message is shown; its frames came before it, so the frames of a data message are
 * held until the message is complete, then shown or dropped with it. What --hide-heartbeats
 * hides is counted per connection, for the summaries.
 */
import type { Direction } from '../alerts.js';
import type { AppEvent } from '../app/types.js';
import { valueToJson } from '../app/values.js';
import type { DissectEvent, FrameEvent, MessageEvent } from '../engine/events.js';
import type { ViewOptions } from './common.js';

/** Frames held for one message at most; beyond, they are shown undecided (a message of thousands of fragments). */
const MAX_HELD = 4096;

/** A glob (`*` any run of characters, `?` one) as an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  const source = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 's');
}

const isPingPong = (opcode: number) => opcode === 0x9 || opcode === 0xa;
const isData = (opcode: number) => opcode <= 0x2;

interface Held {
  /** Frames of the data message being sent. */
  data: FrameEvent[];
  /** The control frame whose message comes next. */
  control: FrameEvent | null;
}

export class AppFilter {
  private readonly globs: RegExp[] | null;
  private readonly grep: RegExp | null;
  private readonly hideHeartbeats: boolean;
  /** Only what matches --event or --grep is shown. */
  private readonly matching: boolean;
  private readonly held = new Map<string, Held>();
  private readonly hiddenBeats = new Map<number, number>();
  /** The application messages of the last message judged, and whether it was shown: they follow it. */
  private lastApp: AppEvent[] | undefined;
  private lastShown = false;

  constructor(options: ViewOptions) {
    this.globs = options.event?.length ? options.event.map(globToRegExp) : null;
    this.grep = options.grep ?? null;
    this.hideHeartbeats = options.hideHeartbeats === true;
    this.matching = this.globs !== null || this.grep !== null;
  }

  /** Heartbeat messages hidden on connection `conn` so far. */
  hidden(conn: number): number {
    return this.hiddenBeats.get(conn) ?? 0;
  }

  /** Hands `event` to `show` now, later (a held frame, with its message) or never. */
  push(event: DissectEvent, show: (event: DissectEvent) => void): void {
    switch (event.type) {
      case 'frame':
        return this.frame(event, show);
      case 'message':
        return this.message(event, show);
      case 'app':
        if (this.lastApp?.includes(event)) {
          // One of the message's own: shown with it (unless --event or --hide-heartbeats leaves it out).
          if (this.lastShown && !(this.hideHeartbeats && event.heartbeat) && (this.globs === null || this.named(event))) show(event);
        } else if (this.hideHeartbeats && event.heartbeat) {
          this.countBeat(event.conn);
        } else if (!this.matching || this.appMatches(event)) {
          show(event);
        }
        return;
      case 'end':
        for (const d of ['client', 'server'] as const) {
          const held = this.held.get(`${event.conn} ${d}`);
          if (held === undefined) continue;
          this.held.delete(`${event.conn} ${d}`);
          // Frames of a message that never ended: they match nothing, but hide no heartbeat.
          if (!this.matching) for (const f of [...held.data, ...(held.control ? [held.control] : [])]) show(f);
        }
        show(event);
        this.hiddenBeats.delete(event.conn);
        return;
      default:
        show(event);
    }
  }

  private frame(event: FrameEvent, show: (event: DissectEvent) => void): void {
    const f = event.frame;
    if (this.hideHeartbeats && isPingPong(f.opcode)) return;
    // Hidden or shown with its message: held until the message ends. A whole data message in
    // one frame may be a protocol heartbeat; fragments of a longer one are held only to match.
    const hold = this.matching || (this.hideHeartbeats && isData(f.opcode) && f.opcode !== 0x0 && f.fin);
    if (!hold) return show(event);
    const held = this.heldFor(event.conn, f.direction);
    if (!isData(f.opcode)) {
      held.control = event;
      return;
    }
    if (held.data.length >= MAX_HELD) {
      for (const e of held.data) show(e);
      held.data = [];
      show(event);
      return;
    }
    held.data.push(event);
  }

  private message(event: MessageEvent, show: (event: DissectEvent) => void): void {
    const m = event.message;
    const held = this.held.get(`${event.conn} ${m.direction}`);
    let frames: FrameEvent[] = [];
    if (held !== undefined) {
      if (isData(m.opcode)) {
        frames = held.data;
        held.data = [];
      } else if (held.control !== null) {
        frames = [held.control];
        held.control = null;
      }
    }
    this.lastApp = event.app;
    this.lastShown = false;
    if (this.hideHeartbeats && this.isHeartbeat(event)) {
      this.countBeat(event.conn);
      return;
    }
    if (this.matching && !this.messageMatches(event)) return;
    this.lastShown = true;
    for (const f of frames) show(f);
    show(event);
  }

  /** A WebSocket ping or pong, or a message that carried only protocol heartbeats. */
  private isHeartbeat(event: MessageEvent): boolean {
    if (isPingPong(event.message.opcode)) return true;
    const app = event.app;
    return app !== undefined && app.length > 0 && app.every((a) => a.heartbeat);
  }

  private messageMatches(event: MessageEvent): boolean {
    if (event.app?.some((a) => this.appMatches(a))) return true;
    // Without --event, --grep also looks at the text itself (and a close reason).
    if (this.globs !== null || this.grep === null) return false;
    const m = event.message;
    const text = m.text ?? m.close?.reason;
    return text !== undefined && this.grep.test(text);
  }

  private named(a: AppEvent): boolean {
    return a.name !== null && this.globs!.some((g) => g.test(a.name!));
  }

  /** --event over its name, --grep over its name and its fields (what was sent, not how it is summed up). */
  private appMatches(a: AppEvent): boolean {
    if (this.globs !== null && !this.named(a)) return false;
    if (this.grep !== null && !(a.name !== null && this.grep.test(a.name)) && !this.grep.test(JSON.stringify(valueToJson(a.fields, 4096)))) return false;
    return true;
  }

  private heldFor(conn: number, direction: Direction): Held {
    const key = `${conn} ${direction}`;
    let held = this.held.get(key);
    if (held === undefined) this.held.set(key, (held = { data: [], control: null }));
    return held;
  }

  private countBeat(conn: number): void {
    this.hiddenBeats.set(conn, this.hidden(conn) + 1);
  }
}
