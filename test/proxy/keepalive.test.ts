/**
 * HTTP/1.1 keep-alive through wsproxy, with real peers: node:http's keep-alive Agent GETs a
 * page and then `ws` upgrades on the same TCP connection; curl fetches two URLs on one
 * connection. Every request must be seen, live and in the --write capture, and the upgrade
 * decoded wherever it comes.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { main as wsdump } from '../../src/cli/wsdump.js';
import { main, type WsproxyControl } from '../../src/cli/wsproxy.js';
import type { HostPort } from '../../src/proxy/index.js';
import { fakeIo, ndjson } from '../cli/io.js';
import { closeServer, hasTool, listen, needs } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A node:http server answering /page and /a, /b, with a ws echo server on the same port. */
async function pageAndSocket(): Promise<number> {
  const server = http.createServer((req, res) => {
    const body = `you asked for ${req.url}\n`;
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (data) => ws.send(`echo ${String(data)}`)));
  const port = await listen(server);
  cleanups.push(async () => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    server.closeAllConnections();
    await closeServer(server);
  });
  return port;
}

async function wsproxy(args: string[]) {
  const io = fakeIo();
  const controller = new AbortController();
  let listening!: (address: HostPort) => void;
  const address = new Promise<HostPort>((resolve) => (listening = resolve));
  const control: WsproxyControl = { signal: controller.signal, onListening: listening };
  const exit = main(['node', 'wsproxy', ...args], io, control);
  cleanups.push(async () => {
    controller.abort();
    await exit;
  });
  const { port } = await address;
  return { io, port, stop: () => (controller.abort(), exit) };
}

/** GET /page, then the upgrade, on one keep-alive connection; resolves with both local ports. */
async function getThenUpgrade(port: number): Promise<[number, number]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const getPort = await new Promise<number>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/page', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(req.socket!.localPort!));
    });
    req.on('error', reject);
  });
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`, { agent });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const wsPort = (ws as unknown as { _socket: { localPort: number } })._socket.localPort;
  const echoed = new Promise((resolve) => ws.once('message', resolve));
  ws.send('after the page');
  await echoed;
  ws.close(1000, 'bye');
  await new Promise((resolve) => ws.once('close', resolve));
  agent.destroy();
  return [getPort, wsPort];
}

const CURL = hasTool('curl');
const TSHARK = hasTool('tshark');

describe('wsproxy and keep-alive connections', () => {
  it('sees the GET and the upgrade after it on one connection, live and in its --write capture', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsproxy-keepalive-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'session.pcap');
    const proxy = await wsproxy(['--listen', '0', '--target', String(await pageAndSocket()), '--json', '--write', file]);
    const [getPort, wsPort] = await getThenUpgrade(proxy.port);
    expect(wsPort).toBe(getPort);
    await expect.poll(() => ndjson(proxy.io.stdout.text).some((e) => e.type === 'end'), { timeout: 5000 }).toBe(true);
    expect(await proxy.stop()).toBe(0);

    const live = ndjson(proxy.io.stdout.text);
    expect(live.filter((e) => e.type === 'other').map((e) => [e.kind, e.requestLine, e.status])).toEqual([['http', 'GET /page HTTP/1.1', 200]]);
    expect(live.find((e) => e.type === 'handshake')).toMatchObject({ path: '/chat', upgraded: true, acceptValid: true });
    expect(live.filter((e) => e.type === 'message' && e.opcodeName === 'text').map((e) => e.text)).toEqual(['after the page', 'echo after the page']);
    expect(live.find((e) => e.type === 'end')).toMatchObject({ kind: 'websocket', closeCodes: { client: [1000], server: [1000] } });

    const io = fakeIo();
    expect(await wsdump(['node', 'wsdump', '--json', file], io)).toBe(0);
    expect(ndjson(io.stdout.text)).toEqual(live);
    if (!needs(TSHARK)) {
      const server = (live.find((e) => e.type === 'connection')!.server as { port: number }).port;
      const frames = execFileSync('tshark', ['-r', file, '-d', `tcp.port==${server},http`, '-Y', 'websocket', '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' }).trim().split('\n').map(Number);
      expect(frames).toEqual(live.filter((e) => e.type === 'frame').map((e) => e.packet));
    }
  });

  it.skipIf(needs(CURL))('lists both requests of curl URL1 URL2', async () => {
    const proxy = await wsproxy(['--listen', '0', '--target', String(await pageAndSocket()), '--json']);
    const base = `http://127.0.0.1:${proxy.port}`;
    const { stdout } = await promisify(execFile)('curl', ['-s', '-o', '/dev/null', '-o', '/dev/null', '-w', '%{num_connects}\\n', `${base}/a`, `${base}/b`], { timeout: 10_000 });
    expect(stdout.trim().split('\n')).toEqual(['1', '0']); // the second URL reused the connection
    await expect.poll(() => ndjson(proxy.io.stdout.text).some((e) => e.type === 'end'), { timeout: 5000 }).toBe(true);
    expect(await proxy.stop()).toBe(0);
    const events = ndjson(proxy.io.stdout.text);
    expect(events.filter((e) => e.type === 'other').map((e) => [e.requestLine, e.status])).toEqual([
      ['GET /a HTTP/1.1', 200],
      ['GET /b HTTP/1.1', 200],
    ]);
    expect(events.filter((e) => e.type === 'connection')).toHaveLength(1);
  });
});
