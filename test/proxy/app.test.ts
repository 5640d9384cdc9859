/**
 * wsproxy shows the application layer live: the messages of the real Socket.IO, SignalR and
 * GraphQL over WebSocket captures (fixtures/real) are replayed through the proxy by a ws client
 * and server, in the capture's order, on the same path and subprotocol, and the live events
 * must be those wsdump decodes from the capture.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { main, type WsproxyControl } from '../../src/cli/wsproxy.js';
import type { HostPort } from '../../src/proxy/index.js';
import { fakeIo, ndjson } from '../cli/io.js';
import { dissectFile } from '../helpers/dissect.js';
import { closeServer } from './helpers.js';

const SIO = 'fixtures/real/socketio-node.pcap';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type Json = Record<string, any>;

/** What an app event says, without where and when it was seen (packets, times, latencies). */
function meaning(e: Json): Json {
  const { conn: _c, packet: _p, ts: _t, replyTo: _r, latencyMs: _l, summary, ...rest } = e;
  return { ...rest, summary: String(summary).replace(/  (answers|ends the operation of|streams to|ends the upload stream of) .*$/, '') };
}

/** The connection of a capture to replay: its number, the path to ask for and the subprotocol to offer. */
interface Replay {
  file: string;
  conn: number;
  path: string;
  protocol?: string;
}

const SOCKET_IO: Replay = { file: SIO, conn: 1, path: '/socket.io/?EIO=4&transport=websocket' };

async function replayThroughProxy(args: string[], replay: Replay = SOCKET_IO): Promise<string> {
  const { json } = await dissectFile(replay.file);
  const messages = json.filter((e) => e.type === 'message' && e.conn === replay.conn && (e.opcode === 1 || e.opcode === 2));
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  cleanups.push(() => closeServer(wss));
  const io = fakeIo();
  const controller = new AbortController();
  let listening!: (address: HostPort) => void;
  const address = new Promise<HostPort>((resolve) => (listening = resolve));
  const control: WsproxyControl = { signal: controller.signal, onListening: listening };
  const exit = main(['node', 'wsproxy', '--listen', '0', '--target', String((wss.address() as AddressInfo).port), ...args], io, control);
  const { port } = await address;
  const serverSide = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${port}${replay.path}`, replay.protocol !== undefined ? [replay.protocol] : []);
  await once(client, 'open');
  const [server] = await serverSide;
  const received = { client: 0, server: 0 };
  server.on('message', () => received.server++);
  client.on('message', () => received.client++);
  for (const m of messages) {
    const data = m.text !== undefined ? m.text : Buffer.from(m.payload, 'hex');
    const [from, to] = m.from === 'client' ? [client, 'server' as const] : [server, 'client' as const];
    const before = received[to];
    from.send(data, { binary: m.text === undefined });
    await expect.poll(() => received[to], { timeout: 5000 }).toBe(before + 1);
  }
  client.close(1000);
  await once(client, 'close');
  controller.abort();
  expect(await exit).toBe(0);
  return io.stdout.text;
}

describe('wsproxy decodes the application layer live', () => {
  it('--json: the same app events as wsdump on the capture', async () => {
    const live = ndjson(await replayThroughProxy(['--json', '--full'])).filter((e) => e.type === 'app');
    const offline = (await dissectFile(SIO)).json.filter((e) => e.type === 'app');
    expect(live.map(meaning)).toEqual(offline.map(meaning));
    // Paired without a recording (no --write): by the live numbers, and the latency is measured.
    expect(live.filter((e) => e.kind === 'ack').every((e) => Number.isInteger(e.replyTo) && e.latencyMs >= 0)).toBe(true);
  });

  it.each([
    { name: 'SignalR (JSON hub protocol)', file: 'fixtures/real/signalr.pcap', conn: 2, path: '/chathub?id=51f94826-11d4-45bf-aaa3-9c14049c3e6b' },
    { name: 'SignalR (MessagePack hub protocol)', file: 'fixtures/real/signalr.pcap', conn: 3, path: '/chathub' },
    { name: 'graphql-ws (graphql-transport-ws)', file: 'fixtures/real/graphql-ws.pcap', conn: 1, path: '/graphql', protocol: 'graphql-transport-ws' },
    { name: 'subscriptions-transport-ws (graphql-ws)', file: 'fixtures/real/graphql-ws.pcap', conn: 2, path: '/legacy', protocol: 'graphql-ws' },
  ])('--json, $name: the same app events as wsdump on the capture', async (replay) => {
    const live = ndjson(await replayThroughProxy(['--json', '--full'], replay)).filter((e) => e.type === 'app');
    const offline = (await dissectFile(replay.file)).json.filter((e) => e.type === 'app' && e.conn === replay.conn);
    expect(offline.length).toBeGreaterThan(10);
    expect(live.map(meaning)).toEqual(offline.map(meaning));
  });

  it('--events --hide-heartbeats: one line per Socket.IO event as it happens', async () => {
    const out = await replayThroughProxy(['--events', '--hide-heartbeats']);
    expect(out).toMatch(/S→C ws\s+socket\.io event pushMsg \["你好"\]  nsp \//);
    expect(out).toMatch(/C→S ws\s+socket\.io event upload \[<4 bytes 01020304>,"name\.bin"\]  nsp \//);
    expect(out).not.toMatch(/engine\.io (ping|pong)/);
  });
});

describe('wsproxy decodes MQTT and STOMP live', () => {
  // The messages of one connection each, as the real peers cut them (MQTT packets split across messages).
  const cases: [string, Replay][] = [
    ['MQTT (MQTT.js and aedes)', { file: 'fixtures/real/mqtt-aedes.pcap', conn: 1, path: '/mqtt', protocol: 'mqtt' }],
    ['STOMP (@stomp/stompjs)', { file: 'fixtures/real/stomp-stompjs.pcap', conn: 1, path: '/stomp', protocol: 'v12.stomp' }],
  ];
  it.each(cases)('%s: --json gives the app events wsdump decodes from the capture', async (_name, replay) => {
    const live = ndjson(await replayThroughProxy(['--json', '--full'], replay)).filter((e) => e.type === 'app');
    const offline = (await dissectFile(replay.file)).json.filter((e) => e.type === 'app' && e.conn === replay.conn);
    expect(live.length).toBeGreaterThan(10);
    expect(live.map(meaning)).toEqual(offline.map(meaning));
  });

  it('--events --event: MQTT topics and STOMP destinations as they happen', async () => {
    const mqtt = await replayThroughProxy(['--events', '--event', 'cmd/*'], cases[0]![1]);
    expect(mqtt).toMatch(/C→S ws\s+mqtt publish "cmd\/led" <4 bytes 00ff1080>  qos 2  id \d+/);
    expect(mqtt).toMatch(/S→C ws\s+mqtt pubcomp id \d+ "cmd\/led"  answers/);
    expect(mqtt).not.toMatch(/sensors\//);
    const stomp = await replayThroughProxy(['--events', '--hide-heartbeats'], cases[1]![1]);
    expect(stomp).toMatch(/S→C ws\s+stomp message "\/topic\/news" "héllo wörld, 你好"  subscription "sub-0"/);
    expect(stomp).not.toMatch(/stomp heartbeat/);
  });
});
