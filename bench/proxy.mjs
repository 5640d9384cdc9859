// wsproxy under load (issue 8): throughput against a direct connection and a plain socat relay,
// added latency at a steady rate, and memory with many connections. Loopback only; every
// process started here is stopped here. Prints Markdown tables. The paths take turns within
// each measurement (round by round, block by block), so that load from anything else on the
// machine falls on all of them alike; each measurement is repeated and its medians reported.
//   BENCH_SCALE=0.1  a tenth of the 256 MiB each way and of the 1,000 connections
//   BENCH_ONLY=throughput,latency,memory  a subset (default: all three)
//   BENCH_RUNS=3     rounds of each measurement (medians are reported)
//   BENCH_MEMORY_RUNS=2  bursts of connections in the memory measurement
//   BENCH_SOCAT=0    leave socat out
//   BENCH_WSPROXY=/other/bin/wsproxy.js  measure that build instead of this one
//   BENCH_COMPARE=/other/bin/wsproxy.js  also measure another build of wsproxy, in the same rounds
//                    (bench/forward-only-relay.mjs: a relay that only forwards, wsproxy without its work)
//   BENCH_PROXY_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'  node options for wsproxy
//   BENCH_SCRIPT=0   leave out the path through wsproxy --script bench/pass-through-script.mjs
//                    (a script that changes nothing: what intercepting costs next to relaying)
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { WebSocket, WebSocketServer } from 'ws';
import { hasCommand } from './measure.mjs';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const MIB = 1024 * 1024;
const MESSAGES = Math.max(8, Math.round(256 * SCALE)); // 1 MiB messages each way
const CONNECTIONS = Math.max(50, Math.round(1000 * SCALE));
const WSPROXY = process.env.BENCH_WSPROXY ?? new URL('../bin/wsproxy.js', import.meta.url).pathname;
const SERVER = new URL('./ws-server.mjs', import.meta.url).pathname;
const children = new Set();
const NODE_ARGS = (process.env.BENCH_PROXY_NODE_ARGS ?? '').split(' ').filter(Boolean);
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const SKIP_SOCAT = process.env.BENCH_SOCAT === '0';
const SKIP_SCRIPT = process.env.BENCH_SCRIPT === '0';
const PASS_THROUGH = new URL('./pass-through-script.mjs', import.meta.url).pathname;
const COMPARE = process.env.BENCH_COMPARE;
const MEMORY_RUNS = Math.max(1, Number(process.env.BENCH_MEMORY_RUNS ?? 2));
const ONLY = new Set((process.env.BENCH_ONLY ?? 'throughput,latency,memory').split(','));

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

/**
 * CPU seconds (user + system) a process has used so far, from /proc; with `children`, those of
 * its children it has waited for as well (socat's forked child per connection, once reaped).
 */
function cpuSeconds(pid, children = false) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  // utime, stime, cutime, cstime in clock ticks (USER_HZ = 100)
  return (Number(fields[11]) + Number(fields[12]) + (children ? Number(fields[13]) + Number(fields[14]) : 0)) / 100;
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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Round trips of 64-byte messages at 1,000 per second (one sent every millisecond, as a client
 * would, without waiting for the echo), on every path: RTT percentiles in ms per path.
 *
 * The paths take turns in blocks of BLOCK messages (the first path of each block rotating), so
 * each sees the same background load over the same few seconds: measured one after the other,
 * the direct path's p99 and the proxy's were taken minutes apart on a shared 2-core machine, and
 * their difference was mostly whatever else ran in each window. Each path still carries its
 * messages alone, at the same rate, over one connection, as before.
 */
async function latencyAll(ports, seconds = 4) {
  const BLOCK = 250;
  const WARMUP = 200;
  const links = await Promise.all(
    ports.map(async (port) => {
      const ws = await connect(port);
      const link = { ws, rtts: [], pending: new Map() };
      ws.on('message', (data) => {
        const id = Number(String(data).slice(5, 15));
        const t = link.pending.get(id);
        if (t !== undefined) {
          link.rtts.push(Number(process.hrtime.bigint() - t) / 1e6);
          link.pending.delete(id);
        }
      });
      return link;
    }),
  );
  let id = 0;
  const burst = async (link, n, keep) => {
    for (let i = 0; i < n; i++) {
      const message = id++;
      link.pending.set(message, process.hrtime.bigint());
      link.ws.send(`echo ${String(message).padStart(10, '0')} ${'x'.repeat(48)}`);
      await sleep(1);
    }
    await sleep(20); // the last echo is back before the next path starts
    if (!keep) {
      link.rtts.length = 0;
      link.pending.clear(); // a warm-up echo later than that is not counted
    }
  };
  // Warm-up: the JIT of every process on every path.
  for (const link of links) await burst(link, WARMUP, false);
  const blocks = Math.ceil((seconds * 1000) / BLOCK);
  for (let b = 0; b < blocks; b++) {
    for (let k = 0; k < links.length; k++) await burst(links[(b + k) % links.length], BLOCK, true);
  }
  for (const { ws } of links) ws.close();
  return links.map(({ rtts }) => {
    const sorted = [...rtts].sort((a, b) => a - b);
    const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
    return { p50: q(0.5), p99: q(0.99), n: sorted.length };
  });
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
  await sleep(1000);
  const after = rssMB(proxy.pid);
  await sleep(9000);
  return { before, open, busy, after, later: rssMB(proxy.pid) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  const socat = hasCommand('socat') && !SKIP_SOCAT;
  const serverPort = await freePort();
  const server = await start(process.execPath, [SERVER, String(serverPort)], 'listening');
  const paths = [{ name: 'direct', port: serverPort }];
  if (socat) {
    const port = await freePort();
    const relay = await start('socat', [`TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`, `TCP:127.0.0.1:${serverPort}`], null);
    paths.push({ name: 'socat', port, pid: relay.pid, children: true });
  }
  const proxyPort = await freePort();
  const proxy = await start(process.execPath, [...NODE_ARGS, WSPROXY, '--listen', `127.0.0.1:${proxyPort}`, '--target', `127.0.0.1:${serverPort}`, '--json', '--max-connections', String(CONNECTIONS + 100)], 'Ctrl-C');
  paths.push({ name: 'wsproxy --json > /dev/null', port: proxyPort, pid: proxy.pid });
  {
    // The table view: no NDJSON lines, no SHA-256 (issue 25: what --json costs the relay).
    const port = await freePort();
    const table = await start(process.execPath, [...NODE_ARGS, WSPROXY, '--listen', `127.0.0.1:${port}`, '--target', `127.0.0.1:${serverPort}`, '--max-connections', String(CONNECTIONS + 100)], 'Ctrl-C');
    paths.push({ name: 'wsproxy (table) > /dev/null', port, pid: table.pid });
  }
  if (!SKIP_SCRIPT) {
    const port = await freePort();
    const scripted = await start(process.execPath, [...NODE_ARGS, WSPROXY, '--listen', `127.0.0.1:${port}`, '--target', `127.0.0.1:${serverPort}`, '--json', '--script', PASS_THROUGH, '--max-connections', String(CONNECTIONS + 100)], 'Ctrl-C');
    paths.push({ name: 'wsproxy --json --script pass-through > /dev/null', port, pid: scripted.pid });
  }
  let compare = null;
  if (COMPARE) {
    // Another build of wsproxy (say, before a change), measured in the same rounds.
    const port = await freePort();
    compare = await start(process.execPath, [COMPARE, '--listen', `127.0.0.1:${port}`, '--target', `127.0.0.1:${serverPort}`, '--json', '--max-connections', String(CONNECTIONS + 100)], 'Ctrl-C');
    paths.push({ name: `${COMPARE} --json > /dev/null`, port, pid: compare.pid });
  }

  console.log(`\n## wsproxy (\`bench/proxy.mjs\`, BENCH_SCALE=${SCALE}, ${RUNS} run(s), medians)\n`);
  if (ONLY.has('throughput')) {
    console.log(`Throughput: ${MESSAGES} binary messages of 1 MiB each way at once (${MESSAGES * 2} MiB in all), ws client in the bench process, ws server in another; the paths take turns, ${RUNS} round(s) after a warm-up, "vs direct" is the median of each round's ratio. CPU: seconds used during the run by the two endpoints together, and by the relay (socat's is that of the child it forks for the connection, counted once reaped), then the relay's per GiB relayed (both ways).\n`);
    console.log('| path | time | MiB/s (both ways) | vs direct | endpoints CPU | relay CPU | relay CPU per GiB |');
    console.log('|---|---|---|---|---|---|---|');
    for (const p of paths) await throughput(p.port); // warm-up
    const seconds = paths.map(() => []);
    const ratios = paths.map(() => []);
    const cpu = paths.map(() => ({ ends: [], relay: [] }));
    for (let round = 0; round < RUNS; round++) {
      const times = [];
      for (const [i, p] of paths.entries()) {
        const before = { self: process.cpuUsage(), server: cpuSeconds(server.pid), relay: p.pid ? cpuSeconds(p.pid, p.children) : 0 };
        times.push((await throughput(p.port)).seconds);
        const self = process.cpuUsage(before.self);
        cpu[i].ends.push((self.user + self.system) / 1e6 + cpuSeconds(server.pid) - before.server);
        // socat's child ends with the connection; its parent reaps it on SIGCHLD.
        if (p.children) await sleep(300);
        if (p.pid) cpu[i].relay.push(cpuSeconds(p.pid, p.children) - before.relay);
      }
      times.forEach((t, i) => (seconds[i].push(t), ratios[i].push(times[0] / t)));
      if (RUNS > 1) process.stderr.write(`round ${round + 1}: ${paths.map((p, i) => `${p.name} ${times[i].toFixed(2)} s ${ratios[i].at(-1).toFixed(2)}x${p.pid ? ` relay ${cpu[i].relay.at(-1).toFixed(2)} CPU-s` : ''}`).join(', ')}\n`);
    }
    const gib = (2 * MESSAGES) / 1024;
    paths.forEach((p, i) => {
      const t = median(seconds[i]);
      const relay = cpu[i].relay.length ? `${median(cpu[i].relay).toFixed(2)} s` : '-';
      const perGib = cpu[i].relay.length ? `${(median(cpu[i].relay) / gib).toFixed(2)} s` : '-';
      console.log(`| ${p.name} | ${t.toFixed(2)} s | ${((2 * MESSAGES) / t).toFixed(0)} | ${median(ratios[i]).toFixed(2)}x | ${median(cpu[i].ends).toFixed(2)} s | ${relay} | ${perGib} |`);
    });
    const socatAt = paths.findIndex((p) => p.name === 'socat');
    if (socatAt !== -1) {
      // Issue 25's targets, each round's wsproxy against the socat run of the same round.
      const json = paths.findIndex((p) => p.name === 'wsproxy --json > /dev/null');
      const throughputRatio = median(seconds[socatAt].map((s, r) => s / seconds[json][r]));
      const cpuRatio = median(cpu[json].relay.map((c, r) => c / cpu[socatAt].relay[r]));
      console.log(`\n- wsproxy --json / socat: throughput **${throughputRatio.toFixed(2)}x** (target ≥ 1.0x), relay CPU per GiB **${cpuRatio.toFixed(2)}x** (target ≤ 1.5x)`);
    }
  }
  if (ONLY.has('latency')) {
    console.log(`\nLatency: 64-byte text messages echoed by the server, 1,000 per second, 4 s per path (round trip; 200 warm-up messages per path first); the paths take turns in blocks of 250 messages, ${RUNS} round(s), medians of each round's percentiles.\n`);
    console.log('| path | p50 RTT | p99 RTT | added p50 | added p99 |');
    console.log('|---|---|---|---|---|');
    const rounds = [];
    for (let round = 0; round < RUNS; round++) {
      const r = await latencyAll(paths.map((p) => p.port));
      rounds.push(r);
      if (RUNS > 1) process.stderr.write(`round ${round + 1}: ${paths.map((p, i) => `${p.name} p50 ${r[i].p50.toFixed(3)} p99 ${r[i].p99.toFixed(3)} (n ${r[i].n})`).join(', ')}\n`);
    }
    paths.forEach((p, i) => {
      const m = (f) => median(rounds.map((r) => f(r)));
      console.log(`| ${p.name} | ${m((r) => r[i].p50).toFixed(3)} ms | ${m((r) => r[i].p99).toFixed(3)} ms | ${m((r) => r[i].p50 - r[0].p50).toFixed(3)} ms | ${m((r) => r[i].p99 - r[0].p99).toFixed(3)} ms |`);
    });
  }
  if (ONLY.has('memory')) {
    console.log(`\nMemory: ${CONNECTIONS} concurrent WebSocket connections through wsproxy --json, each echoing 5 messages of 216 bytes; ${MEMORY_RUNS} burst(s) one after the other, to see whether memory comes back and stays flat.\n`);
    console.log('| wsproxy RSS, MB | before (at rest: 10 s after the runs above) | all open | after traffic | all closed, +1 s | all closed, +10 s | KB per open connection |');
    console.log('|---|---|---|---|---|---|---|');
    const proxies = [{ name: 'wsproxy', port: proxyPort, child: proxy }];
    if (compare) proxies.push({ name: COMPARE, port: paths.at(-1).port, child: compare });
    if (ONLY.has('throughput') || ONLY.has('latency')) await sleep(10_000); // the first "before" at rest too, like the last column
    for (let round = 0; round < MEMORY_RUNS; round++) {
      for (const p of proxies) {
        const m = await manyConnections(p.port, p.child);
        console.log(`| ${proxies.length > 1 ? `${p.name}, ` : ''}burst ${round + 1} | ${m.before.toFixed(0)} | ${m.open.toFixed(0)} | ${m.busy.toFixed(0)} | ${m.after.toFixed(0)} | ${m.later.toFixed(0)} | ${(((m.busy - m.before) * 1024) / CONNECTIONS).toFixed(1)} |`);
      }
    }
  }
  void server;
} finally {
  await Promise.all([...children].map(stop));
}
