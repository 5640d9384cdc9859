// What a pass-through --script costs wsproxy, counted in instructions (callgrind), which a loaded
// machine does not disturb the way it disturbs wall-clock time. wsproxy --json runs under
// `valgrind --tool=callgrind node --predictable`, with and without bench/pass-through-script.mjs,
// while a ws client sends N binary messages of 1 MiB through it and bench/ws-server.mjs sends N
// back; N = SMALL and LARGE, so the difference divided by LARGE - SMALL is the cost of one MiB
// each way without the start-up. The two paths take turns. Loopback only; every process started
// here is stopped here. Not part of `npm run bench`: each wsproxy under callgrind takes about 50 s
// on the machine of docs/performance.md, the default two rounds about 7 minutes.
//   BENCH_RUNS=2   rounds (each: both paths at both sizes)
//   BENCH_SMALL=2 BENCH_LARGE=10   the two sizes, in MiB each way
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { hasCommand } from './measure.mjs';

const MIB = 1024 * 1024;
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 2));
const SMALL = Number(process.env.BENCH_SMALL ?? 2);
const LARGE = Number(process.env.BENCH_LARGE ?? 10);
const WSPROXY = new URL('../bin/wsproxy.js', import.meta.url).pathname;
const SERVER = new URL('./ws-server.mjs', import.meta.url).pathname;
const PASS_THROUGH = new URL('./pass-through-script.mjs', import.meta.url).pathname;

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Instructions wsproxy executed from start to exit while N MiB crossed each way. */
async function instructions(script, n, dir) {
  const serverPort = await freePort();
  const proxyPort = await freePort();
  const out = join(dir, `callgrind.${script ? 'script' : 'plain'}.${n}`);
  const server = spawn(process.execPath, [SERVER, String(serverPort)], { stdio: 'ignore' });
  const args = ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, '--predictable', WSPROXY, '--listen', `127.0.0.1:${proxyPort}`, '--target', `127.0.0.1:${serverPort}`, '--json', ...(script ? ['--script', PASS_THROUGH] : [])];
  const proxy = spawn('valgrind', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const guard = setTimeout(() => {
    proxy.kill('SIGKILL');
    server.kill('SIGKILL');
  }, 600_000);
  try {
    let err = '';
    await new Promise((resolve, reject) => {
      proxy.stderr.on('data', (d) => {
        err += d;
        if (err.includes('Ctrl-C')) resolve();
      });
      proxy.on('exit', (code) => reject(new Error(`wsproxy exited ${code}: ${err}`)));
    });
    const ws = new WebSocket(`ws://127.0.0.1:${proxyPort}/bench`, { perMessageDeflate: false });
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
    let received = 0;
    const gotAll = new Promise((resolve) => ws.on('message', (d) => d.length === MIB && ++received === n && resolve()));
    ws.send(`send ${n}`);
    const payload = Buffer.alloc(MIB, 0x5a);
    for (let i = 0; i < n; i++) await new Promise((resolve) => ws.send(payload, resolve));
    await gotAll;
    // The server answers "got" once all of the client's messages have arrived.
    const counted = new Promise((resolve) => ws.on('message', (d) => d.length !== MIB && String(d) === 'got' && resolve()));
    ws.send('count');
    await counted;
    ws.close(1000);
    await new Promise((resolve) => ws.once('close', resolve));
    const exited = new Promise((resolve) => proxy.once('exit', resolve));
    proxy.kill('SIGINT');
    await exited;
    const summary = readFileSync(out, 'utf8').split('\n').find((l) => /^(summary|totals):/.test(l));
    return Number(summary.split(/\s+/)[1]);
  } finally {
    clearTimeout(guard);
    if (proxy.exitCode === null) proxy.kill('SIGKILL');
    server.kill('SIGTERM');
  }
}

if (!hasCommand('valgrind')) {
  console.error('bench/proxy-instructions.mjs: valgrind is not installed');
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), 'wsproxy-callgrind-'));
const counts = { plain: { [SMALL]: [], [LARGE]: [] }, script: { [SMALL]: [], [LARGE]: [] } };
try {
  for (let round = 1; round <= RUNS; round++) {
    for (const n of [SMALL, LARGE]) {
      for (const path of round % 2 === 1 ? ['plain', 'script'] : ['script', 'plain']) {
        const count = await instructions(path === 'script', n, dir);
        counts[path][n].push(count);
        console.log(`round ${round}: ${path} ${n} MiB each way: ${(count / 1e6).toFixed(1)}M instructions`);
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const mean = (l) => l.reduce((a, b) => a + b, 0) / l.length;
const range = (l) => `${(Math.min(...l) / 1e6).toFixed(0)}-${(Math.max(...l) / 1e6).toFixed(0)}M`;
const perMib = (path) => (mean(counts[path][LARGE]) - mean(counts[path][SMALL])) / (LARGE - SMALL);
console.log(`\n| path | ${SMALL} MiB each way | ${LARGE} MiB each way | per MiB each way (mean) |`);
console.log('|---|---|---|---|');
for (const path of ['plain', 'script']) {
  console.log(`| wsproxy --json${path === 'script' ? ' --script pass-through' : ''} | ${range(counts[path][SMALL])} | ${range(counts[path][LARGE])} | ${(perMib(path) / 1e6).toFixed(1)}M |`);
}
console.log(`\nThe pass-through script: ${((perMib('script') / perMib('plain') - 1) * 100).toFixed(1)}% more instructions per MiB relayed.`);
