import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteHistory } from '../../src/net/byte-history.js';

describe('ByteHistory', () => {
  it('remembers exactly the last `max` bytes appended, across growth and wrap-around', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 600 }),
        fc.array(fc.uint8Array({ maxLength: 700, size: 'large' }), { maxLength: 40 }),
        (max, appends) => {
          const history = new ByteHistory(max);
          let all: number[] = [];
          for (const bytes of appends) {
            history.append(bytes);
            all = [...all, ...bytes].slice(-max);
            // Every remembered byte, from the newest back, and nothing before them.
            for (let back = 1; back <= all.length; back++) expect(history.at(back)).toBe(all[all.length - back]);
            expect(history.at(all.length + 1)).toBeUndefined();
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('keeps each history to itself when many share one arena (appends interleaved)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: 5 }), fc.uint8Array({ minLength: 1, maxLength: 300 })), { maxLength: 60 }),
        (appends) => {
          const histories = Array.from({ length: 6 }, () => new ByteHistory(2048));
          const all: number[][] = histories.map(() => []);
          for (const [which, bytes] of appends) {
            histories[which]!.append(bytes);
            all[which]!.push(...bytes);
          }
          for (let h = 0; h < histories.length; h++) {
            const mine = all[h]!.slice(-2048);
            for (let back = 1; back <= mine.length; back++) expect(histories[h]!.at(back)).toBe(mine[mine.length - back]);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('forgets everything on clear()', () => {
    const history = new ByteHistory(8);
    history.append(Uint8Array.of(1, 2, 3));
    history.clear();
    expect(history.at(1)).toBeUndefined();
    history.append(Uint8Array.of(4));
    expect(history.at(1)).toBe(4);
    expect(history.at(2)).toBeUndefined();
  });
});
