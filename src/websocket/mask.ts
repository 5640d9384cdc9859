/**
 * RFC 6455 §5.3 masking: octet i of the transformed data is octet i of the original XOR octet
 * (i MOD 4) of the masking key. The same operation masks and unmasks.
 *
 * `keyOffset` is the index of `input[0]` within the frame's payload, so a payload that arrives
 * in pieces can be unmasked piece by piece with a running key index.
 */

/** Native-endian 32-bit word of the key starting at key index `start` (0-3). */
function keyWord(key: Uint8Array, start: number): number {
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) bytes[i] = key[(start + i) & 3]!;
  // Reading the bytes back through a Uint32Array gives the word in the platform's byte order,
  // which is what the 32-bit loop below XORs with: no endianness assumption needed.
  return new Uint32Array(bytes.buffer)[0]!;
}

/**
 * `output[i] = input[i] ^ key[(keyOffset + i) & 3]` for every byte of `input`.
 * `input` is never written unless the caller passes it as `output` on purpose.
 * Returns `output` (a new buffer of `input.length` bytes when none is given).
 */
export function applyMask(input: Uint8Array, key: Uint8Array, keyOffset: number, output?: Uint8Array): Uint8Array {
  if (key.length < 4) throw new RangeError(`masking key must have 4 bytes, got ${key.length}`);
  const out = output ?? new Uint8Array(input.length);
  if (out.length < input.length) throw new RangeError(`output has ${out.length} bytes, input ${input.length}`);
  const n = input.length;
  const k0 = key[0]!;
  const k1 = key[1]!;
  const k2 = key[2]!;
  const k3 = key[3]!;
  let i = 0;
  let k = keyOffset & 3;

  // Word-at-a-time when both buffers can reach 4-byte alignment at the same index.
  if (n >= 16 && ((input.byteOffset ^ out.byteOffset) & 3) === 0) {
    const head = (4 - (input.byteOffset & 3)) & 3;
    for (; i < head; i++, k = (k + 1) & 3) out[i] = input[i]! ^ key[k]!;
    const words = (n - i) >>> 2;
    const src = new Uint32Array(input.buffer, input.byteOffset + i, words);
    const dst = new Uint32Array(out.buffer, out.byteOffset + i, words);
    const word = keyWord(key, k);
    for (let w = 0; w < words; w++) dst[w] = src[w]! ^ word;
    // Each word consumed exactly 4 key bytes, so the key index is unchanged.
    i += words * 4;
  }

  // Unaligned or short: bytes, unrolled by four with the key bytes in locals.
  const ks = [k0, k1, k2, k3];
  const a = ks[k]!;
  const b = ks[(k + 1) & 3]!;
  const c = ks[(k + 2) & 3]!;
  const d = ks[(k + 3) & 3]!;
  for (; i + 4 <= n; i += 4) {
    out[i] = input[i]! ^ a;
    out[i + 1] = input[i + 1]! ^ b;
    out[i + 2] = input[i + 2]! ^ c;
    out[i + 3] = input[i + 3]! ^ d;
  }
  if (i < n) out[i] = input[i]! ^ a;
  if (i + 1 < n) out[i + 1] = input[i + 1]! ^ b;
  if (i + 2 < n) out[i + 2] = input[i + 2]! ^ c;
  return out;
}
