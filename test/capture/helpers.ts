import { Readable } from 'node:stream';
import { openCapture } from '../../src/capture/open-capture.js';
import type { CaptureInfo, CaptureItem } from '../../src/capture/types.js';

/** A stream handing out `bytes` in pieces of `size` bytes (or at the given split points). */
export function streamOf(bytes: Uint8Array, split: number | number[] = 65536): Readable {
  const pieces: Buffer[] = [];
  const buf = Buffer.from(bytes);
  if (typeof split === 'number') {
    for (let at = 0; at < buf.length; at += split) pieces.push(buf.subarray(at, at + split));
  } else {
    let last = 0;
    for (const at of [...split].sort((a, b) => a - b)) {
      if (at > last && at < buf.length) {
        pieces.push(buf.subarray(last, at));
        last = at;
      }
    }
    pieces.push(buf.subarray(last));
  }
  return Readable.from(pieces);
}

export async function readAll(
  bytes: Uint8Array,
  split?: number | number[],
): Promise<{ info: CaptureInfo; items: CaptureItem[] }> {
  const capture = await openCapture(streamOf(bytes, split), { name: 'test' });
  const items: CaptureItem[] = [];
  for await (const item of capture.items) items.push(item);
  return { info: capture.info, items };
}

export function packets(items: CaptureItem[]): Extract<CaptureItem, { kind: 'packet' }>[] {
  return items.filter((i): i is Extract<CaptureItem, { kind: 'packet' }> => i.kind === 'packet');
}

export function notices(items: CaptureItem[]): Extract<CaptureItem, { kind: 'notice' }>[] {
  return items.filter((i): i is Extract<CaptureItem, { kind: 'notice' }> => i.kind === 'notice');
}

/** Items with packet data as plain arrays, so runs over different chunkings compare equal. */
export function comparable(items: CaptureItem[]): unknown[] {
  return items.map((i) => (i.kind === 'packet' ? { ...i, data: [...i.data] } : i));
}

export function bytesOf(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}
