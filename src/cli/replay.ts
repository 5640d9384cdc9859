/**
 * `wsproxy replay CAPTURE --target URL`: a recorded conversation played again against a live
 * server, its answers set beside the recorded ones. Exit 0 when every answer is the same, 2
 * when one is changed, missing or new, 1 when the capture or the target cannot be used.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { AddressError, formatHostPort, parseTarget, type ProxyTarget } from '../proxy/address.js';
import { readRecording, replay, ReplayError, type RecordedMessage, type Verdict } from '../proxy/intercept/replay.js';
import { escapeText, hexPreview } from '../render/escape.js';
import { CaptureFormatError } from '../capture/index.js';
import { parseCount, warn, type CliIo } from './common.js';

export const REPLAY_EXIT = { same: 0, unusable: 1, differs: 2 } as const;

interface ReplayCliOptions {
  target: ProxyTarget;
  conn?: number;
  fast?: boolean;
  insecure?: boolean;
  wait: number;
}

const EXAMPLES = `
Examples:
  $ wsproxy -l 9000 -t 8080 --write session.pcap    record a session first
  $ wsproxy replay session.pcap --target ws://localhost:8080 --fast
  $ wsproxy replay s.pcap -t wss://staging.example.org --conn 3 || echo changed

Each answer is one line: = same, ~ changed (recorded, then now, and where they
first differ), - missing (recorded, not answered now), + new (answered now,
not recorded).
Exit codes: 0 every answer the same, 2 one changed, missing or new,
            1 unusable capture or target.`;

function createReplayProgram(): Command {
  return new Command('wsproxy replay')
    .description('Play the client side of a recorded WebSocket connection against a live server, and compare its answers with the recorded ones.')
    .argument('<capture>', 'a pcap or pcapng file (wsproxy --write, tcpdump, Wireshark)')
    .addOption(
      new Option('-t, --target <url>', 'ws://host[:port] or wss://…: the server (the path is the recorded one)')
        .argParser((value) => {
          try {
            return parseTarget(value);
          } catch (error) {
            if (error instanceof AddressError) throw new InvalidArgumentError(error.message.replace(/^--\w+: /, ''));
            throw error;
          }
        })
        .makeOptionMandatory(),
    )
    .option('--conn <n>', 'the connection to replay (default: the first WebSocket connection)', parseCount)
    .option('--fast', 'send each message as soon as the answers recorded before it have arrived, not at its recorded time')
    .option('--insecure', 'wss:// target: do not verify its certificate')
    .addOption(new Option('--wait <seconds>', 'how long to wait for answers after the last message, and for the target').argParser((v) => {
      if (!/^\d+(\.\d+)?$/.test(v)) throw new InvalidArgumentError('expected a number of seconds, such as 2 or 0.5.');
      return Number(v);
    }).default(2))
    .addHelpText('after', EXAMPLES)
    .showHelpAfterError('(run wsproxy replay --help for usage)');
}

const SHOWN = 60;

function show(message: RecordedMessage): string {
  if (message.type === 'binary') return `binary ${message.data.length} B${message.data.length > 0 ? ` ${hexPreview(message.data)}` : ''}`;
  return `text ${escapeText(JSON.stringify(Buffer.from(message.data).toString('utf8')), SHOWN)}`;
}

/** Where two payloads first differ, in words. */
function difference(recorded: RecordedMessage, now: RecordedMessage): string {
  if (recorded.type !== now.type) return `was ${recorded.type}, now ${now.type}`;
  const a = Buffer.from(recorded.data);
  const b = Buffer.from(now.data);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const lengths = a.length === b.length ? `${a.length} bytes` : `${a.length} → ${b.length} bytes`;
  return `${lengths}, first difference at byte ${i}`;
}

function line(verdict: Verdict): string {
  switch (verdict.kind) {
    case 'same':
      return `  = ${verdict.index} ${show(verdict.now)}\n`;
    case 'changed':
      return `  ~ ${verdict.index} ${difference(verdict.recorded, verdict.now)}\n      recorded ${show(verdict.recorded)}\n      now      ${show(verdict.now)}\n`;
    case 'missing':
      return `  - ${verdict.index} missing: recorded ${show(verdict.recorded)}\n`;
    case 'new':
      return `  + ${verdict.index} new: ${show(verdict.now)}\n`;
  }
}

export async function replayMain(argv: string[], io: CliIo): Promise<number> {
  const program = createReplayProgram();
  program.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => warn(io, s) });
  try {
    program.parse(argv);
  } catch (error) {
    const code = (error as { exitCode?: number }).exitCode;
    if (code !== undefined) return code === 0 ? 0 : REPLAY_EXIT.unusable;
    throw error;
  }
  const options = program.opts<ReplayCliOptions>();
  const capture = program.args[0]!;
  try {
    const recording = await readRecording(capture, options.conn);
    const target = `${options.target.tls ? 'wss' : 'ws'}://${formatHostPort(options.target)}`;
    io.stdout.write(`replaying #${recording.conn} ${escapeText(recording.path, SHOWN)} of ${escapeText(capture)} against ${escapeText(target)}: ${recording.client.length} client message(s), ${recording.server.length} recorded answer(s)${options.fast ? ', fast' : ''}\n`);
    const result = await replay(recording, { target: options.target, wait: options.wait * 1000, ...(options.fast ? { fast: true } : {}), ...(options.insecure ? { insecure: true } : {}) });
    for (const verdict of result.verdicts) io.stdout.write(line(verdict));
    const count = (kind: Verdict['kind']) => result.verdicts.filter((v) => v.kind === kind).length;
    const same = count('same') === result.verdicts.length;
    io.stdout.write(`${same ? 'same' : 'differs'}: ${count('same')} same, ${count('changed')} changed, ${count('missing')} missing, ${count('new')} new\n`);
    return same ? REPLAY_EXIT.same : REPLAY_EXIT.differs;
  } catch (error) {
    if (error instanceof ReplayError || error instanceof CaptureFormatError) {
      warn(io, `wsproxy replay: ${error.message}\n`);
      return REPLAY_EXIT.unusable;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
      warn(io, `wsproxy replay: cannot read ${capture}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : 'permission denied'}\n`);
      return REPLAY_EXIT.unusable;
    }
    throw error;
  }
}
