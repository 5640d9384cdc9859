import { closeSync, createWriteStream, openSync, readFileSync, writeSync, type WriteStream } from 'node:fs';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { DissectEvent } from '../engine/events.js';
import { AddressError, formatHostPort, parseHostPort, parseTarget, type HostPort, type ProxyTarget } from '../proxy/address.js';
import { BoundedOutput } from '../proxy/bounded-output.js';
import { ProxyError, startProxy, type RunningProxy } from '../proxy/proxy.js';
import { notice } from '../proxy/tap.js';
import {
  appOptionsFrom,
  collect,
  limitsFrom,
  makeView,
  noConnectionMatched,
  parseCount,
  parseSeconds,
  parseSize,
  processIo,
  UsageError,
  warn,
  type CliIo,
  type ViewOptions,
  addLimitOptions,
  addViewOptions,
  parseProgram,
} from './common.js';
import { addInterceptOptions, faultsFrom, reportScriptError, reportScriptFailures, scriptFrom, type InterceptCliOptions } from './intercept-options.js';
import { describeFaults, hasFaults } from '../proxy/intercept/faults.js';
import { addProxyModeOptions, caMain, forwardFrom, type ProxyModeCliOptions } from './proxy-mode.js';
import { keepFreedMemory } from './malloc-hint.js';

export interface WsproxyOptions extends ViewOptions, InterceptCliOptions, ProxyModeCliOptions {
  listen: HostPort;
  target?: ProxyTarget;
  insecure?: boolean;
  ca?: string[];
  tlsCert?: string;
  tlsKey?: string;
  keylog?: string;
  write?: string;
  grace: number;
  maxConnections: number;
  connectTimeout: number;
  maxBuffered: number;
  idleTimeout: number;
  handshakeTimeout: number;
  pingTimeout: number;
}

/** Exit codes, documented in the README and --help. */
export const EXIT = { ok: 0, unusable: 1 } as const;

/** How a running wsproxy is stopped and observed; tests pass their own, the command uses signals. */
export interface WsproxyControl {
  /** Aborting it stops the proxy as Ctrl-C does. Default: SIGINT and SIGTERM. */
  signal?: AbortSignal;
  /** Called once listening, with the address (port 0 picks a free port). */
  onListening?: (address: HostPort) => void;
}

const EXAMPLES = `
Examples:
  $ wsproxy --listen 9000 --target 8080         clients use ws://localhost:9000
  $ wsproxy -l 9000 -t wss://echo.example.org --messages   a row per message
  $ wsproxy -l 9000 -t 8080 --write s.pcap      record; then: wsdump s.pcap
  $ wsproxy -l 9443 -t 8080 --tls-cert cert.pem --tls-key key.pem
                                  browsers use wss://localhost:9443
  $ wsproxy -l 9443 -t wss://example.org --tls-cert cert.pem --tls-key key.pem \\
      --keylog k.txt    (with tcpdump -w w.pcap: wsdump --keylog k.txt w.pcap)
  $ wsproxy -l 0.0.0.0:9000 -t 10.0.0.5:80 --json | jq 'select(.type=="alert")'
  $ wsproxy -l 9000 -t 8080 --timeline --ping-timeout 2   each connection's life
  $ wsproxy -l 9000 -t 3000 --events --hide-heartbeats   events, no pings
  $ wsproxy -l 9000 -t 8080 --drop-pongs          watch a heartbeat time out
  $ wsproxy -l 9000 -t 8080 --fragment 16 --delay 50-200   fragments, jitter
  $ wsproxy -l 9000 -t 8080 --throttle 2k --close-after 10:4000
  $ wsproxy replay s.pcap --target ws://localhost:8080 --fast
      compare a server's answers with a recording (wsproxy replay --help)
  $ wsproxy -l 9000 -t 3000 --script redact.mjs -w legs.pcap
      (redact.mjs: export function onMessage(m) { return m.text?.replace(…) })
  $ wsproxy --mode proxy -l 8080 --json     a proxy for browsers, TLS opened
      (HTTPS_PROXY=http://127.0.0.1:8080; trust the CA first: wsproxy ca)
  $ wsproxy --mode proxy -l 8080 --ignore-hosts '*.bank.example' -w all.pcap
  $ wsproxy --mode proxy -l 0.0.0.0:8080 --allow-hosts '*.example.org'
  $ wsproxy ca            where the CA is, how to trust it; wsproxy ca --delete

Bytes are forwarded untouched and first; dissection never slows or alters them.
With a fault (--delay, --drop-pings, --drop-pongs, --fragment, --close-after,
--throttle) WebSocket messages are changed as asked, each change a line in the
view (docs/labs.md); --script hooks may change, drop, hold or inject messages
(README, "Scripts"). Output is live; if the terminal cannot keep up, events are
dropped (and counted), never the traffic. Ctrl-C: stop accepting, send each
WebSocket connection's two sides a Close 1001 (going away) at a frame boundary,
let open connections finish (--grace; then reset), print summaries, exit 0.
Output not written within another --grace is then dropped (said on stderr).

Exit codes: 0 stopped by Ctrl-C/SIGTERM, 1 unusable arguments, address in use,
            unreadable certificate or file.
Alert codes: docs/alerts.md.  NDJSON schema: docs/json.md.`;

function argument<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (error) {
      if (error instanceof AddressError) throw new InvalidArgumentError(error.message.replace(/^--\w+: /, ''));
      throw error;
    }
  };
}

function parsePositive(value: string): number {
  const n = parseCount(value);
  if (n < 1) throw new InvalidArgumentError('expected at least 1.');
  return n;
}

function parseBuffered(value: string): number {
  const n = parseSize(value);
  if (n < 1) throw new InvalidArgumentError('expected at least 1 byte.');
  return n;
}

/** The commander program, built by a factory so tests can parse argv without spawning. */
export function createWsproxyProgram(): Command {
  const program = new Command('wsproxy')
    .description('Relay TCP traffic between clients and a target, and dissect the WebSocket frames that cross it, live.')
    .addOption(new Option('-l, --listen <[host:]port>', 'where clients connect (host default 127.0.0.1; 0.0.0.0 or [::] for all interfaces)').argParser(argument((v) => parseHostPort(v, '127.0.0.1', '--listen', true))).makeOptionMandatory())
    .addOption(new Option('-t, --target <target>', 'where each client is relayed to: [host:]port (host default localhost), ws://host[:port] or wss://host[:port] (with TLS)').argParser(argument(parseTarget)))
    .option('--insecure', 'wss:// target (and --mode proxy\'s TLS targets): do not verify its certificate')
    .option('--ca <file>', 'wss:// target (and --mode proxy\'s TLS targets): also trust this CA certificate (PEM, repeatable)', collect)
    .option('--tls-cert <file>', 'accept TLS from clients with this certificate (PEM); needs --tls-key')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
    .option('--keylog <file>', 'append the TLS secrets of both legs to this key log (SSLKEYLOGFILE format, for wsdump --keylog or Wireshark); it holds secrets')
    .option('-w, --write <file.pcap>', 'record the relayed traffic as a pcap capture (readable by wsdump, Wireshark)');
  addViewOptions(program)
    .option('--grace <seconds>', 'on Ctrl-C, how long open connections may take to finish after the proxy\'s Close 1001 to WebSocket peers (and then the output to be written)', parseSeconds, 2)
    .option('--max-connections <n>', 'clients served at once; more are closed at once', parsePositive, 256)
    .option('--connect-timeout <seconds>', 'how long to wait for the target (and for a TLS client\'s handshake)', parseSeconds, 10)
    .addOption(new Option('--max-buffered <size>', 'bytes queued towards a peer that is not reading before the relay stops reading the other side (per direction of each connection)').argParser(parseBuffered).default(64 * 1024, '64k'))
    .addOption(new Option('--idle-timeout <seconds>', 'close a connection (both sides, with a notice) after this long without a byte either way').argParser(parseSeconds).default(0, '0 = never'))
    .addOption(new Option('--handshake-timeout <seconds>', 'close a connection (both sides, with a notice) whose client has not sent the whole header of its request within this long, or whose target then has not sent the whole header of its answer').argParser(parseSeconds).default(10, '10; 0 = never'))
    .addOption(new Option('--ping-timeout <seconds>', 'a line, live, when a WebSocket Ping has had no Pong for this long (a protocol\'s own ping: for the timeout it negotiated, else this)').argParser(parseSeconds).default(5, '5; 0 = never'));
  return addProxyModeOptions(addInterceptOptions(addLimitOptions(program))).addHelpText('after', EXAMPLES).showHelpAfterError('(run wsproxy --help for usage)');
}

function readPem(path: string, option: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`cannot read ${option} ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
}

/** Opens --keylog FILE for appending before listening (mode 0600 when it is created): secrets go nowhere else. */
function openKeylog(path: string): number {
  try {
    return openSync(path, 'a', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot write the key log ${path}: ${code === 'ENOENT' ? 'no such directory' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message}`);
  }
}

/** Opens the capture file before listening, so a bad path is an error at start, not later. */
function openCaptureFile(path: string): Promise<WriteStream> {
  return new Promise((resolve, reject) => {
    const stream = createWriteStream(path);
    stream.once('open', () => resolve(stream));
    stream.once('error', (error: NodeJS.ErrnoException) => reject(new UsageError(`cannot write ${path}: ${error.code === 'ENOENT' ? 'no such directory' : error.code === 'EACCES' ? 'permission denied' : error.message}`)));
  });
}

/**
 * Where events are printed. Node writes to a terminal synchronously on Linux (tty.WriteStream
 * is blocking), so a terminal paused with Ctrl-S or a slow ssh link would block the event loop,
 * and the relay with it. On a real terminal, events therefore go through a stream of our own on
 * file descriptor 1, whose writes run on libuv's thread pool: only the bounded queue waits
 * (measured: with the terminal stopped for 2.5 s the loop kept its 250 ms ticks, against a
 * 2.6 s stall through process.stdout). Pipes are already asynchronous, files fast.
 */
function liveStdout(io: CliIo): NodeJS.WritableStream {
  if (io.stdout !== process.stdout || !process.stdout.isTTY) return io.stdout;
  return createWriteStream('', { fd: 1, autoClose: false });
}

/** How often the proxy is looked at for being quiet. */
const QUIET_CHECK_MS = 250;
/** No connection open, and quiet this long (no byte relayed, none accepted): collect. */
const QUIET_CLOSED_MS = 500;
/** Connections open but quiet this long: collect (a pause then delays nobody's traffic). */
const QUIET_OPEN_MS = 5000;
/** Heap (or memory held by buffers) grown by this much since the last collection is worth one. */
const QUIET_GC_GROWTH = 8 * 1024 * 1024;
/**
 * Quiet this long: collect once more if the young generation has grown. V8 shrinks it back
 * only in a collection that finds allocation slow over the last 5 s (measured: 32 MB back).
 */
const QUIET_SHRINK_MS = 6000;

/**
 * Gives memory back once the proxy is quiet again. V8 collects its old generation only when that
 * reaches a limit which grows with the heap, and grows its young generation (to 32 MB) under a
 * burst of connections; so after 1,000 connections had come and gone, the proxy's RSS stayed
 * ~60 MB above where it started although the live heap was back to 8 MB, and the next burst
 * added more. So once nothing has been relayed or accepted for a while (QUIET_CLOSED_MS with no
 * connection open, QUIET_OPEN_MS with some) and the heap or the buffers have grown by
 * QUIET_GC_GROWTH since the last collection, the proxy runs a full collection (a few ms), and
 * after QUIET_SHRINK_MS one more if the young generation has grown. Never while bytes are
 * moving, so the pause delays no relayed byte. `gc` is exposed for this through V8's flag
 * (node:v8 setFlagsFromString), as the command cannot pass --expose-gc to node itself.
 * Returns the function that stops watching.
 */
function collectWhenQuiet(proxy: RunningProxy): () => void {
  let gc: () => void;
  try {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
    if (typeof gc !== 'function') return () => {};
  } catch {
    return () => {};
  }
  const young = () => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
  const youngAtStart = young();
  const held = () => {
    const { heapUsed, arrayBuffers } = process.memoryUsage();
    return heapUsed + arrayBuffers;
  };
  let heldAfter = held();
  let relayed = proxy.relayed;
  let accepted = proxy.accepted;
  let quietSince = performance.now();
  let shrunk = true;
  const timer = setInterval(() => {
    const now = performance.now();
    if (proxy.relayed !== relayed || proxy.accepted !== accepted) {
      relayed = proxy.relayed;
      accepted = proxy.accepted;
      quietSince = now;
      shrunk = false;
      return;
    }
    const quiet = now - quietSince;
    if (quiet < (proxy.connections === 0 ? QUIET_CLOSED_MS : QUIET_OPEN_MS)) return;
    const grown = held() - heldAfter >= QUIET_GC_GROWTH;
    const shrink = !shrunk && quiet >= QUIET_SHRINK_MS;
    if (shrink) shrunk = true;
    if (grown || (shrink && young() > youngAtStart)) {
      gc();
      heldAfter = held();
    }
  }, QUIET_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}

function waitForStop(signal: AbortSignal | undefined): Promise<void> {
  if (signal !== undefined) {
    return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

async function runProxy(options: WsproxyOptions, io: CliIo, control: WsproxyControl): Promise<number> {
  // Each scavenge frees ~32 MB of read chunks at once, which glibc handed back to the kernel and
  // faulted in again (src/cli/malloc-hint.ts): relaying 1 MiB messages took ~10% less CPU with a
  // hint. wsdump's 4 MiB (free memory kept up to 8 MiB) helped only some processes (minor faults
  // per 1.5 GiB relayed 360-750 in some, 13,000-20,000 in others); 16 MiB keeps up to 32 MiB, a
  // whole burst: 470-1,900 in each of the 8 processes tried (docs/performance.md, the ninth round).
  keepFreedMemory(16 * 1024 * 1024);
  const proxyMode = options.mode === 'proxy';
  if (!proxyMode && options.target === undefined) throw new UsageError("required option '-t, --target <target>' not specified (or --mode proxy: clients say where they go)");
  if (proxyMode && options.target !== undefined) throw new UsageError('--mode proxy takes no --target: each client says where it goes');
  if (proxyMode && options.tlsCert !== undefined) throw new UsageError('--mode proxy mints its own certificates (wsproxy ca): --tls-cert is for the reverse mode');
  if (!proxyMode && (options.allowHosts || options.ignoreHosts || options.caDir)) throw new UsageError('--allow-hosts, --ignore-hosts and --ca-dir go with --mode proxy');
  const target = options.target;
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  const tls = options.tlsCert !== undefined ? { cert: readPem(options.tlsCert, '--tls-cert'), key: readPem(options.tlsKey!, '--tls-key') } : undefined;
  const ca = options.ca?.map((path) => readPem(path, '--ca'));
  if ((options.insecure || ca) && target !== undefined && !target.tls) warn(io, 'wsproxy: note: --insecure and --ca only apply to a wss:// target or --mode proxy\n');

  const view = await makeView(options, io);
  const output = new BoundedOutput(liveStdout(io), {
    droppedLine: (count) => view(notice('proxy.output-dropped', `${count} event(s) not shown: the output could not keep up (the traffic was relayed in full).`)),
    onError: (error) => warn(io, `wsproxy: output failed (${error.message}); relaying goes on\n`),
  });
  if (options.keylog !== undefined && tls === undefined && target !== undefined && !target.tls) warn(io, 'wsproxy: note: --keylog has nothing to log without a TLS leg (--tls-cert, or a wss:// target)\n');
  const keylog = options.keylog !== undefined ? openKeylog(options.keylog) : undefined;
  const record = options.write !== undefined ? await openCaptureFile(options.write) : undefined;
  const har = options.har !== undefined ? (await import('./har-file.js')).openHarFile(options.har, 'wsproxy') : null;
  const faults = faultsFrom(options);
  const script = await scriptFrom(options);
  const forwardSetup = proxyMode ? await forwardFrom(options) : null;
  let proxy;
  try {
    proxy = await startProxy({
      listen: options.listen,
      ...(forwardSetup !== null ? { forward: forwardSetup.forward } : { target: target! }),
      ...(options.insecure ? { insecure: true } : {}),
      ...(ca ? { ca } : {}),
      ...(tls ? { tls } : {}),
      ...(record ? { record } : {}),
      // A few short lines per connection: written at once, so a capture of the same moment decrypts.
      ...(keylog !== undefined ? { onKeylog: (line: Buffer) => void writeSync(keylog, line) } : {}),
      limits: limitsFrom(options),
      app: appOptionsFrom(options),
      maxConnections: options.maxConnections,
      connectTimeout: options.connectTimeout * 1000,
      maxBufferedBytes: options.maxBuffered,
      idleTimeout: options.idleTimeout * 1000,
      handshakeTimeout: options.handshakeTimeout * 1000,
      pingTimeout: options.pingTimeout * 1000,
      ...(options.longPoll !== undefined ? { longPollMs: options.longPoll * 1000 } : {}),
      faults,
      ...(script ? { script, onScriptError: (hook, conn, error) => reportScriptError(io, hook, conn, error) } : {}),
      onEvent: (event: DissectEvent) => {
        har?.event(event);
        output.write(view(event));
      },
      onCallbackError: (error) => warn(io, `wsproxy: internal error while showing an event (please report it): ${error instanceof Error ? error.message : String(error)}\n`),
    });
  } catch (error) {
    record?.destroy();
    har?.close();
    if (keylog !== undefined) closeSync(keylog);
    throw error;
  }
  const recordingTo = options.write ? `, recording to ${options.write}` : '';
  if (forwardSetup !== null) {
    for (const note of forwardSetup.notes) warn(io, note);
    warn(io, `wsproxy: HTTP proxy on ${formatHostPort(proxy.address)} (clients: HTTPS_PROXY=http://${formatHostPort(proxy.address)})${recordingTo} (Ctrl-C to stop)\n`);
  } else {
    const scheme = tls ? 'wss' : 'ws';
    warn(io, `wsproxy: ${scheme}://${formatHostPort(proxy.address)} → ${target!.tls ? 'wss://' : ''}${formatHostPort(target!)}${recordingTo} (Ctrl-C to stop)\n`);
  }
  if (hasFaults(faults)) warn(io, `wsproxy: faults: ${describeFaults(faults)}\n`);
  if (script) warn(io, `wsproxy: script: ${options.script} (permessage-deflate is not negotiated while it runs)\n`);
  control.onListening?.(proxy.address);
  const stopCollecting = collectWhenQuiet(proxy);
  await waitForStop(control.signal);
  stopCollecting();
  if (proxy.connections > 0) warn(io, `wsproxy: stopping; ${proxy.connections} connection(s) open, waiting up to ${options.grace} s\n`);
  await proxy.close({ grace: options.grace * 1000 });
  har?.close();
  reportScriptFailures(io, proxy.scriptFailures);
  if (keylog !== undefined) closeSync(keylog);
  // The output gets --grace too: a stdout nobody reads must not keep the proxy from stopping.
  const unwritten = await output.flush(options.grace * 1000);
  if (unwritten > 0) warn(io, `wsproxy: ${unwritten} bytes of output not written within ${options.grace} s (stdout is not being read): dropped\n`);
  const unmatched = noConnectionMatched(view.filter, options);
  if (unmatched !== null && view.filter.seen > 0) warn(io, `wsproxy: ${unmatched}\n`);
  return EXIT.ok;
}

/**
 * Runs wsproxy with an argv (as process.argv: node, script, args…) until it is stopped.
 * Returns the exit code; never calls process.exit, so it can run inside tests.
 */
export async function main(argv: string[], io: CliIo = processIo(), control: WsproxyControl = {}): Promise<number> {
  // `wsproxy replay …` is a command of its own, loaded only when asked for.
  if (argv[2] === 'replay') return (await import('./replay.js')).replayMain([argv[0]!, `${argv[1]!} replay`, ...argv.slice(3)], io);
  if (argv[2] === 'ca') return caMain([argv[0]!, `${argv[1]!} ca`, ...argv.slice(3)], io);
  const parsed = parseProgram<WsproxyOptions>(createWsproxyProgram(), argv, io);
  if ('exit' in parsed) return parsed.exit;
  const { options } = parsed;
  try {
    return await runProxy(options, io, control);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ProxyError) {
      warn(io, `wsproxy: ${error.message}\n`);
      return EXIT.unusable;
    }
    warn(io, `wsproxy: internal error, please report it:\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 70;
  }
}
