/**
 * Engine.IO long-polling (https://github.com/socketio/engine.io-protocol, "Transports",
 * "Packet encoding"): the client's POST bodies and the server's answers to its GETs carry
 * Engine.IO packets, several per body: separated by the record separator 0x1E in v4, each
 * prefixed by its length in characters and a colon in v3. Each packet becomes one input of the
 * application layer, with transport "polling" and the `sid` of the request as its session, so
 * the session's decoder reads them as it reads the packets of its WebSocket.
 */
import { makeAlert, type Alert, type Direction } from '../alerts.js';
import type { HttpBody, HttpExchangeEvent } from '../engine/events.js';
import { engineIoPollingTarget } from '../engine/http-patterns.js';
import type { StreamPosition } from '../websocket/types.js';
import { decodeUtf8Lossy, isValidUtf8 } from '../websocket/utf8.js';
import { engineIoVersion, splitPayloadV3, splitPayloadV4 } from './engine-io.js';
import type { AppInput } from './types.js';

export interface PollingPackets {
  inputs: AppInput[];
  /** Bodies whose packets could not be told apart. */
  alerts: Alert[];
}

/**
 * The packets of an Engine.IO polling exchange, in order: the request's (a POST), then the
 * response's (the answer to a GET; a POST is answered "ok", which is no packet). Null when the
 * exchange is not Engine.IO polling.
 */
export function pollingPackets(e: HttpExchangeEvent): PollingPackets | null {
  if (!engineIoPollingTarget(e.path)) return null;
  const version = engineIoVersion(e.path) ?? 4;
  const out: PollingPackets = { inputs: [], alerts: [] };
  if (e.method === 'POST') split(e, 'client', e.requestBody, e.requestAt ?? e.start, version, out);
  else if (e.status !== null && e.status >= 200 && e.status < 300) split(e, 'server', e.responseBody, e.at, version, out);
  return out;
}

function split(e: HttpExchangeEvent, direction: Direction, body: HttpBody | null, at: StreamPosition, version: 3 | 4, out: PollingPackets): void {
  if (body === null || body.data.length === 0) return;
  const where = { direction, ...(at.packet !== undefined ? { packet: at.packet } : {}) };
  // Only the whole body splits into the packets sent: one cut by a limit or the capture does not.
  if (body.truncated || (body.codings.length > 0 && !body.decoded)) {
    out.alerts.push(makeAlert('engineio.payload-skipped', `The long-polling body of ${e.method ?? '?'} ${e.path ?? '?'} is not whole (${body.decodeError ?? 'cut by --max-message or by the capture'}): its packets are not decoded.`, where));
    return;
  }
  if (!isValidUtf8(body.data)) {
    out.alerts.push(makeAlert('engineio.payload-skipped', `The long-polling body of ${e.method ?? '?'} ${e.path ?? '?'} is binary (the v3 XHR2 payload encoding, which wsdump does not decode): its packets are not decoded.`, where));
    return;
  }
  const text = decodeUtf8Lossy(body.data);
  const packets = version === 4 ? splitPayloadV4(text) : splitPayloadV3(text);
  if (packets === null) {
    out.alerts.push(makeAlert('engineio.payload-invalid', `The long-polling body of ${e.method ?? '?'} ${e.path ?? '?'} is not Engine.IO v3 packets (<length>:<packet> …).`, where));
    return;
  }
  for (const packet of packets) {
    const data = new Uint8Array(Buffer.from(packet, 'utf8'));
    out.inputs.push({ conn: e.conn, direction, transport: 'polling', at, text: packet, data, session: e.session });
  }
}
