import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { writePcapHeader, writePcapRecord } from '../../src/capture/index.js';
import { buildPcapFile } from '../../src/capture/pcap-file-writer.js';
import { TcpConversationRecorder } from '../../src/capture/tcp-recorder.js';
import { Progress } from '../../src/cli/progress.js';
import { main } from '../../src/cli/wsdump.js';
import { computeAccept } from '../../src/http/accept.js';
import { encodeFrame } from '../../src/websocket/frame-encoder.js';
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

/** A 21 MB capture of one WebSocket connection: 20,000 text frames of about 1 KB, each a row. */
function bigSession(): string {
  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  const rec = new TcpConversationRecorder({ client: { ip: '192.0.2.1', port: 50000 }, server: { ip: '192.0.2.2', port: 80 } });
  const text = (s: string) => new TextEncoder().encode(s);
  const packets = [...rec.open(0), ...rec.data('client', text(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`), 0)];
  packets.push(...rec.data('server', text(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(key)}\r\n\r\n`), 0));
  const frame = encodeFrame({ opcode: 1, payload: text('x'.repeat(1000)) });
  for (let i = 0; i < 20_000; i++) packets.push(...rec.data('server', frame, i / 1000));
  const path = join(dir, 'session.pcap');
  writeFileSync(path, buildPcapFile(packets));
  return path;
}

/** stdout and stderr on one terminal: what is written to either, in order, as one screen would get it. */
function terminal(): { io: ReturnType<typeof fakeIo>; log: ['out' | 'err', string][] } {
  const log: ['out' | 'err', string][] = [];
  const side = (name: 'out' | 'err') =>
    Object.assign(
      new Writable({
        write(chunk: Buffer | string, _enc, done) {
          log.push([name, chunk.toString()]);
          done();
        },
      }),
      { isTTY: true, columns: 120 },
    );
  return { io: { ...fakeIo(), stdout: side('out') as unknown as Collector, stderr: side('err') as unknown as Collector }, log };
}

const BAR = /^\r\[[#.]{30}\]\s+\d+% of \d+\.\d MB$/;
const ERASE = '\r\x1b[2K';

describe('progress bar', () => {
  const path = bigCapture();

  it('stays on screen while rows are printed, whatever the view, and goes at the end', async () => {
    const session = bigSession();
    for (const view of [[], ['--explain'], ['--json'], ['--messages']]) {
      const { io, log } = terminal();
      expect(await main(argv(...view, session), io)).toBe(0);
      const draws = log.filter(([side, text]) => side === 'err' && BAR.test(text)).length;
      // Drawn again after every stretch of output (but the last), not only every 200 ms of reading.
      const stretches = log.filter(([side], i) => side === 'out' && log[i + 1]?.[0] !== 'out').length;
      expect(stretches, view.join(' ')).toBeGreaterThan(10);
      expect(draws, view.join(' ')).toBeGreaterThanOrEqual(stretches - 1);
      // Every time output erased it, it came back after that output, until the end.
      for (let i = 0; i < log.length - 1; i++) {
        if (log[i]![0] !== 'err' || log[i]![1] !== ERASE) continue;
        const next = log.slice(i + 1).find(([side]) => side === 'err');
        expect(next === undefined || BAR.test(next[1]), `${view.join(' ')}: erased at write ${i} and not drawn again`).toBe(true);
      }
      // The last thing on stderr erases it; nothing is printed over it meanwhile.
      expect(log.filter(([side]) => side === 'err').at(-1)![1]).toBe(ERASE);
      const lastOut = log.map(([side]) => side).lastIndexOf('out');
      expect(log.slice(0, lastOut).some(([side, text]) => side === 'err' && BAR.test(text))).toBe(true);
    }
  });

  it('is redrawn in place, not erased, when the output goes elsewhere', () => {
    const stderr = new Collector(true);
    let now = 0;
    const bar = new Progress(1000, stderr, { sharesTerminal: false, clock: () => now });
    bar.add(500);
    bar.afterOutput();
    bar.beforeOutput();
    now = 100;
    bar.afterOutput(); // too soon: unchanged
    bar.add(500);
    now = 300;
    bar.afterOutput();
    expect(stderr.text.split('\r').filter(Boolean)).toEqual(['[###############...............]  50% of 0.0 MB', '[##############################] 100% of 0.0 MB']);
  });

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
