/**
 * wsproxy under hostile or broken peers, on loopback: 1,000 concurrent connections relayed
 * byte-exact, clients that stop reading, resets in the middle of a frame on either side (and
 * while the proxy holds that side back), a target that accepts and never answers, a flood of
 * half-open connections, a 100 MB message.
 * In every test a normal `ws` client exchange goes through the same proxy while the fault is
 * in place, the proxy's connection count returns to 0, and the last test checks that memory
 * came back to where it started. Every test is bounded in count and time and stops by itself.
 *
 * Memory is measured in this process (clients, proxy and targets all live here) after a forced
 * garbage collection: `heapUsed + external` (external includes every Buffer), the memory a
 * leak in the relay or tap would show in. RSS is printed for information only (the allocator
 * keeps freed pages, so it does not come back down reliably).
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { deflateRawSync } from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { computeAccept } from '../../src/http/accept.js';
import { encodeFrame } from '../../src/websocket/frame-encoder.js';
import { applyMask } from '../../src/websocket/mask.js';
import { gc } from '../helpers/gc.js';
import { closeServer, collect, listen, needs, ofType, proxyTo, sha256, sleep, type Proxied } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

// --- memory ---------------------------------------------------------------------------------

const MiB = 1024 * 1024;

/** heapUsed + external after a full collection, in bytes; and RSS for information. */
async function retained(): Promise<{ bytes: number; rss: number }> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(5);
  }
  const m = process.memoryUsage();
  return { bytes: m.heapUsed + m.external, rss: m.rss };
}

const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

let baseline: { bytes: number; rss: number };
beforeAll(async () => {
  // Warm up what every test loads (ws, the dissector, sockets) so that it is not counted as growth.
  const t = await target(() => {});
  const p = await proxied(t.port);
  await check(p);
  await p.close(100);
  await closeTarget(t);
  baseline = await retained();
});

// --- a target for every test: `ws` on GET /check, the test's own handler for everything else ---

interface Target {
  port: number;
  sockets: Set<Socket>;
  wss: WebSocketServer;
}

/**
 * Connections whose first bytes are `GET /check` are a ws echo; the others go to `handler` with
 * their first chunk. A connection that ends before sending anything is closed in turn, unless
 * `mute` (a target that never answers and never closes).
 */
async function target(handler: (socket: Socket, first: Buffer) => void, mute = false): Promise<Target> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary })));
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    const onEnd = () => void (mute || socket.end());
    socket.once('end', onEnd);
    socket.once('data', (first: Buffer) => {
      socket.off('end', onEnd);
      if (first.subarray(0, 10).toString('latin1') === 'GET /check') upgrade(wss, socket, first);
      else handler(socket, first);
    });
  });
  const port = await listen(server);
  const t = { port, sockets, wss, server };
  cleanups.push(() => closeTarget(t));
  return t;
}

async function closeTarget(t: Target & { server?: ReturnType<typeof createServer> }): Promise<void> {
  for (const ws of t.wss.clients) ws.terminate();
  for (const socket of t.sockets) socket.destroy();
  if (t.server?.listening) await closeServer(t.server);
}

/** Hands a raw socket that sent an upgrade request to ws, without an http.Server. */
function upgrade(wss: WebSocketServer, socket: Socket, first: Buffer): void {
  let buffered = first;
  const attempt = () => {
    const end = buffered.indexOf('\r\n\r\n');
    if (end < 0) return;
    socket.off('data', more);
    const [requestLine, ...lines] = buffered.subarray(0, end).toString('latin1').split('\r\n');
    const [method, url] = requestLine!.split(' ');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const req = { method, url, headers, socket } as unknown as IncomingMessage;
    wss.handleUpgrade(req, socket, buffered.subarray(end + 4), (ws) => wss.emit('connection', ws, req));
  };
  const more = (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    attempt();
  };
  socket.on('data', more);
  attempt();
}

async function proxied(port: number, options: Parameters<typeof proxyTo>[1] = {}): Promise<Proxied> {
  const p = await proxyTo(port, options);
  cleanups.push(() => p.close(200));
  return p;
}

/**
 * The normal client served throughout: a ws session through the proxy (text, 20 KB binary, ping,
 * close 1000), everything echoed intact, within 5 s.
 */
async function check(p: Proxied): Promise<void> {
  const before = ofType(p.events, 'end').length;
  const ws = new WebSocket(`ws://127.0.0.1:${p.port}/check`, { perMessageDeflate: false });
  const timer = setTimeout(() => ws.terminate(), 5000);
  try {
    const received: Buffer[] = [];
    ws.on('message', (data) => received.push(data as Buffer));
    await once(ws, 'open');
    const binary = randomBytes(20_000);
    ws.send('still served?');
    ws.send(binary, { binary: true });
    const pong = once(ws, 'pong');
    ws.ping('p');
    await pong;
    await until(() => received.length === 2);
    expect(received[0]!.toString()).toBe('still served?');
    expect(sha256(received[1]!)).toBe(sha256(binary));
    ws.close(1000, 'ok');
    await once(ws, 'close');
    await until(() => ofType(p.events, 'end').length > before);
  } finally {
    clearTimeout(timer);
  }
}

/** Like expect.poll, but usable outside a test too (the warm-up in beforeAll). */
async function until(condition: () => boolean, timeout = 5000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeout) throw new Error(`condition not met within ${timeout} ms: ${condition.toString()}`);
    await sleep(10);
  }
}

function client(port: number): Socket {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => {});
  cleanups.push(() => void socket.destroy());
  return socket;
}

/** Resolves when the socket is closed, with whether it closed on an error (a reset) and its code. */
function closed(socket: Socket): Promise<string | null> {
  return new Promise((resolve) => {
    let code: string | null = null;
    socket.on('error', (e: NodeJS.ErrnoException) => (code = e.code ?? 'error'));
    socket.on('close', () => resolve(code));
  });
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const REQUEST = `GET /raw HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
const RESPONSE = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(KEY)}\r\n\r\n`;

/** A raw client that has completed the handshake (sent REQUEST, read the 101). */
async function upgraded(port: number): Promise<Socket> {
  const socket = client(port);
  await once(socket, 'connect');
  socket.write(REQUEST);
  let got = Buffer.alloc(0);
  while (got.indexOf('\r\n\r\n') < 0) got = Buffer.concat([got, (await once(socket, 'data'))[0] as Buffer]);
  expect(got.toString('latin1')).toBe(RESPONSE);
  return socket;
}

/** Waits until `read()` stops changing for `quiet` ms (at most `limit` ms); returns the last value. */
async function settled(read: () => number, quiet = 300, limit = 10_000): Promise<number> {
  const started = Date.now();
  let last = read();
  let since = Date.now();
  while (Date.now() - started < limit) {
    await sleep(50);
    const now = read();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quiet) break;
  }
  return last;
}

function openFileLimit(): number {
  try {
    return Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim()) || Infinity;
  } catch {
    return Infinity;
  }
}

// --- the faults -----------------------------------------------------------------------------

const CONCURRENT = 1000;

// Each connection costs four descriptors here (client, accepted, upstream, target side).
describe.skipIf(needs(openFileLimit() > CONCURRENT * 4 + 200))('load', () => {
  it(`relays ${CONCURRENT} concurrent connections byte-exact (by hash), all open at once`, async () => {
    const t = await target((socket, first) => {
      socket.write(first);
      socket.pipe(socket);
    });
    const p = await proxied(t.port, { maxConnections: CONCURRENT + 10 });
    const payloads = Array.from({ length: CONCURRENT }, (_, i) => randomBytes(1024 + ((i * 797) % 7168)));
    const sockets: Socket[] = [];
    const received: Buffer[][] = payloads.map(() => []);
    const lengths = payloads.map(() => 0);
    // Opened in batches so the listen backlog never overflows (a dropped SYN costs a 1 s retry).
    for (let batch = 0; batch < CONCURRENT; batch += 100) {
      await Promise.all(
        payloads.slice(batch, batch + 100).map(async (payload, j) => {
          const i = batch + j;
          const socket = client(p.port);
          sockets[i] = socket;
          socket.on('data', (chunk: Buffer) => {
            received[i]!.push(chunk);
            lengths[i]! += chunk.length;
          });
          await once(socket, 'connect');
          socket.write(payload);
        }),
      );
    }
    // Every echo back before anyone closes: all CONCURRENT connections are relayed at once.
    await expect.poll(() => lengths.every((n, i) => n === payloads[i]!.length), { timeout: 15_000, interval: 50 }).toBe(true);
    expect(p.proxy.connections).toBe(CONCURRENT);
    expect(t.sockets.size).toBe(CONCURRENT);
    await check(p);
    const ends = sockets.map((socket) => once(socket, 'end'));
    for (const socket of sockets) socket.end();
    await Promise.all(ends);
    const wrong = payloads.filter((payload, i) => sha256(Buffer.concat(received[i]!)) !== sha256(payload)).length;
    expect(wrong).toBe(0);
    await expect.poll(() => p.proxy.connections, { timeout: 10_000 }).toBe(0);
    expect(ofType(p.events, 'end')).toHaveLength(CONCURRENT + 1);
    expect(p.events.filter((e) => e.type === 'notice')).toEqual([]);
  }, 40_000);
});

describe('faults', () => {
  it('clients that stop reading: the relay queue and memory stay bounded while the target offers 1 GiB', async () => {
    const CLIENTS = 16;
    const OFFER = 64 * MiB; // per client, far more than the kernel buffers of both hops can hold
    let flushed = 0;
    const block = randomBytes(64 * 1024);
    const t = await target((socket) => {
      let sent = 0;
      const pump = () => {
        while (sent < OFFER && !socket.destroyed) {
          sent += block.length;
          if (!socket.write(block, (error) => void (error ? undefined : (flushed += block.length)))) return void socket.once('drain', pump);
        }
      };
      pump();
    });
    const maxBufferedBytes = 64 * 1024;
    const p = await proxied(t.port, { maxBufferedBytes });
    const before = await retained();
    let peakQueue = 0;
    const sampler = setInterval(() => (peakQueue = Math.max(peakQueue, p.proxy.buffered)), 5);
    cleanups.push(() => clearInterval(sampler));
    const stalled: Socket[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const socket = client(p.port);
      socket.pause(); // never reads
      stalled.push(socket);
      socket.write('flood me\n');
    }
    const stalledAt = await settled(() => flushed);
    clearInterval(sampler);
    const during = await retained();
    const queue = p.proxy.buffered;
    console.log(
      `stalled clients: ${CLIENTS} readers stopped; the targets got ${mib(stalledAt)} of ${mib(CLIENTS * OFFER)} out (kernel buffers), ` +
        `the relay queue peaked at ${(peakQueue / 1024).toFixed(0)} KiB (now ${(queue / 1024).toFixed(0)} KiB), retained memory grew ${mib(during.bytes - before.bytes)}, RSS ${mib(during.rss - before.rss)}`,
    );
    expect(stalledAt).toBeLessThan(CLIENTS * OFFER / 2); // the targets could not send what they offered
    // Per stalled direction: --max-buffered plus the read that crossed it (at most 64 KiB).
    expect(peakQueue).toBeLessThanOrEqual(CLIENTS * (maxBufferedBytes + 64 * 1024));
    expect(during.bytes - before.bytes).toBeLessThan(32 * MiB);
    expect(p.proxy.connections).toBe(CLIENTS);
    await check(p);
    // The stalled clients go away; their target connections are reset, nothing stays open.
    for (const socket of stalled) socket.destroy();
    await expect.poll(() => p.proxy.connections, { timeout: 5000 }).toBe(0);
    await expect.poll(() => t.sockets.size, { timeout: 5000 }).toBe(0);
  });

  it.each(['client', 'server'] as const)('a %s that resets in the middle of a frame: the other side is reset, the frame is reported incomplete', async (who) => {
    let upstream: Socket | null = null;
    let upstreamGot = 0;
    const t = await target((socket) => {
      upstream = socket;
      socket.write(RESPONSE);
      socket.on('data', (chunk: Buffer) => (upstreamGot += chunk.length));
    });
    const p = await proxied(t.port);
    const socket = await upgraded(p.port);
    await expect.poll(() => upstream !== null).toBe(true);
    const header = encodeFrame({ opcode: 2, payload: new Uint8Array(0), declaredLength: 100_000, ...(who === 'client' ? { maskingKey: Uint8Array.of(1, 2, 3, 4) } : {}) });
    const part = randomBytes(40_000);
    const sent = header.length + part.length;
    const clientClosed = closed(socket);
    const upstreamClosed = closed(upstream!);
    if (who === 'client') {
      socket.write(header);
      socket.write(part);
      await expect.poll(() => upstreamGot, { timeout: 5000 }).toBe(sent); // forwarded, so also seen by the tap
      await check(p); // a frame is cut half-way on one connection; another is served
      socket.resetAndDestroy();
      expect(await upstreamClosed).toBe('ECONNRESET');
    } else {
      let got = 0;
      socket.on('data', (chunk: Buffer) => (got += chunk.length));
      upstream!.write(header);
      upstream!.write(part);
      await expect.poll(() => got, { timeout: 5000 }).toBe(sent);
      await check(p);
      upstream!.resetAndDestroy();
      expect(await clientClosed).toBe('ECONNRESET');
    }
    await expect.poll(() => p.proxy.connections, { timeout: 5000 }).toBe(0);
    const frames = ofType(p.events, 'frame').filter((e) => e.conn === 1);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.frame).toMatchObject({ direction: who, incomplete: true, payloadLength: 100_000 });
    expect(frames[0]!.frame.payload.length).toBe(40_000);
    expect(frames[0]!.frame.alerts.map((a) => a.code)).toContain('frame.incomplete');
    const resets = ofType(p.events, 'notice').filter((n) => n.code === 'proxy.reset');
    expect(resets.map((n) => n.message)).toEqual([`#1: the ${who === 'client' ? 'client' : 'target'} reset the connection; the ${who === 'client' ? 'target' : 'client'} connection was reset too.`]);
    expect(ofType(p.events, 'end').find((e) => e.conn === 1)).toMatchObject({ kind: 'websocket' });
    await check(p); // and after
  });

  it.each(['client', 'server'] as const)('a %s that resets while the proxy holds its sending back (its peer reads nothing): the reset is still passed on', async (who) => {
    const block = randomBytes(64 * 1024);
    const flood = (socket: Socket) => {
      const pump = () => {
        while (!socket.destroyed) if (!socket.write(block)) return void socket.once('drain', pump);
      };
      pump();
    };
    let upstream: Socket | null = null;
    const t = await target((socket) => {
      upstream = socket;
      socket.pause(); // reads nothing more
      if (who === 'server') flood(socket);
    });
    const p = await proxied(t.port);
    const socket = client(p.port);
    socket.write('start\n');
    if (who === 'client') flood(socket);
    else socket.pause();
    // Held back: the queue towards the peer that reads nothing is full, so the sender is no longer read.
    await until(() => p.proxy.buffered >= 64 * 1024);
    await check(p);
    const started = Date.now();
    const peer = who === 'client' ? upstream! : socket;
    const peerClosed = closed(peer);
    if (who === 'client') socket.resetAndDestroy();
    else upstream!.resetAndDestroy();
    await expect.poll(() => p.proxy.connections, { timeout: 5000 }).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
    const resets = ofType(p.events, 'notice').filter((n) => n.code === 'proxy.reset');
    expect(resets.map((n) => n.message)).toEqual([`#1: the ${who === 'client' ? 'client' : 'target'} reset the connection; the ${who === 'client' ? 'target' : 'client'} connection was reset too.`]);
    // The peer's receive window was full, so the kernel may drop the proxy's RST as out of window
    // (as it would a direct peer's); it learns of the reset at its next write at the latest.
    let ended = false;
    peer.on('end', () => (ended = true));
    peer.resume();
    peer.write('anyone there?');
    expect(['ECONNRESET', 'EPIPE']).toContain(await peerClosed);
    expect(ended).toBe(false); // a reset, never a FIN
  });

  it('a target that accepts and never answers: the idle timeout closes both sides cleanly, and says so', async () => {
    const t = await target(() => {}, true); // reads, never writes, never closes
    const p = await proxied(t.port, { idleTimeout: 300 });
    const started = Date.now();
    const quiet = client(p.port); // connects and sends nothing
    const asking = client(p.port); // sends a request that is never answered
    asking.write(REQUEST);
    const ends = [quiet, asking].map((s) => new Promise<number>((resolve, reject) => {
      let n = 0;
      s.on('data', (c: Buffer) => (n += c.length));
      s.on('end', () => resolve(n));
      s.on('error', reject);
    }));
    await expect.poll(() => t.sockets.size, { timeout: 5000 }).toBe(2);
    const targetSides = [...t.sockets].map((s) => once(s, 'end'));
    await check(p); // served while both wait
    // Both are closed with a FIN (not a reset), having received nothing.
    expect(await Promise.all(ends)).toEqual([0, 0]);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3000);
    for (const s of [quiet, asking]) s.end();
    await expect.poll(() => p.proxy.connections, { timeout: 5000 }).toBe(0);
    const idle = ofType(p.events, 'notice').filter((n) => n.code === 'proxy.idle-timeout');
    expect(idle).toHaveLength(2);
    expect(idle[0]!.message).toMatch(/^#\d+: no bytes either way for 0\.3 s \(--idle-timeout\): both sides closed\.$/);
    expect(ofType(p.events, 'notice').filter((n) => n.code !== 'proxy.idle-timeout')).toEqual([]);
    // The target saw a FIN on both (it never closed them itself).
    await Promise.all(targetSides);
    expect(ofType(p.events, 'end').filter((e) => e.totals.client.bytes === REQUEST.length)).toHaveLength(1);
  });

  it('the handshake deadline: a client trickling its request, and a target that never answers, are closed; a finished handshake is not', async () => {
    // Requests for /answered get the 101 in two pieces, the blank line split across them.
    const t = await target((socket, first) => {
      if (!first.toString('latin1').startsWith('GET /answered')) return; // never answers
      const answer = () => {
        socket.write(RESPONSE.slice(0, -3));
        setTimeout(() => {
          socket.write(RESPONSE.slice(-3));
          socket.on('data', (chunk) => socket.write(chunk)); // then an echo of the raw bytes
        }, 50);
      };
      // Answered once the whole request is in (it comes in two pieces).
      if (first.toString('latin1').endsWith('\r\n\r\n')) answer();
      else socket.once('data', answer);
    }, true);
    // 1.5 s: the answered handshake finishes well within it, even on a loaded machine.
    const p = await proxied(t.port, { handshakeTimeout: 1500 });
    const ended = (s: Socket) => new Promise<void>((resolve) => s.once('end', () => resolve()));
    // A client sending its request a byte at a time, each byte well within any idle timeout.
    const trickling = client(p.port);
    const tricklingEnded = ended(trickling);
    await once(trickling, 'connect');
    let sent = 0;
    const trickle = setInterval(() => trickling.write(REQUEST[sent++ % REQUEST.length]!), 50);
    cleanups.push(() => clearInterval(trickle));
    // A request the target never answers.
    const unanswered = client(p.port);
    const unansweredEnded = ended(unanswered);
    unanswered.write(REQUEST);
    // A request that ends in its own read (the blank line split across two writes), answered.
    const served = client(p.port);
    let echoed = '';
    served.on('data', (chunk: Buffer) => (echoed += chunk.toString('latin1')));
    const request = REQUEST.replace('GET /raw', 'GET /answered');
    served.write(request.slice(0, -2));
    await sleep(50);
    served.write(request.slice(-2));

    await Promise.all([tricklingEnded, unansweredEnded]);
    clearInterval(trickle);
    expect(sent).toBeGreaterThan(5);
    const notices = ofType(p.events, 'notice').filter((n) => n.code === 'proxy.handshake-timeout').map((n) => n.message.replace(/^#\d+/, '#N'));
    expect(notices.sort()).toEqual([
      '#N: the client did not finish the header of its request within 1.5 s (--handshake-timeout): both sides closed.',
      '#N: the target did not finish the header of its answer within 1.5 s (--handshake-timeout): both sides closed.',
    ]);
    // The handshake that finished in time outlives the deadline.
    await sleep(1600);
    served.write('still here');
    await until(() => echoed.endsWith('still here'));
    expect(echoed).toBe(RESPONSE + 'still here');
  });

  it('a target that never answers, without an idle timeout: the client closing ends it', async () => {
    const t = await target(() => {});
    const p = await proxied(t.port);
    const socket = client(p.port);
    socket.write(REQUEST);
    await expect.poll(() => t.sockets.size, { timeout: 5000 }).toBe(1);
    const [upstream] = t.sockets;
    const upstreamClosed = closed(upstream!);
    await check(p);
    socket.resetAndDestroy();
    expect(await upstreamClosed).toBe('ECONNRESET');
    await expect.poll(() => p.proxy.connections, { timeout: 5000 }).toBe(0);
  });

  it('a flood of half-open connections holds no slot beyond the idle timeout while a normal client is served', async () => {
    const SILENT = 200;
    const HALF = 50;
    const t = await target((socket, first) => {
      socket.write(first);
      socket.pipe(socket);
    });
    // The idle timeout is long enough that a half-closed connection's round trip to the target
    // ends it first even on a loaded machine (at 500 ms, a load of 10 on 2 cores let 6 of them time out).
    const p = await proxied(t.port, { idleTimeout: 1500, maxConnections: SILENT + HALF + 10 });
    const flood: Socket[] = [];
    for (let i = 0; i < SILENT; i++) flood.push(client(p.port)); // connect, send nothing, never read
    for (let i = 0; i < HALF; i++) {
      const socket = client(p.port);
      socket.pause(); // half-close and vanish: never read, never close
      socket.end('GET / HTT');
      flood.push(socket);
    }
    await expect.poll(() => p.proxy.accepted, { timeout: 5000 }).toBe(SILENT + HALF);
    await check(p);
    // The half-closed ones end as soon as the target has answered and closed; the silent ones at the idle timeout.
    await expect.poll(() => p.proxy.connections, { timeout: 8000 }).toBe(0);
    await expect.poll(() => t.sockets.size, { timeout: 8000 }).toBe(0);
    expect(ofType(p.events, 'notice').filter((n) => n.code === 'proxy.idle-timeout')).toHaveLength(SILENT);
    expect(ofType(p.events, 'notice').filter((n) => n.code !== 'proxy.idle-timeout')).toEqual([]);
    expect(ofType(p.events, 'end')).toHaveLength(SILENT + HALF + 1);
    await check(p);
  });

  it('relays a 100 MB message byte-exact (by hash) while the dissection keeps only what the limits allow', async () => {
    const TOTAL = 100_000_000;
    const FRAGMENTS = 4;
    const limits = { maxFramePayload: 1 * MiB, maxMessageSize: 2 * MiB };
    // The target answers the handshake, hashes everything after it, and sends the hash back once all has arrived.
    const t = await target((socket) => {
      socket.write(RESPONSE);
      const hash = createHash('sha256');
      let got = 0;
      socket.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        got += chunk.length;
        if (got === expected) socket.write(encodeFrame({ opcode: 1, payload: hash.digest('hex') }));
      });
      socket.on('end', () => socket.end());
    });
    let expected = -1;
    const p = await proxied(t.port, { limits });
    const socket = await upgraded(p.port);
    const answer = new Promise<string>((resolve) => {
      let got = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        if (got.length >= 2 + 64) resolve(got.subarray(2, 66).toString());
      });
    });

    // The message is generated as it is sent (4 fragments of 25 MB, masked), so the test itself holds ~1 MiB.
    const key = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);
    const BLOCK = 1_000_000; // a multiple of 4: every block starts at mask offset 0
    const base = randomBytes(BLOCK);
    const sentHash = createHash('sha256');
    const per = TOTAL / FRAGMENTS;
    const headers = Array.from({ length: FRAGMENTS }, (_, i) => Buffer.from(encodeFrame({ opcode: i === 0 ? 2 : 0, fin: i === FRAGMENTS - 1, maskingKey: key, payload: new Uint8Array(0), declaredLength: per })));
    expected = headers.reduce((n, h) => n + h.length, 0) + TOTAL;
    const firstBlock = Buffer.from(base); // the first 1 MiB as the tap should keep it (unmasked)
    const before = await retained();
    let peak = 0;
    let block = 0;
    for (let f = 0; f < FRAGMENTS; f++) {
      socket.write(headers[f]!);
      sentHash.update(headers[f]!);
      for (let offset = 0; offset < per; offset += BLOCK, block++) {
        base.writeUInt32BE(block, 0); // every block different, so a reordering would show
        if (block === 0) firstBlock.writeUInt32BE(0, 0);
        const masked = Buffer.from(applyMask(base, key, 0));
        sentHash.update(masked);
        if (!socket.write(masked)) await once(socket, 'drain');
        if (block % 20 === 0) peak = Math.max(peak, (await retained()).bytes - before.bytes);
      }
    }
    expect(await answer).toBe(sentHash.digest('hex'));
    const after = await retained();
    console.log(`100 MB message: relayed byte-exact; retained memory peaked ${mib(peak)} above the start while sending, ${mib(after.bytes - before.bytes)} after (RSS ${mib(after.rss - before.rss)})`);
    expect(peak).toBeLessThan(48 * MiB);

    socket.end();
    await expect.poll(() => p.proxy.connections, { timeout: 5000 }).toBe(0);
    const frames = ofType(p.events, 'frame').filter((e) => e.conn === 1 && e.frame.direction === 'client');
    expect(frames).toHaveLength(FRAGMENTS);
    for (const { frame } of frames) {
      expect(frame).toMatchObject({ payloadLength: per, truncated: true, incomplete: false });
      expect(frame.payload.length).toBe(limits.maxFramePayload);
      expect(frame.alerts.map((a) => a.code)).toContain('frame.payload-truncated');
    }
    expect(Buffer.from(frames[0]!.frame.data.subarray(0, BLOCK)).equals(firstBlock)).toBe(true);
    const [message] = ofType(p.events, 'message').filter((e) => e.conn === 1 && e.message.direction === 'client');
    // Reassembled up to --max-message from what each frame kept (the frames already say they were cut).
    expect(message!.message).toMatchObject({ type: 'binary', fragments: FRAGMENTS, wireLength: TOTAL, truncated: true });
    expect(message!.message.data.length).toBe(limits.maxMessageSize);
    await check(p);
  }, 60_000);
});

describe('work the bytes do not bound', () => {
  it('permessage-deflate bombs on one connection: relayed byte-exact, reported, a normal client served throughout', async () => {
    const BOMBS = 6;
    const OFFER = 'Sec-WebSocket-Extensions: permessage-deflate\r\n';
    // 80 MB of zeros compressed to ~78 KB, each inflating to the 64 MiB --max-inflated default.
    const zeros = deflateRawSync(Buffer.alloc(80_000_000), { level: 9, finishFlush: 2 });
    const bomb = Buffer.from(encodeFrame({ opcode: 2, rsv1: true, payload: zeros.subarray(0, zeros.length - 4) }));
    const t = await target((socket) => {
      socket.write(RESPONSE.replace('\r\n\r\n', `\r\n${OFFER}\r\n`));
      for (let i = 0; i < BOMBS; i++) socket.write(bomb);
      socket.on('end', () => socket.end());
    });
    // Turns of the event loop while the first bomb is inflated (between its frame and its message):
    // none if it were inflated in one go, which would keep every socket waiting meanwhile.
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    cleanups.push(() => void (ticking = false));
    const marks: Partial<Record<'frame' | 'message', number>> = {};
    const p = await proxied(t.port, {
      onEvent: (e) => {
        if ((e.type === 'frame' || e.type === 'message') && e.conn === 1) marks[e.type] ??= turns;
        p.events.push(e);
      },
    });
    const socket = client(p.port);
    await once(socket, 'connect');
    socket.write(REQUEST.replace('\r\n\r\n', `\r\n${OFFER}\r\n`));
    const received = collect(socket);
    // Served while the bombs are being inflated (a slice at a time, between the relay's reads).
    await check(p);
    await until(() => ofType(p.events, 'message').filter((e) => e.conn === 1).length === BOMBS, 60_000);
    socket.end();
    const bytes = await received;
    const head = bytes.indexOf('\r\n\r\n') + 4;
    expect(sha256(bytes.subarray(head))).toBe(sha256(Buffer.concat(Array.from({ length: BOMBS }, () => bomb))));
    const alerts = ofType(p.events, 'message').filter((e) => e.conn === 1).flatMap((e) => e.message.alerts.map((a) => a.code));
    // Three are inflated to the limit; then the direction is no longer inflated (deflate.bombs, said once).
    expect(alerts).toEqual(['deflate.too-large', 'deflate.too-large', 'deflate.too-large', 'deflate.bombs']);
    // 64 MiB at 256 KiB a slice, one slice a turn.
    expect(marks.message! - marks.frame!).toBeGreaterThanOrEqual(64 * 4 - 1);
    await check(p);
  }, 90_000);
});

describe('afterwards', () => {
  it('memory is back near the baseline once every proxy above has closed', async () => {
    const now = await retained();
    console.log(`memory after the fault tests: retained ${mib(now.bytes - baseline.bytes)} above the baseline (heapUsed + external after a full GC), RSS ${mib(now.rss - baseline.rss)}`);
    expect(now.bytes - baseline.bytes).toBeLessThan(16 * MiB);
  });
});
