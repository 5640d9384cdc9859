/**
 * Small buffers that live as long as what owns them (a connection's frame parser, its
 * retransmission history), carved from ArrayBuffers that only they share. A Uint8Array of its
 * own costs an ArrayBuffer object and a backing store beside it (~200 bytes for a 14-byte
 * header); a piece of Node's buffer pool, or of the decoder's slab (src/websocket/bytes.ts),
 * keeps alive the whole pool or slab, full of short-lived buffers: 16,000 open connections
 * held 17 MB of 8 KiB pools for 6 MB of history (issue 25). Pieces of an arena stay among
 * pieces of their kind: an arena is freed once all its owners are gone.
 */
export class Arena {
  private buffer = new ArrayBuffer(0);
  private used = 0;

  /** `size`: the bytes of each ArrayBuffer; a piece of more than a quarter of it gets one of its own. */
  constructor(private readonly size: number) {}

  /** n bytes, zero-filled. */
  bytes(n: number): Uint8Array {
    if (n > this.size >> 2) return new Uint8Array(n);
    if (this.used + n > this.buffer.byteLength) {
      this.buffer = new ArrayBuffer(this.size);
      this.used = 0;
    }
    const piece = new Uint8Array(this.buffer, this.used, n);
    this.used += n;
    return piece;
  }
}
