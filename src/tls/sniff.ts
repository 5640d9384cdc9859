/**
 * Is a connection TLS? Imported at start (it is all the plain path pays); the TLS layer itself
 * loads on first use. A record header (RFC 8446 §5.1, RFC 5246 §6.2.1) is content type 20-23,
 * major version 3, minor 0-4, a length a record may have. HTTP starts with a letter and a
 * WebSocket frame with these first bytes would use a reserved opcode, so neither is mistaken
 * for it.
 */

const MAX_FRAGMENT = 16384 + 2048;

/** Do these bytes start like a TLS record? (the first bytes of a connection seen from its start) */
export function looksLikeTls(bytes: Uint8Array): boolean {
  if (bytes.length === 0) return false;
  const type = bytes[0]!;
  if (type < 20 || type > 23) return false;
  if (bytes.length >= 2 && bytes[1] !== 3) return false;
  if (bytes.length >= 3 && bytes[2]! > 4) return false;
  return bytes.length < 5 || ((bytes[3]! << 8) | bytes[4]!) <= MAX_FRAGMENT;
}

/** A TLS 1.2/1.3 application data record header at `at`: `17 03 03` and a length; its length, or -1. */
function applicationData(bytes: Uint8Array, at: number): number {
  if (at + 5 > bytes.length || bytes[at] !== 23 || bytes[at + 1] !== 3 || bytes[at + 2] !== 3) return -1;
  const length = (bytes[at + 3]! << 8) | bytes[at + 4]!;
  return length <= MAX_FRAGMENT ? length : -1;
}

/**
 * TLS seen from the middle (a capture that started after the connection): somewhere in the
 * first bytes, an application data record header whose record ends where the bytes end or
 * where another record header begins. A capture usually starts inside a record, so the bytes
 * before it are the tail of one; the chain makes random bytes unlikely to pass.
 */
export function looksLikeTlsMidstream(bytes: Uint8Array): boolean {
  for (let at = bytes.indexOf(23); at >= 0; at = bytes.indexOf(23, at + 1)) {
    const length = applicationData(bytes, at);
    if (length < 0) continue;
    const next = at + 5 + length;
    if (next === bytes.length || (next + 3 <= bytes.length && looksLikeTls(bytes.subarray(next, next + 5)))) return true;
  }
  return false;
}
