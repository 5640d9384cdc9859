import { closeSync, createReadStream, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { Transform } from 'node:stream';
import { Command } from 'commander';
import { FILE_CHUNK, openCapture } from '../capture/open-capture.js';
import { CaptureFormatError, DAMAGE_NOTICES } from '../capture/types.js';
import { CaptureDissector } from '../engine/capture-dissector.js';
import type { DissectEvent } from '../engine/events.js';
import { NdjsonEncoder, ndjsonLines } from '../render/ndjson-encoder.js';
import { ByteWriter } from '../render/byte-writer.js';
import { escapeText } from '../render/escape.js';
import { canRequireModules, preloadDecoders } from '../app/load.js';
import { boundHeap } from './heap-bounds.js';
import { Progress } from './progress.js';
import { keepFreedMemory } from './malloc-hint.js';
import {
  appOptionsFrom,
  EventFilter,
  noConnectionMatched,
  hasError,
  makeAppFilter,
  messageLevel,
  jsonHexBytes,
  limitsFrom,
  Output,
  parsePort,
  processIo,
  UsageError,
  warn,
  type CliIo,
  type ViewOptions,
  addLimitOptions,
  addViewOptions,
  parseProgram,
} from './common.js';

export interface WsdumpOptions extends ViewOptions {
  decodeAs?: number[];
  keylog?: string[];
  strict?: boolean;
  progress?: boolean;
  decodeHex?: string;
  accept?: string;
}

/** Exit codes, documented in the README and --help. */
export const EXIT = { ok: 0, unusable: 1, strict: 2, damaged: 3 } as const;

const EXAMPLES = `
Examples:
  $ wsdump fixtures/real/ws-basic.pcap          annotated table of every frame
  $ wsdump --messages capture.pcapng            one row per reassembled message
  $ wsdump --summary capture.pcap               totals, heartbeats, the close
  $ wsdump --timeline capture.pcap              each connection's life
  $ wsdump --json capture.pcap | jq 'select(.type=="alert")'
  $ wsdump --json --messages capture.pcap       NDJSON without the frame lines
  $ wsdump --decode-as 8080 midstream.pcap      no handshake in the capture
  $ wsdump --keylog keys.txt wss.pcap           decrypt wss:// with the secrets
                      of SSLKEYLOGFILE, node --tls-keylog or wsproxy --keylog
  $ tcpdump -i lo -U -w - 'tcp port 8080' | wsdump -   live
  $ wsdump --strict lab.pcap                    exit 2 if any RFC violation
  $ wsdump --events socketio.pcap               a row per Socket.IO event …
  $ wsdump --event 'chat*' --hide-heartbeats app.pcap  these events, no pings
  $ wsdump --grep 'order-[0-9]+' --messages app.pcap   messages that match
  $ wsdump --explain --app socket.io app.pcap   each Socket.IO packet, spelled
  $ wsdump --explain --conn 1 lab.pcap          every frame bit by bit
  $ wsdump --decode-hex 818537fa213d7f9f4d5158  frame bytes typed by hand
  $ echo '81 05 48 65 6c 6c 6f' | wsdump --decode-hex -
  $ wsdump --accept dGhlIHNhbXBsZSBub25jZQ==    Sec-WebSocket-Accept worked out

Exit codes: 0 decoded (even with alerts), 1 unusable input or arguments,
            2 with --strict: an error-severity alert was raised,
            3 the capture is damaged (cut, corrupt): decoded up to the damage.
Alert codes: docs/alerts.md.  NDJSON schema: docs/json.md.`;

/** The commander program, built by a factory so tests can parse argv without spawning. */
export function createWsdumpProgram(): Command {
  const program = new Command('wsdump')
    .description('Dissect the WebSocket traffic (RFC 6455, RFC 7692) in a pcap or pcapng capture.')
    .argument('[capture]', 'capture file (pcap, pcapng, optionally gzipped), or - for stdin (not with --decode-hex, --accept)')
    .option('--decode-hex <hex>', 'explain frame bytes typed in hex (one or more frames; - reads stdin); no capture')
    .option('--accept <key>', 'derive Sec-WebSocket-Accept from a Sec-WebSocket-Key step by step; no capture')
    .option('--decode-as <port>', 'decode this server port as WebSocket without a handshake (repeatable)', parsePort)
    .option('--keylog <file>', 'decrypt TLS (wss://) with this key log (SSLKEYLOGFILE format; repeatable)', (value: string, previous: string[] = []) => [...previous, value]);
  addViewOptions(program, 'only frames sent by this side (with --decode-hex: who sent the bytes)')
    .option('--strict', 'exit 2 when any error-severity alert is raised')
    .option('--no-progress', 'no progress bar on stderr');
  return addLimitOptions(program).addHelpText('after', EXAMPLES).showHelpAfterError('(run wsdump --help for usage)');
}

/** Counts bytes as they pass, for the progress bar. */
function counter(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
}

/** Progress is drawn for files over this size, when stderr is a terminal. */
const PROGRESS_MIN_BYTES = 20 * 1024 * 1024;

async function dissectCapture(path: string, options: WsdumpOptions, io: CliIo): Promise<number> {
  keepFreedMemory();
  let source: string | NodeJS.ReadableStream = path === '-' ? io.stdin : path;
  let progress: Progress | null = null;
  if (path !== '-' && options.progress !== false && io.stderr.isTTY) {
    const size = (() => {
      try {
        const st = statSync(path);
        return st.isFile() ? st.size : 0;
      } catch {
        return 0;
      }
    })();
    if (size >= PROGRESS_MIN_BYTES) {
      const bar = new Progress(size, io.stderr, { sharesTerminal: io.stdout.isTTY === true });
      progress = bar;
      source = createReadStream(path, { highWaterMark: FILE_CHUNK }).pipe(counter((n) => bar.add(n)));
    }
  }
  const name = path === '-' ? '<stdin>' : path;
  if (path === '-' && (io.stdin as { isTTY?: boolean }).isTTY) {
    // Nothing will come from a keyboard that is a capture: say what is awaited instead of hanging mute.
    warn(io, "wsdump: reading a capture from stdin, which is a terminal: pipe one in (tcpdump -i lo -U -w - 'tcp port 8080' | wsdump -) or give a file name; Ctrl-D ends\n");
  }
  const keyLog = options.keylog !== undefined ? await readKeyLogs(options.keylog, io, path === '-') : undefined;
  const app = appOptionsFrom(options);
  if (app !== false && !canRequireModules()) await preloadDecoders();
  // A HAR (DevTools' export, or wsdump --har's) holds exchanges and messages, not packets.
  const harIn = path !== '-' && looksLikeJson(path) ? await readHar(path, app, io, options.longPoll !== undefined ? options.longPoll * 1000 : undefined) : null;
  const capture = harIn === null ? await openCapture(source, { name }) : null;
  const dissector = new CaptureDissector({ limits: limitsFrom(options), ...(options.decodeAs ? { decodeAs: options.decodeAs } : {}), ...(keyLog ? { keyLog } : {}), app, ...(options.longPoll !== undefined ? { longPollMs: options.longPoll * 1000 } : {}) });
  const out = new Output(io.stdout);
  // Every view writes into one byte buffer (src/render/byte-writer.ts), handed to the output
  // when it fills and after each batch: NDJSON lines and plain table rows as bytes, anything
  // else as the renderer's text.
  const filter = new EventFilter(options);
  const appFilter = await makeAppFilter(options);
  const sink = (bytes: Buffer) => {
    progress?.beforeOutput();
    out.addBytes(bytes);
  };
  let writer: ByteWriter;
  let write: (event: DissectEvent) => void;
  /** Where the Time column starts: the capture's first packet, whatever is shown. */
  let setTimeOrigin: (ts: number) => void = () => {};
  const text = (rendered: string) => {
    if (rendered !== '') writer.text(rendered);
  };
  if (options.json) {
    const encoder = new NdjsonEncoder({ maxHexBytes: jsonHexBytes(options) }, sink);
    writer = encoder;
    write = options.messages ? messageLevel((event) => encoder.write(event)) : (event) => encoder.write(event);
  } else if (options.explain || options.timeline) {
    const { makeExplain, makeTimeline } = await import('./renderers.js');
    const explain = options.explain ? makeExplain(options, io) : null;
    // (The timeline's times are per connection.)
    if (explain !== null) setTimeOrigin = (ts) => explain.setTimeOrigin(ts);
    const view = explain ?? makeTimeline(options, io);
    writer = new ByteWriter(sink);
    write = (event) => text(view.render(event));
  } else {
    // The table (frames, --messages, --summary).
    const { makeTable, RowWriter } = await import('./renderers.js');
    const table = makeTable(options, io, appFilter);
    setTimeOrigin = (ts) => table.setTimeOrigin(ts);
    const rows = new RowWriter(sink);
    writer = rows;
    write = (event) => {
      if (event.type !== 'frame' || !table.writeFrameRow(event, rows)) text(table.render(event));
    };
  }
  const show = (event: DissectEvent) => {
    const shown = filter.accepts(event);
    const held = filter.takeHeld();
    if (held !== null) for (const e of held) write(e);
    if (!shown) return;
    if (appFilter === null) write(event);
    else appFilter.push(event, write);
  };
  const flush = () => {
    writer.flush();
    return out.flush();
  };
  let errors = 0;
  let damaged = false;
  const har = options.har !== undefined ? (await import('./har-file.js')).openHarFile(options.har, 'wsdump') : null;
  const collect = (events: ReturnType<CaptureDissector['item']>) => {
    for (const event of events) {
      har?.event(event);
      if (options.strict && hasError(event)) errors++;
      if (event.type === 'notice' && DAMAGE_NOTICES.has(event.code)) {
        // Damage is said once on stderr, after what came before it; the table does not
        // repeat it, NDJSON keeps it as an event.
        damaged = true;
        void flush();
        progress?.hide();
        warn(io, `wsdump: ${event.message.startsWith(name) ? '' : `${name}: `}${event.message}\n`);
        if (!options.json) continue;
      }
      show(event);
    }
  };
  // Output is written once per batch (one chunk of input), so live input
  // (tcpdump -U -w - | wsdump -) is shown as it comes.
  let first = true;
  if (harIn !== null) {
    const ts = harIn.find((e) => e.type === 'connection')?.at.ts;
    if (ts !== undefined) setTimeOrigin(ts);
    collect(harIn);
  }
  // Peak memory alike on Node 20, 22 and 24 (src/cli/heap-bounds.ts).
  const heap = boundHeap();
  for await (const batch of capture?.batches ?? []) {
    heap.check();
    if (first) {
      const packet = batch.find((item) => item.kind === 'packet');
      if (packet !== undefined) {
        first = false;
        setTimeOrigin(packet.ts);
      }
    }
    for (const item of batch) collect(dissector.item(item));
    // A TLS connection appeared: its layer loads now, then what waited for it is decoded.
    if (dissector.waiting) collect(await dissector.resume());
    await flush();
    progress?.afterOutput();
    if (out.isClosed) break;
  }
  // Written as the open connections end, not once the last has: their end events all at once
  // added ~20 MB to the peak of a capture that leaves 16,000 connections open (issue 25).
  for (const events of dissector.finishing()) {
    collect(events);
    await flush();
  }
  heap.release();
  har?.close();
  await flush();
  progress?.hide();
  const unmatched = noConnectionMatched(filter, options);
  if (unmatched !== null) warn(io, `wsdump: ${unmatched}\n`);
  if (out.failure) throw new UsageError(`cannot write the output: ${out.failure.message}`);
  if (options.strict && errors > 0) return EXIT.strict;
  return damaged ? EXIT.damaged : EXIT.ok;
}

/** The file starts with "{" (after a BOM and white space): a JSON document, not a capture. */
function looksLikeJson(path: string): boolean {
  try {
    const fd = openSync(path, 'r');
    try {
      const head = Buffer.alloc(64);
      const n = readSync(fd, head, 0, 64, 0);
      return /^(\ufeff)?\s*\{/.test(head.subarray(0, n).toString('utf8'));
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

/**
 * A HAR file as the engine's events (src/engine/har-input.ts), through the application layer
 * unless --app none. It has no frames: said once on stderr. Not a HAR: a one-line error.
 */
async function readHar(path: string, app: ReturnType<typeof appOptionsFrom>, io: CliIo, longPollMs: number | undefined): Promise<DissectEvent[]> {
  const { harToEvents, HarError } = await import('../engine/har-input.js');
  let input;
  try {
    input = harToEvents(readFileSync(path, 'utf8'), { appEvents: app !== false, ...(longPollMs !== undefined ? { longPollMs } : {}) });
  } catch (error) {
    if (error instanceof HarError) throw new UsageError(`${escapeText(path, 200)}: not a pcap or pcapng file, nor a HAR: ${error.message}`);
    throw error;
  }
  warn(io, `wsdump: ${escapeText(path, 200)} is a HAR${input.creator !== null ? ` (${escapeText(input.creator, 60)})` : ''}: it holds HTTP exchanges and WebSocket messages, not packets or frames, so only the message-level views (--messages, --events, --summary, --json) show them${input.skipped > 0 ? `; ${input.skipped} entr${input.skipped === 1 ? 'y' : 'ies'} without a request URL skipped` : ''}\n`);
  if (app === false) return input.events;
  const { AppLayer } = await import('../app/layer.js');
  return new AppLayer(app).process(input.events);
}

/**
 * --keylog files, read before the capture so a wrong path is a one-line error. Their content is
 * secret: it is parsed, never echoed, and a file with no key log line in it is refused. With
 * live input (`live`), a connection whose secrets are not in them yet has the files read again
 * if they have grown: browsers append to SSLKEYLOGFILE as sessions start.
 */
async function readKeyLogs(paths: string[], io: CliIo, live: boolean): Promise<import('../tls/keylog.js').KeyLog> {
  const { KeyLog } = await import('../tls/keylog.js');
  const keyLog = new KeyLog();
  const sizes = new Map<string, number>();
  if (live) {
    keyLog.onMiss = () => {
      for (const path of paths) {
        try {
          const size = statSync(path).size;
          if (size === sizes.get(path)) continue;
          sizes.set(path, size);
          keyLog.add(readFileSync(path));
        } catch {
          // Gone or unreadable now: what was read at start still counts.
        }
      }
    };
  }
  for (const path of paths) {
    let text: Buffer;
    try {
      text = readFileSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : ((error as Error).message ?? String(error));
      throw new UsageError(`cannot read the key log ${path}: ${why}`);
    }
    sizes.set(path, text.length);
    const stats = keyLog.add(text);
    // Empty, or comments only (OpenSSL writes a header line before any secret), is a key log with no key yet.
    if (stats.used === 0 && stats.unused === 0 && stats.malformed > 0) {
      throw new UsageError(`${path} is not a TLS key log: no line of the form "LABEL <client random> <secret>" (SSLKEYLOGFILE format)`);
    }
    if (stats.malformed > 0) warn(io, `wsdump: note: ${path}: ${stats.malformed} line(s) are not key log lines and were skipped\n`);
  }
  return keyLog;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('latin1');
  return text;
}

/** --decode-hex: the explain view (or NDJSON) of frames typed by hand. */
async function decodeHex(arg: string, options: WsdumpOptions, io: CliIo): Promise<number> {
  if (options.messages || options.summary) throw new UsageError('--decode-hex shows the explain view, or NDJSON with --json');
  const { checkFrames, decodeHexFrames, HexInputError, inferDirection, parseHex } = await import('../render/hex-input.js');
  let bytes: Uint8Array;
  let count: number;
  try {
    bytes = parseHex(arg === '-' ? await readAll(io.stdin) : arg);
    count = checkFrames(bytes).length;
  } catch (error) {
    if (error instanceof HexInputError) throw new UsageError(`--decode-hex: ${error.message}`);
    throw error;
  }
  const direction = options.from ?? inferDirection(bytes);
  const events = decodeHexFrames(bytes, direction);
  const out = new Output(io.stdout);
  if (options.json) {
    const line = ndjsonLines({ maxHexBytes: jsonHexBytes(options) });
    await out.write(events.map(line).join(''));
    return EXIT.ok;
  }
  const { colorLevel, ExplainRenderer, explainWidth, wrapBlock } = await import('./renderers.js');
  const renderer = new ExplainRenderer({ colorLevel: colorLevel(options.color, io), width: explainWidth(options, io), source: 'hex' });
  const how = options.from
    ? 'as --from says'
    : `inferred from MASK = ${direction === 'client' ? 1 : 0} in frame 1 (clients mask, servers do not; --from ${direction === 'client' ? 'server' : 'client'} to change it)`;
  const head = wrapBlock(`${bytes.length} bytes, ${count} frame${count === 1 ? '' : 's'}, sent by the ${direction}: ${how}.\n\n`, explainWidth(options, io), 0);
  await out.write(head + events.map((e) => renderer.render(e)).join(''));
  return options.strict && events.some(hasError) ? EXIT.strict : EXIT.ok;
}

/**
 * Runs wsdump with an argv (as process.argv: node, script, args…). Returns the exit code;
 * never calls process.exit, so it can run inside tests.
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const parsed = parseProgram<WsdumpOptions>(createWsdumpProgram(), argv, io);
  if ('exit' in parsed) return parsed.exit;
  const { options } = parsed;
  const capture = parsed.args[0];
  const standalone = [options.decodeHex !== undefined && '--decode-hex', options.accept !== undefined && '--accept'].filter((x): x is string => x !== false);
  if (standalone.length > 1) {
    io.stderr.write('wsdump: choose one of --decode-hex, --accept\n');
    return EXIT.unusable;
  }
  if (standalone.length === 1 && capture !== undefined) {
    const hint = standalone[0] === '--decode-hex' && /^(0x)?[0-9a-f:,]+$/i.test(capture) ? ': put hex with spaces in quotes' : '';
    const shown = [...capture];
    warn(io, `wsdump: ${standalone[0]} takes no capture argument (got "${shown.slice(0, 40).join('')}${shown.length > 40 ? '…' : ''}")${hint}\n`);
    return EXIT.unusable;
  }
  if (standalone.length === 0 && capture === undefined) {
    io.stderr.write('wsdump: missing the capture argument: a pcap or pcapng file, or - for stdin (--decode-hex and --accept need none; see --help)\n');
    return EXIT.unusable;
  }
  try {
    if (options.accept !== undefined) {
      const { colorLevel, explainWidth, renderAccept } = await import('./renderers.js');
      await new Output(io.stdout).write(renderAccept(options.accept, { colorLevel: colorLevel(options.color, io), width: explainWidth(options, io) }));
      return EXIT.ok;
    }
    if (options.decodeHex !== undefined) return await decodeHex(options.decodeHex, options, io);
    return await dissectCapture(capture!, options, io);
  } catch (error) {
    if (error instanceof CaptureFormatError || error instanceof UsageError) {
      warn(io, `wsdump: ${error.message}\n`);
      return EXIT.unusable;
    }
    warn(io, `wsdump: internal error, please report it with the capture if you can:\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 70;
  }
}
