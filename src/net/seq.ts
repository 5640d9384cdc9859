/**
 * TCP sequence number arithmetic (RFC 9293 §3.4): sequence numbers live in a 32-bit space
 * that wraps, so they are compared through their signed 32-bit difference, never with `<`.
 */

/** `a - b` as a signed 32-bit value: positive when `a` is after `b` (within 2^31). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** `seq + n` wrapped into the unsigned 32-bit space. */
export function seqAdd(seq: number, n: number): number {
  return (seq + n) >>> 0;
}
