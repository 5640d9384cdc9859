import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// What each command loads at start, seen by a loader hook in the built program (dist/, which
// `npm ci` builds). Loading costs every run: the terminal renderers (chalk, cli-table3, the
// table and explain views) took ~30 ms of `wsdump --json`'s start, pako ~7 ms of every run and
// node:zlib ~0.2% (issue 8). They are loaded when a view, a compressed connection or a gzipped
// capture needs them.

function run(...args: string[]): { status: number | null; stdout: string; loaded: string[] } {
  const r = spawnSync(process.execPath, ['--import', './test/cli/trace-modules.mjs', 'bin/wsdump.js', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const loaded = r.stderr
    .split('\n')
    .filter((line) => line.startsWith('load '))
    .map((line) => line.slice(5));
  return { status: r.status, stdout: r.stdout, loaded };
}

const TERMINAL_VIEWS = [/\/render\/table\.js$/, /\/render\/explain\.js$/, /\/render\/row\.js$/, /\/cli\/renderers\.js$/, /\/node_modules\/chalk\//, /\/node_modules\/cli-table3\//];
const loads = (loaded: string[], pattern: RegExp) => loaded.some((url) => pattern.test(url));
/** The TLS layer but its few-line sniffer (src/tls/sniff.ts), which every run has. */
const TLS_LAYER = /\/dist\/tls\/(?!sniff\.js$)/;

describe('what wsdump loads', () => {
  it('--json decodes without the terminal views, pako, zlib or the capture writers', () => {
    const { status, stdout, loaded } = run('--json', 'fixtures/real/ws-basic.pcap');
    expect(status).toBe(0);
    expect(stdout).toContain('"type":"message"');
    expect(loaded.some((url) => url.endsWith('/dist/engine/capture-dissector.js'))).toBe(true);
    for (const pattern of [...TERMINAL_VIEWS, /\/node_modules\/pako\//, /^node:zlib$/, /\/capture\/tcp-recorder\.js$/, /\/capture\/pcap-file-writer\.js$/, /\/render\/hex-input\.js$/, TLS_LAYER]) {
      expect(loads(loaded, pattern), String(pattern)).toBe(false);
    }
  });

  it('the table loads its renderers, and a compressed connection loads pako', () => {
    const plain = run('fixtures/real/ws-basic.pcap');
    expect(plain.status).toBe(0);
    expect(plain.stdout).toMatch(/C→S 1   000 text/);
    for (const pattern of TERMINAL_VIEWS.filter((p) => !/explain/.test(String(p)))) expect(loads(plain.loaded, pattern), String(pattern)).toBe(true);
    expect(loads(plain.loaded, /\/node_modules\/pako\//)).toBe(false);

    const deflate = run('--messages', 'fixtures/real/deflate.pcap');
    expect(deflate.status).toBe(0);
    expect(deflate.stdout).toContain('"The quick brown fox jumps over the lazy dog.');
    expect(loads(deflate.loaded, /\/node_modules\/pako\//)).toBe(true);
  });

  it('the table loads cli-table3 only for a row its own layout cannot do', () => {
    // ws-basic has such a row (above); every row of chromium.pcap is plain.
    const plain = run('fixtures/real/chromium.pcap');
    expect(plain.status).toBe(0);
    expect(plain.stdout).toMatch(/C→S 1   100 text/);
    expect(loads(plain.loaded, /\/render\/row\.js$/)).toBe(true);
    expect(loads(plain.loaded, /\/node_modules\/cli-table3\//)).toBe(false);
    expect(loads(plain.loaded, /\/node_modules\/string-width\//)).toBe(false);
  });

  it('a wss:// capture loads the TLS layer, and only then', () => {
    const tls = run('--json', 'fixtures/tls/tls13-aes128gcm.pcap');
    expect(tls.status).toBe(0);
    expect(tls.stdout).toContain('"type":"tls"');
    expect(loads(tls.loaded, /\/dist\/tls\/session\.js$/)).toBe(true);
    const plain = run('--summary', 'fixtures/real/ws-basic.pcap');
    expect(loads(plain.loaded, TLS_LAYER)).toBe(false);
  });

  it('loads an application decoder only for a connection that needs it (src/app/load.ts)', () => {
    const decoder = (name: string) => new RegExp(`/dist/app/${name}\\.js$`);
    const others = ['json-rpc', 'json', 'msgpack', 'cbor', 'protobuf', 'mqtt', 'stomp'];
    const plain = run('--json', 'fixtures/real/ws-basic.pcap');
    expect(plain.status).toBe(0);
    for (const name of ['socket-io', ...others]) expect(loads(plain.loaded, decoder(name)), name).toBe(false);

    const socketIo = run('--json', 'fixtures/real/socketio-node.pcap');
    expect(socketIo.stdout).toContain('"protocol":"socket.io"');
    expect(loads(socketIo.loaded, decoder('socket-io'))).toBe(true);
    for (const name of others) expect(loads(socketIo.loaded, decoder(name)), name).toBe(false);

    const off = run('--json', '--app', 'none', 'fixtures/real/socketio-node.pcap');
    expect(off.stdout).not.toContain('"type":"app"');
    expect(loads(off.loaded, decoder('socket-io'))).toBe(false);
  });
});
