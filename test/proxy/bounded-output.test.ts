/**
 * The live output of wsproxy (src/proxy/bounded-output.ts): the lines of one turn of the event
 * loop go out in one write, in order; a stream that takes nothing costs at most the bound, and
 * what was dropped is counted in one line.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BoundedOutput } from '../../src/proxy/bounded-output.js';

function sink(hold = false) {
  const writes: string[] = [];
  const held: (() => void)[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      writes.push(chunk.toString());
      if (hold) held.push(done);
      else done();
    },
  });
  return { stream, writes, release: () => held.splice(0).forEach((done) => done()) };
}

describe('BoundedOutput', () => {
  it('writes the lines of one turn together, in order', async () => {
    const { stream, writes } = sink();
    const out = new BoundedOutput(stream, { droppedLine: (n) => `dropped ${n}\n` });
    for (let i = 0; i < 5; i++) expect(out.write(`line ${i}\n`)).toBe(true);
    expect(writes).toEqual([]);
    await Promise.resolve();
    out.write('next turn\n');
    await out.flush();
    expect(writes.join('')).toBe('line 0\nline 1\nline 2\nline 3\nline 4\nnext turn\n');
    expect(writes[0]).toBe('line 0\nline 1\nline 2\nline 3\nline 4\n');
    expect(out.pendingBytes).toBe(0);
  });

  it('drops whole lines past the bound, and says how many once the stream has room', async () => {
    const { stream, writes, release } = sink(true);
    const out = new BoundedOutput(stream, { maxPendingBytes: 100, droppedLine: (n) => `dropped ${n}\n` });
    const line = `${'x'.repeat(39)}\n`; // 40 bytes
    expect([out.write(line), out.write(line), out.write(line), out.write(line)]).toEqual([true, true, false, false]);
    expect(out.pendingBytes).toBe(80);
    expect(out.dropped).toBe(2);
    await Promise.resolve();
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(out.pendingBytes).toBe(0);
    out.write('after\n');
    const flushed = out.flush(); // hands the batch to the stream now
    release();
    await flushed;
    expect(writes.join('')).toBe(`${line}${line}dropped 2\nafter\n`);
  });
});
