/**
 * What a capture that leaves many connections open costs (issue 25): their state is shared
 * where it is the same for all, and their ends come out a few at a time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a JavaScript module of the bench, without types.
import { writeDeclared } from '../../bench/hostile-captures.mjs';
import { openCapture } from '../../src/capture/index.js';
import { CaptureDissector } from '../../src/engine/capture-dissector.js';
import type { DissectEvent } from '../../src/engine/events.js';
import { DEFAULT_LIMITS, withDefaults, type Limits } from '../../src/websocket/types.js';

const dir = mkdtempSync(join(tmpdir(), 'wsdump-open-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('CaptureDissector.finishing', () => {
  it('gives what finish() gives, in the same order, in several steps when many connections are open', async () => {
    const path = join(dir, 'open.pcap');
    // 700 connections, each with one frame begun each way and never finished.
    await writeDeclared(path, 700, 100);
    const whole = new CaptureDissector();
    const stepped = new CaptureDissector();
    for await (const batch of (await openCapture(path)).batches) {
      for (const item of batch) expect(stepped.item(item)).toEqual(whole.item(item));
    }
    const expected = whole.finish();
    const steps = [...stepped.finishing()];
    expect(steps.flat()).toEqual(expected);
    const ends = (events: DissectEvent[]) => events.filter((e) => e.type === 'end').length;
    expect(ends(expected)).toBe(700);
    // Several steps, each ending some connections: not all 700 ends made at once.
    const ending = steps.filter((events) => ends(events) > 0);
    expect(ending.length).toBeGreaterThan(1);
    for (const events of ending) expect(ends(events)).toBeLessThan(700);
  });
});

describe('withDefaults', () => {
  it('is { ...DEFAULT_LIMITS, ...limits }', () => {
    const key = fc.constantFrom<keyof Limits>('maxFramePayload', 'maxMessageSize', 'maxInflatedSize');
    fc.assert(
      fc.property(fc.dictionary(key, fc.nat()), (limits) => {
        expect(withDefaults(limits)).toEqual({ ...DEFAULT_LIMITS, ...limits });
      }),
    );
  });

  it('copies nothing when there is nothing to merge: every connection shares the same limits', () => {
    expect(withDefaults(undefined)).toBe(DEFAULT_LIMITS);
    expect(withDefaults({})).toBe(DEFAULT_LIMITS);
    const complete: Limits = { maxFramePayload: 1, maxMessageSize: 2, maxInflatedSize: 3 };
    expect(withDefaults(complete)).toBe(complete);
    const partial = { maxMessageSize: 2 };
    expect(withDefaults(partial)).not.toBe(partial);
  });
});
