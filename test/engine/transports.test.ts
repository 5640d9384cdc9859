/**
 * The transport costs of the `end` event count every byte of a connection once: over the
 * fixtures (real peers and crafted), payload plus overhead is the TCP payload each side sent.
 */
import { readFileSync } from 'node:fs';
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

describe('the four transports of one app (fixtures/real/transports.pcap, docs/labs.md exercise 8)', () => {
  it('tells short polling, long polling, SSE and WebSocket apart, and measures what each update cost', async () => {
    const events = await dissectEvents('fixtures/real/transports.pcap');
    const spec = JSON.parse(readFileSync('fixtures/real/transports.expected.json', 'utf8'));
    const http = events.filter((e) => e.type === 'http');
    const byPath = (p: string) => http.filter((e) => e.type === 'http' && e.path!.startsWith(p)).map((e) => e.type === 'http' && e.pattern);
    // A series is polling from its third quick answer; long polling from its second held one.
    expect(byPath('/poll')).toEqual(['request', 'request', ...Array(spec.transports.requests.poll - 2).fill('poll')]);
    expect(byPath('/long-poll')).toEqual(['request', ...Array(spec.transports.requests.longPoll - 1).fill('long-poll')]);
    expect(byPath('/events')).toEqual(['sse']);
    const perUpdate = new Map<string, number>();
    for (const e of events) {
      if (e.type !== 'end') continue;
      const [name, t] = Object.entries(e.transports)[0]!;
      const path = http.find((x) => x.type === 'http' && x.conn === e.conn);
      const key = name === 'http' ? (path?.type === 'http' && path.path!.startsWith('/poll') ? 'poll' : 'long-poll') : name!;
      perUpdate.set(key, (t!.client.overheadBytes + t!.server.overheadBytes) / spec.transports.updates.length);
    }
    expect([...perUpdate.keys()].sort()).toEqual(['long-poll', 'poll', 'sse', 'websocket']);
    expect(perUpdate.get('poll')!).toBeGreaterThan(3 * perUpdate.get('long-poll')!);
    expect(perUpdate.get('long-poll')!).toBeGreaterThan(perUpdate.get('sse')!);
    expect(perUpdate.get('long-poll')!).toBeGreaterThan(perUpdate.get('websocket')!);
    // Each update over the WebSocket: 2 bytes of frame header (unmasked, 7-bit length).
    const frames = events.filter((e) => e.type === 'frame' && e.frame.opcode === 1);
    expect(frames.map((e) => e.type === 'frame' && e.frame.headerLength)).toEqual([2, 2, 2]);
  });
});
