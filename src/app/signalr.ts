/**
 * ASP.NET Core SignalR's hub protocol over WebSocket, JSON and MessagePack encodings
 * (dotnet/aspnetcore src/SignalR/docs/specs/HubProtocol.md, "HubProtocol" below; the
 * transport in TransportProtocols.md).
 *
 * The client's first message is the handshake request, `{"protocol":"json","version":1}`
 * then the record separator 0x1E; the server answers `{}` (or `{"error":…}`) and 0x1E. Both
 * are JSON whatever the protocol. After it:
 * - JSON: each message holds one or more records, each a JSON object ended by 0x1E
 *   ("JSON Encoding"): `{"type":1,"invocationId":"1","target":"Send","arguments":[…]}` 0x1E;
 * - MessagePack (and Blazor's "blazorpack", the same encoding): each binary message holds one
 *   or more records, each a VarInt length then a MessagePack array `[type, headers, …]`
 *   ("MessagePack (MsgPack) encoding", "Binary encoding").
 * The server's handshake answer may share its message with the first records after it.
 *
 * Invocations with an invocationId are paired with their completion, stream items with the
 * stream invocation they belong to; an invocation's streamIds announce upload streams, whose
 * items and completion come from the invoker itself. Ping (type 6) is the keep-alive.
 * The session is the WebSocket's `id` query parameter: the connection token (or id) that the
 * negotiate request gave (TransportProtocols "WebSockets").
 */
import { makeAlert, type Alert, type AlertCode, type Direction } from '../alerts.js';
import type { StreamPosition } from '../websocket/types.js';
import { text as utf8Text } from './binary-reader.js';
import { decodeMsgpack } from './msgpack.js';
import { pairNote, type Paired } from './pairs.js';
import { appEvent, type AppDecoder, type AppEvent, type AppInput, type AppOutput, type AppPart, type AppValue, type DecoderContext } from './types.js';
import { bytesNote, compactValue, isObject, parseJson } from './values.js';

/** The record separator that ends every JSON record and both handshake messages. */
const RS = 0x1e;
/** Records in a row that are not SignalR before the decoder stops following the connection. */
const GIVE_UP_AFTER = 5;

/** Message types ("JSON Encoding", "MessagePack (MsgPack) encoding"), and the kind each gives. */
const KINDS = [null, 'invocation', 'stream_item', 'completion', 'stream_invocation', 'cancel_invocation', 'ping', 'close', 'ack', 'sequence'] as const;
const NAMES = [null, 'Invocation', 'StreamItem', 'Completion', 'StreamInvocation', 'CancelInvocation', 'Ping', 'Close', 'Ack', 'Sequence'] as const;
/** The MessagePack array of each type, for --explain. */
const MSGPACK_LAYOUT = [
  null,
  '[1, headers, invocationId, target, arguments, streamIds]',
  '[2, headers, invocationId, item]',
  '[3, headers, invocationId, resultKind (1 error, 2 void, 3 result), result]',
  '[4, headers, invocationId, target, arguments, streamIds]',
  '[5, headers, invocationId]',
  '[6]',
  '[7, error, allowReconnect]',
  '[8, sequenceId]',
  '[9, sequenceId]',
] as const;
/** Elements each array has at least: streamIds, a void completion's result and allowReconnect may be left out. */
const MSGPACK_MIN_LENGTH = [0, 5, 4, 4, 5, 3, 1, 2, 2, 2] as const;

type Encoding = 'json' | 'messagepack';
type Obj = { [key: string]: AppValue };

const other = (d: Direction): Direction => (d === 'client' ? 'server' : 'client');

/** Sniffing: a handshake request from the client, or any SignalR JSON record (a capture that starts mid-connection). */
export function isSignalR(input: AppInput): boolean {
  const data = input.data;
  // Both begin with a JSON object: '{'.
  if (data[0] !== 0x7b) return false;
  const end = data.indexOf(RS);
  if (end < 0) return false;
  const value = parseJson(input.text !== null ? input.text.slice(0, input.text.indexOf('\x1e')) : (utf8Text(data.subarray(0, end)) ?? ''));
  if (!isObject(value)) return false;
  if (input.direction === 'client' && typeof value.protocol === 'string' && typeof value.version === 'number') return true;
  return typeof value.type === 'number' && Number.isInteger(value.type) && value.type >= 1 && value.type <= 9;
}

/** The `id` query parameter of the upgrade's target: the negotiated connection's token. */
function connectionToken(target: string | null): string | null {
  const q = target?.indexOf('?') ?? -1;
  if (target === null || q < 0) return null;
  try {
    return new URLSearchParams(target.slice(q + 1)).get('id');
  } catch {
    return null;
  }
}

/** A VarInt of at most 5 bytes ("Binary encoding"): [value, bytes read], or null. */
function readVarInt(bytes: Uint8Array, at: number): [number, number] | null {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    const b = bytes[at + i];
    if (b === undefined) return null;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return [value, i + 1];
  }
  return null;
}

/** A record as found: the value and how it was spelled, for the event and --explain. */
interface Found {
  value: AppValue | undefined;
  encoding: Encoding;
  /** The record's text (JSON) or its length prefix and first byte (MessagePack). */
  parts: AppPart[];
  /** What was wrong with how the record was delimited (a missing 0x1E). */
  alerts: Alert[];
  /** The record as sent, cut, for an alert when it is not a hub message. */
  shown: string;
}

class SignalRDecoder implements AppDecoder {
  readonly protocol = 'signalr';
  gaveUp: string | null = null;
  readonly session: string | null;
  private encoding: Encoding | null = null;
  private readonly handshaken: Record<Direction, boolean> = { client: false, server: false };
  private badInARow = 0;

  constructor(private readonly context: DecoderContext) {
    this.session = connectionToken(context.target);
  }

  message(input: AppInput): AppOutput[] {
    const out: AppOutput[] = [];
    let data = input.data;
    if (!this.handshaken[input.direction]) {
      this.handshaken[input.direction] = true;
      const end = data[0] === 0x7b ? data.indexOf(RS) : -1;
      const value = end >= 0 ? parseJson(utf8Text(data.subarray(0, end)) ?? '') : undefined;
      const isHandshake = isObject(value) && (input.direction === 'client' ? 'protocol' in value : !('type' in value));
      if (isHandshake) {
        out.push(this.handshake(input, value, data.subarray(0, end)));
        data = data.subarray(end + 1);
        if (data.length === 0) return out;
      } else if (this.context.target !== null && !this.context.forced) {
        // The upgrade was seen, so this is the connection's first message: it must be the handshake.
        out.push(this.alert(input, 'signalr.handshake-invalid', `The ${input.direction}'s first message is not a handshake ${input.direction === 'client' ? 'request' : 'response'} (a JSON object ended by 0x1E).`));
      }
    }
    const binary = input.text === null && this.encoding !== 'json';
    for (const found of binary ? this.msgpackRecords(input, data, out) : this.jsonRecords(input, data, out)) out.push(...this.record(input, found));
    return out;
  }

  end(_conn: number, _at: StreamPosition): AppOutput[] {
    return [];
  }

  /** The handshake request (client) or response (server), "Overview". */
  private handshake(input: AppInput, value: Obj, spelled: Uint8Array): AppEvent {
    const fields: Record<string, AppValue> = {};
    const alerts: Alert[] = [];
    let summary = 'signalr handshake';
    let paired: Paired | null = null;
    if (input.direction === 'client') {
      const protocol = typeof value.protocol === 'string' ? value.protocol : null;
      const version = typeof value.version === 'number' ? value.version : null;
      if (protocol === null || version === null) alerts.push(makeAlert('signalr.handshake-invalid', 'A handshake request carries "protocol" (a string) and "version" (a number).', where(input)));
      this.encoding = protocol === 'json' ? 'json' : protocol === 'messagepack' || protocol === 'blazorpack' ? 'messagepack' : null;
      Object.assign(fields, { hubProtocol: protocol, version });
      summary += ` ${protocol ?? '?'} v${version ?? '?'}`;
      this.context.pairs.request('client', 'handshake', 'handshake', input.at, protocol);
    } else {
      const error = typeof value.error === 'string' ? value.error : null;
      fields.error = error;
      if (error !== null) alerts.push(makeAlert('signalr.handshake-error', `The server refused the handshake: ${compactValue(error, 120)}`, where(input)));
      paired = this.context.pairs.answer('server', 'handshake', input.at);
      summary += `${error !== null ? ` error ${compactValue(error)}` : ' accepted'}${pairNote(paired)}`;
    }
    const text = utf8Text(spelled) ?? '';
    return appEvent(input, {
      protocol: 'signalr',
      kind: 'handshake',
      summary,
      fields,
      alerts,
      session: this.session,
      ...(paired ? { replyTo: paired.replyTo, latencyMs: paired.latencyMs } : {}),
      ...(this.context.explain
        ? {
            parts: [
              { text, meaning: input.direction === 'client' ? 'HandshakeRequest (JSON, whatever the protocol): the protocol and its version for the rest of the connection' : 'HandshakeResponse (JSON): {} accepts, an "error" refuses' },
              { text: '\x1e', meaning: 'record separator 0x1E: ends the handshake message' },
            ],
            detail: { label: 'handshake', value },
          }
        : {}),
    });
  }

  /** JSON records, each ended by 0x1E ("JSON Encoding"). */
  private jsonRecords(input: AppInput, data: Uint8Array, out: AppOutput[]): Found[] {
    const text = input.text !== null && data.length === input.data.length ? input.text : utf8Text(data);
    if (text === undefined) {
      out.push(...this.bad(input, 'signalr.json-invalid', 'A message of the JSON protocol that is not UTF-8 text.'));
      return [];
    }
    const records = text.split('\x1e');
    const last = records.pop()!;
    if (last !== '') records.push(last);
    return records.map((record, i) => {
      const ended = i < records.length - 1 || last === '';
      return {
        value: parseJson(record),
        encoding: 'json',
        parts: this.context.explain ? [{ text: record, meaning: 'a JSON record' }, ...(ended ? [{ text: '\x1e', meaning: 'record separator 0x1E: ends the record' }] : [])] : [],
        alerts: ended ? [] : [makeAlert('signalr.separator-missing', `${records.length === 1 ? 'The message' : 'The last record of the message'} is not ended by the record separator 0x1E.`, where(input))],
        shown: compactValue(record, 40),
      };
    });
  }

  /** MessagePack records, each a VarInt length and that many bytes ("Binary encoding"). */
  private msgpackRecords(input: AppInput, data: Uint8Array, out: AppOutput[]): Found[] {
    const found: Found[] = [];
    let at = 0;
    while (at < data.length) {
      const prefix = readVarInt(data, at);
      if (prefix === null || at + prefix[1] + prefix[0] > data.length) {
        out.push(...this.bad(input, 'signalr.msgpack-invalid', `A record's length prefix ${prefix === null ? 'is not a VarInt of at most 5 bytes' : `says ${prefix[0]} bytes, ${data.length - at - prefix[1]} are left in the message`}.`));
        break;
      }
      const [length, size] = prefix;
      const body = data.subarray(at + size, at + size + length);
      const value = decodeMsgpack(body);
      const parts: AppPart[] = this.context.explain
        ? [
            { text: Array.from(data.subarray(at, at + size), (b) => b.toString(16).padStart(2, '0')).join(' '), meaning: `VarInt length prefix: ${length} bytes of MessagePack follow` },
            { text: bytesNote(body), meaning: 'one MessagePack array: the message type first' },
          ]
        : [];
      if (value === undefined) out.push(...this.bad(input, 'signalr.msgpack-invalid', `A record of ${length} bytes is not one whole MessagePack value.`));
      else found.push({ value, encoding: 'messagepack', parts, alerts: [], shown: bytesNote(body) });
      at += size + length;
    }
    return found;
  }

  /** A MessagePack record as the fields its JSON twin has, or a reason it is not one. */
  private fromMsgpack(a: AppValue[]): Obj | string {
    const type = a[0];
    if (typeof type !== 'number' || !Number.isInteger(type) || type < 1 || type > 9) return 'its first element is not a message type 1-9';
    if (a.length < MSGPACK_MIN_LENGTH[type]!) return `a ${NAMES[type]} is ${MSGPACK_LAYOUT[type]}`;
    const headers = (v: AppValue | undefined) => (isObject(v) && Object.keys(v).length > 0 ? v : undefined);
    switch (type) {
      case 1:
      case 4:
        return { type, headers: headers(a[1]) ?? null, invocationId: a[2] ?? null, target: a[3]!, arguments: a[4]!, ...(a[5] !== undefined ? { streamIds: a[5] } : {}) };
      case 2:
        return { type, headers: headers(a[1]) ?? null, invocationId: a[2]!, item: a[3]! };
      case 3: {
        const kind = a[3];
        if (kind === 1) return { type, headers: headers(a[1]) ?? null, invocationId: a[2]!, error: a[4] ?? null };
        if (kind === 2) return { type, headers: headers(a[1]) ?? null, invocationId: a[2]! };
        if (kind === 3 && a.length >= 5) return { type, headers: headers(a[1]) ?? null, invocationId: a[2]!, result: a[4]! };
        return 'a Completion\'s result kind is 1 (error), 2 (void) or 3 (a result follows)';
      }
      case 5:
        return { type, headers: headers(a[1]) ?? null, invocationId: a[2]! };
      case 7:
        return { type, error: a[1] ?? null, ...(a[2] !== undefined ? { allowReconnect: a[2] } : {}) };
      case 8:
      case 9:
        return { type, sequenceId: a[1]! };
      default:
        return { type };
    }
  }

  /** One record: a hub message, or an alert when it is none. */
  private record(input: AppInput, found: Found): AppOutput[] {
    const value = found.value;
    if (value === undefined) return [...this.bad(input, 'signalr.json-invalid', `A record is not JSON: ${found.shown}.`), ...found.alerts.map((alert): AppOutput => ({ type: 'alert', conn: input.conn, alert }))];
    let m: Obj | string;
    if (found.encoding === 'json') m = isObject(value) ? value : 'a record is a JSON object';
    else m = Array.isArray(value) ? this.fromMsgpack(value) : 'a record is a MessagePack array';
    const type = typeof m === 'string' ? null : m.type;
    if (typeof m === 'string' || typeof type !== 'number' || !Number.isInteger(type) || type < 1 || type > 9) {
      const why = typeof m === 'string' ? m : `"type" ${compactValue(type ?? null, 20)} is not 1-9`;
      return [...this.bad(input, 'signalr.message-invalid', `Not a hub message (${found.shown}): ${why}.`), ...found.alerts.map((alert): AppOutput => ({ type: 'alert', conn: input.conn, alert }))];
    }
    this.badInARow = 0;
    return [this.hubMessage(input, m, type, found)];
  }

  private hubMessage(input: AppInput, m: Obj, type: number, found: Found): AppEvent {
    const pairs = this.context.pairs;
    const from = input.direction;
    const kind = KINDS[type]!;
    const alerts: Alert[] = [...found.alerts];
    const invalid = (why: string) => alerts.push(makeAlert('signalr.message-invalid', `${NAMES[type]}: ${why}.`, where(input)));
    const id = typeof m.invocationId === 'string' ? m.invocationId : null;
    const fields: Record<string, AppValue> = { encoding: found.encoding, messageType: type };
    let name: string | null = null;
    let paired: Paired | null = null;
    let summary = `signalr ${kind}`;
    let detail: { label: string; value: AppValue } | undefined;
    const idNote = id !== null ? `  id ${compactValue(id, 40)}` : '';
    if (m.invocationId !== undefined && m.invocationId !== null && id === null) invalid('"invocationId" is a string');
    const needsId = type === 2 || type === 3 || type === 4 || type === 5;
    if (needsId && id === null) invalid('it carries the "invocationId" it belongs to');
    switch (type) {
      case 1:
      case 4: {
        name = typeof m.target === 'string' ? m.target : null;
        if (name === null) invalid('"target" is the name of the method, a string');
        const args = Array.isArray(m.arguments) ? m.arguments : [];
        if (!Array.isArray(m.arguments)) invalid('"arguments" is an array');
        const streamIds = Array.isArray(m.streamIds) && m.streamIds.length > 0 ? m.streamIds : null;
        Object.assign(fields, { invocationId: id, target: name, arguments: args, streamIds, headers: m.headers ?? null });
        // "Errors": an invocation id already used by that endpoint is a protocol error.
        if (id !== null && pairs.request(from, `inv ${id}`, kind, input.at, name)) alerts.push(makeAlert('signalr.invocation-reused', `Invocation id ${JSON.stringify(id)} is still in use by an invocation of this ${from} that has not completed.`, where(input)));
        // Upload streams ("Upload streaming"): their items and completion come from this same side.
        for (const s of streamIds ?? []) if (typeof s === 'string') pairs.request(from, `upload ${s}`, 'upload', input.at, name);
        summary += ` ${name ?? '?'} ${compactValue(args)}${idNote}${streamIds !== null ? `  streams ${compactValue(streamIds, 60)}` : ''}${id === null && type === 1 ? '  (no answer expected)' : ''}`;
        detail = { label: 'arguments', value: args };
        break;
      }
      case 2:
      case 3: {
        if (type === 3 && 'result' in m && m.error !== undefined && m.error !== null) invalid('it carries both a result and an error');
        if (id !== null) {
          const last = type === 3;
          if (pairs.has(other(from), `inv ${id}`)) paired = last ? pairs.answer(from, `inv ${id}`, input.at) : pairs.progress(from, `inv ${id}`, input.at);
          else if (pairs.has(from, `upload ${id}`)) paired = last ? pairs.withdraw(from, `upload ${id}`, input.at) : pairs.ownProgress(from, `upload ${id}`, input.at);
          else alerts.push(makeAlert('signalr.invocation-unknown', `${NAMES[type]} for invocation id ${JSON.stringify(id)}, which no open invocation or upload stream in this capture carries.`, where(input)));
        }
        name = paired?.requestName ?? null;
        fields.invocationId = id;
        let shown = '';
        if (type === 2) {
          fields.item = m.item ?? null;
          shown = ` ${compactValue(m.item ?? null)}`;
          detail = { label: 'item', value: m.item ?? null };
        } else {
          if ('result' in m) {
            fields.result = m.result!;
            shown = ` result ${compactValue(m.result!)}`;
            detail = { label: 'result', value: m.result! };
          }
          fields.error = typeof m.error === 'string' ? m.error : null;
          if (typeof m.error === 'string') shown = ` error ${compactValue(m.error)}`;
        }
        fields.headers = m.headers ?? null;
        const upload = paired?.requestKind === 'upload' ? '  (upload stream)' : '';
        summary += `${name !== null ? ` ${name}` : ''}${shown}${idNote}${upload}${pairNote(paired, paired?.own !== true ? 'answers' : type === 3 ? 'ends the upload stream of' : 'streams to')}`;
        break;
      }
      case 5: {
        if (id !== null) {
          const invocation = pairs.progress(other(from), `inv ${id}`, input.at);
          name = invocation?.requestName ?? null;
        }
        Object.assign(fields, { invocationId: id, headers: m.headers ?? null });
        summary += `${name !== null ? ` ${name}` : ''}${idNote}`;
        break;
      }
      case 7: {
        const error = typeof m.error === 'string' ? m.error : null;
        const allowReconnect = typeof m.allowReconnect === 'boolean' ? m.allowReconnect : null;
        Object.assign(fields, { error, allowReconnect });
        summary += `${error !== null ? ` error ${compactValue(error)}` : ''}${allowReconnect ? '  allowReconnect' : ''}`;
        break;
      }
      case 8:
      case 9: {
        const seq = typeof m.sequenceId === 'number' ? m.sequenceId : null;
        if (seq === null) invalid('"sequenceId" is a number');
        fields.sequenceId = seq;
        summary += ` ${seq ?? '?'}`;
        break;
      }
    }
    let parts: AppPart[] | undefined;
    if (this.context.explain) {
      parts = found.parts.map((p, i) => (i === 0 && found.encoding === 'json' ? { ...p, meaning: `a JSON record: "type" ${type}, ${NAMES[type]}` } : i === 1 && found.encoding === 'messagepack' ? { ...p, meaning: `MessagePack ${MSGPACK_LAYOUT[type]}: ${NAMES[type]}` } : p));
    }
    return appEvent(input, {
      protocol: 'signalr',
      kind,
      summary,
      name,
      fields,
      alerts,
      session: this.session,
      heartbeat: type === 6,
      // A Ping asks for no answer ("Ping (aka Keep Alive)"): each side beats on its own.
      ...(type === 6 ? { heartbeatRole: 'beat' as const } : {}),
      ...(paired ? { replyTo: paired.replyTo, latencyMs: paired.latencyMs, ownRequest: paired.own === true } : {}),
      ...(parts ? { parts, ...(detail ? { detail } : {}) } : {}),
    });
  }

  private bad(input: AppInput, code: AlertCode, message: string): AppOutput[] {
    this.badInARow++;
    if (this.badInARow >= GIVE_UP_AFTER) this.gaveUp = `${GIVE_UP_AFTER} records in a row are not SignalR hub messages`;
    return [this.alert(input, code, message)];
  }

  private alert(input: AppInput, code: AlertCode, message: string): AppOutput {
    return { type: 'alert', conn: input.conn, alert: makeAlert(code, message, where(input)) };
  }
}

function where(input: AppInput): { direction: Direction; packet?: number } {
  return { direction: input.direction, ...(input.at.packet !== undefined ? { packet: input.at.packet } : {}) };
}

export function createSignalRDecoder(context: DecoderContext): AppDecoder {
  return new SignalRDecoder(context);
}
