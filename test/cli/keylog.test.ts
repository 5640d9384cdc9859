/**
 * wsdump --keylog through the CLI: every view on a decrypted wss:// capture, the secrets a
 * pcapng carries, the one-line errors for key logs that cannot be used, the hint when a key
 * log would help, and the explain view's TLS blocks. A key log's content never reaches the output.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/wsdump.js';
import { visibleLength } from '../../src/render/wrap.js';
import { argv, fakeIo, ndjson } from './io.js';

const TLS13 = 'fixtures/tls/tls13-aes128gcm.pcap';
const KEYS13 = 'fixtures/tls/tls13-aes128gcm.keys';
const TLS12 = 'fixtures/tls/tls12-cbc.pcap';
const KEYS12 = 'fixtures/tls/tls12-cbc.keys';

/** A temporary directory, removed after the tests (key logs, even of fixtures, are not left lying around). */
const scratchDirs: string[] = [];
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wsdump-keylog-'));
  scratchDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = fakeIo();
  const code = await main(argv(...args), io);
  return { code, out: io.stdout.text, err: io.stderr.text };
}

/** Every secret of the fixtures' key logs, which must never be printed. */
const SECRETS = [KEYS13, KEYS12].flatMap((f) =>
  readFileSync(f, 'latin1')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(' ')[2]!),
);
const leaks = (text: string) => SECRETS.filter((s) => text.toLowerCase().includes(s.toLowerCase()) || text.includes(Buffer.from(s, 'hex').toString('base64')));

describe('wsdump --keylog', () => {
  it('shows the frames inside wss:// in the table, as a plain capture shows them', async () => {
    const { code, out, err } = await run('--keylog', KEYS13, TLS13);
    expect(code).toBe(0);
    expect(err).toBe('');
    expect(out).toMatch(/^#1 \S+ → \S+ {2}TLS 1\.3 TLS_AES_128_GCM_SHA256, SNI localhost, ALPN http\/1\.1\n {3}✓ decrypted with the key log\n/);
    expect(out).toMatch(/GET \/tls\/1 HTTP\/1\.1\n {3}✓ 101 Switching Protocols/);
    expect(out).toMatch(/C→S 1 {3}000 binary {7}1 {4}40000 \(16\)/);
    expect(out).toContain('"tls13-aes128gcm #1: hello over TLS"');
    expect(leaks(out)).toEqual([]);
  });

  it('gives every view and filter the decrypted traffic: --messages, --summary, --json, --from', async () => {
    const messages = await run('--messages', '--keylog', KEYS12, TLS12);
    expect(messages.out.match(/ binary /g)).toHaveLength(4);
    const summary = await run('--summary', '--keylog', KEYS12, TLS12);
    expect(summary.out).toMatch(/#1 \S+ → \S+ {2}websocket \/tls\/1 over TLS 1\.2, /);
    const json = ndjson((await run('--json', '--from', 'server', '--keylog', KEYS12, TLS12)).out);
    expect(json.filter((e) => e.type === 'tls').map((e) => e.cipher)).toEqual(['TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA']);
    expect(new Set(json.filter((e) => e.type === 'frame').map((e) => e.from))).toEqual(new Set(['server']));
    expect(json.find((e) => e.type === 'end')).toMatchObject({ kind: 'websocket', tls: { client: { records: expect.any(Number) }, server: { plaintextBytes: expect.any(Number) } } });
    // totals count what crossed TCP; the TLS records and plaintext are beside them.
    const end = json.find((e) => e.type === 'end')!;
    expect(end.totals.server.bytes).toBeGreaterThan(end.tls.server.plaintextBytes);
  });

  it('takes several key logs (--keylog twice) and decrypts each connection with its own', async () => {
    const dir = scratch();
    const [first, second] = readFileSync(KEYS12, 'latin1').split('\n').filter(Boolean);
    writeFileSync(join(dir, 'a.keys'), `${first}\n`);
    writeFileSync(join(dir, 'b.keys'), `${second}\n`);
    const one = ndjson((await run('--json', '--keylog', join(dir, 'a.keys'), TLS12)).out).filter((e) => e.type === 'tls');
    expect(one.map((e) => e.decrypted)).toEqual([true, false]);
    const both = ndjson((await run('--json', '--keylog', join(dir, 'a.keys'), '--keylog', join(dir, 'b.keys'), TLS12)).out).filter((e) => e.type === 'tls');
    expect(both.map((e) => e.decrypted)).toEqual([true, true]);
  });

  it('uses the secrets a pcapng carries (editcap --inject-secrets) with no flag', async () => {
    const { code, out } = await run('fixtures/tls/editcap-secrets.pcapng');
    expect(code).toBe(0);
    expect(out).toContain('ℹ decryption-secrets The capture carries a TLS key log');
    expect(out).toContain('✓ decrypted with the key log');
    expect(out).toContain('"tls13-aes128gcm #1: hello over TLS"');
    expect(leaks(out)).toEqual([]);
  });

  it('without a key log: names the connection, says why, and hints --keylog once', async () => {
    const { code, out } = await run('fixtures/tls/tls12-resumed.pcap');
    expect(code).toBe(0);
    expect(out).toMatch(/#1 \S+ → \S+ {2}TLS 1\.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, SNI localhost\n {3}▲ not decrypted: no key log \(--keylog FILE\)\n {3}ℹ wsdump --keylog FILE/);
    expect(out.match(/ℹ wsdump --keylog/g)).toHaveLength(1);
    expect(out).toMatch(/#2 summary: tls; C→S \d+ bytes, S→C \d+ bytes/);
    expect(out).not.toContain('not WebSocket');
  });

  it('refuses a key log it cannot read or that is not one, in one line, exit 1', async () => {
    const missing = await run('--keylog', 'no/such/keys.txt', TLS13);
    expect(missing).toMatchObject({ code: 1, out: '', err: 'wsdump: cannot read the key log no/such/keys.txt: no such file\n' });
    const directory = await run('--keylog', 'fixtures', TLS13);
    expect(directory).toMatchObject({ code: 1, err: 'wsdump: cannot read the key log fixtures: it is a directory\n' });
    const capture = await run('--keylog', TLS13, TLS13);
    expect(capture.code).toBe(1);
    expect(capture.err).toBe(`wsdump: ${TLS13} is not a TLS key log: no line of the form "LABEL <client random> <secret>" (SSLKEYLOGFILE format)\n`);
    // A key log that names the file but holds a terminal escape is echoed escaped.
    const dir = scratch();
    const odd = await run('--keylog', join(dir, 'x\x1b[2Jy'), TLS13);
    expect(odd.err).not.toMatch(/\x1b/);
  });

  it('takes an empty key log, or one of comments only, as a key log with no key yet', async () => {
    const dir = scratch();
    writeFileSync(join(dir, 'empty.keys'), '');
    writeFileSync(join(dir, 'header.keys'), '# SSL/TLS secrets log file, generated by OpenSSL\n');
    for (const name of ['empty.keys', 'header.keys']) {
      const { code, out, err } = await run('--keylog', join(dir, name), TLS13);
      expect({ code, err }).toEqual({ code: 0, err: '' });
      expect(out).toMatch(/not decrypted: the key log holds no secret\n/);
    }
  });

  it('live (-): reads the key log again when a session is not in it yet, as browsers append to it', async () => {
    const dir = scratch();
    const path = join(dir, 'live.keys');
    writeFileSync(path, '# SSL/TLS secrets log file\n');
    const stdin = new PassThrough();
    const io = fakeIo({ stdin });
    const exit = main(argv('--json', '--keylog', path, '-'), io);
    // The session's secrets are logged after wsdump started, before its handshake is read.
    await new Promise((resolve) => setTimeout(resolve, 100));
    writeFileSync(path, readFileSync(KEYS13), { flag: 'a' });
    stdin.end(readFileSync(TLS13));
    expect(await exit).toBe(0);
    expect(ndjson(io.stdout.text).find((e) => e.type === 'tls')).toMatchObject({ decrypted: true });
  });

  it('notes lines it skipped, without echoing them', async () => {
    const dir = scratch();
    const path = join(dir, 'mixed.keys');
    writeFileSync(path, `${readFileSync(KEYS13, 'latin1')}garbage that is not a key log line\n`);
    const { code, out, err } = await run('--keylog', path, TLS13);
    expect(code).toBe(0);
    expect(out).toContain('✓ decrypted with the key log');
    expect(err).toBe(`wsdump: note: ${path}: 1 line(s) are not key log lines and were skipped\n`);
  });

  it('--explain shows which secret opens which direction, and the record around a frame, in 80 columns', async () => {
    const { code, out } = await run('--explain', '--conn', '1', '--keylog', KEYS13, TLS13);
    expect(code).toBe(0);
    expect(out).toMatch(/client → server {2}CLIENT_HANDSHAKE_TRAFFIC_SECRET\n {22}then CLIENT_TRAFFIC_SECRET_0\n/);
    expect(out).toMatch(/server → client {2}SERVER_HANDSHAKE_TRAFFIC_SECRET\n {22}then SERVER_TRAFFIC_SECRET_0\n/);
    expect(out).toContain('key = HKDF-Expand-Label(secret, "key", "", 16)');
    expect(out).toMatch(/── #1 C→S the TLS record around the next frame, packet \d+/);
    expect(out).toMatch(/\[17 03 03 [0-9a-f ]{5}\] {2}application_data \(23\), version 0x0303, length \d+/);
    expect(out).toMatch(/nonce [0-9a-f]{24} = IV XOR \d+ \(§5\.3\)/);
    expect(Math.max(...out.split('\n').map(visibleLength))).toBeLessThanOrEqual(80);
    expect(leaks(out)).toEqual([]);
    const tls12 = await run('--explain', '--keylog', KEYS12, TLS12);
    expect(tls12.out).toContain('key_block = PRF(master, "key expansion"');
    expect(tls12.out).toMatch(/\d+ bytes of HMAC/);
  });
});
