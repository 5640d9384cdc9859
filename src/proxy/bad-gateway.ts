/**
 * What a client hears when the target cannot be reached. A WebSocket client opens with an HTTP
 * request (RFC 6455 §4.1), so it is answered as a gateway answers: `502 Bad Gateway` (RFC 9110
 * §15.6.3) with one line saying why, rather than a connection closed under it that a browser
 * or the `ws` package reports as "socket hang up". A client that sent no HTTP request (or
 * nothing in time) is closed as before, with nothing written to it.
 */
import type { Duplex } from 'node:stream';

/** How long to wait for the client's first bytes once the target has failed. */
const FIRST_BYTES_MS = 1000;
/** How long a closed client may take to close its side before it is destroyed. */
const CLOSE_WAIT_MS = 2000;

/** The start of an HTTP/1.x request line: a method token, a space (RFC 9112 §3). */
export function looksLikeHttpRequest(bytes: Uint8Array): boolean {
  let i = 0;
  while (i < bytes.length && i < 32) {
    const b = bytes[i]!;
    // tchar, in practice the upper-case letters of methods (GET, POST, CONNECT …).
    if (b >= 0x41 && b <= 0x5a) i++;
    else return i > 0 && b === 0x20;
  }
  return false;
}

/** A short answer of the proxy's own: status line, a few fields, `text` as a one-line body; the connection then closes. */
export function proxyAnswer(status: number, reasonPhrase: string, text: string): Buffer {
  // The text is ours (addresses, error codes), but keep it one printable line all the same.
  const body = `wsproxy: ${text.replace(/[^\x20-\x7e]/g, '?')}\n`;
  return Buffer.from(
    `HTTP/1.1 ${status} ${reasonPhrase}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n' +
      '\r\n' +
      body,
    'latin1',
  );
}

/** The whole 502 answer, with the reason. */
export function badGatewayResponse(reason: string): Buffer {
  return proxyAnswer(502, 'Bad Gateway', reason);
}

/**
 * The target failed: answer the client with a 502 if it sent an HTTP request, then close it
 * cleanly (FIN, and close_notify over TLS), reading and discarding whatever else it sends.
 * Resolves once the client's socket is closed.
 */
export async function refuseClient(stream: Duplex, reason: string): Promise<void> {
  stream.on('error', () => {});
  const first = await new Promise<Buffer | null>((resolve) => {
    const done = (chunk: Buffer | null) => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      resolve(chunk);
    };
    const onData = (chunk: Buffer) => done(chunk);
    const onEnd = () => done(null);
    const timer = setTimeout(() => done(null), FIRST_BYTES_MS);
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.resume();
  });
  if (stream.destroyed) return;
  // The rest of what the client sends is read and dropped, so its writes never block.
  stream.on('data', () => {});
  stream.resume();
  if (first !== null && looksLikeHttpRequest(first)) stream.end(badGatewayResponse(reason));
  else stream.end();
  const timer = setTimeout(() => stream.destroy(), CLOSE_WAIT_MS);
  await new Promise((resolve) => stream.once('close', resolve));
  clearTimeout(timer);
}
