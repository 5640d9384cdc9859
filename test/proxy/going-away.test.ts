/**
 * wsproxy stopping (Ctrl-C, SIGTERM, RunningProxy.close): each open WebSocket connection gets a
 * Close 1001 "going away" of the proxy's own on both sides (RFC 6455 §7.4.1), each at a frame
 * boundary, and ends cleanly within --grace. Real peers: the `ws` package and Python's
 * websockets; raw sockets only where a frame must be caught in the middle on purpose.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { encodeFrame } from '../../src/websocket/frame-encoder.js';
import { FrameParser } from '../../src/websocket/frame-parser.js';
import { FrameWalker } from '../../src/proxy/intercept/frames.js';
import { dissectFile } from '../helpers/dissect.js';
import { closeServer, hasTool, listen, needs, ofType, proxyTo, sleep, type Proxied } from './helpers.js';

const BIN = fileURLToPath(new URL('../../bin/wsproxy.js', import.meta.url));
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const dir = mkdtempSync(join(tmpdir(), 'wsproxy-going-away-'));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A `ws` echo server that notes what it got and how its connections closed. */
async function wsServer(): Promise<{ port: number; got: string[] }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const got: string[] = [];
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      const bytes = data as Buffer;
      got.push(isBinary ? `binary:${bytes.length}:${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}` : `text:${bytes.toString()}`);
      if (!isBinary) ws.send(bytes.toString());
    });
    ws.on('close', (code, reason) => got.push(`close:${code}:${reason.toString()}`));
  });
  cleanups.push(async () => {
    for (const c of wss.clients) c.terminate();
    await closeServer(wss);
  });
  return { port: (wss.address() as { port: number }).port, got };
}

async function proxied(target: number, options: Parameters<typeof proxyTo>[1] = {}): Promise<Proxied> {
  const p = await proxyTo(target, options);
  cleanups.push(() => p.proxy.close({ grace: 0 }));
  return p;
}

const notices = (p: Proxied, code: string) => ofType(p.events, 'notice').filter((e) => e.code === code).map((e) => e.message);

/** A ws client through the proxy; resolves its close code and reason once it has closed. */
async function wsClient(port: number): Promise<{ ws: WebSocket; closed: Promise<string> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`);
  const closed = new Promise<string>((resolve) => ws.on('close', (code, reason) => resolve(`${code}:${reason.toString()}`)));
  await once(ws, 'open');
  return { ws, closed };
}

const unmask = (payload: Buffer, key: Buffer) => Buffer.from(payload.map((b, i) => b ^ key[i & 3]!));

describe('wsproxy stopping: Close 1001 to both sides of each WebSocket connection', () => {
  it('ws client and server both see a clean close 1001, well within the grace; the recording shows the two Closes', async () => {
    const server = await wsServer();
    const file = join(dir, 'library.pcap');
    const sink = createWriteStream(file);
    await once(sink, 'open');
    const p = await proxied(server.port, { record: sink });
    const client = await wsClient(p.port);
    client.ws.send('before');
    await once(client.ws, 'message');
    const start = performance.now();
    await p.proxy.close({ grace: 5000 });
    const took = performance.now() - start;
    expect(await client.closed).toBe('1001:wsproxy stopping');
    await expect.poll(() => server.got).toEqual(['text:before', 'close:1001:wsproxy stopping']);
    // Both peers answered and ended TCP: nothing was left to reset when the grace ran out.
    expect(took).toBeLessThan(4000);
    expect(notices(p, 'proxy.stopping')).toEqual([]);
    expect(notices(p, 'proxy.closed')).toEqual([
      '#1: the proxy is stopping: it sends Close 1001 "wsproxy stopping" to both sides (each at a frame boundary), waits for their answers, then ends.',
      expect.stringMatching(/^#1 (client→target: the client|target→client: the target)'s Close 1001 answers the proxy's; not passed on\.$/),
      expect.stringMatching(/^#1 (client→target: the client|target→client: the target)'s Close 1001 answers the proxy's; not passed on\.$/),
    ]);

    const { events, json } = await dissectFile(file);
    const closes = json.filter((e) => e.type === 'frame' && e.opcode === 8);
    expect(closes.map((e) => [e.from, e.masked, e.closeCode, e.closeReason])).toEqual([
      ['client', true, 1001, 'wsproxy stopping'],
      ['server', false, 1001, 'wsproxy stopping'],
    ]);
    const [end] = ofType(events, 'end');
    expect(end!.closeCodes).toEqual({ client: [1001], server: [1001] });
    expect(ofType(events, 'alert').filter((e) => e.alert.severity !== 'info').map((e) => e.alert.code)).toEqual([]);
  });

  it('a frame in flight from the client is finished first: the Close follows it, never inside it', async () => {
    const server = await wsServer();
    const p = await proxied(server.port);
    const raw = connect(p.port, '127.0.0.1');
    cleanups.push(() => void raw.destroy());
    const key = randomBytes(16).toString('base64');
    raw.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    let received = Buffer.alloc(0);
    raw.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
    await expect.poll(() => received.includes('\r\n\r\n')).toBe(true);
    const payload = randomBytes(200_000);
    const frame = Buffer.from(encodeFrame({ opcode: 2, payload, maskingKey: randomBytes(4) }));
    raw.write(frame.subarray(0, 100_000));
    await expect.poll(() => p.proxy.relayed).toBeGreaterThan(100_000);
    const closing = p.proxy.close({ grace: 5000 });
    await sleep(300);
    raw.write(frame.subarray(100_000));
    // The client gets the proxy's Close (as from the server, unmasked) and answers it.
    await expect.poll(() => received.length - (received.indexOf('\r\n\r\n') + 4)).toBe(2 + 2 + 16);
    const close = received.subarray(received.indexOf('\r\n\r\n') + 4);
    expect(close.toString('hex')).toBe(`8812${Buffer.concat([Buffer.from([0x03, 0xe9]), Buffer.from('wsproxy stopping')]).toString('hex')}`);
    raw.write(encodeFrame({ opcode: 8, payload: Buffer.from([0x03, 0xe9]), maskingKey: randomBytes(4) }));
    await closing;
    await expect.poll(() => server.got).toEqual([`binary:200000:${createHash('sha256').update(payload).digest('hex').slice(0, 16)}`, 'close:1001:wsproxy stopping']);
    expect(notices(p, 'proxy.stopping')).toEqual([]);
  });

  it('a frame in flight from the server is finished first: the ws client gets the whole message, then Close 1001', async () => {
    const payload = randomBytes(150_000).toString('base64').slice(0, 150_000);
    const frame = Buffer.from(encodeFrame({ opcode: 1, payload: Buffer.from(payload) }));
    let toServer = Buffer.alloc(0);
    let serverSocket: Socket | null = null;
    const target: Server = createServer((socket) => {
      serverSocket = socket;
      socket.on('error', () => {});
      socket.on('data', (d: Buffer) => {
        const first = toServer.length === 0;
        toServer = Buffer.concat([toServer, d]);
        if (!first) return;
        const key = /sec-websocket-key: *(\S+)/i.exec(d.toString('latin1'))![1]!;
        const accept = createHash('sha1').update(key + GUID).digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        socket.write(frame.subarray(0, 70_000));
      });
    });
    const targetPort = await listen(target);
    cleanups.push(async () => {
      (serverSocket as Socket | null)?.destroy();
      await closeServer(target);
    });
    const p = await proxied(targetPort);
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}/`, { perMessageDeflate: false });
    const got: string[] = [];
    ws.on('message', (d) => got.push(`text:${(d as Buffer).length}:${(d as Buffer).toString() === payload}`));
    ws.on('close', (code, reason) => got.push(`close:${code}:${reason.toString()}`));
    await once(ws, 'open');
    await expect.poll(() => p.proxy.relayed).toBeGreaterThan(70_000);
    const closing = p.proxy.close({ grace: 5000 });
    // The client's stream is between frames: the target gets the proxy's Close at once, masked as
    // a client's (RFC 6455 §5.3): 0x88, 0x80 | 18, key, payload.
    const head = toServer.indexOf('\r\n\r\n') + 4;
    await expect.poll(() => toServer.length - head).toBe(2 + 4 + 18);
    // The client, in the middle of the target's frame, gets nothing more until that frame ends.
    await sleep(300);
    expect(got).toEqual([]);
    serverSocket!.write(frame.subarray(70_000));
    const close = toServer.subarray(head);
    expect(close.subarray(0, 2).toString('hex')).toBe('8892');
    expect(unmask(close.subarray(6), close.subarray(2, 6)).toString('latin1')).toBe('\x03\xe9wsproxy stopping');
    // The target answers and closes TCP first, as a server does (§7.1.1).
    serverSocket!.end(encodeFrame({ opcode: 8, payload: Buffer.from([0x03, 0xe9]) }));
    await closing;
    await expect.poll(() => got).toEqual(['text:150000:true', 'close:1001:wsproxy stopping']);
    expect(notices(p, 'proxy.stopping')).toEqual([]);
  });

  it('with a fault loaded (the interceptor relays), the Close 1001 goes to both sides all the same', async () => {
    const server = await wsServer();
    const p = await proxied(server.port, { faults: { dropPongs: true } });
    const client = await wsClient(p.port);
    await p.proxy.close({ grace: 5000 });
    expect(await client.closed).toBe('1001:wsproxy stopping');
    await expect.poll(() => server.got).toEqual(['close:1001:wsproxy stopping']);
    expect(notices(p, 'proxy.closed')[0]).toBe('#1: the proxy sent Close 1001 "wsproxy stopping" to both sides as it is stopping.');
    expect(notices(p, 'proxy.stopping')).toEqual([]);
  });

  it('a connection that is not WebSocket gets no Close: it is reset after the grace, as before', async () => {
    const target = createServer((socket) => socket.on('error', () => {}));
    const targetPort = await listen(target);
    cleanups.push(() => closeServer(target));
    const p = await proxied(targetPort);
    const raw = connect(p.port, '127.0.0.1');
    raw.on('error', () => {});
    let received = 0;
    raw.on('data', (d: Buffer) => (received += d.length));
    raw.write('GET /page HTTP/1.1\r\nHost: x\r\n\r\n');
    await expect.poll(() => p.proxy.relayed).toBeGreaterThan(0);
    await p.proxy.close({ grace: 300 });
    expect(received).toBe(0);
    expect(notices(p, 'proxy.closed')).toEqual([]);
    expect(notices(p, 'proxy.stopping')).toEqual(['1 connection(s) still open after 0.3 s: reset.']);
  });
});

const PYTHON = hasTool('/usr/bin/python3', ['-c', 'import websockets']);

describe.skipIf(needs(PYTHON))("wsproxy stopping, with Python's websockets as the client", () => {
  it('its connection closes cleanly (ConnectionClosedOK) with the code 1001 it received', async () => {
    const server = await wsServer();
    const p = await proxied(server.port);
    const child = spawn(
      '/usr/bin/python3',
      [
        '-c',
        `
import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1]) as ws:
        await ws.send("hello")
        print(await ws.recv(), flush=True)
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed as closed:
            print(type(closed).__name__, closed.rcvd.code, closed.rcvd.reason, closed.sent.code, flush=True)
asyncio.run(main())
`,
        `ws://127.0.0.1:${p.port}/py`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    cleanups.push(() => void child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await expect.poll(() => out, { timeout: 10_000 }).toBe('hello\n');
    await p.proxy.close({ grace: 5000 });
    await once(child, 'exit');
    expect(out.trim().split('\n')).toEqual(['hello', 'ConnectionClosedOK 1001 wsproxy stopping 1001']);
    await expect.poll(() => server.got).toEqual(['text:hello', 'close:1001:wsproxy stopping']);
  });
});

describe('wsproxy, Ctrl-C (SIGINT) as a process, with --write', () => {
  it('the client sees 1001, the process exits 0, and the capture decodes in wsdump with the proxy\'s Closes', async () => {
    const server = await wsServer();
    const file = join(dir, 'sigint.pcap');
    const child = spawn(process.execPath, [BIN, '--listen', '0', '--target', String(server.port), '--write', file, '--grace', '5'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    cleanups.push(() => {
      clearTimeout(killer);
      child.kill('SIGKILL');
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    await expect.poll(() => /127\.0\.0\.1:(\d+) →/.test(stderr), { timeout: 20_000 }).toBe(true);
    const port = Number(/127\.0\.0\.1:(\d+) →/.exec(stderr)![1]);
    const client = await wsClient(port);
    client.ws.send('hi');
    await once(client.ws, 'message');
    child.kill('SIGINT');
    expect(await client.closed).toBe('1001:wsproxy stopping');
    const [code] = await exited;
    expect(code).toBe(0);
    await expect.poll(() => server.got).toEqual(['text:hi', 'close:1001:wsproxy stopping']);
    expect(stdout).toMatch(/proxy\.closed #1: the proxy is stopping: it sends Close 1001/);
    expect(stderr).not.toMatch(/still open after/);

    const { json } = await dissectFile(file);
    const closes = json.filter((e) => e.type === 'frame' && e.opcode === 8);
    expect(closes.map((e) => [e.from, e.masked, e.closeCode])).toEqual([
      ['client', true, 1001],
      ['server', false, 1001],
    ]);
  }, 90_000);
});

describe('FrameWalker: frame boundaries from a FrameParser resume point', () => {
  const frames = [
    encodeFrame({ opcode: 1, payload: Buffer.from('hello'), maskingKey: Buffer.from([1, 2, 3, 4]) }),
    encodeFrame({ opcode: 2, payload: randomBytes(300) }),
    encodeFrame({ opcode: 9, payload: Buffer.alloc(0) }),
    encodeFrame({ opcode: 8, payload: Buffer.from([0x03, 0xe8, 0x6f, 0x6b]), maskingKey: Buffer.from([9, 8, 7, 6]) }),
  ].map((f) => Buffer.from(f));
  const stream = Buffer.concat(frames);
  const ends = frames.reduce<number[]>((acc, f) => [...acc, (acc.at(-1) ?? 0) + f.length], []);

  it('from any cut point, finds the same boundaries and the Close code, at any chunking', () => {
    for (let cut = 0; cut < stream.length; cut++) {
      const parser = new FrameParser({ direction: 'client' });
      parser.push(stream.subarray(0, cut));
      const walker = new FrameWalker(parser.resumePoint()!);
      const expected = ends.filter((e) => e > cut);
      expect(walker.atBoundary).toBe(cut === 0 || ends.includes(cut));
      for (const size of [1, 7, stream.length]) {
        const w = new FrameWalker(parser.resumePoint()!);
        const found: number[] = [];
        for (let at = cut; at < stream.length; at += size) {
          const chunk = stream.subarray(at, Math.min(at + size, stream.length));
          for (let i = 0; (i = w.next(chunk, i)) >= 0; ) found.push(at + i);
        }
        expect(found).toEqual(expected);
        // The Close is walked whole when the cut is before it.
        if (cut < ends[2]!) expect([w.opcode, w.code]).toEqual([8, 1000]);
      }
    }
  });

  it('has no resume point while framing is lost', () => {
    const parser = new FrameParser({ direction: 'client', synced: false });
    parser.push(Buffer.from([0xff, 0xff, 0xff]));
    expect(parser.resumePoint()).toBeNull();
  });
});
