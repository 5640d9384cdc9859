/**
 * Does a stream start like TLS? A record header (RFC 8446 §5.1, RFC 5246 §6.2.1): content type
 * 20-23, major version 3, minor 0-4, a length a record may have. HTTP starts with a letter and a
 * WebSocket frame with these first bytes would use a reserved opcode, so neither is mistaken for
 * it. Imported at start (it is all the plain path pays); the TLS layer itself loads on first use.
 */
export function looksLikeTls(bytes: Uint8Array): boolean {
  if (bytes.length === 0) return false;
  const type = bytes[0]!;
  if (type < 20 || type > 23) return false;
  if (bytes.length >= 2 && bytes[1] !== 3) return false;
  if (bytes.length >= 3 && bytes[2]! > 4) return false;
  return bytes.length < 5 || ((bytes[3]! << 8) | bytes[4]!) <= 16384 + 2048;
}
