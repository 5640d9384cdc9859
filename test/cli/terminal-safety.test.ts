import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/wsdump.js';
import { argv, fakeIo, ndjson } from './io.js';

const ESCAPES = 'fixtures/crafted/terminal-escapes.pcap';
/** Tag characters, fillers, selectors, C1, U+2028/9, U+FEFF, bidi in text, a close reason, a header and the path. */
const INVISIBLE = 'fixtures/crafted/terminal-invisible.pcap';
/** chalk's own sequences: SGR only (ESC [ params m). */
const SGR = /\x1b\[[0-9;]*m/g;
/**
 * What must never reach the terminal from the traffic: controls (ESC, C1 incl. CSI 0x9B, DEL),
 * format and default-ignorable characters (bidi overrides, zero-width and tag characters,
 * fillers, variation selectors …) and the line and paragraph separators.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{Zl}\p{Zp}]/u;

describe('terminal safety', () => {
  it.each([
    ['frames', []],
    ['messages', ['--messages']],
    ['full payloads', ['--full']],
    ['summary', ['--summary']],
    ['explain', ['--explain']],
    ['timeline', ['--timeline']],
  ])('escapes control sequences and invisible characters from payloads, reasons, headers and paths (%s view)', async (_name, extra) => {
    for (const capture of [ESCAPES, INVISIBLE]) {
      for (const color of ['--no-color', '--color']) {
        const io = fakeIo();
        expect(await main(argv(...extra, color, capture), io)).toBe(0);
        const text = io.stdout.text.replace(SGR, '');
        expect(text.replace(/\n/g, ''), `${capture} ${color}`).not.toMatch(UNSAFE);
      }
    }
  });

  it('shows the escapes visibly instead', async () => {
    const io = fakeIo();
    await main(argv('--messages', '--width', '200', ESCAPES), io);
    expect(io.stdout.text).toContain('\\e[2J');
    expect(io.stdout.text).toContain('\\u{202e}');
    const hidden = fakeIo();
    await main(argv('--messages', '--width', '400', INVISIBLE), hidden);
    // The hidden command is spelled out, one escape per tag character.
    expect(hidden.stdout.text).toContain('"ok\\u{e0072}\\u{e006d}\\u{e0020}\\u{e002d}\\u{e0072}\\u{e0066}\\u{e0020}\\u{e002f}"');
    expect(hidden.stdout.text).toContain('shy\\xad|vs\\u{fe0f}|hf\\u{115f}\\u{3164}|mvs\\u{180e}|nel\\x85|csi\\x9b2J|del\\x7f|ls\\u{2028}ps\\u{2029}');
  });

  it('writes them in --json as \\uXXXX escapes: the same strings for a JSON reader, nothing raw', async () => {
    for (const capture of [ESCAPES, INVISIBLE]) {
      const io = fakeIo();
      await main(argv('--json', '--full', capture), io);
      for (const line of io.stdout.text.split('\n')) expect(line, capture).not.toMatch(UNSAFE);
    }
    const io = fakeIo();
    await main(argv('--json', ESCAPES), io);
    expect(io.stdout.text).toContain('\\u001b[2J');
    const invisible = fakeIo();
    await main(argv('--json', INVISIBLE), invisible);
    expect(invisible.stdout.text).toContain('"text":"shy\\u00ad|vs\\ufe0f|hf\\u115f\\u3164|mvs\\u180e|nel\\u0085|csi\\u009b2J|del\\u007f|ls\\u2028ps\\u2029|bom\\ufeff|rlo\\u202eexe.txt"');
    const events = ndjson(invisible.stdout.text);
    const texts = events.filter((e) => e.type === 'message' && e.text !== undefined).map((e) => e.text);
    expect(texts[0]).toBe(`ok${[...'rm -rf /'].map((ch) => String.fromCodePoint(0xe0000 + ch.charCodeAt(0))).join('')}`);
    expect(events.find((e) => e.type === 'message' && e.closeReason)!.closeReason).toBe('bye\u2029\u{e0001}\u009b');
    const handshake = events.find((e) => e.type === 'handshake')!;
    // Header bytes are latin1: U+202E's UTF-8 bytes E2 80 AE read as "â\u0080®".
    expect(handshake.path).toBe('/chat?room=â\u0080®Â\u0085Â\u00ad');
  });

  it('escapes file names and option values it echoes on stderr', async () => {
    const missing = fakeIo();
    expect(await main(argv('no\u001b]0;pwned\u0007such\u009b2J\u202efile.pcap'), missing)).toBe(1);
    expect(missing.stderr.text).not.toMatch(/[\x1b\x07\u009b\u202e]/);
    expect(missing.stderr.text).toContain('no\\e]0;pwned\\x07such\\x9b2J\\u{202e}file.pcap');
    const option = fakeIo();
    expect(await main(argv('--width', '80\u001b[2J\u2028', ESCAPES), option)).toBe(1);
    expect(option.stderr.text.replace(/\n/g, '')).not.toMatch(UNSAFE);
    expect(option.stderr.text).toContain('80\\e[2J\\u{2028}');
    const opcode = fakeIo();
    expect(await main(argv('--opcode', 'te\u009bxt', ESCAPES), opcode)).toBe(1);
    expect(opcode.stderr.text).toContain('te\\x9bxt');
    const damaged = fakeIo();
    expect(await main(argv('-'), { ...damaged, stdin: (await import('node:stream')).Readable.from([Buffer.from('\u001b[2J not a capture')]) })).toBe(1);
    expect(damaged.stderr.text).not.toMatch(/\x1b/);
  });
});
