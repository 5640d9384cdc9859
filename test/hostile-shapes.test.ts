/**
 * The traffic shapes with which an adversarial probe made wsdump's memory or time grow with the
 * capture instead of with its limits (issue 26), scaled down: each test fails on the code
 * before the fix. The same shapes at full size are in `npm run bench` (bench/hostile.mjs).
 * The captures are written by bench/hostile-captures.mjs from the built library.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a JavaScript module of the bench, without types.
import { writeDeclared, writePinned } from '../bench/hostile-captures.mjs';
import { dissect } from '../src/engine/dissect.js';
import { gc } from './helpers/gc.js';

const dir = mkdtempSync(join(tmpdir(), 'wsdump-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MiB = 1024 * 1024;

/**
 * Memory held in ArrayBuffers (the capture's read chunks, payloads) after full collections: the
 * least of a few, with a pause between them, as V8 frees the memory of dead buffers on a
 * background thread that a loaded machine may delay.
 */
async function arrayBuffers(): Promise<number> {
  let least = Infinity;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
    least = Math.min(least, process.memoryUsage().arrayBuffers);
  }
  return least;
}

describe('memory follows the limits, not the capture', () => {
  it('an open fragmented message does not keep the read chunks of its fragments (100 x 256 KiB)', async () => {
    const path = join(dir, 'pinned.pcap');
    await writePinned(path, 100);
    const before = await arrayBuffers();
    let fragments = 0;
    let held = 0;
    let message: Record<string, unknown> | undefined;
    for await (const event of dissect(path)) {
      if (event.type === 'frame' && event.conn === 1 && ++fragments === 95) held = (await arrayBuffers()) - before;
      if (event.type === 'message' && event.conn === 1) message = { text: event.message.text, fragments: event.message.fragments };
    }
    // Each of the 94 continuations so far came from its own 256 KiB read chunk: 23.5 MiB if kept.
    expect(held).toBeLessThan(8 * MiB);
    expect(message).toEqual({ text: `a${'b'.repeat(100)}z`, fragments: 102 });
  });

  it('a frame header declaring 1 MiB costs what arrives, not 1 MiB (2,000 connections, one byte each way)', async () => {
    const path = join(dir, 'declared.pcap');
    await writeDeclared(path, 2000, 1 << 20);
    const before = await arrayBuffers();
    let frames = 0;
    let held = 0;
    let connections = 0;
    for await (const event of dissect(path)) {
      if (event.type === 'connection') connections++;
      // Every connection is still open (none ends before the capture does) at its last packet.
      if (event.type === 'handshake' && connections === 2000) held = (await arrayBuffers()) - before;
      if (event.type === 'frame') frames++;
    }
    // 4,000 frames of 1 MiB would be 3.9 GiB.
    expect(held).toBeLessThan(64 * MiB);
    expect(frames).toBe(4000);
  });
});
