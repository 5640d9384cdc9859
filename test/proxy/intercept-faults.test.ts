/**
 * The built-in faults against real peers: the `ws` package as client and server, with and
 * without permessage-deflate, and Python's `websockets` as client (it offers permessage-deflate
 * by default). Each fault must do what it says to what the peers receive, say so in the live
 * view, and leave what it does not touch intact; with no fault loaded the relay stays byte-exact.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { createWsproxyProgram } from '../../src/cli/wsproxy.js';
import type { FaultOptions } from '../../src/proxy/intercept/faults.js';
import { closeServer, collect, echoServer, hasTool, needs, ofType, proxyTo, sha256, writeInChunks, type Proxied } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Server {
  port: number;
  wss: WebSocketServer;
  /** What the server received, in order: messages as text (or `binary:<len>`), pings and pongs. */
  got: string[];
  closes: number[];
}

/** A ws server that echoes each message and records what it received. */
async function wsServer(deflate: boolean): Promise<Server> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: deflate ? { threshold: 0 } : false });
  await once(wss, 'listening');
  const server: Server = { port: (wss.address() as { port: number }).port, wss, got: [], closes: [] };
  wss.on('connection', (ws) => {
    ws.on('message', (data: RawData, isBinary) => {
      server.got.push(isBinary ? `binary:${(data as Buffer).length}` : data.toString());
      ws.send(data as Buffer, { binary: isBinary });
    });
    ws.on('ping', (data) => server.got.push(`ping:${data.toString()}`));
    ws.on('pong', (data) => server.got.push(`pong:${data.toString()}`));
    ws.on('close', (code) => server.closes.push(code));
  });
  cleanups.push(async () => {
    for (const client of wss.clients) client.terminate();
    await closeServer(wss);
  });
  return server;
}

async function proxied(target: number, faults: FaultOptions): Promise<Proxied> {
  const p = await proxyTo(target, { faults });
  cleanups.push(() => p.close());
  return p;
}

async function client(p: Proxied, deflate: boolean): Promise<{ ws: WebSocket; got: string[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${p.port}/lab`, { perMessageDeflate: deflate ? { threshold: 0 } : false });
  const got: string[] = [];
  ws.on('message', (data: RawData, isBinary) => got.push(isBinary ? `binary:${(data as Buffer).length}` : data.toString()));
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  await once(ws, 'open');
  return { ws, got };
}

const notices = (p: Proxied, code: string) => ofType(p.events, 'notice').filter((e) => e.code === code);

async function ended(p: Proxied, conn = 1): Promise<void> {
  await expect.poll(() => p.events.some((e) => e.type === 'end' && e.conn === conn), { timeout: 8000 }).toBe(true);
}

describe('with no fault loaded', () => {
  it('relays bytes untouched: an empty fault set is no fault', async () => {
    const { server, port } = await echoServer();
    cleanups.push(() => closeServer(server));
    const p = await proxied(port, {});
    const data = randomBytes(300_000);
    const socket = connect(p.port, '127.0.0.1');
    const received = collect(socket);
    await once(socket, 'connect');
    await writeInChunks(socket, data);
    expect(sha256(await received)).toBe(sha256(data));
  });

  it('with a fault loaded, what is not a WebSocket upgrade is relayed untouched, and said once', async () => {
    const { server, port } = await echoServer();
    cleanups.push(() => closeServer(server));
    const p = await proxied(port, { fragment: 1, delay: { min: 0, max: 0 } });
    const data = Buffer.concat([Buffer.from('GET /plain HTTP/1.1\r\nHost: x\r\n\r\n'), randomBytes(100_000)]);
    const socket = connect(p.port, '127.0.0.1');
    const received = collect(socket);
    await once(socket, 'connect');
    await writeInChunks(socket, data);
    expect(sha256(await received)).toBe(sha256(data));
    await ended(p);
    expect(notices(p, 'proxy.intercept-off').map((e) => e.message)).toEqual(['#1: its first request (GET /plain) is not a WebSocket upgrade: relayed untouched, without faults.']);
  });
});

describe.each([false, true])('faults between ws peers (permessage-deflate %s)', (deflate) => {
  it('--drop-pongs: the server pings, the client answers, the server never hears it', async () => {
    const server = await wsServer(deflate);
    const p = await proxied(server.port, { dropPongs: true });
    const { ws } = await client(p, deflate);
    const pinged = once(ws, 'ping');
    for (const peer of server.wss.clients) peer.ping('beat');
    await pinged;
    ws.send('after the pong');
    await expect.poll(() => server.got).toContain('after the pong');
    expect(server.got.filter((g) => g.startsWith('pong'))).toEqual([]);
    expect(notices(p, 'proxy.dropped').map((e) => e.message)).toEqual(['#1 client→target: Pong (4 bytes) dropped (--drop-pongs).']);
    ws.close(1000);
    await ended(p);
    const fromClient = ofType(p.events, 'message').filter((e) => e.message.direction === 'client').map((e) => e.message.type);
    expect(fromClient).toEqual(['text', 'close']);
  });

  it('--drop-pings: the client pings, the server never hears it and no pong comes back', async () => {
    const server = await wsServer(deflate);
    const p = await proxied(server.port, { dropPings: true });
    const { ws, got } = await client(p, deflate);
    let pongs = 0;
    ws.on('pong', () => pongs++);
    ws.ping('anyone');
    ws.send('marker');
    await expect.poll(() => got).toEqual(['marker']);
    expect(server.got).toEqual(['marker']);
    expect(pongs).toBe(0);
    expect(notices(p, 'proxy.dropped')).toHaveLength(1);
  });

  it('--fragment N: each message arrives whole, as frames of N bytes, client frames freshly masked', async () => {
    const server = await wsServer(deflate);
    const p = await proxied(server.port, { fragment: 10 });
    const { ws, got } = await client(p, deflate);
    const text = 'a message long enough to be cut into several frames by the proxy';
    ws.send(text);
    ws.send(Buffer.alloc(95, 7), { binary: true });
    await expect.poll(() => got).toEqual([text, 'binary:95']);
    expect(server.got).toEqual([text, 'binary:95']);
    ws.close(1000);
    await ended(p);
    const messages = ofType(p.events, 'message').filter((e) => e.message.type !== 'close');
    for (const { message } of messages) {
      expect(message.fragments).toBe(Math.ceil(message.wireLength / 10));
      if (!deflate) expect(message.fragments).toBe(message.type === 'text' ? 7 : 10);
      expect(message.compressed).toBe(deflate);
    }
    const frames = ofType(p.events, 'frame').filter((e) => e.frame.direction === 'client' && e.frame.opcode !== 8);
    expect(frames.every((e) => e.frame.masked)).toBe(true);
    expect(new Set(frames.map((e) => e.frame.maskingKey)).size).toBe(frames.length);
    expect(ofType(p.events, 'alert').map((e) => e.alert.code)).toEqual([]);
    expect(notices(p, 'proxy.fragmented')).toHaveLength(4);
  });

  it('--close-after N:CODE: after N messages the proxy closes both sides with CODE', async () => {
    const server = await wsServer(deflate);
    const p = await proxied(server.port, { closeAfter: { messages: 3, code: 4000 } });
    const { ws, got } = await client(p, deflate);
    const closed = once(ws, 'close');
    ws.send('one');
    await expect.poll(() => got).toEqual(['one']);
    ws.send('two');
    const [code] = (await closed) as [number];
    expect(code).toBe(4000);
    // one, its echo, two: the third message; two's echo never reaches the client.
    expect(got).toEqual(['one']);
    await expect.poll(() => server.closes).toEqual([4000]);
    await ended(p);
    expect(notices(p, 'proxy.closed')[0]!.message).toBe('#1: the proxy sent Close 4000 to both sides after 3 message(s) (--close-after).');
  });

  it('--delay MS-MS: every message is held within the range, in order', async () => {
    const server = await wsServer(deflate);
    const p = await proxied(server.port, { delay: { min: 100, max: 150 } });
    const { ws, got } = await client(p, deflate);
    const start = performance.now();
    for (let i = 0; i < 5; i++) ws.send(`m${i}`);
    await expect.poll(() => got.length, { timeout: 5000 }).toBe(5);
    // Each message waits at least 100 ms each way (and the five are held back to back, in order).
    expect(performance.now() - start).toBeGreaterThanOrEqual(200);
    expect(got).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    const held = notices(p, 'proxy.delayed').map((e) => Number(/held (\d+) ms/.exec(e.message)![1]));
    expect(held).toHaveLength(10);
    for (const ms of held) expect(ms >= 100 && ms <= 150).toBe(true);
  });

  it('--throttle RATE: a large message takes as long as the rate says, and arrives intact', async () => {
    const server = await wsServer(deflate);
    const p = await proxied(server.port, { throttle: 20_000 });
    const { ws, got } = await client(p, deflate);
    const start = performance.now();
    const payload = randomBytes(30_000);
    ws.send(payload, { binary: true });
    await expect.poll(() => server.got, { timeout: 8000 }).toEqual(['binary:30000']);
    // 30,000 bytes (plus framing; random bytes do not compress) at 20,000 B/s, a 2,000-byte burst allowed.
    expect(performance.now() - start).toBeGreaterThanOrEqual(1300);
    await expect.poll(() => got, { timeout: 8000 }).toEqual(['binary:30000']);
    expect(notices(p, 'proxy.throttled').length).toBeGreaterThanOrEqual(1);
  });
});

const PYTHON = hasTool('/usr/bin/python3', ['-c', 'import websockets']);

/** Runs a Python websockets client (which offers permessage-deflate) against the proxy; its stdout lines. */
function python(script: string, url: string): Promise<string[]> {
  return new Promise((resolve, reject) =>
    execFile('/usr/bin/python3', ['-c', script, url], { timeout: 15_000 }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout.trim().split('\n')))),
  );
}

describe.skipIf(needs(PYTHON))("faults with Python's websockets as the client", () => {
  it('--fragment and --delay: its messages arrive whole, fragmented, in order', async () => {
    const server = await wsServer(true);
    const p = await proxied(server.port, { fragment: 4, delay: { min: 10, max: 30 } });
    const lines = await python(
      `
import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1]) as ws:
        for word in ["alpha bravo", "charlie delta echo"]:
            await ws.send(word)
            print(await ws.recv())
asyncio.run(main())
`,
      `ws://127.0.0.1:${p.port}/py`,
    );
    expect(lines).toEqual(['alpha bravo', 'charlie delta echo']);
    expect(server.got).toEqual(['alpha bravo', 'charlie delta echo']);
    await ended(p);
    const [handshake] = ofType(p.events, 'handshake');
    expect(handshake!.extensions.map((x) => x.name)).toContain('permessage-deflate');
    const texts = ofType(p.events, 'message').filter((e) => e.message.type === 'text');
    expect(texts.map((e) => e.message.text)).toEqual(['alpha bravo', 'alpha bravo', 'charlie delta echo', 'charlie delta echo']);
    for (const { message } of texts) expect(message.fragments).toBe(Math.ceil(message.wireLength / 4));
  });

  it('--drop-pongs: its keepalive ping goes unanswered and it closes with 1011', async () => {
    const server = await wsServer(true);
    const p = await proxied(server.port, { dropPongs: true });
    const lines = await python(
      `
import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1], ping_interval=0.2, ping_timeout=0.3) as ws:
        try:
            await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed as closed:
            print(closed.rcvd.code if closed.rcvd else closed.sent.code)
asyncio.run(main())
`,
      `ws://127.0.0.1:${p.port}/py`,
    );
    expect(lines).toEqual(['1011']);
    expect(server.got.filter((g) => g.startsWith('ping')).length).toBeGreaterThanOrEqual(1);
    expect(notices(p, 'proxy.dropped')[0]!.message).toMatch(/^#1 target→client: Pong \(4 bytes\) dropped \(--drop-pongs\)\.$/);
  });
});

describe.skipIf(needs(PYTHON))("more faults with Python's websockets as the client", () => {
  it('--close-after 2:4000 and --drop-pings: its ping is never answered, and the proxy closes it with 4000', async () => {
    const server = await wsServer(true);
    const p = await proxied(server.port, { closeAfter: { messages: 2, code: 4000 }, dropPings: true });
    const lines = await python(
      `
import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1], ping_interval=None) as ws:
        pong = await ws.ping(b"py")
        try:
            await asyncio.wait_for(asyncio.shield(pong), 0.5)
            print("pong")
        except asyncio.TimeoutError:
            print("no pong")
        await ws.send("one")
        try:
            while True:
                print(await asyncio.wait_for(ws.recv(), 5))
        except websockets.ConnectionClosed as closed:
            print(closed.rcvd.code)
asyncio.run(main())
`,
      `ws://127.0.0.1:${p.port}/py`,
    );
    // "one" and its echo are the two messages; then the proxy's Close.
    expect(lines).toEqual(['no pong', 'one', '4000']);
    expect(server.got).toEqual(['one']);
    await ended(p);
    expect(notices(p, 'proxy.dropped')[0]).toMatchObject({ message: '#1 client→target: Ping (2 bytes) dropped (--drop-pings).' });
    expect(notices(p, 'proxy.closed')[0]!.message).toMatch(/sent Close 4000 to both sides after 2 message/);
  });

  it('--throttle: a 20,000-byte message arrives whole, no faster than the rate', async () => {
    const server = await wsServer(true);
    const p = await proxied(server.port, { throttle: 20_000 });
    const start = performance.now();
    const lines = await python(
      `
import asyncio, os, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1], compression=None) as ws:
        data = os.urandom(20000)
        await ws.send(data)
        print(await ws.recv() == data)
asyncio.run(main())
`,
      `ws://127.0.0.1:${p.port}/py`,
    );
    expect(lines).toEqual(['True']);
    // 20,000 bytes each way at 20,000 B/s, 2,000-byte bursts: at least about 1.8 s.
    expect(performance.now() - start).toBeGreaterThanOrEqual(1700);
  });
});

describe('wsproxy --help and the README', () => {
  it('documents every long option of wsproxy --help in the README', async () => {
    const help = createWsproxyProgram().helpInformation();
    const readme = readFileSync('README.md', 'utf8');
    const options = [...new Set(help.match(/--[a-z][a-z-]+/g))];
    expect(options).toEqual(expect.arrayContaining(['--delay', '--drop-pongs', '--fragment', '--close-after', '--throttle']));
    expect(options.filter((o) => !readme.includes(o))).toEqual([]);
  });
});
