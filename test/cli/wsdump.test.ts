import { createReadStream } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createWsdumpProgram, main } from '../../src/cli/wsdump.js';
import { dissect } from '../../src/engine/dissect.js';
import { eventToJson } from '../../src/render/json.js';
import { argv, fakeIo, ndjson } from './io.js';

const CHAT = 'fixtures/shared/suricata-websocket.pcap';
const PING = 'fixtures/shared/suricata-websocket-ping.pcap';
const DEFLATE = 'fixtures/shared/suricata-websocket-compressed.pcap';
const FRAG = 'fixtures/shared/suricata-websocket-control-frag.pcap';
const ESC = /\x1b/;

describe('wsdump CLI', () => {
  it('parses its options without spawning a process', () => {
    const program = createWsdumpProgram().exitOverride();
    program.parse(argv('--decode-as', '8080', '--decode-as', '9000', '--opcode', 'text,close', '--from', 'client', 'x.pcap'));
    expect(program.opts()).toMatchObject({ decodeAs: [8080, 9000], opcode: ['text', 'close'], from: 'client' });
  });

  it('prints the table without colors when stdout is not a terminal', async () => {
    const io = fakeIo();
    expect(await main(argv(CHAT), io)).toBe(0);
    expect(io.stdout.text).toMatch(/#1 10\.200\.30\.139:55233 → 88\.198\.55\.153:80\s+GET \/service HTTP\/1\.1/);
    expect(io.stdout.text).toContain('"echo,test message"');
    expect(io.stdout.text).not.toMatch(ESC);
    expect(io.stderr.text).toBe('');
  });

  it('colors a terminal, except with NO_COLOR, and --color forces colors', async () => {
    const tty = fakeIo({ tty: true });
    await main(argv(CHAT), tty);
    expect(tty.stdout.text).toMatch(ESC);
    const noColor = fakeIo({ tty: true, env: { NO_COLOR: '1' } });
    await main(argv(CHAT), noColor);
    expect(noColor.stdout.text).not.toMatch(ESC);
    const forced = fakeIo({ env: { NO_COLOR: '1' } });
    await main(argv('--color', CHAT), forced);
    expect(forced.stdout.text).toMatch(ESC);
  });

  it('emits NDJSON with the documented keys', async () => {
    const io = fakeIo();
    await main(argv('--json', CHAT), io);
    const events = ndjson(io.stdout.text);
    const types = new Set(events.map((e) => e.type));
    expect([...types]).toEqual(expect.arrayContaining(['connection', 'handshake', 'frame', 'message', 'end']));
    const conn = events.find((e) => e.type === 'connection')!;
    expect(conn).toMatchObject({ conn: 1, client: { ip: '10.200.30.139', port: 55233 }, server: { ip: '88.198.55.153', port: 80 } });
    const hs = events.find((e) => e.type === 'handshake')!;
    expect(hs).toMatchObject({ conn: 1, path: '/service', status: 101, acceptValid: true, subprotocol: null, extensions: [] });
    expect(typeof hs.key).toBe('string');
    expect(hs.accept).toBe(hs.expectedAccept);
    const frame = events.find((e) => e.type === 'frame' && e.from === 'client')!;
    for (const key of ['conn', 'from', 'packet', 'ts', 'fin', 'rsv1', 'rsv2', 'rsv3', 'opcode', 'masked', 'maskingKey', 'payloadLength']) expect(frame).toHaveProperty(key);
    expect(frame.maskingKey).toMatch(/^[0-9a-f]{8}$/);
    const message = events.find((e) => e.type === 'message')!;
    for (const key of ['conn', 'from', 'opcode', 'length', 'compressed', 'text']) expect(message).toHaveProperty(key);
  });

  it('writes --json exactly as eventToJson gives each event, in order', async () => {
    const io = fakeIo();
    await main(argv('--json', CHAT), io);
    const expected: string[] = [];
    for await (const event of dissect(CHAT)) expected.push(JSON.stringify(eventToJson(event, { maxHexBytes: 256 })) + '\n');
    expect(expected.length).toBeGreaterThan(20);
    expect(io.stdout.text).toBe(expected.join(''));
  });

  it('inflates permessage-deflate messages in --messages and --json', async () => {
    const io = fakeIo();
    await main(argv('--json', '--opcode', 'text', DEFLATE), io);
    const messages = ndjson(io.stdout.text).filter((e) => e.type === 'message');
    expect(messages.length).toBe(10);
    for (const m of messages) {
      expect(m.compressed).toBe(true);
      expect(m.text).toMatch(/^(KEY|TOGGLE)=[0-9a-f]+$/);
      expect(m.length).toBe(m.text.length);
    }
    const table = fakeIo();
    await main(argv('--messages', DEFLATE), table);
    expect(table.stdout.text).toMatch(/38→36\s+"KEY=07cb9559eff21e3e34f3bbd18240bac3"/);
  });

  it('reassembles a message with a Ping between its fragments', async () => {
    const io = fakeIo();
    await main(argv('--json', FRAG), io);
    const texts = ndjson(io.stdout.text).filter((e) => e.type === 'message' && e.opcodeName === 'text');
    expect(texts).toMatchObject([{ text: 'MALWARE_DOWNLOAD cmd.exe /c powershell -enc AAAA', fragments: 2 }]);
  });

  it('filters by direction and opcode', async () => {
    const io = fakeIo();
    await main(argv('--json', '--from', 'client', CHAT), io);
    const frames = ndjson(io.stdout.text).filter((e) => e.type === 'frame');
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.every((f) => f.from === 'client')).toBe(true);
  });

  it('filters by connection, host and port', async () => {
    const TWO = 'fixtures/real/two-connections.pcap';
    const all = fakeIo();
    await main(argv('--json', TWO), all);
    const conns = ndjson(all.stdout.text).filter((e) => e.type === 'connection');
    expect(conns.length).toBe(2);
    const only = async (...args: string[]) => {
      const io = fakeIo();
      await main(argv('--json', ...args, TWO), io);
      return [...new Set(ndjson(io.stdout.text).filter((e) => e.type === 'frame').map((e) => e.conn))];
    };
    expect(await only('--conn', '2')).toEqual([2]);
    expect(await only('--port', String(conns[0]!.client.port))).toEqual([1]);
    expect(await only('--host', '192.0.2.99')).toEqual([]);
    expect(await only('--host', conns[0]!.server.ip)).toEqual([1, 2]);
  });

  it('sets the preview length with --payload and shows everything with --full', async () => {
    const short = fakeIo();
    await main(argv('--payload', '6', CHAT), short);
    expect(short.stdout.text).toContain('"echo,t…"');
    const full = fakeIo();
    await main(argv('--full', '--payload', '6', CHAT), full);
    expect(full.stdout.text).toMatch(/\n\s+echo,test message\n/);
    const json = fakeIo();
    await main(argv('--json', '--payload', '2', CHAT), json);
    expect(ndjson(json.stdout.text).find((e) => e.type === 'frame')!.payload).toHaveLength(4);
  });

  it('summarises each connection', async () => {
    const io = fakeIo();
    await main(argv('--summary', CHAT), io);
    expect(io.stdout.text).toMatch(/#1 10\.200\.30\.139:55233 → 88\.198\.55\.153:80\s+websocket \/service/);
    expect(io.stdout.text).toMatch(/S→C 14 frames, 14 messages/);
    expect(io.stdout.text).not.toMatch(/"echo,test message"/);
  });

  it('exits 0 with alerts, and 2 with --strict when an error alert is raised', async () => {
    expect(await main(argv(PING), fakeIo())).toBe(0);
    expect(await main(argv('--strict', PING), fakeIo())).toBe(2);
    expect(await main(argv('--strict', CHAT), fakeIo())).toBe(0);
  });

  it('reads a capture from stdin with -', async () => {
    const io = fakeIo({ stdin: createReadStream(CHAT) });
    expect(await main(argv('--json', '-'), io)).toBe(0);
    expect(ndjson(io.stdout.text).filter((e) => e.type === 'frame').length).toBe(17);
  });

  it.each([
    ['a missing file', ['no-such-file.pcap'], /no-such-file\.pcap/],
    ['a directory', ['fixtures'], /fixtures/],
    ['a text file', ['package.json'], /not a pcap or pcapng file/],
  ])('gives one line and exit 1 for %s', async (_name, args, pattern) => {
    const io = fakeIo();
    expect(await main(argv(...args), io)).toBe(1);
    expect(io.stderr.text).toMatch(pattern);
    expect(io.stderr.text.trim().split('\n')).toHaveLength(1);
    expect(io.stderr.text).not.toMatch(/at .*\.ts:\d+/);
  });

  it('rejects bad arguments with exit 1', async () => {
    const io = fakeIo();
    expect(await main(argv('--decode-as', 'http', CHAT), io)).toBe(1);
    expect(io.stderr.text).toMatch(/port/);
    expect(await main(argv('--json', '--summary', CHAT), fakeIo())).toBe(1);
    expect(await main(argv(), fakeIo())).toBe(1);
  });

  it('prints --help with examples and exit codes, exit 0', async () => {
    const io = fakeIo();
    expect(await main(argv('--help'), io)).toBe(0);
    expect(io.stdout.text).toMatch(/Examples:/);
    expect(io.stdout.text).toMatch(/Exit codes/);
  });
});

describe('wsdump output errors', () => {
  it('reports a failing stdout in one line, exit 1, and a closed pipe (| head) quietly', async () => {
    const { Writable } = await import('node:stream');
    const failing = (code: string) =>
      Object.assign(
        new Writable({
          write(_chunk, _enc, done) {
            done(Object.assign(new Error(`write ${code}`), { code }));
          },
        }),
        { isTTY: false },
      );
    const full = { ...fakeIo(), stdout: failing('ENOSPC') };
    expect(await main(argv('fixtures/real/ws-basic.pcap'), full)).toBe(1);
    expect(full.stderr.text).toBe('wsdump: cannot write the output: write ENOSPC\n');
    const pipe = { ...fakeIo(), stdout: failing('EPIPE') };
    expect(await main(argv('fixtures/real/ws-basic.pcap'), pipe)).toBe(0);
    expect(pipe.stderr.text).toBe('');
  });
});
