/**
 * The last few KiB delivered in one direction of a TCP stream, kept so that a retransmission
 * arriving after its first copy was delivered can still be compared byte for byte. A ring
 * buffer that grows on demand up to its bound, so idle or small connections cost little.
 */
import { Arena } from '../arena.js';

/**
 * Capacity is what the bytes need, in steps of STEP bytes, and at least half as much again as
 * before (so a stream growing by small pieces is not copied each time): a short connection (a
 * handshake and a few frames) needs little, and a capture of 10,000 of them allocated 80 MB at
 * 4 KiB per direction. Doubling from 256 bytes gave the 16,000 connections of
 * bench/hostile.mjs 256 bytes a direction for 140-170 bytes delivered (issue 25).
 */
const STEP = 64;

/** Histories up to 2 KiB share arenas of 8 KiB (see src/arena.ts); larger ones are not zero-filled. */
const arena = new Arena(8192);
const historyBytes = (n: number): Uint8Array => (n > 2048 ? Buffer.allocUnsafeSlow(n) : arena.bytes(n));

export class ByteHistory {
  private buffer: Uint8Array = new Uint8Array(0);
  /** Where the next byte is written. */
  private head = 0;
  /** How many of the most recent bytes are remembered. */
  private size = 0;

  constructor(private readonly max: number) {}

  /** Forget everything: after a gap the bytes before it no longer sit just behind the stream position. */
  clear(): void {
    this.size = 0;
  }

  append(bytes: Uint8Array): void {
    if (this.max <= 0 || bytes.length === 0) return;
    const n = bytes.length;
    if (n >= this.max) {
      if (this.buffer.length < this.max) this.buffer = historyBytes(this.max);
      this.buffer.set(bytes.subarray(n - this.max));
      this.head = 0;
      this.size = this.max;
      return;
    }
    if (this.size + n > this.buffer.length && this.buffer.length < this.max) {
      const needed = Math.ceil((this.size + n) / STEP) * STEP;
      this.grow(Math.min(this.max, Math.max(needed, this.buffer.length + (this.buffer.length >> 1))));
    }
    const capacity = this.buffer.length;
    const first = capacity - this.head;
    if (n <= first) {
      // No view when the bytes fit before the end of the ring (nearly always).
      this.buffer.set(bytes, this.head);
    } else {
      this.buffer.set(bytes.subarray(0, first), this.head);
      this.buffer.set(bytes.subarray(first), 0);
    }
    this.head = (this.head + n) % capacity;
    this.size = Math.min(capacity, this.size + n);
  }

  /** The byte `back` positions before the stream position (1 = the last one), if remembered. */
  at(back: number): number | undefined {
    if (back < 1 || back > this.size) return undefined;
    const capacity = this.buffer.length;
    return this.buffer[(this.head - back + capacity) % capacity];
  }

  /** See historyBytes. */
  private grow(capacity: number): void {
    const next = historyBytes(capacity);
    const old = this.buffer.length;
    if (old > 0 && this.size > 0) {
      const start = (this.head - this.size + old) % old;
      if (start + this.size <= old) {
        next.set(this.buffer.subarray(start, start + this.size));
      } else {
        const tail = this.buffer.subarray(start);
        next.set(tail);
        next.set(this.buffer.subarray(0, this.size - tail.length), tail.length);
      }
    }
    this.buffer = next;
    this.head = this.size % capacity;
  }
}
