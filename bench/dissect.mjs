// wsdump against tshark on the same captures, in the same run (issue 8). Prints Markdown tables.
//   BENCH_SCALE=0.1  a tenth of the issue's sizes, for a quick run (default 1: ~370 MB bulk)
//   BENCH_RUNS=3     median of 3 runs per measurement (default 1: the full run takes minutes)
//   BENCH_DIR=dir    keep the captures there and reuse them on the next run of the same scale
//   BENCH_ONLY=bulk,compressed,many,scaling   a subset
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { SERVER_PORT, writeBulk, writeCompressed, writeManyConnections } from './captures.mjs';
import { fmt, hasCommand, hasGnuTime, medianOf, run } from './measure.mjs';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const RUNS = Number(process.env.BENCH_RUNS ?? 1);
const ONLY = new Set((process.env.BENCH_ONLY ?? 'bulk,compressed,many,scaling').split(','));
const WSDUMP = new URL('../bin/wsdump.js', import.meta.url).pathname;
const tshark = hasCommand('tshark');

const dir = process.env.BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'wsdump-bench-'));
mkdirSync(dir, { recursive: true });

/** Builds a capture once per scale; with BENCH_DIR, a later run reuses it (the bytes are deterministic). */
async function capture(name, build) {
  const path = join(dir, `${name}-${SCALE}.pcap`);
  const meta = `${path}.json`;
  if (existsSync(meta)) return { path, ...JSON.parse(readFileSync(meta, 'utf8')) };
  const start = Date.now();
  const info = await build(path);
  process.stderr.write(`bench: built ${path} (${(statSync(path).size / 1e6).toFixed(1)} MB) in ${((Date.now() - start) / 1000).toFixed(1)} s\n`);
  writeFileSync(meta, JSON.stringify(info));
  return { path, ...info };
}

const TSHARK_JSON = ['-Y', 'websocket', '-T', 'json', '-e', 'websocket.fin', '-e', 'websocket.opcode', '-e', 'websocket.mask', '-e', 'websocket.payload_length', '-e', 'websocket.masking_key'];
const decodeAs = ['-d', `tcp.port==${SERVER_PORT},http`];

/**
 * `withoutPayload`: also `wsdump --json --payload 0`, which leaves out the hex of payloads (not
 * the text of messages): how much of --json's time is the payload bytes it prints.
 */
async function measureCapture(label, cap, { withoutPayload = false } = {}) {
  const mb = statSync(cap.path).size / 1e6;
  const tools = [
    ['wsdump --json', process.execPath, [WSDUMP, '--json', cap.path]],
    ...(withoutPayload ? [['wsdump --json --payload 0', process.execPath, [WSDUMP, '--json', '--payload', '0', cap.path]]] : []),
    ['wsdump (table)', process.execPath, [WSDUMP, cap.path]],
    ['wsdump --summary', process.execPath, [WSDUMP, '--summary', cap.path]],
    ...(tshark
      ? [
          ['tshark -T json -e websocket.*', 'tshark', ['-r', cap.path, ...decodeAs, ...TSHARK_JSON]],
          ['tshark (one-line summary)', 'tshark', ['-r', cap.path, ...decodeAs, '-Y', 'websocket']],
        ]
      : []),
  ];
  // Round by round, every tool once per round: load from anything else on the machine then
  // falls on all of them alike, and the ratios compare runs made minutes, not tens of minutes, apart.
  const results = new Map(tools.map(([tool]) => [tool, []]));
  for (let round = 0; round < RUNS; round++) {
    for (const [tool, cmd, args] of tools) {
      process.stderr.write(`bench: ${label}: ${tool} (round ${round + 1} of ${RUNS})\n`);
      results.get(tool).push(await run(cmd, args));
    }
  }
  const rows = tools.map(([tool, cmd, args]) => ({ tool, ...medianOf(results.get(tool), cmd, args) }));
  const by = (tool) => rows.find((r) => r.tool === tool);
  const json = by('wsdump --json');
  const table = by('wsdump (table)');
  const tj = by('tshark -T json -e websocket.*');
  const ts = by('tshark (one-line summary)');
  console.log(`\n### ${label}: ${mb.toFixed(1)} MB, ${fmt.int(cap.frames)} WebSocket frames, ${fmt.int(cap.packets)} packets\n`);
  console.log('| tool | wall time | CPU time | frames/s | MB/s | peak RSS |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.tool} | ${fmt.s(r.seconds)} | ${Number.isNaN(r.cpuSeconds) ? '-' : fmt.s(r.cpuSeconds)} | ${fmt.int(cap.frames / r.seconds)} | ${(mb / r.seconds).toFixed(1)} | ${fmt.mb(r.rssMB)} |`);
  if (tj && ts) {
    // Each round's ratio compares runs made a minute apart; their median moves less than the
    // ratio of two medians when the machine's load changes between rounds.
    const ratios = (ours, theirs, key) => {
      const r = results.get(ours).map((x, i) => x[key] / results.get(theirs)[i][key]).sort((a, b) => a - b);
      return { median: r[Math.floor(r.length / 2)], low: r[0], high: r.at(-1) };
    };
    const line = (ours, theirs, target) => {
      const wall = ratios(ours, theirs, 'seconds');
      const cpu = ratios(ours, theirs, 'cpuSeconds');
      const range = RUNS > 1 ? ` (rounds ${fmt.x(wall.low)}-${fmt.x(wall.high)})` : '';
      return `- ${ours} / ${theirs}: **${fmt.x(wall.median)}** wall time${range}, ${Number.isNaN(cpu.median) ? '' : `${fmt.x(cpu.median)} CPU time, `}target ≤ ${target}`;
    };
    console.log('');
    console.log(`${line('wsdump --json', 'tshark -T json -e websocket.*', '0.25x')}; peak RSS ${fmt.mb(json.rssMB)} vs ${fmt.mb(tj.rssMB)}`);
    console.log(line('wsdump (table)', 'tshark (one-line summary)', '0.5x'));
  }
  return { json, table };
}

function versions() {
  const line = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8' }).stdout?.split('\n')[0] ?? '?';
  const os = existsSync('/etc/debian_version') ? `Debian ${readFileSync('/etc/debian_version', 'utf8').trim()}` : process.platform;
  return `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${os}; Node ${process.version}; ${tshark ? line('tshark', ['--version']) : 'tshark not installed'}; ${hasGnuTime ? 'peak RSS and CPU time (user + system) from GNU time' : 'peak RSS from /proc VmHWM, no CPU time (GNU time missing)'}`;
}

try {
  console.log(`## wsdump against tshark (\`bench/dissect.mjs\`, BENCH_SCALE=${SCALE}, ${RUNS === 1 ? 'one run' : `median of ${RUNS} runs`} each)\n`);
  console.log(versions());
  let bulk;
  if (ONLY.has('bulk') || ONLY.has('scaling')) {
    const cap = await capture('bulk', (p) => writeBulk(p, Math.round(300_000 * SCALE)));
    if (ONLY.has('bulk')) bulk = await measureCapture('Bulk capture', cap, { withoutPayload: true });
    if (ONLY.has('scaling')) {
      bulk ??= await measureCapture('Bulk capture', cap);
      const big = await capture('bulk-x2', (p) => writeBulk(p, Math.round(600_000 * SCALE)));
      const twice = await measureCapture('Bulk capture doubled (scaling run)', big);
      console.log('');
      for (const k of ['json', 'table']) {
        const name = k === 'json' ? 'wsdump --json' : 'wsdump (table)';
        const cpu = twice[k].cpuSeconds / bulk[k].cpuSeconds;
        console.log(`- ${name}, doubled / single: **${fmt.x(twice[k].seconds / bulk[k].seconds)}** wall time, ${Number.isNaN(cpu) ? '' : `${fmt.x(cpu)} CPU time, `}target ≤ ~2x; peak RSS ${fmt.mb(twice[k].rssMB)} vs ${fmt.mb(bulk[k].rssMB)}`);
      }
    }
  }
  if (ONLY.has('compressed')) {
    const cap = await capture('compressed', (p) => writeCompressed(p, Math.round(100_000 * SCALE)));
    await measureCapture('permessage-deflate capture', cap);
  }
  if (ONLY.has('many')) {
    const cap = await capture('many', (p) => writeManyConnections(p, Math.round(10_000 * SCALE)));
    await measureCapture(`Many connections (${fmt.int(Math.round(10_000 * SCALE))} short connections)`, cap);
  }
} finally {
  if (process.env.BENCH_DIR === undefined) rmSync(dir, { recursive: true, force: true });
}
