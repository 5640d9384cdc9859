/**
 * Server-Sent Events as application messages: each event the event stream parser
 * (src/http/sse.ts) dispatches becomes an `app` event of protocol "sse", transport "sse", kind
 * "event", with the type, the data, the last event ID and the reconnection time in force
 * (docs/json.md). The engine makes them as the stream arrives, so each shows when its blank
 * line does.
 */
import type { SseEvent } from '../http/sse.js';
import type { StreamPosition } from '../websocket/types.js';
import { appEvent, type AppEvent } from './types.js';

/** Characters of the data in the summary line. */
const SUMMARY_CHARS = 200;

/** The app event of one dispatched Server-Sent Event, where the chunk that dispatched it arrived. */
export function sseAppEvent(conn: number, event: SseEvent, at: StreamPosition): AppEvent {
  const id = event.id !== null ? ` id ${event.id.slice(0, 40)}` : '';
  return appEvent(
    { conn, direction: 'server', transport: 'sse', at, text: null, data: new Uint8Array(0), session: null },
    {
      protocol: 'sse',
      kind: 'event',
      summary: `sse ${event.event.slice(0, 60)}${id} "${event.data.length > SUMMARY_CHARS ? `${event.data.slice(0, SUMMARY_CHARS)}…` : event.data}"`,
      name: event.event,
      fields: { event: event.event, data: event.data, id: event.id, retry: event.retry },
    },
  );
}
