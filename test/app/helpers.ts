import type { Direction } from '../../src/alerts.js';
import { AppLayer, type AppLayerOptions } from '../../src/app/layer.js';
import type { AppEvent } from '../../src/app/types.js';
import type { DissectEvent, HandshakeEvent, MessageEvent } from '../../src/engine/events.js';

/** A message event as the engine makes it: text (a string) or binary (bytes). */
export function messageEvent(conn: number, direction: Direction, content: string | Uint8Array, packet: number, ts = packet / 1000): MessageEvent {
  const text = typeof content === 'string' ? content : undefined;
  const data = typeof content === 'string' ? new TextEncoder().encode(content) : content;
  return {
    type: 'message',
    conn,
    message: {
      direction,
      type: text !== undefined ? 'text' : 'binary',
      opcode: text !== undefined ? 0x1 : 0x2,
      frameOffsets: [0],
      fragments: 1,
      wireLength: data.length,
      length: data.length,
      data,
      truncated: false,
      compressed: false,
      inflated: false,
      ...(text !== undefined ? { text } : {}),
      start: { packet, ts },
      end: { packet, ts },
      alerts: [],
    },
  };
}

/** An upgrade handshake event for `target`, with `subprotocol` negotiated. */
export function handshakeEvent(conn: number, target: string, subprotocol: string | null = null): HandshakeEvent {
  return {
    type: 'handshake',
    conn,
    request: { method: 'GET', target, version: 'HTTP/1.1', headers: [], at: { packet: 1, ts: 0 } },
    response: { version: 'HTTP/1.1', status: 101, reason: 'Switching Protocols', headers: [], at: { packet: 2, ts: 0 } },
    upgraded: true,
    key: null,
    expectedAccept: null,
    receivedAccept: null,
    acceptValid: true,
    protocol: subprotocol,
    offeredProtocols: subprotocol ? [subprotocol] : [],
    offeredExtensions: [],
    extensions: [],
    deflate: null,
    supportedVersions: [],
    alerts: [],
  };
}

export function endEvent(conn: number, packet = 1000): DissectEvent {
  const totals = () => ({ bytes: 0, frames: 0, messages: 0, missing: 0, byOpcode: {} });
  return { type: 'end', conn, kind: 'websocket', totals: { client: totals(), server: totals() }, alerts: { error: 0, warning: 0, info: 0 }, closeCodes: { client: [], server: [] }, duration: null, heartbeat: null, appHeartbeat: null, close: null, timing: null, transports: {}, at: { packet, ts: packet / 1000 } };
}

/**
 * One connection through a layer: the handshake (when `target` is given), then messages
 * alternating as listed ([direction, content]), then its end. Returns every event out.
 */
export function run(messages: [Direction, string | Uint8Array][], options: { target?: string | null; subprotocol?: string | null; layer?: AppLayerOptions; conn?: number; end?: boolean } = {}): DissectEvent[] {
  const layer = new AppLayer(options.layer ?? {});
  const conn = options.conn ?? 1;
  const events: DissectEvent[] = [];
  if (options.target !== null) events.push(...layer.process([handshakeEvent(conn, options.target ?? '/', options.subprotocol ?? null)]));
  messages.forEach(([from, content], i) => events.push(...layer.process([messageEvent(conn, from, content, 10 + i)])));
  if (options.end !== false) events.push(...layer.process([endEvent(conn)]));
  return events;
}

export const apps = (events: DissectEvent[]): AppEvent[] => events.filter((e): e is AppEvent => e.type === 'app');
export const alertCodes = (events: DissectEvent[]): string[] => events.flatMap((e) => (e.type === 'alert' ? [e.alert.code] : e.type === 'app' ? e.alerts.map((a) => a.code) : []));
