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

const LAB = 'fixtures/crafted/lab-chat.pcap';
const REFUSED = 'fixtures/real/refused-upgrades.pcap';
const KEEPALIVE = 'fixtures/real/keepalive-upgrade.pcap';
const HEAD = /^ No\.\s+Time\s/;

describe('the table for app developers: --columns and --payload', () => {
  it('shows the chosen columns in the chosen order, in the header and in every row', async () => {
    const { stdout } = await run('--width', '80', '--columns', 'no,time,dir,opcode,length,payload', LAB);
    const lines = stdout.split('\n');
    expect(lines.find((l) => HEAD.test(l))).toMatch(/^ No\.\s+Time\s+Dir Opcode\s+Length\s+Payload$/);
    expect(lines).toContain(' 6      0.003    C→S text     3          "Hi!"');
    // Key, RSV and MASK are gone; the payload has the room they left (10 bytes of hex at 80 columns).
    expect(stdout).not.toContain('65259ed3');
    expect(lines.find((l) => l.startsWith(' 10 '))).toBe(' 10     0.007    C→S binary   200 (16)   00 01 02 03 04 05 06 07 08 09 0a …');
    const messages = await run('--messages', '--columns', 'dir,type,content', LAB);
    expect(messages.stdout).toContain('\n Dir Type    Content\n C→S text    "Hi!"\n S→C text    "Welcome to the lab"\n');
  });

  it('widens the payload column to --payload N characters, whatever the width', async () => {
    const { stdout } = await run('--width', '120', '--payload', '90', LAB);
    const row = stdout.split('\n').find((l) => l.startsWith(' 10 '))!;
    // 90 characters of hex: 30 bytes, where 120 columns alone hold 12.
    expect(row).toContain('00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d …');
    expect(row.length).toBeGreaterThan(120);
  });

  it('shows every column when none of the names is one of the view\'s', async () => {
    const { stdout } = await run('--columns', 'via', LAB);
    expect(stdout.split('\n').some((line) => HEAD.test(line))).toBe(true);
    expect(stdout).toMatch(/^ 6 +[\d.]+ +#1 +C→S .*"Hi!"/m);
  });

  it('refuses an unknown column name in one line', async () => {
    const { code, stderr } = await run('--columns', 'no,colour', LAB);
    expect(code).toBe(1);
    expect(stderr).toMatch(/unknown column "colour": use no, time, conn, dir/);
  });
});

describe('tables that other lines interrupt', () => {
  it('repeat the column header before the next row', async () => {
    const { stdout } = await run(TWO);
    const lines = stdout.split('\n').filter(Boolean);
    // Every row follows the header or another row (or the lines that belong under a row).
    let inTable = false;
    for (const line of lines) {
      if (HEAD.test(line)) inTable = true;
      else if (/^ \d+ /.test(line)) expect(inTable, line).toBe(true);
      else if (!line.startsWith('   ')) inTable = false;
    }
    expect(lines.filter((l) => HEAD.test(l)).length).toBe(2);
  });

  it('show only WebSocket connections with --ws-only, in every view', async () => {
    const refused = await run('--ws-only', REFUSED);
    expect(refused.stdout.match(/^#\d+/gm)).toEqual(['#4', '#4']);
    expect(refused.stdout).not.toMatch(/HTTP:|refused|Forbidden/);
    const keepalive = await run('--ws-only', KEEPALIVE);
    expect(new Set(keepalive.stdout.match(/^#\d+/gm))).toEqual(new Set(['#1']));
    expect(keepalive.stdout).not.toContain('GET /page');
    const json = (await run('--ws-only', '--json', REFUSED)).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(json.map((e) => e.conn)).toEqual(json.map(() => 4));
    expect(json.slice(0, 2).map((e) => e.type)).toEqual(['connection', 'handshake']);
    expect(json.at(-1)).toMatchObject({ type: 'end', kind: 'websocket' });
  });

  it('say on stderr when no connection matched, and exit 0', async () => {
    const none = await run('--conn', '9', TWO);
    expect(none).toMatchObject({ code: 0, stdout: '', stderr: 'wsdump: no connection matched --conn 9 (2 connection(s) were seen)\n' });
    expect((await run('--ws-only', '--port', '1', TWO)).stderr).toBe('wsdump: no connection matched --port 1 --ws-only (2 connection(s) were seen)\n');
    expect((await run('--conn', '2', TWO)).stderr).toBe('');
  });

  it('print a connection\'s summary line with its header, or neither', async () => {
    // An unused browser preconnect (#1, no byte either way) prints nothing in the table; --summary lists it.
    const table = await run('--width', '120', 'fixtures/tls/chromium-tls13.pcap');
    expect(table.stdout).not.toMatch(/^#1 /m);
    expect(table.stdout).toMatch(/^#2 .* TLS 1\.3/m);
    expect((await run('--summary', 'fixtures/tls/chromium-tls13.pcap')).stdout).toMatch(/^#1 \[::1\]:\d+ → \[::1\]:\d+ {2}unknown/m);
    // A connection decoded mid-stream has no header line: its summary line names it.
    const mid = await run('--decode-as', midstreamPort, MIDSTREAM);
    expect(mid.stdout).toMatch(new RegExp(`^#1 127\\.0\\.0\\.1:\\d+ → 127\\.0\\.0\\.1:${midstreamPort} summary: C→S 4 frames`, 'm'));
  });
});

describe('--opcode none', () => {
  it('shows the handshakes only, in the table and in --explain (docs/labs.md)', async () => {
    const table = await run('--opcode', 'none', LAB);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('GET /chat HTTP/1.1');
    expect(table.stdout).toMatch(/^#1 summary: C→S 4 frames/m);
    expect(table.stdout).not.toMatch(HEAD);
    const explain = await run('--explain', '--opcode', 'none', LAB);
    expect(explain.stdout).toContain('Sec-WebSocket-Accept: hoWs43S1/w/h4CCEpz0dZs1h/nQ=');
    expect(explain.stdout).not.toMatch(/FIN|Payload len/);
    expect((await run('--opcode', 'nothing', LAB)).stderr).toMatch(/unknown opcode "nothing": use .*, 0x0-0xf, or none/);
  });
});

describe('wsdump - on a terminal', () => {
  it('says what it waits for', async () => {
    const { PassThrough } = await import('node:stream');
    const stdin = Object.assign(new PassThrough(), { isTTY: true });
    stdin.end();
    const io = fakeIo({ stdin });
    await main(argv('-'), io);
    expect(io.stderr.text.split('\n')[0]).toBe("wsdump: reading a capture from stdin, which is a terminal: pipe one in (tcpdump -i lo -U -w - 'tcp port 8080' | wsdump -) or give a file name; Ctrl-D ends");
  });
});

describe('--help', () => {
  it('fits 80 columns, in wsdump and in wsproxy', async () => {
    const { main: wsproxy } = await import('../../src/cli/wsproxy.js');
    for (const [name, run] of [
      ['wsdump', main],
      ['wsproxy', wsproxy],
    ] as const) {
      const io = fakeIo();
      expect(await run(['node', name, '--help'], io)).toBe(0);
      const long = io.stdout.text.split('\n').filter((line) => [...line].length > 80);
      expect(long, name).toEqual([]);
    }
  });

  it('ends quietly when its reader goes away (| head)', async () => {
    const { spawn } = await import('node:child_process');
    for (const bin of ['bin/wsdump.js', 'bin/wsproxy.js']) {
      const child = spawn(process.execPath, [bin, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
      // The reading end is closed before the help is written: the write fails with EPIPE.
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect({ bin, code, stderr }).toEqual({ bin, code: 0, stderr: '' });
    }
  });
});
