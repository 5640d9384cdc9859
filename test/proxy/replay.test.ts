/**
 * wsproxy replay against real servers: a session recorded through the proxy (a `ws` client and
 * server, with and without permessage-deflate) replayed against the same server (exit 0, every
 * answer the same) and against one that changes an answer on purpose, leaves one out and adds
 * one (exit 2, each said); --fast, --conn, and unusable input.
 */
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { main } from '../../src/cli/wsproxy.js';
import { fakeIo } from '../cli/io.js';
import { closeServer, proxyTo } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'wsproxy-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A server that answers each message as `answer` says (a string, or null for no answer), and after "twice" sends one more. */
async function server(deflate: boolean, answer: (text: string) => string | null = (t) => t): Promise<{ port: number; got: string[]; protocols: string[]; extensions: string[] }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: deflate ? { threshold: 0 } : false, handleProtocols: (set) => [...set][0] ?? false });
  await once(wss, 'listening');
  const s = { port: (wss.address() as { port: number }).port, got: [] as string[], protocols: [] as string[], extensions: [] as string[] };
  wss.on('connection', (ws) => {
    s.protocols.push(ws.protocol);
    s.extensions.push(ws.extensions);
    ws.on('message', (data: RawData, isBinary) => {
      if (isBinary) return ws.send(data as Buffer, { binary: true });
      const text = data.toString();
      s.got.push(text);
      const a = answer(text);
      if (a !== null) ws.send(a);
    });
  });
  cleanups.push(async () => {
    for (const c of wss.clients) c.terminate();
    await closeServer(wss);
  });
  return s;
}

/** Records a session through the proxy into a pcap: three texts (50 ms apart) and a binary message. */
async function record(port: number, deflate: boolean, name: string): Promise<string> {
  const file = join(dir, name);
  const sink = createWriteStream(file);
  await once(sink, 'open');
  const p = await proxyTo(port, { record: sink });
  const ws = new WebSocket(`ws://127.0.0.1:${p.port}/api/v1?q=1`, 'chat.v2', { perMessageDeflate: deflate ? { threshold: 0 } : false });
  const got: unknown[] = [];
  ws.on('message', (d) => got.push(d));
  await once(ws, 'open');
  for (const text of ['hello', 'twice', 'bye']) {
    ws.send(text);
    await expect.poll(() => got.length).toBe(['hello', 'twice', 'bye'].indexOf(text) + 1);
    await new Promise((r) => setTimeout(r, 50));
  }
  ws.send(Buffer.from([1, 2, 3]), { binary: true });
  await expect.poll(() => got.length).toBe(4);
  ws.close(1000);
  await once(ws, 'close');
  await expect.poll(() => p.events.some((e) => e.type === 'end')).toBe(true);
  await p.close();
  return file;
}

async function replay(...args: string[]) {
  const io = fakeIo();
  const code = await main(['node', 'wsproxy', 'replay', ...args], io);
  return { code, out: io.stdout.text, err: io.stderr.text };
}

describe.each([false, true])('wsproxy replay (permessage-deflate %s)', (deflate) => {
  it('against the same server: every answer the same, exit 0; the path, subprotocol and extension as recorded', async () => {
    const s = await server(deflate);
    const file = await record(s.port, deflate, `same-${deflate}.pcap`);
    s.got.length = 0;
    const result = await replay(file, '--target', `ws://127.0.0.1:${s.port}`);
    expect(result.err).toBe('');
    expect(result.code).toBe(0);
    expect(result.out.split('\n')[0]).toBe(`replaying #1 /api/v1?q=1 of ${file} against ws://127.0.0.1:${s.port}: 4 client message(s), 4 recorded answer(s)`);
    expect(result.out).toContain('  = 1 text "hello"\n  = 2 text "twice"\n  = 3 text "bye"\n  = 4 binary 3 B 01 02 03\n');
    expect(result.out).toContain('same: 4 same, 0 changed, 0 missing, 0 new\n');
    expect(s.got).toEqual(['hello', 'twice', 'bye']);
    expect(s.protocols).toEqual(['chat.v2', 'chat.v2']);
    // Recorded with permessage-deflate: the replay offers it too, and compresses what it sends.
    expect(s.extensions[1]).toBe(deflate ? 'permessage-deflate' : '');
  });

  it('against a changed server: changed, missing and new answers, exit 2', async () => {
    const s = await server(deflate);
    const file = await record(s.port, deflate, `changed-${deflate}.pcap`);
    const changed = await server(deflate, (t) => (t === 'hello' ? 'HELLO!' : t === 'bye' ? null : t));
    const result = await replay(file, '--target', `ws://127.0.0.1:${changed.port}`, '--fast', '--wait', '0.5');
    expect(result.code).toBe(2);
    expect(result.out).toContain('  ~ 1 5 → 6 bytes, first difference at byte 0\n      recorded text "hello"\n      now      text "HELLO!"\n');
    expect(result.out).toContain('  = 2 text "twice"\n');
    // "bye" got no answer: the binary echo now comes third, and nothing fourth.
    expect(result.out).toContain('  ~ 3 was text, now binary\n');
    expect(result.out).toContain('  - 4 missing: recorded binary 3 B 01 02 03\n');
    expect(result.out).toContain('differs: 1 same, 2 changed, 1 missing, 0 new\n');
  });
});

describe('wsproxy replay, the rest', () => {
  it('a server that says more: the extra answer is new', async () => {
    const s = await server(false);
    const file = await record(s.port, false, 'more.pcap');
    const more = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false, handleProtocols: (set) => [...set][0] ?? false });
    await once(more, 'listening');
    more.on('connection', (ws) => ws.on('message', (d, isBinary) => (ws.send(d as Buffer, { binary: isBinary }), isBinary ? ws.send('and one more') : undefined)));
    cleanups.push(() => closeServer(more));
    const result = await replay(file, '-t', `127.0.0.1:${(more.address() as { port: number }).port}`, '--fast', '--wait', '0.5');
    expect(result.code).toBe(2);
    expect(result.out).toContain('  + 5 new: text "and one more"\n');
    expect(result.out).toContain('differs: 4 same, 0 changed, 0 missing, 1 new\n');
  });

  it('unusable input: one line, exit 1', async () => {
    const missing = await replay(join(dir, 'nothing.pcap'), '--target', 'ws://127.0.0.1:1');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^wsproxy replay: .*nothing\.pcap.*no such file\n$/);
    const plain = await replay('fixtures/real/ws-basic.pcap', '--target', 'ws://127.0.0.1:1', '--conn', '7');
    expect(plain).toMatchObject({ code: 1, err: 'wsproxy replay: fixtures/real/ws-basic.pcap has no connection #7\n' });
    const refused = await replay('fixtures/real/ws-basic.pcap', '--target', 'ws://127.0.0.1:1');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/refused the connection/);
  });
});
