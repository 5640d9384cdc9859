/**
 * The transport costs of the `end` event count every byte of a connection once: over the
 * fixtures (real peers and crafted), payload plus overhead is the TCP payload each side sent.
 */
import { describe, expect, it } from 'vitest';
import { FIXTURE_CAPTURES, dissectEvents } from '../helpers/dissect.js';

describe('transport costs', () => {
  it.each(FIXTURE_CAPTURES.filter((f) => !f.includes('length-msb')))('%s: payload + overhead = bytes sent', async (capture) => {
    for (const e of await dissectEvents(capture)) {
      if (e.type !== 'end' || (e.kind !== 'websocket' && e.kind !== 'http') || e.tls !== undefined) continue;
      for (const d of ['client', 'server'] as const) {
        const counted = Object.values(e.transports).reduce((n, t) => n + t[d].payloadBytes + t[d].overheadBytes, 0);
        expect(counted, `#${e.conn} ${d}`).toBe(e.totals[d].bytes);
      }
    }
  });
});
