import { createReadStream, statSync } from 'node:fs';
import { Transform } from 'node:stream';
import { Command, CommanderError, Option } from 'commander';
import { CaptureFormatError, openCapture } from '../capture/index.js';
import { CaptureDissector } from '../engine/capture-dissector.js';
import {
  collect,
  hasError,
  limitsFrom,
  makeView,
  Output,
  parseConnList,
  parseCount,
  parseDirection,
  parseOpcodes,
  parsePort,
  parseSize,
  processIo,
  UsageError,
  type CliIo,
  type ViewOptions,
} from './common.js';

export interface WsdumpOptions extends ViewOptions {
  decodeAs?: number[];
  strict?: boolean;
  progress?: boolean;
}

/** Exit codes, documented in the README and --help. */
export const EXIT = { ok: 0, unusable: 1, strict: 2 } as const;

const EXAMPLES = `
Examples:
  $ wsdump fixtures/real/ws-basic.pcap            annotated table of every frame
  $ wsdump --messages capture.pcapng              one row per reassembled message
  $ wsdump --json capture.pcap | jq 'select(.type=="alert")'
  $ wsdump --decode-as 8080 midstream.pcap        no handshake in the capture
  $ tcpdump -i lo -U -w - 'tcp port 8080' | wsdump -     live
  $ wsdump --strict lab.pcap                      exit 2 if any RFC violation

Exit codes: 0 decoded (even with alerts), 1 unusable input or arguments,
            2 with --strict: an error-severity alert was raised.
Alert codes: docs/alerts.md.  NDJSON schema: docs/json.md.`;

/** The commander program, built by a factory so tests can parse argv without spawning. */
export function createWsdumpProgram(): Command {
  return new Command('wsdump')
    .description('Dissect the WebSocket traffic (RFC 6455, RFC 7692) in a pcap or pcapng capture.')
    .argument('<capture>', 'capture file (pcap, pcapng, optionally gzipped), or - for stdin')
    .option('-j, --json', 'NDJSON: one event per line (schema in docs/json.md)')
    .option('-m, --messages', 'one row per reassembled message instead of per frame')
    .option('-s, --summary', 'only per-connection totals')
    .option('--decode-as <port>', 'decode this server port as WebSocket without a handshake (repeatable)', parsePort)
    .option('--conn <n,...>', 'only these connections', parseConnList)
    .addOption(new Option('--from <side>', 'only frames sent by this side').choices(['client', 'server']).argParser(parseDirection))
    .option('--opcode <names>', 'only these opcodes: text,binary,close,ping,pong,continuation', parseOpcodes)
    .option('--host <ip>', 'only connections with this address (repeatable)', collect)
    .option('--port <port>', 'only connections with this port (repeatable)', parsePort)
    .option('--payload <n>', 'characters of payload preview (bytes of hex with --json)', parseCount)
    .option('--full', 'show whole payloads')
    .option('--width <columns>', 'table width (default: the terminal width, or 120)', parseCount)
    .option('--color', 'force colors (default: only on a terminal, never with NO_COLOR)')
    .option('--no-color', 'no colors')
    .option('--strict', 'exit 2 when any error-severity alert is raised')
    .option('--no-progress', 'no progress bar on stderr')
    .option('--max-frame <size>', 'largest frame payload kept in memory (default 16M)', parseSize)
    .option('--max-message <size>', 'largest message reassembled (default 16M)', parseSize)
    .option('--max-inflated <size>', 'largest inflated permessage-deflate message (default 64M)', parseSize)
    .addHelpText('after', EXAMPLES)
    .showHelpAfterError('(run wsdump --help for usage)');
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

class Progress {
  private read = 0;
  private lastDraw = 0;
  private shown = false;

  constructor(
    private readonly total: number,
    private readonly stderr: NodeJS.WritableStream,
  ) {}

  add(n: number): void {
    this.read += n;
    const now = Date.now();
    if (now - this.lastDraw < 200) return;
    this.lastDraw = now;
    const fraction = Math.min(1, this.read / this.total);
    const bar = '#'.repeat(Math.round(fraction * 30)).padEnd(30, '.');
    this.stderr.write(`\r[${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% of ${(this.total / 1e6).toFixed(1)} MB`);
    this.shown = true;
  }

  clear(): void {
    if (this.shown) this.stderr.write('\r\x1b[2K');
  }
}

/** Progress is drawn for files over this size, when stderr is a terminal. */
const PROGRESS_MIN_BYTES = 20 * 1024 * 1024;

async function dissectCapture(path: string, options: WsdumpOptions, io: CliIo): Promise<number> {
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
      const bar = new Progress(size, io.stderr);
      progress = bar;
      source = createReadStream(path, { highWaterMark: 1 << 20 }).pipe(counter((n) => bar.add(n)));
    }
  }
  const capture = await openCapture(source, { name: path === '-' ? '<stdin>' : path });
  const dissector = new CaptureDissector({ limits: limitsFrom(options), ...(options.decodeAs ? { decodeAs: options.decodeAs } : {}) });
  const view = makeView(options, io);
  const out = new Output(io.stdout);
  let errors = 0;
  const emit = async (events: ReturnType<CaptureDissector['item']>) => {
    let text = '';
    for (const event of events) {
      if (options.strict && hasError(event)) errors++;
      text += view(event);
    }
    if (text !== '') {
      progress?.clear();
      await out.write(text);
    }
  };
  for await (const item of capture.items) {
    await emit(dissector.item(item));
    if (out.isClosed) break;
  }
  await emit(dissector.finish());
  progress?.clear();
  return options.strict && errors > 0 ? EXIT.strict : EXIT.ok;
}

/**
 * Runs wsdump with an argv (as process.argv: node, script, args…). Returns the exit code;
 * never calls process.exit, so it can run inside tests.
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const program = createWsdumpProgram()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  try {
    program.parse(argv);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.unusable;
    throw error;
  }
  const options = program.opts<WsdumpOptions>();
  if ([options.json, options.messages, options.summary].filter(Boolean).length > 1) {
    io.stderr.write('wsdump: choose one of --json, --messages, --summary\n');
    return EXIT.unusable;
  }
  try {
    return await dissectCapture(program.args[0]!, options, io);
  } catch (error) {
    if (error instanceof CaptureFormatError || error instanceof UsageError) {
      io.stderr.write(`wsdump: ${error.message}\n`);
      return EXIT.unusable;
    }
    io.stderr.write(`wsdump: internal error, please report it with the capture if you can:\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 70;
  }
}
