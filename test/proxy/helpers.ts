import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DissectEvent } from '../../src/engine/events.js';
import { startProxy, type ProxyOptions, type RunningProxy } from '../../src/proxy/index.js';

export const sha256 = (data: Uint8Array | Buffer) => createHash('sha256').update(data).digest('hex');

export function hasTool(command: string, args: string[] = ['--version']): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A test that needs a system tool is skipped only outside CI; in CI a missing tool fails it. */
export const needs = (available: boolean) => !available && process.env.CI === undefined;

export interface Proxied {
  proxy: RunningProxy;
  events: DissectEvent[];
  port: number;
  close(grace?: number): Promise<void>;
}

export async function proxyTo(target: string | number, options: Partial<ProxyOptions> = {}): Promise<Proxied> {
  const events: DissectEvent[] = [];
  const proxy = await startProxy({ target: String(target), onEvent: (e) => events.push(e), ...options });
  return { proxy, events, port: proxy.address.port, close: (grace = 500) => proxy.close({ grace }) };
}

export const port = (server: Server | { address(): AddressInfo | string | null }) => (server.address() as AddressInfo).port;

export function listen(server: Server, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve) => server.listen(0, host, () => resolve(port(server))));
}

export function closeServer(server: { close(cb?: (err?: Error) => void): unknown }): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A TCP echo server that supports half-close: it answers what it got, then ends when the client has. */
export async function echoServer(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  return { server, port: await listen(server), sockets };
}

/** Resolves with everything `socket` receives until it ends. */
export function collect(socket: Socket | NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
  });
}

/** Writes `data` in random chunk sizes (1 byte to 64 KiB), honouring backpressure, then ends. */
export async function writeInChunks(socket: Socket, data: Buffer, seed = 1): Promise<void> {
  let state = seed;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
  for (let offset = 0; offset < data.length; ) {
    const size = 1 + (next() % (next() % 4 === 0 ? 65536 : 4096));
    const chunk = data.subarray(offset, offset + size);
    offset += chunk.length;
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  socket.end();
}

export const ofType = <T extends DissectEvent['type']>(events: DissectEvent[], type: T) => events.filter((e): e is Extract<DissectEvent, { type: T }> => e.type === type);

let certDir: string | null = null;

/** A self-signed certificate for localhost and 127.0.0.1, made by openssl for this test run only. */
export function testCertificate(): { cert: Buffer; key: Buffer; certPath: string; keyPath: string } {
  if (certDir === null) {
    const dir = mkdtempSync(join(tmpdir(), 'wsproxy-cert-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    certDir = dir;
  }
  const certPath = join(certDir, 'cert.pem');
  const keyPath = join(certDir, 'key.pem');
  return { cert: readFileSync(certPath), key: readFileSync(keyPath), certPath, keyPath };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
