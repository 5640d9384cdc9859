import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteQueue } from '../../src/capture/byte-queue.js';

describe('ByteQueue', () => {
  it('hands out views inside one chunk and copies only across chunks', () => {
    const first = Buffer.from([1, 2, 3, 4]);
    const queue = new ByteQueue();
    queue.push(first);
    queue.push(Buffer.from([5, 6]));
    const view = queue.peek(1, 2);
    expect(view.buffer).toBe(first.buffer);
    expect([...queue.peek(3, 2)]).toEqual([4, 5]);
    expect([...queue.take(3)]).toEqual([1, 2, 3]);
    expect(queue.length).toBe(3);
    queue.skip(2);
    expect([...queue.take(10)]).toEqual([6]);
    expect(queue.length).toBe(0);
  });

  it('behaves like one concatenated buffer under any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 10 }),
        fc.array(fc.tuple(fc.constantFrom('take', 'skip', 'peek'), fc.nat(30), fc.nat(30)), { maxLength: 10 }),
        (chunks, ops) => {
          const queue = new ByteQueue();
          for (const c of chunks) queue.push(Buffer.from(c));
          let model = Buffer.concat(chunks.map((c) => Buffer.from(c)));
          for (const [op, a, b] of ops) {
            if (op === 'take') {
              expect([...queue.take(a)]).toEqual([...model.subarray(0, a)]);
              model = model.subarray(Math.min(a, model.length));
            } else if (op === 'skip') {
              queue.skip(a);
              model = model.subarray(Math.min(a, model.length));
            } else if (a + b <= model.length) {
              expect([...queue.peek(a, b)]).toEqual([...model.subarray(a, a + b)]);
            }
            expect(queue.length).toBe(model.length);
          }
        },
      ),
    );
  });
});
