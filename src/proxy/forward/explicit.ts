/**
 * `--mode proxy`: wsproxy as an explicit HTTP/1.1 proxy (RFC 9110 §9.3.6, RFC 9112 §3.2), the
 * way browsers, `HTTPS_PROXY` clients and curl -x use one. Each client connection starts with
 * one request to the proxy:
 *
 * - `CONNECT host:port`: the target is connected, the client told `200`, and the tunnel's first
 *   bytes decide: a TLS ClientHello is intercepted (a leaf certificate for its SNI, minted by the
 *   local CA; a verified TLS connection to the target) unless the host is in --ignore-hosts or
 *   interception is off, anything else (a ws:// upgrade through CONNECT) is plaintext already.
 * - `GET http://host/path` (absolute-form, `ws://` too): the request goes on in origin-form.
 *
 * Either way the connection is then relayed and dissected exactly as in the reverse mode, with
 * the real host and port as the server end. Hosts outside --allow-hosts (when given) are
 * refused with 403; the proxy reaches nothing else.
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { ProxyVia } from '../../engine/events.js';
import { formatHostPort } from '../address.js';
import { looksLikeHttpRequest, proxyAnswer, refuseClient } from '../bad-gateway.js';
import type { RelaySide } from '../relay.js';
import { ready } from '../ready.js';
import type { HostPatterns } from './hosts.js';
import { originFormHead, parseProxyRequest, readHead, RequestError, type ProxyRequest } from './request-head.js';

/** The CA's side of interception: a server context per host name (src/ca). */
export interface LeafSource {
  contextFor(host: string): SecureContext;
}

export interface ForwardOptions {
  /** Only these hosts are served (others: 403); null: every host. */
  allowHosts: HostPatterns | null;
  /** Served, but passed through as raw bytes: TLS not opened, no fault or script applied. */
  ignoreHosts: HostPatterns;
  /** Opens TLS inside CONNECT; null: TLS tunnels are passed through. Called on the first TLS tunnel. */
  leaves: (() => LeafSource) | null;
}

/** What the proxy gives the forward mode for one accepted connection. */
export interface ForwardLink {
  conn: number;
  raw: Socket;
  from: string;
  connectTimeout: number;
  /** For reading the request to the proxy, and the first bytes of a tunnel; 0: connectTimeout. */
  handshakeTimeout: number;
  report(code: string, message: string): void;
  /** TCP to the target; rejects with an error targetFailure() explains. */
  connect(host: string, port: number): Promise<Socket>;
  /** TLS over an open connection to the target, verified unless --insecure; its keys logged. */
  secure(socket: Socket, servername: string | null): Promise<TLSSocket>;
  /** Why connecting to host:port failed, in words. */
  targetFailure(error: unknown, host: string, port: number, tls: boolean): string;
  /** Logs the keys of a TLS socket towards the client (--keylog). */
  logKeys(socket: TLSSocket): void;
  /**
   * Relays and dissects, as the reverse mode does; `intervene`: faults and scripts apply;
   * `http`: the client speaks HTTP first, so --handshake-timeout applies.
   */
  relay(client: RelaySide, server: RelaySide, via: ProxyVia, intervene: boolean, http: boolean): Promise<void>;
}

/**
 * Whether a failed TLS handshake looks like the client refusing our certificate: a TLS alert
 * about it (RFC 8446 §6.2: bad_certificate, unknown_ca, certificate_unknown …), or the client
 * closing the connection in the middle (what some clients do instead of an alert).
 */
function refusedCertificate(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  if (e.code === 'ECONNRESET') return true;
  return /ALERT_(BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|CERTIFICATE_REVOKED|CERTIFICATE_EXPIRED|DECRYPT_ERROR|ACCESS_DENIED)/i.test(e.code ?? '') ||
    /alert (bad certificate|unknown ca|certificate unknown|unsupported certificate)/i.test(e.message ?? '');
}

/** Waits for a stream's first bytes, puts them back, and returns them; null when it ended or the time ran out. */
function firstBytes(stream: Socket, timeout: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(null), timeout);
    const done = (chunk: Buffer | null) => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.pause();
      if (chunk !== null) stream.unshift(chunk);
      resolve(chunk);
    };
    const onData = (chunk: Buffer) => done(chunk);
    const onEnd = () => done(null);
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.resume();
  });
}

/** Ends a client connection with a short answer of the proxy's own. */
function answer(raw: Socket, status: number, reasonPhrase: string, text: string): void {
  raw.on('error', () => {});
  raw.end(proxyAnswer(status, reasonPhrase, text));
  raw.resume();
  setTimeout(() => raw.destroy(), 2000).unref();
}

/** A client closing this soon after the TLS handshake, having sent nothing, is taken to have refused our certificate. */
const REFUSED_WITHIN_MS = 1000;

/** TLS records start with content type 22, handshake (RFC 8446 §5.1), then a 3.x version. */
const looksLikeTls = (bytes: Buffer) => bytes.length >= 2 && bytes[0] === 0x16 && bytes[1] === 0x03;

export class ForwardProxy {
  /** Hosts whose clients refused our certificate, reported once each. */
  private readonly refusedBy = new Set<string>();
  private leafSource: LeafSource | null = null;

  constructor(private readonly options: ForwardOptions) {}

  async serve(link: ForwardLink): Promise<void> {
    const { raw, conn, from } = link;
    const timeout = link.handshakeTimeout > 0 ? link.handshakeTimeout : link.connectTimeout;
    const read = await readHead(raw, timeout);
    if ('failed' in read) {
      if (read.failed === 'too-large') answer(raw, 431, 'Request Header Fields Too Large', 'the request head is over 64 KiB');
      else raw.destroy();
      if (read.failed === 'timeout') link.report('proxy.handshake-timeout', `#${conn} ${from}: no whole request to the proxy within ${timeout / 1000} s; closed.`);
      return;
    }
    let request: ProxyRequest;
    try {
      request = parseProxyRequest(read.head);
    } catch (error) {
      if (!(error instanceof RequestError)) throw error;
      link.report('proxy.bad-request', `#${conn} ${from}: ${error.message}; answered ${error.status}.`);
      answer(raw, error.status, 'Bad Request', error.message);
      return;
    }
    const where = formatHostPort(request);
    if (this.options.allowHosts !== null && !this.options.allowHosts.matches(request.host, request.port)) {
      link.report('proxy.host-refused', `#${conn} ${from}: ${request.method === 'CONNECT' ? 'CONNECT' : request.method} ${where} refused: not in --allow-hosts (answered 403).`);
      answer(raw, 403, 'Forbidden', `${where} is not in --allow-hosts`);
      return;
    }
    const ignored = this.options.ignoreHosts.matches(request.host, request.port);

    let upstream: Socket;
    try {
      upstream = await link.connect(request.host, request.port);
    } catch (error) {
      const reason = link.targetFailure(error, request.host, request.port, false);
      link.report('proxy.target-failed', `#${conn} ${from}: ${reason}; answered 502.`);
      if (!raw.destroyed) answer(raw, 502, 'Bad Gateway', reason);
      return;
    }
    const server: RelaySide = { stream: upstream, raw: upstream };

    if (request.scheme !== 'connect') {
      raw.unshift(Buffer.concat([originFormHead(request), read.rest]));
      await link.relay({ stream: raw, raw }, server, { host: request.host, port: request.port, request: 'absolute-form', tls: null }, !ignored, true);
      return;
    }

    raw.write(`${request.version} 200 Connection established\r\n\r\n`);
    if (read.rest.length > 0) raw.unshift(read.rest);
    const first = await firstBytes(raw, timeout);
    if (first === null) {
      upstream.destroy();
      raw.destroy();
      return;
    }
    if (!looksLikeTls(first) || ignored || this.options.leaves === null) {
      const tls = looksLikeTls(first) ? 'passed-through' : null;
      await link.relay({ stream: raw, raw }, server, { host: request.host, port: request.port, request: 'CONNECT', tls }, !ignored && tls === null, looksLikeHttpRequest(first));
      return;
    }
    await this.intercept(link, request, upstream);
  }

  /** TLS inside CONNECT: our leaf towards the client, a verified connection to the target. */
  private async intercept(link: ForwardLink, request: ProxyRequest, upstream: Socket): Promise<void> {
    const { raw, conn, from } = link;
    this.leafSource ??= this.options.leaves!();
    const leaves = this.leafSource;
    let sniName: string | null = null;
    const secure = new TLSSocket(raw, {
      isServer: true,
      secureContext: leaves.contextFor(request.host),
      SNICallback: (name, callback) => {
        sniName = name;
        try {
          callback(null, leaves.contextFor(name));
        } catch (error) {
          callback(error as Error);
        }
      },
      // HTTP/1.1 only: a WebSocket over HTTP/2 (RFC 8441) is not what this proxy dissects.
      ALPNProtocols: ['http/1.1'],
      allowHalfOpen: true,
    } as ConstructorParameters<typeof TLSSocket>[1]);
    secure.on('error', () => {});
    link.logKeys(secure);
    const host = () => sniName ?? request.host;
    const refused = (how: string) => {
      if (this.refusedBy.has(host())) return;
      this.refusedBy.add(host());
      link.report(
        'proxy.client-refused-cert',
        `#${conn} ${from}: the client ${how} our certificate for ${host()} (it pins its certificates, or does not trust wsproxy's CA: see wsproxy ca); --ignore-hosts ${host()} passes it through. Said once per host.`,
      );
    };
    try {
      await ready(secure as unknown as Socket, 'secure', link.connectTimeout, () => new Error(`no TLS handshake within ${link.connectTimeout / 1000} s`));
    } catch (error) {
      upstream.destroy();
      secure.destroy();
      if (refusedCertificate(error)) refused('refused');
      else link.report('proxy.client-tls-failed', `#${conn} ${from}: TLS handshake with the client for ${host()} failed: ${(error as { reason?: string }).reason ?? (error as Error).message}`);
      return;
    }
    // The name from the ClientHello: SNICallback is not called when a session is resumed.
    const servername = (secure as { servername?: unknown }).servername;
    if (typeof servername === 'string' && servername !== '') sniName = servername;
    // A client that checks the certificate after the handshake (Node's tls) closes at once,
    // before sending anything. One that closes later is more likely an unused preconnect.
    const handshakeDone = performance.now();
    const first = await firstBytes(secure as unknown as Socket, link.handshakeTimeout > 0 ? link.handshakeTimeout : link.connectTimeout);
    if (first === null) {
      upstream.destroy();
      secure.destroy();
      if (performance.now() - handshakeDone < REFUSED_WITHIN_MS) refused('closed the connection at once after checking');
      return;
    }
    let server: TLSSocket;
    try {
      server = await link.secure(upstream, sniName ?? request.host);
    } catch (error) {
      const reason = link.targetFailure(error, request.host, request.port, true);
      link.report('proxy.target-failed', `#${conn} ${from}: ${reason}; answered 502 inside the tunnel.`);
      upstream.destroy();
      await refuseClient(secure, reason);
      return;
    }
    await link.relay({ stream: secure, raw }, { stream: server, raw: upstream }, { host: request.host, port: request.port, request: 'CONNECT', tls: 'intercepted', ...(sniName !== null ? { sni: sniName } : {}) }, true, true);
  }
}
