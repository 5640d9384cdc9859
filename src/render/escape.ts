/**
 * Terminal safety: nothing from the traffic reaches the terminal raw. C0 and C1 controls (ESC
 * starts every terminal escape sequence; C1 CSI 0x9B does too on some terminals), DEL, bidi
 * overrides and isolates (which reorder what the reader sees, "Trojan Source") and other
 * invisible format characters are shown as visible escapes.
 */

import { spellHex } from './byte-writer.js';

const NAMED: Readonly<Record<number, string>> = { 0x09: '\\t', 0x0a: '\\n', 0x0d: '\\r', 0x1b: '\\e', 0x5c: '\\\\' };

function isUnsafe(cp: number): boolean {
  return (
    cp < 0x20 ||
    (cp >= 0x7f && cp <= 0x9f) ||
    cp === 0x5c ||
    cp === 0x061c || // Arabic letter mark
    (cp >= 0x200b && cp <= 0x200f) || // zero-width and LRM/RLM
    (cp >= 0x2028 && cp <= 0x202e) || // line/paragraph separators, bidi embeddings and overrides
    (cp >= 0x2060 && cp <= 0x206f) || // word joiner, bidi isolates, deprecated format characters
    cp === 0xfeff ||
    (cp >= 0xfff9 && cp <= 0xfffb) // interlinear annotations
  );
}

function escapeCodePoint(cp: number): string {
  const named = NAMED[cp];
  if (named !== undefined) return named;
  if (cp <= 0xff) return `\\x${cp.toString(16).padStart(2, '0')}`;
  return `\\u{${cp.toString(16)}}`;
}

/**
 * A string made safe to print on one line: unsafe code points escaped (a backslash is doubled
 * so an escape cannot be forged), and cut to `max` visible characters with an ellipsis.
 */
export function escapeText(text: string, max = Infinity): string {
  // Printable ASCII other than the backslash is shown as it is: most text takes this path.
  const end = Math.min(text.length, max);
  let plain = 0;
  while (plain < end) {
    const c = text.charCodeAt(plain);
    if (c < 0x20 || c > 0x7e || c === 0x5c) break;
    plain++;
  }
  if (plain === text.length) return text;
  if (plain === max) return text.slice(0, max) + '…';
  let out = '';
  let count = 0;
  for (const ch of text) {
    if (count >= max) return out + '…';
    const cp = ch.codePointAt(0)!;
    out += isUnsafe(cp) ? escapeCodePoint(cp) : ch;
    count++;
  }
  return out;
}

/** Where hex is spelled out before it becomes one string (a row has one or two such fields). */
let scratch = Buffer.allocUnsafe(256);

/**
 * `count` bytes as hex pairs, `separator` (a character code, or -1 for none) between them,
 * made into one string at once: joining 2-character strings built a chain of small strings
 * per table row, a good part of the table view's garbage.
 */
function spell(bytes: Uint8Array, count: number, separator: number): string {
  const size = separator < 0 ? 2 * count : Math.max(0, 3 * count - 1);
  if (scratch.length < size) scratch = Buffer.allocUnsafe(size);
  return scratch.toString('latin1', 0, spellHex(scratch, 0, bytes, count, separator));
}

/** Bytes as hex pairs separated by spaces, at most `max` bytes, with an ellipsis when cut. */
export function hexPreview(bytes: Uint8Array, max = 16): string {
  const hex = spell(bytes, Math.min(bytes.length, max), 0x20);
  return bytes.length > max ? `${hex} …` : hex;
}

/** Bytes as one hex string, no separators (for short fields such as a masking key). */
export function hexString(bytes: Uint8Array): string {
  return spell(bytes, bytes.length, -1);
}

/** Does this string contain anything escapeText would change? (for tests and assertions) */
export function hasUnsafe(text: string): boolean {
  for (const ch of text) if (isUnsafe(ch.codePointAt(0)!)) return true;
  return false;
}
