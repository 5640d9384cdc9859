/**
 * --script against real peers: every outcome of onMessage (unchanged, dropped, replaced by text
 * or bytes, held), ctx.send and ctx.close, onOpen and onClose, a hook that throws or rejects
 * (reported once, the message unchanged), promises keeping order, ctx.app on a Socket.IO
 * conversation, permessage-deflate negotiated away (ws and Python clients both offer it), an
 * unchanged message relayed as the very bytes it came as, and --write recording both legs.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { dissectEvents } from '../helpers/dissect.js';
import { loadScript, ScriptError, type HookName } from '../../src/proxy/intercept/script.js';
import { encodeFrame } from '../../src/websocket/frame-encoder.js';
import { Opcode } from '../../src/websocket/constants.js';
import { closeServer, hasTool, needs, ofType, proxyTo, type Proxied } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'wsproxy-script-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let scripts = 0;
function scriptFile(source: string): string {
  const path = join(dir, `s${++scripts}.mjs`);
  writeFileSync(path, source);
  return path;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Server {
  port: number;
  wss: WebSocketServer;
  got: string[];
  extensions: string[];
}

async function wsServer(options: { echo?: boolean } = {}): Promise<Server> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 } });
  await once(wss, 'listening');
  const server: Server = { port: (wss.address() as { port: number }).port, wss, got: [], extensions: [] };
  wss.on('connection', (ws) => {
    server.extensions.push(ws.extensions);
    ws.on('message', (data: RawData, isBinary) => {
      server.got.push(isBinary ? `binary:${Buffer.from(data as Buffer).toString('hex')}` : data.toString());
      if (options.echo !== false) ws.send(data as Buffer, { binary: isBinary });
    });
  });
  cleanups.push(async () => {
    for (const c of wss.clients) c.terminate();
    await closeServer(wss);
  });
  return server;
}

interface Scripted extends Proxied {
  failures: { hook: HookName; conn: number; error: unknown }[];
}

async function scripted(target: number, source: string, extra: Parameters<typeof proxyTo>[1] = {}): Promise<Scripted> {
  const failures: Scripted['failures'] = [];
  const script = await loadScript(scriptFile(source));
  const p = await proxyTo(target, { script, onScriptError: (hook, conn, error) => failures.push({ hook, conn, error }), ...extra });
  cleanups.push(() => p.close());
  return { ...p, failures };
}

async function client(port: number, path = '/s'): Promise<{ ws: WebSocket; got: string[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { perMessageDeflate: { threshold: 0 } });
  const got: string[] = [];
  ws.on('message', (data: RawData, isBinary) => got.push(isBinary ? `binary:${Buffer.from(data as Buffer).toString('hex')}` : data.toString()));
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  await once(ws, 'open');
  return { ws, got };
}

const notices = (p: Proxied, code: string) => ofType(p.events, 'notice').filter((e) => e.code === code).map((e) => e.message);

describe('--script: what onMessage returns', () => {
  it('nothing, null, a string, bytes, { delay }: passed, dropped, replaced, held', async () => {
    const server = await wsServer({ echo: false });
    const p = await scripted(
      server.port,
      `export function onMessage(m, ctx) {
        if (m.from !== 'client') return;
        if (m.text === 'drop me') return null;
        if (m.text === 'shout') return m.text.toUpperCase();
        if (m.text === 'as bytes') return new Uint8Array([1, 2, 3]);
        if (m.text === 'later') return { delay: 150 };
        if (m.type === 'binary') return 'was ' + m.data.length + ' bytes';
      }`,
    );
    const { ws } = await client(p.port);
    // The ws client offered permessage-deflate; the proxy took the offer out.
    expect(ws.extensions).toBe('');
    for (const text of ['keep', 'drop me', 'shout', 'as bytes', 'later', 'after']) ws.send(text);
    ws.send(Buffer.alloc(7), { binary: true });
    const start = performance.now();
    await expect.poll(() => server.got.length, { timeout: 5000 }).toBe(6);
    expect(performance.now() - start).toBeGreaterThanOrEqual(140);
    // Held messages hold back what follows them: order is kept.
    expect(server.got).toEqual(['keep', 'SHOUT', 'binary:010203', 'later', 'after', 'was 7 bytes']);
    expect(server.extensions).toEqual(['']);
    expect(notices(p, 'proxy.scripted')).toEqual([
      '#1 client→target: text message of 7 bytes dropped by the script.',
      '#1 client→target: text message of 5 bytes replaced by the script with a text message of 5 bytes.',
      '#1 client→target: text message of 8 bytes replaced by the script with a binary message of 3 bytes.',
      '#1 client→target: text message held 150 ms by the script.',
      '#1 client→target: binary message of 7 bytes replaced by the script with a text message of 11 bytes.',
    ]);
    expect(notices(p, 'proxy.extensions-withheld')).toHaveLength(1);
    expect(p.failures).toEqual([]);
    ws.close();
  });

  it('an unchanged message goes on as the very bytes it came as (the client\'s masking key kept)', async () => {
    const server = await wsServer({ echo: false });
    const p = await scripted(server.port, `export function onMessage() {}`);
    const socket = connect(p.port, '127.0.0.1');
    cleanups.push(() => void socket.destroy());
    await once(socket, 'connect');
    socket.write('GET /raw HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    await once(socket, 'data');
    const key = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
    socket.write(encodeFrame({ opcode: Opcode.Text, payload: 'exactly this', maskingKey: key }));
    await expect.poll(() => server.got).toEqual(['exactly this']);
    await expect.poll(() => ofType(p.events, 'frame').length).toBe(1);
    expect(ofType(p.events, 'frame')[0]!.frame.maskingKey).toEqual(key);
  });

  it('a replaced client message is masked with a fresh key each time, and both peers accept it', async () => {
    const server = await wsServer();
    const p = await scripted(server.port, `export function onMessage(m) { return m.from === 'client' ? m.text + '!' : undefined; }`);
    const { ws, got } = await client(p.port);
    ws.send('a');
    ws.send('b');
    await expect.poll(() => got).toEqual(['a!', 'b!']);
    const keys = ofType(p.events, 'frame').filter((e) => e.frame.direction === 'client').map((e) => Buffer.from(e.frame.maskingKey!).toString('hex'));
    expect(keys).toHaveLength(2);
    expect(keys[0]).not.toBe(keys[1]);
    expect(ofType(p.events, 'alert')).toEqual([]);
  });
});

describe('--script: ctx, onOpen and onClose', () => {
  it('injects a server message every 100 ms from onOpen, stops in onClose, and ctx.close closes both sides', async () => {
    const server = await wsServer();
    const marks = join(dir, 'closed.txt');
    const p = await scripted(
      server.port,
      `import { appendFileSync } from 'node:fs';
      export function onOpen(ctx) {
        ctx.state.ticks = 0;
        ctx.state.timer = setInterval(() => ctx.send('client', JSON.stringify({ tick: ++ctx.state.ticks, path: ctx.handshake.path })), 100);
      }
      export function onMessage(m, ctx) {
        if (m.text === 'enough') ctx.close(4001, 'the script said so');
      }
      export function onClose(ctx) {
        clearInterval(ctx.state.timer);
        appendFileSync(${JSON.stringify(marks)}, 'closed #' + ctx.conn + '\\n');
      }`,
    );
    const { ws, got } = await client(p.port, '/ticks?x=1');
    await expect.poll(() => got.length, { timeout: 3000 }).toBeGreaterThanOrEqual(3);
    expect(got.slice(0, 3)).toEqual([1, 2, 3].map((tick) => JSON.stringify({ tick, path: '/ticks?x=1' })));
    const closed = once(ws, 'close');
    ws.send('enough');
    const [code, reason] = (await closed) as [number, Buffer];
    expect(code).toBe(4001);
    expect(reason.toString()).toBe('the script said so');
    await expect.poll(() => p.events.some((e) => e.type === 'end'), { timeout: 5000 }).toBe(true);
    await expect.poll(() => readFileSync(marks, 'utf8')).toBe('closed #1\n');
    expect(notices(p, 'proxy.injected').length).toBeGreaterThanOrEqual(3);
    expect(notices(p, 'proxy.closed')[0]).toBe('#1: the proxy sent Close 4001 "the script said so" to both sides for the script.');
    expect(server.got).toEqual([]);
  });

  it('a hook that throws is reported once, with its stack, and the message goes on unchanged', async () => {
    const server = await wsServer();
    const p = await scripted(server.port, `export function onMessage(m) { if (m.from === 'client') throw new Error('bug in the script: ' + m.text); }`);
    const { ws, got } = await client(p.port);
    ws.send('one');
    ws.send('two');
    await expect.poll(() => got).toEqual(['one', 'two']);
    expect(server.got).toEqual(['one', 'two']);
    expect(p.failures).toHaveLength(1);
    expect(p.failures[0]!.hook).toBe('onMessage');
    expect((p.failures[0]!.error as Error).stack).toMatch(/bug in the script: one\n\s+at onMessage \(\S+s\d+\.mjs:1:\d+\)/);
    expect(p.proxy.scriptFailures.get('onMessage')).toBe(2);
    expect(notices(p, 'proxy.script-error')).toEqual(["#1: the script's onMessage failed (bug in the script: one); the message went on unchanged. Later failures are counted, not shown."]);
  });

  it('promises keep the order of each direction; a rejection is a failure, the message unchanged', async () => {
    const server = await wsServer({ echo: false });
    const p = await scripted(
      server.port,
      `const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      export async function onMessage(m) {
        if (m.text === 'slow') { await sleep(120); return 'slow, changed'; }
        if (m.text === 'reject') throw new Error('rejected');
      }`,
    );
    const { ws } = await client(p.port);
    for (const text of ['slow', 'fast', 'reject', 'last']) ws.send(text);
    await expect.poll(() => server.got, { timeout: 5000 }).toEqual(['slow, changed', 'fast', 'reject', 'last']);
    expect(p.failures.map((f) => (f.error as Error).message)).toEqual(['rejected']);
  });

  it('ctx.app: a Socket.IO event argument rewritten, the others untouched', async () => {
    const server = await wsServer({ echo: false });
    const p = await scripted(
      server.port,
      `export function onMessage(m, ctx) {
        const event = ctx.app.find((a) => a.protocol === 'socket.io' && a.kind === 'event');
        if (event?.name !== 'chat') return;
        const at = m.text.indexOf('[');
        const args = JSON.parse(m.text.slice(at));
        args[1] = { ...args[1], text: args[1].text.replace(/secret/g, '******') };
        return m.text.slice(0, at) + JSON.stringify(args);
      }`,
    );
    const { ws } = await client(p.port, '/socket.io/?EIO=4&transport=websocket');
    ws.send('40');
    ws.send('42["chat",{"text":"my secret plan"}]');
    ws.send('42["typing",{"text":"secret"}]');
    await expect.poll(() => server.got).toEqual(['40', '42["chat",{"text":"my ****** plan"}]', '42["typing",{"text":"secret"}]']);
  });
});

describe('--script with --write: both legs recorded', () => {
  it('the client leg holds what the client sent, the target leg what the target got', async () => {
    const server = await wsServer();
    const file = join(dir, 'legs.pcap');
    const sink = createWriteStream(file);
    await once(sink, 'open');
    const p = await scripted(server.port, `export function onMessage(m) { if (m.from === 'client') return 'token=[redacted]'; }`, { record: sink });
    const { ws, got } = await client(p.port);
    ws.send('token=abc123');
    await expect.poll(() => got).toEqual(['token=[redacted]']);
    ws.close(1000);
    await once(ws, 'close');
    await expect.poll(() => p.events.some((e) => e.type === 'end'), { timeout: 5000 }).toBe(true);
    await p.close();
    const events = await dissectEvents(file);
    const handshakes = ofType(events, 'handshake').sort((a, b) => a.conn - b.conn);
    expect(handshakes).toHaveLength(2);
    // The client leg: its request offers permessage-deflate; the target leg's does not.
    expect(handshakes[0]!.offeredExtensions.map((x) => x.name)).toEqual(['permessage-deflate']);
    expect(handshakes[1]!.offeredExtensions).toEqual([]);
    const texts = ofType(events, 'message').filter((e) => e.message.type === 'text').map((e) => `#${e.conn} ${e.message.direction} ${e.message.text}`);
    expect(texts).toEqual(expect.arrayContaining(['#1 client token=abc123', '#2 client token=[redacted]', '#2 server token=[redacted]', '#1 server token=[redacted]']));
    expect(texts).toHaveLength(4);
    const connections = ofType(events, 'connection');
    expect(connections[0]!.server.port).toBe(p.port);
    expect(connections[1]!.server.port).toBe(server.port);
    expect(ofType(events, 'alert').filter((e) => e.alert.severity === 'error')).toEqual([]);
  });
});

describe('--script with --write: early bytes', () => {
  it('a frame sent with the upgrade request, in one write, is recorded once on the client leg', async () => {
    const server = await wsServer({ echo: false });
    const file = join(dir, 'early.pcap');
    const sink = createWriteStream(file);
    await once(sink, 'open');
    const p = await scripted(server.port, `export function onMessage() {}`, { record: sink });
    const socket = connect(p.port, '127.0.0.1');
    await once(socket, 'connect');
    const request = 'GET /early HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
    socket.write(Buffer.concat([Buffer.from(request), encodeFrame({ opcode: Opcode.Text, payload: 'early', maskingKey: new Uint8Array(4) })]));
    await expect.poll(() => server.got).toEqual(['early']);
    socket.end();
    await expect.poll(() => p.events.some((e) => e.type === 'end'), { timeout: 5000 }).toBe(true);
    await p.close();
    const texts = ofType(await dissectEvents(file), 'message').map((e) => `#${e.conn} ${e.message.direction} ${e.message.type} ${e.message.text ?? ''}`);
    expect(texts.filter((t) => t.includes('early'))).toEqual(['#1 client text early', '#2 client text early']);
  });
});

describe('loadScript', () => {
  it('refuses, in one line, a file that is missing, broken, or has no hook', async () => {
    await expect(loadScript(join(dir, 'missing.mjs'))).rejects.toThrow(new ScriptError(`cannot load the script ${join(dir, 'missing.mjs')}: no such file`));
    await expect(loadScript(scriptFile('export function onMessage( {'))).rejects.toThrow(/^cannot load the script .*: /);
    await expect(loadScript(scriptFile('export const x = 1;'))).rejects.toThrow(/exports none of onMessage, onOpen, onClose$/);
    await expect(loadScript(scriptFile('export const onMessage = 3;'))).rejects.toThrow(/onMessage is not a function$/);
    const viaDefault = await loadScript(scriptFile('export default { onOpen() {} };'));
    expect(typeof viaDefault.onOpen).toBe('function');
  });
});

const PYTHON = hasTool('/usr/bin/python3', ['-c', 'import websockets']);

describe.skipIf(needs(PYTHON))("--script with Python's websockets as the client", () => {
  it('offers permessage-deflate, gets none, and reads the rewritten answers', async () => {
    const server = await wsServer();
    const p = await scripted(server.port, `export function onMessage(m) { if (m.from === 'server') return m.text.split('').reverse().join(''); }`);
    const output = await new Promise<string>((resolve, reject) =>
      execFile(
        '/usr/bin/python3',
        ['-c', `import asyncio, sys, websockets\nasync def main():\n    async with websockets.connect(sys.argv[1]) as ws:\n        print(ws.response_headers.get("Sec-WebSocket-Extensions"))\n        await ws.send("stressed")\n        print(await ws.recv())\nasyncio.run(main())\n`, `ws://127.0.0.1:${p.port}/py`],
        { timeout: 15_000 },
        (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
      ),
    );
    expect(output.trim().split('\n')).toEqual(['None', 'desserts']);
    expect(server.extensions).toEqual(['']);
  });
});

describe('the example scripts of the README (examples/wsproxy)', () => {
  const example = async (name: string, server: Server) => {
    const p = await proxyTo(server.port, { script: await loadScript(join('examples/wsproxy', name)) });
    cleanups.push(() => p.close());
    return p;
  };
  const SIO = '/socket.io/?EIO=4&transport=websocket';

  it('redact-token.mjs: the target never sees the token', async () => {
    const server = await wsServer();
    const p = await example('redact-token.mjs', server);
    const { ws, got } = await client(p.port);
    ws.send('{"token": "s3cr3t", "n": 1}');
    ws.send('GET ?token=abc&x=1');
    ws.send('nothing to hide');
    await expect.poll(() => got.length).toBe(3);
    expect(server.got).toEqual(['{"token": "[redacted]", "n": 1}', 'GET ?token=[redacted]&x=1', 'nothing to hide']);
  });

  it('socketio-rewrite.mjs: the server\'s "chat" events reach the client in capitals', async () => {
    const server = await wsServer();
    const p = await example('socketio-rewrite.mjs', server);
    const { ws, got } = await client(p.port, SIO);
    ws.send('40');
    ws.send('42["chat",{"text":"hello","from":"ann"}]');
    ws.send('42["typing","hello"]');
    await expect.poll(() => got).toEqual(['40', '42["chat",{"text":"HELLO","from":"ann"}]', '42["typing","hello"]']);
    expect(server.got[1]).toBe('42["chat",{"text":"hello","from":"ann"}]');
  });

  it('delay-event.mjs: "typing" events are held 500 ms, the rest are not', async () => {
    const server = await wsServer({ echo: false });
    const p = await example('delay-event.mjs', server);
    const { ws } = await client(p.port, SIO);
    ws.send('40');
    await expect.poll(() => server.got).toEqual(['40']);
    const start = performance.now();
    ws.send('42["typing"]');
    ws.send('42["chat","hi"]');
    await expect.poll(() => server.got.length, { timeout: 3000 }).toBe(3);
    expect(performance.now() - start).toBeGreaterThanOrEqual(490);
    expect(server.got).toEqual(['40', '42["typing"]', '42["chat","hi"]']);
  });

  it('tick.mjs: the client gets a tick every second that the server never sent', async () => {
    const server = await wsServer();
    const p = await example('tick.mjs', server);
    const { got } = await client(p.port);
    await expect.poll(() => got.length, { timeout: 3500 }).toBeGreaterThanOrEqual(2);
    for (const tick of got) expect(JSON.parse(tick)).toMatchObject({ type: 'tick' });
    expect(server.got).toEqual([]);
  });
});

describe('wsproxy --script (the command)', () => {
  it('prints a failing hook\'s stack once on stderr, the count when it stops, and relays the messages unchanged', async () => {
    const { main } = await import('../../src/cli/wsproxy.js');
    const { fakeIo, ndjson } = await import('../cli/io.js');
    const server = await wsServer();
    const io = fakeIo();
    const controller = new AbortController();
    let listening!: (port: number) => void;
    const port = new Promise<number>((resolve) => (listening = resolve));
    const path = scriptFile(`export function onMessage(m) { if (m.from === 'client') JSON.parse(m.text); }`);
    const exit = main(['node', 'wsproxy', '-l', '0', '-t', String(server.port), '--script', path, '--json'], io, { signal: controller.signal, onListening: (a) => listening(a.port) });
    const { ws, got } = await client(await port);
    ws.send('not json');
    ws.send('nor this');
    await expect.poll(() => got).toEqual(['not json', 'nor this']);
    ws.close();
    await once(ws, 'close');
    controller.abort();
    expect(await exit).toBe(0);
    const stderr = io.stderr.text;
    expect(stderr).toContain(`wsproxy: script: ${path}`);
    expect(stderr.match(/the script's onMessage failed on #1/g)).toHaveLength(1);
    expect(stderr).toMatch(/SyntaxError: Unexpected token[^\n]*\n\s+at JSON\.parse/);
    expect(stderr).toContain("wsproxy: the script's onMessage failed 2 times in all");
    const lines = ndjson(io.stdout.text);
    expect(lines.filter((l) => l.type === 'notice' && l.code === 'proxy.script-error')).toHaveLength(1);
    expect(lines.filter((l) => l.type === 'message' && l.from === 'client').map((l) => l.text)).toEqual(['not json', 'nor this', undefined]);
  });
});
