/**
 * The teaching views: `wsdump --explain`, `--decode-hex` and `--accept`. Each frame is shown
 * as the RFC 6455 §5.2 header diagram filled with its own bits, its bytes bracketed and named,
 * the unmasking worked through (§5.3), and its alerts with the rule they enforce; the opening
 * handshake header by header, with the Sec-WebSocket-Accept computation (§4.2.2).
 *
 * Output fits 80 columns and carries its meaning in symbols and brackets, colors only repeat
 * it, with the same color per field as the table (palette()). Everything from the traffic
 * goes through escapeText.
 */
import { createHash } from 'node:crypto';
import { Chalk } from 'chalk';
import { ALERT_CATALOGUE, type Alert, type Direction } from '../alerts.js';
import type { DissectEvent, HttpExchangeEvent, Endpoint, HandshakeEvent } from '../engine/events.js';
import type { HttpHeader } from '../http/http-parser.js';
import { computeAccept, isValidKey } from '../http/accept.js';
import { closeCodeName, isControlOpcode, isReservedOpcode, WEBSOCKET_GUID } from '../websocket/constants.js';
import type { Frame, Message } from '../websocket/types.js';
import { decodeUtf8Lossy, isValidUtf8Prefix } from '../websocket/utf8.js';
import { explainApp } from './app-explain.js';
import { escapeText, hexPreview } from './escape.js';
import { appHeartbeatLines, closeLine, formatMs, heartbeatLines, timingLine } from './health-text.js';
import { prettyJson } from './json-text.js';
import { bodyPreview, exchangeTitle, PATTERN_MEANING } from './http-text.js';
import { otherLabel, palette } from './table.js';
import { explainTls, explainTlsRecord, keylogWouldHelp } from './tls-text.js';
import { visibleLength, wrapBlock } from './wrap.js';

export interface ExplainOptions {
  /** chalk color level: 0 = none. */
  colorLevel: 0 | 1 | 2 | 3;
  /** Terminal width (default 80); the diagrams need 68 columns whatever the width. */
  width?: number;
  /** 'capture' (default): frames of a capture; 'hex': bytes typed by hand (input offsets instead of packets). */
  source?: 'capture' | 'hex';
  /** Payload bytes whose unmasking is worked through, one line each (default 8). */
  unmaskLines?: number;
}

type Colors = ReturnType<typeof palette>;
type FieldColor = 'fin' | 'rsv' | 'opcode' | 'mask' | 'length' | 'key' | 'payload';

const ARROW: Record<Direction, string> = { client: 'C→S', server: 'S→C' };
const SIDES: Record<Direction, string> = { client: 'client → server', server: 'server → client' };
const SEVERITY_SYMBOL: Record<Alert['severity'], string> = { error: '✖ error', warning: '▲ warning', info: 'ℹ info' };
/** Columns every line of these views fits in by default. */
export const EXPLAIN_WIDTH = 80;
const hex2 = (b: number) => b.toString(16).padStart(2, '0');
const bytesHex = (bytes: Uint8Array) => Array.from(bytes, hex2).join(' ');

// --- Sec-WebSocket-Accept ---------------------------------------------------------------------

export interface AcceptSteps {
  key: string;
  /** key + GUID, the string that is hashed. */
  concatenated: string;
  /** SHA-1 of the concatenation (hashed as latin1: the bytes that crossed the wire). */
  sha1Hex: string;
  accept: string;
  valid: boolean;
  /** The key decoded from base64, when it is base64 at all. */
  keyBytes: Uint8Array | null;
  /** Why the key is not base64 of 16 bytes (null when it is). */
  problem: string | null;
}

/** §1.3, §4.2.2: base64(SHA-1(key + GUID)), every intermediate value kept for display. */
export function acceptSteps(key: string): AcceptSteps {
  const concatenated = key + WEBSOCKET_GUID;
  const digest = createHash('sha1').update(concatenated, 'latin1').digest();
  const accept = computeAccept(key);
  const valid = isValidKey(key);
  let keyBytes: Uint8Array | null = null;
  let problem: string | null = null;
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(key) && key.length % 4 === 0) {
    keyBytes = new Uint8Array(Buffer.from(key, 'base64'));
    if (!valid) {
      problem =
        keyBytes.length !== 16
          ? `it is the base64 encoding of ${keyBytes.length} bytes, not 16`
          : 'it decodes to 16 bytes but is not their canonical base64 spelling (the last character has non-zero unused bits, RFC 4648 §3.5)';
    }
  } else {
    problem = key === '' ? 'it is empty' : 'it is not base64 (A-Z a-z 0-9 + / in groups of 4 characters, = padding at the end)';
  }
  return { key, concatenated, sha1Hex: digest.toString('hex'), accept, valid, keyBytes, problem };
}

/** Cuts a long unbroken string into pieces of `n` characters (for keys that do not fit a line). */
function chunks(text: string, n: number): string[] {
  const cps = [...text];
  const out: string[] = [];
  for (let i = 0; i < cps.length; i += n) out.push(cps.slice(i, i + n).join(''));
  return out.length > 0 ? out : [''];
}

/** What the RFC says about a key that is not base64 of 16 bytes. */
function keyVerdict(steps: AcceptSteps): string {
  return (
    `Not a valid Sec-WebSocket-Key: ${steps.problem}. RFC 6455 §4.1 requires a randomly selected 16-byte ` +
    'value, base64-encoded (the header syntax is in §11.3.1), and a server must refuse such a handshake ' +
    '(400 Bad Request, §4.2.1). The Accept is computed anyway: it is what a server that does not check would send.'
  );
}

/** `wsdump --accept KEY`: the derivation step by step. */
export function renderAccept(key: string, options: { colorLevel: 0 | 1 | 2 | 3; width?: number }): string {
  const c = palette(new Chalk({ level: options.colorLevel }));
  const width = options.width ?? EXPLAIN_WIDTH;
  const s = acceptSteps(key);
  const shown = escapeText(key);
  const lines: string[] = [];
  lines.push(c.heading('Sec-WebSocket-Accept, step by step (RFC 6455 §1.3, §4.2.2)'));
  lines.push('');
  lines.push(` 1. The client's Sec-WebSocket-Key, as sent (${[...key].length} characters):`);
  for (const piece of chunks(shown, width - 7)) lines.push(`      ${piece}`);
  if (s.valid && s.keyBytes) {
    lines.push(`    ${c.ok('✓')} base64 of 16 bytes, the random nonce §4.1 asks for:`);
    lines.push(`      ${bytesHex(s.keyBytes)}`);
  } else {
    lines.push(`    ${c.error('✖')} ${keyVerdict(s)}`);
    if (s.keyBytes && s.keyBytes.length > 0) lines.push(`      decoded: ${hexPreview(s.keyBytes, 16)}`);
  }
  lines.push(` 2. Append the GUID ${WEBSOCKET_GUID} (§1.3):`);
  for (const piece of chunks(escapeText(s.concatenated), width - 7)) lines.push(`      ${piece}`);
  lines.push(` 3. SHA-1 of those ${Buffer.byteLength(s.concatenated, 'latin1')} bytes: a 20-byte digest, in hex:`);
  lines.push(`      ${s.sha1Hex}`);
  lines.push(' 4. base64 of the 20 digest bytes (not of the hex text):');
  lines.push(`      ${s.accept}`);
  lines.push('');
  lines.push(`${c.heading('Sec-WebSocket-Accept:')} ${s.accept}${s.valid ? '' : `  ${c.error('✖')} for an invalid key`}`);
  return wrapBlock(lines.join('\n') + '\n', width, 2);
}

// --- The §5.2 diagram ------------------------------------------------------------------------

interface DiagramField {
  color: FieldColor;
  /** Label lines when the whole field is in one row (1-bit fields are written vertically, as in the RFC). */
  label: string[];
  /** Label of the later pieces of a field split across rows. */
  short: string;
  /** The field's bits, most significant first. */
  bits: string;
  /** Value shown under the bits of the whole field (multi-bit fields), or per byte-aligned piece. */
  value?: string;
  /** Show the hex of each piece under it (byte-aligned fields: extended length, key, payload). */
  hexPieces?: Uint8Array;
}

interface Segment {
  field: DiagramField;
  from: number;
  n: number;
}

const bitsOf = (value: number, n: number) => value.toString(2).padStart(n, '0');
const bitsOfBytes = (bytes: Uint8Array) => Array.from(bytes, (b) => bitsOf(b, 8)).join('');

function center(text: string, w: number): string {
  const t = [...text].length > w ? [...text].slice(0, w).join('') : text;
  const room = w - [...t].length;
  const left = Math.floor(room / 2);
  return ' '.repeat(left) + t + ' '.repeat(room - left);
}

/** The fields of a frame header as the diagram shows them, from the header bytes actually sent. */
function diagramFields(f: Frame): DiagramField[] {
  const h = f.header;
  const b0 = h[0] ?? 0;
  const b1 = h[1] ?? 0;
  const fields: DiagramField[] = [
    { color: 'fin', label: ['F', 'I', 'N'], short: 'FIN', bits: bitsOf(b0 >> 7, 1) },
    { color: 'rsv', label: ['R', 'S', 'V', '1'], short: 'RSV1', bits: bitsOf((b0 >> 6) & 1, 1) },
    { color: 'rsv', label: ['R', 'S', 'V', '2'], short: 'RSV2', bits: bitsOf((b0 >> 5) & 1, 1) },
    { color: 'rsv', label: ['R', 'S', 'V', '3'], short: 'RSV3', bits: bitsOf((b0 >> 4) & 1, 1) },
    { color: 'opcode', label: ['opcode', '(4)'], short: 'opcode', bits: bitsOf(b0 & 0xf, 4), value: `0x${(b0 & 0xf).toString(16)}` },
    { color: 'mask', label: ['M', 'A', 'S', 'K'], short: 'MASK', bits: bitsOf(b1 >> 7, 1) },
    { color: 'length', label: ['Payload len', '(7)'], short: 'Payload len', bits: bitsOf(b1 & 0x7f, 7), value: String(b1 & 0x7f) },
  ];
  let at = 2;
  if (f.lengthEncoding !== 7) {
    const n = f.lengthEncoding === 16 ? 2 : 8;
    const ext = h.subarray(at, at + n);
    const value = f.lengthEncoding === 16 ? `= ${(ext[0]! << 8) | ext[1]!}` : undefined;
    fields.push({
      color: 'length',
      label: ['Extended payload length', `(${f.lengthEncoding})`],
      short: 'Ext. payload length',
      bits: bitsOfBytes(ext),
      ...(value !== undefined ? { value } : { hexPieces: ext }),
    });
    at += n;
  }
  if (f.maskingKey) fields.push({ color: 'key', label: ['Masking-key (32)'], short: 'Masking-key', bits: bitsOfBytes(f.maskingKey), hexPieces: f.maskingKey });
  return fields;
}

/** The RFC 6455 §5.2 diagram, 32 bits a row, with this frame's bits (and the first payload bytes). */
function diagram(f: Frame, c: Colors): string[] {
  const fields = diagramFields(f);
  const headerBits = fields.reduce((n, x) => n + x.bits.length, 0);
  const room = (32 - (headerBits % 32)) % 32;
  const payloadBytes = Math.min(room / 8, f.payload.length);
  if (payloadBytes > 0) {
    const first = f.payload.subarray(0, payloadBytes);
    fields.push({ color: 'payload', label: ['Payload Data', f.masked ? '(masked)' : ''], short: 'Payload Data', bits: bitsOfBytes(first), hexPieces: first });
  }
  const rows: Segment[][] = [[]];
  let used = 0;
  for (const field of fields) {
    let from = 0;
    while (from < field.bits.length) {
      if (used === 32) {
        rows.push([]);
        used = 0;
      }
      const n = Math.min(field.bits.length - from, 32 - used);
      rows[rows.length - 1]!.push({ field, from, n });
      from += n;
      used += n;
    }
  }
  const paint = (seg: Segment, text: string) => c[seg.field.color](text);
  const border = (segs: Segment[]) => '   +' + segs.map((s) => '-'.repeat(2 * s.n - 1)).join('+') + '+';
  const lines = ['    0                   1                   2                   3', '    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1'];
  for (const segs of rows) {
    lines.push(border(segs));
    const labels = segs.map((s) => {
      const fits = s.field.label.every((l) => [...l].length <= 2 * s.n - 1);
      if (s.from === 0) return fits ? s.field.label : [s.field.short];
      return [`${s.field.short} continued`];
    });
    const depth = Math.max(...labels.map((l) => l.length));
    for (let i = 0; i < depth; i++) lines.push('   |' + segs.map((s, j) => paint(s, center(labels[j]![i] ?? '', 2 * s.n - 1))).join('|') + '|');
    lines.push('   |' + segs.map((s) => paint(s, s.field.bits.slice(s.from, s.from + s.n).split('').join(' '))).join('|') + '|');
    const values = segs.map((s) => {
      if (s.field.hexPieces) return bytesHex(s.field.hexPieces.subarray(s.from / 8, (s.from + s.n) / 8));
      return s.from === 0 && s.n === s.field.bits.length && s.n > 1 ? (s.field.value ?? '') : '';
    });
    if (values.some((v) => v !== '')) lines.push('   |' + segs.map((s, j) => paint(s, center(values[j]!, 2 * s.n - 1))).join('|') + '|');
  }
  lines.push(border(rows[rows.length - 1]!));
  return lines;
}

// --- Meanings -----------------------------------------------------------------------------------

function opcodeMeaning(op: number): string {
  switch (op) {
    case 0x0:
      return 'continuation: the next fragment of the open message (§5.4)';
    case 0x1:
      return 'text: UTF-8 data (§5.6)';
    case 0x2:
      return 'binary: data for the application (§5.6)';
    case 0x8:
      return 'close: starts or answers the closing handshake (§5.5.1)';
    case 0x9:
      return 'ping: asks the peer for a Pong (§5.5.2)';
    case 0xa:
      return 'pong: answers a Ping, echoing its payload (§5.5.3)';
    default:
      return `reserved ${isControlOpcode(op) ? 'control' : 'data'} opcode: no meaning defined (§5.2)`;
  }
}

function finMeaning(f: Frame): string {
  if (f.fin) return f.opcode === 0x0 ? 'last fragment: the message ends here' : 'final frame: the whole message is in it';
  return isControlOpcode(f.opcode) ? 'more fragments follow, but control frames cannot be fragmented (§5.5)' : 'more fragments follow: the message continues (§5.4)';
}

function maskMeaning(f: Frame): string {
  if (f.masked) return f.direction === 'client' ? 'masked with the key below: a client must mask (§5.1)' : 'masked, but a server must not mask (§5.1)';
  return f.direction === 'server' ? 'not masked: a server never masks (§5.1)' : 'not masked, but a client must mask (§5.1)';
}

function rsvMeaning(f: Frame, deflate: boolean | null): string {
  if (!f.rsv1 && !f.rsv2 && !f.rsv3) return 'no extension bits set';
  if (deflate === null) return 'set: only a negotiated extension may (handshake not seen)';
  if (f.rsv1 && !f.rsv2 && !f.rsv3 && deflate) return 'RSV1: compressed with permessage-deflate (RFC 7692 §6)';
  return 'set without a negotiated extension that defines them (§5.2)';
}

function lengthMeaning(f: Frame): string {
  const len7 = (f.header[1] ?? 0) & 0x7f;
  if (f.lengthEncoding === 7) return `${len7}: 0-125 in the 7-bit field is the length itself`;
  if (f.lengthEncoding === 16) return `${len7}: the length is the 16-bit number that follows`;
  return `${len7}: the length is the 64-bit number that follows`;
}

/** The payload length as declared in the header, exact even beyond Number.MAX_SAFE_INTEGER. */
function declaredLength(f: Frame): bigint {
  return f.lengthEncoding === 7 ? BigInt((f.header[1] ?? 0) & 0x7f) : extLength(f);
}

function extLength(f: Frame): bigint {
  const n = f.lengthEncoding === 16 ? 2 : 8;
  let v = 0n;
  for (const b of f.header.subarray(2, 2 + n)) v = (v << 8n) | BigInt(b);
  return v;
}

/** A byte as a character, when it is one worth showing. */
function byteChar(b: number): string {
  if (b >= 0x20 && b < 0x7f) return ` '${escapeText(String.fromCharCode(b))}'`;
  if (b < 0x20) return ` '${escapeText(String.fromCharCode(b))}'`;
  return '';
}

function looksLikeText(bytes: Uint8Array): boolean {
  for (const b of bytes) if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b === 0x7f) return false;
  return isValidUtf8Prefix(bytes);
}

function endpoint(e: Endpoint): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

/** What each handshake header asks for, request side and response side (RFC 6455 §4, §11.3). */
function headerNote(name: string, value: string, side: 'request' | 'response', h: HandshakeEvent): string | null {
  switch (name.toLowerCase()) {
    case 'host':
      return 'the server the client wants to reach (required, §4.1)';
    case 'upgrade':
      return side === 'request' ? 'asks to switch this connection from HTTP to WebSocket' : 'confirms the switch to WebSocket';
    case 'connection':
      return side === 'request' ? 'marks Upgrade as meant for this connection, not a proxy' : 'the upgrade applies to this connection';
    case 'sec-websocket-key':
      return isValidKey(value) ? 'a random 16-byte nonce in base64: the server must prove it read it' : 'should be a random 16-byte nonce in base64: it is not (§4.1)';
    case 'sec-websocket-version':
      return value === '13' ? 'version 13 is RFC 6455' : side === 'request' ? 'only 13 is RFC 6455 (§4.1)' : 'the versions the server speaks (§4.4)';
    case 'sec-websocket-protocol':
      return side === 'request' ? 'subprotocols the client speaks, preferred first (§1.9)' : 'the one subprotocol the server chose from the offer (§4.2.2)';
    case 'sec-websocket-extensions':
      return side === 'request' ? 'extensions the client offers (§9.1)' : 'the extensions the server accepted: they apply to every frame';
    case 'origin':
      return "the web page's origin, for the server's cross-origin check (§10.2)";
    case 'sec-websocket-accept':
      return h.acceptValid ? 'proof the server read the key: base64(SHA-1(key + GUID))' : 'should be base64(SHA-1(key + GUID)): see the check below';
    default:
      return null;
  }
}

/**
 * The explain view as a renderer over the dissector's events: `render` returns the text for
 * one event (possibly empty), so filters and live input work as with the table.
 */
export class ExplainRenderer {
  private readonly c: Colors;
  private readonly width: number;
  private readonly source: 'capture' | 'hex';
  private readonly unmaskLines: number;
  private t0: number | null = null;
  private frames = 0;
  private readonly endpoints = new Map<number, string>();
  /** Connections that negotiated permessage-deflate (RSV1 has a meaning there). */
  private readonly deflate = new Set<number>();
  /** Connections whose handshake was seen (else the extensions are unknown). */
  private readonly handshakes = new Set<number>();
  /** The --keylog hint is given once per run. */
  private keylogHinted = false;

  constructor(options: ExplainOptions) {
    this.c = palette(new Chalk({ level: options.colorLevel }));
    this.width = Math.max(68, options.width ?? EXPLAIN_WIDTH);
    this.source = options.source ?? 'capture';
    this.unmaskLines = options.unmaskLines ?? 8;
  }

  /** Text for one event, every line at most `width` columns, ending with a newline when not empty. */
  render(event: DissectEvent): string {
    return wrapBlock(this.renderEvent(event), this.width, 2);
  }

  private renderEvent(event: DissectEvent): string {
    const c = this.c;
    switch (event.type) {
      case 'notice':
        return `${c.info('ℹ')} ${c.dim(event.code)} ${escapeText(event.message, 300)}\n`;
      case 'connection':
        this.note(event.at.ts);
        this.endpoints.set(event.conn, `${endpoint(event.client)} → ${endpoint(event.server)}`);
        return '';
      case 'handshake':
        this.note(event.request.at.ts);
        if (event.deflate !== null) this.deflate.add(event.conn);
        this.handshakes.add(event.conn);
        return this.handshake(event);
      case 'tls': {
        this.note(event.at.ts);
        const hint = !this.keylogHinted;
        if (keylogWouldHelp(event)) this.keylogHinted = true;
        return [...explainTls(event, this.title(`#${event.conn} ${this.endpoints.get(event.conn) ?? ''} ${event.version ?? 'TLS'}`.replace(/ {2,}/g, ' ')), c, hint), ''].join('\n') + this.alerts(event.alerts) + '\n';
      }
      case 'tls-record':
        return [...explainTlsRecord(event, this.title(`#${event.conn} ${event.direction === 'client' ? 'C→S' : 'S→C'} the TLS record around the next frame, packet ${event.at.packet ?? '?'}`), c), ''].join('\n') + '\n';
      case 'http':
        this.note(event.start.ts);
        return this.exchange(event);
      case 'other':
        this.note(event.at.ts);
        if (event.exchange !== undefined) return '';
        return `${c.heading(`#${event.conn}`)} ${this.endpoints.get(event.conn) ?? ''} ${c.dim(otherLabel(event))} ${escapeText(event.note, 200)}${event.requestLine ? ` (${escapeText(event.requestLine, 60)})` : ''}\n\n`;
      case 'frame':
        this.note(event.frame.start.ts);
        return this.frame(event.conn, event.frame);
      case 'message':
        return this.message(event.message, event.app !== undefined);
      case 'app':
        return explainApp(event, c.dim, this.width) + this.alerts(event.alerts) + '\n';
      case 'alert':
        return this.alerts([event.alert], `#${event.conn} `) + '\n';
      case 'end':
        this.endpoints.delete(event.conn);
        this.deflate.delete(event.conn);
        this.handshakes.delete(event.conn);
        return this.end(event);
    }
  }

  /**
   * Times are relative to this moment: the capture's first packet (or the proxy's first
   * event), whatever the filters show. Without it, the first event shown sets it.
   */
  setTimeOrigin(ts: number): void {
    this.t0 ??= ts;
  }

  private note(ts: number | undefined): void {
    if (this.t0 === null && ts !== undefined) this.t0 = ts;
  }

  /** An HTTP exchange: what was asked and answered, what each part cost, the pattern and what it means. */
  private exchange(e: HttpExchangeEvent): string {
    const c = this.c;
    const where = e.at.packet !== undefined ? `, packets ${e.start.packet ?? '?'}-${e.at.packet}` : '';
    const lines = [this.title(`#${e.conn} HTTP exchange ${e.index + 1}${where}`)];
    lines.push(`   ${c.heading(exchangeTitle(e, this.width - 10))}`);
    lines.push(`   request:  ${e.requestHeaderBytes} bytes of head (request line, ${e.requestHeaders.length} header fields, blank line)${e.requestBodyBytes > 0 ? ` + ${e.requestBodyBytes} bytes of body` : ''}`);
    if (e.status !== null) {
      lines.push(`   response: ${e.responseHeaderBytes} bytes of head${e.responseBodyBytes > 0 ? ` + ${e.responseBodyBytes} bytes of body` : ''}${e.responseFramingBytes > 0 ? ` + ${e.responseFramingBytes} bytes of chunk framing (sizes in hex, CRLFs, RFC 9112 §7.1)` : ''}`);
    }
    if (e.waitMs !== null) lines.push(`   waited ${formatMs(e.waitMs)} for the first byte of the answer${e.durationMs !== null ? `, ${formatMs(e.durationMs)} from request to the end of the answer` : ''}`);
    lines.push(`   pattern: ${e.pattern}: ${PATTERN_MEANING[e.pattern]}`);
    const preview = bodyPreview(e.responseBody, this.width - 12);
    if (preview !== '' && e.pattern !== 'sse') lines.push(`   body: ${preview}`);
    return lines.join('\n') + '\n\n';
  }

  /** A rule across the width with a title in it. */
  private title(text: string): string {
    const plain = `── ${text} `;
    return this.c.heading(plain + '─'.repeat(Math.max(3, this.width - 1 - visibleLength(plain))));
  }

  // --- the opening handshake ----------------------------------------------------------------

  private headerLines(headers: HttpHeader[], side: 'request' | 'response', h: HandshakeEvent): string[] {
    const lines: string[] = [];
    for (const header of headers) {
      const name = escapeText(header.name, 40);
      const valueRoom = Math.max(16, this.width - 8 - [...name].length);
      lines.push(`     ${name}: ${escapeText(header.value, valueRoom)}`);
      const note = headerNote(header.name, header.value, side, h);
      if (note !== null) lines.push(`       ${this.c.dim('└')} ${note}`);
    }
    return lines;
  }

  private handshake(h: HandshakeEvent): string {
    const c = this.c;
    const lines: string[] = [];
    lines.push(this.title(`#${h.conn} ${this.endpoints.get(h.conn) ?? ''} opening handshake (RFC 6455 §4)`.replace(/ {2,}/g, ' ')));
    lines.push(`   ${c.client('client → server')}: an HTTP request asking to upgrade`);
    lines.push(`     ${c.heading(escapeText(`${h.request.method} ${h.request.target} ${h.request.version}`, this.width - 6))}`);
    lines.push(`       ${c.dim('└')} ${h.request.method === 'GET' ? 'a GET' : 'must be a GET'}${h.request.version === 'HTTP/1.1' ? ' over HTTP/1.1' : ', over HTTP/1.1 or later'} (§4.1); the path names the endpoint`);
    lines.push(...this.headerLines(h.request.headers, 'request', h));
    if (h.response === null) {
      lines.push(`   ${c.warning('▲')} no answer from the server in this capture`);
    } else {
      lines.push(`   ${c.server('server → client')}: the answer`);
      lines.push(`     ${c.heading(escapeText(`${h.response.version} ${h.response.status} ${h.response.reason}`.trimEnd(), this.width - 6))}`);
      lines.push(
        h.upgraded
          ? `       ${c.ok('✓')} 101: agreed; after the blank line both sides send WebSocket frames`
          : `       ${c.warning('▲')} ${h.response.status}: not upgraded, the connection stays HTTP (§4.1)`,
      );
      lines.push(...this.headerLines(h.response.headers, 'response', h));
    }
    if (h.key !== null) lines.push(...this.acceptCheck(h));
    if (h.upgraded) {
      const ext = h.extensions.length > 0 ? h.extensions.map((e) => [e.name, ...e.params.map((p) => (p.value === null ? p.name : `${p.name}=${p.value}`))].join('; ')).join(', ') : 'none';
      lines.push(`   Agreed: subprotocol ${escapeText(h.protocol ?? 'none', 30)}, extensions ${escapeText(ext, 120)}`);
    }
    return lines.join('\n') + '\n' + this.alerts(h.alerts) + '\n';
  }

  /** §4.2.2: the server's proof, recomputed from the key with the verdict. */
  private acceptCheck(h: HandshakeEvent): string[] {
    const c = this.c;
    const s = acceptSteps(h.key!);
    const lines = [`   Accept check (§4.2.2): base64(SHA-1(key + GUID))`];
    const pieces = chunks(escapeText(s.concatenated), this.width - 18);
    pieces.forEach((p, i) => lines.push(`${i === 0 ? '     key + GUID  ' : '                 '}${p}`));
    lines.push(`     SHA-1       ${s.sha1Hex}`);
    lines.push(`     base64      ${s.accept}  (expected)`);
    if (!s.valid) lines.push(`     ${c.error('✖')} ${keyVerdict(s)}`);
    if (h.receivedAccept === null) {
      lines.push(h.upgraded ? `     received    ${c.error('✖ none')}: the 101 has no Sec-WebSocket-Accept` : `     received    none (not upgraded)`);
    } else if (h.acceptValid) {
      lines.push(`     received    ${escapeText(h.receivedAccept, 40)}  ${c.ok('✓ match')}: the server read this key`);
    } else {
      lines.push(`     received    ${escapeText(h.receivedAccept, 40)}  ${c.error('✖ mismatch')}: a client must fail the connection`);
    }
    return lines;
  }

  // --- frames -------------------------------------------------------------------------------

  private frame(conn: number, f: Frame): string {
    const c = this.c;
    this.frames++;
    const where: string[] = [];
    if (this.source === 'hex') {
      where.push(`${SIDES[f.direction]}, input bytes ${f.offset}-${f.offset + f.headerLength + f.payloadLength - 1}`);
    } else {
      where.push(`#${conn} ${ARROW[f.direction]}`);
      if (f.start.packet !== undefined) where.push(`packet ${f.start.packet}${f.end.packet !== undefined && f.end.packet !== f.start.packet ? `-${f.end.packet}` : ''}`);
      if (f.start.ts !== undefined && this.t0 !== null) where.push(`${(f.start.ts - this.t0).toFixed(6)} s`);
    }
    const lines: string[] = [this.title(this.source === 'hex' ? `frame ${this.frames}: ${where.join(', ')}` : `${where[0]} frame${where.length > 1 ? `, ${where.slice(1).join(', ')}` : ''}`)];
    const kind = `${f.masked ? 'masked' : 'unmasked'} ${f.opcodeName} frame${f.fin ? '' : ' (not final)'}`;
    const ext = f.lengthEncoding === 7 ? '' : ` + ${f.lengthEncoding / 8} length`;
    const key = f.masked ? ' + 4 key' : '';
    const declared = declaredLength(f);
    lines.push(`   ${c.heading(kind)}: ${BigInt(f.headerLength) + declared} bytes = 2 header${ext}${key} + ${declared} payload`);
    lines.push(...diagram(f, c));
    lines.push(...this.fieldList(conn, f));
    lines.push(...this.byteList(f));
    lines.push(...this.unmasking(f));
    lines.push(...this.data(f));
    return lines.join('\n') + '\n' + this.alerts(f.alerts) + '\n';
  }

  private fieldList(conn: number, f: Frame): string[] {
    const c = this.c;
    const row = (color: FieldColor, name: string, value: string, meaning: string) => `   ${c[color](name.padEnd(7))} ${c[color](value.padEnd(8))} ${meaning}`;
    const lines = [
      row('fin', 'FIN', f.fin ? '1' : '0', finMeaning(f)),
      row('rsv', 'RSV1-3', `${+f.rsv1} ${+f.rsv2} ${+f.rsv3}`, rsvMeaning(f, this.source === 'hex' || this.handshakes.has(conn) ? this.deflate.has(conn) : null)),
      row('opcode', 'opcode', `0x${f.opcode.toString(16)}`, opcodeMeaning(f.opcode)),
      row('mask', 'MASK', f.masked ? '1' : '0', maskMeaning(f)),
      row('length', 'length', String((f.header[1] ?? 0) & 0x7f), lengthMeaning(f)),
    ];
    if (f.lengthEncoding !== 7) {
      const v = extLength(f);
      const minimal = f.lengthEncoding === 16 ? v > 125n : v > 0xffffn;
      const long = `${v}`.length > 8;
      const note = f.lengthEncoding === 64 && v >> 63n ? `${long ? `${v}: ` : ''}its top bit must be 0 (§5.2)` : minimal ? `payload length ${v} bytes` : `${v} bytes, but the shortest form must be used (§5.2)`;
      lines.push(row('length', `ext ${f.lengthEncoding}`, long ? 'see →' : String(v), note));
    }
    if (f.masked) {
      lines.push(f.maskingKey ? row('key', 'key', Buffer.from(f.maskingKey).toString('hex'), 'masking key: 4 bytes chosen at random per frame (§5.3)') : row('key', 'key', '-', 'cut: the stream ended inside the masking key'));
    }
    return lines;
  }

  /** The frame's bytes, each field bracketed and named. */
  private byteList(f: Frame): string[] {
    const c = this.c;
    const h = f.header;
    const items: [FieldColor, Uint8Array, string][] = [];
    const b0 = h[0] ?? 0;
    const b1 = h[1] ?? 0;
    const fin = c.fin(String(b0 >> 7));
    const rsv = c.rsv(bitsOf((b0 >> 4) & 7, 3));
    const op = c.opcode(bitsOf(b0 & 0xf, 4));
    const mask = c.mask(String(b1 >> 7));
    const len = c.length(bitsOf(b1 & 0x7f, 7));
    items.push(['opcode', h.subarray(0, 1), `byte 0 = ${fin} ${rsv} ${op}: FIN ${fin}, RSV ${rsv}, opcode ${c.opcode(`0x${(b0 & 0xf).toString(16)}`)}`]);
    items.push(['length', h.subarray(1, 2), `byte 1 = ${mask} ${len}: MASK ${mask}, Payload len ${c.length(String(b1 & 0x7f))}`]);
    let at = 2;
    if (f.lengthEncoding !== 7) {
      const n = f.lengthEncoding / 8;
      items.push(['length', h.subarray(at, at + n), `extended length (${f.lengthEncoding}-bit): ${extLength(f)}`]);
      at += n;
    }
    if (f.maskingKey) items.push(['key', f.maskingKey, 'masking key']);
    const declared = declaredLength(f);
    if (declared > 0n && f.payload.length === 0) {
      items.push(['payload', f.payload, `payload: none kept (${declared} bytes declared)`]);
    } else if (declared > 0n) {
      const kept = BigInt(f.payload.length) < declared ? `${f.payload.length} of ${declared}` : `${declared}`;
      items.push(['payload', f.payload, `payload as sent${f.masked ? ' (masked)' : ''}, ${kept} bytes`]);
    }
    const maxBytes = 7;
    const bracket = (bytes: Uint8Array) => `[${bytesHex(bytes.subarray(0, maxBytes))}${bytes.length > maxBytes ? ' …' : ''}]`;
    const col = Math.max(...items.map(([, b]) => bracket(b).length)) + 2;
    const lines = ['   bytes on the wire, field by field:'];
    for (const [color, bytes, name] of items) lines.push(`     ${c[color](bracket(bytes).padEnd(col))}${name}`);
    return lines;
  }

  /** §5.3 worked through for the first bytes, summarised for the rest. */
  private unmasking(f: Frame): string[] {
    const c = this.c;
    if (!f.masked || f.maskingKey === null) return f.payloadLength > 0 && !f.masked ? ['   not masked: the payload bytes are the data as they are'] : [];
    if (f.payload.length === 0) return [];
    const key = f.maskingKey;
    const lines = ['   unmasking (§5.3): data byte i = payload byte i XOR key byte (i mod 4)'];
    const shown = Math.min(this.unmaskLines, f.payload.length);
    for (let i = 0; i < shown; i++) {
      const p = f.payload[i]!;
      const k = key[i % 4]!;
      const d = f.data[i]!;
      lines.push(`     i=${String(i).padEnd(3)} ${c.payload(`0x${hex2(p)}`)} ^ ${c.key(`0x${hex2(k)}`)} (key[${i % 4}]) = 0x${hex2(d)}${byteChar(d)}`);
    }
    if (f.payload.length > shown) {
      lines.push(`     … bytes ${shown}-${f.payload.length - 1}: the same, the key index cycling 0 1 2 3`);
    }
    if (f.payload.length < f.payloadLength) lines.push(`     (${f.payload.length} of ${f.payloadLength} payload bytes were kept or captured)`);
    return lines;
  }

  private data(f: Frame): string[] {
    if (f.payloadLength === 0) return ['   data: none (empty payload)'];
    if (f.data.length === 0) return ['   data: none kept (the payload was not captured or could not be followed)'];
    const room = this.width - 20;
    /** Hex bytes that fit with "   data: " and " (65536 bytes)". */
    const hexBytes = Math.max(4, Math.floor((this.width - 26) / 3));
    const d = f.data;
    if (f.opcode === 0x8) {
      if (d.length < 2) return [`   data: ${hexPreview(d, 4)} (a close body needs a 2-byte code)`];
      const code = (d[0]! << 8) | d[1]!;
      const reason = decodeUtf8Lossy(d.subarray(2));
      return [`   data: close code ${hex2(d[0]!)} ${hex2(d[1]!)} = ${code} ${closeCodeName(code)}${reason ? `, reason "${escapeText(reason, Math.max(10, room - 30))}"` : ''}`];
    }
    if (f.rsv1 && !isControlOpcode(f.opcode)) return [`   data: ${hexPreview(d, hexBytes - 12)} (compressed, inflated below)`];
    const sample = d.subarray(0, room * 4);
    const asText = !isReservedOpcode(f.opcode) && (f.opcode === 0x1 || (f.opcode !== 0x2 && looksLikeText(sample)));
    if (asText) return [`   data: "${escapeText(decodeUtf8Lossy(sample), room)}" (${f.payloadLength} bytes${f.opcode === 0x1 ? ', text' : ''})`];
    return [`   data: ${hexPreview(d, hexBytes)} (${f.payloadLength} bytes)`];
  }

  // --- messages, alerts, ends ---------------------------------------------------------------

  /** `decoded`: an application decoder explains it next (else JSON text is shown indented here). */
  private message(m: Message, decoded: boolean): string {
    const c = this.c;
    let out = '';
    if (!m.close && (m.fragments > 1 || m.compressed)) {
      const how = [
        m.fragments > 1 ? `reassembled from ${m.fragments} fragments (§5.4)` : '',
        m.inflated ? `inflated ${m.wireLength} → ${m.length} bytes (permessage-deflate, RFC 7692)` : m.compressed ? `${m.length} bytes compressed with permessage-deflate, not inflated (see the alert)` : `${m.length} bytes`,
      ].filter(Boolean).join(', ');
      const content = m.text !== undefined ? `"${escapeText(m.text, this.width - 12)}"` : hexPreview(m.data, 16);
      out += `${c.dim('   └')} ${m.type} message ${how}:\n     ${content}\n`;
    }
    if (m.answers !== undefined) {
      const a = m.answers;
      const what =
        a === null
          ? 'answers no ping: an unsolicited Pong is a one-way heartbeat (§5.5.3)'
          : `answers the ${m.direction === 'client' ? 'server' : 'client'}'s ping${a.packet !== null && this.source === 'capture' ? ` of packet ${a.packet}` : ''}, echoing its data (§5.5.3)${a.rttMs !== null ? `: round trip ${formatMs(a.rttMs)}` : ''}`;
      out += wrapBlock(`${c.dim('   └')} this pong ${what}\n`, this.width, 5);
    }
    const json = !decoded && m.text !== undefined && !m.truncated ? prettyJson(m.text) : null;
    if (json !== null) {
      out += `${c.dim('   └')} JSON (no application protocol recognised), indented:\n`;
      for (const line of json) out += `       ${escapeText(line, this.width - 8)}\n`;
    }
    const alerts = this.alerts(m.alerts);
    return out + alerts + (out !== '' || alerts !== '' ? '\n' : '');
  }

  /** Each alert with what was seen, and the rule it breaks in one sentence. */
  private alerts(alerts: Alert[], prefix = ''): string {
    const c = this.c;
    let out = '';
    for (const a of alerts) {
      const where = a.packet !== undefined && this.source === 'capture' ? ` [packet ${a.packet}]` : '';
      out += `   ${prefix}${c[a.severity](SEVERITY_SYMBOL[a.severity])} ${c.dim(a.code)} (${a.section})${where}\n`;
      out += `     ${escapeText(a.message, 400)}\n`;
      out += `     ${c.dim('rule:')} ${ALERT_CATALOGUE[a.code].rule}\n`;
    }
    return out;
  }

  private end(e: Extract<DissectEvent, { type: 'end' }>): string {
    if (e.kind !== 'websocket') return '';
    const c = this.c;
    const side = (d: Direction) => `${ARROW[d]} ${e.totals[d].frames} frames, ${e.totals[d].messages} messages`;
    const close = (d: Direction) => (e.closeCodes[d].length > 0 ? e.closeCodes[d].map((x) => x ?? 'no code').join('/') : '-');
    const alerts = [e.alerts.error && c.error(`✖ ${e.alerts.error} error(s)`), e.alerts.warning && c.warning(`▲ ${e.alerts.warning} warning(s)`), e.alerts.info && c.info(`ℹ ${e.alerts.info} info`)].filter(Boolean).join(', ') || c.ok('✓ no alerts');
    const health = [...heartbeatLines(e.heartbeat).map((l) => `heartbeat: ${l}`), ...appHeartbeatLines(e.appHeartbeat).map((l) => `app heartbeat: ${l}`), ...(e.close !== null ? [`close: ${closeLine(e.close)}`] : []), ...(e.timing !== null && timingLine(e.timing) ? [`timing: ${timingLine(e.timing)}`] : [])];
    const words = health.map((l) => wrapBlock(`   ${l}\n`, this.width - 1, 5)).join('');
    return `${this.title(`#${e.conn} end`)}\n   ${side('client')}; ${side('server')}\n   close codes C→S ${close('client')}, S→C ${close('server')}; ${alerts}\n${words}\n`;
  }
}
