/**
 * wsproxy --mode proxy with a real browser: headless Chromium, its proxy set to wsproxy, loads
 * a page from an HTTPS server under a name of its own (app.wsproxy.test); the page's script
 * opens wss:// to a `ws` server there, sends, and reports what it got back. Chromium trusts
 * wsproxy's CA through --ignore-certificate-errors-spki-list (the hash `wsproxy ca` prints; every
 * leaf carries the CA's key); wsproxy verifies the server's certificate with --ca.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { LeafMinter, loadOrCreateCa } from '../../src/ca/authority.js';
import { HostPatterns } from '../../src/proxy/forward/hosts.js';
import { eventToNdjson, startProxy } from '../../src/index.js';
import { HAS_CHROMIUM, inChromium } from './chromium.js';
import { closeServer, hasTool, listen, needs } from './helpers.js';

const HAVE = HAS_CHROMIUM && hasTool('openssl', ['version']);
const HOST = 'app.wsproxy.test';
const SENDS = ['hello from the page', 'second'];

const PAGE = `<!doctype html><meta charset="utf-8"><title>wsproxy</title><script>
const sends = ${JSON.stringify(SENDS)};
const got = [];
const ws = new WebSocket('wss://' + location.host + '/live');
ws.onopen = () => ws.send(sends[0]);
ws.onmessage = (e) => {
  got.push(e.data);
  if (got.length < sends.length) ws.send(sends[got.length]);
  else { ws.send('page got: ' + got.join(' | ')); ws.close(1000, 'page done'); }
};
</script>`;

/** The proxy's own DNS for the test name (the browser never resolves it: it asks the proxy). */
const lookup: LookupFunction = (hostname, options, callback) => {
  if (hostname !== HOST) return callback(Object.assign(new Error(`unexpected lookup of ${hostname}`), { code: 'ENOTFOUND' }), '', 4);
  if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
};

it.skipIf(needs(HAVE))('headless Chromium through wsproxy --mode proxy: the page\'s wss:// messages in the NDJSON, and the page sees the answers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsproxy-chromium-'));
  const profile = join(dir, 'profile');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', `/CN=${HOST}`, '-addext', `subjectAltName=DNS:${HOST}`], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'cert.pem'));
  const server = createServer({ cert, key: readFileSync(join(dir, 'key.pem')) }, (req, res) => {
    res.writeHead(req.url === '/' ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(req.url === '/' ? PAGE : '');
  });
  const wss = new WebSocketServer({ server });
  const serverGot: string[] = [];
  const done = new Promise<void>((resolve) => {
    wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        serverGot.push(data.toString());
        if (!data.toString().startsWith('page got: ')) ws.send(`echo: ${data.toString()}`);
      });
      ws.on('close', () => resolve());
    });
  });
  const port = await listen(server);
  const ca = loadOrCreateCa(join(dir, 'ca'));
  const ndjson: string[] = [];
  const proxy = await startProxy({
    forward: { allowHosts: new HostPatterns([HOST]), ignoreHosts: new HostPatterns([]), leaves: () => new LeafMinter(ca) },
    ca: [cert],
    lookup,
    onEvent: (event) => ndjson.push(eventToNdjson(event)),
  });
  try {
    await inChromium(
      [
        `--proxy-server=http://127.0.0.1:${proxy.address.port}`,
        `--host-resolver-rules=MAP ${HOST} 127.0.0.1`,
        `--ignore-certificate-errors-spki-list=${ca.spkiSha256}`,
        `https://${HOST}:${port}/`,
      ],
      done,
      40_000,
      'the page did not close its WebSocket',
    );
  } finally {
    await proxy.close({ grace: 500 });
    for (const client of wss.clients) client.terminate();
    wss.close();
    server.closeAllConnections();
    await closeServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
  // The page saw the server's answers (it says so in its last message).
  expect(serverGot).toEqual([...SENDS, `page got: ${SENDS.map((s) => `echo: ${s}`).join(' | ')}`]);
  const events = ndjson.map((line) => JSON.parse(line) as { type: string; conn: number; proxy?: { tls: string; host: string }; from?: string; text?: string; opcode?: number });
  const wsConn = events.find((e) => e.type === 'handshake')!.conn;
  const connection = events.find((e) => e.type === 'connection' && e.conn === wsConn)!;
  expect(connection.proxy).toMatchObject({ host: HOST, port, request: 'CONNECT', tls: 'intercepted', sni: HOST });
  const texts = events.filter((e) => e.type === 'message' && e.conn === wsConn && e.text !== undefined).map((e) => `${e.from}:${e.text}`);
  expect(texts).toEqual([
    `client:${SENDS[0]}`, `server:echo: ${SENDS[0]}`, `client:${SENDS[1]}`, `server:echo: ${SENDS[1]}`,
    `client:page got: echo: ${SENDS[0]} | echo: ${SENDS[1]}`,
  ]);
  // The page itself came through the proxy too, decrypted.
  expect(events.some((e) => e.type === 'http' && (e as { path?: string }).path === '/')).toBe(true);
}, 90_000);
