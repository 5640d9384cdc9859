/**
 * wsproxy's options that make it act on the traffic instead of only watching it: the built-in
 * faults (and the script), kept here so the command itself grows by a call or two.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { parseCloseAfter, parseDelay, type FaultOptions } from '../proxy/intercept/faults.js';
import { loadScript, ScriptError, type HookName, type InterceptScript } from '../proxy/intercept/script.js';
import { parseSize, UsageError, warn, type CliIo } from './common.js';

/** The faults' options parse straight into FaultOptions; --script is a path until loaded. */
export interface InterceptCliOptions extends FaultOptions {
  script?: string;
}

function argument<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (error) {
      throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
    }
  };
}

function atLeastOne(what: string): (text: string) => number {
  return (text) => {
    const n = parseSize(text);
    if (n < 1) throw new InvalidArgumentError(`expected at least 1 ${what}.`);
    return n;
  };
}

export function addInterceptOptions(program: Command): Command {
  return program
    .option('--script <file.mjs>', 'pass each WebSocket message through this ES module\'s hooks (onMessage, onOpen, onClose): change, drop, hold or inject messages (README, "Scripts")')
    .option('--delay <ms|ms-ms>', 'fault: hold each WebSocket message this many milliseconds (a range: random in it), order kept', argument(parseDelay))
    .option('--drop-pings', 'fault: drop every Ping, both ways')
    .option('--drop-pongs', 'fault: drop every Pong, both ways (watch a heartbeat time out)')
    .option('--fragment <bytes>', 'fault: re-send each data message as frames of at most this many bytes', atLeastOne('byte'))
    .option('--close-after <n[:code]>', 'fault: after n messages (both ways), the proxy closes both sides (code default 1000)', argument(parseCloseAfter))
    .option('--throttle <bytes/s>', 'fault: relay at most this many bytes per second, each way (64k = 65536)', atLeastOne('byte per second'));
}

export function faultsFrom(options: InterceptCliOptions): FaultOptions {
  return {
    ...(options.delay !== undefined ? { delay: options.delay } : {}),
    ...(options.dropPings ? { dropPings: true } : {}),
    ...(options.dropPongs ? { dropPongs: true } : {}),
    ...(options.fragment !== undefined ? { fragment: options.fragment } : {}),
    ...(options.closeAfter !== undefined ? { closeAfter: options.closeAfter } : {}),
    ...(options.throttle !== undefined ? { throttle: options.throttle } : {}),
  };
}

/** Loads --script FILE before listening: a script that cannot be used is an error at start. */
export async function scriptFrom(options: InterceptCliOptions): Promise<InterceptScript | undefined> {
  if (options.script === undefined) return undefined;
  try {
    return await loadScript(options.script);
  } catch (error) {
    if (error instanceof ScriptError) throw new UsageError(error.message);
    throw error;
  }
}

/** A hook's first failure: on stderr with its stack (the live view has one line about it). */
export function reportScriptError(io: CliIo, hook: HookName, conn: number, error: unknown): void {
  const stack = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  warn(io, `wsproxy: the script's ${hook} failed on #${conn} (later failures are counted, not shown):\n${stack}\n`);
}

/** At the end: how often each hook failed, when more than the once shown. */
export function reportScriptFailures(io: CliIo, failures: ReadonlyMap<HookName, number>): void {
  for (const [hook, count] of failures) if (count > 1) warn(io, `wsproxy: the script's ${hook} failed ${count} times in all\n`);
}
