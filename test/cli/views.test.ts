/**
 * What a new user tripped over in the views (issue 18): times that moved with the filter,
 * and the like. Each test runs the CLI in-process on a bundled capture.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeView } from '../../src/cli/common.js';
import { main } from '../../src/cli/wsdump.js';
import { dissectEvents } from '../helpers/dissect.js';
import { argv, fakeIo } from './io.js';

const TWO = 'fixtures/real/two-connections.pcap';
const MIDSTREAM = 'fixtures/real/midstream.pcap';
const midstreamPort = String(JSON.parse(readFileSync('fixtures/real/midstream.expected.json', 'utf8')).connections[0].server.port);

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = fakeIo();
  const code = await main(argv(...args), io);
  return { code, stdout: io.stdout.text, stderr: io.stderr.text };
}

/** The Time cell of the frame row of `packet`. */
function timeOf(table: string, packet: number): string | undefined {
  return table.split('\n').find((line) => line.startsWith(` ${packet} `))?.trim().split(/\s+/)[1];
}

describe('the Time column', () => {
  it('counts from the first packet of the capture, whatever the filter shows', async () => {
    const all = await run(TWO);
    const second = await run('--conn', '2', TWO);
    const packet = Number(/\n (\d+) .* #2 /.exec(second.stdout)![1]);
    expect(timeOf(second.stdout, packet)).toBe(timeOf(all.stdout, packet));
    const client = await run('--from', 'server', '--opcode', 'close', TWO);
    const close = Number(/\n (\d+) .* close /.exec(client.stdout)![1]);
    expect(timeOf(client.stdout, close)).toBe(timeOf(all.stdout, close));
    // The explain view says the same.
    const explained = await run('--explain', '--conn', '2', TWO);
    expect(explained.stdout).toContain(`packet ${packet}, ${timeOf(all.stdout, packet)} s`);
  });

  it('counts from the first event in wsproxy\'s views too, whatever the filter shows', async () => {
    const events = await dissectEvents(TWO);
    const all = await makeView({}, fakeIo());
    const second = await makeView({ conn: [2] }, fakeIo());
    const allText = events.map(all).join('');
    const secondText = events.map(second).join('');
    const packet = Number(/\n (\d+) .* #2 /.exec(secondText)![1]);
    expect(timeOf(secondText, packet)).toBe(timeOf(allText, packet));
  });

  it('is tshark\'s frame.time_relative even when the first packet carries no frame', async () => {
    // Packet 1 of this capture is a bare ACK; tshark -r midstream.pcap shows packet 2 at 0.177780.
    const { stdout } = await run('--decode-as', midstreamPort, MIDSTREAM);
    expect(timeOf(stdout, 2)).toBe('0.177780');
  });
});

describe('colors', () => {
  it('follow FORCE_COLOR as chalk does: 0 means none, even on a terminal', async () => {
    const ESC = /\x1b\[/;
    const run = async (env: NodeJS.ProcessEnv, tty: boolean, ...args: string[]) => {
      const io = fakeIo({ tty, env });
      await main(argv(...args, TWO), io);
      return io.stdout.text;
    };
    expect(await run({ FORCE_COLOR: '0' }, true)).not.toMatch(ESC);
    expect(await run({ FORCE_COLOR: 'false' }, true)).not.toMatch(ESC);
    expect(await run({ FORCE_COLOR: '0' }, true, '--explain')).not.toMatch(ESC);
    expect(await run({ FORCE_COLOR: '1' }, false)).toMatch(ESC);
    expect(await run({ FORCE_COLOR: '1', NO_COLOR: '1' }, true)).not.toMatch(ESC);
    expect(await run({ FORCE_COLOR: '0' }, true, '--color')).toMatch(ESC);
    expect(await run({}, true)).toMatch(ESC);
  });
});
