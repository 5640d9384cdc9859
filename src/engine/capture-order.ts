/**
 * Capture order across the two directions of a connection whose framing is being found again.
 *
 * A parser that lost its framing (a stream joined mid-way, bytes missing from the capture)
 * holds a candidate frame until the next bytes of its direction confirm where the frame ends
 * (src/websocket/frame-parser.ts, scan()). Meanwhile the other direction's frames are complete
 * and would be shown first: with --decode-as on a late capture, a server frame of packet 3
 * came out after the client's packet 5. While one direction holds such bytes, the other's
 * events wait here (a bounded number), then both come out in the order their frames ended in
 * the capture.
 */
import type { Direction } from '../alerts.js';
import type { DissectEvent } from './events.js';

/** Events held at most; past this, they are let through as they are (order then as decoded). */
const MAX_HELD = 256;

/** Where an event ended in the capture: its packet number, else its time; undefined when it does not say. */
function endOf(event: DissectEvent): number | undefined {
  switch (event.type) {
    case 'frame':
      return event.frame.end.packet ?? event.frame.end.ts;
    case 'message':
      return event.message.end.packet ?? event.message.end.ts;
    case 'alert':
      return event.alert.packet;
    default:
      return undefined;
  }
}

/**
 * Runs of events that stay together: a frame and what follows it (its message, its alerts),
 * each with the capture position of the frame that starts it (the run's own first event's
 * position, or -Infinity, for what comes before any frame).
 */
function runs(events: DissectEvent[]): { at: number; events: DissectEvent[] }[] {
  const out: { at: number; events: DissectEvent[] }[] = [];
  for (const event of events) {
    const last = out[out.length - 1];
    if (last === undefined || event.type === 'frame') out.push({ at: endOf(event) ?? last?.at ?? -Infinity, events: [event] });
    else last.events.push(event);
  }
  return out;
}

/** Both lists in capture order, each list's own order kept; on a tie, `older` first. */
export function mergeInCaptureOrder(older: DissectEvent[], newer: DissectEvent[]): DissectEvent[] {
  if (older.length === 0) return newer;
  if (newer.length === 0) return older;
  const a = runs(older);
  const b = runs(newer);
  const out: DissectEvent[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.at <= b[j]!.at)) out.push(...a[i++]!.events);
    else out.push(...b[j++]!.events);
  }
  return out;
}

export class CaptureOrder {
  /** Events of `direction`, held while the other direction holds the bytes of a candidate frame. */
  private held: { direction: Direction; events: DissectEvent[] } | null = null;

  /**
   * What to emit now of `events`, just decoded from `direction`'s bytes; `streams.waiting(d)`
   * says whether direction d holds bytes that may complete an older frame (the connection's
   * session answers: a closure and its context were 96 bytes more per open connection).
   */
  order(direction: Direction, events: DissectEvent[], streams: { waiting(direction: Direction): boolean }): DissectEvent[] {
    const other: Direction = direction === 'client' ? 'server' : 'client';
    const held = this.held;
    if (held !== null && held.direction !== direction) {
      // The direction that was waiting spoke: still undecided, the held events keep waiting.
      if (events.length === 0 && streams.waiting(direction)) return [];
      this.held = null;
      return mergeInCaptureOrder(held.events, events);
    }
    if (events.length === 0) return events;
    if (!streams.waiting(other)) return held === null ? events : this.flush(events);
    if (held === null) this.held = { direction, events: [...events] };
    else held.events.push(...events);
    return this.held!.events.length > MAX_HELD ? this.flush([]) : [];
  }

  /** Everything held, merged with `events` (the connection is over). */
  flush(events: DissectEvent[]): DissectEvent[] {
    const held = this.held;
    if (held === null) return events;
    this.held = null;
    return mergeInCaptureOrder(held.events, events);
  }
}
