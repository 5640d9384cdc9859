/**
 * The first request a client sends to an explicit proxy (RFC 9112 §3.2): `CONNECT host:port`
 * (authority-form, §3.2.3) or `GET http://host/path` (absolute-form, §3.2.2). Read off the
 * socket whole before anything is relayed, bounded in size and time.
 */
import type { Socket } from 'node:net';

/** A request head larger than this is refused (as the engine bounds one: 64 KiB). */
export const MAX_HEAD = 64 * 1024;

export interface ProxyRequest {
  method: string;
  /** The request-target as sent. */
  target: string;
  version: string;
  /** The header fields as sent, in order: name, value, and the line itself. */
  headers: [string, string, string][];
  /** Where the request goes: from the authority (CONNECT) or the absolute URI. */
  host: string;
  port: number;
  /** `http:` or `ws:` (absolute-form; `ws:` is RFC 6455 §3's scheme), or `connect`. */
  scheme: 'http' | 'ws' | 'connect';
}

export type HeadResult = { head: Buffer; rest: Buffer } | { failed: 'closed' | 'timeout' | 'too-large' };

const END = Buffer.from('\r\n\r\n');

/** Reads until the blank line that ends the head; what came after it is `rest`. */
export function readHead(socket: Socket, timeout: number): Promise<HeadResult> {
  return new Promise((resolve) => {
    let buffered: Buffer = Buffer.alloc(0);
    const timer = timeout > 0 ? setTimeout(() => finish({ failed: 'timeout' }), timeout) : null;
    const finish = (result: HeadResult) => {
      if (timer !== null) clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      const from = Math.max(0, buffered.length - 3);
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf(END, from);
      if (end >= 0) finish({ head: buffered.subarray(0, end + 4), rest: buffered.subarray(end + 4) });
      else if (buffered.length > MAX_HEAD) finish({ failed: 'too-large' });
    };
    const onEnd = () => finish({ failed: 'closed' });
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.resume();
  });
}

/** An unusable request: the status to answer and why. */
export class RequestError extends Error {
  constructor(
    readonly status: 400 | 405,
    message: string,
  ) {
    super(message);
  }
}

function defaultPort(scheme: string): number {
  return scheme === 'https' || scheme === 'wss' ? 443 : 80;
}

/** Parses the head; throws RequestError for what a proxy cannot serve. */
export function parseProxyRequest(head: Buffer): ProxyRequest {
  const lines = head.toString('latin1').split('\r\n');
  const line = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) (HTTP\/\d\.\d)$/.exec(lines[0] ?? '');
  if (line === null) throw new RequestError(400, 'not an HTTP/1.x request line');
  const [, method, target, version] = line as unknown as [string, string, string, string];
  const headers: [string, string, string][] = [];
  for (const text of lines.slice(1)) {
    if (text === '') continue;
    const colon = text.indexOf(':');
    if (colon <= 0) throw new RequestError(400, 'a header line without a name');
    headers.push([text.slice(0, colon), text.slice(colon + 1).trim(), text]);
  }
  if (method === 'CONNECT') {
    // authority-form: host:port, the port required (RFC 9110 §9.3.6).
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+)):(\d{1,5})$/.exec(target);
    const port = m ? Number(m[3]) : 0;
    if (m === null || port < 1 || port > 65535) throw new RequestError(400, `CONNECT needs host:port, got "${target}"`);
    return { method, target, version, headers, host: (m[1] ?? m[2]!).toLowerCase(), port, scheme: 'connect' };
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new RequestError(400, `a proxy needs an absolute URI (http://host/path), got "${target.slice(0, 80)}"`);
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== 'http' && scheme !== 'ws') throw new RequestError(400, `only http:// and ws:// requests are relayed in the clear (https:// goes through CONNECT), got ${scheme}://`);
  if (url.hostname === '') throw new RequestError(400, 'the URI has no host');
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { method, target, version, headers, host: host.toLowerCase(), port: url.port === '' ? defaultPort(scheme) : Number(url.port), scheme };
}

/** Header fields addressed to the proxy itself, not passed on (RFC 9110 §11.7.2; Proxy-Connection is a browsers' relic). */
const FOR_THE_PROXY = /^proxy-(authorization|connection)$/i;

/**
 * The head to send upstream for an absolute-form request: the request-target in origin-form
 * (RFC 9112 §3.2.1: path and query), the fields addressed to the proxy dropped, everything else
 * as sent. Unless it is an upgrade, `Connection: close` replaces the client's keep-alive: the
 * next request on a client's connection may go to another host, so each connection to the
 * proxy carries one request to one origin, and a browser opens the next one for the next request.
 */
export function originFormHead(request: ProxyRequest): Buffer {
  const url = new URL(request.target);
  const path = `${url.pathname || '/'}${url.search}`;
  const upgrade = request.headers.some(([name, value]) => /^connection$/i.test(name) && /(^|,)\s*upgrade\s*(,|$)/i.test(value));
  const lines = [`${request.method} ${path} ${request.version}`];
  for (const [name, , line] of request.headers) {
    if (FOR_THE_PROXY.test(name)) continue;
    if (!upgrade && /^(connection|keep-alive)$/i.test(name)) continue;
    lines.push(line);
  }
  if (!upgrade) lines.push('Connection: close');
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}
