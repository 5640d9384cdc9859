/**
 * Real peers through the proxy: the `ws` package as server and client, and Python's
 * `websockets` as client. What the peers exchanged must arrive intact, and the events must
 * describe it: handshake, frames, fragments joined, control frames, close codes.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { NdjsonEncoder } from '../../src/render/ndjson-encoder.js';
import { piecesOf } from '../../src/websocket/payload-pieces.js';
import { closeServer, hasTool, needs, ofType, proxyTo, type Proxied } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A ws echo server (answers each message with the same message). */
async function wsEcho(deflate: boolean): Promise<number> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: deflate ? { threshold: 0 } : false });
  await once(wss, 'listening');
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary })));
  cleanups.push(async () => {
    for (const client of wss.clients) client.terminate();
    await closeServer(wss);
  });
  return (wss.address() as { port: number }).port;
}

async function proxied(target: number): Promise<Proxied> {
  const p = await proxyTo(target);
  cleanups.push(() => p.close());
  return p;
}

/** Resolves once the proxy has emitted the end of connection `conn`. */
async function ended(p: Proxied, conn = 1): Promise<void> {
  await expect.poll(() => p.events.some((e) => e.type === 'end' && e.conn === conn), { timeout: 5000 }).toBe(true);
}

describe.each([false, true])('ws client and ws server through the proxy (permessage-deflate %s)', (deflate) => {
  it('relays text, binary, fragmented, ping/pong and close, and dissects every frame', async () => {
    const p = await proxied(await wsEcho(deflate));
    const client = new WebSocket(`ws://127.0.0.1:${p.port}/chat?x=1`, { perMessageDeflate: deflate ? { threshold: 0 } : false });
    const received: (string | Buffer)[] = [];
    client.on('message', (data, isBinary) => received.push(isBinary ? (data as Buffer) : data.toString()));
    await once(client, 'open');
    const binary = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff));
    client.send('hello through the proxy');
    client.send(binary, { binary: true });
    client.send('first fragment, ', { fin: false });
    client.send('second fragment', { fin: true });
    const pong = once(client, 'pong');
    client.ping('are you there');
    await pong;
    await expect.poll(() => received.length, { timeout: 5000 }).toBe(3);
    client.close(1000, 'done');
    await once(client, 'close');
    await ended(p);

    expect(received[0]).toBe('hello through the proxy');
    expect(Buffer.compare(received[1] as Buffer, binary)).toBe(0);
    expect(received[2]).toBe('first fragment, second fragment');

    const [handshake] = ofType(p.events, 'handshake');
    expect(handshake).toMatchObject({ upgraded: true, acceptValid: true, request: { target: '/chat?x=1' } });
    expect(handshake!.deflate !== null).toBe(deflate);
    const messages = ofType(p.events, 'message').map((e) => e.message);
    const fromClient = messages.filter((m) => m.direction === 'client');
    expect(fromClient.map((m) => m.type)).toEqual(['text', 'binary', 'text', 'ping', 'close']);
    expect(fromClient[0]!.text).toBe('hello through the proxy');
    expect(fromClient[2]).toMatchObject({ text: 'first fragment, second fragment', fragments: 2, compressed: deflate });
    expect(messages.filter((m) => m.direction === 'server').map((m) => m.type)).toEqual(['text', 'binary', 'text', 'pong', 'close']);
    const [end] = ofType(p.events, 'end');
    expect(end).toMatchObject({ kind: 'websocket', closeCodes: { client: [1000], server: [1000] }, alerts: { error: 0 } });
    // Every frame the client sent is masked and the proxy saw them all.
    expect(ofType(p.events, 'frame').filter((e) => e.frame.direction === 'client').every((e) => e.frame.masked)).toBe(true);
    expect(p.events.filter((e) => e.type === 'notice')).toEqual([]);
  });
});

describe('several clients at once', () => {
  it('gives each its own connection number and upstream connection', async () => {
    const p = await proxied(await wsEcho(false));
    const clients = Array.from({ length: 8 }, () => new WebSocket(`ws://127.0.0.1:${p.port}/`));
    await Promise.all(clients.map((c) => once(c, 'open')));
    const answers = clients.map((c, i) => {
      const got = once(c, 'message');
      c.send(`client ${i}`);
      return got.then(([data]) => String(data));
    });
    expect(await Promise.all(answers)).toEqual(clients.map((_, i) => `client ${i}`));
    await Promise.all(clients.map((c) => (c.close(), once(c, 'close'))));
    await expect.poll(() => ofType(p.events, 'end').length, { timeout: 5000 }).toBe(8);
    const conns = ofType(p.events, 'connection').map((e) => e.conn);
    expect(new Set(conns)).toEqual(new Set([1, 2, 3, 4, 5, 6, 7, 8]));
    // Each connection's messages belong to it.
    for (const e of ofType(p.events, 'message').filter((m) => m.message.type === 'text' && m.message.direction === 'client')) {
      expect(e.message.text).toMatch(/^client \d$/);
    }
  });
});

const PYTHON = hasTool('/usr/bin/python3', ['-c', 'import websockets']);

describe.skipIf(needs(PYTHON))("Python's websockets client through the proxy", () => {
  it('relays its session and dissects it', async () => {
    const p = await proxied(await wsEcho(true));
    const script = `
import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1]) as ws:
        await ws.send("hello from python")
        print(await ws.recv())
        await ws.send(bytes(range(200)))
        print(len(await ws.recv()))
asyncio.run(main())
`;
    const output = await new Promise<string>((resolve, reject) =>
      execFile('/usr/bin/python3', ['-c', script, `ws://127.0.0.1:${p.port}/py`], { timeout: 15_000 }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout))),
    );
    expect(output.trim().split('\n')).toEqual(['hello from python', '200']);
    await ended(p);
    const [handshake] = ofType(p.events, 'handshake');
    expect(handshake).toMatchObject({ upgraded: true, acceptValid: true });
    const fromClient = ofType(p.events, 'message').filter((e) => e.message.direction === 'client');
    expect(fromClient.map((e) => e.message.type)).toEqual(['text', 'binary', 'close']);
    expect(fromClient[0]!.message.text).toBe('hello from python');
  });
});

describe('large messages (in many reads) through the proxy', () => {
  it('are dissected from the pieces they arrived in: the same data, hashed without being joined', async () => {
    const p = await proxied(await wsEcho(false));
    const client = new WebSocket(`ws://127.0.0.1:${p.port}/big`, { perMessageDeflate: false });
    const received: Buffer[] = [];
    client.on('message', (data) => received.push(data as Buffer));
    await once(client, 'open');
    // The application layer looks at a connection's first 8 binary messages for a protocol (and reads them whole).
    for (let i = 0; i < 8; i++) client.send(Buffer.from([0xf5, i]), { binary: true });
    const payloads = [1 << 20, 3 * (1 << 20) + 5].map((n, k) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + k + (i >> 11)) & 0xff)));
    for (const payload of payloads) client.send(payload, { binary: true });
    await expect.poll(() => received.length, { timeout: 10_000 }).toBe(10);
    received.splice(0, 8);
    client.close(1000);
    await once(client, 'close');
    await ended(p);
    received.forEach((back, i) => expect(Buffer.compare(back, payloads[i]!)).toBe(0));

    const messages = ofType(p.events, 'message').map((e) => e.message).filter((m) => m.type === 'binary' && m.length > 2);
    expect(messages.map((m) => `${m.direction} ${m.length}`).sort()).toEqual(payloads.flatMap((b) => [`client ${b.length}`, `server ${b.length}`]).sort());
    const lines: Buffer[] = [];
    const encoder = new NdjsonEncoder({}, (b) => lines.push(Buffer.from(b)));
    for (const m of messages) {
      const payload = payloads.find((b) => b.length === m.length)!;
      // Kept in pieces by the proxy, and not built by the hash nor the hex of the line.
      expect(piecesOf(m)?.built).toBe(false);
      encoder.write({ type: 'message', conn: 1, message: m });
      encoder.flush();
      const line = JSON.parse(Buffer.concat(lines.splice(0)).toString()) as { sha256: string; payload: string };
      expect(line.sha256).toBe(createHash('sha256').update(payload).digest('hex'));
      expect(line.payload).toBe(payload.subarray(0, 256).toString('hex'));
      expect(piecesOf(m)?.built).toBe(false);
      expect(Buffer.compare(Buffer.from(m.data), payload)).toBe(0);
    }
  });
});
