/**
 * The wsproxy command through main(argv, io) with injected streams: help, argument errors,
 * a live session printed as it happens, Ctrl-C (an AbortSignal here), the --write round trip
 * (live NDJSON == wsdump's NDJSON of the written file, and tshark decodes the same frames at
 * the same packet numbers), and an output that cannot keep up.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { connect, createConnection, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { main as wsdump } from '../../src/cli/wsdump.js';
import { main, type WsproxyControl } from '../../src/cli/wsproxy.js';
import type { HostPort } from '../../src/proxy/index.js';
import { fakeIo, ndjson } from '../cli/io.js';
import { buildPcapFile, TcpConversationRecorder, type RecordedPacket } from '../../src/capture/index.js';
import { closeServer, hasTool, needs, testCertificate } from './helpers.js';

const argv = (...args: string[]) => ['node', 'wsproxy', ...args];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function wsEcho(deflate = false): Promise<number> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: deflate ? { threshold: 0 } : false });
  await once(wss, 'listening');
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary })));
  cleanups.push(async () => {
    for (const c of wss.clients) c.terminate();
    await closeServer(wss);
  });
  return (wss.address() as AddressInfo).port;
}

/** Starts wsproxy in-process; `stop()` is its Ctrl-C and resolves with the exit code. */
async function run(args: string[], io = fakeIo()) {
  const controller = new AbortController();
  let listening!: (address: HostPort) => void;
  const address = new Promise<HostPort>((resolve) => (listening = resolve));
  const control: WsproxyControl = { signal: controller.signal, onListening: listening };
  const exit = main(argv(...args), io, control);
  cleanups.push(async () => {
    controller.abort();
    await exit;
  });
  const started = await Promise.race([address, exit.then((code) => new Error(`wsproxy exited with ${code}: ${io.stderr.text}`))]);
  if (started instanceof Error) throw started;
  return {
    io,
    port: started.port,
    stop: async () => {
      controller.abort();
      return exit;
    },
  };
}

/** One ws session through the proxy: text, a binary message over many TCP segments, fragments, ping, close. */
async function session(port: number, deflate = false): Promise<void> {
  const client = new WebSocket(`ws://127.0.0.1:${port}/live`, { perMessageDeflate: deflate ? { threshold: 0 } : false });
  await once(client, 'open');
  let answers = 0;
  client.on('message', () => answers++);
  client.send('hello, live view');
  client.send(randomBytes(100_000), { binary: true });
  client.send('one ', { fin: false });
  client.send('two', { fin: true });
  const pong = once(client, 'pong');
  client.ping('p');
  await pong;
  await expect.poll(() => answers, { timeout: 5000 }).toBe(3);
  client.close(1000, 'bye');
  await once(client, 'close');
}

describe('wsproxy arguments', () => {
  it('prints help with examples and exit codes', async () => {
    const io = fakeIo();
    expect(await main(argv('--help'), io)).toBe(0);
    expect(io.stdout.text).toContain('--listen <[host:]port>');
    expect(io.stdout.text).toContain('Examples:');
    expect(io.stdout.text).toContain('Exit codes:');
  });

  it.each([
    [['--target', '8080'], /required option '-l, --listen/],
    [['--listen', '9000'], /required option '-t, --target/],
    [['--listen', 'nope', '--target', '8080'], /expected \[HOST:\]PORT/],
    [['--listen', '9000', '--target', '70000'], /not a port number/],
    [['--listen', '9000', '--target', 'http://x'], /only ws:\/\/ and wss:\/\//],
    [['--listen', '9000', '--target', '8080', '--json', '--summary'], /choose one of/],
    [['--listen', '9000', '--target', '8080', '--grace', 'soon'], /seconds/],
    [['--listen', '9000', '--target', '8080', '--idle-timeout', '-1'], /--idle-timeout.*seconds/],
    [['--listen', '9000', '--target', '8080', '--handshake-timeout', 'never'], /--handshake-timeout.*seconds/],
    [['--listen', '9000', '--target', '8080', '--max-buffered', 'lots'], /--max-buffered.*size/],
    [['--listen', '9000', '--target', '8080', '--max-buffered', '0'], /--max-buffered.*at least 1 byte/],
    [['--listen', '0', '--target', '8080', '--tls-cert', '/nonexistent/cert.pem', '--tls-key', '/nonexistent/key.pem'], /^wsproxy: cannot read --tls-cert \/nonexistent\/cert.pem: no such file\n$/],
    [['--listen', '0', '--target', '8080', '--tls-cert', 'x.pem'], /^wsproxy: --tls-cert and --tls-key go together\n$/],
    [['--listen', '0', '--target', '8080', '--write', '/nonexistent/dir/x.pcap'], /^wsproxy: cannot write \/nonexistent\/dir\/x.pcap: no such directory\n$/],
    // What the user typed is echoed escaped, never raw (a pasted escape sequence stays inert).
    [['--listen', '0', '--target', '8080', '--write', '/nonexistent/\u001b]0;x\u0007\u009b2J.pcap'], /^wsproxy: cannot write \/nonexistent\/\\e\]0;x\\x07\\x9b2J\.pcap: no such directory\n$/],
    [['--listen', '9000', '--target', 'ws://\u202eevil\u001b[2J'], /\\u\{202e\}evil\\e\[2J/],
  ])('%j exits 1 with a message', async (args, message) => {
    const io = fakeIo();
    expect(await main(argv(...args), io)).toBe(1);
    expect(io.stderr.text).toMatch(message);
  });

  it('says in one line that the port is in use', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => closeServer(blocker));
    const port = (blocker.address() as AddressInfo).port;
    const io = fakeIo();
    expect(await main(argv('--listen', String(port), '--target', '8080'), io)).toBe(1);
    expect(io.stderr.text).toBe(`wsproxy: cannot listen on 127.0.0.1:${port}: the address is already in use\n`);
  });
});

describe('wsproxy live', () => {
  it('prints each frame as it crosses, and the summary when stopped', async () => {
    const target = await wsEcho();
    const proxy = await run(['--listen', '0', '--target', String(target), '--width', '120']);
    await session(proxy.port);
    // Live: the rows are there before the proxy stops.
    await expect.poll(() => proxy.io.stdout.text, { timeout: 5000 }).toContain('#1 summary');
    expect(proxy.io.stdout.text).toContain('GET /live HTTP/1.1');
    expect(proxy.io.stdout.text).toContain('"hello, live view"');
    expect(proxy.io.stdout.text).toMatch(/C→S 1 +000 ping/);
    // Without --write there are no packets, but the rows are numbered all the same, in order.
    const numbers = proxy.io.stdout.text.split('\n').flatMap((line) => /^ (\S+) +[\d.]+ +#1 /.exec(line)?.[1] ?? []);
    expect(numbers.length).toBeGreaterThan(5);
    expect(numbers.map(Number)).toEqual([...numbers.map(Number)].sort((a, b) => a - b));
    expect(numbers.every((n) => /^\d+$/.test(n))).toBe(true);
    expect(await proxy.stop()).toBe(0);
    expect(proxy.io.stderr.text).toMatch(/^wsproxy: ws:\/\/127\.0\.0\.1:\d+ → localhost:\d+ \(Ctrl-C to stop\)\n$/);
  });

  it('--explain shows the live frames as RFC 6455 header diagrams, with the unmasking worked through', async () => {
    const target = await wsEcho();
    const proxy = await run(['--listen', '0', '--target', String(target), '--explain']);
    await session(proxy.port);
    await expect.poll(() => proxy.io.stdout.text, { timeout: 5000 }).toMatch(/unmasking \(§5\.3\)/);
    expect(proxy.io.stdout.text).toMatch(/\|F\|R\|R\|R\|opcode \|M\| Payload len \|/);
    expect(proxy.io.stdout.text).toContain('Sec-WebSocket-Accept');
    expect(await proxy.stop()).toBe(0);
    const both = fakeIo();
    expect(await main(argv('--listen', '0', '--target', String(target), '--explain', '--json'), both)).toBe(1);
    expect(both.stderr.text).toMatch(/choose one of --json, --explain, --messages, --events, --summary/);
  });

  it('on Ctrl-C closes WebSocket connections with 1001, waits --grace for the others, then resets them and prints their summaries', async () => {
    const target = await wsEcho();
    const proxy = await run(['--listen', '0', '--target', String(target), '--summary', '--grace', '0.5']);
    const client = new WebSocket(`ws://127.0.0.1:${proxy.port}/idle`);
    client.on('error', () => {});
    await once(client, 'open');
    // A request whose header never ends: not WebSocket, so it waits for the grace and is reset.
    const slow = connect(proxy.port, '127.0.0.1');
    slow.on('error', () => {});
    slow.write('GET /slow HTTP/1.1\r\nHost: x\r\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const closed = once(client, 'close') as Promise<[number, Buffer]>;
    expect(await proxy.stop()).toBe(0);
    const [code] = await closed;
    expect(code).toBe(1001);
    slow.destroy();
    expect(proxy.io.stdout.text).toMatch(/#1 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ {2}websocket \/idle/);
    expect(proxy.io.stdout.text).toMatch(/close: client 1001 "wsproxy stopping" → server 1001 in [\d.]+ ms, clean/);
    expect(proxy.io.stdout.text).toContain('proxy.stopping 1 connection(s) still open after 0.5 s: reset.');
    expect(proxy.io.stderr.text).toContain('2 connection(s) open, waiting up to 0.5 s');
  });

  it('--idle-timeout closes a connection over which nothing moved, and says so in the view', async () => {
    const target = await wsEcho();
    const proxy = await run(['--listen', '0', '--target', String(target), '--idle-timeout', '0.2', '--max-buffered', '16k']);
    const client = new WebSocket(`ws://127.0.0.1:${proxy.port}/quiet`);
    client.on('error', () => {});
    await once(client, 'open');
    const [code] = (await once(client, 'close')) as [number];
    expect(code).toBe(1006); // the TCP connection was closed under it, no Close frame
    await expect.poll(() => proxy.io.stdout.text, { timeout: 5000 }).toContain('#1 summary');
    expect(proxy.io.stdout.text).toMatch(/proxy\.idle-timeout #1: no bytes either way for 0\.2 s \(--idle-timeout\): both sides closed\./);
    expect(await proxy.stop()).toBe(0);
  });

  it('escapes what the traffic carries in every view: C1, bidi, U+2028, invisible characters, in --json too', async () => {
    const evil = Buffer.from('\u001b]0;pwned\u0007\u009b31m\u202eRTL\u2066\u200b\ufeff\u007f\u0085\u2028\u{e0041}\u00ad\u3164', 'utf8');
    const latin1 = Buffer.from([0x9b, 0x33, 0x32, 0x6d, 0xe2, 0x80, 0xae, 0x85]);
    const frame = (opcode: number, payload: Buffer) => Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]);
    const target = createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => {
        socket.write(Buffer.concat([Buffer.from('HTTP/1.1 101 Sw'), latin1, Buffer.from('\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nX-E: '), evil, Buffer.from('\r\n\r\n')]));
        socket.write(Buffer.concat([frame(1, evil), frame(2, evil), frame(9, evil), frame(8, Buffer.concat([Buffer.from([3, 232]), evil]))]));
        setTimeout(() => socket.end(), 100);
      });
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => closeServer(target));
    const unsafe = /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}]/u;
    for (const view of [['--json'], [], ['--messages', '--full'], ['--explain'], ['--color']]) {
      const proxy = await run(['--listen', '0', '--target', String((target.address() as AddressInfo).port), ...view]);
      const client = createConnection({ port: proxy.port, host: '127.0.0.1' });
      client.on('error', () => {});
      client.resume();
      await once(client, 'connect');
      client.write(Buffer.concat([Buffer.from('GET /'), latin1, Buffer.from(' HTTP/1.1\r\nHost: '), evil, Buffer.from('\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')]));
      await expect.poll(() => proxy.io.stdout.text, { timeout: 5000 }).toMatch(/1000/);
      client.destroy();
      expect(await proxy.stop()).toBe(0);
      const shown = proxy.io.stdout.text.replace(/\x1b\[[0-9;]*m/g, '');
      for (const line of shown.split('\n')) expect(line, view.join(' ')).not.toMatch(unsafe);
      if (view[0] === '--json') {
        const text = ndjson(shown).find((e) => e.type === 'message' && e.opcodeName === 'text')!.text;
        expect(text).toBe(evil.toString());
      }
    }
  });

  it('never lets a stalled output hold up the relay: events are dropped and counted', async () => {
    const target = await wsEcho();
    // A terminal that accepts nothing until released.
    const held: (() => void)[] = [];
    let text = '';
    let released = false;
    const stalled = new Writable({
      write(chunk: Buffer, _enc, done) {
        text += chunk.toString();
        if (released) done();
        else held.push(done);
      },
    });
    const io = { ...fakeIo(), stdout: stalled as unknown as ReturnType<typeof fakeIo>['stdout'] };
    const proxy = await run(['--listen', '0', '--target', String(target), '--json', '--full'], io);
    const client = new WebSocket(`ws://127.0.0.1:${proxy.port}/flood`);
    await once(client, 'open');
    let answers = 0;
    client.on('message', () => answers++);
    // 40 × 200 kB, each shown twice (frame and message) in full hex: far more than the 4 MiB queue.
    for (let i = 0; i < 40; i++) client.send(randomBytes(200_000));
    await expect.poll(() => answers, { timeout: 10_000 }).toBe(40);
    client.close();
    await once(client, 'close');
    released = true;
    for (const done of held.splice(0)) done();
    expect(await proxy.stop()).toBe(0);
    const lines = ndjson(text);
    const dropped = lines.filter((l) => l.type === 'notice' && l.code === 'proxy.output-dropped');
    expect(dropped.length).toBeGreaterThan(0);
    expect(dropped[0]!.message).toMatch(/^\d+ event\(s\) not shown/);
  });
});

const TSHARK = hasTool('tshark');

describe('wsproxy stopping with a stdout that takes nothing', () => {
  it('Ctrl-C gives the output --grace, then drops the rest, says how much, and exits 0', async () => {
    const target = await wsEcho();
    const never = new Writable({ write: () => {} });
    const io = { ...fakeIo(), stdout: never as unknown as ReturnType<typeof fakeIo>['stdout'] };
    const proxy = await run(['--listen', '0', '--target', String(target), '--json', '--grace', '0.2'], io);
    await session(proxy.port);
    expect(await proxy.stop()).toBe(0);
    expect(io.stderr.text).toMatch(/wsproxy: \d+ bytes of output not written within 0\.2 s \(stdout is not being read\): dropped/);
  });
});

describe('wsproxy --write', () => {
  it.each([false, true])('records a capture whose wsdump NDJSON equals the live NDJSON (permessage-deflate %s)', async (deflate) => {
    const dir = mkdtempSync(join(tmpdir(), 'wsproxy-write-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'session.pcap');
    const target = await wsEcho(deflate);
    const proxy = await run(['--listen', '0', '--target', String(target), '--json', '--payload', '100000', '--write', file]);
    await session(proxy.port, deflate);
    await session(proxy.port, deflate);
    await expect.poll(() => ndjson(proxy.io.stdout.text).filter((e) => e.type === 'end').length, { timeout: 5000 }).toBe(2);
    expect(await proxy.stop()).toBe(0);
    const live = ndjson(proxy.io.stdout.text);

    const io = fakeIo();
    expect(await wsdump(['node', 'wsdump', '--json', '--payload', '100000', file], io)).toBe(0);
    const recorded = ndjson(io.stdout.text);
    expect(live.filter((e) => e.type === 'notice')).toEqual([]);
    expect(recorded).toEqual(live);
    const frames = live.filter((e) => e.type === 'frame');
    expect(frames.length).toBeGreaterThanOrEqual(2 * 9);
    expect(frames.every((f) => typeof f.packet === 'number')).toBe(true);
  });

  it.skipIf(process.platform !== 'linux')('a disk that fails (/dev/full): the relay goes on, the failure is said once, Ctrl-C exits 0 after the summaries', async () => {
    const target = await wsEcho();
    const proxy = await run(['--listen', '0', '--target', String(target), '--json', '--write', '/dev/full']);
    await session(proxy.port);
    await expect.poll(() => ndjson(proxy.io.stdout.text).some((e) => e.type === 'end'), { timeout: 5000 }).toBe(true);
    expect(await proxy.stop()).toBe(0);
    const events = ndjson(proxy.io.stdout.text);
    expect(events.filter((e) => e.type === 'notice').map((e) => [e.code, e.message])).toEqual([['proxy.record-stopped', expect.stringMatching(/ENOSPC/)]]);
    expect(proxy.io.stderr.text).not.toMatch(/internal error/);
  });

  it.skipIf(needs(TSHARK))('writes a capture tshark decodes into the same frames at the same packet numbers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsproxy-tshark-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'session.pcap');
    const target = await wsEcho();
    const proxy = await run(['--listen', '0', '--target', String(target), '--json', '--write', file]);
    await session(proxy.port);
    await expect.poll(() => ndjson(proxy.io.stdout.text).some((e) => e.type === 'end'), { timeout: 5000 }).toBe(true);
    expect(await proxy.stop()).toBe(0);
    const live = ndjson(proxy.io.stdout.text)
      .filter((e) => e.type === 'frame')
      .map((f) => `${f.packet} ${f.opcode}`)
      .sort();
    const server = (ndjson(proxy.io.stdout.text).find((e) => e.type === 'connection')!.server as { port: number }).port;
    const out = execFileSync('tshark', ['-r', file, '-d', `tcp.port==${server},http`, '-Y', 'websocket', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=;', '-e', 'frame.number', '-e', 'websocket.opcode'], { encoding: 'utf8' });
    // A packet may end several frames: tshark lists their fields side by side.
    const fromTshark = out
      .trim()
      .split('\n')
      .flatMap((line) => {
        const [no, opcodes] = line.split('\t');
        return opcodes!.split(';').map((op) => `${no} ${op}`);
      })
      .sort();
    expect(fromTshark).toEqual(live);
  });
});

/**
 * A TCP relay that keeps what crossed it, as tcpdump on the wire would, and makes a pcap of it:
 * what a user records around wsproxy to read with its --keylog.
 */
async function wireTap(targetPort: number) {
  const packets: RecordedPacket[] = [];
  const server = createServer({ allowHalfOpen: true }, (down) => {
    const up = connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
    const recorder = new TcpConversationRecorder({ client: { ip: '127.0.0.1', port: down.remotePort! }, server: { ip: '127.0.0.1', port: targetPort } });
    const now = () => Date.now() / 1000;
    packets.push(...recorder.open(now()));
    for (const [from, to, side] of [[down, up, 'client'], [up, down, 'server']] as const) {
      from.on('data', (d: Buffer) => {
        if (recorder.canSend(side)) packets.push(...recorder.data(side, d, now()));
        to.write(d);
      });
      from.on('end', () => {
        packets.push(...recorder.close(side, now()));
        to.end();
      });
      from.on('error', () => to.destroy());
    }
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  cleanups.push(() => closeServer(server));
  return { port, pcap: () => buildPcapFile(packets) };
}

describe('wsproxy --keylog', () => {
  it.skipIf(needs(hasTool('openssl', ['version'])))('appends the secrets of both TLS legs: a capture of either leg decrypts in wsdump', async () => {
    const { cert, key, certPath, keyPath } = testCertificate();
    const target = createHttpsServer({ cert, key });
    const wss = new WebSocketServer({ server: target });
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary })));
    const targetPort = await new Promise<number>((resolve) => target.listen(0, '127.0.0.1', () => resolve((target.address() as AddressInfo).port)));
    cleanups.push(async () => {
      for (const c of wss.clients) c.terminate();
      target.closeAllConnections();
      await closeServer(target);
    });
    const toTarget = await wireTap(targetPort);
    const dir = mkdtempSync(join(tmpdir(), 'wsproxy-keylog-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const keylog = join(dir, 'keys.txt');
    const proxy = await run(['-l', '0', '-t', `wss://127.0.0.1:${toTarget.port}`, '--ca', certPath, '--tls-cert', certPath, '--tls-key', keyPath, '--keylog', keylog, '--json']);
    const toProxy = await wireTap(proxy.port);

    const ws = new WebSocket(`wss://127.0.0.1:${toProxy.port}/keys`, { ca: cert });
    await once(ws, 'open');
    const got: string[] = [];
    ws.on('message', (d) => got.push(String(d)));
    ws.send('through two TLS legs');
    ws.send(randomBytes(30000));
    await new Promise((resolve) => setTimeout(resolve, 300));
    ws.close(1000, 'bye');
    await once(ws, 'close');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await proxy.stop()).toBe(0);
    expect(got[0]).toBe('through two TLS legs');

    // Created for its owner only; two sessions' lines (TLS 1.3: five each), and never printed.
    expect(statSync(keylog).mode & 0o777).toBe(0o600);
    const lines = readFileSync(keylog, 'latin1').split('\n').filter(Boolean);
    expect(new Set(lines.map((l) => l.split(' ')[1])).size).toBe(2);
    for (const secret of lines.map((l) => l.split(' ')[2]!)) {
      expect(proxy.io.stdout.text).not.toContain(secret);
      expect(proxy.io.stderr.text).not.toContain(secret);
    }

    for (const leg of [toProxy, toTarget]) {
      const capture = join(dir, `leg-${leg.port}.pcap`);
      writeFileSync(capture, leg.pcap());
      const io = fakeIo();
      expect(await wsdump(['node', 'wsdump', '--json', '--keylog', keylog, capture], io)).toBe(0);
      const events = ndjson(io.stdout.text);
      expect(events.find((e) => e.type === 'tls')).toMatchObject({ version: 'TLS 1.3', decrypted: true });
      const texts = events.filter((e) => e.type === 'message' && e.opcodeName === 'text').map((e) => e.text);
      expect(texts).toEqual(['through two TLS legs', 'through two TLS legs']);
      expect(events.filter((e) => e.type === 'message' && e.opcodeName === 'binary').map((e) => e.length)).toEqual([30000, 30000]);
    }
  });

  it('refuses a key log it cannot write, in one line, before listening', async () => {
    const io = fakeIo();
    expect(await main(argv('-l', '0', '-t', 'wss://127.0.0.1:1', '--keylog', '/no/such/dir/keys.txt'), io, { signal: AbortSignal.abort() })).toBe(1);
    expect(io.stderr.text).toBe('wsproxy: cannot write the key log /no/such/dir/keys.txt: no such directory\n');
  });
});

describe('wsproxy --har', () => {
  it('writes the relayed WebSocket, with its messages as Chrome writes them, as HAR 1.2 when stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsproxy-har-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'session.har');
    const target = await wsEcho();
    const proxy = await run(['--listen', '0', '--target', String(target), '--json', '--har', file]);
    await session(proxy.port);
    expect(await proxy.stop()).toBe(0);
    const har = JSON.parse(readFileSync(file, 'utf8'));
    expect(har.log).toMatchObject({ version: '1.2', creator: { name: 'wsproxy' } });
    const [entry] = har.log.entries;
    expect(entry).toMatchObject({ _resourceType: 'websocket', request: { method: 'GET', url: `ws://127.0.0.1:${proxy.port}/live` }, response: { status: 101 } });
    const sent = ndjson(proxy.io.stdout.text).filter((e) => e.type === 'message' && (e.opcode === 1 || e.opcode === 2));
    expect(entry._webSocketMessages.map((m: { type: string; opcode: number }) => [m.type, m.opcode])).toEqual(sent.map((m) => [m.from === 'client' ? 'send' : 'receive', m.opcode]));
    expect(entry._webSocketMessages[0]).toMatchObject({ type: 'send', opcode: 1, data: 'hello, live view' });
  });
});
