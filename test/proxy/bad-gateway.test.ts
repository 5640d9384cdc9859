/**
 * wsproxy with its target down (issue 18): a WebSocket or HTTP client is answered
 * `502 Bad Gateway` with the reason in one line, instead of a connection closed under it
 * ("socket hang up"); a client that speaks no HTTP is closed as before, with nothing written.
 */
import { once } from 'node:events';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { badGatewayResponse, looksLikeHttpRequest } from '../../src/proxy/bad-gateway.js';
import { closeServer, collect, listen, ofType, proxyTo, type Proxied } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await closeServer(s);
  return port;
}

async function proxied(target: number): Promise<Proxied> {
  const p = await proxyTo(target);
  cleanups.push(() => p.close(100));
  return p;
}

describe('a target that is down', () => {
  it('answers a WebSocket client 502 Bad Gateway, with the reason in one line', async () => {
    const p = await proxied(await deadPort());
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}/chat`);
    ws.on('error', () => {});
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, import('node:http').IncomingMessage];
    expect(res.statusCode).toBe(502);
    res.setEncoding('utf8');
    let body = '';
    res.on('data', (chunk: string) => (body += chunk));
    await once(res, 'end');
    expect(body).toMatch(/^wsproxy: the target localhost:\d+ refused the connection \(nothing listens there\)\n$/);
    ws.terminate();
    expect(ofType(p.events, 'notice').map((n) => n.code)).toEqual(['proxy.target-failed']);
  });

  it('answers a plain HTTP client the same way', async () => {
    const p = await proxied(await deadPort());
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: p.port, path: '/page', agent: false }, resolve);
      req.on('error', reject);
      req.end();
    });
    expect(res.statusCode).toBe(502);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    res.resume();
    await once(res, 'end');
  });

  it('writes nothing to a client that sent no HTTP request', async () => {
    const p = await proxied(await deadPort());
    const socket = connect({ port: p.port, host: '127.0.0.1', allowHalfOpen: true });
    socket.on('error', () => {});
    cleanups.push(() => void socket.destroy());
    const received = collect(socket);
    socket.write('\x16\x03\x01 not http');
    expect((await received).length).toBe(0);
  });
});

describe('the 502 answer', () => {
  it('is a complete HTTP/1.1 response whose body is the reason', () => {
    const text = badGatewayResponse('the target x:1 is unreachable').toString('latin1');
    const [head, body] = text.split('\r\n\r\n');
    expect(head!.split('\r\n')[0]).toBe('HTTP/1.1 502 Bad Gateway');
    expect(head).toContain(`Content-Length: ${body!.length}`);
    expect(head).toContain('Connection: close');
    expect(body).toBe('wsproxy: the target x:1 is unreachable\n');
    expect(badGatewayResponse('a\r\nb\u001b').toString('latin1').endsWith('wsproxy: a??b?\n')).toBe(true);
  });

  it('is given only to what starts as an HTTP request line', () => {
    const bytes = (s: string) => Buffer.from(s, 'latin1');
    expect(looksLikeHttpRequest(bytes('GET /chat HTTP/1.1\r\n'))).toBe(true);
    expect(looksLikeHttpRequest(bytes('CONNECT x:443 HTTP/1.1\r\n'))).toBe(true);
    expect(looksLikeHttpRequest(bytes('\x16\x03\x01\x02\x00'))).toBe(false);
    expect(looksLikeHttpRequest(bytes(' GET'))).toBe(false);
    expect(looksLikeHttpRequest(bytes('GET'))).toBe(false);
    expect(looksLikeHttpRequest(bytes('hello?'))).toBe(false);
  });
});
