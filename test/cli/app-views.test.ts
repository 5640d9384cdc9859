/**
 * The application layer in every view of wsdump, on the real Socket.IO capture (a socket.io
 * server and the Node.js client) and crafted ones.
 */
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/wsdump.js';
import { argv, fakeIo, ndjson } from './io.js';

const SIO = 'fixtures/real/socketio-node.pcap';
const DISPLAY = 'fixtures/crafted/app-display.pcap';
const RPC = 'fixtures/crafted/app-jsonrpc-violations.pcap';
const PRETTY = 'fixtures/crafted/app-json-pretty.pcap';

async function wsdump(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = fakeIo();
  const code = await main(argv(...args), io);
  return { code, out: io.stdout.text, err: io.stderr.text };
}

const lines = (text: string, pattern: RegExp) => text.split('\n').filter((l) => pattern.test(l));

describe('wsdump shows application messages', () => {
  it('the table: each under the message it came from', async () => {
    const { code, out } = await wsdump(SIO);
    expect(code).toBe(0);
    expect(out).toMatch(/"42\["pushMsg","你好"\]"\n   └ socket\.io event pushMsg \["你好"\]  nsp \/\n/);
    // A binary event is shown under its last attachment, the placeholder replaced.
    expect(out).toMatch(/01 02 03 04\n   └ socket\.io event upload \[<4 bytes 01020304>,"name\.bin"\]  nsp \/\n/);
    expect(out).toMatch(/└ socket\.io ack 0 \["got it",42\]  nsp \/  answers packet \d+ after [\d.]+ ms/);
    expect(out).toMatch(/└ engine\.io open sid \S+  pingInterval 400 ms  pingTimeout 300 ms/);
  });

  it('--messages: the application message instead of the raw text', async () => {
    const { out } = await wsdump('--messages', SIO);
    expect(out).toMatch(/S→C text\s+1\s+22\s+socket\.io event pushMsg \["你好"\]  nsp \/\n/);
    expect(out).not.toContain('"42["pushMsg"');
    expect(lines(out, /└ socket\.io event pushMsg/)).toEqual([]);
  });

  it('--events: one row per application message, nothing else', async () => {
    const { out } = await wsdump('--events', SIO);
    const rows = out.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^ No\.\s+Time\s+Conn Dir Via\s+Application message$/);
    expect(rows.slice(1).every((r) => /^ \d+\s+[\d.]+\s+#1\s+(C→S|S→C) ws\s+(socket\.io|engine\.io) /.test(r))).toBe(true);
    expect(rows.length - 1).toBe(24);
    expect(out).not.toMatch(/GET \/socket\.io|summary|Sec-WebSocket/);
  });

  it('--summary: counts per kind and name, and the latency of each kind of answer', async () => {
    const { out } = await wsdump('--summary', SIO);
    expect(out).toMatch(/app: 24 message\(s\): engine\.io 5, socket\.io 19, session \S+/);
    expect(out).toMatch(/by kind: .*socket\.io event 8, socket\.io ack 3/);
    expect(out).toMatch(/by name: chat message 2, sendMsg 1, pushMsg 1/);
    expect(out).toMatch(/socket\.io ack answered 3 time\(s\) in [\d.]+\/[\d.]+\/[\d.]+ ms \(min\/median\/max\)/);
    // Two answers: the median is the mean of the two, as in the heartbeat lines.
    const pong = /engine\.io pong answered 2 time\(s\) in ([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(out);
    expect(pong).not.toBeNull();
    const [min, median, max] = pong!.slice(1).map(Number) as [number, number, number];
    expect(max).toBeGreaterThan(min);
    expect(median).toBeCloseTo((min + max) / 2, 2);
  });

  it('--explain takes a Socket.IO packet apart', async () => {
    const { out } = await wsdump('--explain', SIO);
    const files = out.slice(out.indexOf('└ socket.io event "files"'));
    expect(files).toMatch(/\[4\]\s+Engine\.IO packet type 4, message/);
    expect(files).toMatch(/\[5\]\s+Socket\.IO packet type 5, BINARY_EVENT/);
    expect(files).toMatch(/\[2-\]\s+2 binary attachment\(s\)/);
    expect(files).toMatch(/\(none\)\s+no namespace: the main namespace "\/"/);
    expect(files).toMatch(/\[1\]\s+ack id 1: the sender asks for an ACK with this id/);
    expect(files).toMatch(/attachment 2 of 2/);
    expect(files).toMatch(/"hex": "00010203040506070809"/);
  });

  it('--json: app events with the shared keys, right after their message', async () => {
    const { out } = await wsdump('--json', SIO);
    const events = ndjson(out);
    const i = events.findIndex((e) => e.type === 'app' && e.event === 'pushMsg');
    expect(events[i - 1]).toMatchObject({ type: 'message', text: '42["pushMsg","你好"]' });
    expect(Object.keys(events[i]!)).toEqual(['type', 'conn', 'from', 'packet', 'ts', 'transport', 'protocol', 'kind', 'session', 'summary', 'replyTo', 'latencyMs', 'heartbeat', 'alerts', 'nsp', 'event', 'args', 'ackId']);
    expect(events[i]).toMatchObject({ from: 'server', packet: events[i - 1]!.packet, transport: 'websocket', protocol: 'socket.io', kind: 'event', nsp: '/', args: ['你好'], ackId: null, replyTo: null });
    const files = events.find((e) => e.event === 'files')!;
    expect(files.args[0].b.length).toBe(300);
    expect(files.args[0].b.hex).toHaveLength(2 * 256);
    const full = ndjson((await wsdump('--json', '--full', SIO)).out).find((e) => e.event === 'files')!;
    expect(full.args[0].b.hex).toHaveLength(2 * 300);
  });

  it('--app none leaves the layer out; --app NAME forces a decoder; a bad name is refused', async () => {
    expect((await wsdump('--json', '--app', 'none', SIO)).out).not.toContain('"type":"app"');
    const forced = ndjson((await wsdump('--json', '--app', 'json', PRETTY)).out).filter((e) => e.type === 'app');
    expect(forced.map((e) => [e.kind, e.data])).toEqual([['object', { type: 'subscribe', symbol: 'ACME' }], ['object', { type: 'price', symbol: 'ACME', bid: 12.5 }], ['array', [1, 2]]]);
    const bad = await wsdump('--app', 'nope', SIO);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--app <name>' argument 'nope' is invalid\. Allowed choices are socket\.io, engine\.io, json-rpc/);
  });

  it('--event, --grep and --hide-heartbeats filter by meaning, and count what they hide', async () => {
    const upload = await wsdump('--event', 'up*', SIO);
    expect(lines(upload.out, /└/)).toEqual(['   └ socket.io event upload [<4 bytes 01020304>,"name.bin"]  nsp /']);
    expect(lines(upload.out, /^ \d+ /).length).toBe(1);
    const chat = await wsdump('--events', '--event', 'chat*', '--event', 'hello', SIO);
    expect(lines(chat.out, /^ \d+ /).map((l) => l.replace(/^.* ws\s+/, ''))).toEqual(['socket.io event hello ["world"]  nsp /  ack 0', 'socket.io event chat message [{"text":"in /chat"}]  nsp /chat', 'socket.io event chat message [{"from":"server","echo":"in /chat"}]  nsp /chat']);
    const grep = await wsdump('--messages', '--grep', 'answer|你', SIO);
    expect(lines(grep.out, /^ \d+ /).map((l) => l.replace(/^.*\d\s{2,}/, ''))).toEqual(['socket.io event pushMsg ["你好"]  nsp /', expect.stringMatching(/^socket\.io ack 0 \[\{"answer":2\}\]/)]);
    const quiet = await wsdump('--hide-heartbeats', SIO);
    expect(quiet.out).not.toMatch(/engine\.io (ping|pong)|"2"|"3"/);
    expect(quiet.out).toContain('close C→S no code, S→C no code; no alerts; 4 heartbeat message(s) hidden');
    const quietSummary = await wsdump('--summary', '--hide-heartbeats', SIO);
    expect(quietSummary.out).toContain('4 heartbeat message(s) hidden (--hide-heartbeats)');
    const ws = await wsdump('--hide-heartbeats', 'fixtures/real/ws-basic.pcap');
    expect(ws.out).not.toMatch(/ ping | pong /);
    expect(ws.out).toContain('4 heartbeat message(s) hidden');
  });

  it('--strict counts the errors of application messages', async () => {
    expect((await wsdump('--strict', RPC)).code).toBe(2);
    expect((await wsdump('--strict', SIO)).code).toBe(0);
  });

  it('escapes what the traffic says in every view', async () => {
    for (const view of [[], ['--messages'], ['--events'], ['--explain'], ['--summary']]) {
      const { out } = await wsdump(...view, DISPLAY);
      expect(out, view.join(' ')).not.toMatch(/[\x1b\x9b\u202e]/);
      if (view[0] !== '--summary') expect(out, view.join(' ')).toContain('evil\\e[2Jname');
    }
  });

  it('shows JSON that no protocol claims compact in the table, indented in --explain', async () => {
    expect((await wsdump('--width', '200', PRETTY)).out).toContain('"{"type":"price","symbol":"ACME","bid":12.5}"');
    expect((await wsdump('--messages', PRETTY)).out).toContain('"[1,2]"');
    const explain = (await wsdump('--explain', PRETTY)).out;
    expect(explain).toContain('└ JSON (no application protocol recognised), indented:\n       {\n         "type": "price",\n         "symbol": "ACME",\n         "bid": 12.5\n       }');
  });
});
