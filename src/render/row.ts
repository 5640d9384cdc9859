/**
 * One table row, laid out exactly as cli-table3 lays out a borderless one-row table (left
 * padding 1, right padding 0, no word wrap, cells cut with "…"), without building a table per
 * row: cli-table3 re-merges its options, builds a regex per cell (ansi-regex) and measures every
 * cell with string-width, which took 85% of `wsdump capture.pcap` on a bulk capture. Rows the
 * fast path cannot lay out with certainty (wide or combining characters, a colored cell that
 * must be cut, a newline) still go through cli-table3, so output never changes.
 */
import { onFirstUse } from '../lazy.js';
import { ByteWriter, digitCount, isSmallCount, spellHex } from './byte-writer.js';

/**
 * cli-table3 (with string-width, emoji-regex, strip-ansi) is required by the first row that
 * needs it: most captures have none, and loading it cost every table ~10 ms of its start.
 */
const loadTable = onFirstUse<typeof import('cli-table3')>('cli-table3');

const NO_CHARS = { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '' };

/** The row as cli-table3 draws it, trailing spaces removed, with a newline. */
export function cliTableRow(cells: readonly string[], widths: readonly number[]): string {
  const Table = loadTable();
  const t = new Table({
    colWidths: [...widths],
    wordWrap: false,
    style: { head: [], border: [], 'padding-left': 1, 'padding-right': 0 },
    chars: NO_CHARS,
  });
  t.push([...cells]);
  return t.toString().replace(/ +$/gm, '') + '\n';
}

/** cli-table3's (utils.js codeRegex) notion of a color code, anchored at one position. */
const SGR = /\u001b\[(?:\d*;){0,5}\d*m/y;

/** Set by simpleWidth: the string had no color code. */
let plainText = true;

/**
 * The width string-width gives `s` once color codes are removed, when every character is one
 * whose width is certain: printable ASCII, and "…" and "→" (East Asian Ambiguous, counted
 * narrow by string-width). -1 for anything else. Sets `plainText` when there was no color
 * code (a number and a flag rather than an object: this runs for every cell of every row).
 */
function simpleWidth(s: string): number {
  let width = 0;
  plainText = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 0x20 && c < 0x7f) || c === 0x2026 || c === 0x2192) {
      width++;
      continue;
    }
    if (c === 0x1b) {
      SGR.lastIndex = i;
      if (SGR.test(s)) {
        i = SGR.lastIndex - 1;
        plainText = false;
        continue;
      }
    }
    return -1;
  }
  return width;
}

/** PADS[n] is n spaces: padding without building a string per cell. */
const PADS: readonly string[] = Array.from({ length: 257 }, (_, n) => ' '.repeat(n));

function spaces(n: number): string {
  return n < PADS.length ? PADS[Math.max(0, n)]! : ' '.repeat(n);
}

/**
 * The same text as cliTableRow. Colored cells come from chalk, which closes every style it
 * opens, so cli-table3's colorizeLines adds nothing to them; test/render/row.test.ts checks
 * the two functions agree. A cell's right padding and the next cell's one space of left
 * padding are added together, as one string.
 *
 * `plainCells`: how many leading cells the caller knows to hold only characters of width one
 * and no color code (its own numbers and words, without color), so their width is their
 * length and they need no scan.
 */
export function tableRow(cells: readonly string[], widths: readonly number[], plainCells = 0): string {
  let line = '';
  let owed = 1;
  // Trailing spaces of the row so far, counted as it grows: reading the end of the row
  // (a rope of many pieces) would copy it into one string.
  let trailing = 0;
  for (let i = 0; i < widths.length; i++) {
    const cell = cells[i] ?? '';
    const room = widths[i]! - 1;
    let width: number;
    if (i < plainCells) {
      width = cell.length;
      plainText = true;
    } else {
      width = simpleWidth(cell);
      if (width < 0) return cliTableRow(cells, widths);
    }
    let piece = cell;
    let next = room - width + 1;
    if (width > room) {
      if (!plainText || room < 1) return cliTableRow(cells, widths);
      // cli-table3's truncate: every character here is one column, so it cuts by characters.
      piece = cell.slice(0, room - 1) + '…';
      next = 1;
    }
    line += spaces(owed) + piece;
    let end = piece.length;
    while (end > 0 && piece.charCodeAt(end - 1) === 0x20) end--;
    trailing = end === 0 ? trailing + owed + piece.length : piece.length - end;
    owed = next;
  }
  return (trailing === 0 ? line : line.slice(0, line.length - trailing)) + '\n';
}

/** "…" in UTF-8 at `at`; returns where it ends. */
function putEllipsis(buffer: Uint8Array, at: number): number {
  buffer[at] = 0xe2;
  buffer[at + 1] = 0x80;
  buffer[at + 2] = 0xa6;
  return at + 3;
}

/** Consecutive cells of a row laid out once (RowWriter.layOut). */
export interface CellGroup {
  bytes: Uint8Array;
  columns: number;
  /** Padding owed to the cell after them. */
  owed: number;
}

/**
 * Table rows written as bytes (wsdump's table without color): the bytes tableRow gives, for
 * rows whose cells hold only characters one column wide that need no scan beyond a range
 * check (printable ASCII, "…", "→"), without building the row as a string. A row is begun,
 * given its cells, and ended; a cell holding anything else makes `cell` return false, and the
 * row is then abandoned (nothing of it stays written) for tableRow to lay out.
 */
export class RowWriter extends ByteWriter {
  private widths: readonly number[] = [];
  private index = 0;
  private rowStart = 0;
  private owed = 1;
  /** Spaces at the end of what the row has so far (cut before the newline, as tableRow does). */
  private trailing = 0;

  beginRow(widths: readonly number[]): void {
    let most = 16;
    for (const width of widths) most += 3 * (width + 1);
    this.room(most);
    this.widths = widths;
    this.index = 0;
    this.rowStart = this.pos;
    this.owed = 1;
    this.trailing = 0;
  }

  cell(text: string): boolean {
    const room = this.widths[this.index++]! - 1;
    const length = text.length;
    const cut = length > room;
    if (cut && room < 1) return false;
    const shown = cut ? room - 1 : length;
    const owed = this.owed;
    const start = this.pos;
    this.pad();
    const buffer = this.buffer;
    let at = this.pos;
    // Spaces at the end of this cell's text, and whether it is all spaces.
    let run = 0;
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x20 && c < 0x7f) {
        if (i < shown) buffer[at++] = c;
        run = c === 0x20 ? run + 1 : 0;
      } else if (c === 0x2026 || c === 0x2192) {
        // "…" and "→" in UTF-8: E2 80 A6 and E2 86 92.
        if (i < shown) {
          buffer[at++] = 0xe2;
          buffer[at++] = c === 0x2026 ? 0x80 : 0x86;
          buffer[at++] = c === 0x2026 ? 0xa6 : 0x92;
        }
        run = 0;
      } else {
        this.pos = start;
        return false;
      }
    }
    if (cut) {
      at = putEllipsis(buffer, at);
      this.trailing = 0;
      this.owed = 1;
    } else {
      this.trailing = run === length ? this.trailing + owed + length : run;
      this.owed = room - length + 1;
    }
    this.pos = at;
    return true;
  }

  /**
   * The next cell as `"` + the first `count` bytes of `bytes` (printable ASCII other than the
   * backslash: the caller has checked) + `…` when `more` + `"`; false when it does not fit its
   * column (a cell that must be cut is left to `cell`).
   */
  quotedAsciiCell(bytes: Uint8Array, count: number, more: boolean): boolean {
    const length = count + 2 + (more ? 1 : 0);
    if (!this.start(length)) return false;
    const buffer = this.buffer;
    let at = this.pos;
    buffer[at++] = 0x22;
    buffer.set(count === bytes.length ? bytes : bytes.subarray(0, count), at);
    at += count;
    if (more) at = putEllipsis(buffer, at);
    buffer[at++] = 0x22;
    this.end(at, length);
    return true;
  }

  /**
   * The next cell as hexPreview(bytes, count) writes it when `more`, or of all of `bytes`
   * (with `spaced` false, as hexString writes them); false when it does not fit.
   */
  hexCell(bytes: Uint8Array, count: number, more: boolean, spaced = true): boolean {
    const length = (spaced ? Math.max(0, 3 * count - 1) : 2 * count) + (more ? 2 : 0);
    if (!this.start(length)) return false;
    let at = spellHex(this.buffer, this.pos, bytes, count, spaced ? 0x20 : -1);
    if (more) {
      this.buffer[at++] = 0x20;
      at = putEllipsis(this.buffer, at);
    }
    this.end(at, length);
    return true;
  }

  /**
   * The next cell as String(n) + `suffix` (printable ASCII, not ending with a space) for a
   * count below 2^31; false when n is another number or the cell does not fit its column
   * (then `cell` cuts it).
   */
  numberCell(n: number, suffix?: Uint8Array): boolean {
    if (!isSmallCount(n)) return false;
    const length = digitCount(n) + (suffix?.length ?? 0);
    if (!this.start(length)) return false;
    this.num(n);
    if (suffix !== undefined) this.put(suffix);
    this.end(this.pos, length);
    return true;
  }

  /** Pads before a cell of `length` characters that ends with no space, if it fits its column. */
  private start(length: number): boolean {
    const room = this.widths[this.index]! - 1;
    if (length > room || length === 0) return false;
    this.index++;
    this.pad();
    return true;
  }

  private end(at: number, length: number): void {
    this.pos = at;
    this.trailing = 0;
    this.owed = this.widths[this.index - 1]! - length;
  }

  /** The spaces owed before the next cell: the last cell's padding and one of left padding. */
  private pad(): void {
    const buffer = this.buffer;
    for (let i = 0; i < this.owed; i++) buffer[this.pos++] = 0x20;
  }

  /**
   * Cells laid out once, to be placed in later rows with `group`: the bytes `cell` would write
   * for them (without the padding owed to the cell before) and the padding owed after them.
   * Null when one of them holds a character `cell` refuses, or the last ends with a space.
   */
  static layOut(cells: readonly string[], widths: readonly number[]): CellGroup | null {
    // One writer for every layout: it is made for each connection's groups, and on a capture
    // of short connections a writer and its buffer each time showed in the profile.
    const scratch = (RowWriter.scratch ??= new RowWriter(() => {}, 1024));
    scratch.pos = 0;
    scratch.beginRow(widths);
    if (!cells.every((cell) => scratch.cell(cell)) || scratch.trailing > 0) return null;
    // From 1: the row's first space of padding is owed by the cell before the group.
    return { bytes: Uint8Array.from(scratch.buffer.subarray(1, scratch.pos)), columns: cells.length, owed: scratch.owed };
  }

  private static scratch: RowWriter | undefined;

  /** Places cells laid out by `layOut` (for the same column widths) as the next cells of the row. */
  group(g: CellGroup): void {
    this.pad();
    this.put(g.bytes);
    this.index += g.columns;
    this.owed = g.owed;
    this.trailing = 0;
  }

  endRow(): void {
    this.pos -= this.trailing;
    this.buffer[this.pos++] = 0x0a;
  }

  abandonRow(): void {
    this.pos = this.rowStart;
  }
}
