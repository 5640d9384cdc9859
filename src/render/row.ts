/**
 * One table row, laid out exactly as cli-table3 lays out a borderless one-row table (left
 * padding 1, right padding 0, no word wrap, cells cut with "…"), without building a table per
 * row: cli-table3 re-merges its options, builds a regex per cell (ansi-regex) and measures every
 * cell with string-width, which took 85% of `wsdump capture.pcap` on a bulk capture. Rows the
 * fast path cannot lay out with certainty (wide or combining characters, a colored cell that
 * must be cut, a newline) still go through cli-table3, so output never changes.
 */
import Table from 'cli-table3';

const NO_CHARS = { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '' };

/** The row as cli-table3 draws it, trailing spaces removed, with a newline. */
export function cliTableRow(cells: readonly string[], widths: readonly number[]): string {
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
