/**
 * wsproxy's options that make it act on the traffic instead of only watching it: the built-in
 * faults (and the script), kept here so the command itself grows by a call or two.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { parseCloseAfter, parseDelay, type FaultOptions } from '../proxy/intercept/faults.js';
import { parseSize } from './common.js';

export interface InterceptCliOptions {
  delay?: { min: number; max: number };
  dropPings?: boolean;
  dropPongs?: boolean;
  fragment?: number;
  closeAfter?: { messages: number; code: number };
  throttle?: number;
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
