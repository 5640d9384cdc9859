// wsproxy under load (issue 8): throughput against a direct connection and a plain socat relay,
// added latency at a steady rate, and memory with many connections. Loopback only; every
// process started here is stopped here. Prints Markdown tables.
//   BENCH_SCALE=0.1  a tenth of the 256 MiB each way and of the 1,000 connections
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { WebSocket, WebSocketServer } from 'ws';
import { hasCommand } from './measure.mjs';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const MIB = 1024 * 1024;
const MESSAGES = Math.max(8, Math.round(256 * SCALE)); // 1 MiB messages each way
const CONNECTIONS = Math.max(50, Math.round(1000 * SCALE));
const WSPROXY = new URL('../bin/wsproxy.js', import.meta.url).pathname;
const SERVER = new URL('./ws-server.mjs', import.meta.url).pathname;
const children = new Set();

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts a child with stdout to /dev/null; resolves once `ready` appears on its stderr. */
function start(cmd, args, ready) {
  const devnull = openSync('/dev/null', 'w');
  const child = spawn(cmd, args, { stdio: ['ignore', devnull, 'pipe'] });
  closeSync(devnull);
  children.add(child);
  child.on('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => (ready === null ? resolve(child) : reject(new Error(`${cmd} did not start: ${err}`))), ready === null ? 300 : 10_000);
    child.stderr.on('data', (d) => {
      err += d;
      if (ready !== null && err.includes(ready)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${err}`)));
  });
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

function rssMB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function connect(port) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/bench`, { perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Sends n messages with backpressure (waits for each send's callback once 8 MiB are queued). */
async function sendAll(ws, n, payload) {
  for (let i = 0; i < n; i++) {
    if (ws.bufferedAmount > 8 * MIB) await new Promise((resolve) => ws.send(payload, resolve));
    else ws.send(payload);
  }
}

/** MESSAGES × 1 MiB each way at once; the server (another process) sends its share when told. */
async function throughput(port) {
  const ws = await connect(port);
  const payload = Buffer.alloc(MIB, 0x5a);
  const startAt = process.hrtime.bigint();
  let received = 0;
  const done = new Promise((resolve) =>
    ws.on('message', (data) => {
      if (data.length === MIB && ++received === MESSAGES) resolve();
    }),
  );
  ws.send(`send ${MESSAGES}`);
  await sendAll(ws, MESSAGES, payload);
  await done;
  // The server answers "got" once it has received every message we sent.
  await new Promise((resolve) => {
    ws.on('message', (data) => {
      if (data.length !== MIB && String(data) === 'got') resolve();
    });
    ws.send('count');
  });
  const seconds = Number(process.hrtime.bigint() - startAt) / 1e9;
  ws.close();
  return { seconds, mibps: (2 * MESSAGES) / seconds };
}

/** Round trips of 64-byte messages at 1,000 per second for a few seconds: RTT percentiles in ms. */
async function latency(port, seconds = 4) {
  const ws = await connect(port);
  const rtts = [];
  const pending = new Map();
  ws.on('message', (data) => {
    const id = Number(String(data).slice(5, 15));
    const t = pending.get(id);
    if (t !== undefined) {
      rtts.push(Number(process.hrtime.bigint() - t) / 1e6);
      pending.delete(id);
    }
  });
  const count = seconds * 1000;
  for (let i = 0; i < count; i++) {
    pending.set(i, process.hrtime.bigint());
    ws.send(`echo ${String(i).padStart(10, '0')} ${'x'.repeat(48)}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  ws.close();
  // The first 200 warm up the JIT of all three processes.
  const sorted = rtts.slice(200).sort((a, b) => a - b);
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  return { p50: q(0.5), p99: q(0.99), n: sorted.length };
}

/** CONNECTIONS open at once through the proxy, each exchanging a few messages: proxy RSS. */
async function manyConnections(port, proxy) {
  const before = rssMB(proxy.pid);
  const socks = [];
  for (let i = 0; i < CONNECTIONS; i += 50) socks.push(...(await Promise.all(Array.from({ length: Math.min(50, CONNECTIONS - i) }, () => connect(port)))));
  const open = rssMB(proxy.pid);
  for (let round = 0; round < 5; round++) {
    await Promise.all(
      socks.map(
        (ws) =>
          new Promise((resolve) => {
            ws.once('message', resolve);
            ws.send(`echo ${String(round).padStart(10, '0')} ${'y'.repeat(200)}`);
          }),
      ),
    );
  }
  const busy = rssMB(proxy.pid);
  await Promise.all(socks.map((ws) => new Promise((resolve) => (ws.once('close', resolve), ws.close()))));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  return { before, open, busy, after: rssMB(proxy.pid) };
}

try {
  const socat = hasCommand('socat');
  const serverPort = await freePort();
  const server = await start(process.execPath, [SERVER, String(serverPort)], 'listening');
  const paths = [{ name: 'direct', port: serverPort }];
  if (socat) {
    const port = await freePort();
    await start('socat', [`TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`, `TCP:127.0.0.1:${serverPort}`], null);
    paths.push({ name: 'socat', port });
  }
  const proxyPort = await freePort();
  const proxy = await start(process.execPath, [WSPROXY, '--listen', `127.0.0.1:${proxyPort}`, '--target', `127.0.0.1:${serverPort}`, '--json', '--max-connections', String(CONNECTIONS + 100)], 'Ctrl-C');
  paths.push({ name: 'wsproxy --json > /dev/null', port: proxyPort });

  console.log(`\n## wsproxy (\`bench/proxy.mjs\`, BENCH_SCALE=${SCALE})\n`);
  console.log(`Throughput: ${MESSAGES} binary messages of 1 MiB each way at once (${MESSAGES * 2} MiB in all), ws client in the bench process, ws server in another.\n`);
  console.log('| path | time | MiB/s (both ways) | vs direct |');
  console.log('|---|---|---|---|');
  const results = [];
  for (const p of paths) {
    await throughput(p.port); // warm-up
    const r = await throughput(p.port);
    results.push(r);
    console.log(`| ${p.name} | ${r.seconds.toFixed(2)} s | ${r.mibps.toFixed(0)} | ${(r.mibps / results[0].mibps).toFixed(2)}x |`);
  }
  console.log('\nLatency: 64-byte text messages echoed by the server, 1,000 per second for 4 s (round trip; the first 200 are warm-up).\n');
  console.log('| path | p50 RTT | p99 RTT | added p50 | added p99 |');
  console.log('|---|---|---|---|---|');
  let direct;
  for (const p of paths) {
    const l = await latency(p.port);
    direct ??= l;
    console.log(`| ${p.name} | ${l.p50.toFixed(3)} ms | ${l.p99.toFixed(3)} ms | ${(l.p50 - direct.p50).toFixed(3)} ms | ${(l.p99 - direct.p99).toFixed(3)} ms |`);
  }
  const m = await manyConnections(proxyPort, proxy);
  console.log(`\nMemory: ${CONNECTIONS} concurrent WebSocket connections through wsproxy --json, each echoing 5 messages of 216 bytes.\n`);
  console.log('| wsproxy RSS | idle (after the runs above) | all open | after traffic | all closed |');
  console.log('|---|---|---|---|---|');
  console.log(`| MB | ${m.before.toFixed(0)} | ${m.open.toFixed(0)} | ${m.busy.toFixed(0)} | ${m.after.toFixed(0)} |`);
  console.log(`\n${((m.busy - m.before) * 1024 / CONNECTIONS).toFixed(1)} KB per open connection.`);
  void server;
} finally {
  await Promise.all([...children].map(stop));
}
