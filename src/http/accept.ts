/**
 * Sec-WebSocket-Key / Sec-WebSocket-Accept (RFC 6455 §1.3, §4.1, §4.2.2).
 */
import { digest } from '../digest.js';
import { WEBSOCKET_GUID } from '../websocket/constants.js';

/**
 * §4.2.2 step 5.4: base64(SHA-1(key + GUID)). The key is hashed as latin1 so that the bytes
 * hashed are exactly the bytes that crossed the wire (header values are decoded as latin1).
 */
export function computeAccept(key: string): string {
  return digest('sha1', Buffer.from(key + WEBSOCKET_GUID, 'latin1'), 'base64');
}

/**
 * §4.1: the key is "a randomly selected 16-byte value that has been base64-encoded".
 * 16 bytes encode to 22 characters plus "==". Strict (RFC 4648 §3.5): the unused low 4 bits of
 * the last character must be zero, so only one spelling of each 16-byte value is accepted.
 */
export function isValidKey(key: string): boolean {
  return /^[A-Za-z0-9+/]{21}[AQgw]==$/.test(key);
}
