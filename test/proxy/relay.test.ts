/**
 * The relay itself over loopback: bytes arrive exactly as sent (by hash, megabytes in random
 * chunk sizes, many connections at once, plain and TLS), half-close and reset are passed on,
 * a slow reader holds the writer back, failures of the target are one line and close the client
 * cleanly, and nothing the tap does can stop the traffic. Every test closes what it opened.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer, get as httpGet } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { computeAccept } from '../../src/http/accept.js';
import { encodeFrame } from '../../src/websocket/frame-encoder.js';
import { closeServer, collect, echoServer, hasTool, listen, needs, ofType, proxyTo, sha256, sleep, testCertificate, writeInChunks, type Proxied } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function echo() {
  const e = await echoServer();
  cleanups.push(() => {
    for (const s of e.sockets) s.destroy();
    return closeServer(e.server);
  });
  return e;
}

async function proxied(target: string | number, options: Parameters<typeof proxyTo>[1] = {}): Promise<Proxied> {
  const p = await proxyTo(target, options);
  cleanups.push(() => p.close(100));
  return p;
}

function client(port: number): Socket {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => {});
  cleanups.push(() => void socket.destroy());
  return socket;
}

function server(handler: (socket: Socket) => void): Server {
  const sockets = new Set<Socket>();
  const s = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    handler(socket);
  });
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return closeServer(s);
  });
  return s;
}

/** Sends `data` through the proxy to the echo server and returns what came back. */
async function roundTrip(port: number, data: Buffer, seed: number): Promise<Buffer> {
  const socket = client(port);
  await once(socket, 'connect');
  const back = collect(socket);
  await writeInChunks(socket, data, seed);
  return back;
}

describe('byte-exact relay', () => {
  it('returns 10 MB of random bytes, written in random chunk sizes, unchanged', async () => {
    const { port } = await echo();
    const p = await proxied(port);
    const data = randomBytes(10 * 1024 * 1024);
    const back = await roundTrip(p.port, data, 7);
    expect(back.length).toBe(data.length);
    expect(sha256(back)).toBe(sha256(data));
    await expect.poll(() => ofType(p.events, 'end').length, { timeout: 5000 }).toBe(1);
    // The tap counted every byte in each direction, and said it was not WebSocket.
    const [end] = ofType(p.events, 'end');
    expect(end!.totals.client.bytes).toBe(data.length);
    expect(end!.totals.server.bytes).toBe(data.length);
    expect(ofType(p.events, 'other')[0]).toMatchObject({ kind: 'not-http' });
  });

  it('keeps 12 simultaneous connections apart (1-3 MB each)', async () => {
    const { port } = await echo();
    const p = await proxied(port);
    const payloads = Array.from({ length: 12 }, (_, i) => randomBytes(1024 * 1024 + i * 170_000));
    const backs = await Promise.all(payloads.map((data, i) => roundTrip(p.port, data, i + 1)));
    backs.forEach((back, i) => expect(sha256(back)).toBe(sha256(payloads[i]!)));
    await expect.poll(() => ofType(p.events, 'end').length, { timeout: 5000 }).toBe(12);
    expect(new Set(ofType(p.events, 'connection').map((e) => e.conn)).size).toBe(12);
  });
});

describe('half-close and reset', () => {
  it('passes a FIN on and lets the other direction go on', async () => {
    const s = server((socket) => {
      const got = collect(socket);
      void got.then((data) => socket.end(`after your FIN, you sent ${data.length} bytes`));
    });
    const p = await proxied(await listen(s));
    const socket = client(p.port);
    await once(socket, 'connect');
    const back = collect(socket);
    socket.end('four');
    expect((await back).toString()).toBe('after your FIN, you sent 4 bytes');
  });

  it('resets the target when the client resets', async () => {
    let upstream: Socket | null = null;
    const s = server((socket) => (upstream = socket));
    const p = await proxied(await listen(s));
    const socket = client(p.port);
    await once(socket, 'connect');
    socket.write('x');
    await expect.poll(() => upstream !== null, { timeout: 5000 }).toBe(true);
    const failed = new Promise<string | undefined>((resolve) => upstream!.on('error', (e: NodeJS.ErrnoException) => resolve(e.code)));
    socket.resetAndDestroy();
    expect(await failed).toBe('ECONNRESET');
    await expect.poll(() => p.events.some((e) => e.type === 'notice' && e.code === 'proxy.reset'), { timeout: 5000 }).toBe(true);
    await expect.poll(() => ofType(p.events, 'end').length, { timeout: 5000 }).toBe(1);
  });

  it('resets the client when the target resets', async () => {
    const s = server((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const p = await proxied(await listen(s));
    const socket = client(p.port);
    await once(socket, 'connect');
    const failed = new Promise<string | undefined>((resolve) => socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code)));
    socket.write('reset me');
    expect(await failed).toBe('ECONNRESET');
  });
});

describe('faults', () => {
  it('closes the client cleanly and says why in one line when the target refuses', async () => {
    const s = createServer();
    const closedPort = await listen(s);
    await closeServer(s);
    const p = await proxied(closedPort);
    const socket = client(p.port);
    const received = collect(socket); // resolves on a clean end, rejects on a reset
    socket.write('hello?');
    expect((await received).length).toBe(0);
    const notices = ofType(p.events, 'notice');
    expect(notices).toHaveLength(1);
    expect(notices[0]!.code).toBe('proxy.target-failed');
    expect(notices[0]!.message).toMatch(/^#1 127\.0\.0\.1:\d+: the target localhost:\d+ refused the connection.*the client connection was closed\.$/);
    expect(notices[0]!.message).not.toContain('\n');
  });

  it('relays plain HTTP that is not an upgrade, and says what it saw', async () => {
    const http = createHttpServer((_req, res) => res.end('plain answer'));
    cleanups.push(() => {
      http.closeAllConnections();
      return closeServer(http);
    });
    const p = await proxied(await listen(http as unknown as Server));
    const body = await new Promise<string>((resolve, reject) =>
      httpGet({ host: '127.0.0.1', port: p.port, path: '/plain', agent: false }, (res) => {
        res.setEncoding('utf8');
        let text = '';
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(text));
      }).on('error', reject),
    );
    expect(body).toBe('plain answer');
    await expect.poll(() => ofType(p.events, 'other').length, { timeout: 5000 }).toBe(1);
    expect(ofType(p.events, 'other')[0]).toMatchObject({ kind: 'http', requestLine: 'GET /plain HTTP/1.1' });
    await expect.poll(() => ofType(p.events, 'end').length, { timeout: 5000 }).toBe(1);
    expect(ofType(p.events, 'end')[0]).toMatchObject({ kind: 'http' });
  });

  it('relays garbage instead of HTTP unchanged', async () => {
    const { port } = await echo();
    const p = await proxied(port);
    const garbage = randomBytes(50_000);
    expect(sha256(await roundTrip(p.port, garbage, 3))).toBe(sha256(garbage));
    await expect.poll(() => ofType(p.events, 'end').length, { timeout: 5000 }).toBe(1);
    expect(ofType(p.events, 'other')[0]).toMatchObject({ kind: 'not-http' });
  });

  it('relays a target that closes in the middle of a frame, and reports the cut frame', async () => {
    const key = 'dGhlIHNhbXBsZSBub25jZQ==';
    const frame = encodeFrame({ opcode: 2, payload: new Uint8Array(1000).fill(7) });
    const s = server((socket) =>
      socket.once('data', () => {
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(key)}\r\n\r\n`);
        socket.end(frame.subarray(0, 500));
      }),
    );
    const p = await proxied(await listen(s));
    const socket = client(p.port);
    await once(socket, 'connect');
    const back = collect(socket);
    socket.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const received = await back;
    expect(received.subarray(received.length - 500).equals(Buffer.from(frame.subarray(0, 500)))).toBe(true);
    socket.end();
    await expect.poll(() => ofType(p.events, 'end').length, { timeout: 5000 }).toBe(1);
    const frames = ofType(p.events, 'frame');
    expect(frames).toHaveLength(1);
    expect(frames[0]!.frame).toMatchObject({ direction: 'server', incomplete: true, payloadLength: 1000 });
  });

  it('keeps relaying when the event callback throws', async () => {
    const { port } = await echo();
    const errors: unknown[] = [];
    const p = await proxied(port, {
      onEvent: () => {
        throw new Error('a broken consumer');
      },
      onCallbackError: (e) => errors.push(e),
    });
    const data = randomBytes(200_000);
    expect(sha256(await roundTrip(p.port, data, 5))).toBe(sha256(data));
    expect(errors.length).toBeGreaterThan(0);
  });

  it('refuses clients beyond --max-connections and serves the others', async () => {
    const { port } = await echo();
    const p = await proxied(port, { maxConnections: 1 });
    const first = client(p.port);
    await once(first, 'connect');
    first.write('a');
    await expect.poll(() => ofType(p.events, 'connection').length, { timeout: 5000 }).toBe(1);
    const second = client(p.port);
    await once(second, 'end');
    expect(p.events.some((e) => e.type === 'notice' && e.code === 'proxy.connection-refused')).toBe(true);
    const back = collect(first);
    first.end('b');
    expect((await back).toString()).toBe('ab');
  });

  it('stops: open connections get a grace period, then are reset and summarised', async () => {
    const { port } = await echo();
    const p = await proxyTo(port);
    const socket = client(p.port);
    await once(socket, 'connect');
    socket.write('idle');
    await expect.poll(() => ofType(p.events, 'connection').length, { timeout: 5000 }).toBe(1);
    const started = Date.now();
    await p.close(300);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(ofType(p.events, 'end')).toHaveLength(1);
    expect(p.events.some((e) => e.type === 'notice' && e.code === 'proxy.stopping')).toBe(true);
  });
});

describe('backpressure', () => {
  it('a paused reader stops the writer: the proxy does not buffer, and every byte arrives afterwards', async () => {
    const total = 128 * 1024 * 1024;
    const block = randomBytes(64 * 1024);
    let flushed = 0;
    const s = server((socket) => {
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          sent += block.length;
          const ok = socket.write(block, () => (flushed += block.length));
          if (!ok) return void socket.once('drain', pump);
        }
        socket.end();
      };
      pump();
    });
    const p = await proxied(await listen(s));
    const socket = client(p.port);
    socket.pause();
    await once(socket, 'connect');
    // Wait until the writer is stuck: nothing more is flushed for 300 ms.
    let last = -1;
    for (let i = 0; i < 50 && flushed !== last; i++) {
      last = flushed;
      await sleep(300);
    }
    const stalledAt = flushed;
    // Kernel socket buffers on both hops plus one chunk in the proxy: a few MB, not the 128 MB offered.
    expect(stalledAt).toBeLessThan(48 * 1024 * 1024);
    console.log(`backpressure: the writer stalled after ${(stalledAt / 1048576).toFixed(1)} MiB of ${total / 1048576} MiB`);
    let received = 0;
    const done = new Promise<void>((resolve) => socket.on('end', resolve));
    socket.on('data', (c: Buffer) => (received += c.length));
    socket.resume();
    await done;
    expect(received).toBe(total);
  }, 60_000);
});

describe('--max-buffered', () => {
  it('a 1-byte limit still relays 4 MB byte-exact both ways (the reader is resumed as the queue empties)', async () => {
    const { port } = await echo();
    const p = await proxied(port, { maxBufferedBytes: 1 });
    const data = randomBytes(4 * 1024 * 1024);
    expect(sha256(await roundTrip(p.port, data, 9))).toBe(sha256(data));
  });

  it('sets how much the relay queues towards a reader that stopped: about the limit, whatever the writer offers', async () => {
    const block = randomBytes(64 * 1024);
    const s = server((socket) => {
      const pump = () => {
        while (!socket.destroyed) if (!socket.write(block)) return void socket.once('drain', pump);
      };
      pump();
    });
    const target = await listen(s);
    for (const limit of [16 * 1024, 4 * 1024 * 1024]) {
      const p = await proxied(target, { maxBufferedBytes: limit });
      const socket = client(p.port);
      socket.pause();
      let peak = 0;
      for (let i = 0; i < 200; i++) {
        await sleep(10);
        const now = p.proxy.buffered;
        if (now === peak && now >= limit) break;
        peak = Math.max(peak, now);
      }
      // Reading stops once the limit is reached; the read that crossed it is at most 64 KiB.
      expect(peak).toBeGreaterThanOrEqual(limit);
      expect(peak).toBeLessThan(limit + 64 * 1024);
      socket.destroy();
      await expect.poll(() => p.proxy.connections, { timeout: 5000 }).toBe(0);
    }
  });
});

const OPENSSL = hasTool('openssl', ['version']);

describe.skipIf(needs(OPENSSL))('TLS', () => {
  it('terminates TLS from the client and dissects the decrypted bytes (byte-exact)', async () => {
    const { cert, key } = testCertificate();
    const { port } = await echo();
    const p = await proxied(port, { tls: { cert, key } });
    const socket = tlsConnect({ port: p.port, host: '127.0.0.1', ca: cert, servername: 'localhost' });
    socket.on('error', () => {});
    cleanups.push(() => void socket.destroy());
    await once(socket, 'secureConnect');
    const data = randomBytes(3 * 1024 * 1024);
    const back = collect(socket);
    await writeInChunks(socket as unknown as Socket, data, 11);
    expect(sha256(await back)).toBe(sha256(data));
    await expect.poll(() => ofType(p.events, 'end').length, { timeout: 5000 }).toBe(1);
    expect(ofType(p.events, 'end')[0]!.totals.client.bytes).toBe(data.length);
  });

  it('connects to a wss:// target: verified with --ca, refused without, accepted with --insecure', async () => {
    const { cert, key } = testCertificate();
    const tlsEcho = createTlsServer({ cert, key, allowHalfOpen: true }, (s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    const raws = new Set<Socket>();
    tlsEcho.on('connection', (raw: Socket) => raws.add(raw));
    cleanups.push(() => {
      for (const raw of raws) raw.destroy();
      return closeServer(tlsEcho);
    });
    const port = await listen(tlsEcho as unknown as Server);
    const data = randomBytes(1024 * 1024);

    const verified = await proxied(`wss://localhost:${port}`, { ca: [cert] });
    expect(sha256(await roundTrip(verified.port, data, 2))).toBe(sha256(data));

    const refused = await proxied(`wss://localhost:${port}`);
    const socket = client(refused.port);
    expect((await collect(socket)).length).toBe(0);
    const [n] = ofType(refused.events, 'notice');
    expect(n!.code).toBe('proxy.target-failed');
    expect(n!.message).toMatch(/certificate/);

    const insecure = await proxied(`wss://localhost:${port}`, { insecure: true });
    expect(sha256(await roundTrip(insecure.port, data, 3))).toBe(sha256(data));
    // Every proxied connection has been closed on both sides.
    for (const p of [verified, refused, insecure]) await expect.poll(() => p.proxy.connections, { timeout: 5000 }).toBe(0);
  });

  it('a TLS client held back for over a second (the target reads nothing) is probed for resets harmlessly: byte-exact', async () => {
    const { cert, key } = testCertificate();
    const s = server((socket) => {
      socket.pause();
      setTimeout(() => {
        void collect(socket).then((data) => socket.end(sha256(data)));
        socket.resume();
      }, 1200);
    });
    const p = await proxied(await listen(s), { tls: { cert, key } });
    const socket = tlsConnect({ port: p.port, host: '127.0.0.1', ca: cert, servername: 'localhost' });
    socket.on('error', () => {});
    cleanups.push(() => void socket.destroy());
    await once(socket, 'secureConnect');
    const data = randomBytes(24 * 1024 * 1024);
    const back = collect(socket);
    const written = writeInChunks(socket as unknown as Socket, data, 13);
    // Held: the queue towards the target is full, so the TLS client is no longer read (and is probed).
    await expect.poll(() => p.proxy.buffered, { timeout: 5000, interval: 20 }).toBeGreaterThanOrEqual(64 * 1024);
    await written;
    expect((await back).toString()).toBe(sha256(data));
    expect(p.events.filter((e) => e.type === 'notice')).toEqual([]);
  });

  it('reports a client that fails the TLS handshake in one line', async () => {
    const { cert, key } = testCertificate();
    const { port } = await echo();
    const p = await proxied(port, { tls: { cert, key } });
    const socket = client(p.port);
    socket.write('GET / HTTP/1.1\r\n\r\n'); // plain HTTP to a TLS port
    await once(socket, 'end');
    await expect.poll(() => ofType(p.events, 'notice').length, { timeout: 5000 }).toBe(1);
    expect(ofType(p.events, 'notice')[0]).toMatchObject({ code: 'proxy.client-tls-failed', message: expect.stringMatching(/^#1 127\.0\.0\.1:\d+: TLS handshake with the client failed: the client sent plain HTTP/) });
  });
});

describe('a burst of connects', () => {
  it('the listen backlog follows --max-connections: 1,200 connects at once are all taken, none left to the SYN retry', async () => {
    const N = 1200;
    const target = createServer((socket) => socket.on('error', () => {}));
    target.maxConnections = 100_000;
    await new Promise<void>((resolve) => target.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve));
    cleanups.push(() => closeServer(target));
    const p = await proxyTo((target.address() as { port: number }).port, { maxConnections: 2000 });
    cleanups.push(() => p.close(100));
    const sockets: Socket[] = [];
    cleanups.push(() => sockets.forEach((s) => s.destroy()));
    let connected = 0;
    for (let i = 0; i < N; i++) {
      const socket = connect({ port: p.port, host: '127.0.0.1' });
      socket.on('error', () => {});
      socket.on('connect', () => connected++);
      sockets.push(socket);
    }
    // Nothing is accepted while the event loop is held: the kernel queues the handshakes it
    // completes, up to the backlog, and drops the other SYNs (retried after 1 s, RFC 6298 §2).
    const until = Date.now() + 100;
    while (Date.now() < until);
    await sleep(500);
    // With Node's default backlog (511), about 512 were connected here.
    expect(connected).toBe(N);
  });
});
