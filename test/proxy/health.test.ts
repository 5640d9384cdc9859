/**
 * Connection health through wsproxy, with real `ws` peers: the same `end` fields wsdump gives,
 * with how TCP ended taken from the sockets (FIN or reset, which side first), and the live line
 * for a Ping left unanswered past --ping-timeout.
 */
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import type { ConnectionEndEvent } from '../../src/engine/events.js';
import { closeServer, ofType, proxyTo, type Proxied } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(onConnection: (ws: WebSocket) => void): Promise<number> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  wss.on('connection', onConnection);
  cleanups.push(async () => {
    for (const client of wss.clients) client.terminate();
    await closeServer(wss);
  });
  return (wss.address() as { port: number }).port;
}

async function proxied(target: number, pingTimeout?: number): Promise<Proxied> {
  const p = await proxyTo(target, pingTimeout !== undefined ? { pingTimeout } : {});
  cleanups.push(() => p.close());
  return p;
}

async function end(p: Proxied): Promise<ConnectionEndEvent> {
  await expect.poll(() => ofType(p.events, 'end').length, { timeout: 5000 }).toBe(1);
  return ofType(p.events, 'end')[0]!;
}

const codes = (p: Proxied) => p.events.flatMap((e) => (e.type === 'alert' ? [e.alert.code] : e.type === 'notice' ? [e.code] : []));

describe('connection health through the proxy', () => {
  it('a ping answered and a clean close: round trip, initiator, echo, the server closing TCP first', async () => {
    const p = await proxied(await server(() => {}));
    const client = new WebSocket(`ws://127.0.0.1:${p.port}/`);
    await once(client, 'open');
    const pong = once(client, 'pong');
    client.ping('hb');
    await pong;
    client.close(1000, 'bye');
    await once(client, 'close');
    const e = await end(p);
    expect(e.heartbeat).toMatchObject({ client: { pings: 1, pongs: 1, unanswered: 0 }, server: null });
    expect(e.heartbeat!.client!.rttMs!.max).toBeGreaterThan(0);
    expect(e.close).toMatchObject({ initiator: 'client', codes: { client: 1000, server: 1000 }, reasons: { client: 'bye', server: 'bye' }, clean: true, tcpEnd: 'fin', tcpClosedFirstBy: 'server', tcpSent: { client: 'fin', server: 'fin' } });
    expect(e.close!.echoMs).toBeGreaterThan(0);
    expect(e.timing!.upgradeMs).toBeGreaterThan(0);
    expect(codes(p)).toEqual([]);
  });

  it('a client that never pongs: the live line after --ping-timeout, then the server gives up without a close frame', async () => {
    let serverSide!: WebSocket;
    const p = await proxied(await server((ws) => (serverSide = ws)), 150);
    const client = new WebSocket(`ws://127.0.0.1:${p.port}/`, { autoPong: false });
    await once(client, 'open');
    await expect.poll(() => serverSide !== undefined).toBe(true);
    serverSide.ping('alive?');
    await expect.poll(() => codes(p), { timeout: 5000 }).toContain('proxy.ping-unanswered');
    // Said while the connection is still open.
    expect(ofType(p.events, 'end')).toEqual([]);
    const line = p.events.find((e) => e.type === 'notice' && e.code === 'proxy.ping-unanswered');
    // Without --write, the Ping is named by its live number.
    expect(line).toMatchObject({ message: expect.stringMatching(/^#1: the server's Ping \(packet \d+\) has had no Pong for 0\.15 s \(--ping-timeout\)\.$/) });
    serverSide.terminate();
    await once(client, 'close');
    const e = await end(p);
    expect(e.heartbeat).toMatchObject({ client: null, server: { pings: 1, pongs: 0, unanswered: 1 } });
    expect(e.close).toMatchObject({ initiator: null, clean: false, tcpClosedFirstBy: 'server' });
    expect(codes(p).filter((c) => c !== 'proxy.reset')).toEqual(['proxy.ping-unanswered', 'ping.unanswered', 'close.missing']);
    const unanswered = ofType(p.events, 'alert').find((a) => a.alert.code === 'ping.unanswered')!;
    expect(unanswered.alert.detail).toMatchObject({ tcpEnded: true });
    expect(unanswered.alert.detail!.livedMs as number).toBeGreaterThanOrEqual(150);
  });

  it('an answered ping raises no live line', async () => {
    let serverSide!: WebSocket;
    const p = await proxied(await server((ws) => (serverSide = ws)), 100);
    const client = new WebSocket(`ws://127.0.0.1:${p.port}/`);
    await once(client, 'open');
    await expect.poll(() => serverSide !== undefined).toBe(true);
    const pong = once(serverSide, 'pong');
    serverSide.ping('hb');
    await pong;
    await new Promise((resolve) => setTimeout(resolve, 300));
    client.close();
    await end(p);
    expect(codes(p)).toEqual([]);
  });

  it('Engine.IO: a live line when a ping has had no pong for the pingTimeout of the open packet, and appHeartbeat at the end', async () => {
    let serverSide!: WebSocket;
    // An Engine.IO v4 server by hand: the open packet, then pings that the client answers once.
    const p = await proxied(await server((ws) => {
      serverSide = ws;
      ws.send('0{"sid":"s1","upgrades":[],"pingInterval":50,"pingTimeout":120,"maxPayload":1000000}');
    }));
    const client = new WebSocket(`ws://127.0.0.1:${p.port}/socket.io/?EIO=4&transport=websocket`);
    let answer = true;
    client.on('message', (data) => {
      if (data.toString() !== '2') return;
      if (answer) client.send('3');
      answer = false;
    });
    await once(client, 'open');
    await expect.poll(() => serverSide !== undefined).toBe(true);
    const pong = once(serverSide, 'message');
    serverSide.send('2');
    await pong;
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The answered ping raised nothing; the next one, never answered, is said after 120 ms, not --ping-timeout's 5 s.
    expect(codes(p)).toEqual([]);
    serverSide.send('2');
    await expect.poll(() => codes(p), { timeout: 3000 }).toContain('proxy.ping-unanswered');
    expect(ofType(p.events, 'end')).toEqual([]);
    const line = p.events.find((e) => e.type === 'notice' && e.code === 'proxy.ping-unanswered');
    expect(line).toMatchObject({ message: expect.stringMatching(/^#1: the server's engine\.io ping (\(packet \d+\) )?has had no pong for 0\.12 s \(the timeout its protocol negotiated\)\.$/) });
    serverSide.close();
    await once(client, 'close');
    const e = await end(p);
    expect(e.appHeartbeat).toMatchObject({ protocol: 'engine.io', negotiated: { client: null, server: { intervalMs: 50, timeoutMs: 120 } }, client: null, server: { pings: 2, pongs: 1, unanswered: 1 } });
    expect(codes(p).filter((c) => c === 'proxy.ping-unanswered')).toHaveLength(1);
  });

  it('a client that resets: "rst", sent by the client, and close.missing', async () => {
    const p = await proxied(await server(() => {}));
    const client = new WebSocket(`ws://127.0.0.1:${p.port}/`);
    await once(client, 'open');
    client.send('about to reset');
    await expect.poll(() => ofType(p.events, 'message').length).toBe(1);
    (client as unknown as { _socket: import('node:net').Socket })._socket.resetAndDestroy();
    const e = await end(p);
    expect(e.close).toMatchObject({ initiator: null, tcpEnd: 'rst', tcpClosedFirstBy: 'client', tcpSent: { client: 'rst', server: null }, clean: false });
    expect(codes(p)).toContain('close.missing');
  });
});
