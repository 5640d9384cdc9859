/**
 * The teaching views through the CLI: --explain over captures (with the filters), --decode-hex
 * (argument and stdin, bad input), --accept, the optional capture argument, 80-column fit of
 * these views and of the compact frame table, and terminal safety of the explain view.
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/wsdump.js';
import { visibleLength } from '../../src/render/wrap.js';
import { argv, fakeIo } from './io.js';

const CLEAN = 'fixtures/crafted/clean.pcap';
const ESCAPES = 'fixtures/crafted/terminal-escapes.pcap';
const SGR = /\x1b\[[0-9;]*m/g;
const UNSAFE = /[\x1b\x00-\x08\x0b-\x1f\x7f\u0080-\u009f\u202a-\u202e\u2066-\u2069]/u;

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = fakeIo();
  const code = await main(argv(...args), io);
  return { code, out: io.stdout.text, err: io.stderr.text };
}

function longest(text: string): number {
  return Math.max(...text.split('\n').map(visibleLength));
}

const frameTitles = (text: string) => text.split('\n').filter((l) => /^── (#\d+ \S+ frame|frame \d+:)/.test(l));

describe('wsdump --explain', () => {
  it('explains the handshake header by header, with the Accept computation and its verdict', async () => {
    const { code, out } = await run('--explain', CLEAN);
    expect(code).toBe(0);
    expect(out).toMatch(/^── #1 192\.0\.2\.10:51000 → 198\.51\.100\.20:8080 opening handshake \(RFC 6455 §4\)/);
    expect(out).toContain('     GET /chat HTTP/1.1');
    expect(out).toMatch(/Upgrade: websocket\n\s+└ asks to switch this connection from HTTP to WebSocket/);
    expect(out).toMatch(/Sec-WebSocket-Key: \S+\n\s+└ a random 16-byte nonce in base64/);
    expect(out).toMatch(/Sec-WebSocket-Version: 13\n\s+└ version 13 is RFC 6455/);
    expect(out).toContain('✓ 101: agreed');
    expect(out).toMatch(/key \+ GUID {2}\S+==258EAFA5-E914-47DA-95CA-C5AB0DC85B11/);
    expect(out).toMatch(/SHA-1 {7}[0-9a-f]{40}/);
    expect(out).toMatch(/received {4}E3xFJFwhjXJC2DG8SkkBZ8C\/pU4= {2}✓ match/);
  });

  it('explains every frame with its packet and the same colors as the table', async () => {
    const { out } = await run('--explain', CLEAN);
    expect(frameTitles(out)).toHaveLength(7);
    expect(out).toContain('── #1 C→S frame, packet 6, 0.003000 s ──');
    expect(out).toContain('data: close code 03 e8 = 1000 Normal Closure');
    const colored = fakeIo();
    await main(argv('--explain', '--color', CLEAN), colored);
    const blue = '\x1b[34m';
    // MASK and the masking key are blue in the table; so they are here.
    expect(colored.stdout.text).toContain(`${blue}MASK   \x1b[39m`);
    expect(colored.stdout.text).toContain(`${blue}key    \x1b[39m`);
  });

  it('works with the filters', async () => {
    const client = await run('--explain', '--from', 'client', CLEAN);
    expect(frameTitles(client.out)).toHaveLength(3);
    expect(frameTitles(client.out).every((t) => t.includes('C→S'))).toBe(true);
    const close = await run('--explain', '--opcode', 'close', CLEAN);
    expect(frameTitles(close.out)).toHaveLength(2);
    const none = await run('--explain', '--conn', '2', CLEAN);
    expect(frameTitles(none.out)).toHaveLength(0);
  });

  it('shows a violation under its frame with the rule', async () => {
    const { out } = await run('--explain', 'fixtures/crafted/frame-client-unmasked.pcap');
    expect(out).toContain('not masked, but a client must mask (§5.1)');
    expect(out).toContain('✖ error frame.client-unmasked (RFC 6455 §5.1)');
    expect(out).toContain('rule: A client must mask every frame it sends.');
  });

  it('flags a wrong Accept', async () => {
    const { out } = await run('--explain', 'fixtures/crafted/handshake-accept-wrong.pcap');
    expect(out).toMatch(/received {4}s3pPLMBiTxaQ9kYGzzhZRbK\+xOo= {2}✖ mismatch/);
    expect(out).toContain('✖ error handshake.accept-mismatch');
  });

  it('escapes control sequences from payloads, headers and reasons', async () => {
    for (const color of ['--no-color', '--color']) {
      const { out } = await run('--explain', color, ESCAPES);
      expect(out.replace(SGR, '').replace(/\n/g, '')).not.toMatch(UNSAFE);
      expect(out).toContain('\\e[2J');
      expect(out).toContain('\\u{202e}');
    }
  });

  it('refuses to be combined with another view', async () => {
    const { code, err } = await run('--explain', '--json', CLEAN);
    expect(code).toBe(1);
    expect(err).toMatch(/choose one of/);
  });
});

describe('wsdump --decode-hex', () => {
  it('explains the RFC 6455 §5.7 masked "Hello", inferring the sender from MASK', async () => {
    const { code, out, err } = await run('--decode-hex', '818537fa213d7f9f4d5158');
    expect(code).toBe(0);
    expect(err).toBe('');
    expect(out.replace(/\n/g, ' ')).toMatch(/^11 bytes, 1 frame, sent by the client: inferred from MASK = 1 in frame 1/);
    expect(out).toContain('masked text frame: 11 bytes');
    expect(out).toMatch(/key +37fa213d/);
    expect(out).toContain("0x7f ^ 0x37 (key[0]) = 0x48 'H'");
    expect(out).toContain('data: "Hello" (5 bytes, text)');
  });

  it('reads hex from stdin with -, whitespace and several frames allowed', async () => {
    const io = fakeIo({ stdin: Readable.from(['01 03 48 65 6c\n', '80 02 6c 6f\n']) });
    expect(await main(argv('--decode-hex', '-'), io)).toBe(0);
    expect(frameTitles(io.stdout.text)).toEqual([expect.stringContaining('frame 1: server → client, input bytes 0-4'), expect.stringContaining('frame 2: server → client, input bytes 5-8')]);
    expect(io.stdout.text).toMatch(/reassembled from 2 fragments/);
  });

  it('takes the direction from --from', async () => {
    const { out } = await run('--decode-hex', '818537fa213d7f9f4d5158', '--from', 'server');
    expect(out).toContain('sent by the server: as --from says');
    expect(out).toContain('✖ error frame.server-masked');
  });

  it('prints NDJSON with --json', async () => {
    const { out } = await run('--json', '--decode-hex', '818537fa213d7f9f4d5158');
    const frame = out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .find((e) => e.type === 'frame');
    expect(frame).toMatchObject({ from: 'client', masked: true, maskingKey: '37fa213d', payloadLength: 5 });
  });

  it.each([
    ['odd length', '818', 'wsdump: --decode-hex: odd number of hex digits (3)'],
    ['a non-hex character', '81 0q', 'wsdump: --decode-hex: "q" at character 5 is not a hex digit'],
    ['a cut 16-bit length', '817e01', 'wsdump: --decode-hex: frame 1 is cut: the 16-bit length needs 1 more byte'],
    ['a cut masking key', '8185', 'wsdump: --decode-hex: frame 1 is cut: the masking key needs 4 more bytes'],
    ['a cut payload', '818537fa213d7f', 'wsdump: --decode-hex: frame 1 is cut: the payload needs 4 more bytes (its length is 5, 1 given)'],
  ])('gives one line and exit 1 for %s', async (_name, hex, message) => {
    const { code, out, err } = await run('--decode-hex', hex);
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err.startsWith(message)).toBe(true);
    expect(err.trim().split('\n')).toHaveLength(1);
  });
});

describe('wsdump --accept', () => {
  it('derives the RFC 6455 §1.3 Accept step by step', async () => {
    const { code, out } = await run('--accept', 'dGhlIHNhbXBsZSBub25jZQ==');
    expect(code).toBe(0);
    expect(out).toContain('dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
    expect(out).toContain('b37a4f2cc0624f1690f64606cf385945b2bec4ea');
    expect(out).toContain('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('computes an invalid key anyway and flags it', async () => {
    const { code, out } = await run('--accept', 'c3VyaWNhdGEtdGVzdC1rZXkh');
    expect(code).toBe(0);
    expect(out).toContain('✖ Not a valid Sec-WebSocket-Key: it is the base64 encoding of 18 bytes, not');
    expect(out).toContain('Sec-WebSocket-Accept: i/Zf3S99/cVt3n5lmMrHSsr5Kqk=  ✖ for an invalid key');
  });
});

describe('the capture argument', () => {
  it('is required without --decode-hex or --accept, with a one-line message', async () => {
    const { code, err } = await run();
    expect(code).toBe(1);
    expect(err).toMatch(/^wsdump: missing the capture argument/);
    expect(err.trim().split('\n')).toHaveLength(1);
  });

  it('is refused with --decode-hex or --accept', async () => {
    expect((await run('--accept', 'dGhlIHNhbXBsZSBub25jZQ==', CLEAN)).code).toBe(1);
    expect((await run('--decode-hex', '8100', CLEAN)).err).toMatch(/--decode-hex takes no capture argument/);
  });
});

describe('80 columns', () => {
  const captures = [CLEAN, ESCAPES, 'fixtures/crafted/frame-length-msb.pcap', 'fixtures/crafted/handshake-deflate-bad-param.pcap', 'fixtures/shared/suricata-websocket-control-frag.pcap', 'fixtures/real/deflate.pcap', 'fixtures/real/ipv6.pcap', 'fixtures/real/refused-upgrades.pcap'];

  it.each(captures)('the explain view of %s fits by default', async (file) => {
    const { out } = await run('--explain', file);
    expect(longest(out)).toBeLessThanOrEqual(80);
  });

  it.each(captures)('the frame, message and summary tables of %s fit with --width 80', async (file) => {
    for (const view of [[], ['--messages'], ['--summary']]) {
      const { out } = await run('--width', '80', ...view, file);
      expect(longest(out)).toBeLessThanOrEqual(80);
    }
  });

  it('the decode-hex and accept views fit by default', async () => {
    expect(longest((await run('--decode-hex', '827f0000000000010000' + '00'.repeat(65536))).out)).toBeLessThanOrEqual(80);
    expect(longest((await run('--accept', 'x'.repeat(200))).out)).toBeLessThanOrEqual(80);
  });

  it('narrow tables merge FIN, RSV and MASK into one Flags cell; wide ones keep the columns', async () => {
    const narrow = (await run('--width', '80', CLEAN)).out;
    expect(narrow).toMatch(/No\. +Time +Conn Dir Flags Opcode +Length +Key +Payload/);
    expect(narrow).toMatch(/ 6 +0\.003 +#1 +C→S F---M text +5 +875daeb1 "hello"/);
    const wide = (await run('--width', '120', CLEAN)).out;
    expect(wide).toMatch(/No\. +Time +Conn Dir FIN RSV Opcode +MASK Length +Key +Payload/);
    expect(wide).toMatch(/ 6 +0\.003000 +#1 +C→S 1 +000 text +1 +5 +875daeb1 "hello"/);
  });
});

describe('README', () => {
  it('documents every long option of wsdump --help', async () => {
    const { out } = await run('--help');
    const readme = readFileSync('README.md', 'utf8');
    const options = [...new Set(out.match(/--[a-z][a-z-]+/g))];
    expect(options).toEqual(expect.arrayContaining(['--explain', '--decode-hex', '--accept']));
    expect(options.filter((o) => !readme.includes(o))).toEqual([]);
  });
});
