/**
 * Socket.IO (protocol v5, and v4 over Engine.IO v3) and the Engine.IO packets it rides on:
 * https://github.com/socketio/socket.io-protocol ("Packet encoding", "Exchange protocol").
 *
 * A Socket.IO packet travels as the data of an Engine.IO message packet:
 *   4 2 1- /chat, 3 ["upload",{"_placeholder":true,"num":0}]
 *   │ │ │  │      │ └ JSON payload: the event name, then its arguments
 *   │ │ │  │      └ ack id: the sender wants an ACK with this id
 *   │ │ │  └ namespace (left out for "/")
 *   │ │ └ binary attachments: that many binary packets follow, each replacing a placeholder
 *   │ └ Socket.IO packet type (2 EVENT, 5 BINARY_EVENT …)
 *   └ Engine.IO packet type 4: message
 *
 * The decoder is a state machine per session, fed the packets of both directions in order:
 * a binary event waits for its attachments (per direction), events with an ack id wait for
 * their ACK (Pairs), pings for their pongs. It never throws; what breaks the encoding is an
 * alert, and after a few packets in a row that are not Engine.IO at all it gives up.
 *
 * Not socket.io-parser: see the commit that added this file for why, with measurements.
 */
import { makeAlert, type Alert, type AlertCode, type Direction } from '../alerts.js';
import type { StreamPosition } from '../websocket/types.js';
import { engineIoVersion, ENGINE_IO_MEANING, parseBase64Packet, parseBinaryPacket, parseTextPacket, type EngineIoPacket } from './engine-io.js';
import { pairNote, type Paired } from './pairs.js';
import { appEvent, type AppDecoder, type AppEvent, type AppInput, type AppOutput, type AppPart, type AppValue, type DecoderContext, type HeartbeatTerms } from './types.js';
import { bytesNote, compactValue, isObject, parseJson } from './values.js';

/** Socket.IO packet types ("Exchange protocol" table), and the app event kind each gives. */
const PACKET_NAMES = ['CONNECT', 'DISCONNECT', 'EVENT', 'ACK', 'CONNECT_ERROR', 'BINARY_EVENT', 'BINARY_ACK'] as const;
const KINDS = ['connect', 'disconnect', 'event', 'ack', 'connect_error', 'event', 'ack'] as const;
type Kind = (typeof KINDS)[number];

/** Event names the reference implementation reserves (socket.io-parser's isPayloadValid). */
const RESERVED_EVENTS = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);
/** Attachments one binary packet may announce and the bytes they may hold while awaited. */
const MAX_ATTACHMENTS = 1024;
const MAX_ATTACHMENT_BYTES = 64 * 1024 * 1024;
/** Packets in a row that are not Engine.IO before the decoder stops following the connection. */
const GIVE_UP_AFTER = 3;

/** A Socket.IO packet as sent: its fields and the characters that spelled each. */
export interface SocketIoPacket {
  type: number;
  kind: Kind;
  attachments: number;
  nsp: string;
  ackId: number | null;
  /** The JSON payload, undefined when there is none. */
  payload: AppValue | undefined;
  spelled: { type: string; attachments: string; nsp: string; ackId: string; json: string };
}

/** Parses the data of an Engine.IO message as a Socket.IO packet ("Packet encoding", "Format"). */
export function parseSocketIoPacket(text: string): SocketIoPacket | { error: string } {
  const type = text.charCodeAt(0) - 0x30;
  if (!(type >= 0 && type <= 6)) return { error: `packet type ${JSON.stringify(text.slice(0, 1))} is not 0-6` };
  let at = 1;
  let attachments = 0;
  if (type === 5 || type === 6) {
    const dash = text.indexOf('-', at);
    const digits = dash < 0 ? '' : text.slice(at, dash);
    if (!/^\d{1,6}$/.test(digits)) return { error: `${PACKET_NAMES[type]} without its attachment count (<n>-)` };
    attachments = Number(digits);
    at = dash + 1;
  }
  const attachmentsEnd = at;
  let nsp = '/';
  if (text.charCodeAt(at) === 0x2f) {
    const comma = text.indexOf(',', at);
    const end = comma < 0 ? text.length : comma;
    nsp = text.slice(at, end);
    at = comma < 0 ? end : comma + 1;
  }
  const nspEnd = at;
  let digitsEnd = at;
  while (digitsEnd < text.length && text.charCodeAt(digitsEnd) >= 0x30 && text.charCodeAt(digitsEnd) <= 0x39) digitsEnd++;
  if (digitsEnd - at > 15) return { error: 'an ack id of more than 15 digits' };
  const ackId = digitsEnd > at ? Number(text.slice(at, digitsEnd)) : null;
  const json = text.slice(digitsEnd);
  let payload: AppValue | undefined;
  if (json.length > 0) {
    payload = parseJson(json);
    if (payload === undefined) return { error: 'its payload is not JSON' };
  }
  return {
    type,
    kind: KINDS[type]!,
    attachments,
    nsp,
    ackId,
    payload,
    spelled: { type: text.slice(0, 1), attachments: text.slice(1, attachmentsEnd), nsp: text.slice(attachmentsEnd, nspEnd), ackId: text.slice(nspEnd, digitsEnd), json },
  };
}

/** What is wrong with a packet's payload for its type ("Exchange protocol"), or null. */
export function payloadProblem(p: SocketIoPacket): string | null {
  const v = p.payload;
  switch (p.kind) {
    case 'connect':
      return v === undefined || isObject(v) ? null : 'a CONNECT payload must be an object';
    case 'disconnect':
      return v === undefined ? null : 'a DISCONNECT carries no payload';
    case 'connect_error':
      return v === undefined || isObject(v) || typeof v === 'string' ? null : 'a CONNECT_ERROR payload must be an object (or, before v5, a string)';
    case 'event': {
      if (!Array.isArray(v) || v.length === 0) return 'an EVENT payload must be a non-empty array';
      const name = v[0];
      if (typeof name === 'number') return null;
      if (typeof name !== 'string') return 'an EVENT must start with its name';
      return RESERVED_EVENTS.has(name) ? `"${name}" is a reserved event name` : null;
    }
    case 'ack':
      if (!Array.isArray(v)) return 'an ACK payload must be an array';
      return p.ackId === null ? 'an ACK must carry the id it acknowledges' : null;
  }
}

/** The payload with each `{"_placeholder":true,"num":n}` replaced by attachment n. */
function withAttachments(value: AppValue | undefined, attachments: readonly Uint8Array[]): AppValue | undefined {
  if (value === undefined || value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map((v) => withAttachments(v, attachments)!);
  if (value._placeholder === true && typeof value.num === 'number' && Object.keys(value).length === 2) return attachments[value.num] ?? value;
  const out: { [key: string]: AppValue } = {};
  for (const key of Object.keys(value)) out[key] = withAttachments(value[key]!, attachments)!;
  return out;
}

interface Pending {
  conn: number;
  packet: SocketIoPacket;
  /** The input of the header packet (where the event began). */
  input: AppInput;
  attachments: Uint8Array[];
  bytes: number;
  /** What was already found wrong with the header packet. */
  alerts: Alert[];
  parts: AppPart[] | undefined;
}

type Mode = 'socket.io' | 'engine.io' | 'undecided';

class SocketIoDecoder implements AppDecoder {
  gaveUp: string | null = null;
  session: string | null = null;
  private mode: Mode;
  private readonly version: 3 | 4;
  private readonly pending: Record<Direction, Pending | null> = { client: null, server: null };
  private invalidInARow = 0;

  constructor(
    private readonly context: DecoderContext,
    readonly protocol: 'socket.io' | 'engine.io',
  ) {
    const target = context.target ?? '';
    const path = target.split('?')[0]!;
    // On /socket.io/ (or when forced) every message is Socket.IO; found by sniffing, the first
    // message packet tells whether Socket.IO rides on this Engine.IO.
    this.mode = protocol === 'engine.io' ? 'engine.io' : context.forced || /\/socket\.io\/?$/.test(path) ? 'socket.io' : 'undecided';
    this.version = engineIoVersion(context.target) ?? 4;
  }

  message(input: AppInput): AppOutput[] {
    const text = input.text;
    let packet: EngineIoPacket | null;
    if (text === null) packet = parseBinaryPacket(input.data, this.version);
    else if (input.transport === 'polling' && text.charCodeAt(0) === 0x62) packet = parseBase64Packet(text, this.version);
    else packet = parseTextPacket(text);
    if (packet === null) return this.notEngineIo(input);
    this.invalidInARow = 0;
    const out: AppOutput[] = [];
    if (packet.kind === 'message' && this.mode !== 'engine.io') {
      if (packet.bytes !== null) return this.binary(input, packet.bytes);
      const pending = this.pending[input.direction];
      // Attachments come before any other Socket.IO packet of the same sender.
      if (pending !== null) out.push(this.unfinished(pending, 'a text packet came before them'));
      out.push(...this.socketIo(input, packet.text));
      return out;
    }
    out.push(this.engineIo(input, packet));
    return out;
  }

  end(conn: number, at: StreamPosition): AppOutput[] {
    const out: AppOutput[] = [];
    for (const direction of ['client', 'server'] as const) {
      const pending = this.pending[direction];
      if (pending !== null && pending.conn === conn) out.push(this.unfinished(pending, `the connection ended${at.packet !== undefined ? ` (packet ${at.packet})` : ''}`));
    }
    return out;
  }

  /** A message that is no Engine.IO packet: an alert, and after a few in a row, giving up. */
  private notEngineIo(input: AppInput): AppOutput[] {
    this.invalidInARow++;
    const what = input.text === null ? `a binary packet of type ${input.data[0] ?? 'none'}` : input.text === '' ? 'an empty message' : `"${input.text.slice(0, 20)}" does not start with a packet type 0-6`;
    const out: AppOutput[] = [this.alert(input, 'engineio.packet-invalid', `Not an Engine.IO packet: ${what}.`)];
    if (this.invalidInARow >= GIVE_UP_AFTER) this.gaveUp = `${GIVE_UP_AFTER} messages in a row are not Engine.IO packets`;
    return out;
  }

  private engineIo(input: AppInput, packet: EngineIoPacket): AppEvent {
    const data: AppValue = packet.text ?? packet.bytes;
    const parts = this.context.explain ? [{ text: String(packet.type), meaning: `Engine.IO packet type ${packet.type}, ${ENGINE_IO_MEANING[packet.kind]}` }] : undefined;
    const base = { protocol: 'engine.io', kind: packet.kind, session: this.session };
    switch (packet.kind) {
      case 'open':
        return this.open(input, packet.text ?? '', parts);
      case 'ping':
      case 'pong': {
        const probe = packet.text === 'probe';
        const key = `ping ${packet.text ?? ''}`;
        let note = '';
        let paired: Paired | null = null;
        if (packet.kind === 'ping') this.context.pairs.request(input.direction, key, 'ping', input.at);
        else paired = this.context.pairs.answer(input.direction, key, input.at);
        note = pairNote(paired);
        if (parts && packet.text) parts.push({ text: packet.text, meaning: probe ? 'probe: tests the new transport before the upgrade ("Upgrade")' : 'data, echoed by the pong' });
        return appEvent(input, {
          ...base,
          summary: `engine.io ${packet.kind}${packet.text ? ` ${packet.text}` : ''}${note}`,
          fields: { data },
          // The probe pair belongs to the upgrade, not to the keep-alive ("Heartbeat").
          heartbeat: !probe,
          ...(paired ? { replyTo: paired.replyTo, latencyMs: paired.latencyMs } : {}),
          ...(parts ? { parts } : {}),
        });
      }
      default: {
        const shown = packet.bytes !== null ? ` ${bytesNote(packet.bytes)}` : packet.text ? ` ${compactValue(packet.text)}` : '';
        if (parts && packet.kind === 'message') parts.push({ text: packet.text ?? bytesNote(packet.bytes!), meaning: packet.bytes !== null ? 'binary data, sent as it is' : 'the message' });
        const alerts = packet.kind === 'message' && packet.bytes !== null && this.mode === 'socket.io' ? [makeAlert('socketio.binary-unexpected', 'A binary packet arrived while no binary event or ack was waiting for attachments.', this.where(input))] : [];
        return appEvent(input, { ...base, summary: `engine.io ${packet.kind}${shown}`, fields: { data }, alerts, ...(parts ? { parts } : {}) });
      }
    }
  }

  /** The open packet ("Handshake"): the session id and the heartbeat's timing. */
  private open(input: AppInput, text: string, parts: AppPart[] | undefined): AppEvent {
    const data = parseJson(text);
    const alerts: Alert[] = [];
    let summary = 'engine.io open';
    if (isObject(data) && typeof data.sid === 'string') {
      this.session = data.sid;
      summary += ` sid ${data.sid}`;
      if (typeof data.pingInterval === 'number') summary += `  pingInterval ${data.pingInterval} ms`;
      if (typeof data.pingTimeout === 'number') summary += `  pingTimeout ${data.pingTimeout} ms`;
      if (Array.isArray(data.upgrades)) summary += `  upgrades ${compactValue(data.upgrades, 60)}`;
      if (typeof data.pingInterval !== 'number' || typeof data.pingTimeout !== 'number' || !Array.isArray(data.upgrades)) {
        alerts.push(makeAlert('engineio.open-invalid', 'The open packet lacks upgrades, pingInterval or pingTimeout.', this.where(input)));
      }
    } else {
      alerts.push(makeAlert('engineio.open-invalid', data === undefined ? 'The open packet does not carry JSON.' : 'The open packet carries no object with a sid.', this.where(input)));
      summary += ` ${compactValue(text, 60)}`;
    }
    parts?.push({ text, meaning: 'the handshake data (JSON): session id, transports to upgrade to, ping interval and timeout in ms' });
    const terms = isObject(data) ? this.heartbeatTerms(data.pingInterval, data.pingTimeout) : null;
    return appEvent(input, {
      protocol: 'engine.io',
      kind: 'open',
      summary,
      session: this.session,
      fields: { data: data ?? text },
      alerts,
      ...(terms !== null ? { heartbeatTerms: terms } : {}),
      ...(parts ? { parts, detail: { label: 'handshake data', value: data ?? text } } : {}),
    });
  }

  /**
   * The heartbeat the open packet sets ("Heartbeat"): in v4 the server pings every pingInterval
   * and closes when the pong is pingTimeout late, the client closes after pingInterval +
   * pingTimeout without a ping; in v3 the client pings and the server answers, the same figures.
   */
  private heartbeatTerms(pingInterval: AppValue | undefined, pingTimeout: AppValue | undefined): HeartbeatTerms | null {
    const intervalMs = typeof pingInterval === 'number' && pingInterval >= 0 ? pingInterval : null;
    const timeoutMs = typeof pingTimeout === 'number' && pingTimeout >= 0 ? pingTimeout : null;
    if (intervalMs === null && timeoutMs === null) return null;
    const duty = { intervalMs, timeoutMs, silenceMs: intervalMs !== null && timeoutMs !== null ? intervalMs + timeoutMs : null, anyMessage: false };
    return this.version === 4 ? { client: null, server: duty } : { client: duty, server: null };
  }

  /** A binary Engine.IO message under Socket.IO: the next attachment of the waiting packet. */
  private binary(input: AppInput, bytes: Uint8Array): AppOutput[] {
    const pending = this.pending[input.direction];
    if (pending === null) return [this.engineIo(input, { kind: 'message', type: 4, text: null, bytes })];
    pending.attachments.push(bytes);
    pending.bytes += bytes.length;
    pending.parts?.push({ text: bytesNote(bytes), meaning: `attachment ${pending.attachments.length} of ${pending.packet.attachments}: a binary packet of its own, replacing placeholder ${pending.attachments.length - 1}` });
    if (pending.attachments.length < pending.packet.attachments) {
      if (pending.bytes <= MAX_ATTACHMENT_BYTES) return [];
      return [this.unfinished(pending, `they were more than ${MAX_ATTACHMENT_BYTES / 1048576} MiB`)];
    }
    this.pending[input.direction] = null;
    return [this.socketIoEvent(input, pending.packet, pending.attachments, pending.alerts, pending.parts)];
  }

  /** The data of a text Engine.IO message, as a Socket.IO packet. */
  private socketIo(input: AppInput, text: string): AppOutput[] {
    const packet = parseSocketIoPacket(text);
    if (this.mode === 'undecided') this.mode = 'error' in packet || payloadProblem(packet) !== null ? 'engine.io' : 'socket.io';
    if (this.mode === 'engine.io') return [this.engineIo(input, { kind: 'message', type: 4, text, bytes: null })];
    if ('error' in packet) {
      const event = this.engineIo(input, { kind: 'message', type: 4, text, bytes: null });
      event.alerts.push(makeAlert('socketio.packet-invalid', `Not a Socket.IO packet: ${packet.error}.`, this.where(input)));
      return [event];
    }
    const alerts: Alert[] = [];
    const problem = payloadProblem(packet);
    if (problem !== null) alerts.push(makeAlert('socketio.payload-invalid', `${PACKET_NAMES[packet.type]}: ${problem}.`, this.where(input)));
    const parts = this.context.explain ? this.spelling(packet) : undefined;
    if (packet.attachments > 0) {
      if (packet.attachments > MAX_ATTACHMENTS) {
        alerts.push(makeAlert('socketio.packet-invalid', `${packet.attachments} attachments announced: more than the ${MAX_ATTACHMENTS} followed here.`, this.where(input)));
        return [this.socketIoEvent(input, packet, [], alerts, parts)];
      }
      this.pending[input.direction] = { conn: input.conn, packet, input, attachments: [], bytes: 0, alerts, parts };
      // The packet is shown once its attachments have arrived (or are known to be missing).
      return [];
    }
    return [this.socketIoEvent(input, packet, [], alerts, parts)];
  }

  /** A waiting binary packet whose attachments will not come: shown with its placeholders. */
  private unfinished(pending: Pending, why: string): AppEvent {
    this.pending[pending.input.direction] = null;
    const alert = makeAlert('socketio.attachments-missing', `${PACKET_NAMES[pending.packet.type]} announced ${pending.packet.attachments} attachment(s), ${pending.attachments.length} arrived: ${why}.`, this.where(pending.input));
    return this.socketIoEvent(pending.input, pending.packet, pending.attachments, [...pending.alerts, alert], pending.parts);
  }

  private socketIoEvent(input: AppInput, packet: SocketIoPacket, attachments: readonly Uint8Array[], alerts: Alert[], parts: AppPart[] | undefined): AppEvent {
    const payload = attachments.length > 0 ? withAttachments(packet.payload, attachments) : packet.payload;
    const { nsp, ackId } = packet;
    const pairs = this.context.pairs;
    const where = `  nsp ${nsp}`;
    let summary: string;
    let name: string | null = null;
    let paired: Paired | null = null;
    const fields: Record<string, AppValue> = { nsp };
    let detail: { label: string; value: AppValue } | undefined;
    switch (packet.kind) {
      case 'event': {
        const list = Array.isArray(payload) ? payload : [];
        const first = list[0];
        name = typeof first === 'string' || typeof first === 'number' ? String(first) : null;
        const args = list.slice(1);
        fields.event = name;
        fields.args = args;
        if (ackId !== null && pairs.request(input.direction, `ack ${nsp} ${ackId}`, 'event', input.at)) {
          alerts.push(makeAlert('socketio.ack-reused', `Ack id ${ackId} was asked for again before the first ${name ?? 'event'} with it was acknowledged.`, this.where(input)));
        }
        summary = `socket.io event ${name ?? '?'} ${compactValue(args)}${where}${ackId !== null ? `  ack ${ackId}` : ''}`;
        detail = { label: `event ${JSON.stringify(name)}, its arguments`, value: args };
        break;
      }
      case 'ack': {
        const args = Array.isArray(payload) ? payload : payload === undefined ? [] : [payload];
        fields.args = args;
        if (ackId !== null) {
          paired = pairs.answer(input.direction, `ack ${nsp} ${ackId}`, input.at);
          if (paired === null) alerts.push(makeAlert('socketio.ack-unknown', `ACK ${ackId} answers no event the other side sent with that ack id (in this capture).`, this.where(input)));
        }
        summary = `socket.io ack ${ackId ?? '?'} ${compactValue(args)}${where}${pairNote(paired)}`;
        detail = { label: `acknowledgement ${ackId}, its arguments`, value: args };
        break;
      }
      case 'connect':
      case 'connect_error': {
        if (payload !== undefined) fields.data = payload;
        // The client asks for a namespace; the server's CONNECT or CONNECT_ERROR answers it.
        if (input.direction === 'client' && packet.kind === 'connect') pairs.request('client', `connect ${nsp}`, 'connect', input.at);
        else if (input.direction === 'server') paired = pairs.answer('server', `connect ${nsp}`, input.at);
        summary = `socket.io ${packet.kind}${payload !== undefined ? ` ${compactValue(payload)}` : ''}${where}${pairNote(paired)}`;
        if (payload !== undefined) detail = { label: packet.kind === 'connect' ? 'data' : 'error', value: payload };
        break;
      }
      case 'disconnect':
        summary = `socket.io disconnect${where}`;
        break;
    }
    fields.ackId = ackId;
    if (packet.attachments > 0) fields.attachments = packet.attachments;
    return appEvent(input, {
      protocol: 'socket.io',
      kind: packet.kind,
      summary,
      name,
      fields,
      alerts,
      session: this.session,
      ...(paired ? { replyTo: paired.replyTo, latencyMs: paired.latencyMs } : {}),
      ...(parts ? { parts } : {}),
      ...(parts && detail ? { detail } : {}),
    });
  }

  /** The packet taken apart, field by field, for --explain. */
  private spelling(p: SocketIoPacket): AppPart[] {
    const s = p.spelled;
    const parts: AppPart[] = [
      { text: '4', meaning: 'Engine.IO packet type 4, message: the rest is a Socket.IO packet' },
      { text: s.type, meaning: `Socket.IO packet type ${p.type}, ${PACKET_NAMES[p.type]}` },
    ];
    if (s.attachments) parts.push({ text: s.attachments, meaning: `${p.attachments} binary attachment(s), each sent next as a binary packet of its own` });
    parts.push(s.nsp ? { text: s.nsp, meaning: `namespace ${p.nsp}, up to the comma` } : { text: '', meaning: 'no namespace: the main namespace "/"' });
    if (s.ackId) parts.push({ text: s.ackId, meaning: p.kind === 'ack' ? `ack id ${p.ackId}: acknowledges the event sent with this id` : `ack id ${p.ackId}: the sender asks for an ACK with this id` });
    if (s.json) {
      const what = p.kind === 'event' ? 'the event name, then its arguments' : p.kind === 'ack' ? 'the acknowledgement\'s arguments' : 'the payload';
      parts.push({ text: s.json, meaning: `JSON: ${what}${p.attachments > 0 ? ' (placeholders stand for the attachments)' : ''}` });
    }
    return parts;
  }

  private where(input: AppInput): { direction: Direction; packet?: number } {
    return { direction: input.direction, ...(input.at.packet !== undefined ? { packet: input.at.packet } : {}) };
  }

  private alert(input: AppInput, code: AlertCode, message: string): AppOutput {
    return { type: 'alert', conn: input.conn, alert: makeAlert(code, message, this.where(input)) };
  }
}

export function createSocketIoDecoder(context: DecoderContext, protocol: 'socket.io' | 'engine.io'): AppDecoder {
  return new SocketIoDecoder(context, protocol);
}
