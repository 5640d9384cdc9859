import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/wsdump.js';
import { argv, fakeIo } from './io.js';

const ESCAPES = 'fixtures/crafted/terminal-escapes.pcap';
/** chalk's own sequences: SGR only (ESC [ params m). */
const SGR = /\x1b\[[0-9;]*m/g;
/** What must never reach the terminal from a payload: ESC, C1 controls (incl. CSI 0x9B), bidi overrides. */
const UNSAFE = /[\x1b\x00-\x08\x0b-\x1f\x7f\u0080-\u009f\u202a-\u202e\u2066-\u2069]/u;

describe('terminal safety', () => {
  it.each([
    ['frames', []],
    ['messages', ['--messages']],
    ['full payloads', ['--full']],
    ['summary', ['--summary']],
  ])('escapes control sequences from payloads and reasons (%s view)', async (_name, extra) => {
    for (const color of ['--no-color', '--color']) {
      const io = fakeIo();
      expect(await main(argv(...extra, color, ESCAPES), io)).toBe(0);
      const text = io.stdout.text.replace(SGR, '');
      expect(text.replace(/\n/g, '')).not.toMatch(UNSAFE);
    }
  });

  it('shows the escapes visibly instead', async () => {
    const io = fakeIo();
    await main(argv('--messages', '--width', '200', ESCAPES), io);
    expect(io.stdout.text).toContain('\\e[2J');
    expect(io.stdout.text).toContain('\\u{202e}');
  });

  it('keeps them in --json, where JSON escaping makes them inert', async () => {
    const io = fakeIo();
    await main(argv('--json', ESCAPES), io);
    expect(io.stdout.text).not.toMatch(/\x1b/);
    expect(io.stdout.text).toContain('\\u001b[2J');
  });
});
