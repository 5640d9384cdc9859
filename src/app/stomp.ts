/**
 * STOMP 1.0, 1.1 and 1.2 over WebSocket (https://stomp.github.io/stomp-specification-1.2.html):
 * frames, headers with 1.2's escaping, bodies ended by content-length or NUL, heart-beats.
 *
 *   SEND\n                  the command, then an EOL (\n, or \r\n in 1.2)
 *   destination:/queue/a\n  headers, name:value, escaped (\n \r \c \\) in every frame but
 *   receipt:r-1\n           CONNECT and CONNECTED ("Value Encoding")
 *   content-length:5\n
 *   \n                      a blank line ends the headers
 *   hello\0                 the body: content-length octets (or up to the first NUL), then NUL
 *
 * The WebSocket messages need not match the frames: a frame may be split across messages and a
 * message may hold several, so each direction is a stream parser. EOLs between frames are
 * heart-beats ("Heart-beating"); a message of EOLs only is one heartbeat event. CONNECT's and
 * CONNECTED's heart-beat headers negotiate how often each side beats, which the CONNECTED event
 * says. A frame's `receipt` header is answered by a RECEIPT with that receipt-id, which is
 * paired with it; a MESSAGE names its subscription, whose destination the SUBSCRIBE gave.
 */
import { makeAlert, sideOf, type Alert, type AlertCode, type Direction } from '../alerts.js';
import { concatBytes } from '../websocket/bytes.js';
import type { StreamPosition } from '../websocket/types.js';
import { pairNote, type Paired } from './pairs.js';
import { appEvent, type AppDecoder, type AppInput, type AppOutput, type AppPart, type AppValue, type DecoderContext, type HeartbeatDuty, type HeartbeatTerms } from './types.js';
import { bytesNote, compactValue } from './values.js';

/** How many negotiated heart-beat intervals a side may stay silent before it is late. */
const STOMP_HEARTBEAT_TOLERANCE = 2;

/** Frames each side may send ("Client Frames", "Server Frames"). */
const CLIENT_COMMANDS = new Set(['CONNECT', 'STOMP', 'SEND', 'SUBSCRIBE', 'UNSUBSCRIBE', 'ACK', 'NACK', 'BEGIN', 'COMMIT', 'ABORT', 'DISCONNECT']);
const SERVER_COMMANDS = new Set(['CONNECTED', 'MESSAGE', 'RECEIPT', 'ERROR']);

/** Headers each frame must carry, by the version that requires them (1.2, each frame's section). */
const REQUIRED: Record<string, [string, number][]> = {
  CONNECT: [['accept-version', 11], ['host', 11]],
  STOMP: [['accept-version', 11], ['host', 11]],
  CONNECTED: [['version', 11]],
  SEND: [['destination', 10]],
  SUBSCRIBE: [['destination', 10], ['id', 11]],
  UNSUBSCRIBE: [['id', 11]],
  ACK: [['id', 12]],
  NACK: [['id', 12]],
  BEGIN: [['transaction', 10]],
  COMMIT: [['transaction', 10]],
  ABORT: [['transaction', 10]],
  MESSAGE: [['destination', 10], ['message-id', 10], ['subscription', 11]],
  RECEIPT: [['receipt-id', 10]],
};

/** A frame longer than this is not held: the decoder stops following the connection. */
const MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Header blocks longer than this are not STOMP (brokers limit them far lower). */
const MAX_HEADER_BYTES = 256 * 1024;
/** Frames in a row that are not STOMP before the decoder stops following the connection. */
const GIVE_UP_AFTER = 3;
/** Subscriptions and topic names remembered per connection. */
const MAX_SUBSCRIPTIONS = 4096;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Versions as the subprotocol names them (STOMP 1.2 "STOMP over WebSocket" is by convention: v12.stomp …). */
const SUBPROTOCOL_VERSIONS: Record<string, number> = { 'v12.stomp': 12, 'v11.stomp': 11, 'v10.stomp': 10 };

/** One frame as the stream parser hands it over. */
interface RawFrame {
  command: string;
  /** Header lines as sent (not unescaped), in order. */
  lines: string[];
  body: Uint8Array;
  /** The frame as sent, for --explain. */
  bytes: Uint8Array;
  /** What broke its framing (a body not followed by NUL), or null. */
  problem: string | null;
  contentLength: number | null;
}

type StreamItem = { type: 'frame'; frame: RawFrame } | { type: 'heartbeat'; eols: number } | { type: 'invalid'; reason: string; bytes: Uint8Array };

/** One direction's byte stream: what does not make a whole frame yet waits here. */
class FrameStream {
  private buffer: Uint8Array = new Uint8Array(0);
  /** Messages that came while a frame's body was incomplete, not yet joined to the buffer. */
  private waiting: Uint8Array[] = [];
  private waitingBytes = 0;
  /** What the incomplete frame waits for: this many bytes in all, or a NUL (null: anything). */
  private need: { bytes: number } | { nul: true } | null = null;
  lost: string | null = null;

  get pending(): number {
    return this.buffer.length + this.waitingBytes;
  }

  push(data: Uint8Array): StreamItem[] {
    const out: StreamItem[] = [];
    if (this.lost !== null) return out;
    // A long body comes in many messages: join them once it can be whole, not at every message.
    if (this.need !== null && data.length > 0) {
      const enough = 'bytes' in this.need ? this.pending + data.length >= this.need.bytes : data.includes(0);
      if (!enough && this.pending + data.length <= MAX_FRAME_BYTES) {
        this.waiting.push(data.slice());
        this.waitingBytes += data.length;
        return out;
      }
    }
    this.need = null;
    const parts = this.buffer.length > 0 ? [this.buffer, ...this.waiting, data] : [...this.waiting, data];
    const buffer = concatBytes(parts, this.pending + data.length);
    this.waiting = [];
    this.waitingBytes = 0;
    // Where this message's bytes start: EOLs from there on, before any frame, are a heartbeat.
    const fresh = buffer.length - data.length;
    let offset = 0;
    let sawFrame = false;
    for (;;) {
      // EOLs between frames (after a NUL, or alone) are heart-beats ("Heart-beating").
      const start = offset;
      let eols = 0;
      while (offset < buffer.length) {
        if (buffer[offset] === 0x0a) {
          offset++;
          eols++;
        } else if (buffer[offset] === 0x0d && buffer[offset + 1] === 0x0a) {
          offset += 2;
          eols++;
        } else break;
      }
      if (eols > 0 && !sawFrame && start >= fresh) out.push({ type: 'heartbeat', eols });
      if (offset >= buffer.length) break;
      const end = this.frameEnd(buffer, offset);
      if (end === null) break;
      if ('lost' in end) {
        this.lost = end.lost;
        this.buffer = new Uint8Array(0);
        return out;
      }
      out.push(end.item);
      sawFrame = true;
      offset = end.next;
    }
    const rest = buffer.subarray(offset);
    if (rest.length > MAX_FRAME_BYTES) {
      this.lost = `a frame of more than ${MAX_FRAME_BYTES / 1048576} MiB without its end`;
      this.buffer = new Uint8Array(0);
      return out;
    }
    this.buffer = rest.length > 0 ? rest.slice() : new Uint8Array(0);
    return out;
  }

  /** The frame starting at `at`: the item and where the next begins, null while incomplete. */
  private frameEnd(buffer: Uint8Array, at: number): { item: StreamItem; next: number } | { lost: string } | null {
    // The command and headers: lines up to a blank one.
    const lines: string[] = [];
    let pos = at;
    for (;;) {
      const nl = buffer.indexOf(0x0a, pos);
      // A NUL before the end of the command line: no frame starts here.
      if (lines.length === 0) {
        const nul = (nl < 0 ? buffer.subarray(pos) : buffer.subarray(pos, nl)).indexOf(0);
        if (nul >= 0) return this.invalid(buffer, at, 'no command line before the NUL');
      }
      if (nl < 0) {
        if (buffer.length - at > MAX_HEADER_BYTES) return { lost: `no end of the headers within ${MAX_HEADER_BYTES / 1024} KiB` };
        // A command line that cannot be one: garbage, said at once rather than waited for.
        if (lines.length === 0 && buffer.length - at > 64) return this.invalid(buffer, at, 'no command line');
        return null;
      }
      const lineEnd = nl > pos && buffer[nl - 1] === 0x0d ? nl - 1 : nl;
      const line = decode(buffer.subarray(pos, lineEnd));
      pos = nl + 1;
      if (line === null) return this.invalid(buffer, at, 'a command or header line that is not UTF-8');
      if (line === '') break;
      lines.push(line);
      if (lines.length === 1 && !/^[A-Z]{1,32}$/.test(line)) return this.invalid(buffer, at, `"${line.slice(0, 40)}" is not a command`);
      if (pos - at > MAX_HEADER_BYTES) return { lost: `no end of the headers within ${MAX_HEADER_BYTES / 1024} KiB` };
    }
    if (lines.length === 0) return this.invalid(buffer, at, 'a frame without a command');
    const [command, ...headerLines] = lines as [string, ...string[]];
    // content-length: the body's octets; the first header of a name counts (1.2 "Repeated Header Entries").
    let contentLength: number | null = null;
    let problem: string | null = null;
    for (const h of headerLines) {
      if (!h.startsWith('content-length:')) continue;
      const value = h.slice('content-length:'.length).trim();
      if (/^\d{1,10}$/.test(value)) contentLength = Number(value);
      break;
    }
    let bodyEnd: number;
    let next: number;
    if (contentLength !== null) {
      if (contentLength > MAX_FRAME_BYTES) return { lost: `a content-length of ${contentLength} octets` };
      if (buffer.length < pos + contentLength + 1) {
        this.need = { bytes: pos - at + contentLength + 1 };
        return null;
      }
      bodyEnd = pos + contentLength;
      if (buffer[bodyEnd] === 0) next = bodyEnd + 1;
      else {
        // The body must be followed by NUL: find it, the frame ends there.
        const nul = buffer.indexOf(0, bodyEnd);
        if (nul < 0) return null;
        problem = `its ${contentLength}-octet body (content-length) is followed by ${nul - bodyEnd} more octet(s) before the NUL`;
        bodyEnd = nul;
        next = nul + 1;
      }
    } else {
      const nul = buffer.indexOf(0, pos);
      if (nul < 0) {
        this.need = { nul: true };
        return null;
      }
      bodyEnd = nul;
      next = nul + 1;
    }
    return { item: { type: 'frame', frame: { command, lines: headerLines, body: buffer.subarray(pos, bodyEnd), bytes: buffer.subarray(at, next), problem, contentLength } }, next };
  }

  /** Not a frame: skip to the next NUL (or all that is buffered) and say so. */
  private invalid(buffer: Uint8Array, at: number, reason: string): { item: StreamItem; next: number } {
    const nul = buffer.indexOf(0, at);
    const next = nul < 0 ? buffer.length : nul + 1;
    return { item: { type: 'invalid', reason, bytes: buffer.subarray(at, next) }, next };
  }
}

function decode(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/** A header value unescaped (1.2 "Value Encoding": \r \n \c \\; 1.1 has no \r), or the escape that is undefined. */
export function unescapeHeader(text: string, version: number): { value: string; bad: string | null } {
  if (!text.includes('\\')) return { value: text, bad: null };
  let value = '';
  let bad: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '\\') {
      value += c;
      continue;
    }
    const e = text[i + 1];
    i++;
    if (e === 'n') value += '\n';
    else if (e === 'c') value += ':';
    else if (e === '\\') value += '\\';
    else if (e === 'r' && version >= 12) value += '\r';
    else {
      bad ??= `\\${e ?? ''}`;
      value += `\\${e ?? ''}`;
    }
  }
  return { value, bad };
}

/** The heart-beat header's two numbers (ms), or null when it is not `cx,cy` ("Heart-beating"). */
function heartBeat(value: string | undefined): [number, number] | null {
  if (value === undefined) return [0, 0];
  const m = /^\s*(\d{1,10})\s*,\s*(\d{1,10})\s*$/.exec(value);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** Is this message the start of a STOMP session: a CONNECT (or STOMP) frame? */
export function isStompConnect(text: string): boolean {
  return /^(CONNECT|STOMP)\r?\n/.test(text) && /\n\r?\n/.test(text) && text.includes('\0');
}

class StompDecoder implements AppDecoder {
  readonly protocol = 'stomp';
  gaveUp: string | null = null;
  readonly session = null;
  private version: number | null;
  private readonly streams: Record<Direction, FrameStream> = { client: new FrameStream(), server: new FrameStream() };
  /** The heart-beat the client's CONNECT asked for, until CONNECTED answers. */
  private asked: [number, number] | null = null;
  private readonly subscriptions = new Map<string, string>();
  private sawConnect = false;
  private badInARow = 0;

  constructor(private readonly context: DecoderContext) {
    this.version = context.subprotocol !== null ? (SUBPROTOCOL_VERSIONS[context.subprotocol.toLowerCase()] ?? null) : null;
  }

  message(input: AppInput): AppOutput[] {
    const out: AppOutput[] = [];
    const stream = sideOf(this.streams, input.direction);
    for (const item of stream.push(input.data)) {
      if (item.type === 'heartbeat') {
        out.push(appEvent(input, { protocol: 'stomp', kind: 'heartbeat', summary: `stomp heartbeat${item.eols > 1 ? ` (${item.eols} EOLs)` : ''}`, fields: { eols: item.eols }, heartbeat: true, ...(this.context.explain ? { parts: [{ text: '\\n'.repeat(Math.min(item.eols, 8)), meaning: 'EOL: a heart-beat, sent when there was nothing else to send ("Heart-beating")' }] } : {}) }));
      } else if (item.type === 'invalid') {
        out.push(this.alert(input, 'stomp.frame-invalid', `Not a STOMP frame (${item.reason}): ${item.bytes.length} octet(s) skipped up to the next NUL.`));
        if (++this.badInARow >= GIVE_UP_AFTER) this.gaveUp = `${GIVE_UP_AFTER} frames in a row are not STOMP`;
      } else {
        this.badInARow = 0;
        out.push(this.frame(input, item.frame));
      }
    }
    if (stream.lost !== null) this.gaveUp = `the ${input.direction} sent ${stream.lost}`;
    return out;
  }

  end(conn: number, at: StreamPosition): AppOutput[] {
    const out: AppOutput[] = [];
    for (const direction of ['client', 'server'] as const) {
      const left = this.streams[direction].pending;
      // A lone CR (half an EOL) is no frame.
      if (left > 1) out.push({ type: 'alert', conn, alert: makeAlert('stomp.frame-incomplete', `The connection ended inside a STOMP frame from the ${direction} (${left} octet(s) of it seen, no NUL).`, { direction, ...(at.packet !== undefined ? { packet: at.packet } : {}) }) });
    }
    return out;
  }

  private frame(input: AppInput, raw: RawFrame): AppOutput {
    const { command } = raw;
    const alerts: Alert[] = [];
    const where = this.where(input);
    const known = input.direction === 'client' ? CLIENT_COMMANDS.has(command) : SERVER_COMMANDS.has(command);
    if (!known) {
      const other = input.direction === 'client' ? SERVER_COMMANDS.has(command) : CLIENT_COMMANDS.has(command);
      alerts.push(makeAlert('stomp.command-unknown', other ? `${command} is a ${input.direction === 'client' ? 'server' : 'client'} frame, sent here by the ${input.direction}.` : `${command} is no STOMP command.`, where));
    }
    if (raw.problem !== null) alerts.push(makeAlert('stomp.frame-invalid', `${command}: ${raw.problem}.`, where));
    // CONNECT and CONNECTED are not escaped, for 1.0 peers ("Value Encoding").
    const escaped = command !== 'CONNECT' && command !== 'CONNECTED' && command !== 'STOMP' && this.version !== 10;
    const headers: Record<string, AppValue> = {};
    const parts: AppPart[] | undefined = this.context.explain ? [{ text: command, meaning: `the command: ${meaningOf(command)}` }] : undefined;
    for (const line of raw.lines) {
      const colon = line.indexOf(':');
      if (colon < 0) {
        alerts.push(makeAlert('stomp.frame-invalid', `${command}: the header line "${line.slice(0, 60)}" has no colon.`, where));
        continue;
      }
      let name = line.slice(0, colon);
      let value = line.slice(colon + 1);
      if (escaped) {
        const n = unescapeHeader(name, this.version ?? 12);
        const v = unescapeHeader(value, this.version ?? 12);
        const bad = n.bad ?? v.bad;
        if (bad !== null && this.version !== null) alerts.push(makeAlert('stomp.header-escape-invalid', `${command}: the header "${line.slice(0, 60)}" uses the undefined escape ${bad}: a fatal protocol error.`, where));
        name = n.value;
        value = v.value;
      }
      // Repeated headers: the first counts (1.2 "Repeated Header Entries").
      const repeated = name in headers;
      if (!repeated) headers[name] = value;
      parts?.push({ text: line, meaning: repeated ? `header ${name}, repeated: only the first counts` : `header ${name}${value !== line.slice(colon + 1) ? ` = ${JSON.stringify(value)} (unescaped)` : ''}` });
    }
    parts?.push({ text: '', meaning: 'a blank line: the end of the headers' });
    const header = (name: string): string | undefined => (typeof headers[name] === 'string' ? (headers[name] as string) : undefined);
    for (const [name, since] of REQUIRED[command] ?? []) {
      if ((this.version ?? 12) >= since && header(name) === undefined) alerts.push(makeAlert('stomp.header-missing', `${command} without its ${name} header (STOMP ${since === 10 ? '1.0' : since === 11 ? '1.1' : '1.2'} and later).`, where));
    }
    if (header('content-length') !== undefined && raw.contentLength === null) alerts.push(makeAlert('stomp.header-invalid', `${command}: content-length "${header('content-length')!.slice(0, 20)}" is not a number of octets.`, where));
    const text = raw.body.length === 0 ? '' : decode(raw.body);
    const body: AppValue = text ?? raw.body;
    parts?.push({ text: text ?? bytesNote(raw.body), meaning: `the body, ${raw.body.length} octet(s)${raw.contentLength !== null ? ', as many as content-length says' : ', up to the NUL'}` });
    parts?.push({ text: '\\0', meaning: 'NUL: the end of the frame' });

    const pairs = this.context.pairs;
    const fields: Record<string, AppValue> = { command, headers };
    let name: string | null = null;
    let paired: Paired | null = null;
    let terms: HeartbeatTerms | undefined;
    let summary = `stomp ${command.toLowerCase()}`;
    const destination = header('destination');
    const receipt = header('receipt');
    switch (command) {
      case 'CONNECT':
      case 'STOMP': {
        this.sawConnect = true;
        this.asked = heartBeat(header('heart-beat'));
        if (this.asked === null) alerts.push(makeAlert('stomp.header-invalid', `heart-beat "${header('heart-beat')!.slice(0, 30)}" is not two numbers cx,cy.`, where));
        pairs.request(input.direction, 'connect', 'connect', input.at);
        summary += `${header('accept-version') !== undefined ? ` accept-version ${header('accept-version')}` : ''}${header('host') !== undefined ? `  host ${compactValue(header('host')!, 60)}` : ''}${header('login') !== undefined ? `  login ${compactValue(header('login')!, 40)}` : ''}${header('heart-beat') !== undefined ? `  heart-beat ${header('heart-beat')}` : ''}`;
        break;
      }
      case 'CONNECTED': {
        const version = header('version');
        if (version === '1.0' || version === '1.1' || version === '1.2') this.version = Number(version.replace('.', ''));
        const offered = heartBeat(header('heart-beat'));
        fields.version = version ?? null;
        if (offered === null) {
          alerts.push(makeAlert('stomp.header-invalid', `heart-beat "${header('heart-beat')!.slice(0, 30)}" is not two numbers sx,sy.`, where));
          fields.heartBeat = null;
        } else {
          // "Heart-beating": each way, 0 if either side says 0, else the larger of the two.
          const [cx, cy] = this.asked ?? [0, 0];
          const [sx, sy] = offered;
          const client = cx === 0 || sy === 0 ? 0 : Math.max(cx, sy);
          const server = sx === 0 || cy === 0 ? 0 : Math.max(sx, cy);
          fields.heartBeat = { client, server };
          // "Heart-beating": each side sends something (an EOL when it has nothing else) at least
          // that often; how much error margin the receiver allows is left to it. We hold a
          // side to twice its interval, the default of @stomp/stompjs (heartbeatToleranceMultiplier 2).
          const duty = (ms: number): HeartbeatDuty | null => (ms === 0 ? null : { intervalMs: ms, timeoutMs: null, silenceMs: ms * STOMP_HEARTBEAT_TOLERANCE, anyMessage: true });
          terms = { client: duty(client), server: duty(server) };
          parts?.push({ text: `heart-beat ${cx},${cy} / ${sx},${sy}`, meaning: `negotiated: the client beats ${client === 0 ? 'never' : `every ${client} ms`}, the server ${server === 0 ? 'never' : `every ${server} ms`} (each way 0 if either side says 0, else the larger)` });
          summary += ` version ${version ?? '1.0'}${header('server') !== undefined ? `  server ${compactValue(header('server')!, 40)}` : ''}${header('session') !== undefined ? `  session ${compactValue(header('session')!, 40)}` : ''}  heart-beat client ${client === 0 ? 'off' : `${client} ms`}, server ${server === 0 ? 'off' : `${server} ms`}`;
        }
        paired = pairs.answer(input.direction, 'connect', input.at);
        break;
      }
      case 'SUBSCRIBE': {
        const id = header('id') ?? null;
        name = destination ?? null;
        fields.destination = destination ?? null;
        fields.id = id;
        if (id !== null && destination !== undefined) {
          if (this.subscriptions.size >= MAX_SUBSCRIPTIONS && !this.subscriptions.has(id)) this.subscriptions.delete(this.subscriptions.keys().next().value!);
          this.subscriptions.set(id, destination);
        }
        summary += ` ${compactValue(destination ?? '?', 120)}${id !== null ? `  id ${compactValue(id, 40)}` : ''}${header('ack') !== undefined ? `  ack ${header('ack')}` : ''}`;
        break;
      }
      case 'UNSUBSCRIBE': {
        const id = header('id') ?? null;
        name = id !== null ? (this.subscriptions.get(id) ?? null) : null;
        if (id !== null) this.subscriptions.delete(id);
        fields.id = id;
        fields.destination = name;
        summary += `${id !== null ? ` id ${compactValue(id, 40)}` : ''}${name !== null ? ` (${compactValue(name, 120)})` : ''}`;
        break;
      }
      case 'SEND':
      case 'MESSAGE': {
        name = destination ?? null;
        fields.destination = destination ?? null;
        summary += ` ${compactValue(destination ?? '?', 120)} ${text !== null ? compactValue(text) : bytesNote(raw.body)}`;
        if (command === 'MESSAGE') {
          const subscription = header('subscription') ?? null;
          fields.subscription = subscription;
          fields.messageId = header('message-id') ?? null;
          if (subscription !== null && this.sawConnect && !this.subscriptions.has(subscription)) {
            alerts.push(makeAlert('stomp.subscription-unknown', `MESSAGE for subscription ${JSON.stringify(subscription)}, which no SUBSCRIBE opened (in this capture).`, where));
          }
          summary += `${subscription !== null ? `  subscription ${compactValue(subscription, 40)}` : ''}${header('message-id') !== undefined ? `  message-id ${compactValue(header('message-id')!, 40)}` : ''}`;
        }
        break;
      }
      case 'RECEIPT': {
        const id = header('receipt-id');
        fields.receiptId = id ?? null;
        if (id !== undefined) {
          paired = pairs.answer(input.direction, `receipt ${id}`, input.at);
          if (paired === null) alerts.push(makeAlert('stomp.receipt-unknown', `RECEIPT for receipt-id ${JSON.stringify(id)}, which no frame of the client asked for (in this capture).`, where));
        }
        name = paired?.requestName ?? null;
        summary += ` ${compactValue(id ?? '?', 60)}${paired !== null ? ` (${paired.requestKind}${name !== null ? ` ${compactValue(name, 120)}` : ''})` : ''}`;
        break;
      }
      case 'ERROR': {
        const id = header('receipt-id');
        fields.message = header('message') ?? null;
        fields.receiptId = id ?? null;
        // An ERROR answers the frame whose receipt it names, else a CONNECT still waiting.
        paired = id !== undefined ? pairs.answer(input.direction, `receipt ${id}`, input.at) : pairs.answer(input.direction, 'connect', input.at);
        summary += `${header('message') !== undefined ? ` ${compactValue(header('message')!, 120)}` : ''}${raw.body.length > 0 ? ` ${text !== null ? compactValue(text) : bytesNote(raw.body)}` : ''}`;
        break;
      }
      case 'ACK':
      case 'NACK':
      case 'BEGIN':
      case 'COMMIT':
      case 'ABORT': {
        const id = header('id') ?? header('message-id');
        const tx = header('transaction');
        summary += `${id !== undefined ? ` id ${compactValue(id, 60)}` : ''}${tx !== undefined ? `  transaction ${compactValue(tx, 60)}` : ''}`;
        break;
      }
      default:
        break;
    }
    if (receipt !== undefined && input.direction === 'client') {
      pairs.request(input.direction, `receipt ${receipt}`, command.toLowerCase(), input.at, name);
      summary += `  receipt ${compactValue(receipt, 40)}`;
    }
    fields.receipt = receipt ?? null;
    fields.body = body;
    return appEvent(input, {
      protocol: 'stomp',
      kind: command.toLowerCase(),
      summary: `${summary}${pairNote(paired)}`,
      name,
      fields,
      alerts,
      ...(paired ? { replyTo: paired.replyTo, latencyMs: paired.latencyMs } : {}),
      ...(terms ? { heartbeatTerms: terms } : {}),
      ...(parts ? { parts, ...(raw.body.length > 0 ? { detail: { label: 'body', value: body } } : {}) } : {}),
    });
  }

  private where(input: AppInput): { direction: Direction; packet?: number } {
    return { direction: input.direction, ...(input.at.packet !== undefined ? { packet: input.at.packet } : {}) };
  }

  private alert(input: AppInput, code: AlertCode, message: string): AppOutput {
    return { type: 'alert', conn: input.conn, alert: makeAlert(code, message, this.where(input)) };
  }
}

/** What each command does, in a few words (for --explain). */
function meaningOf(command: string): string {
  switch (command) {
    case 'CONNECT':
    case 'STOMP':
      return 'the client opens a session (versions it accepts, virtual host, heart-beats)';
    case 'CONNECTED':
      return 'the server accepts the session (the version chosen, heart-beats)';
    case 'SEND':
      return 'a message for a destination';
    case 'SUBSCRIBE':
      return 'the client subscribes to a destination under an id';
    case 'UNSUBSCRIBE':
      return 'the client ends the subscription with this id';
    case 'MESSAGE':
      return 'a message for one of the client\'s subscriptions';
    case 'RECEIPT':
      return 'the server has processed the frame that asked for this receipt';
    case 'ERROR':
      return 'something went wrong; the server closes the connection after it';
    case 'ACK':
    case 'NACK':
      return 'the client acknowledges (or not) a message';
    case 'BEGIN':
    case 'COMMIT':
    case 'ABORT':
      return 'a transaction';
    case 'DISCONNECT':
      return 'the client ends the session';
    default:
      return 'not a STOMP command';
  }
}

export function createStompDecoder(context: DecoderContext): AppDecoder {
  return new StompDecoder(context);
}
