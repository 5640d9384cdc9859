/**
 * Captures cut anywhere: at every packet boundary and at random bytes. Whatever was decodable
 * before the cut is still decoded, and nothing throws but a one-line CaptureFormatError when
 * the cut leaves no usable capture header.
 */
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CaptureFormatError } from '../src/capture/index.js';
import { dissect } from '../src/engine/dissect.js';
import type { KeyLog } from '../src/tls/keylog.js';
import { fixtureKeyLog } from './helpers/dissect.js';
import { runs } from './helpers/fuzz.js';

const FILES = ['fixtures/real/ws-basic.pcap', 'fixtures/real/deflate.pcap', 'fixtures/real/dumpcap-pcapng.pcapng', 'fixtures/crafted/frame-length-msb.pcap', 'fixtures/shared/suricata-websocket-control-frag.pcap'];

async function run(bytes: Uint8Array, keyLog?: KeyLog): Promise<{ frames: number; error: unknown }> {
  const stream = new PassThrough();
  stream.end(bytes);
  let frames = 0;
  try {
    for await (const event of dissect(stream, keyLog ? { keyLog } : {})) if (event.type === 'frame') frames++;
    return { frames, error: null };
  } catch (error) {
    return { frames, error };
  }
}

/** Offsets where classic pcap records start (after the 24-byte header). */
function pcapRecordBoundaries(file: Uint8Array): number[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const out: number[] = [];
  for (let at = 24; at + 16 <= file.length; at += 16 + view.getUint32(at + 8, true)) out.push(at);
  return out;
}

describe('truncated captures', () => {
  it.each(FILES)('%s cut at every packet boundary decodes the frames before the cut', async (path) => {
    const file = new Uint8Array(readFileSync(path));
    const whole = await run(file);
    expect(whole.error).toBeNull();
    const boundaries = path.endsWith('.pcap') ? pcapRecordBoundaries(file) : [];
    let previous = 0;
    for (const cut of boundaries) {
      const result = await run(file.subarray(0, cut));
      expect(result.error).toBeNull();
      // More of the capture never shows fewer frames.
      expect(result.frames).toBeGreaterThanOrEqual(previous);
      previous = result.frames;
    }
    expect(previous).toBeLessThanOrEqual(whole.frames);
  });

  it('a wss:// capture cut at every packet boundary decrypts the frames before the cut', async () => {
    const path = 'fixtures/tls/tls12-cbc.pcap';
    const keyLog = fixtureKeyLog(path)!;
    const file = new Uint8Array(readFileSync(path));
    const whole = await run(file, keyLog);
    expect(whole.frames).toBeGreaterThan(10);
    let previous = 0;
    for (const cut of pcapRecordBoundaries(file)) {
      const result = await run(file.subarray(0, cut), keyLog);
      expect(result.error).toBeNull();
      expect(result.frames).toBeGreaterThanOrEqual(previous);
      previous = result.frames;
    }
    expect(previous).toBe(whole.frames);
  });

  it('never throws anything but CaptureFormatError, wherever the file is cut or damaged', async () => {
    const files = FILES.map((f) => new Uint8Array(readFileSync(f)));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: files.length - 1 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), async (which, cutAt, flips) => {
        const file = Uint8Array.from(files[which]!);
        for (const [at, value] of flips) file[at % file.length] = value;
        const { error } = await run(file.subarray(0, Math.floor(file.length * cutAt)));
        if (error !== null) expect(error).toBeInstanceOf(CaptureFormatError);
      }),
      { numRuns: runs(200) },
    );
  });
});
