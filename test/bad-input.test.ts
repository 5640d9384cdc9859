/**
 * The corpus of broken captures (fixtures/bad, made by fixtures/bad/generate.mjs): each gives
 * one clear line on stderr and its documented exit code, never a stack trace, and whatever was
 * decodable before the damage is still shown.
 */
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/wsdump.js';
import { argv, fakeIo, ndjson } from './cli/io.js';

const CASES: [file: string, exit: number, stderr: RegExp, intact?: string][] = [
  ['empty.pcap', 1, /the input is empty/],
  ['magic-only.pcap', 1, /ends inside its 24-byte file header/],
  ['cut-header.pcap', 1, /ends inside its 24-byte file header/],
  ['random.bin', 1, /not a pcap or pcapng file/],
  ['text.txt', 1, /not a pcap or pcapng file: .*\(text\?\)/],
  ['cut-record.pcap', 3, /ends inside packet record 13/, 'fixtures/real/ws-basic.pcap'],
  ['cut-record-header.pcap', 3, /ends inside packet record 13 \(7 bytes of a 16-byte record header\)/, 'fixtures/real/ws-basic.pcap'],
  ['record-4gib.pcap', 3, /claims 4294967295 captured bytes/, 'fixtures/real/ws-basic.pcap'],
  ['pcapng-bad-length.pcapng', 3, /trailing length .* leading length/, 'fixtures/real/dumpcap-pcapng.pcapng'],
  ['pcapng-cut.pcapng', 3, /ends inside a block/, 'fixtures/real/dumpcap-pcapng.pcapng'],
  ['pcapng-short-section.pcapng', 3, /section header at offset 1568 is too short .*skipped up to the next section header/, 'fixtures/real/dumpcap-pcapng.pcapng'],
  ['gzip-cut.pcap.gz', 3, /gzip stream ends early/, 'fixtures/real/ws-basic.pcap'],
];

/** The frames of a capture that were complete, as --json shows them. */
async function completeFrames(path: string): Promise<Record<string, any>[]> {
  const io = fakeIo();
  await main(argv('--json', path), io);
  return ndjson(io.stdout.text).filter((e) => e.type === 'frame' && !e.incomplete);
}

describe('broken captures', () => {
  it.each(CASES)('%s: exit %i with one line on stderr', async (file, exit, pattern, intact) => {
    const path = `fixtures/bad/${file}`;
    const io = fakeIo();
    expect(await main(argv(path), io)).toBe(exit);
    const lines = io.stderr.text.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^wsdump: ${path.replace(/[.*]/g, '\\$&')}: `));
    expect(lines[0]).toMatch(pattern);
    expect(io.stderr.text).not.toMatch(/\n\s+at /);
    if (intact) {
      // Everything before the damage is shown, exactly as in the intact capture.
      const before = await completeFrames(path);
      const whole = await completeFrames(intact);
      expect(before.length).toBeGreaterThan(0);
      expect(before).toEqual(whole.slice(0, before.length));
      // The table shows the frames too, and the damage is not repeated on stdout.
      expect(io.stdout.text).toMatch(/ C→S /);
      expect(io.stdout.text).not.toMatch(pattern);
    }
  });

  it('carries on at the next section after a section header too short to be one', async () => {
    const path = 'fixtures/bad/pcapng-short-section.pcapng';
    const frames = await completeFrames(path);
    // Every frame of the intact capture, the packets of the section after the damage included.
    expect(frames).toEqual(await completeFrames('fixtures/real/dumpcap-pcapng.pcapng'));
    const io = fakeIo();
    expect(await main(argv('--json', path), io)).toBe(3);
    expect(ndjson(io.stdout.text).filter((e) => e.type === 'notice')).toMatchObject([{ code: 'malformed-section' }]);
  });

  it('keeps the damage in --json as a notice event, and still says it on stderr', async () => {
    const io = fakeIo();
    expect(await main(argv('--json', 'fixtures/bad/cut-record.pcap'), io)).toBe(3);
    expect(ndjson(io.stdout.text).filter((e) => e.type === 'notice')).toMatchObject([{ code: 'truncated' }]);
    expect(io.stderr.text).toMatch(/ends inside packet record 13/);
  });

  it.each([
    ['a directory', 'fixtures/bad', /fixtures\/bad/],
    ['a missing file', 'fixtures/bad/no-such.pcap', /no-such\.pcap/],
  ])('%s: exit 1 with one line', async (_what, path, pattern) => {
    const io = fakeIo();
    expect(await main(argv(path), io)).toBe(1);
    expect(io.stderr.text.trimEnd().split('\n')).toHaveLength(1);
    expect(io.stderr.text).toMatch(pattern);
  });
});
