/**
 * The teaching views, checked on the RFC's own examples: every frame of RFC 6455 §5.7 field by
 * field (all three length encodings), the §5.3 unmasking of the masked "Hello", the §1.3
 * Accept derivation, and the hex input's error messages.
 */
import { describe, expect, it } from 'vitest';
import { acceptSteps, ExplainRenderer, renderAccept } from '../../src/render/explain.js';
import { checkFrames, decodeHexFrames, HexInputError, inferDirection, parseHex } from '../../src/render/hex-input.js';
import { visibleLength, wrapLine } from '../../src/render/wrap.js';

/** The explain view of frames typed as hex, as `wsdump --decode-hex` renders it (no color). */
function explain(hex: string, direction?: 'client' | 'server'): string {
  const bytes = parseHex(hex);
  checkFrames(bytes);
  const renderer = new ExplainRenderer({ colorLevel: 0, source: 'hex' });
  return decodeHexFrames(bytes, direction ?? inferDirection(bytes))
    .map((e) => renderer.render(e))
    .join('');
}

/** The value column of a field line ("   FIN     1        final frame…"). */
function field(text: string, name: string): string {
  const line = text.split('\n').find((l) => l.startsWith(`   ${name.padEnd(7)} `));
  if (line === undefined) throw new Error(`no ${name} line in:\n${text}`);
  return line.slice(11, 19).trim();
}

const zeros = (n: number) => '00'.repeat(n);

// RFC 6455 §5.7
const UNMASKED_HELLO = '810548656c6c6f';
const MASKED_HELLO = '818537fa213d7f9f4d5158';
const FRAGMENTED_HELLO = '010348656c' + '80026c6f';
const PING = '890548656c6c6f';
const MASKED_PONG = '8a8537fa213d7f9f4d5158';
const BINARY_256 = '827e0100' + zeros(256);
const BINARY_64K = '827f0000000000010000' + zeros(65536);

describe('explain view of the RFC 6455 §5.7 frames', () => {
  it('a single-frame unmasked text message', () => {
    const text = explain(UNMASKED_HELLO);
    expect(text).toContain('unmasked text frame: 7 bytes = 2 header + 5 payload');
    expect(field(text, 'FIN')).toBe('1');
    expect(field(text, 'RSV1-3')).toBe('0 0 0');
    expect(field(text, 'opcode')).toBe('0x1');
    expect(field(text, 'MASK')).toBe('0');
    expect(field(text, 'length')).toBe('5');
    expect(text).not.toMatch(/^ {3}key /m);
    expect(text).toContain('   |1|0|0|0|0 0 0 1|0|0 0 0 0 1 0 1|0 1 0 0 1 0 0 0 0 1 1 0 0 1 0 1|');
    expect(text).toMatch(/\[81\] +byte 0 = 1 000 0001: FIN 1, RSV 000, opcode 0x1/);
    expect(text).toMatch(/\[05\] +byte 1 = 0 0000101: MASK 0, Payload len 5/);
    expect(text).toMatch(/\[48 65 6c 6c 6f\] +payload as sent, 5 bytes/);
    expect(text).toContain('not masked: the payload bytes are the data as they are');
    expect(text).toContain('data: "Hello" (5 bytes, text)');
    expect(text).not.toMatch(/✖|▲/);
  });

  it('a single-frame masked text message, unmasked byte by byte', () => {
    const text = explain(MASKED_HELLO);
    expect(text).toContain('frame 1: client → server, input bytes 0-10');
    expect(text).toContain('masked text frame: 11 bytes = 2 header + 4 key + 5 payload');
    expect(field(text, 'FIN')).toBe('1');
    expect(field(text, 'opcode')).toBe('0x1');
    expect(field(text, 'MASK')).toBe('1');
    expect(field(text, 'length')).toBe('5');
    expect(field(text, 'key')).toBe('37fa213d');
    // The diagram: the first row carries the first half of the key, the second its rest and the payload.
    expect(text).toContain('   |1|0|0|0|0 0 0 1|1|0 0 0 0 1 0 1|0 0 1 1 0 1 1 1 1 1 1 1 1 0 1 0|');
    expect(text).toContain('   | | | | |  0x1  | |      5      |             37 fa             |');
    expect(text).toContain('   |0 0 1 0 0 0 0 1 0 0 1 1 1 1 0 1|0 1 1 1 1 1 1 1 1 0 0 1 1 1 1 1|');
    expect(text).toMatch(/\[37 fa 21 3d\] +masking key/);
    expect(text).toMatch(/\[7f 9f 4d 51 58\] +payload as sent \(masked\), 5 bytes/);
    expect(text).toContain('unmasking (§5.3): data byte i = payload byte i XOR key byte (i mod 4)');
    expect(text).toContain("i=0   0x7f ^ 0x37 (key[0]) = 0x48 'H'");
    expect(text).toContain("i=1   0x9f ^ 0xfa (key[1]) = 0x65 'e'");
    expect(text).toContain("i=2   0x4d ^ 0x21 (key[2]) = 0x6c 'l'");
    expect(text).toContain("i=3   0x51 ^ 0x3d (key[3]) = 0x6c 'l'");
    expect(text).toContain("i=4   0x58 ^ 0x37 (key[0]) = 0x6f 'o'");
    expect(text).toContain('data: "Hello" (5 bytes, text)');
    expect(text).not.toMatch(/✖|▲/);
  });

  it('a fragmented unmasked text message', () => {
    const text = explain(FRAGMENTED_HELLO);
    const [first, second] = text.split(/^── frame 2/m);
    expect(field(first!, 'FIN')).toBe('0');
    expect(first).toContain('more fragments follow: the message continues (§5.4)');
    expect(field(first!, 'opcode')).toBe('0x1');
    expect(field(first!, 'length')).toBe('3');
    expect(first).toContain('data: "Hel" (3 bytes, text)');
    expect(field(second!, 'FIN')).toBe('1');
    expect(field(second!, 'opcode')).toBe('0x0');
    expect(second).toContain('continuation: the next fragment of the open message (§5.4)');
    expect(second).toContain('data: "lo" (2 bytes)');
    expect(second).toMatch(/text message reassembled from 2 fragments \(§5\.4\), 5 bytes:\n\s+"Hello"/);
  });

  it('an unmasked Ping and a masked Pong', () => {
    const ping = explain(PING);
    expect(field(ping, 'opcode')).toBe('0x9');
    expect(ping).toContain('ping: asks the peer for a Pong (§5.5.2)');
    const pong = explain(MASKED_PONG);
    expect(field(pong, 'opcode')).toBe('0xa');
    expect(field(pong, 'MASK')).toBe('1');
    expect(field(pong, 'key')).toBe('37fa213d');
    expect(pong).toContain("i=0   0x7f ^ 0x37 (key[0]) = 0x48 'H'");
  });

  it('256 bytes of binary data: the 16-bit length', () => {
    const text = explain(BINARY_256);
    expect(text).toContain('unmasked binary frame: 260 bytes = 2 header + 2 length + 256 payload');
    expect(field(text, 'opcode')).toBe('0x2');
    expect(field(text, 'length')).toBe('126');
    expect(text).toContain('126: the length is the 16-bit number that follows');
    expect(field(text, 'ext 16')).toBe('256');
    expect(text).toContain('   |1|0|0|0|0 0 1 0|0|1 1 1 1 1 1 0|0 0 0 0 0 0 0 1 0 0 0 0 0 0 0 0|');
    expect(text).toContain('|             = 256             |');
    expect(text).toMatch(/\[7e\] +byte 1 = 0 1111110: MASK 0, Payload len 126/);
    expect(text).toMatch(/\[01 00\] +extended length \(16-bit\): 256/);
    expect(text).toMatch(/\[00 00 00 00 00 00 00 …\] +payload as sent, 256 bytes/);
  });

  it('64 KiB of binary data: the 64-bit length', () => {
    const text = explain(BINARY_64K);
    expect(text).toContain('unmasked binary frame: 65546 bytes = 2 header + 8 length + 65536 payload');
    expect(field(text, 'length')).toBe('127');
    expect(text).toContain('127: the length is the 64-bit number that follows');
    expect(field(text, 'ext 64')).toBe('65536');
    expect(text).toContain('|                 Ext. payload length continued                 |');
    expect(text).toContain('|0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1|');
    expect(text).toMatch(/\[00 00 00 00 00 01 00 …\] +extended length \(64-bit\): 65536/);
  });

  it('summarises the unmasking after the first 8 bytes', () => {
    const key = Uint8Array.of(1, 2, 3, 4);
    const data = new TextEncoder().encode('abcdefghijklmnop');
    const masked = data.map((b, i) => b ^ key[i % 4]!);
    const text = explain('8190' + '01020304' + Buffer.from(masked).toString('hex'));
    expect(text).toContain("i=7   0x6c ^ 0x04 (key[3]) = 0x68 'h'");
    expect(text).not.toContain('i=8 ');
    expect(text).toContain('… bytes 8-15: the same, the key index cycling 0 1 2 3');
    expect(text).toContain('data: "abcdefghijklmnop" (16 bytes, text)');
  });

  it('puts each alert under its frame with the rule it enforces', () => {
    const text = explain(MASKED_HELLO, 'server');
    expect(field(text, 'MASK')).toBe('1');
    expect(text).toContain('masked, but a server must not mask (§5.1)');
    expect(text).toContain('✖ error frame.server-masked (RFC 6455 §5.1)');
    expect(text).toContain('rule: A server must not mask the frames it sends.');
  });

  it('fits 80 columns', () => {
    for (const hex of [UNMASKED_HELLO, MASKED_HELLO, FRAGMENTED_HELLO, BINARY_256, BINARY_64K]) {
      for (const line of explain(hex).split('\n')) expect(visibleLength(line), line).toBeLessThanOrEqual(80);
    }
  });
});

describe('hex input', () => {
  it('reads hex with whitespace, 0x prefixes, colons and commas', () => {
    expect(Buffer.from(parseHex('81 85\n37fa213d\t7f9f4d5158')).toString('hex')).toBe(MASKED_HELLO);
    expect(Buffer.from(parseHex('0x81 0x05 48:65:6C,6c,6f')).toString('hex')).toBe(UNMASKED_HELLO);
  });

  it.each([
    ['an odd number of digits', '818', 'odd number of hex digits (3): every byte takes two, so one digit is missing or extra'],
    ['a character that is not hex', '81 8g', '"g" at character 5 is not a hex digit'],
    ['nothing', '  \n', 'no hex digits given'],
  ])('rejects %s', (_name, input, message) => {
    expect(() => parseHex(input)).toThrow(HexInputError);
    expect(() => parseHex(input)).toThrow(message);
  });

  it.each([
    ['the second header byte', '81', 'frame 1 is cut: the first 2 header bytes need 1 more byte'],
    ['the 16-bit length', '817e01', 'frame 1 is cut: the 16-bit length needs 1 more byte'],
    ['the 16-bit length (empty)', '817e', 'frame 1 is cut: the 16-bit length needs 2 more bytes'],
    ['the 64-bit length', '827f000000', 'frame 1 is cut: the 64-bit length needs 5 more bytes'],
    ['the masking key', '818537fa', 'frame 1 is cut: the masking key needs 2 more bytes'],
    ['the payload', '818537fa213d7f9f', 'frame 1 is cut: the payload needs 3 more bytes (its length is 5, 2 given)'],
    ['the second frame', UNMASKED_HELLO + '8a', 'frame 2 is cut: the first 2 header bytes need 1 more byte'],
  ])('says what is missing when %s is cut', (_name, hex, message) => {
    expect(() => checkFrames(parseHex(hex))).toThrow(message);
  });

  it('finds frames back to back and infers the sender from the MASK bit', () => {
    expect(checkFrames(parseHex(FRAGMENTED_HELLO))).toEqual([
      { start: 0, end: 5 },
      { start: 5, end: 9 },
    ]);
    expect(inferDirection(parseHex(MASKED_HELLO))).toBe('client');
    expect(inferDirection(parseHex(UNMASKED_HELLO))).toBe('server');
  });
});

describe('Sec-WebSocket-Accept derivation', () => {
  it('follows RFC 6455 §1.3 step by step', () => {
    const s = acceptSteps('dGhlIHNhbXBsZSBub25jZQ==');
    expect(s.concatenated).toBe('dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
    expect(s.sha1Hex).toBe('b37a4f2cc0624f1690f64606cf385945b2bec4ea');
    expect(s.accept).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(s.valid).toBe(true);
    expect(Buffer.from(s.keyBytes!).toString()).toBe('the sample nonce');
    const text = renderAccept('dGhlIHNhbXBsZSBub25jZQ==', { colorLevel: 0 });
    expect(text).toContain('      dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
    expect(text).toContain('      b37a4f2cc0624f1690f64606cf385945b2bec4ea');
    expect(text).toContain('✓ base64 of 16 bytes');
    expect(text).toContain('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n');
    for (const line of text.split('\n')) expect(visibleLength(line)).toBeLessThanOrEqual(80);
  });

  it.each([
    ['base64 of 18 bytes', 'c3VyaWNhdGEtdGVzdC1rZXkh', 'base64 encoding of 18 bytes, not 16'],
    ['not base64', 'not a key!', 'it is not base64'],
    ['a non-canonical spelling of 16 bytes', 'dGhlIHNhbXBsZSBub25jZR==', 'not their canonical base64 spelling'],
    ['empty', '', 'it is empty'],
  ])('computes the Accept of a key that is %s anyway, and flags it', (_name, key, problem) => {
    const s = acceptSteps(key);
    expect(s.valid).toBe(false);
    expect(s.problem).toContain(problem);
    const text = renderAccept(key, { colorLevel: 0 });
    expect(text.replace(/\n +/g, ' ')).toContain(`✖ Not a valid Sec-WebSocket-Key: ${s.problem}. RFC 6455 §4.1`);
    expect(text.replace(/\n +/g, ' ')).toContain('(400 Bad Request, §4.2.1)');
    expect(text).toContain(`Sec-WebSocket-Accept: ${s.accept}  ✖ for an invalid key`);
  });
});

describe('wrapLine', () => {
  it('folds at spaces with a hanging indent and leaves short lines alone', () => {
    expect(wrapLine('   short', 20)).toBe('   short');
    expect(wrapLine('   aaaaaaaa bbbbbbbb cccccccc dddddddd', 30)).toBe('   aaaaaaaa bbbbbbbb cccccccc\n     dddddddd');
  });

  it('does not count color sequences and cuts words longer than the width', () => {
    const red = '\x1b[31mred\x1b[39m';
    expect(wrapLine(`${red} ${red} ${red}`, 11)).toBe(`${red} ${red} ${red}`);
    expect(wrapLine(`${red} ${red} ${red} ${red} ${red} ${red}`, 22)).toBe(`${red} ${red} ${red} ${red} ${red}\n  ${red}`);
    expect(wrapLine('x'.repeat(55), 25).split('\n').map((l) => l.length)).toEqual([25, 25, 9]);
  });
});
