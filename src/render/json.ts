import type { Alert } from '../alerts.js';
import { appEventJson } from './app-json.js';
import { digest } from '../digest.js';
import type { DissectEvent, HttpBody } from '../engine/events.js';
import type { ExtensionOffer } from '../http/extensions.js';
import type { StreamPosition } from '../websocket/types.js';
import { decodeUtf8Lossy, isValidUtf8Prefix } from '../websocket/utf8.js';
import { UNSAFE_RANGES } from './escape.js';

export interface JsonOptions {
  /** Bytes of frame payloads and binary messages shown as hex (content beyond is summarised by length and hash). */
  maxHexBytes?: number;
}

export const DEFAULT_MAX_HEX = 256;

const u4 = (unit: number): string => `\\u${unit.toString(16).padStart(4, '0')}`;

/**
 * What JSON.stringify leaves raw but a terminal, a pager or a line splitter acts on: every
 * unsafe code point of the human views (src/render/escape.ts) above C0, which JSON.stringify
 * escapes itself. Such characters only ever stand inside JSON strings.
 */
const JSON_UNSAFE = new RegExp(
  `[${UNSAFE_RANGES.filter(([first]) => first >= 0x20)
    .map(([first, last]) => `\\u{${first.toString(16)}}-\\u{${last.toString(16)}}`)
    .join('')}]`,
  'gu',
);

/** One unsafe character as \uXXXX (a pair of them for a character beyond the BMP). */
const escapeUnits = (ch: string): string => (ch.length === 1 ? u4(ch.charCodeAt(0)) : u4(ch.charCodeAt(0)) + u4(ch.charCodeAt(1)));

/**
 * JSON.stringify, with C1 controls, DEL, bidi controls, U+2028/U+2029, U+FEFF and every other
 * invisible character written as \uXXXX: the same value for a JSON reader, nothing that a
 * terminal, `less` or a line splitter acts on. Every JSON line the tools print goes through it.
 */
export function jsonText(value: unknown): string {
  const text = JSON.stringify(value);
  JSON_UNSAFE.lastIndex = 0;
  return JSON_UNSAFE.test(text) ? text.replace(JSON_UNSAFE, escapeUnits) : text;
}

/** At most `max` bytes as lowercase hex. */
function hex(bytes: Uint8Array | null, max = Infinity): string | null {
  if (bytes === null) return null;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex', 0, Math.min(bytes.length, max));
}

/** SHA-256 of a binary message, in hex. */
export const sha256 = (data: Uint8Array): string => digest('sha256', data, 'hex');

function position(at: StreamPosition): { packet: number | null; ts: number | null } {
  return { packet: at.packet ?? null, ts: at.ts ?? null };
}

export function alertJson(alert: Alert, conn: number | null): Record<string, unknown> {
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

/**
 * A body in NDJSON: its decoded length, codings, and its content as `text` (UTF-8 text, capped
 * like payloads, in characters) or `payload` (hex, capped) with the sha256 of what was kept.
 */
function bodyJson(body: HttpBody | null, maxHex: number): Record<string, unknown> | null {
  if (body === null) return null;
  const common = { length: body.data.length, codings: body.codings, decoded: body.decoded, decodeError: body.decodeError, truncated: body.truncated };
  if (body.data.length === 0 || isValidUtf8Prefix(body.data)) {
    const text = decodeUtf8Lossy(body.data);
    return { ...common, text: Number.isFinite(maxHex) && text.length > maxHex ? text.slice(0, maxHex) : text };
  }
  return { ...common, payload: hex(body.data, maxHex), sha256: sha256(body.data) };
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
      return { type: 'connection', conn: event.conn, client: event.client, server: event.server, sawSyn: event.sawSyn, ...position(event.at), ...(event.proxy ? { proxy: event.proxy } : {}) };
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
    case 'tls':
      return {
        type: 'tls',
        conn: event.conn,
        ...position(event.at),
        version: event.version,
        cipher: event.cipher,
        sni: event.sni,
        alpn: event.alpn,
        offeredAlpn: event.offeredAlpn,
        offeredVersions: event.offeredVersions,
        offeredCiphers: event.offeredCiphers,
        clientRandom: event.clientRandom,
        resumed: event.resumed,
        helloRetry: event.helloRetry,
        earlyData: event.earlyData,
        decrypted: event.decrypted,
        reason: event.reason,
        keys: event.keys,
        alerts: event.alerts.map((a) => alertJson(a, event.conn)),
      };
    case 'tls-record':
      return {
        type: 'tls-record',
        conn: event.conn,
        from: event.direction,
        ...position(event.at),
        header: hex(event.header),
        innerType: event.innerType,
        secret: event.secret,
        version: event.version,
        cipher: event.cipher,
        protection: event.protection,
        seq: event.seq,
        nonce: hex(event.nonce),
        explicitNonce: hex(event.explicitNonce),
        tag: hex(event.tag),
        ciphertextLength: event.ciphertextLength,
        plaintextLength: event.plaintextLength,
        padding: event.padding,
      };
    case 'other':
      return { type: 'other', conn: event.conn, kind: event.kind, requestLine: event.requestLine, status: event.status, note: event.note, ...position(event.at), ...(event.exchange !== undefined ? { exchange: event.exchange, contentType: event.contentType ?? null } : {}) };
    case 'http':
      return {
        type: 'http',
        conn: event.conn,
        index: event.index,
        packet: event.at.packet ?? null,
        startPacket: event.start.packet ?? null,
        ts: event.at.ts ?? null,
        startTs: event.start.ts ?? null,
        method: event.method,
        path: event.path,
        version: event.version,
        status: event.status,
        reason: event.reason,
        contentType: event.contentType,
        requestHeaders: event.requestHeaders.map((h) => [h.name, h.value]),
        responseHeaders: event.responseHeaders === null ? null : event.responseHeaders.map((h) => [h.name, h.value]),
        requestHeaderBytes: event.requestHeaderBytes,
        requestBodyBytes: event.requestBodyBytes,
        responseHeaderBytes: event.responseHeaderBytes,
        responseBodyBytes: event.responseBodyBytes,
        requestFramingBytes: event.requestFramingBytes,
        responseFramingBytes: event.responseFramingBytes,
        waitMs: event.waitMs,
        durationMs: event.durationMs,
        pattern: event.pattern,
        complete: event.complete,
        interim: event.interim,
        session: event.session,
        events: event.events,
        requestBody: bodyJson(event.requestBody, maxHex),
        responseBody: bodyJson(event.responseBody, maxHex),
        alerts: event.alerts.map((a) => alertJson(a, event.conn)),
      };
    case 'frame': {
      const f = event.frame;
      const close = f.opcode === 0x8 && f.data.length >= 2 && !f.truncated ? { closeCode: (f.data[0]! << 8) | f.data[1]!, closeReason: decodeUtf8Lossy(f.data.subarray(2)) } : {};
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
        ...(m.compressed ? { inflated: m.inflated } : {}),
        truncated: m.truncated,
        ...(m.text !== undefined ? { text: m.text } : { payload: hex(m.data, maxHex), sha256: sha256(m.data) }),
        ...(m.close !== undefined ? { closeCode: m.close.code, closeName: m.close.codeName, closeReason: m.close.reason } : {}),
        ...(m.answers !== undefined ? { answers: m.answers === null ? null : { packet: m.answers.packet, rttMs: m.answers.rttMs } } : {}),
        alerts: m.alerts.map((a) => alertJson(a, event.conn)),
      };
    }
    case 'alert':
      return { type: 'alert', ...alertJson(event.alert, event.conn) };
    case 'end':
      return {
        type: 'end',
        conn: event.conn,
        kind: event.kind,
        totals: event.totals,
        alerts: event.alerts,
        closeCodes: event.closeCodes,
        duration: event.duration,
        heartbeat: event.heartbeat,
        appHeartbeat: event.appHeartbeat,
        close: event.close,
        timing: event.timing,
        transports: event.transports,
        ...position(event.at),
        ...(event.tls !== undefined ? { tls: event.tls } : {}),
      };
    case 'app':
      return appEventJson(event, maxHex);
  }
}
