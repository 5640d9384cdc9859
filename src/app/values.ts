/**
 * Decoded values (AppValue) written three ways: compact and cut for a summary line, as JSON
 * for NDJSON (bytes as `{ "length", "hex" }`, hex capped like payloads), indented for --explain.
 */
import type { AppValue } from './types.js';

/** Characters of a value a summary line holds before it is cut with "…". */
export const SUMMARY_VALUE_CHARS = 200;
/** Bytes of hex shown for bytes inside a summary. */
const SUMMARY_HEX_BYTES = 8;

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

function hexOf(bytes: Uint8Array, max: number): string {
  const end = Math.min(bytes.length, max);
  let out = '';
  for (let i = 0; i < end; i++) out += HEX[bytes[i]!];
  return out;
}

/** Bytes in a summary: `<4 bytes 01020304>`. */
export function bytesNote(bytes: Uint8Array): string {
  return `<${bytes.length} byte${bytes.length === 1 ? '' : 's'}${bytes.length > 0 ? ` ${hexOf(bytes, SUMMARY_HEX_BYTES)}${bytes.length > SUMMARY_HEX_BYTES ? '…' : ''}` : ''}>`;
}

/**
 * The value as compact JSON (bytes as `<n bytes …>`), cut to `max` characters with "…". The
 * writing stops once the line is full, so a huge argument costs no more than a short one.
 */
export function compactValue(value: AppValue, max = SUMMARY_VALUE_CHARS): string {
  const out = { text: '', full: false };
  write(value, out, max);
  return out.full ? out.text.slice(0, max) + '…' : out.text;
}

function put(out: { text: string; full: boolean }, piece: string, max: number): boolean {
  out.text += piece;
  if (out.text.length > max) out.full = true;
  return !out.full;
}

function write(value: AppValue, out: { text: string; full: boolean }, max: number): boolean {
  if (value === null || typeof value !== 'object') return put(out, JSON.stringify(value) ?? 'null', max);
  if (value instanceof Uint8Array) return put(out, bytesNote(value), max);
  if (Array.isArray(value)) {
    if (!put(out, '[', max)) return false;
    for (let i = 0; i < value.length; i++) {
      if (i > 0 && !put(out, ',', max)) return false;
      if (!write(value[i]!, out, max)) return false;
    }
    return put(out, ']', max);
  }
  if (!put(out, '{', max)) return false;
  let first = true;
  for (const key of Object.keys(value)) {
    if (!first && !put(out, ',', max)) return false;
    first = false;
    if (!put(out, `${JSON.stringify(key)}:`, max)) return false;
    if (!write(value[key]!, out, max)) return false;
  }
  return put(out, '}', max);
}

/** Does the value hold bytes anywhere? (NDJSON then rewrites it; most values are plain JSON.) */
function hasBytes(value: AppValue): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (value instanceof Uint8Array) return true;
  if (Array.isArray(value)) return value.some(hasBytes);
  for (const key in value) if (hasBytes(value[key]!)) return true;
  return false;
}

/** The value as plain JSON for NDJSON: bytes become `{ "length": n, "hex": "…" }` (at most `maxHex` bytes of hex). */
export function valueToJson(value: AppValue, maxHex: number): unknown {
  return hasBytes(value) ? rewrite(value, maxHex) : value;
}

function rewrite(value: AppValue, maxHex: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return { length: value.length, hex: hexOf(value, maxHex) };
  if (Array.isArray(value)) return value.map((v) => rewrite(v, maxHex));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = rewrite(value[key]!, maxHex);
  return out;
}

/** The value indented (two spaces), at most `maxLines` lines (the rest counted), for --explain. */
export function prettyValue(value: AppValue, maxLines = 40, maxHex = 32): string[] {
  const lines = (JSON.stringify(valueToJson(value, maxHex), null, 2) ?? 'null').split('\n');
  if (lines.length <= maxLines) return lines;
  return [...lines.slice(0, maxLines - 1), `… ${lines.length - maxLines + 1} more lines`];
}

/** JSON.parse that never throws: the value, or undefined when the text is not JSON. */
export function parseJson(text: string): AppValue | undefined {
  try {
    return JSON.parse(text) as AppValue;
  } catch {
    return undefined;
  }
}

/** Is the value a JSON object (not an array, not null)? */
export function isObject(value: AppValue | undefined): value is { [key: string]: AppValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}
