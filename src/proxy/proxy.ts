/**
 * wsproxy as a library: a TCP (or TLS) listener that relays each accepted client to its own
 * upstream connection and dissects what crosses it, emitting the same events wsdump emits.
 *
 *   const proxy = await startProxy({ listen: { port: 9000 }, target: 'localhost:8080', onEvent: console.log });
 *   …
 *   await proxy.close();
 */
import { createServer, connect as netConnect, isIP, type LookupFunction, type Server, type Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { connect as tlsConnect, createSecureContext, rootCertificates, TLSSocket, type ConnectionOptions, type SecureContext } from 'node:tls';
import { AppLayer, type AppLayerOptions } from '../app/layer.js';
import { canRequireModules, preloadDecoders } from '../app/load.js';
import type { DissectEvent } from '../engine/events.js';
import type { Limits } from '../websocket/types.js';
import { canonicalIp, formatHostPort, parseTarget, sameFamily, type HostPort, type ProxyTarget } from './address.js';
import { refuseClient } from './bad-gateway.js';
import { ready } from './ready.js';
import { ConnectionRelay, DEFAULT_MAX_BUFFERED, resetSide, type RelaySide } from './relay.js';
import { ForwardProxy, type ForwardOptions } from './forward/explicit.js';
import type { ProxyVia } from '../engine/events.js';
import { HttpPatterns } from '../engine/http-patterns.js';
import { CaptureRecording, captureClock, ConnectionTap, describe, notice } from './tap.js';
import { TapQueue } from './tap-queue.js';
import { hasFaults, type FaultOptions } from './intercept/faults.js';
import { ConnectionInterceptor } from './intercept/interceptor.js';
import { LegRecording } from './intercept/legs.js';
import { ScriptHost, type HookName, type InterceptScript } from './intercept/script.js';
import { DEFAULT_LIMITS } from '../websocket/types.js';

export interface ProxyOptions {
  /** Where to listen. Host default 127.0.0.1 (all interfaces only when asked: 0.0.0.0 or ::); port 0 picks a free one. */
  listen?: { host?: string; port?: number };
  /** `[host:]port`, `ws://host:port`, `wss://host:port`, or the parsed form. Not with `forward`. */
  target?: string | ProxyTarget;
  /**
   * Be an explicit HTTP proxy instead (src/proxy/forward): each client says where it goes, with
   * CONNECT or an absolute URI. Bound beyond loopback, `allowHosts` is required (no open relay).
   */
  forward?: ForwardOptions;
  /** How target names are resolved (net.connect's `lookup`); default: the system's resolver. */
  lookup?: LookupFunction;
  /** wss:// target (and intercepted tunnels): skip certificate verification. */
  insecure?: boolean;
  /** wss:// target (and intercepted tunnels): CA certificates (PEM) trusted in addition to the system's. */
  ca?: (string | Buffer)[];
  /** Accept TLS from clients with this certificate and key (PEM): the decrypted traffic is dissected. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /**
   * Each line of key log (SSLKEYLOGFILE format, newline included) of both TLS legs: towards the
   * client (with `tls`) and towards a wss:// target. They are secrets: the CLI appends them to
   * `--keylog FILE` so a capture taken on the wire decrypts in wsdump or Wireshark.
   */
  onKeylog?: (line: Buffer) => void;
  /** Record the relayed traffic as a pcap file into this stream (closed by close()). */
  record?: Writable;
  /** Bytes the recording may lag behind before it stops (default 64 MiB). */
  maxRecordLag?: number;
  limits?: Partial<Limits>;
  /** The application layer, as for wsdump (src/app): default on, each connection recognised on its own; false: off. */
  app?: AppLayerOptions | false;
  /** Clients served at once; more are refused (closed at once) with a notice. Default 256. */
  maxConnections?: number;
  /** Milliseconds to wait for the target (TCP and TLS handshakes), and for a TLS client's handshake. Default 10000. */
  connectTimeout?: number;
  /**
   * Bytes the relay may queue towards one side of a connection (relayed, not yet taken by the
   * kernel) before it stops reading from the other side; per direction, plus one read of at
   * most 64 KiB. Default 65536.
   */
  maxBufferedBytes?: number;
  /** Milliseconds without a byte either way after which a connection is closed on both sides and reported. 0 (default): never. */
  idleTimeout?: number;
  /**
   * Milliseconds a client has to finish the header block of its request, and the target then
   * to finish its answer's, before the connection is closed on both sides and reported
   * (`proxy.handshake-timeout`). 0 (default): no deadline; wsproxy's --handshake-timeout is 10 s.
   */
  handshakeTimeout?: number;
  /**
   * Milliseconds a WebSocket Ping may go without its Pong before a `proxy.ping-unanswered` notice
   * says so, live. Default 5000; 0: never.
   */
  pingTimeout?: number;
  /** An HTTP answer held this long (ms) is long polling, when the client asks again. Default 1000. */
  longPollMs?: number;
  /**
   * Bytes forwarded but not yet dissected, all connections together, before the relay stops
   * reading until the dissection has caught up to half of it. Default 2 MiB (a larger backlog
   * bought no throughput and left more memory behind after a bulk transfer).
   */
  maxTapBacklog?: number;
  /**
   * Every event, in the order things happened. Called after the bytes have been forwarded, when
   * the sockets that were ready have been served (the dissection runs then): keep it fast (the
   * CLI queues text).
   */
  onEvent?: (event: DissectEvent) => void;
  /**
   * Built-in faults (src/proxy/intercept): with any, each connection's WebSocket traffic goes
   * through an interceptor that applies them; with none, bytes are relayed untouched.
   */
  faults?: FaultOptions;
  /**
   * A script's hooks (loadScript): each upgraded connection's data messages go through them,
   * with permessage-deflate negotiated away. With `record`, both legs are recorded.
   */
  script?: InterceptScript;
  /** A hook failed for the first time (later failures are counted): its name, the connection, the error with its stack. */
  onScriptError?: (hook: HookName, conn: number, error: unknown) => void;
  /** onEvent threw (a bug in the caller): reported here, and the relay goes on. Default: ignored. */
  onCallbackError?: (error: unknown) => void;
}

export interface RunningProxy {
  /** The address actually listened on. */
  readonly address: HostPort;
  /** The reverse mode's target; null in the forward mode. */
  readonly target: ProxyTarget | null;
  /** Connections being relayed (or connecting) now. */
  readonly connections: number;
  /** Connections accepted so far (the last connection number). */
  readonly accepted: number;
  /** Bytes relayed but still queued in the proxy towards a peer that has not taken them, all connections. */
  readonly buffered: number;
  /** Bytes relayed but not yet dissected, all connections (at most about maxTapBacklog). */
  readonly tapBacklog: number;
  /** Bytes relayed so far, both directions, all connections. */
  readonly relayed: number;
  /** How many times each script hook failed, all connections (empty without a script). */
  readonly scriptFailures: ReadonlyMap<HookName, number>;
  /**
   * Stops accepting, sends each open WebSocket connection's two sides a Close 1001 ("going
   * away") of the proxy's own at a frame boundary, lets open connections finish for `grace`
   * milliseconds (default 2000), resets those still open, waits for their summaries and
   * flushes the recording.
   */
  close(options?: { grace?: number }): Promise<void>;
}

/** The proxy could not start (address in use, unusable certificate …): the message is one line. */
export class ProxyError extends Error {}

interface Entry {
  abort(): void;
  goAway(): void;
  buffered(): number;
  done: Promise<void>;
}

function listenError(error: NodeJS.ErrnoException, where: string): ProxyError {
  switch (error.code) {
    case 'EADDRINUSE':
      return new ProxyError(`cannot listen on ${where}: the address is already in use`);
    case 'EACCES':
      return new ProxyError(`cannot listen on ${where}: permission denied (ports below 1024 need privileges)`);
    case 'EADDRNOTAVAIL':
      return new ProxyError(`cannot listen on ${where}: that address is not one of this machine's`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ProxyError(`cannot listen on ${where}: unknown host`);
    default:
      return new ProxyError(`cannot listen on ${where}: ${error.message}`);
  }
}

const CERT_HINT = ' (--insecure skips the check, --ca FILE adds a CA)';

/** Why the target could not be used, in words. */
function targetError(error: NodeJS.ErrnoException & { errors?: NodeJS.ErrnoException[] }, target: ProxyTarget): string {
  const code = error.code ?? error.errors?.[0]?.code;
  const where = formatHostPort(target);
  switch (code) {
    case 'ECONNREFUSED':
      return `the target ${where} refused the connection (nothing listens there)`;
    case 'ETIMEDOUT':
      return `the target ${where} did not answer in time`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the target host ${target.host} is unknown`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `the target ${where} is unreachable`;
    case 'ECONNRESET':
      return `the target ${where} reset the connection${target.tls ? ' during the TLS handshake (is it really TLS?)' : ''}`;
    default:
      if (code !== undefined && /CERT|SIGNATURE|ISSUER|ALTNAME|SELF_SIGNED/.test(code)) return `the target's TLS certificate was refused: ${error.message}${CERT_HINT}`;
      return `the target ${where} failed: ${error.message}`;
  }
}

/** OpenSSL's reason ("wrong version number") rather than its whole error stack, on one line. */
function tlsFailure(error: unknown): string {
  const e = error as { code?: string; reason?: string; message?: string };
  if (e.code === 'ERR_SSL_HTTP_REQUEST') return 'the client sent plain HTTP, not TLS (use https:// or wss://)';
  if (e.code === 'ERR_SSL_WRONG_VERSION_NUMBER') return 'the client did not speak TLS';
  return (e.reason ?? e.message ?? String(error)).replace(/\s+/g, ' ');
}

/** RFC 6455 §7.4.1: 1001, an endpoint "going away", such as a server going down. */
const GOING_AWAY = 1001;
const GOING_AWAY_REASON = 'wsproxy stopping';

/** Node's own listen backlog, kept as the least. */
const DEFAULT_BACKLOG = 511;

/** Loopback addresses and names: a proxy bound only to these serves this machine alone. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\./.test(h);
}

export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  if ((options.target === undefined) === (options.forward === undefined)) throw new ProxyError('give either a target (reverse proxy) or the forward mode (explicit proxy), not both nor neither');
  const target = options.target === undefined ? null : typeof options.target === 'string' ? parseTarget(options.target) : options.target;
  const listenHost = options.listen?.host ?? '127.0.0.1';
  const forward = options.forward ? new ForwardProxy(options.forward) : null;
  if (options.forward && options.forward.allowHosts === null && !isLoopback(listenHost)) {
    throw new ProxyError(`listening on ${listenHost} as a proxy for any host would be an open relay: name the hosts it may reach with --allow-hosts`);
  }
  const listenPort = options.listen?.port ?? 0;
  const maxConnections = options.maxConnections ?? 256;
  const connectTimeout = options.connectTimeout ?? 10_000;
  const maxBuffered = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
  const idleTimeout = options.idleTimeout ?? 0;
  const handshakeTimeout = options.handshakeTimeout ?? 0;
  const pingTimeout = options.pingTimeout ?? 5000;
  const httpPatterns = new HttpPatterns(options.longPollMs);
  if (!(maxBuffered >= 1)) throw new ProxyError(`maxBufferedBytes must be at least 1 (got ${maxBuffered})`);
  if (!(idleTimeout >= 0)) throw new ProxyError(`idleTimeout must be 0 (off) or a number of milliseconds (got ${idleTimeout})`);
  if (!(handshakeTimeout >= 0)) throw new ProxyError(`handshakeTimeout must be 0 (off) or a number of milliseconds (got ${handshakeTimeout})`);
  const faults = options.faults !== undefined && hasFaults(options.faults) ? options.faults : options.script !== undefined ? {} : null;
  const maxMessage = options.limits?.maxMessageSize ?? DEFAULT_LIMITS.maxMessageSize;
  const ca = options.ca?.length ? [...rootCertificates, ...options.ca.map(String)] : undefined;

  let secureContext: SecureContext | null = null;
  if (options.tls) {
    try {
      secureContext = createSecureContext({ cert: options.tls.cert, key: options.tls.key });
    } catch (error) {
      throw new ProxyError(`the TLS certificate and key cannot be used: ${describe(error)}`);
    }
  }

  // Attached before the handshake runs: the secrets are logged as they are derived.
  const logKeys = (socket: TLSSocket) => {
    const onKeylog = options.onKeylog;
    if (onKeylog === undefined) return;
    socket.on('keylog', (line: Buffer) => {
      try {
        onKeylog(line);
      } catch (error) {
        options.onCallbackError?.(error);
      }
    });
  };

  // One layer for every connection: an Engine.IO session may span several.
  const app = options.app === false || options.app?.app === 'none' ? null : new AppLayer(options.app ?? {});
  if (app !== null && !canRequireModules()) await preloadDecoders();
  const emit = (event: DissectEvent) => {
    try {
      options.onEvent?.(event);
    } catch (error) {
      options.onCallbackError?.(error);
    }
  };
  const queue = new TapQueue({ ...(options.maxTapBacklog !== undefined ? { maxBacklog: options.maxTapBacklog } : {}), ...(options.onCallbackError ? { onError: options.onCallbackError } : {}) });
  // A line of the proxy's own keeps its place among the events still being dissected.
  const report = (code: string, message: string) => {
    const event = notice(code, message, captureClock());
    queue.run(() => emit(event));
  };

  const recording = options.record
    ? new CaptureRecording(options.record, { ...(options.maxRecordLag !== undefined ? { maxPendingBytes: options.maxRecordLag } : {}), onStop: (reason) => report('proxy.record-stopped', reason) })
    : null;

  const script = options.script
    ? new ScriptHost(options.script, (hook, conn, error) => {
        report('proxy.script-error', `#${conn}: the script's ${hook} failed (${describe(error)}); ${hook === 'onMessage' ? 'the message went on unchanged' : 'the connection goes on'}. Later failures are counted, not shown.`);
        try {
          options.onScriptError?.(hook, conn, error);
        } catch (callbackError) {
          options.onCallbackError?.(callbackError);
        }
      })
    : null;
  // The script's own view of the application layer, apart from the tap's (which runs later, on what was forwarded).
  const scriptApp = script !== null && app !== null ? new AppLayer(options.app === false ? {} : (options.app ?? {})) : null;

  const entries = new Set<Entry>();
  let accepted = 0;
  // Without --write, what crossed is numbered in order all the same (a recording numbers its packets).
  let pieces = 0;
  const number = () => ++pieces;
  let closing: Promise<void> | null = null;

  // noDelay: the relay passes each write on as it comes; coalescing is the endpoints' choice.
  // With Nagle's algorithm on, a small write behind an unacknowledged one waits for the ACK.
  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (raw) => {
    const conn = ++accepted;
    const from = `${formatHostPort({ host: canonicalIp(raw.remoteAddress ?? '?'), port: raw.remotePort ?? 0 })}`;
    raw.on('error', () => {}); // reported by whoever owns the socket next; never an uncaught error
    if (closing !== null) {
      raw.destroy();
      return;
    }
    if (entries.size >= maxConnections) {
      report('proxy.connection-refused', `#${conn} ${from}: refused, ${maxConnections} connections are already open (--max-connections)`);
      raw.destroy();
      return;
    }
    void serve(conn, raw, from);
  });

  async function serve(conn: number, raw: Socket, from: string): Promise<void> {
    let upstreamRaw = null as Socket | null;
    let relay = null as ConnectionRelay | null;
    let release!: () => void;
    const entry: Entry = {
      done: new Promise<void>((resolve) => (release = resolve)),
      buffered: () => relay?.buffered ?? 0,
      goAway: () => relay?.goAway(GOING_AWAY, GOING_AWAY_REASON),
      abort: () => {
        if (relay !== null) relay.abort();
        else {
          raw.destroy();
          upstreamRaw?.destroy();
        }
      },
    };
    entries.add(entry);
    try {
      if (forward !== null) {
        await forward.serve({
          conn,
          raw,
          from,
          connectTimeout,
          handshakeTimeout,
          report,
          connect: async (host, port) => {
            const socket = await connectTcp(host, port, raw);
            upstreamRaw = socket;
            return socket;
          },
          secure: async (socket, servername) => {
            const secure = await secureUpstream(socket, { host: servername ?? socket.remoteAddress ?? '', port: socket.remotePort ?? 0, tls: true });
            return secure.stream as TLSSocket;
          },
          targetFailure: (error, host, port, tls) => targetError(error as NodeJS.ErrnoException, { host, port, tls }),
          logKeys,
          relay: (client, server, via, intervene, http) => startRelay(conn, raw, client, server, via, intervene, (r) => (relay = r), http),
        });
        return;
      }
      let client: RelaySide = { stream: raw, raw };
      if (secureContext !== null) {
        const secure = new TLSSocket(raw, { isServer: true, secureContext, allowHalfOpen: true } as ConstructorParameters<typeof TLSSocket>[1]);
        logKeys(secure);
        client = { stream: secure, raw };
        try {
          await ready(secure, 'secure', connectTimeout, () => new Error(`no TLS handshake within ${connectTimeout / 1000} s`));
        } catch (error) {
          report('proxy.client-tls-failed', `#${conn} ${from}: TLS handshake with the client failed: ${tlsFailure(error)}`);
          resetSide(client);
          return;
        }
      }

      const reverseTarget = target!;
      let upstreamSide: RelaySide;
      try {
        const upstream = await connectTcp(reverseTarget.host, reverseTarget.port, client.stream, (socket) => (upstreamRaw = socket));
        upstreamSide = reverseTarget.tls ? await secureUpstream(upstream, reverseTarget, client.stream) : { stream: upstream, raw: upstream };
      } catch (error) {
        if (client.stream.destroyed) return;
        const reason = targetError(error as NodeJS.ErrnoException, reverseTarget);
        report('proxy.target-failed', `#${conn} ${from}: ${reason}; the client connection was closed.`);
        // An HTTP client is answered 502 Bad Gateway with the reason; then closed cleanly.
        await refuseClient(client.stream, reason);
        return;
      }
      await startRelay(conn, raw, client, upstreamSide, null, true, (r) => (relay = r));
    } catch (error) {
      // A bug: report it, and make sure nothing stays open.
      report('proxy.internal-error', `#${conn}: internal error (${describe(error)}); the connection was closed. Please report this bug.`);
      raw.destroy();
      upstreamRaw?.destroy();
    } finally {
      entries.delete(entry);
      release();
    }
  }

  /**
   * TCP to host:port; rejects on failure or timeout, or when `client` closes first (then the
   * attempt is dropped). `onSocket` sees the socket at once, so an abort can destroy it.
   */
  async function connectTcp(host: string, port: number, client: NodeJS.EventEmitter & { destroyed: boolean }, onSocket?: (socket: Socket) => void): Promise<Socket> {
    const upstream = netConnect({ host, port, allowHalfOpen: true, noDelay: true, ...(options.lookup ? { lookup: options.lookup } : {}) });
    onSocket?.(upstream);
    upstream.on('error', () => {});
    const clientGone = () => upstream.destroy();
    client.once('close', clientGone);
    try {
      await ready(upstream, 'connect', connectTimeout, () => Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
    } catch (error) {
      upstream.destroy();
      throw error;
    } finally {
      client.off('close', clientGone);
    }
    return upstream;
  }

  /** TLS over an open connection to the target: verified unless --insecure, its keys logged. */
  async function secureUpstream(upstream: Socket, to: ProxyTarget, client?: NodeJS.EventEmitter): Promise<RelaySide> {
    // allowHalfOpen is passed on to the TLSSocket by tls.connect, though not in its types.
    const tlsOptions: ConnectionOptions & { allowHalfOpen: boolean } = {
      socket: upstream,
      host: to.host,
      ...(isIP(to.host) === 0 ? { servername: to.host } : {}),
      rejectUnauthorized: options.insecure !== true,
      ...(ca ? { ca } : {}),
      ...(forward !== null ? { ALPNProtocols: ['http/1.1'] } : {}),
      allowHalfOpen: true,
    };
    const secure = tlsConnect(tlsOptions);
    logKeys(secure);
    const side = { stream: secure, raw: upstream };
    const clientGone = () => resetSide(side);
    client?.once('close', clientGone);
    try {
      await ready(secure, 'secureConnect', connectTimeout, () => Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
    } catch (error) {
      resetSide(side);
      throw error;
    } finally {
      client?.off('close', clientGone);
    }
    return side;
  }

  /** Relays and dissects one connection whose two sides are open; resolves when it is over. */
  async function startRelay(conn: number, raw: Socket, client: RelaySide, upstreamSide: RelaySide, via: ProxyVia | null, intervene: boolean, setRelay: (relay: ConnectionRelay) => void, http = true): Promise<void> {
    const upstream = upstreamSide.raw;
    if (closing !== null || client.stream.destroyed) {
      resetSide(upstreamSide);
      client.stream.destroy();
      return;
    }
    const [clientIp, serverIp] = sameFamily(raw.remoteAddress ?? '0.0.0.0', upstream.remoteAddress ?? '0.0.0.0');
    // Intercepted and recorded: each leg is its own conversation in the file, and the tap records nothing.
    const interceptWith = intervene ? faults : null;
    const legRecording = interceptWith !== null && recording !== null
      ? (() => {
          const [clientLegIp, listenIp] = sameFamily(raw.remoteAddress ?? '0.0.0.0', raw.localAddress ?? '0.0.0.0');
          const [localIp, targetIp] = sameFamily(upstream.localAddress ?? '0.0.0.0', upstream.remoteAddress ?? '0.0.0.0');
          const ends = {
            client: { ip: clientLegIp, port: raw.remotePort ?? 0 },
            listen: { ip: listenIp, port: raw.localPort ?? 0 },
            local: { ip: localIp, port: upstream.localPort ?? 0 },
            target: { ip: targetIp, port: upstream.remotePort ?? 0 },
          };
          return new LegRecording(recording, ends, (error) =>
            report('proxy.record-failed', `#${conn}: could not record this connection (${describe(error)}); it is still relayed and decoded.`),
          );
        })()
      : null;
    const tap = new ConnectionTap(conn, { ip: clientIp, port: raw.remotePort ?? 0 }, { ip: serverIp, port: upstream.remotePort ?? 0 }, {
      ...(options.limits ? { limits: options.limits } : {}),
      recording: legRecording !== null ? null : recording,
      emit: via === null ? emit : (event) => emit(event.type === 'connection' ? { ...event, proxy: via } : event),
      pingTimeout,
      httpPatterns,
      onPingTimeout: (message) => report('proxy.ping-unanswered', message),
      app,
      number,
      budget: queue.budget,
    });
    queue.open(tap, captureClock());
    const relay = new ConnectionRelay(conn, client, upstreamSide, tap, {
      queue,
      report: (message) => report('proxy.reset', message),
      reportIdle: (message) => report('proxy.idle-timeout', message),
      reportHandshake: (message) => report('proxy.handshake-timeout', message),
      reportClosing: (message) => report('proxy.closed', message),
      maxBuffered,
      idleTimeout,
      // A tunnel that does not carry HTTP (TLS passed through, SSH …) has no header block to wait for.
      handshakeTimeout: http ? handshakeTimeout : 0,
      ...(interceptWith !== null ? { intercept: (link) => new ConnectionInterceptor(conn, link, { faults: interceptWith, maxMessage, report, script, app: scriptApp, legs: legRecording }) } : {}),
    });
    setRelay(relay);
    relay.start();
    await relay.done;
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => reject(listenError(error, formatHostPort({ host: listenHost, port: listenPort })));
    server.once('error', onError);
    // The kernel's queue of connections not yet accepted: Node's default of 511 lost ~16% of a
    // burst of 2,000 connects (their SYNs dropped, retried after a second or more), and the
    // proxy cannot see such drops. It holds maxConnections (the kernel caps it at somaxconn).
    server.listen({ host: listenHost, port: listenPort, backlog: Math.max(DEFAULT_BACKLOG, maxConnections) }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // Accept errors after start (EMFILE …) are reported, not fatal.
  server.on('error', (error) => report('proxy.listen-error', `accepting a connection failed: ${describe(error)}`));

  const bound = server.address();
  const address: HostPort = typeof bound === 'object' && bound !== null ? { host: bound.address, port: bound.port } : { host: listenHost, port: listenPort };

  return {
    address,
    target,
    get connections() {
      return entries.size;
    },
    get accepted() {
      return accepted;
    },
    get buffered() {
      let total = 0;
      for (const entry of entries) total += entry.buffered();
      return total;
    },
    get tapBacklog() {
      return queue.backlog;
    },
    get relayed() {
      return queue.relayed;
    },
    get scriptFailures() {
      return script?.failed ?? new Map<HookName, number>();
    },
    close(closeOptions = {}) {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        const grace = closeOptions.grace ?? 2000;
        if (entries.size > 0) {
          for (const entry of entries) entry.goAway();
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([Promise.all([...entries].map((e) => e.done)), new Promise<void>((resolve) => (timer = setTimeout(resolve, grace)))]);
          clearTimeout(timer);
          const left = [...entries];
          if (left.length > 0) report('proxy.stopping', `${left.length} connection(s) still open after ${grace / 1000} s: reset.`);
          for (const entry of left) entry.abort();
          await Promise.all(left.map((e) => e.done));
        }
        await stopped;
        await queue.drained();
        await recording?.end();
      })();
      return closing;
    },
  };
}
