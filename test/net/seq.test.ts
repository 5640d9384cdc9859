import { describe, expect, it } from 'vitest';
import { seqAdd, seqDiff } from '../../src/net/seq.js';

describe('sequence arithmetic (RFC 9293 §3.4)', () => {
  it('compares across the 2^32 wrap', () => {
    expect(seqDiff(5, 0xfffffffb)).toBe(10);
    expect(seqDiff(0xfffffffb, 5)).toBe(-10);
    expect(seqDiff(100, 100)).toBe(0);
    expect(seqDiff(0x7fffffff, 0)).toBe(0x7fffffff);
  });

  it('adds modulo 2^32', () => {
    expect(seqAdd(0xffffffff, 1)).toBe(0);
    expect(seqAdd(0xfffffff0, 0x20)).toBe(0x10);
    expect(seqAdd(7, 0)).toBe(7);
  });
});
