/**
 * What a stream that is not HTTP looks like, so "not HTTP" can say something useful: TLS (a
 * wss:// or https connection), or WebSocket frames (a capture that started after the
 * handshake). Judged from the first bytes only; pure.
 */
import type { Direction } from '../alerts.js';
import { looksLikeTls } from '../tls/sniff.js';
import { isControlOpcode, isReservedOpcode } from '../websocket/constants.js';

/**
 * Does the stream start with a WebSocket frame header this side could send (RFC 6455 §5.2):
 * a defined opcode, no RSV2/RSV3 (RSV1 is permessage-deflate's), MASK as §5.1 requires of the
 * sender, control frames short and final, a minimal length?
 */
function looksLikeFrame(bytes: Uint8Array, from: Direction): boolean {
  if (bytes.length < 2) return false;
  const b0 = bytes[0]!;
  const b1 = bytes[1]!;
  const opcode = b0 & 0x0f;
  if ((b0 & 0x30) !== 0 || isReservedOpcode(opcode)) return false;
  if (((b1 & 0x80) !== 0) !== (from === 'client')) return false;
  const len7 = b1 & 0x7f;
  if (isControlOpcode(opcode)) return (b0 & 0x80) !== 0 && len7 <= 125;
  return true;
}

/**
 * One line for a stream that is not HTTP: what it looks like, and what to do about it.
 * `bytes` starts where the stream (or the failed head) starts; `port` is the server's.
 */
export function notHttpNote(bytes: Uint8Array | null, from: Direction, port?: number): string {
  const base = from === 'client' ? 'the client stream is not HTTP' : 'the server spoke first';
  if (bytes === null || bytes.length === 0) return base;
  if (bytes.length >= 3 && looksLikeTls(bytes)) {
    // (A capture's TLS connections go to the TLS layer before they get here; live, a client
    // may speak TLS to a proxy that does not.)
    const hello = bytes[0] === 22 && bytes[5] === 1 ? ' (a ClientHello)' : bytes[0] === 22 && bytes[5] === 2 ? ' (a ServerHello)' : '';
    return `${base}: it is TLS${hello}, so wss:// or https, and its HTTP and WebSocket are encrypted`;
  }
  if (looksLikeFrame(bytes, from)) {
    return `${base}: its bytes look like WebSocket frames, so the capture probably started after the handshake; --decode-as ${port ?? 'PORT'} decodes them`;
  }
  return base;
}
