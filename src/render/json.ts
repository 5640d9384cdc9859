import * as crypto from 'node:crypto';
import type { Alert } from '../alerts.js';
import type { DissectEvent } from '../engine/events.js';
import type { ExtensionOffer } from '../http/extensions.js';
import type { StreamPosition } from '../websocket/types.js';

export interface JsonOptions {
  /** Bytes of frame payloads and binary messages shown as hex (content beyond is summarised by length and hash). */
  maxHexBytes?: number;
}

const DEFAULT_MAX_HEX = 256;

/**
 * The last hex string made, by bytes and length: a message of one frame shows the same bytes
 * as its frame, on the next line, and hex was a good part of `--json`'s cost.
 */
let lastHex = { bytes: null as Uint8Array | null, end: 0, text: '' };

function hex(bytes: Uint8Array | null, max = Infinity): string | null {
  if (bytes === null) return null;
  const end = Math.min(bytes.length, max);
  if (bytes === lastHex.bytes && end === lastHex.end) return lastHex.text;
  const text = bytes instanceof Buffer ? bytes.toString('hex', 0, end) : Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('hex');
  lastHex = { bytes, end, text };
  return text;
}

/**
 * SHA-256 of a binary message, in hex. crypto.hash (Node 20.12+) is one call instead of a
 * Hash object per message, which showed in the profile of `--json` on a big capture.
 */
const sha256: (data: Uint8Array) => string =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'hex')
    : (data) => crypto.createHash('sha256').update(data).digest('hex');

const utf8 = new TextDecoder();

function position(at: StreamPosition): { packet: number | null; ts: number | null } {
  return { packet: at.packet ?? null, ts: at.ts ?? null };
}

function alertJson(alert: Alert, conn: number | null): Record<string, unknown> {
  return {
    code: alert.code,
    severity: alert.severity,
    rfc: alert.section,
    message: alert.message,
    conn,
    from: alert.direction ?? null,
    packet: alert.packet ?? null,
    offset: alert.offset ?? null,
    ...(alert.detail !== undefined ? { detail: alert.detail } : {}),
  };
}

function extensionText(e: ExtensionOffer): string {
  return [e.name, ...e.params.map((p) => (p.value === null ? p.name : `${p.name}=${p.value}`))].join('; ');
}

/**
 * One event as a plain JSON object: the schema documented in docs/json.md. Every line has
 * `type`; byte fields are lowercase hex. `packet` is the capture packet in which a frame or
 * message ends (as Wireshark numbers frames), `startPacket` where it began.
 */
export function eventToJson(event: DissectEvent, options: JsonOptions = {}): Record<string, unknown> {
  const maxHex = options.maxHexBytes ?? DEFAULT_MAX_HEX;
  switch (event.type) {
    case 'notice':
      return { type: 'notice', code: event.code, message: event.message, ...position(event.at) };
    case 'connection':
      return { type: 'connection', conn: event.conn, client: event.client, server: event.server, sawSyn: event.sawSyn, ...position(event.at) };
    case 'handshake':
      return {
        type: 'handshake',
        conn: event.conn,
        ...position(event.request.at),
        method: event.request.method,
        path: event.request.target,
        version: event.request.version,
        status: event.response?.status ?? null,
        reason: event.response?.reason ?? null,
        upgraded: event.upgraded,
        key: event.key,
        accept: event.receivedAccept,
        expectedAccept: event.expectedAccept,
        acceptValid: event.acceptValid,
        subprotocol: event.protocol,
        offeredSubprotocols: event.offeredProtocols,
        extensions: event.extensions.map(extensionText),
        offeredExtensions: event.offeredExtensions.map(extensionText),
        deflate: event.deflate,
        supportedVersions: event.supportedVersions,
        requestHeaders: event.request.headers.map((h) => [h.name, h.value]),
        responseHeaders: event.response === null ? null : event.response.headers.map((h) => [h.name, h.value]),
        responsePacket: event.response?.at.packet ?? null,
        alerts: event.alerts.map((a) => alertJson(a, event.conn)),
      };
    case 'other':
      return { type: 'other', conn: event.conn, kind: event.kind, requestLine: event.requestLine, status: event.status, note: event.note, ...position(event.at) };
    case 'frame': {
      const f = event.frame;
      const close = f.opcode === 0x8 && f.data.length >= 2 && !f.truncated ? { closeCode: (f.data[0]! << 8) | f.data[1]!, closeReason: utf8.decode(f.data.subarray(2)) } : {};
      return {
        type: 'frame',
        conn: event.conn,
        from: f.direction,
        packet: f.end.packet ?? null,
        startPacket: f.start.packet ?? null,
        ts: f.end.ts ?? null,
        offset: f.offset,
        fin: f.fin,
        rsv1: f.rsv1,
        rsv2: f.rsv2,
        rsv3: f.rsv3,
        opcode: f.opcode,
        opcodeName: f.opcodeName,
        masked: f.masked,
        maskingKey: hex(f.maskingKey),
        payloadLength: f.payloadLength,
        lengthEncoding: f.lengthEncoding,
        headerLength: f.headerLength,
        header: hex(f.header),
        payload: hex(f.data, maxHex),
        truncated: f.truncated,
        incomplete: f.incomplete,
        ...close,
        alerts: f.alerts.map((a) => alertJson(a, event.conn)),
      };
    }
    case 'message': {
      const m = event.message;
      return {
        type: 'message',
        conn: event.conn,
        from: m.direction,
        packet: m.end.packet ?? null,
        startPacket: m.start.packet ?? null,
        ts: m.end.ts ?? null,
        opcode: m.opcode,
        opcodeName: m.type,
        fragments: m.fragments,
        wireLength: m.wireLength,
        length: m.length,
        compressed: m.compressed,
        truncated: m.truncated,
        ...(m.text !== undefined ? { text: m.text } : { payload: hex(m.data, maxHex), sha256: sha256(m.data) }),
        ...(m.close !== undefined ? { closeCode: m.close.code, closeName: m.close.codeName, closeReason: m.close.reason } : {}),
        alerts: m.alerts.map((a) => alertJson(a, event.conn)),
      };
    }
    case 'alert':
      return { type: 'alert', ...alertJson(event.alert, event.conn) };
    case 'end':
      return { type: 'end', conn: event.conn, kind: event.kind, totals: event.totals, alerts: event.alerts, closeCodes: event.closeCodes, duration: event.duration, ...position(event.at) };
  }
}

/** A JSON number as JSON.stringify writes it (non-finite numbers become null). */
function num(n: number | null | undefined): string {
  return n === null || n === undefined || !Number.isFinite(n) ? 'null' : String(n);
}

let lastTs: number | undefined;
let lastTsText = 'null';

/**
 * num() for a timestamp, remembering the last one: the frames of one packet and the message
 * they end share it, and printing a fractional number is not cheap.
 */
function tsNum(ts: number | undefined): string {
  if (ts !== lastTs) {
    lastTs = ts;
    lastTsText = num(ts);
  }
  return lastTsText;
}

/** Hex is [0-9a-f] only: nothing to escape. */
function hexField(bytes: Uint8Array | null, max?: number): string {
  const h = hex(bytes, max);
  return h === null ? 'null' : `"${h}"`;
}

function alertsField(alerts: Alert[], conn: number): string {
  return alerts.length === 0 ? '[]' : JSON.stringify(alerts.map((a) => alertJson(a, conn)));
}

/**
 * Frames and messages are nearly every line of a big capture. Building an object per event
 * and handing it to JSON.stringify was the largest cost of `wsdump --json` after the decoding
 * itself (issue 8), so these two are written directly, field by field in eventToJson's order;
 * test/render/fast-paths.test.ts checks the text is what JSON.stringify(eventToJson()) gives.
 * Directions and opcode names come from fixed tables of plain ASCII words, and counts are
 * integers, so those are written as they are.
 */
function frameLine(event: Extract<DissectEvent, { type: 'frame' }>, maxHex: number): string {
  const f = event.frame;
  let close = '';
  if (f.opcode === 0x8 && f.data.length >= 2 && !f.truncated) {
    close = `,"closeCode":${(f.data[0]! << 8) | f.data[1]!},"closeReason":${JSON.stringify(utf8.decode(f.data.subarray(2)))}`;
  }
  return (
    `{"type":"frame","conn":${event.conn},"from":"${f.direction}","packet":${num(f.end.packet)},"startPacket":${num(f.start.packet)}` +
    `,"ts":${tsNum(f.end.ts)},"offset":${f.offset},"fin":${f.fin},"rsv1":${f.rsv1},"rsv2":${f.rsv2},"rsv3":${f.rsv3}` +
    `,"opcode":${f.opcode},"opcodeName":"${f.opcodeName}","masked":${f.masked},"maskingKey":${hexField(f.maskingKey)}` +
    `,"payloadLength":${f.payloadLength},"lengthEncoding":${f.lengthEncoding},"headerLength":${f.headerLength}` +
    `,"header":${hexField(f.header)},"payload":${hexField(f.data, maxHex)},"truncated":${f.truncated},"incomplete":${f.incomplete}` +
    `${close},"alerts":${alertsField(f.alerts, event.conn)}}\n`
  );
}

function messageLine(event: Extract<DissectEvent, { type: 'message' }>, maxHex: number): string {
  const m = event.message;
  const content =
    m.text !== undefined
      ? `,"text":${JSON.stringify(m.text)}`
      : `,"payload":${hexField(m.data, maxHex)},"sha256":"${sha256(m.data)}"`;
  const close = m.close !== undefined ? `,"closeCode":${num(m.close.code)},"closeName":${JSON.stringify(m.close.codeName)},"closeReason":${JSON.stringify(m.close.reason)}` : '';
  return (
    `{"type":"message","conn":${event.conn},"from":"${m.direction}","packet":${num(m.end.packet)},"startPacket":${num(m.start.packet)}` +
    `,"ts":${tsNum(m.end.ts)},"opcode":${m.opcode},"opcodeName":"${m.type}","fragments":${m.fragments}` +
    `,"wireLength":${m.wireLength},"length":${m.length},"compressed":${m.compressed},"truncated":${m.truncated}` +
    `${content}${close},"alerts":${alertsField(m.alerts, event.conn)}}\n`
  );
}

/** One NDJSON line (with its newline). */
export function eventToNdjson(event: DissectEvent, options?: JsonOptions): string {
  if (event.type === 'frame') return frameLine(event, options?.maxHexBytes ?? DEFAULT_MAX_HEX);
  if (event.type === 'message') return messageLine(event, options?.maxHexBytes ?? DEFAULT_MAX_HEX);
  return JSON.stringify(eventToJson(event, options)) + '\n';
}
