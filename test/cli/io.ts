import { PassThrough, Writable } from 'node:stream';
import type { CliIo } from '../../src/cli/common.js';

/** A writable that keeps what is written, optionally pretending to be a terminal. */
export class Collector extends Writable {
  text = '';
  isTTY: boolean;
  columns = 100;

  constructor(tty = false) {
    super();
    this.isTTY = tty;
  }

  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

export function fakeIo(options: { tty?: boolean; env?: NodeJS.ProcessEnv; stdin?: NodeJS.ReadableStream } = {}): CliIo & { stdout: Collector; stderr: Collector } {
  return {
    stdout: new Collector(options.tty ?? false),
    stderr: new Collector(false),
    stdin: options.stdin ?? new PassThrough(),
    env: options.env ?? {},
  };
}

export const argv = (...args: string[]) => ['node', 'wsdump', ...args];

export function ndjson(text: string): Record<string, any>[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}
