/** Byte buffers for the decoder: allocated without zero-filling, joined with one copy. */

/** Small buffers are carved from slabs of this size (as Buffer.allocUnsafe does with 8 KiB). */
const SLAB_SIZE = 64 * 1024;
const SLAB_MAX_PIECE = 4 * 1024;
let slab = new ArrayBuffer(0);
let slabUsed = 0;

/**
 * A Uint8Array of n bytes that is not zero-filled (the caller writes every byte it reads),
 * at a byteOffset congruent to `alignWith` mod 4. A plain Uint8Array, not a Buffer, so
 * values built from it compare and serialise like the rest of the decoder's output. Small
 * ones share slabs: one allocation per frame showed in the profile.
 */
export function uninitialisedBytes(n: number, alignWith = 0): Uint8Array {
  if (n > SLAB_MAX_PIECE) {
    const raw = Buffer.allocUnsafeSlow(n + 3);
    const shift = (alignWith - raw.byteOffset) & 3;
    return new Uint8Array(raw.buffer, raw.byteOffset + shift, n);
  }
  let start = slabUsed + ((alignWith - slabUsed) & 3);
  if (start + n > slab.byteLength) {
    // Not zero-filled either (new ArrayBuffer is): every byte handed out is written first.
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE).buffer;
    start = alignWith & 3;
  }
  slabUsed = start + n;
  return new Uint8Array(slab, start, n);
}

/**
 * A buffer of its own (never a piece of a shared slab), for bytes kept for long: a small piece
 * of a slab would keep the whole 64 KiB slab alive.
 */
export function ownedBytes(n: number): Uint8Array {
  return n > SLAB_MAX_PIECE ? uninitialisedBytes(n) : new Uint8Array(n);
}

/** The chunks as one buffer (the chunk itself when there is only one). */
export function concatBytes(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = uninitialisedBytes(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
