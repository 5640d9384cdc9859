import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writePcapHeader, writePcapRecord } from '../../src/capture/index.js';
import { main } from '../../src/cli/wsdump.js';
import { argv, Collector, fakeIo } from './io.js';

const dir = mkdtempSync(join(tmpdir(), 'wsdump-progress-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A 21 MB capture (over the 20 MB threshold) of non-TCP packets: quick to read. */
function bigCapture(): string {
  const options = { linkType: 1, snapLength: 65535 };
  const packet = new Uint8Array(60_000); // Ethernet type 0: not IP, skipped by the decoder
  const parts = [writePcapHeader(options)];
  for (let i = 0; i < 350; i++) parts.push(writePcapRecord({ ts: i, data: packet }, options));
  const path = join(dir, 'big.pcap');
  writeFileSync(path, Buffer.concat(parts));
  return path;
}

describe('progress bar', () => {
  const path = bigCapture();

  it('is drawn on stderr for a large file when stderr is a terminal, and cleared at the end', async () => {
    const io = { ...fakeIo(), stderr: new Collector(true) };
    expect(await main(argv(path), io)).toBe(0);
    expect(io.stderr.text).toMatch(/\r\[#*\.*\]\s+\d+% of 21\.\d MB/);
    expect(io.stderr.text.endsWith('\r\x1b[2K')).toBe(true);
  });

  it('is not drawn when stderr is not a terminal, or with --no-progress', async () => {
    const piped = fakeIo();
    await main(argv(path), piped);
    expect(piped.stderr.text).toBe('');
    const off = { ...fakeIo(), stderr: new Collector(true) };
    await main(argv('--no-progress', path), off);
    expect(off.stderr.text).toBe('');
  });
});
