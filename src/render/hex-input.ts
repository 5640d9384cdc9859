/**
 * `wsdump --decode-hex`: frame bytes typed by hand. The hex is read leniently (whitespace,
 * 0x prefixes, colons and commas between bytes), checked strictly (every character a hex
 * digit, an even count), and the frames are walked first so that a cut frame is reported
 * with exactly what is missing instead of being silently dropped.
 */
import type { Direction } from '../alerts.js';
import type { DissectEvent } from '../engine/events.js';
import { WebSocketSession } from '../websocket/session.js';

/** The input is not usable: one line saying what is wrong or missing. */
export class HexInputError extends Error {}

const SEPARATOR = /[\s:,]/;

/** Hex text to bytes. Throws HexInputError on a character that is not a hex digit or an odd count. */
export function parseHex(text: string): Uint8Array {
  let digits = '';
  const chars = [...text];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (SEPARATOR.test(ch)) continue;
    const tokenStart = i === 0 || SEPARATOR.test(chars[i - 1]!);
    if (tokenStart && ch === '0' && (chars[i + 1] === 'x' || chars[i + 1] === 'X')) {
      i++;
      continue;
    }
    if (!/[0-9a-fA-F]/.test(ch)) {
      // Quoted as typed: whoever prints the message escapes it (the CLI as it does all of stderr).
      throw new HexInputError(`"${ch}" at character ${i + 1} is not a hex digit (0-9, a-f; spaces, colons and 0x are allowed between bytes)`);
    }
    digits += ch;
  }
  if (digits.length === 0) throw new HexInputError('no hex digits given: type the frame bytes, e.g. 818537fa213d7f9f4d5158');
  if (digits.length % 2 !== 0) {
    throw new HexInputError(`odd number of hex digits (${digits.length}): every byte takes two, so one digit is missing or extra`);
  }
  return new Uint8Array(Buffer.from(digits, 'hex'));
}

const plural = (n: bigint | number, word: string) => `${n} more ${word}${n === 1 || n === 1n ? '' : 's'}`;

/**
 * Walks the frames back to back (RFC 6455 §5.2) and throws HexInputError naming the first
 * frame that is cut and the field that needs more bytes. Returns the frame boundaries.
 */
export function checkFrames(bytes: Uint8Array): { start: number; end: number }[] {
  const frames: { start: number; end: number }[] = [];
  let at = 0;
  const cut = (what: string) => new HexInputError(`frame ${frames.length + 1} is cut: ${what}`);
  while (at < bytes.length) {
    const left = bytes.length - at;
    if (left < 2) throw cut(`the first 2 header bytes need ${plural(2 - left, 'byte')}`);
    const len7 = bytes[at + 1]! & 0x7f;
    const masked = (bytes[at + 1]! & 0x80) !== 0;
    let p = at + 2;
    let length = BigInt(len7);
    if (len7 >= 126) {
      const n = len7 === 126 ? 2 : 8;
      if (bytes.length - p < n) throw cut(`the ${n * 8}-bit length needs ${plural(n - (bytes.length - p), 'byte')}`);
      length = 0n;
      for (let i = 0; i < n; i++) length = (length << 8n) | BigInt(bytes[p + i]!);
      p += n;
    }
    if (masked) {
      if (bytes.length - p < 4) throw cut(`the masking key needs ${plural(4 - (bytes.length - p), 'byte')}`);
      p += 4;
    }
    const have = BigInt(bytes.length - p);
    if (have < length) throw cut(`the payload needs ${plural(length - have, 'byte')} (its length is ${length}, ${have} given)`);
    at = p + Number(length);
    frames.push({ start: frames.length === 0 ? 0 : frames[frames.length - 1]!.end, end: at });
  }
  return frames;
}

/** §5.1: clients mask, servers do not, so the first frame's MASK bit says who sent it. */
export function inferDirection(bytes: Uint8Array): Direction {
  return ((bytes[1] ?? 0) & 0x80) !== 0 ? 'client' : 'server';
}

/**
 * The frames as dissector events (conn 0, no capture positions), through the same session
 * the capture dissector uses: frame rules, message reassembly, control-frame rules. No
 * extension is negotiated, so RSV bits are reported as unnegotiated.
 */
export function decodeHexFrames(bytes: Uint8Array, direction: Direction): DissectEvent[] {
  const session = new WebSocketSession();
  const events = [...session.push(direction, bytes), ...session.end(direction)];
  return events.map((e): DissectEvent => {
    switch (e.type) {
      case 'frame':
        return { type: 'frame', conn: 0, frame: e.frame };
      case 'message':
        return { type: 'message', conn: 0, message: e.message };
      case 'alert':
        return { type: 'alert', conn: 0, alert: e.alert };
    }
  });
}
