/**
 * MQTT 3.1, 3.1.1 and 5.0 over WebSocket: the control packets of MQTT 3.1.1 (OASIS Standard,
 * §2 "MQTT Control Packet format", §3 "MQTT Control Packets") and MQTT 5.0 (§2, §3; properties
 * §2.2.2, reason codes §2.4).
 *
 * MQTT is a byte stream: over WebSocket "a single WebSocket data frame can contain multiple or
 * partial MQTT Control Packets" (3.1.1 §6, 5.0 §6), so each direction is a stream parser, as
 * the frame parser below it: it waits for the fixed header, then for the remaining length,
 * and hands out whole packets however the messages cut them.
 *
 *   30 0d 00 04 74 2f 6d 70 00 01 68 69 21 …
 *   │  │  └ variable header: topic length and name, packet id (QoS > 0), properties (5.0)
 *   │  └ remaining length: 1-4 bytes, 7 bits each, low first (§2.2.3)
 *   └ packet type (high nibble: 3 PUBLISH) and flags (DUP, QoS, RETAIN for PUBLISH)
 *
 * Answers are paired with their requests by packet identifier (PUBLISH → PUBACK, or PUBREC
 * then PUBREL → PUBCOMP; SUBSCRIBE → SUBACK …); PINGREQ/PINGRESP are the keep-alive. The
 * decoder never throws: what breaks the encoding is an alert, and a remaining length that
 * cannot be read loses the framing, so the decoder stops.
 *
 * Not mqtt-packet: see the commit that added this file for why, with measurements.
 */
import { makeAlert, sideOf, type Alert, type AlertCode, type Direction } from '../alerts.js';
import { concatBytes } from '../websocket/bytes.js';
import type { StreamPosition } from '../websocket/types.js';
import { pairNote, type Paired } from './pairs.js';
import { appEvent, type AppDecoder, type AppInput, type AppOutput, type AppPart, type AppValue, type DecoderContext, type HeartbeatTerms } from './types.js';
import { bytesNote, compactValue } from './values.js';

/** Control packet types (3.1.1 §2.2.1, 5.0 §2.1.2), by number; 0 is reserved, 15 AUTH is 5.0's. */
const TYPES = ['', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP', 'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH'] as const;
/** The flags every type but PUBLISH must carry (3.1.1 §2.2.2, 5.0 §2.1.3): 0010 for PUBREL, SUBSCRIBE, UNSUBSCRIBE. */
const FIXED_FLAGS = [-1, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0];
/** Who may send each type: c client, s server, b both. */
const SENDER = ['', 'c', 's', 'b', 'b', 'b', 'b', 'b', 'c', 's', 'c', 's', 'c', 's', 'b', 'b'];

/** The largest remaining length (268,435,455, §2.2.3): four bytes of seven bits. */
const MAX_REMAINING = 268_435_455;
/** Bytes of one packet kept whole; of a longer one the first KEPT_BYTES are decoded and the rest skipped. */
const MAX_PACKET_BYTES = 1 << 20;
const KEPT_BYTES = 64 * 1024;
/** Packets in a row that are not MQTT before the decoder stops following the connection. */
const GIVE_UP_AFTER = 5;

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3). */
const CONNACK_3: Record<number, string> = {
  0: 'accepted',
  1: 'refused: unacceptable protocol version',
  2: 'refused: identifier rejected',
  3: 'refused: server unavailable',
  4: 'refused: bad user name or password',
  5: 'refused: not authorized',
};

/** MQTT 5.0 reason codes (§2.4), the names the standard gives them. */
const REASONS_5: Record<number, string> = {
  0x00: 'success',
  0x01: 'granted QoS 1',
  0x02: 'granted QoS 2',
  0x04: 'disconnect with will message',
  0x10: 'no matching subscribers',
  0x11: 'no subscription existed',
  0x18: 'continue authentication',
  0x19: 're-authenticate',
  0x80: 'unspecified error',
  0x81: 'malformed packet',
  0x82: 'protocol error',
  0x83: 'implementation specific error',
  0x84: 'unsupported protocol version',
  0x85: 'client identifier not valid',
  0x86: 'bad user name or password',
  0x87: 'not authorized',
  0x88: 'server unavailable',
  0x89: 'server busy',
  0x8a: 'banned',
  0x8b: 'server shutting down',
  0x8c: 'bad authentication method',
  0x8d: 'keep alive timeout',
  0x8e: 'session taken over',
  0x8f: 'topic filter invalid',
  0x90: 'topic name invalid',
  0x91: 'packet identifier in use',
  0x92: 'packet identifier not found',
  0x93: 'receive maximum exceeded',
  0x94: 'topic alias invalid',
  0x95: 'packet too large',
  0x96: 'message rate too high',
  0x97: 'quota exceeded',
  0x98: 'administrative action',
  0x99: 'payload format invalid',
  0x9a: 'retain not supported',
  0x9b: 'QoS not supported',
  0x9c: 'use another server',
  0x9d: 'server moved',
  0x9e: 'shared subscriptions not supported',
  0x9f: 'connection rate exceeded',
  0xa0: 'maximum connect time',
  0xa1: 'subscription identifiers not supported',
  0xa2: 'wildcard subscriptions not supported',
};

/** MQTT 5.0 properties (§2.2.2.2): identifier → name and how the value is encoded. */
type PropertyType = 'byte' | 'u16' | 'u32' | 'varint' | 'string' | 'binary' | 'pair';
const PROPERTIES: Record<number, [string, PropertyType]> = {
  0x01: ['payloadFormatIndicator', 'byte'],
  0x02: ['messageExpiryInterval', 'u32'],
  0x03: ['contentType', 'string'],
  0x08: ['responseTopic', 'string'],
  0x09: ['correlationData', 'binary'],
  0x0b: ['subscriptionIdentifier', 'varint'],
  0x11: ['sessionExpiryInterval', 'u32'],
  0x12: ['assignedClientIdentifier', 'string'],
  0x13: ['serverKeepAlive', 'u16'],
  0x15: ['authenticationMethod', 'string'],
  0x16: ['authenticationData', 'binary'],
  0x17: ['requestProblemInformation', 'byte'],
  0x18: ['willDelayInterval', 'u32'],
  0x19: ['requestResponseInformation', 'byte'],
  0x1a: ['responseInformation', 'string'],
  0x1c: ['serverReference', 'string'],
  0x1f: ['reasonString', 'string'],
  0x21: ['receiveMaximum', 'u16'],
  0x22: ['topicAliasMaximum', 'u16'],
  0x23: ['topicAlias', 'u16'],
  0x24: ['maximumQoS', 'byte'],
  0x25: ['retainAvailable', 'byte'],
  0x26: ['userProperty', 'pair'],
  0x27: ['maximumPacketSize', 'u32'],
  0x28: ['wildcardSubscriptionAvailable', 'byte'],
  0x29: ['subscriptionIdentifierAvailable', 'byte'],
  0x2a: ['sharedSubscriptionAvailable', 'byte'],
};

const utf8 = new TextDecoder('utf-8', { fatal: true });
const HEX = (b: number) => b.toString(16).padStart(2, '0');
const hex = (bytes: Uint8Array) => Array.from(bytes, HEX).join(' ');

/** A field that ran past the packet, or broke an encoding rule: the packet is malformed. */
class Malformed {
  constructor(
    readonly reason: string,
    readonly code: AlertCode = 'mqtt.packet-invalid',
  ) {}
}

/** A cursor over one packet's remaining bytes: each read returns the value or a Malformed. */
class Cursor {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}

  get left(): number {
    return this.bytes.length - this.at;
  }

  u8(what: string): number {
    if (this.at >= this.bytes.length) throw new Malformed(`${what} runs past the end of the packet`);
    return this.bytes[this.at++]!;
  }

  u16(what: string): number {
    if (this.left < 2) throw new Malformed(`${what} runs past the end of the packet`);
    const v = (this.bytes[this.at]! << 8) | this.bytes[this.at + 1]!;
    this.at += 2;
    return v;
  }

  u32(what: string): number {
    if (this.left < 4) throw new Malformed(`${what} runs past the end of the packet`);
    const v = ((this.bytes[this.at]! << 24) >>> 0) + ((this.bytes[this.at + 1]! << 16) | (this.bytes[this.at + 2]! << 8) | this.bytes[this.at + 3]!);
    this.at += 4;
    return v;
  }

  /** A Variable Byte Integer (5.0 §1.5.5), as the remaining length is written. */
  varint(what: string): number {
    let value = 0;
    for (let i = 0; i < 4; i++) {
      const b = this.u8(what);
      value += (b & 0x7f) * 128 ** i;
      if ((b & 0x80) === 0) return value;
    }
    throw new Malformed(`${what} has more than four bytes`);
  }

  take(n: number, what: string): Uint8Array {
    if (n > this.left) throw new Malformed(`${what} (${n} bytes) runs past the end of the packet`);
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  /** Binary Data: a two-byte length, then the bytes (3.1.1 §1.5.3's framing, 5.0 §1.5.6). */
  binary(what: string): Uint8Array {
    return this.take(this.u16(`the length of ${what}`), what);
  }

  /** A UTF-8 Encoded String (3.1.1 §1.5.3, 5.0 §1.5.4): valid UTF-8, no U+0000 [MQTT-1.5.3-1, -2]. */
  string(what: string): string {
    const bytes = this.binary(what);
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      throw new Malformed(`${what} is not valid UTF-8 [MQTT-1.5.3-1]`);
    }
    if (text.includes('\u0000')) throw new Malformed(`${what} contains U+0000 [MQTT-1.5.3-2]`);
    return text;
  }

  rest(): Uint8Array {
    const out = this.bytes.subarray(this.at);
    this.at = this.bytes.length;
    return out;
  }
}

/** MQTT 5.0 properties (§2.2.2): a length, then identifier and value pairs. */
function readProperties(c: Cursor, what: string): Record<string, AppValue> {
  const length = c.varint(`the property length of ${what}`);
  const end = c.at + length;
  if (end > c.bytes.length) throw new Malformed(`the properties of ${what} (${length} bytes) run past the end of the packet`);
  const out: Record<string, AppValue> = {};
  while (c.at < end) {
    const id = c.varint('a property identifier');
    const known = PROPERTIES[id];
    if (known === undefined) throw new Malformed(`property identifier 0x${HEX(id)} is not defined (5.0 §2.2.2.2)`);
    const [name, type] = known;
    let value: AppValue;
    switch (type) {
      case 'byte':
        value = c.u8(name);
        break;
      case 'u16':
        value = c.u16(name);
        break;
      case 'u32':
        value = c.u32(name);
        break;
      case 'varint':
        value = c.varint(name);
        break;
      case 'string':
        value = c.string(name);
        break;
      case 'binary':
        value = c.binary(name);
        break;
      case 'pair':
        value = [c.string('a user property name'), c.string('a user property value')];
        break;
    }
    // User properties may repeat (§3.1.2.11.8); the others appear once.
    if (name === 'userProperty' || name === 'subscriptionIdentifier') {
      const list = (out[name] as AppValue[] | undefined) ?? [];
      list.push(value);
      out[name] = list;
    } else {
      out[name] = value;
    }
  }
  if (c.at !== end) throw new Malformed(`the properties of ${what} overrun their length`);
  return out;
}

/** The payload as text when it is UTF-8 without control characters, else null (it is shown as bytes). */
function payloadText(bytes: Uint8Array): string | null {
  try {
    const text = utf8.decode(bytes);
    return /[\u0000-\u0008\u000e-\u001f\u007f]/.test(text) ? null : text;
  } catch {
    return null;
  }
}

function payloadNote(bytes: Uint8Array): string {
  const text = payloadText(bytes);
  return text !== null ? compactValue(text) : bytesNote(bytes);
}

/** A packet as the stream parser hands it over. */
interface RawPacket {
  type: number;
  flags: number;
  /** The fixed header as sent (type byte and remaining length). */
  header: Uint8Array;
  remaining: number;
  /** The remaining bytes kept (all of them unless the packet was longer than MAX_PACKET_BYTES). */
  body: Uint8Array;
  /** Where the packet ended. */
  at: StreamPosition;
}

/** One direction's stream: bytes not yet a whole packet, and a long packet being skipped. */
class Stream {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  /** A packet longer than MAX_PACKET_BYTES: its start kept, the rest counted down. */
  private skipping: { packet: Omit<RawPacket, 'at'>; left: number } | null = null;
  /** The remaining length could not be read: framing is lost. */
  lost: string | null = null;
  /** Bytes the packet being received needs in all (0: unknown). */
  private need = 0;

  get pending(): number {
    return this.buffered + (this.skipping !== null ? 1 : 0);
  }

  /** The whole packets that `data` completes, in order. */
  push(data: Uint8Array, at: StreamPosition): RawPacket[] {
    const out: RawPacket[] = [];
    if (this.lost !== null) return out;
    let bytes = data;
    if (this.skipping !== null) {
      const n = Math.min(this.skipping.left, bytes.length);
      this.skipping.left -= n;
      bytes = bytes.subarray(n);
      if (this.skipping.left > 0) return out;
      out.push({ ...this.skipping.packet, at });
      this.skipping = null;
    }
    if (bytes.length === 0) return out;
    // A long packet comes in many messages: join them once it can be whole, not at every message.
    if (this.buffered + bytes.length < this.need) {
      this.chunks.push(bytes.slice());
      this.buffered += bytes.length;
      return out;
    }
    this.need = 0;
    this.chunks.push(bytes);
    this.buffered += bytes.length;
    const buffer = concatBytes(this.chunks, this.buffered);
    let offset = 0;
    for (;;) {
      const left = buffer.length - offset;
      if (left < 2) break;
      // Remaining length: up to four bytes of seven bits, low first (§2.2.3).
      let remaining = 0;
      let i = 1;
      let complete = false;
      for (; i <= 4 && offset + i < buffer.length; i++) {
        const b = buffer[offset + i]!;
        remaining += (b & 0x7f) * 128 ** (i - 1);
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (i > 4) {
          this.lost = `a remaining length of more than four bytes (${hex(buffer.subarray(offset + 1, offset + 5))} …)`;
          this.chunks = [];
          this.buffered = 0;
          return out;
        }
        break;
      }
      const headerLength = i + 1;
      const first = buffer[offset]!;
      const header = buffer.subarray(offset, offset + headerLength);
      if (remaining > MAX_PACKET_BYTES) {
        // Too long to hold: decode its start, skip the rest as it comes.
        const available = buffer.length - offset - headerLength;
        const kept = buffer.slice(offset + headerLength, offset + headerLength + Math.min(KEPT_BYTES, available, remaining));
        const packet = { type: first >> 4, flags: first & 0x0f, header: header.slice(), remaining, body: kept };
        if (available >= remaining) {
          out.push({ ...packet, at });
          offset += headerLength + remaining;
          continue;
        }
        if (kept.length < Math.min(KEPT_BYTES, remaining)) break;
        this.skipping = { packet, left: remaining - available };
        offset = buffer.length;
        break;
      }
      if (left < headerLength + remaining) {
        this.need = headerLength + remaining;
        break;
      }
      out.push({ type: first >> 4, flags: first & 0x0f, header, remaining, body: buffer.subarray(offset + headerLength, offset + headerLength + remaining), at });
      offset += headerLength + remaining;
    }
    const rest = buffer.subarray(offset);
    // Keep a copy of what waits: the message's bytes are not ours to hold on to.
    this.chunks = rest.length > 0 ? [rest.slice()] : [];
    this.buffered = rest.length;
    return out;
  }
}

/** What a packet decodes to, before it becomes an event. */
interface Decoded {
  summary: string;
  fields: Record<string, AppValue>;
  name: string | null;
  alerts: Alert[];
  paired: Paired | null;
  parts: AppPart[] | undefined;
  detail?: { label: string; value: AppValue };
  /** The keep-alive this packet settles (CONNECT's, or a 5.0 CONNACK's Server Keep Alive). */
  terms?: HeartbeatTerms;
}

/**
 * The client's keep-alive duty (3.1.1 §3.1.2.10, 5.0 §3.1.2.10): some control packet at least
 * every Keep Alive seconds (PINGREQ when it has nothing else), and the server gives up after
 * one and a half times that [MQTT-3.1.2-24]; how soon PINGRESP must come is not fixed. 0 turns
 * it off.
 */
function keepAliveTerms(seconds: number): HeartbeatTerms {
  return { client: seconds === 0 ? null : { intervalMs: seconds * 1000, timeoutMs: null, silenceMs: seconds * 1500, anyMessage: true }, server: null };
}

const VERSION_NAMES: Record<number, string> = { 3: '3.1', 4: '3.1.1', 5: '5.0' };

/** Is this message the start of an MQTT connection: a CONNECT naming the protocol "MQTT" (or 3.1's "MQIsdp")? */
export function isMqttConnect(data: Uint8Array): boolean {
  if (data.length < 12 || data[0] !== 0x10) return false;
  let i = 1;
  while (i < 5 && data[i]! & 0x80) i++;
  if (i >= 5) return false;
  const name = data.subarray(i + 1);
  return (name[0] === 0 && name[1] === 4 && name[2] === 0x4d && name[3] === 0x51 && name[4] === 0x54 && name[5] === 0x54) || (name[0] === 0 && name[1] === 6 && name[2] === 0x4d && name[3] === 0x51 && name[4] === 0x49);
}

class MqttDecoder implements AppDecoder {
  readonly protocol = 'mqtt';
  gaveUp: string | null = null;
  readonly session = null;
  /** The protocol level the CONNECT asked for: 3 (3.1), 4 (3.1.1), 5 (5.0); 4 until one is seen. */
  private version = 4;
  private versionKnown = false;
  private readonly streams: Record<Direction, Stream> = { client: new Stream(), server: new Stream() };
  private sawConnect = false;
  private badInARow = 0;
  private textAlerted: Record<Direction, boolean> = { client: false, server: false };

  constructor(private readonly context: DecoderContext) {}

  message(input: AppInput): AppOutput[] {
    const out: AppOutput[] = [];
    if (input.text !== null && !sideOf(this.textAlerted, input.direction)) {
      // Said once per side: every later text message would repeat it.
      this.textAlerted[input.direction] = true;
      out.push(this.alert(input, 'mqtt.text-frame', `MQTT sent in a text message by the ${input.direction}: control packets must travel in binary messages [MQTT-6.0.0-1]; the recipient must close the connection.`));
    }
    const stream = sideOf(this.streams, input.direction);
    for (const raw of stream.push(input.data, input.at)) out.push(...this.packet(input, raw));
    if (stream.lost !== null) {
      out.push(this.alert(input, 'mqtt.remaining-length-invalid', `The ${input.direction} sent ${stream.lost} (§2.2.3): the packets after it cannot be found.`));
      this.gaveUp = `the ${input.direction}'s packet framing is lost (remaining length)`;
    }
    return out;
  }

  end(conn: number, at: StreamPosition): AppOutput[] {
    const out: AppOutput[] = [];
    for (const direction of ['client', 'server'] as const) {
      const left = this.streams[direction].pending;
      if (left > 0 && this.streams[direction].lost === null) {
        out.push({ type: 'alert', conn, alert: makeAlert('mqtt.packet-incomplete', `The connection ended inside an MQTT packet from the ${direction} (${left} byte(s) of it seen).`, { direction, ...(at.packet !== undefined ? { packet: at.packet } : {}) }) });
      }
    }
    return out;
  }

  private packet(input: AppInput, raw: RawPacket): AppOutput[] {
    const type = raw.type;
    const name = TYPES[type];
    const at: AppInput = { ...input, at: raw.at };
    if (!name || (type === 15 && this.versionKnown && this.version !== 5)) {
      this.badInARow++;
      if (this.badInARow >= GIVE_UP_AFTER) this.gaveUp = `${GIVE_UP_AFTER} packets in a row are not MQTT`;
      return [this.alert(at, 'mqtt.packet-invalid', `Packet type ${type} is reserved (${this.versionName()} §2.2.1): fixed header ${hex(raw.header)}.`)];
    }
    this.badInARow = 0;
    const alerts: Alert[] = [];
    const where = this.where(at);
    if (!this.sawConnect && type !== 1 && input.direction === 'client' && this.context.target !== null) {
      alerts.push(makeAlert('mqtt.connect-first', `The client's first packet is ${name}, not CONNECT [MQTT-3.1.0-1].`, where));
    }
    if (type === 1) this.sawConnect = true;
    const fixed = FIXED_FLAGS[type]!;
    if (fixed >= 0 && raw.flags !== fixed) alerts.push(makeAlert('mqtt.flags-invalid', `${name} carries flags ${raw.flags.toString(2).padStart(4, '0')} in its fixed header; they must be ${fixed.toString(2).padStart(4, '0')} [MQTT-2.2.2-1, MQTT-2.2.2-2].`, where));
    const sender = SENDER[type];
    if ((sender === 'c' && input.direction !== 'client') || (sender === 's' && input.direction !== 'server')) {
      alerts.push(makeAlert('mqtt.packet-invalid', `${name} is sent by the ${sender === 'c' ? 'client' : 'server'} only (${this.versionName()} §2.1.2), here by the ${input.direction}.`, where));
    }
    const parts: AppPart[] | undefined = this.context.explain ? this.headerParts(raw, name) : undefined;
    const truncated = raw.body.length < raw.remaining;
    let decoded: Decoded;
    try {
      decoded = this.decode(at, raw, name, alerts, parts);
    } catch (error) {
      if (!(error instanceof Malformed)) throw error;
      alerts.push(makeAlert(error.code, `${name}: ${error.reason}${truncated ? ` (only its first ${raw.body.length} of ${raw.remaining} bytes are decoded)` : ''}.`, where));
      decoded = { summary: `${name.toLowerCase()} (malformed) ${bytesNote(raw.body)}`, fields: { data: raw.body }, name: null, alerts, paired: null, parts };
    }
    if (truncated) decoded.fields.length = raw.remaining;
    const heartbeat = type === 12 || type === 13;
    return [
      appEvent(at, {
        protocol: 'mqtt',
        kind: name.toLowerCase(),
        summary: `mqtt ${decoded.summary}${pairNote(decoded.paired)}`,
        name: decoded.name,
        fields: decoded.fields,
        alerts: decoded.alerts,
        heartbeat,
        ...(heartbeat ? { heartbeatRole: type === 12 ? ('ping' as const) : ('pong' as const) } : {}),
        ...(decoded.terms ? { heartbeatTerms: decoded.terms } : {}),
        ...(decoded.paired ? { replyTo: decoded.paired.replyTo, latencyMs: decoded.paired.latencyMs } : {}),
        ...(parts ? { parts } : {}),
        ...(parts && decoded.detail ? { detail: decoded.detail } : {}),
      }),
    ];
  }

  private decode(input: AppInput, raw: RawPacket, name: string, alerts: Alert[], parts: AppPart[] | undefined): Decoded {
    const c = new Cursor(raw.body);
    const v5 = this.version === 5;
    const pairs = this.context.pairs;
    const where = this.where(input);
    const part = (from: number, meaning: string) => parts?.push({ text: hex(raw.body.subarray(from, c.at)), meaning });
    const props = (what: string): Record<string, AppValue> | null => {
      // CONNECT sets the version before its own properties are read.
      if (this.version !== 5) return null;
      const from = c.at;
      const p = readProperties(c, what);
      part(from, `properties (5.0 §2.2.2): ${Object.keys(p).join(', ') || 'none'}`);
      return p;
    };
    const result = (summary: string, fields: Record<string, AppValue>, extra: Partial<Decoded> = {}): Decoded => ({ summary, fields, name: null, alerts, paired: null, parts, ...extra });
    switch (raw.type) {
      case 1: {
        let from = c.at;
        const protocolName = c.string('the protocol name');
        const level = c.u8('the protocol level');
        part(from, `protocol name "${protocolName}" and level ${level} (${VERSION_NAMES[level] ?? 'unknown'})`);
        if (!((protocolName === 'MQTT' && (level === 4 || level === 5)) || (protocolName === 'MQIsdp' && level === 3))) {
          alerts.push(makeAlert('mqtt.packet-invalid', `CONNECT names protocol "${protocolName}" level ${level}: MQTT 3.1.1 is "MQTT" level 4, 5.0 "MQTT" level 5, 3.1 "MQIsdp" level 3 [MQTT-3.1.2-1, MQTT-3.1.2-2].`, where));
        }
        if (level === 3 || level === 4 || level === 5) {
          this.version = level;
          this.versionKnown = true;
        }
        const v = this.version === 5;
        from = c.at;
        const flags = c.u8('the connect flags');
        const willFlag = (flags & 0x04) !== 0;
        const willQos = (flags >> 3) & 3;
        const willRetain = (flags & 0x20) !== 0;
        const hasPassword = (flags & 0x40) !== 0;
        const hasUser = (flags & 0x80) !== 0;
        const clean = (flags & 0x02) !== 0;
        part(from, `connect flags ${flags.toString(2).padStart(8, '0')}: ${[hasUser && 'user name', hasPassword && 'password', willFlag && `will (QoS ${willQos}${willRetain ? ', retained' : ''})`, clean && (v ? 'clean start' : 'clean session')].filter(Boolean).join(', ') || 'none'}`);
        if (flags & 0x01) alerts.push(makeAlert('mqtt.flags-invalid', 'CONNECT sets the reserved connect flag [MQTT-3.1.2-3].', where));
        if (!willFlag && (willQos !== 0 || willRetain)) alerts.push(makeAlert('mqtt.flags-invalid', 'CONNECT sets Will QoS or Will Retain without the Will Flag [MQTT-3.1.2-13, MQTT-3.1.2-15].', where));
        if (willQos === 3) alerts.push(makeAlert('mqtt.flags-invalid', 'CONNECT asks for Will QoS 3 [MQTT-3.1.2-14].', where));
        from = c.at;
        const keepAlive = c.u16('the keep alive');
        part(from, `keep alive ${keepAlive} s: the longest the client may stay silent (§3.1.2.10)${keepAlive === 0 ? '; 0 turns it off' : ''}`);
        const properties = props('CONNECT');
        from = c.at;
        const clientId = c.string('the client identifier');
        part(from, `client identifier "${clientId}"`);
        let will: AppValue = null;
        if (willFlag) {
          from = c.at;
          const willProperties = v ? readProperties(c, 'the will') : null;
          const topic = c.string('the will topic');
          const payload = c.binary('the will message');
          part(from, `will: topic "${topic}", message of ${payload.length} byte(s), published if the client goes without DISCONNECT`);
          will = { topic, qos: willQos, retain: willRetain, payload: payloadText(payload) ?? payload, ...(willProperties ? { properties: willProperties } : {}) };
        }
        let username: string | null = null;
        let password: Uint8Array | null = null;
        if (hasUser) {
          from = c.at;
          username = c.string('the user name');
          part(from, `user name "${username}"`);
        }
        if (hasPassword) {
          from = c.at;
          password = c.binary('the password');
          part(from, `password, ${password.length} byte(s)`);
        }
        if (c.left > 0) alerts.push(makeAlert('mqtt.packet-invalid', `CONNECT has ${c.left} byte(s) after its last field.`, where));
        if (pairs.request(input.direction, 'connect', 'connect', input.at, clientId)) {
          alerts.push(makeAlert('mqtt.packet-invalid', 'A second CONNECT on one connection [MQTT-3.1.0-2].', where));
        }
        const willNote = will !== null ? `  will ${compactValue((will as Record<string, AppValue>).topic!)} qos ${willQos}${willRetain ? ' retain' : ''}` : '';
        return result(
          `connect ${VERSION_NAMES[this.version] ?? `level ${level}`} client ${compactValue(clientId)}  keepalive ${keepAlive} s${clean ? (v ? '  clean start' : '  clean session') : ''}${username !== null ? `  user ${compactValue(username)}` : ''}${willNote}`,
          { version: VERSION_NAMES[level] ?? null, protocolName, protocolLevel: level, clientId, cleanSession: clean, keepAlive, will, username, password, properties },
          { terms: keepAliveTerms(keepAlive), ...(properties ? { detail: { label: 'properties', value: properties } } : {}) },
        );
      }
      case 2: {
        let from = c.at;
        const ack = c.u8('the acknowledge flags');
        const code = c.u8('the return code');
        const sessionPresent = (ack & 1) !== 0;
        // A server that does not speak 5.0 refuses a 5.0 CONNECT with 3.1.1's two-byte CONNACK
        // (3.1.1 §3.1.2.2: return code 1, unacceptable protocol level): read it as that.
        const v5 = this.version === 5 && !(c.left === 0 && code >= 1 && code <= 5);
        const reason = v5 ? (REASONS_5[code] ?? `reason 0x${HEX(code)}`) : (CONNACK_3[code] ?? `return code ${code} (reserved)`);
        part(from, `session present ${sessionPresent ? 1 : 0}; ${v5 ? 'reason' : 'return'} code ${code}: ${reason}`);
        if (ack & 0xfe) alerts.push(makeAlert('mqtt.flags-invalid', 'CONNACK sets reserved acknowledge flags [MQTT-3.2.2-1].', where));
        if (!v5 && code > 5) alerts.push(makeAlert('mqtt.packet-invalid', `CONNACK return code ${code} is reserved (3.1.1 §3.2.2.3).`, where));
        const properties = v5 ? props('CONNACK') : null;
        const paired = pairs.answer(input.direction, 'connect', input.at);
        // 5.0 §3.2.2.3.14: a Server Keep Alive replaces the client's.
        const serverKeepAlive = properties !== null && typeof properties.serverKeepAlive === 'number' ? properties.serverKeepAlive : null;
        return result(`connack ${reason}${sessionPresent ? '  session present' : ''}${serverKeepAlive !== null ? `  keepalive ${serverKeepAlive} s (server's)` : ''}`, { sessionPresent, returnCode: code, reason, properties }, { paired, ...(serverKeepAlive !== null ? { terms: keepAliveTerms(serverKeepAlive) } : {}), ...(properties ? { detail: { label: 'properties', value: properties } } : {}) });
      }
      case 3: {
        const qos = (raw.flags >> 1) & 3;
        const dup = (raw.flags & 8) !== 0;
        const retain = (raw.flags & 1) !== 0;
        if (qos === 3) alerts.push(makeAlert('mqtt.flags-invalid', 'PUBLISH with QoS 3 (both QoS bits set) [MQTT-3.3.1-4].', where));
        if (qos === 0 && dup) alerts.push(makeAlert('mqtt.flags-invalid', 'PUBLISH with QoS 0 sets DUP [MQTT-3.3.1-2].', where));
        let from = c.at;
        const topic = c.string('the topic name');
        part(from, `topic name "${topic}"`);
        if (/[#+]/.test(topic)) alerts.push(makeAlert('mqtt.packet-invalid', `The topic name "${topic}" contains a wildcard [MQTT-3.3.2-2].`, where));
        let packetId: number | null = null;
        if (qos > 0) {
          from = c.at;
          packetId = c.u16('the packet identifier');
          part(from, `packet identifier ${packetId}: the ${qos === 1 ? 'PUBACK' : 'PUBREC'} carries it back`);
          if (packetId === 0) alerts.push(makeAlert('mqtt.packet-invalid', 'PUBLISH with QoS > 0 and packet identifier 0 [MQTT-2.3.1-1].', where));
        }
        const properties = props('PUBLISH');
        from = c.at;
        const payload = c.rest();
        part(from, `payload, ${raw.remaining - (raw.body.length - payload.length)} byte(s): the application message, as it is`);
        let name = topic;
        // 5.0 §3.3.2.3.4: a topic alias stands for the topic a former PUBLISH gave it.
        if (properties && typeof properties.topicAlias === 'number') name = this.alias(input.direction, properties.topicAlias, topic) ?? topic;
        if (packetId !== null && packetId !== 0) {
          if (pairs.request(input.direction, `publish ${packetId}`, 'publish', input.at, name) && !dup) {
            alerts.push(makeAlert('mqtt.packet-id-reused', `PUBLISH uses packet identifier ${packetId} again while its first use is unacknowledged [MQTT-2.3.1-2].`, where));
          }
        }
        const text = payloadText(payload);
        return result(
          `publish ${compactValue(name, 120)}${name !== topic ? ` (alias ${properties!.topicAlias})` : ''} ${text !== null ? compactValue(text) : bytesNote(payload)}  qos ${qos}${packetId !== null ? `  id ${packetId}` : ''}${retain ? '  retain' : ''}${dup ? '  dup' : ''}`,
          { topic: name, qos, retain, dup, packetId, payload, text, properties },
          { name, detail: { label: 'payload', value: text ?? payload } },
        );
      }
      case 4:
      case 5:
      case 6:
      case 7: {
        let from = c.at;
        const packetId = c.u16('the packet identifier');
        part(from, `packet identifier ${packetId}`);
        let reasonCode: number | null = null;
        let properties: Record<string, AppValue> | null = null;
        // 5.0 §3.4.2.1: the reason code (and properties) may be left out when it is 0, success.
        if (v5 && c.left > 0) {
          from = c.at;
          reasonCode = c.u8('the reason code');
          part(from, `reason code 0x${HEX(reasonCode)}: ${REASONS_5[reasonCode] ?? 'not defined'}`);
          if (c.left > 0) properties = props(name);
        } else if (v5) {
          reasonCode = 0;
        }
        if (!v5 && c.left > 0) alerts.push(makeAlert('mqtt.packet-invalid', `${name} has ${c.left} byte(s) after its packet identifier (3.1.1 §3.${raw.type}).`, where));
        // PUBACK and PUBREC answer a PUBLISH, PUBCOMP answers a PUBREL (4.3.2, 4.3.3).
        const answers = raw.type === 7 ? 'pubrel' : raw.type === 6 ? null : 'publish';
        let paired: Paired | null = null;
        if (answers !== null) {
          paired = pairs.answer(input.direction, `${answers} ${packetId}`, input.at);
          if (paired === null) alerts.push(makeAlert('mqtt.packet-id-unknown', `${name} for packet identifier ${packetId}, which no ${answers === 'publish' ? 'PUBLISH' : 'PUBREL'} from the other side is waiting on (in this capture).`, where));
        }
        let topic = paired?.requestName ?? null;
        if (raw.type === 5) this.pubrec(input.direction, packetId, topic);
        if (raw.type === 6) {
          // PUBREL: the publisher releases what PUBREC answered; PUBCOMP will answer it.
          topic = this.released(input.direction, packetId);
          pairs.request(input.direction, `pubrel ${packetId}`, 'pubrel', input.at, topic);
        }
        const reason = reasonCode !== null && reasonCode !== 0 ? `  ${REASONS_5[reasonCode] ?? `reason 0x${HEX(reasonCode)}`}` : '';
        return result(`${name.toLowerCase()} id ${packetId}${topic !== null ? ` ${compactValue(topic, 120)}` : ''}${reason}`, { packetId, topic, reasonCode, properties }, { name: topic, paired });
      }
      case 8:
      case 10: {
        const subscribe = raw.type === 8;
        let from = c.at;
        const packetId = c.u16('the packet identifier');
        part(from, `packet identifier ${packetId}: the ${subscribe ? 'SUBACK' : 'UNSUBACK'} carries it back`);
        if (packetId === 0) alerts.push(makeAlert('mqtt.packet-invalid', `${name} with packet identifier 0 [MQTT-2.3.1-1].`, where));
        const properties = props(name);
        const filters: AppValue[] = [];
        const topics: string[] = [];
        while (c.left > 0) {
          from = c.at;
          const topic = c.string('a topic filter');
          topics.push(topic);
          if (!subscribe) {
            part(from, `topic filter "${topic}"`);
            filters.push(topic);
            continue;
          }
          const options = c.u8('the subscription options');
          const qos = options & 3;
          const entry: Record<string, AppValue> = { topic, qos };
          if (v5) {
            entry.noLocal = (options & 4) !== 0;
            entry.retainAsPublished = (options & 8) !== 0;
            entry.retainHandling = (options >> 4) & 3;
          }
          part(from, `topic filter "${topic}", requested QoS ${qos}${v5 ? `, options ${options.toString(2).padStart(8, '0')}` : ''}`);
          if (qos === 3 || (options & (v5 ? 0xc0 : 0xfc)) !== 0) alerts.push(makeAlert('mqtt.flags-invalid', `SUBSCRIBE options ${options.toString(2).padStart(8, '0')} for "${topic}" set reserved bits or QoS 3 [MQTT-3.8.3-4].`, where));
          filters.push(entry);
        }
        if (filters.length === 0) alerts.push(makeAlert('mqtt.packet-invalid', `${name} without a topic filter [MQTT-3.8.3-3, MQTT-3.10.3-2].`, where));
        const label = topics.join(', ');
        if (pairs.request(input.direction, `${subscribe ? 'subscribe' : 'unsubscribe'} ${packetId}`, name.toLowerCase(), input.at, label)) {
          alerts.push(makeAlert('mqtt.packet-id-reused', `${name} uses packet identifier ${packetId} again while its first use is unacknowledged [MQTT-2.3.1-2].`, where));
        }
        const shown = subscribe ? filters.map((f) => `${(f as Record<string, AppValue>).topic} qos ${(f as Record<string, AppValue>).qos}`).join(', ') : label;
        return result(`${name.toLowerCase()} id ${packetId} ${compactValue(shown, 160).replace(/^"|"$/g, '')}`, { packetId, [subscribe ? 'subscriptions' : 'topics']: filters, properties }, { name: label, detail: { label: subscribe ? 'subscriptions' : 'topic filters', value: filters } });
      }
      case 9:
      case 11: {
        const suback = raw.type === 9;
        let from = c.at;
        const packetId = c.u16('the packet identifier');
        part(from, `packet identifier ${packetId}`);
        const properties = props(name);
        from = c.at;
        const codes = Array.from(c.rest());
        const meaning = (code: number) => (suback && !v5 ? (code <= 2 ? `granted QoS ${code}` : code === 0x80 ? 'failure' : `0x${HEX(code)} (reserved)`) : (REASONS_5[code] ?? `0x${HEX(code)}`));
        if (codes.length > 0) part(from, `${suback ? 'return' : 'reason'} codes, one per topic filter: ${codes.map(meaning).join(', ')}`);
        if (suback && !v5 && codes.some((code) => code > 2 && code !== 0x80)) alerts.push(makeAlert('mqtt.packet-invalid', `SUBACK return codes ${codes.join(', ')}: only 0, 1, 2 and 0x80 are allowed [MQTT-3.9.3-2].`, where));
        const paired = pairs.answer(input.direction, `${suback ? 'subscribe' : 'unsubscribe'} ${packetId}`, input.at);
        if (paired === null) alerts.push(makeAlert('mqtt.packet-id-unknown', `${name} for packet identifier ${packetId}, which no ${suback ? 'SUBSCRIBE' : 'UNSUBSCRIBE'} is waiting on (in this capture).`, where));
        const topics = paired?.requestName ?? null;
        const note = codes.length > 0 ? ` ${codes.map(meaning).join(', ')}` : '';
        return result(`${name.toLowerCase()} id ${packetId}${topics !== null ? ` ${compactValue(topics, 120).replace(/^"|"$/g, '')}:` : ''}${note}`, { packetId, topics, codes, properties }, { name: topics, paired });
      }
      case 12:
        this.context.pairs.request(input.direction, 'ping', 'pingreq', input.at);
        return result('pingreq', {});
      case 13:
        return result('pingresp', {}, { paired: pairs.answer(input.direction, 'ping', input.at) });
      case 14:
      case 15: {
        let reasonCode: number | null = null;
        let properties: Record<string, AppValue> | null = null;
        if (v5 && c.left > 0) {
          const from = c.at;
          reasonCode = c.u8('the reason code');
          part(from, `reason code 0x${HEX(reasonCode)}: ${REASONS_5[reasonCode] ?? 'not defined'}`);
          if (c.left > 0) properties = props(name);
        } else if (v5) {
          reasonCode = 0;
        }
        if (!v5 && c.left > 0) alerts.push(makeAlert('mqtt.packet-invalid', `DISCONNECT carries ${c.left} byte(s); in 3.1.1 it has none (§3.14).`, where));
        const reason = reasonCode !== null && reasonCode !== 0 ? ` ${REASONS_5[reasonCode] ?? `reason 0x${HEX(reasonCode)}`}` : '';
        return result(`${name.toLowerCase()}${reason}`, { reasonCode, properties }, properties ? { detail: { label: 'properties', value: properties } } : {});
      }
    }
    return result(name.toLowerCase(), {});
  }

  /** PUBREC's topic, kept until the PUBREL that releases the same id (bounded like Pairs). */
  private readonly received = new Map<string, string | null>();
  private pubrec(from: Direction, id: number, topic: string | null): void {
    if (this.received.size >= 4096) this.received.delete(this.received.keys().next().value!);
    // The PUBREL comes from the other side (the publisher).
    this.received.set(`${from === 'client' ? 'server' : 'client'} ${id}`, topic);
  }

  private released(from: Direction, id: number): string | null {
    const key = `${from} ${id}`;
    const topic = this.received.get(key) ?? null;
    this.received.delete(key);
    return topic;
  }

  /** 5.0 topic aliases per sender (§3.3.2.3.4): a PUBLISH with a topic sets it, one without uses it. */
  private readonly aliases: Record<Direction, Map<number, string>> = { client: new Map(), server: new Map() };
  private alias(from: Direction, alias: number, topic: string): string | null {
    const map = sideOf(this.aliases, from);
    if (topic !== '') {
      if (map.size < 65536) map.set(alias, topic);
      return topic;
    }
    return map.get(alias) ?? null;
  }

  private headerParts(raw: RawPacket, name: string): AppPart[] {
    const flags = raw.flags.toString(2).padStart(4, '0');
    const meaning =
      raw.type === 3
        ? `${name} (type 3), flags ${flags}: DUP ${(raw.flags >> 3) & 1}, QoS ${(raw.flags >> 1) & 3}, RETAIN ${raw.flags & 1}`
        : `${name} (type ${raw.type}), flags ${flags}`;
    return [
      { text: HEX(raw.header[0]!), meaning: `fixed header: ${meaning}` },
      { text: hex(raw.header.subarray(1)), meaning: `remaining length ${raw.remaining}: 7 bits a byte, low first, high bit = more (§2.2.3)` },
    ];
  }

  private versionName(): string {
    return this.version === 5 ? 'MQTT 5.0' : 'MQTT 3.1.1';
  }

  private where(input: AppInput): { direction: Direction; packet?: number } {
    return { direction: input.direction, ...(input.at.packet !== undefined ? { packet: input.at.packet } : {}) };
  }

  private alert(input: AppInput, code: AlertCode, message: string): AppOutput {
    return { type: 'alert', conn: input.conn, alert: makeAlert(code, message, this.where(input)) };
  }
}

export function createMqttDecoder(context: DecoderContext): AppDecoder {
  return new MqttDecoder(context);
}
