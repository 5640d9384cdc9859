import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Arena } from '../src/arena.js';

describe('Arena', () => {
  it('hands out pieces that never overlap, zero-filled, of the length asked', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 80 }), (sizes) => {
        const arena = new Arena(256);
        const pieces = sizes.map((n, i) => {
          const piece = arena.bytes(n);
          expect(piece.length).toBe(n);
          expect(piece.every((b) => b === 0)).toBe(true);
          piece.fill((i % 255) + 1);
          return piece;
        });
        // Each piece still holds what was written into it: none was handed out twice.
        pieces.forEach((piece, i) => expect(piece.every((b) => b === (i % 255) + 1)).toBe(true));
      }),
    );
  });

  it('shares one ArrayBuffer among small pieces, and gives a large one its own', () => {
    const arena = new Arena(1024);
    const a = arena.bytes(14);
    const b = arena.bytes(14);
    expect(a.buffer).toBe(b.buffer);
    expect(b.byteOffset).toBe(a.byteOffset + 14);
    const large = arena.bytes(300);
    expect(large.buffer).not.toBe(a.buffer);
    expect(large.buffer.byteLength).toBe(300);
  });
});
