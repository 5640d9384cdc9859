/**
 * Headless Chromium through an intercepting proxy, to a `ws` server with and without
 * permessage-deflate (Chromium offers it; the server decides). The proxy re-frames what it
 * relays (--fragment) or rewrites it (--script, which negotiates permessage-deflate away):
 * Chromium must accept every frame the proxy made (its page reports what it got and how the
 * connection closed), and the server must get the client's traffic as the proxy rewrote it.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type RawData } from 'ws';
import { loadScript } from '../../src/proxy/intercept/script.js';
import type { ProxyOptions } from '../../src/proxy/index.js';
import { HAS_CHROMIUM, openPage } from './chromium.js';
import { closeServer, needs, ofType, proxyTo, type Proxied } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'wsproxy-chromium-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** What the page sends, in order: texts (one with characters of 2, 3 and 4 bytes), and bytes 0..99. */
const SENDS: (string | number[])[] = ['hello from chromium', 'chromium '.repeat(120), 'héllo wörld — ✓ 🙂', Array.from({ length: 100 }, (_, i) => i)];
const hex = (bytes: number[]) => Buffer.from(bytes).toString('hex');
/** A message as both ends write it down: its text, or `binary:` and its bytes in hex. */
const shown = (sent: string | number[]) => (typeof sent === 'string' ? sent : `binary:${hex(sent)}`);

interface PageResult {
  got: string[];
  code: number;
  reason: string;
  wasClean: boolean;
  extensions: string;
}

/**
 * The page: opens a WebSocket to the proxy, sends SENDS, waits for `expect` messages, closes
 * with 1000 and reports what it got. Chromium fails a connection that breaks the RFC (a masked
 * server frame, RSV1 on a continuation, bad UTF-8 …): then the close is 1006 and not clean.
 */
function pageScript(url: string, expected: number): string {
  return `
const got = [];
const ws = new WebSocket(${JSON.stringify(url)});
ws.binaryType = 'arraybuffer';
const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
ws.onopen = () => { for (const s of ${JSON.stringify(SENDS)}) ws.send(typeof s === 'string' ? s : new Uint8Array(s)); };
ws.onmessage = (e) => {
  got.push(typeof e.data === 'string' ? e.data : 'binary:' + hex(e.data));
  if (got.length === ${expected}) ws.close(1000, 'page done');
};
ws.onclose = (e) => report({ got, code: e.code, reason: e.reason, wasClean: e.wasClean, extensions: ws.extensions });
setTimeout(() => ws.close(4999, 'page gave up'), 10000);
`;
}

interface Server {
  port: number;
  got: string[];
  closes: number[];
  extensions: string[];
}

/** A ws server that echoes each message and writes down what it received. */
async function echoWs(deflate: boolean): Promise<Server> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: deflate ? { threshold: 0 } : false });
  await once(wss, 'listening');
  const server: Server = { port: (wss.address() as { port: number }).port, got: [], closes: [], extensions: [] };
  wss.on('connection', (ws) => {
    server.extensions.push(ws.extensions);
    ws.on('message', (data: RawData, isBinary) => {
      server.got.push(isBinary ? `binary:${(data as Buffer).toString('hex')}` : data.toString());
      ws.send(data as Buffer, { binary: isBinary });
    });
    ws.on('close', (code) => server.closes.push(code));
  });
  cleanups.push(async () => {
    for (const c of wss.clients) c.terminate();
    await closeServer(wss);
  });
  return server;
}

async function proxied(target: number, options: Partial<ProxyOptions>): Promise<Proxied> {
  const p = await proxyTo(target, options);
  cleanups.push(() => p.close());
  return p;
}

async function ended(p: Proxied): Promise<void> {
  await expect.poll(() => p.events.some((e) => e.type === 'end'), { timeout: 8000 }).toBe(true);
}

/** Every frame the proxy sent obeys what it re-framed: masking by direction, RSV1 on a first frame only, N-byte pieces. */
function expectReframed(p: Proxied, fragment: number, compressed: boolean): void {
  const frames = ofType(p.events, 'frame').map((e) => e.frame);
  const client = frames.filter((f) => f.direction === 'client');
  expect(client.every((f) => f.masked)).toBe(true);
  expect(new Set(client.map((f) => Buffer.from(f.maskingKey!).toString('hex'))).size).toBe(client.length);
  expect(frames.filter((f) => f.direction === 'server').every((f) => !f.masked)).toBe(true);
  expect(frames.filter((f) => f.opcode === 0).every((f) => !f.rsv1)).toBe(true);
  const data = ofType(p.events, 'message').filter((e) => e.message.type === 'text' || e.message.type === 'binary');
  for (const { message } of data) {
    expect(message.fragments).toBe(Math.max(1, Math.ceil(message.wireLength / fragment)));
    expect(message.compressed).toBe(compressed);
  }
  // The long text is cut into several frames either way.
  expect(data.filter((e) => e.message.fragments > 1).length).toBeGreaterThanOrEqual(2);
  expect(ofType(p.events, 'alert').map((e) => e.alert.code)).toEqual([]);
}

// Each test starts a Chromium (a few seconds on a loaded machine); the page gives up after 10 s.
describe.skipIf(needs(HAS_CHROMIUM))('headless Chromium through an intercepting proxy', { timeout: 60_000 }, () => {
  it.each([true, false])('--fragment 7 (server permessage-deflate %s): Chromium and the server both take the re-framed messages whole', async (deflate) => {
    const server = await echoWs(deflate);
    const p = await proxied(server.port, { faults: { fragment: 7 } });
    const page = await openPage<PageResult>(pageScript(`ws://127.0.0.1:${p.port}/lab`, SENDS.length));
    expect(page).toMatchObject({ got: SENDS.map(shown), code: 1000, wasClean: true });
    expect(page.extensions).toMatch(deflate ? /^permessage-deflate/ : /^$/);
    expect(server.got).toEqual(SENDS.map(shown));
    await expect.poll(() => server.closes).toEqual([1000]);
    await ended(p);
    expectReframed(p, 7, deflate);
  });

  it.each([true, false])('--script rewriting and injecting, with --fragment 5 (server permessage-deflate %s): each side gets the rewritten traffic', async (deflate) => {
    const server = await echoWs(deflate);
    const path = join(dir, `rewrite-${deflate}.mjs`);
    writeFileSync(
      path,
      `export function onMessage(m, ctx) {
  if (m.from === 'client' && m.type === 'binary') return Buffer.from(m.data).reverse();
  if (m.from === 'client') {
    if (m.text === 'hello from chromium') ctx.send('server', 'injected for the server');
    return m.text.toUpperCase();
  }
  if (m.type === 'text') return '<' + m.text + '>';
}
`,
    );
    const p = await proxied(server.port, { script: await loadScript(path), faults: { fragment: 5 } });
    // The page's four messages come back, and the echo of the one the proxy injected.
    const page = await openPage<PageResult>(pageScript(`ws://127.0.0.1:${p.port}/lab`, SENDS.length + 1));
    const rewritten = SENDS.map((s) => (typeof s === 'string' ? s.toUpperCase() : `binary:${hex([...s].reverse())}`));
    // ctx.send goes out at once, ahead of the message whose hook sent it (still in the hook's hands).
    expect(server.got).toEqual(['injected for the server', ...rewritten]);
    const echoed = server.got.map((g) => (g.startsWith('binary:') ? g : `<${g}>`));
    expect(page).toMatchObject({ got: echoed, code: 1000, wasClean: true, extensions: '' });
    // Chromium offered permessage-deflate; the proxy took the offer out, so nothing was negotiated.
    expect(server.extensions).toEqual(['']);
    const [handshake] = ofType(p.events, 'handshake');
    expect(handshake!.offeredExtensions).toEqual([]);
    await ended(p);
    expectReframed(p, 5, false);
  });

  it('a pass-through --script with --close-after 6:4002: Chromium takes the proxy\'s own Close as a clean one', async () => {
    const server = await echoWs(true);
    const path = join(dir, 'pass-through.mjs');
    writeFileSync(path, 'export function onMessage() {}\n');
    const p = await proxied(server.port, { script: await loadScript(path), faults: { closeAfter: { messages: 6, code: 4002 } } });
    const page = await openPage<PageResult>(pageScript(`ws://127.0.0.1:${p.port}/lab`, SENDS.length));
    expect(page).toMatchObject({ code: 4002, wasClean: true, extensions: '' });
    await expect.poll(() => server.closes).toEqual([4002]);
    // Six messages crossed, in whatever interleaving: the page's first ones to the server, their echoes back.
    expect(SENDS.map(shown).slice(0, server.got.length)).toEqual(server.got);
    expect(SENDS.map(shown).slice(0, page.got.length)).toEqual(page.got);
    expect(server.got.length + page.got.length).toBe(6);
    await ended(p);
    expect(ofType(p.events, 'notice').filter((e) => e.code === 'proxy.closed')[0]!.message).toBe('#1: the proxy sent Close 4002 to both sides after 6 message(s) (--close-after).');
    // Unchanged, each went on as the one frame it came as; uncompressed, the offer having been withheld.
    const data = ofType(p.events, 'message').filter((e) => e.message.type === 'text' || e.message.type === 'binary');
    expect(data).toHaveLength(6);
    for (const { message } of data) expect(message).toMatchObject({ fragments: 1, compressed: false });
  });
});
