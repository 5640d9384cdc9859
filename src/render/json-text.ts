/**
 * Text messages that are JSON but belong to no recognised protocol are still shown as JSON:
 * on one line in the table (JSON spread over lines, as a pretty-printer writes it, is made
 * compact), indented in --explain. Only text that looks like an object or an array is tried,
 * and only when it has line breaks or tabs, so plain traffic pays a scan of what is shown.
 */
import { prettyValue } from '../app/values.js';
import type { AppValue } from '../app/types.js';

function opensContainer(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) return true;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return false;
}

function parseContainer(text: string): AppValue | undefined {
  if (!opensContainer(text)) return undefined;
  try {
    const value = JSON.parse(text) as AppValue;
    return typeof value === 'object' && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Does this text need compacting (a line break or a tab)? Looks at most `upTo` characters. */
export function spreadOverLines(text: string, upTo = text.length): boolean {
  const end = Math.min(text.length, upTo);
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || c === 0x0d || c === 0x09) return true;
  }
  return false;
}

/** JSON text spread over lines, on one line; null when it is not an object or array of JSON. */
export function compactJson(text: string): string | null {
  const value = parseContainer(text);
  return value === undefined ? null : JSON.stringify(value);
}

/** JSON text (an object or an array) indented, at most `maxLines` lines; null when it is not. */
export function prettyJson(text: string, maxLines = 40): string[] | null {
  const value = parseContainer(text);
  return value === undefined ? null : prettyValue(value, maxLines);
}
