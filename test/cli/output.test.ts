/**
 * wsdump's output (src/cli/common.ts Output, fed by a ByteWriter, src/render/byte-writer.ts):
 * text written during a batch goes out in few writes, in order, whatever its size; flush()
 * waits while the stream refuses more; a reader that went away ends the output quietly, any
 * other failure is kept for a one-line report.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Output } from '../../src/cli/common.js';
import { ByteWriter } from '../../src/render/byte-writer.js';

function sink(options: { hold?: boolean; highWaterMark?: number } = {}) {
  const writes: string[] = [];
  const held: (() => void)[] = [];
  const stream = new Writable({
    highWaterMark: options.highWaterMark ?? 16 * 1024,
    write(chunk: Buffer, _enc, done) {
      writes.push(chunk.toString());
      if (options.hold) held.push(done);
      else done();
    },
  });
  return { stream, writes, release: () => held.splice(0).forEach((done) => done()) };
}

describe('Output', () => {
  it('gathers text into few writes, in order, a text too big for a buffer included', async () => {
    const { stream, writes } = sink();
    const out = new Output(stream);
    const writer = new ByteWriter((bytes) => out.addBytes(bytes), 64 * 1024);
    const lines = Array.from({ length: 2000 }, (_, i) => `line ${i} ✓\n`);
    const big = `${'x'.repeat(200_000)}✓\n`;
    for (const line of lines.slice(0, 1000)) writer.text(line);
    writer.text(big);
    // What came before the big text went out before it, and the big text at its own size.
    expect(writes.join('')).toBe(lines.slice(0, 1000).join('') + big);
    expect(writes.at(-1)!.length).toBe(big.length);
    for (const line of lines.slice(1000)) writer.text(line);
    writer.flush();
    await out.flush();
    expect(writes.join('')).toBe(lines.slice(0, 1000).join('') + big + lines.slice(1000).join(''));
    expect(writes.length).toBeLessThan(8);
  });

  it('writes bytes in the order they are added', async () => {
    const { stream, writes } = sink();
    const out = new Output(stream);
    out.addBytes(Buffer.from('text one\n'));
    out.addBytes(Buffer.from('{"bytes":1}\n'));
    out.addBytes(new Uint8Array(0));
    out.addBytes(Buffer.from('text two ✓\n'));
    await out.flush();
    expect(writes).toEqual(['text one\n', '{"bytes":1}\n', 'text two ✓\n']);
  });

  it('flush() waits until a stream that refused more has drained', async () => {
    const { stream, writes, release } = sink({ hold: true, highWaterMark: 1 });
    const out = new Output(stream);
    out.addBytes(Buffer.from('first\n'));
    let flushed = false;
    const flushing = out.flush().then(() => (flushed = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(['first\n']);
    expect(flushed).toBe(false);
    release();
    await flushing;
    expect(flushed).toBe(true);
  });

  it('stops quietly when the reader goes away, and keeps any other failure', async () => {
    const gone = sink();
    const out = new Output(gone.stream);
    gone.stream.emit('error', Object.assign(new Error('broken pipe'), { code: 'EPIPE' }));
    out.addBytes(Buffer.from('after\n'));
    await out.flush();
    expect(out.isClosed).toBe(true);
    expect(out.failure).toBeNull();
    expect(gone.writes).toEqual([]);

    const full = sink();
    const failing = new Output(full.stream);
    full.stream.emit('error', Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
    expect(failing.failure?.message).toBe('no space left on device');
  });
});
