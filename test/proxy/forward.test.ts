/**
 * wsproxy --mode proxy (src/proxy/forward, src/ca): an explicit HTTP proxy. Real clients: the
 * `ws` package through an agent that opens a CONNECT tunnel, as HTTPS_PROXY clients do; curl -x;
 * Node's tls with and without trust in our CA. Real servers: `ws` over http and https.
 */
import { execFile, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { Agent as HttpAgent, createServer as createHttpServer, type ClientRequestArgs, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { LeafMinter, loadOrCreateCa, type LoadedCa } from '../../src/ca/authority.js';
import type { DissectEvent } from '../../src/engine/events.js';
import { HostPatterns } from '../../src/proxy/forward/hosts.js';
import { originFormHead, parseProxyRequest } from '../../src/proxy/forward/request-head.js';
import { startProxy, type ProxyOptions, type RunningProxy } from '../../src/proxy/index.js';
import { dissectEvents } from '../helpers/dissect.js';
import { closeServer, hasTool, listen, needs, ofType, testCertificate } from './helpers.js';

const CURL = hasTool('curl');

/** Runs a command without blocking the event loop (the proxy under test is in this process); its stdout. */
function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve) => execFile(command, args, { encoding: 'utf8', timeout: 15_000 }, (_error, stdout) => resolve(stdout)));
}
const OPENSSL = hasTool('openssl', ['version']);

/** Opens a CONNECT tunnel through the proxy; resolves with the socket once the proxy said 200 (or rejects with its status line). */
function tunnel(proxyPort: number, authority: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(proxyPort, '127.0.0.1');
    let head = Buffer.alloc(0);
    socket.on('error', reject);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const status = head.subarray(0, head.indexOf('\r\n')).toString();
      if (!/^HTTP\/1\.1 200 /.test(status)) {
        socket.destroy();
        reject(new Error(status));
        return;
      }
      if (end + 4 < head.length) socket.unshift(head.subarray(end + 4));
      socket.off('error', reject);
      resolve(socket);
    };
    socket.on('data', onData);
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  });
}

/** An http.Agent that reaches every origin through a CONNECT tunnel (with `tls`, TLS inside it), like an HTTPS_PROXY client. */
class ConnectAgent extends HttpAgent {
  constructor(
    private readonly proxyPort: number,
    private readonly tls: { ca?: Buffer | string; servername?: string; rejectUnauthorized?: boolean } | null,
  ) {
    super({ keepAlive: false });
    // What https.request (ws's wss://) checks an agent against; the TLS is done in createConnection.
    if (tls !== null) (this as unknown as { protocol: string }).protocol = 'https:';
  }

  override createConnection(options: ClientRequestArgs, callback?: (error: Error | null, socket: Socket) => void): Socket {
    tunnel(this.proxyPort, `${options.host}:${options.port}`).then(
      (socket) => {
        if (this.tls === null) return callback!(null, socket);
        const secure = tlsConnect({ socket, servername: this.tls.servername ?? String(options.host), ...(this.tls.ca ? { ca: this.tls.ca } : {}), rejectUnauthorized: this.tls.rejectUnauthorized ?? true, ALPNProtocols: ['http/1.1'] });
        secure.once('secureConnect', () => callback!(null, secure));
        secure.once('error', (error) => callback!(error, secure));
      },
      (error: Error) => callback!(error, undefined as unknown as Socket),
    );
    return undefined as unknown as Socket;
  }
}

/** A `ws` server that answers each message with "echo: " + it; over https when given a certificate. */
async function echoWs(cert?: { cert: Buffer | string; key: Buffer | string }): Promise<{ port: number; server: HttpServer; wss: WebSocketServer; got: string[] }> {
  const server = cert ? createHttpsServer(cert) : createHttpServer((_, res) => res.end('hello over plain http\n'));
  const wss = new WebSocketServer({ server });
  const got: string[] = [];
  wss.on('connection', (ws) => ws.on('message', (data) => {
    got.push(data.toString());
    ws.send(`echo: ${data.toString()}`);
  }));
  return { port: await listen(server as HttpServer), server: server as HttpServer, wss, got };
}

async function closeWs(s: { server: HttpServer; wss: WebSocketServer }): Promise<void> {
  for (const client of s.wss.clients) client.terminate();
  s.wss.close();
  s.server.closeAllConnections?.();
  await closeServer(s.server);
}

/** Opens a ws client, sends `texts` one after another (each after the previous answer), closes; resolves with the answers. */
function talk(url: string, texts: string[], options: ConstructorParameters<typeof WebSocket>[2] = {}, pause = 0): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const answers: string[] = [];
    const timer = setTimeout(() => reject(new Error(`no answers in time (${answers.length})`)), 8000);
    ws.on('open', () => ws.send(texts[0]!));
    ws.on('message', (data) => {
      answers.push(data.toString());
      if (answers.length < texts.length) setTimeout(() => ws.send(texts[answers.length]!), pause);
      else ws.close(1000, 'done');
    });
    ws.on('close', () => {
      clearTimeout(timer);
      resolve(answers);
    });
    ws.on('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`HTTP ${res.statusCode}`));
    });
    ws.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

let caDir: string;
let ca: LoadedCa;

async function forwardProxy(options: Partial<ProxyOptions> & { allow?: string[]; ignore?: string[] } = {}): Promise<{ proxy: RunningProxy; events: DissectEvent[]; port: number; close(): Promise<void> }> {
  const events: DissectEvent[] = [];
  const { allow, ignore, ...rest } = options;
  const proxy = await startProxy({
    forward: { allowHosts: allow ? new HostPatterns(allow) : null, ignoreHosts: new HostPatterns(ignore ?? []), leaves: () => new LeafMinter(ca) },
    onEvent: (e) => events.push(e),
    connectTimeout: 5000,
    ...rest,
  });
  return { proxy, events, port: proxy.address.port, close: () => proxy.close({ grace: 500 }) };
}

const messages = (events: DissectEvent[]) => ofType(events, 'message').map((m) => `${m.message.direction}:${m.message.text ?? ''}`);
const notices = (events: DissectEvent[], code: string) => ofType(events, 'notice').filter((n) => n.code === code);

beforeAll(() => {
  caDir = join(mkdtempSync(join(tmpdir(), 'wsproxy-ca-test-')), 'ca');
  ca = loadOrCreateCa(caDir);
});

describe('the local CA', () => {
  it('is made on first use: directory 0700, key 0600, read again (not remade) the second time', () => {
    expect(ca.created).toBe(true);
    expect(statSync(caDir).mode & 0o777).toBe(0o700);
    expect(statSync(ca.paths.key).mode & 0o777).toBe(0o600);
    const again = loadOrCreateCa(caDir);
    expect(again.created).toBe(false);
    expect(again.certPem).toBe(ca.certPem);
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
  });

  it('mints a leaf per host, signed by the CA, with the name in subjectAltName; cached', () => {
    const minter = new LeafMinter(ca);
    const root = new X509Certificate(ca.certPem);
    for (const [name, san] of [['example.org', 'DNS:example.org'], ['127.0.0.1', 'IP Address:127.0.0.1']] as const) {
      const leaf = new X509Certificate(minter.mint(name));
      expect(leaf.subjectAltName).toBe(san);
      expect(leaf.checkIssued(root)).toBe(true);
      expect(leaf.verify(root.publicKey)).toBe(true);
      expect(leaf.ca).toBe(false);
    }
    expect(minter.contextFor('a.test')).toBe(minter.contextFor('A.test'));
    expect(minter.minted).toBe(1);
  });
});

describe('request heads', () => {
  it('CONNECT authority-form and absolute-form; origin-form upstream, proxy fields dropped, Connection: close unless upgrading', () => {
    expect(parseProxyRequest(Buffer.from('CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n'))).toMatchObject({ host: '::1', port: 443, scheme: 'connect' });
    const get = parseProxyRequest(Buffer.from('GET http://Example.org/a?b=1 HTTP/1.1\r\nHost: example.org\r\nProxy-Connection: keep-alive\r\nConnection: keep-alive\r\nAccept:  */*\r\n\r\n'));
    expect(get).toMatchObject({ host: 'example.org', port: 80, scheme: 'http' });
    expect(originFormHead(get).toString()).toBe('GET /a?b=1 HTTP/1.1\r\nHost: example.org\r\nAccept:  */*\r\nConnection: close\r\n\r\n');
    const ws = parseProxyRequest(Buffer.from('GET ws://h:9/chat HTTP/1.1\r\nHost: h:9\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'));
    expect(originFormHead(ws).toString()).toBe('GET /chat HTTP/1.1\r\nHost: h:9\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    expect(() => parseProxyRequest(Buffer.from('GET /relative HTTP/1.1\r\n\r\n'))).toThrow(/absolute URI/);
    expect(() => parseProxyRequest(Buffer.from('CONNECT host HTTP/1.1\r\n\r\n'))).toThrow(/host:port/);
    expect(() => parseProxyRequest(Buffer.from('CONNECT a\x1bb:1 HTTP/1.1\r\n\r\n'))).toThrow(/host:port/);
  });

  it('host patterns: exact, *.domain (not the domain itself), :port, *', () => {
    const p = new HostPatterns(['example.org,*.test.net', 'db.local:5432']);
    expect(p.matches('EXAMPLE.org', 443)).toBe(true);
    expect(p.matches('a.b.test.net', 1)).toBe(true);
    expect(p.matches('test.net', 1)).toBe(false);
    expect(p.matches('db.local', 5432)).toBe(true);
    expect(p.matches('db.local', 80)).toBe(false);
    expect(new HostPatterns(['*']).matches('anything', 1)).toBe(true);
    expect(() => new HostPatterns(['a b'])).toThrow();
  });
});

describe('wsproxy --mode proxy, without opening TLS', () => {
  let target: Awaited<ReturnType<typeof echoWs>>;
  beforeAll(async () => {
    target = await echoWs();
  });
  afterAll(() => closeWs(target));

  it('a ws client through CONNECT (an HTTPS_PROXY-style agent): relayed, and dissected with the real host and port', async () => {
    const p = await forwardProxy();
    try {
      const answers = await talk(`ws://127.0.0.1:${target.port}/chat`, ['one', 'two'], { agent: new ConnectAgent(p.port, null) });
      expect(answers).toEqual(['echo: one', 'echo: two']);
    } finally {
      await p.close();
    }
    const [connection] = ofType(p.events, 'connection');
    expect(connection!.server).toEqual({ ip: '127.0.0.1', port: target.port });
    expect(connection!.proxy).toEqual({ host: '127.0.0.1', port: target.port, request: 'CONNECT', tls: null });
    expect(ofType(p.events, 'handshake')[0]!.request.target).toBe('/chat');
    expect(messages(p.events)).toEqual(['client:one', 'server:echo: one', 'client:two', 'server:echo: two', 'client:', 'server:']);
  });

  it('an absolute-form ws:// upgrade goes on in origin-form', async () => {
    const p = await forwardProxy();
    try {
      const socket = netConnect(p.port, '127.0.0.1');
      const got = new Promise<string>((resolve) => {
        let text = '';
        socket.on('data', (c) => {
          text += c.toString('latin1');
          if (text.includes('echo: hi')) resolve(text);
        });
      });
      socket.write(`GET ws://127.0.0.1:${target.port}/abs HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\nProxy-Connection: keep-alive\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
      // A masked text frame "hi" (RFC 6455 §5.2), mask 0x01020304.
      socket.write(Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x68 ^ 1, 0x69 ^ 2]));
      const text = await got;
      expect(text).toMatch(/^HTTP\/1\.1 101 /);
      socket.destroy();
    } finally {
      await p.close();
    }
    const [h] = ofType(p.events, 'handshake');
    expect(h!.request.target).toBe('/abs');
    expect(h!.request.headers.some((x) => /^proxy-/i.test(x.name))).toBe(false);
    expect(ofType(p.events, 'connection')[0]!.proxy?.request).toBe('absolute-form');
    expect(messages(p.events).slice(0, 2)).toEqual(['client:hi', 'server:echo: hi']);
  });

  it.skipIf(needs(CURL))('plain HTTP through the proxy (curl -x), and a 502 for a host that refuses', async () => {
    const p = await forwardProxy();
    try {
      // The proxy runs in this process: curl runs asynchronously.
      const ok = await run('curl', ['-sS', '--max-time', '10', '-x', `http://127.0.0.1:${p.port}`, `http://127.0.0.1:${target.port}/page`]);
      expect(ok).toBe('hello over plain http\n');
      const down = await run('curl', ['-sS', '--max-time', '10', '-o', '/dev/null', '-w', '%{http_code}', '-x', `http://127.0.0.1:${p.port}`, 'http://127.0.0.1:1/']);
      expect(down).toBe('502');
    } finally {
      await p.close();
    }
    expect(ofType(p.events, 'http')[0]).toMatchObject({ method: 'GET', path: '/page', status: 200 });
    expect(notices(p.events, 'proxy.target-failed')[0]!.message).toMatch(/127\.0\.0\.1:1 refused the connection.*answered 502/);
  });

  it('a CONNECT to an unreachable host is answered 502; one outside --allow-hosts 403', async () => {
    const p = await forwardProxy({ allow: ['127.0.0.1'] });
    try {
      await expect(tunnel(p.port, '127.0.0.1:1')).rejects.toThrow(/^HTTP\/1\.1 502 /);
      await expect(tunnel(p.port, 'localhost:1')).rejects.toThrow(/^HTTP\/1\.1 403 /);
    } finally {
      await p.close();
    }
    expect(notices(p.events, 'proxy.host-refused')[0]!.message).toMatch(/localhost:1 refused: not in --allow-hosts/);
  });

  it('refuses to start as an open relay: beyond loopback without --allow-hosts', () => {
    const r = spawnSync(process.execPath, ['bin/wsproxy.js', '--mode', 'proxy', '-l', '0.0.0.0:0', '--ca-dir', caDir], { encoding: 'utf8', timeout: 15_000 });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^wsproxy: listening on 0\.0\.0\.0 as a proxy for any host would be an open relay: name the hosts it may reach with --allow-hosts$/);
  });
});

describe.skipIf(needs(OPENSSL))('wsproxy --mode proxy, opening TLS inside CONNECT', () => {
  let real: { cert: Buffer; key: Buffer };
  let target: Awaited<ReturnType<typeof echoWs>>;
  beforeAll(async () => {
    real = testCertificate();
    target = await echoWs(real);
  });
  afterAll(() => closeWs(target));

  it('a wss client trusting our CA: messages decrypted and dissected, both TLS legs in the key log, scripts apply', async () => {
    const keylog: string[] = [];
    const p = await forwardProxy({ ca: [real.cert], onKeylog: (line) => keylog.push(line.toString()), script: { path: 'shout.mjs', onMessage: (m) => (m.text === 'shout' ? 'SHOUT' : undefined) } });
    try {
      const answers = await talk(`wss://localhost:${target.port}/secure`, ['hello', 'shout'], { agent: new ConnectAgent(p.port, { ca: ca.certPem }) as never });
      expect(answers).toEqual(['echo: hello', 'echo: SHOUT']);
    } finally {
      await p.close();
    }
    expect(target.got.slice(-2)).toEqual(['hello', 'SHOUT']);
    const [connection] = ofType(p.events, 'connection');
    expect(connection!.proxy).toEqual({ host: 'localhost', port: target.port, request: 'CONNECT', tls: 'intercepted', sni: 'localhost' });
    expect(ofType(p.events, 'handshake')[0]!.request.target).toBe('/secure');
    expect(messages(p.events).slice(0, 4)).toEqual(['client:hello', 'server:echo: hello', 'client:SHOUT', 'server:echo: SHOUT']);
    // Two TLS sessions (towards the client, towards the target): two client randoms.
    const randoms = new Set(keylog.map((l) => l.split(' ')[1]));
    expect(randoms.size).toBe(2);
  });

  it('a built-in fault applies inside an intercepted tunnel: --fragment 4 re-cuts each message, both peers take it whole', async () => {
    const p = await forwardProxy({ ca: [real.cert], faults: { fragment: 4 } });
    const long = 'a message long enough to be cut into several frames';
    try {
      const answers = await talk(`wss://localhost:${target.port}/cut`, ['hi', long], { agent: new ConnectAgent(p.port, { ca: ca.certPem }) as never });
      expect(answers).toEqual(['echo: hi', `echo: ${long}`]);
    } finally {
      await p.close();
    }
    expect(target.got.slice(-2)).toEqual(['hi', long]);
    expect(ofType(p.events, 'connection')[0]!.proxy).toMatchObject({ request: 'CONNECT', tls: 'intercepted' });
    const data = ofType(p.events, 'message').filter((e) => e.message.type === 'text');
    expect(data.map((e) => e.message.text)).toEqual(['hi', 'echo: hi', long, `echo: ${long}`]);
    for (const { message } of data) expect(message.fragments).toBe(Math.ceil(message.wireLength / 4));
    const client = ofType(p.events, 'frame').filter((e) => e.frame.direction === 'client' && e.frame.opcode !== 8);
    expect(client.every((e) => e.frame.masked)).toBe(true);
    expect(notices(p.events, 'proxy.fragmented').length).toBeGreaterThanOrEqual(4);
  });

  it('--write records an intercepted tunnel as plaintext TCP to the real host and port', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'wsproxy-forward-write-')), 'proxied.pcap');
    const sink = createWriteStream(file);
    await once(sink, 'open');
    const p = await forwardProxy({ ca: [real.cert], record: sink });
    try {
      expect(await talk(`wss://localhost:${target.port}/recorded`, ['on the record'], { agent: new ConnectAgent(p.port, { ca: ca.certPem }) as never })).toEqual(['echo: on the record']);
      await expect.poll(() => p.events.some((e) => e.type === 'end'), { timeout: 5000 }).toBe(true);
    } finally {
      await p.close();
    }
    const events = await dissectEvents(file);
    expect(ofType(events, 'connection')[0]!.server).toEqual({ ip: '127.0.0.1', port: target.port });
    expect(ofType(events, 'handshake')[0]!.request.target).toBe('/recorded');
    expect(messages(events).slice(0, 2)).toEqual(['client:on the record', 'server:echo: on the record']);
  });

  it('a target whose certificate is not trusted: reported, and the client gets a 502 inside the tunnel', async () => {
    const p = await forwardProxy();
    try {
      await expect(talk(`wss://localhost:${target.port}/`, ['x'], { agent: new ConnectAgent(p.port, { ca: ca.certPem }) as never })).rejects.toThrow(/HTTP 502/);
    } finally {
      await p.close();
    }
    expect(notices(p.events, 'proxy.target-failed')[0]!.message).toMatch(/the target's TLS certificate was refused: self[- ]signed certificate.*answered 502 inside the tunnel/);
    expect(target.got).not.toContain('x');
  });

  it('a client that refuses our certificate is reported once per host; with --ignore-hosts it is passed through untouched', async () => {
    const p = await forwardProxy({ ca: [real.cert] });
    try {
      // A "pinned" client: it trusts only the target's own certificate.
      for (let i = 0; i < 2; i++) await expect(talk(`wss://localhost:${target.port}/`, ['x'], { agent: new ConnectAgent(p.port, { ca: real.cert }) as never })).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    } finally {
      await p.close();
    }
    const refused = notices(p.events, 'proxy.client-refused-cert');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.message).toMatch(/for localhost .*--ignore-hosts localhost passes it through/);

    // --handshake-timeout waits for an HTTP header block, which a tunnel passed through never shows the proxy.
    const q = await forwardProxy({ ignore: ['localhost'], handshakeTimeout: 300 });
    try {
      const answers = await talk(`wss://localhost:${target.port}/pinned`, ['still works', 'after a pause'], { agent: new ConnectAgent(q.port, { ca: real.cert }) as never }, 600);
      expect(answers).toEqual(['echo: still works', 'echo: after a pause']);
    } finally {
      await q.close();
    }
    expect(ofType(q.events, 'connection')[0]!.proxy?.tls).toBe('passed-through');
    expect(ofType(q.events, 'other')[0]!.note).toMatch(/it is TLS \(a ClientHello\)/);
    expect(ofType(q.events, 'message')).toHaveLength(0);
    expect(notices(q.events, 'proxy.handshake-timeout')).toEqual([]);
  });
});

describe('wsproxy ca', () => {
  it('prints where the CA is and how to trust it; --delete removes it', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'wsproxy-ca-cli-')), 'ca');
    const show = spawnSync(process.execPath, ['bin/wsproxy.js', 'ca', '--ca-dir', dir], { encoding: 'utf8', timeout: 15_000 });
    expect(show.status).toBe(0);
    expect(show.stdout).toContain(`CA certificate: ${join(dir, 'wsproxy-ca.pem')}`);
    expect(show.stdout).toMatch(/NODE_EXTRA_CA_CERTS=.*wsproxy-ca\.pem/);
    expect(show.stdout).toMatch(/Firefox/);
    const spki = /--ignore-certificate-errors-spki-list=(\S+)/.exec(show.stdout)![1];
    expect(spki).toBe(loadOrCreateCa(dir).spkiSha256);
    expect(readFileSync(join(dir, 'wsproxy-ca.pem'), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const del = spawnSync(process.execPath, ['bin/wsproxy.js', 'ca', '--delete', '--ca-dir', dir], { encoding: 'utf8', timeout: 15_000 });
    expect(del.status).toBe(0);
    expect(del.stdout).toMatch(/^deleted the CA/);
    expect(existsSync(join(dir, 'wsproxy-ca-key.pem'))).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });
});
