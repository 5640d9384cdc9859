/**
 * NDJSON written as bytes. Frames and messages are nearly every line of a big capture, and
 * building each line as a string cost three times over in `wsdump --json` (issue 8): the
 * template's pieces, the flattening of that string, then its encoding into the output buffer.
 * Here the fixed parts of a line are bytes made once, numbers are written digit by digit, and
 * only hex and text go through a string. The field order is eventToJson's; the tests check every
 * line of every fixture against jsonText(eventToJson(event)).
 */
import type { Alert, Direction } from '../alerts.js';
import type { DissectEvent, FrameEvent, MessageEvent } from '../engine/events.js';
import type { Frame, StreamPosition } from '../websocket/types.js';
import { dataPrefix, piecesOf } from '../websocket/payload-pieces.js';
import { decodeUtf8Lossy } from '../websocket/utf8.js';
import { ascii, ByteWriter, HEX_DIGITS, LINE_ROOM, NULL, spellHex } from './byte-writer.js';
import { isUnsafeCodePoint } from './escape.js';
import { alertJson, DEFAULT_MAX_HEX, eventToJson, jsonText, sha256, type JsonOptions } from './json.js';

const FRAME_START = ascii('{"type":"frame","conn":');
const MESSAGE_START = ascii('{"type":"message","conn":');
const FROM = { client: ascii(',"from":"client","packet":'), server: ascii(',"from":"server","packet":') };
const START_PACKET = ascii(',"startPacket":');
const PAYLOAD_LENGTH = ascii(',"payloadLength":');
const PAYLOAD = ascii(',"payload":');
/** `,"truncated":…,"incomplete":…` (truncated is bit 1), then the same with an empty alert list ending the line. */
const FRAME_END_FLAGS = Array.from({ length: 4 }, (_, bits) => ascii(`,"truncated":${(bits & 2) !== 0},"incomplete":${(bits & 1) !== 0}`));
const FRAME_END = Array.from({ length: 4 }, (_, bits) => ascii(`,"truncated":${(bits & 2) !== 0},"incomplete":${(bits & 1) !== 0},"alerts":[]}\n`));
const CLOSE_CODE = ascii(',"closeCode":');
const CLOSE_REASON = ascii(',"closeReason":');
const CLOSE_NAME = ascii(',"closeName":');
const ALERTS = ascii(',"alerts":');
const NO_ALERTS_END = ascii(',"alerts":[]}\n');
const LINE_END = ascii('}\n');
const WIRE_LENGTH = ascii(',"wireLength":');
const LENGTH = ascii(',"length":');
/**
 * `,"compressed":…,` (`"inflated":…,` for compressed messages) `"truncated":…,` then `"text":`
 * (bit 2 clear) or `"payload":`; compressed is bit 1, truncated bit 0, inflated bit 3.
 */
const MESSAGE_FLAGS = Array.from({ length: 16 }, (_, bits) =>
  ascii(`,"compressed":${(bits & 2) !== 0},${(bits & 2) !== 0 ? `"inflated":${(bits & 8) !== 0},` : ''}"truncated":${(bits & 1) !== 0},${(bits & 4) === 0 ? '"text":' : '"payload":'}`),
);
const SHA256 = ascii(',"sha256":"');

/** Connection numbers up to this have their line starts made once (4 * conn stays a small integer). */
const MAX_CACHED_CONN = 2 ** 28;

/**
 * How jsonText writes each byte of UTF-8 text inside a string: 0 as it is, 1 after a backslash
 * (`"` and `\`), 2 as \u00XX (C0 controls and DEL), CHECK for a lead byte that may start one of
 * the unsafe characters of src/render/escape.ts (C1, bidi controls, U+2028 …), otherwise the
 * letter of its short escape (\b \t \n \f \r). ASCII text takes only the first two paths.
 */
const CHECK = 3;
const JSON_ESCAPE = (() => {
  const table = new Uint8Array(256);
  for (let b = 0; b < 0x20; b++) table[b] = 2;
  table[0x7f] = 2;
  table[0x22] = 1;
  table[0x5c] = 1;
  for (const [b, letter] of [[0x08, 'b'], [0x09, 't'], [0x0a, 'n'], [0x0c, 'f'], [0x0d, 'r']] as const) table[b] = letter.charCodeAt(0);
  // The lead bytes of UNSAFE_RANGES beyond ASCII (U+0080-009F and U+00AD start with C2, U+2028
  // with E2, the tag characters with F3 …); every other lead byte starts only safe characters.
  for (const b of [0xc2, 0xcd, 0xd8, 0xdb, 0xdc, 0xe0, 0xe1, 0xe2, 0xe3, 0xef, 0xf0, 0xf3]) table[b] = CHECK;
  return table;
})();

/** `\uXXXX` (lowercase hex, as JSON.stringify writes it) for a UTF-16 code unit, into `buffer` at `at`. */
function unicodeEscape(buffer: Uint8Array, at: number, unit: number): number {
  buffer[at++] = 0x5c;
  buffer[at++] = 0x75;
  for (let shift = 12; shift >= 0; shift -= 4) buffer[at++] = HEX_DIGITS[(unit >> shift) & 15]!;
  return at;
}

/** The fixed text that follows a timestamp: in a frame line, then in a message line. */
const AFTER_TS = [',"offset":', ',"opcode":'] as const;

/**
 * Writes events as NDJSON lines into a buffer and hands each full buffer to `sink` (which may
 * keep it: a new one is taken). `flush()` hands over what is gathered.
 *
 * A line is a few pieces of fixed text, each made once and copied, with the numbers and bytes
 * of the event between them. Pieces that depend only on a few values (the flag bits and the
 * opcode; the length encoding and header length) are made for each combination seen.
 */
export class NdjsonEncoder extends ByteWriter {
  private readonly maxHex: number;
  /** `,"fin":…,"opcode":N,"opcodeName":"…","masked":…,"maskingKey":` by FIN, RSV1-3, opcode, MASK and whether there is a key. */
  private readonly opcodeParts: (Uint8Array | undefined)[] = [];
  /** `,"lengthEncoding":N,"headerLength":N,"header":` by length encoding and header length. */
  private readonly lengthParts: (Uint8Array | undefined)[] = [];
  /**
   * `{"type":"frame","conn":N,"from":"…","packet":` by connection and direction (key 4 * conn,
   * + 1 for the server, + 2 for a message line): the start of nearly every line. Forgotten
   * when the connection ends, so a capture of many connections does not keep them all.
   */
  private readonly lineStarts = new Map<number, Uint8Array>();
  /** `,"opcodeName":"…","fragments":` per message type. */
  private readonly typeParts = new Map<string, Uint8Array>();
  /**
   * The last hex written, by bytes and length: a message of one frame shows the same bytes as
   * its frame, on the next line.
   */
  private lastHexBytes: Uint8Array | null = null;
  private lastHexEnd = 0;
  private lastHex = '';
  /**
   * `,"ts":…` and what follows it, for the last timestamp written, in a frame line and in a
   * message line: the frames of one packet and the message they end share it.
   */
  private readonly lastTs: (number | undefined | null)[] = [null, null];
  private readonly lastTsParts: Uint8Array[] = [NULL, NULL];

  constructor(options: JsonOptions, sink: (bytes: Buffer) => void, chunk?: number) {
    super(sink, chunk);
    this.maxHex = options.maxHexBytes ?? DEFAULT_MAX_HEX;
  }

  write(event: DissectEvent): void {
    if (event.type === 'frame') this.frame(event);
    else if (event.type === 'message') this.message(event);
    else {
      if (event.type === 'end') for (let key = 4 * event.conn; key < 4 * event.conn + 4; key++) this.lineStarts.delete(key);
      this.text(jsonText(eventToJson(event, { maxHexBytes: this.maxHex })) + '\n');
    }
  }

  /**
   * What a frame's (which = 0) and a message's (1) lines begin with: type, conn, from, packet,
   * startPacket, ts, and the name of the field that follows.
   */
  private head(which: 0 | 1, conn: number, direction: Direction, start: StreamPosition, end: StreamPosition): void {
    this.room(LINE_ROOM);
    this.lineStart(which, conn, direction);
    this.num(end.packet);
    this.put(START_PACKET);
    this.num(start.packet);
    this.ts(end.ts, which);
  }

  /** A frame's (which = 0) or a message's (1) line up to its packet number. */
  private lineStart(which: 0 | 1, conn: number, direction: Direction): void {
    if (!(conn >= 0 && conn <= MAX_CACHED_CONN && Number.isInteger(conn))) {
      this.put(which === 0 ? FRAME_START : MESSAGE_START);
      this.num(conn);
      this.put(FROM[direction]);
      return;
    }
    const key = 4 * conn + 2 * which + (direction === 'server' ? 1 : 0);
    let part = this.lineStarts.get(key);
    if (part === undefined) {
      part = ascii(`{"type":"${which === 0 ? 'frame' : 'message'}","conn":${conn},"from":"${direction}","packet":`);
      this.lineStarts.set(key, part);
    }
    this.put(part);
  }

  /** `,"ts":…` and the fixed text after it (AFTER_TS[which]). */
  private ts(ts: number | undefined, which: 0 | 1): void {
    if (ts !== this.lastTs[which]) {
      this.lastTs[which] = ts;
      this.lastTsParts[which] = ascii(`,"ts":${ts === undefined || !Number.isFinite(ts) ? 'null' : String(ts)}${AFTER_TS[which]}`);
    }
    this.put(this.lastTsParts[which]!);
  }

  /** A short byte field (masking key, header) as a quoted hex string, or null. */
  private shortHex(bytes: Uint8Array | null): void {
    if (bytes === null) {
      this.put(NULL);
      return;
    }
    const buffer = this.buffer;
    buffer[this.pos] = 0x22;
    const end = spellHex(buffer, this.pos + 1, bytes, bytes.length);
    buffer[end] = 0x22;
    this.pos = end + 1;
  }

  /** A payload as a quoted hex string of at most maxHex bytes. */
  private payloadHex(bytes: Uint8Array): void {
    const end = Math.min(bytes.length, this.maxHex);
    if (bytes !== this.lastHexBytes || end !== this.lastHexEnd) {
      this.lastHexBytes = bytes;
      this.lastHexEnd = end;
      this.lastHex = (bytes instanceof Buffer ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)).toString('hex', 0, end);
    }
    this.room(this.lastHex.length + 2 + LINE_ROOM);
    this.buffer[this.pos++] = 0x22;
    this.pos += this.buffer.write(this.lastHex, this.pos, 'latin1');
    this.buffer[this.pos++] = 0x22;
  }

  /**
   * A JSON string straight from the UTF-8 of a valid text message, as jsonText would write the
   * decoded text: `"` and `\` and controls below 0x20 escaped, the unsafe characters of
   * src/render/escape.ts as \uXXXX, every other byte as it is (valid UTF-8 holds no lone
   * surrogate, the one other thing JSON.stringify escapes). Faster than decoding, escaping a
   * string and encoding it again. (A message cut by a limit is written from its text: its last
   * character may be cut, and the text shows U+FFFD for it.)
   */
  private utf8Text(data: Uint8Array): void {
    // At most 6 bytes out per byte in (\u00XX); an escaped 2- to 4-byte character takes 3 per byte.
    this.room(data.length * 6 + 2 + LINE_ROOM);
    const buffer = this.buffer;
    let at = this.pos;
    buffer[at++] = 0x22;
    for (let i = 0; i < data.length; i++) {
      const b = data[i]!;
      const escape = JSON_ESCAPE[b]!;
      if (escape === 0) {
        buffer[at++] = b;
      } else if (escape === 1) {
        buffer[at++] = 0x5c;
        buffer[at++] = b;
      } else if (escape === 2) {
        at = unicodeEscape(buffer, at, b);
      } else if (escape === CHECK) {
        // The sequence is valid UTF-8 (the message decoded as text): 2, 3 or 4 bytes by its lead.
        const size = b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
        let cp = b & (size === 2 ? 0x1f : size === 3 ? 0x0f : 0x07);
        for (let k = 1; k < size; k++) cp = (cp << 6) | (data[i + k]! & 0x3f);
        if (!isUnsafeCodePoint(cp)) {
          buffer[at++] = b;
        } else if (cp < 0x10000) {
          at = unicodeEscape(buffer, at, cp);
          i += size - 1;
        } else {
          // Beyond the BMP: the UTF-16 surrogate pair, as JSON writes such a character.
          at = unicodeEscape(buffer, at, 0xd800 + ((cp - 0x10000) >> 10));
          at = unicodeEscape(buffer, at, 0xdc00 + ((cp - 0x10000) & 0x3ff));
          i += size - 1;
        }
      } else {
        buffer[at++] = 0x5c;
        buffer[at++] = escape;
      }
    }
    buffer[at++] = 0x22;
    this.pos = at;
  }

  private alertsEnd(alerts: Alert[], conn: number): void {
    if (alerts.length === 0) {
      this.put(NO_ALERTS_END);
      return;
    }
    this.put(ALERTS);
    this.text(jsonText(alerts.map((a) => alertJson(a, conn))));
    this.put(LINE_END);
  }

  private frame(event: FrameEvent): void {
    const f = event.frame;
    this.head(0, event.conn, f.direction, f.start, f.end);
    this.num(f.offset);
    this.put(this.opcodePart(f));
    if (f.maskingKey !== null) {
      this.shortHex(f.maskingKey);
      this.put(PAYLOAD_LENGTH);
    }
    this.num(f.payloadLength);
    this.put(this.lengthPart(f.lengthEncoding, f.headerLength));
    this.shortHex(f.header);
    this.put(PAYLOAD);
    this.payloadHex(dataPrefix(f, this.maxHex));
    const end = (+f.truncated << 1) | +f.incomplete;
    const close = f.opcode === 0x8 && f.data.length >= 2 && !f.truncated;
    if (!close && f.alerts.length === 0) {
      this.put(FRAME_END[end]!);
      return;
    }
    this.put(FRAME_END_FLAGS[end]!);
    if (close) {
      this.put(CLOSE_CODE);
      this.num((f.data[0]! << 8) | f.data[1]!);
      this.put(CLOSE_REASON);
      this.text(jsonText(decodeUtf8Lossy(f.data.subarray(2))));
    }
    this.alertsEnd(f.alerts, event.conn);
  }

  private message(event: MessageEvent): void {
    const m = event.message;
    this.head(1, event.conn, m.direction, m.start, m.end);
    this.num(m.opcode);
    this.put(this.typePart(m.type));
    this.num(m.fragments);
    this.put(WIRE_LENGTH);
    this.num(m.wireLength);
    this.put(LENGTH);
    this.num(m.length);
    this.put(MESSAGE_FLAGS[(+m.inflated << 3) | (+(m.text === undefined) << 2) | (+m.compressed << 1) | +m.truncated]!);
    if (m.text !== undefined) {
      // (A cut message, or one too large for a chunk even unescaped, goes through its string.)
      if (!m.truncated && m.data.length * 6 + LINE_ROOM <= this.chunk) this.utf8Text(m.data);
      else this.text(jsonText(m.text));
    } else {
      this.payloadHex(dataPrefix(m, this.maxHex));
      this.put(SHA256);
      // A payload still in pieces (wsproxy) is hashed piece by piece, never joined.
      this.pos += this.buffer.write(piecesOf(m)?.sha256() ?? sha256(m.data), this.pos, 'latin1');
      this.buffer[this.pos++] = 0x22;
    }
    if (m.close !== undefined) {
      this.put(CLOSE_CODE);
      this.num(m.close.code);
      this.put(CLOSE_NAME);
      this.text(jsonText(m.close.codeName));
      this.put(CLOSE_REASON);
      this.text(jsonText(m.close.reason));
    }
    if (m.answers !== undefined) this.text(m.answers === null ? ',"answers":null' : `,"answers":{"packet":${m.answers.packet},"rttMs":${m.answers.rttMs}}`);
    this.alertsEnd(m.alerts, event.conn);
  }

  /** From FIN to the masking key, or when there is no key, to the payload length. */
  private opcodePart(f: Frame): Uint8Array {
    const keyed = f.maskingKey !== null;
    const index = (((((((+f.fin << 3) | (+f.rsv1 << 2) | (+f.rsv2 << 1) | +f.rsv3) << 4) | (f.opcode & 15)) << 1) | +f.masked) << 1) | +keyed;
    let part = this.opcodeParts[index];
    if (part === undefined) {
      // The opcode name follows from the opcode, so the combination names the whole piece.
      const flags = `,"fin":${f.fin},"rsv1":${f.rsv1},"rsv2":${f.rsv2},"rsv3":${f.rsv3}`;
      part = Buffer.from(`${flags},"opcode":${f.opcode},"opcodeName":${JSON.stringify(f.opcodeName)},"masked":${f.masked},"maskingKey":${keyed ? '' : 'null,"payloadLength":'}`);
      this.opcodeParts[index] = part;
    }
    return part;
  }

  private lengthPart(encoding: number, headerLength: number): Uint8Array {
    const index = encoding * 16 + headerLength;
    let part = this.lengthParts[index];
    if (part === undefined) {
      part = ascii(`,"lengthEncoding":${encoding},"headerLength":${headerLength},"header":`);
      this.lengthParts[index] = part;
    }
    return part;
  }

  private typePart(type: string): Uint8Array {
    let part = this.typeParts.get(type);
    if (part === undefined) {
      part = Buffer.from(`,"opcodeName":${JSON.stringify(type)},"fragments":`);
      this.typeParts.set(type, part);
    }
    return part;
  }
}

/**
 * NDJSON one line at a time, as text, for callers that print event by event (wsproxy,
 * --decode-hex). Each returned string is one line with its newline.
 */
export function ndjsonLines(options: JsonOptions = {}): (event: DissectEvent) => string {
  const spilled: Buffer[] = [];
  const encoder = new NdjsonEncoder(options, (bytes) => spilled.push(bytes), 16 * 1024);
  return (event) => {
    encoder.write(event);
    if (spilled.length === 0) return encoder.takeText();
    // The encoder hands over bytes only between the parts of a line, never inside a character.
    const text = Buffer.concat(spilled).toString() + encoder.takeText();
    spilled.length = 0;
    return text;
  };
}

const linesByMaxHex = new Map<number, (event: DissectEvent) => string>();

/** One NDJSON line (with its newline). */
export function eventToNdjson(event: DissectEvent, options: JsonOptions = {}): string {
  const maxHex = options.maxHexBytes ?? DEFAULT_MAX_HEX;
  let lines = linesByMaxHex.get(maxHex);
  if (lines === undefined) {
    if (linesByMaxHex.size >= 8) linesByMaxHex.clear();
    lines = ndjsonLines({ maxHexBytes: maxHex });
    linesByMaxHex.set(maxHex, lines);
  }
  return lines(event);
}
