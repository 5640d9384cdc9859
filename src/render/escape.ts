/**
 * Terminal safety: nothing from the traffic reaches the terminal raw. C0 and C1 controls (ESC
 * starts every terminal escape sequence; C1 CSI 0x9B does too on some terminals), DEL, bidi
 * overrides and isolates (which reorder what the reader sees, "Trojan Source"), line and
 * paragraph separators, and every invisible format character are shown as visible escapes.
 */

import { spellHex } from './byte-writer.js';

const NAMED: Readonly<Record<number, string>> = { 0x09: '\\t', 0x0a: '\\n', 0x0d: '\\r', 0x1b: '\\e', 0x5c: '\\\\' };

/**
 * The code points that are never shown as they are, as [first, last] pairs in order: Unicode's
 * control (Cc) and format (Cf) characters, the default-ignorable ones (rendered as nothing:
 * the tag characters U+E0000-E007F can spell a whole hidden command, variation selectors,
 * Hangul fillers, the soft hyphen, the Mongolian vowel separator …) and the line and
 * paragraph separators (Zl, Zp), which JavaScript and some line splitters treat as line ends.
 * test/render/escape.test.ts checks that this list covers those Unicode properties as the
 * running Node.js knows them.
 */
export const UNSAFE_RANGES: readonly (readonly [number, number])[] = [
  [0x0000, 0x001f], // C0 controls
  [0x007f, 0x009f], // DEL and C1 controls (0x9B is CSI, 0x85 NEL)
  [0x00ad, 0x00ad], // soft hyphen
  [0x034f, 0x034f], // combining grapheme joiner
  [0x0600, 0x0605], // Arabic number signs
  [0x061c, 0x061c], // Arabic letter mark
  [0x06dd, 0x06dd], // Arabic end of ayah
  [0x070f, 0x070f], // Syriac abbreviation mark
  [0x0890, 0x0891], // Arabic pound and piastre marks above
  [0x08e2, 0x08e2], // Arabic disputed end of ayah
  [0x115f, 0x1160], // Hangul fillers
  [0x17b4, 0x17b5], // Khmer inherent vowels
  [0x180b, 0x180f], // Mongolian variation selectors and vowel separator
  [0x200b, 0x200f], // zero-width space, joiners, LRM/RLM
  [0x2028, 0x202e], // line and paragraph separators, bidi embeddings and overrides
  [0x2060, 0x206f], // word joiner, invisible operators, bidi isolates, deprecated format characters
  [0x3164, 0x3164], // Hangul filler
  [0xfe00, 0xfe0f], // variation selectors
  [0xfeff, 0xfeff], // byte order mark, zero-width no-break space
  [0xffa0, 0xffa0], // halfwidth Hangul filler
  [0xfff0, 0xfffb], // unassigned specials, interlinear annotations
  [0x110bd, 0x110bd], // Kaithi number sign
  [0x110cd, 0x110cd], // Kaithi number sign above
  [0x13430, 0x1343f], // Egyptian hieroglyph format controls
  [0x1bca0, 0x1bca3], // shorthand format controls
  [0x1d173, 0x1d17a], // musical symbol format controls
  [0xe0000, 0xe0fff], // tag characters, variation selectors supplement
];

/** Is this code point one of UNSAFE_RANGES? (Printable ASCII and Latin-1 letters answer at once.) */
export function isUnsafeCodePoint(cp: number): boolean {
  if (cp < 0xa0) return cp < 0x20 || cp >= 0x7f;
  for (let i = 2; i < UNSAFE_RANGES.length; i++) {
    const range = UNSAFE_RANGES[i]!;
    if (cp < range[0]) return false;
    if (cp <= range[1]) return true;
  }
  return false;
}

/** What escapeText escapes: the unsafe code points and the backslash (so an escape cannot be forged). */
function isUnsafe(cp: number): boolean {
  return cp === 0x5c || isUnsafeCodePoint(cp);
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
