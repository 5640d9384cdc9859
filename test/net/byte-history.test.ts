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
