/**
 * Fitting text to a terminal width. Widths are counted in code points with chalk's SGR color
 * sequences (ESC [ … m) left out: everything from the traffic has gone through escapeText,
 * so no other escape can be in the text, and the views use no double-width characters.
 */

const SGR = /\x1b\[[0-9;]*m/g;

/** Characters a line takes on the terminal. */
export function visibleLength(line: string): number {
  let n = 0;
  for (const _ of line.replace(SGR, '')) n++;
  return n;
}

/** The line with its colors removed. */
export function stripColor(line: string): string {
  return line.replace(SGR, '');
}

/**
 * One line folded at spaces so that no piece is longer than `width`; the pieces after the
 * first are indented by the line's own indentation plus `hang` spaces. A word longer than the
 * room left is cut hard. Lines that already fit are returned unchanged.
 */
export function wrapLine(line: string, width: number, hang = 2): string {
  if (visibleLength(line) <= width) return line;
  const indent = /^ */.exec(stripColor(line))![0].length;
  const pad = ' '.repeat(Math.min(indent + hang, Math.max(0, width - 20)));
  const words = line.slice(lineStart(line, indent)).split(' ');
  const lines: string[] = [];
  let current = line.slice(0, lineStart(line, indent));
  let currentLength = indent;
  let fresh = true;
  for (const word of words) {
    const w = visibleLength(word);
    if (!fresh && currentLength + 1 + w > width) {
      lines.push(current);
      current = pad;
      currentLength = pad.length;
      fresh = true;
    }
    if (fresh) {
      let rest = word;
      let restLength = w;
      while (currentLength + restLength > width && width - currentLength > 0) {
        const [head, tail] = cut(rest, width - currentLength);
        lines.push(current + head);
        current = pad;
        currentLength = pad.length;
        rest = tail;
        restLength = visibleLength(tail);
      }
      current += rest;
      currentLength += restLength;
      fresh = false;
    } else {
      current += ' ' + word;
      currentLength += 1 + w;
    }
  }
  lines.push(current);
  return lines.map((l) => l.replace(/ +$/, '')).join('\n');
}

/** Every line of a block wrapped to `width` (see wrapLine); keeps the trailing newline. */
export function wrapBlock(text: string, width: number, hang = 2): string {
  if (text === '') return text;
  const trailing = text.endsWith('\n');
  const body = trailing ? text.slice(0, -1) : text;
  const out = body
    .split('\n')
    .map((l) => wrapLine(l, width, hang))
    .join('\n');
  return trailing ? out + '\n' : out;
}

/** Index in `line` just after its first `indent` visible spaces (colors before them are kept). */
function lineStart(line: string, indent: number): number {
  let seen = 0;
  let i = 0;
  while (i < line.length && seen < indent) {
    if (line[i] === '\x1b') {
      const m = /^\x1b\[[0-9;]*m/.exec(line.slice(i));
      if (m) {
        i += m[0].length;
        continue;
      }
    }
    if (line[i] === ' ') seen++;
    i++;
  }
  return i;
}

/** Splits `word` after `n` visible characters (color sequences do not count). */
function cut(word: string, n: number): [string, string] {
  let seen = 0;
  let i = 0;
  while (i < word.length && seen < n) {
    if (word[i] === '\x1b') {
      const m = /^\x1b\[[0-9;]*m/.exec(word.slice(i));
      if (m) {
        i += m[0].length;
        continue;
      }
    }
    const cp = word.codePointAt(i)!;
    i += cp > 0xffff ? 2 : 1;
    seen++;
  }
  return [word.slice(0, i), word.slice(i)];
}
