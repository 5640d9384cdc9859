/**
 * `--json --messages` (issue 25): NDJSON without the frame lines, each frame's alerts as `alert`
 * lines in their place; everything else as `--json` writes it.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeView } from '../../src/cli/common.js';
import { main } from '../../src/cli/wsdump.js';
import { dissectEvents } from '../helpers/dissect.js';
import { argv, fakeIo, ndjson } from './io.js';

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = fakeIo();
  const code = await main(argv(...args), io);
  return { code, stdout: io.stdout.text, stderr: io.stderr.text };
}

/** What --json --messages must write, worked out from --json's lines. */
function withoutFrames(full: string): string[] {
  const out: string[] = [];
  for (const line of full.split('\n').filter(Boolean)) {
    const event = JSON.parse(line);
    if (event.type !== 'frame') out.push(line);
    else for (const alert of event.alerts) out.push(JSON.stringify({ type: 'alert', ...alert }));
  }
  return out;
}

const CAPTURES = [
  ...readdirSync('fixtures/crafted')
    .filter((name) => name.endsWith('.pcap'))
    .map((name) => `fixtures/crafted/${name}`),
  'fixtures/real/ws-basic.pcap',
  'fixtures/real/deflate.pcap',
  'fixtures/real/two-connections.pcap',
];

describe('wsdump --json --messages', () => {
  it('writes every line of --json but the frames, whose alerts become alert lines', async () => {
    let frameAlerts = 0;
    let messages = 0;
    for (const path of CAPTURES) {
      const full = await run('--json', path);
      const lean = await run('--json', '--messages', path);
      expect(lean.code, path).toBe(full.code);
      const expected = withoutFrames(full.stdout);
      expect(lean.stdout.split('\n').filter(Boolean), path).toEqual(expected);
      frameAlerts += ndjson(full.stdout).filter((e) => e.type === 'frame').reduce((n, e) => n + e.alerts.length, 0);
      messages += ndjson(lean.stdout).filter((e) => e.type === 'message').length;
    }
    // The fixtures hold frames with alerts (a reserved bit, an unmasked client frame …) and messages.
    expect(frameAlerts).toBeGreaterThan(10);
    expect(messages).toBeGreaterThan(100);
  });

  it('is what wsproxy --json --messages writes for the same events', async () => {
    const path = 'fixtures/crafted/frame-rsv2.pcap';
    const events = await dissectEvents(path);
    const view = await makeView({ json: true, messages: true }, fakeIo());
    const text = events.map(view).join('');
    expect(text).toBe((await run('--json', '--messages', path)).stdout);
    expect(ndjson(text).some((e) => e.type === 'alert' && e.code === 'frame.rsv-unnegotiated')).toBe(true);
    expect(ndjson(text).some((e) => e.type === 'frame')).toBe(false);
  });

  it('still refuses --messages beside another view', async () => {
    const both = await run('--json', '--messages', '--summary', 'fixtures/real/ws-basic.pcap');
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('choose one of');
    expect(both.stderr).toContain('--summary');
    expect((await run('--messages', '--explain', 'fixtures/real/ws-basic.pcap')).code).toBe(1);
  });
});
