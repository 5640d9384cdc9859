/**
 * SignalR and GraphQL over WebSocket in wsdump's views and filters, on the real-peer captures
 * (@microsoft/signalr against a hub built from the protocol document; graphql-ws and
 * subscriptions-transport-ws) and the crafted MessagePack one.
 */
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/wsdump.js';
import { argv, fakeIo, ndjson } from './io.js';

const SIGNALR = 'fixtures/real/signalr.pcap';
const GRAPHQL = 'fixtures/real/graphql-ws.pcap';
const PACKED = 'fixtures/crafted/app-signalr-messagepack.pcap';

async function wsdump(...args: string[]): Promise<string> {
  const io = fakeIo();
  expect(await main(argv(...args), io)).toBe(0);
  return io.stdout.text;
}

const rows = (text: string) => text.trimEnd().split('\n').slice(1);

describe('SignalR in the views', () => {
  it('the table: each record under its message, completions paired with their invocation', async () => {
    const out = await wsdump(SIGNALR);
    expect(out).toMatch(/"\{"protocol":"json","version":2\}\\x1e"\n   └ signalr handshake json v2\n/);
    expect(out).toMatch(/└ signalr completion Add result 42  id "1"  answers packet (\d+) after [\d.]+ ms/);
    expect(out).toMatch(/└ signalr invocation ReceiveMessage \["alice","hi"\]  \(no answer expected\)/);
    // The invoker's own upload stream feeds its invocation: not an answer to it.
    expect(out).toMatch(/└ signalr stream_item UploadSum 3  id "5"  \(upload stream\)  streams to packet \d+/);
    expect(out).toMatch(/└ signalr completion UploadSum  id "5"  \(upload stream\)  ends the upload stream of packet \d+/);
  });

  it('--hide-heartbeats hides the pings (type 6) and says how many', async () => {
    const all = rows(await wsdump('--events', SIGNALR));
    const shown = rows(await wsdump('--events', '--hide-heartbeats', SIGNALR));
    const pings = all.filter((r) => / signalr ping$/.test(r));
    expect(pings.length).toBeGreaterThan(4);
    expect(shown.filter((r) => / signalr ping$/.test(r))).toEqual([]);
    expect(shown.length).toBe(all.length - pings.length);
    const summary = await wsdump('--summary', '--hide-heartbeats', SIGNALR);
    for (const conn of ['#2', '#3']) {
      const hidden = pings.filter((r) => r.includes(` ${conn} `)).length;
      const block = summary.split(/\n(?=#\d+ )/).find((b) => b.startsWith(`${conn} `));
      expect(block).toContain(`   ${hidden} heartbeat message(s) hidden`);
    }
  });

  it('--event matches targets, and the answers named by their invocation', async () => {
    const shown = rows(await wsdump('--events', '--event', 'Count*', SIGNALR));
    expect(shown.map((r) => r.replace(/^.*?signalr (\S+) .*$/, '$1'))).toEqual(['stream_invocation', ...Array(3).fill('stream_item'), 'completion', 'stream_invocation', 'stream_item', 'stream_item', 'cancel_invocation', 'completion', 'stream_invocation', 'stream_item', 'stream_item', 'completion']);
  });

  it('--summary counts by kind and target, with the latency of each kind of answer', async () => {
    const out = await wsdump('--summary', SIGNALR);
    expect(out).toMatch(/by name: Counter 10, UploadSum 6, SendMessage 2, Add 2, Fail 2, AskName 2, GetClientName 2, ReceiveMessage 1, Notify 1/);
    expect(out).toMatch(/signalr completion answered 8 time\(s\) in [\d.]+\/[\d.]+\/[\d.]+ ms/);
    // The upload stream's items and completion come from the invoker itself: counted apart, not as answers.
    expect(out).toMatch(/signalr stream_item from the requester itself \(not an answer\) 3 time\(s\), [\d.]+\/[\d.]+\/[\d.]+ ms \(min\/median\/max\) after its request/);
    expect(out).toMatch(/signalr completion from the requester itself \(not an answer\) 1 time\(s\), /);
  });

  it('--explain: a JSON record and its separator, a MessagePack record and its length prefix', async () => {
    const json = await wsdump('--explain', SIGNALR);
    expect(json).toMatch(/└ signalr stream_invocation "Counter", as sent:\n {5}\[\{"target":"Counter","arguments":\[3\],"invocationId":"3","type":4\}\]\n {18}a JSON record: "type" 4, StreamInvocation\n {5}\[\\x1e\] {7}record separator 0x1E: ends the record\n/);
    const packed = await wsdump('--explain', PACKED);
    expect(packed).toMatch(/└ signalr invocation "Add", as sent:\n {5}\[0d\] {9}VarInt length prefix: 13 bytes of MessagePack follow\n/);
  });

  it('--json: a MessagePack completion, and a handshake answer sharing its message with a ping', async () => {
    const events = ndjson(await wsdump('--json', PACKED)).filter((e) => e.type === 'app');
    expect(events.filter((e) => e.packet === 7).map((e) => e.kind)).toEqual(['handshake', 'ping']);
    expect(events.find((e) => e.kind === 'completion')).toMatchObject({ encoding: 'messagepack', messageType: 3, invocationId: '1', result: 42, error: null });
  });
});

describe('GraphQL over WebSocket in the views', () => {
  it('the table: operations by name, answers paired with their subscribe', async () => {
    const out = await wsdump(GRAPHQL);
    expect(out).toMatch(/└ graphql-ws subscribe Greetings \(subscription\)  id "op-2"\n/);
    expect(out).toMatch(/└ graphql-ws next Greetings \{"data":\{"greetings":"Bonjour"\}\}  id "op-2"  answers packet \d+ after [\d.]+ ms/);
    expect(out).toMatch(/└ graphql-ws stop  id "4"  ends the operation of packet \d+/);
  });

  it('--hide-heartbeats hides ping, pong and ka', async () => {
    const all = rows(await wsdump('--events', GRAPHQL));
    const shown = rows(await wsdump('--events', '--hide-heartbeats', GRAPHQL));
    const beats = all.filter((r) => / graphql-ws (ping|pong|ka)\b/.test(r));
    expect(beats.length).toBeGreaterThanOrEqual(8);
    expect(shown.filter((r) => / graphql-ws (ping|pong|ka)\b/.test(r))).toEqual([]);
    expect(shown.length).toBe(all.length - beats.length);
  });

  it('--summary counts the server\'s complete as answers, and the client\'s own complete/stop apart', async () => {
    const blocks = (await wsdump('--summary', GRAPHQL)).split(/\n(?=#\d+ )/);
    const [modern, legacy] = [blocks.find((b) => b.startsWith('#1 '))!, blocks.find((b) => b.startsWith('#2 '))!];
    // #1: three completes, one of them the client ending its own subscription (packet 30).
    expect(modern).toMatch(/graphql-ws complete answered 2 time\(s\) in /);
    expect(modern).toMatch(/graphql-ws complete from the requester itself \(not an answer\) 1 time\(s\), 94\.6\/94\.6\/94\.6 ms \(min\/median\/max\) after its request/);
    expect(legacy).toMatch(/graphql-ws complete answered 3 time\(s\) in /);
    expect(legacy).toMatch(/graphql-ws stop from the requester itself \(not an answer\) 1 time\(s\), 64\.3\/64\.3\/64\.3 ms/);
    expect(legacy).not.toMatch(/stop answered/);
  });

  it('--event matches operation names, in both dialects', async () => {
    const shown = rows(await wsdump('--events', '--event', 'Greetings', GRAPHQL));
    expect(shown.map((r) => r.replace(/^.*?graphql-ws (\S+) .*$/, '$1'))).toEqual(['subscribe', 'next', 'next', 'next', 'complete', 'start', 'data', 'data', 'data', 'complete']);
  });

  it('--explain takes a subscribe apart', async () => {
    const out = await wsdump('--explain', GRAPHQL);
    expect(out).toMatch(/└ graphql-ws subscribe "Hello", as sent:\n {5}\["type":"subscribe"\]\n {18}Subscribe: starts an operation/);
    expect(out).toMatch(/ {5}\["id":"op-1"\]\n {18}operation id, chosen by the client/);
  });
});
