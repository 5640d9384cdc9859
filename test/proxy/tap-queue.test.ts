/**
 * The queue that keeps dissection off the forwarding path (src/proxy/tap-queue.ts): order,
 * deferral, the bound on what waits to be decoded, and that a proxy whose dissection is slower
 * than its traffic holds its memory (the relay waits) and still decodes every byte.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { Direction } from '../../src/alerts.js';
import type { DissectEvent } from '../../src/engine/events.js';
import { deflateRawSync } from 'node:zlib';
import { computeAccept } from '../../src/http/accept.js';
import { ConnectionTap } from '../../src/proxy/tap.js';
import { INFLATE_PER_SLICE, TapQueue } from '../../src/proxy/tap-queue.js';
import { encodeFrame } from '../../src/websocket/frame-encoder.js';
import { closeServer, ofType, proxyTo, sha256 } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A stand-in for ConnectionTap that records what it was asked to do. */
function recordingTap(log: string[], name = 't', work: () => void = () => {}): ConnectionTap {
  return {
    open: (ts: number) => log.push(`${name} open ${ts}`),
    data: (from: Direction, bytes: Uint8Array, ts: number) => {
      work();
      log.push(`${name} data ${from} ${bytes.length} ${ts}`);
    },
    end: (from: Direction, ts: number) => log.push(`${name} end ${from} ${ts}`),
    reset: (from: Direction, ts: number) => log.push(`${name} reset ${from} ${ts}`),
    close: (ts: number) => log.push(`${name} close ${ts}`),
  } as unknown as ConnectionTap;
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('TapQueue', () => {
  it('decodes bytes after the current turn, in the order they were forwarded, with the time they crossed', async () => {
    const log: string[] = [];
    const queue = new TapQueue();
    const a = recordingTap(log, 'a');
    const b = recordingTap(log, 'b');
    queue.open(a, 1); // nothing waits: at once
    expect(log).toEqual(['a open 1']);
    queue.data(a, 'client', new Uint8Array(10), 2);
    queue.open(b, 3); // behind a's bytes
    queue.data(b, 'server', new Uint8Array(20), 4);
    queue.end(a, 'client', 5);
    queue.run(() => log.push('notice'));
    queue.close(a, 6, () => log.push('a done'));
    expect(log).toEqual(['a open 1']);
    expect(queue.backlog).toBe(30);
    await queue.drained();
    expect(log).toEqual(['a open 1', 'a data client 10 2', 'b open 3', 'b data server 20 4', 'a end client 5', 'notice', 'a close 6', 'a done']);
    expect(queue.backlog).toBe(0);
    expect(queue.relayed).toBe(30);
    // Empty again: steps without bytes and the proxy's own lines are done at once.
    queue.reset(b, 'server', 7);
    queue.run(() => log.push('notice 2'));
    expect(log.slice(-2)).toEqual(['b reset server 7', 'notice 2']);
  });

  it('lets other work run between slices of a long backlog', async () => {
    const log: string[] = [];
    const busy = () => {
      const until = performance.now() + 3; // longer than a slice
      while (performance.now() < until);
    };
    const queue = new TapQueue();
    const tap = recordingTap(log, 't', busy);
    for (let i = 0; i < 3; i++) queue.data(tap, 'client', new Uint8Array(1), i);
    setImmediate(() => log.push('other work'));
    await queue.drained();
    expect(log).toEqual(['t data client 1 0', 'other work', 't data client 1 1', 't data client 1 2']);
  });

  it('is full at its bound (bytes plus a cost per step), and calls back once it is down to half', async () => {
    const log: string[] = [];
    const queue = new TapQueue({ maxBacklog: 64 * 1024 });
    const tap = recordingTap(log);
    queue.data(tap, 'client', new Uint8Array(40 * 1024), 0);
    expect(queue.full).toBe(false);
    queue.data(tap, 'client', new Uint8Array(30 * 1024), 0);
    expect(queue.full).toBe(true);
    let resumed = 0;
    const resume = () => resumed++;
    queue.onRoom(resume);
    queue.onRoom(resume); // registered once
    expect(resumed).toBe(0);
    await queue.drained();
    await nextTurn();
    expect(resumed).toBe(1);
    expect(queue.full).toBe(false);
    queue.onRoom(resume); // room already: at once
    expect(resumed).toBe(2);

    // Tiny chunks are bounded too: each queued step counts for more than its byte.
    const tiny = new TapQueue({ maxBacklog: 64 * 1024 });
    let steps = 0;
    while (!tiny.full) {
      tiny.data(tap, 'client', new Uint8Array(1), 0);
      steps++;
    }
    expect(steps).toBeLessThan(1024);
    await tiny.drained();
  });

  it('keeps going when a step throws, and reports it', async () => {
    const errors: unknown[] = [];
    const log: string[] = [];
    const queue = new TapQueue({ onError: (e) => errors.push(e) });
    const broken = recordingTap(log, 'broken', () => {
      throw new Error('a bug');
    });
    queue.data(broken, 'client', new Uint8Array(1), 0);
    queue.data(recordingTap(log, 'ok'), 'client', new Uint8Array(1), 1);
    await queue.drained();
    expect(errors).toHaveLength(1);
    expect(log).toEqual(['ok data client 1 1']);
  });
});

describe('TapQueue and work the bytes do not bound (permessage-deflate bombs)', () => {
  const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
  const ext = 'Sec-WebSocket-Extensions: permessage-deflate\r\n';
  const request = Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${ext}\r\n`);
  const response = Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(KEY)}\r\n${ext}\r\n`);
  /** 8 MiB of zeros compressed to ~8 KB: a message that inflates to 8 MiB. */
  const bomb = (() => {
    const z = deflateRawSync(Buffer.alloc(8 << 20), { level: 9, finishFlush: 2 });
    return encodeFrame({ opcode: 2, rsv1: true, payload: z.subarray(0, z.length - 4) });
  })();

  it('inflates a slice at a time: other work runs between slices, events keep their order', async () => {
    const queue = new TapQueue();
    const events: DissectEvent[] = [];
    const tap = new ConnectionTap(1, { ip: '127.0.0.1', port: 1 }, { ip: '127.0.0.1', port: 2 }, { emit: (e) => events.push(e), budget: queue.budget, limits: { maxInflatedSize: 16 << 20 } });
    const log: string[] = [];
    let lowest = Infinity;
    for (const method of ['data', 'resume'] as const) {
      const original = tap[method].bind(tap) as (...args: unknown[]) => void;
      (tap as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        original(...args);
        lowest = Math.min(lowest, queue.budget.remaining);
        log.push(method);
      };
    }
    queue.open(tap, 0);
    queue.data(tap, 'client', request, 1);
    queue.data(tap, 'server', Buffer.concat([response, bomb, encodeFrame({ opcode: 1, payload: 'after' })]), 2);
    let others = 0;
    const other = () => {
      log.push('other');
      if (++others < 200 && log.filter((l) => l === 'resume').length < 20) setImmediate(other);
    };
    setImmediate(other);
    await queue.drained();
    // 8 MiB at INFLATE_PER_SLICE a slice, the sockets (here: other work) served in between.
    const resumes = log.filter((l) => l === 'resume').length;
    expect(resumes).toBeGreaterThanOrEqual((8 << 20) / INFLATE_PER_SLICE - 1);
    expect(log.slice(log.indexOf('resume'), log.indexOf('resume') + 6)).toEqual(['resume', 'other', 'resume', 'other', 'resume', 'other']);
    // Never more than one 64 KiB output chunk over the slice's budget.
    expect(lowest).toBeGreaterThanOrEqual(-64 * 1024);
    const messages = ofType(events, 'message').map((e) => [e.message.length, e.message.text ?? null]);
    expect(messages).toEqual([[8 << 20, null], [5, 'after']]);
    expect(events.map((e) => e.type).filter((t) => t !== 'alert')).toEqual(['connection', 'handshake', 'frame', 'message', 'frame', 'message']);
  });

  it('dissects the other connections while one is suspended; each keeps its own order', async () => {
    const queue = new TapQueue();
    const events: DissectEvent[] = [];
    const tap = (conn: number) => new ConnectionTap(conn, { ip: '127.0.0.1', port: conn }, { ip: '127.0.0.1', port: 2 }, { emit: (e) => events.push(e), budget: queue.budget, limits: { maxInflatedSize: 16 << 20 } });
    const bombed = tap(1);
    const other = tap(2);
    for (const t of [bombed, other]) {
      queue.open(t, 0);
      queue.data(t, 'client', request, 1);
    }
    queue.data(bombed, 'server', Buffer.concat([response, bomb]), 2);
    queue.data(bombed, 'server', encodeFrame({ opcode: 1, payload: 'after' }), 3);
    queue.data(other, 'server', Buffer.concat([response, encodeFrame({ opcode: 1, payload: 'meanwhile' })]), 4);
    await queue.drained();
    const messages = ofType(events, 'message').map((e) => [e.conn, e.message.text ?? e.message.length]);
    expect(messages).toEqual([[2, 'meanwhile'], [1, 8 << 20], [1, 'after']]);
  });

  it('while the backlog is at its bound, holds only the connections that have much of it waiting', () => {
    const queue = new TapQueue({ maxBacklog: 64 * 1024 });
    const log: string[] = [];
    const heavy = Object.assign(recordingTap(log, 'heavy'), { queued: 0 });
    const light = Object.assign(recordingTap(log, 'light'), { queued: 0 });
    queue.data(light, 'client', new Uint8Array(100), 0);
    queue.data(heavy, 'client', new Uint8Array(70 * 1024), 0);
    expect(queue.full).toBe(true);
    expect(queue.shouldHold(heavy)).toBe(true);
    expect(queue.shouldHold(light)).toBe(false);
  });
});

describe('a dissection slower than the traffic', () => {
  it('holds the relay at the backlog bound, and still decodes every byte', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    await once(wss, 'listening');
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary })));
    cleanups.push(async () => {
      for (const c of wss.clients) c.terminate();
      await closeServer(wss);
    });
    const maxTapBacklog = 256 * 1024;
    let peak = 0;
    const events: DissectEvent[] = [];
    const p = await proxyTo((wss.address() as { port: number }).port, {
      maxTapBacklog,
      onEvent: (event) => {
        events.push(event);
        // Every event costs 1 ms: far slower than loopback.
        const until = performance.now() + 1;
        while (performance.now() < until);
        peak = Math.max(peak, p.proxy.tapBacklog);
      },
    });
    cleanups.push(() => p.close());
    const sampler = setInterval(() => (peak = Math.max(peak, p.proxy.tapBacklog)), 1);
    cleanups.push(() => clearInterval(sampler));

    const client = new WebSocket(`ws://127.0.0.1:${p.port}/slow`, { perMessageDeflate: false });
    await once(client, 'open');
    const sent = Array.from({ length: 60 }, () => randomBytes(64 * 1024));
    const received: Buffer[] = [];
    client.on('message', (data) => received.push(data as Buffer));
    for (const message of sent) client.send(message);
    await expect.poll(() => received.length, { timeout: 20_000 }).toBe(sent.length);
    client.close(1000, 'done');
    await once(client, 'close');
    await expect.poll(() => ofType(events, 'end').length, { timeout: 20_000 }).toBe(1);

    expect(received.map(sha256)).toEqual(sent.map(sha256));
    // Bounded: the limit, plus the read on each side that crossed it (at most 64 KiB each).
    // (Decoding is ~100 times slower than the traffic here, so the bound was reached.)
    expect(peak).toBeGreaterThanOrEqual(maxTapBacklog / 2);
    expect(peak).toBeLessThan(maxTapBacklog + 2 * 64 * 1024);
    // Nothing went undecoded: every message, both ways, with its content.
    const messages = ofType(events, 'message').filter((e) => e.message.type === 'binary');
    expect(messages).toHaveLength(2 * sent.length);
    expect(messages.filter((e) => e.message.direction === 'client').map((e) => sha256(e.message.data!))).toEqual(sent.map(sha256));
    const [end] = ofType(events, 'end');
    expect(end!.totals.client.bytes).toBeGreaterThan(sent.length * 64 * 1024);
  }, 60_000);
});
