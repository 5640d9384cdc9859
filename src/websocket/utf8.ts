import { isUtf8 } from 'node:buffer';

/**
 * ignoreBOM: a byte order mark at the start of a payload is kept in the text (and shown by the
 * views, escaped), not silently dropped as TextDecoder does by default: it crossed the wire.
 */
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** RFC 3629 validity of a complete byte sequence (what RFC 6455 §8.1 requires of a text message). */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return isUtf8(bytes);
}

/**
 * Validity of a sequence that was cut at an arbitrary byte (a message truncated by a limit):
 * a code point left unfinished at the very end is not an error, anything else is. A fatal
 * decoder in streaming mode has exactly these semantics: it holds back an unfinished tail.
 */
export function isValidUtf8Prefix(bytes: Uint8Array): boolean {
  if (isUtf8(bytes)) return true;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/** Decode UTF-8, replacing invalid sequences with U+FFFD (for display only); a leading BOM is kept. */
export function decodeUtf8Lossy(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
