// wsdump against tshark on the same captures, in the same run (issue 8). Prints Markdown tables.
//   BENCH_SCALE=0.1  a tenth of the issue's sizes, for a quick run (default 1: ~370 MB bulk)
//   BENCH_RUNS=3     median of 3 runs per measurement (default 1: the full run takes minutes)
//   BENCH_DIR=dir    keep the captures there and reuse them on the next run of the same scale
//   BENCH_NODE=path  the node binary that runs wsdump (default: the one running the bench)
//   BENCH_ONLY=bulk,compressed,many,scaling,tls,socketio   a subset (tls: the bulk capture inside TLS 1.3,
//                    wsdump --keylog against tshark -o tls.keylog_file: with the same key log;
//                    socketio: a Socket.IO session of ~300,000 events through the application layer)
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { benchCapture, SERVER_PORT, TLS_SERVER_PORT, writeBulk, writeBulkTls, writeCompressed, writeManyConnections, writeSocketIo } from './captures.mjs';
import { fmt, hasCommand, hasGnuTime, medianOf, run } from './measure.mjs';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const RUNS = Number(process.env.BENCH_RUNS ?? 1);
const ONLY = new Set((process.env.BENCH_ONLY ?? 'bulk,compressed,many,scaling,tls,socketio').split(','));
const WSDUMP = new URL('../bin/wsdump.js', import.meta.url).pathname;
/** The node that runs wsdump (BENCH_NODE=/path/to/node measures another version; tshark is unchanged). */
const NODE = process.env.BENCH_NODE ?? process.execPath;
const tshark = hasCommand('tshark');

const dir = process.env.BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'wsdump-bench-'));
mkdirSync(dir, { recursive: true });

const capture = (name, build) => benchCapture(dir, SCALE, name, build);

const TSHARK_JSON = ['-Y', 'websocket', '-T', 'json', '-e', 'websocket.fin', '-e', 'websocket.opcode', '-e', 'websocket.mask', '-e', 'websocket.payload_length', '-e', 'websocket.masking_key'];
/**
 * Issue 25's reference for `--json`: the frame numbers and the text of text payloads as well,
 * which is nearer what wsdump's NDJSON says of a frame.
 */
const TSHARK_JSON_TEXT = ['-Y', 'websocket', '-T', 'json', '-e', 'frame.number', '-e', 'websocket.opcode', '-e', 'websocket.payload_length', '-e', 'websocket.masking_key', '-e', 'websocket.payload.text'];
const TJ = 'tshark -T json -e websocket.*';
const TJ_TEXT = 'tshark -T json -e frame.number … -e websocket.payload.text';
const decodeAs = ['-d', `tcp.port==${SERVER_PORT},http`];

/**
 * `withoutPayload`: also `wsdump --json --payload 0`, which leaves out the hex of payloads (not
 * the text of messages): how much of --json's time is the payload bytes it prints.
 * `wsdumpArgs` and `tsharkArgs` go before the capture (the TLS run's key log and ports).
 */
async function measureCapture(label, cap, { withoutPayload = false, wsdumpArgs = [], tsharkArgs = decodeAs, targets = { json: '0.25x', table: '0.35x' }, extra = [], withTshark = true } = {}) {
  const mb = statSync(cap.path).size / 1e6;
  const tools = [
    ['wsdump --json', NODE, [WSDUMP, ...wsdumpArgs, '--json', cap.path]],
    ...(withoutPayload ? [['wsdump --json --payload 0', NODE, [WSDUMP, ...wsdumpArgs, '--json', '--payload', '0', cap.path]]] : []),
    ['wsdump (table)', NODE, [WSDUMP, ...wsdumpArgs, cap.path]],
    ['wsdump --summary', NODE, [WSDUMP, ...wsdumpArgs, '--summary', cap.path]],
    ...extra.map(([tool, args]) => [tool, NODE, [WSDUMP, ...wsdumpArgs, ...args, cap.path]]),
    ...(tshark && withTshark
      ? [
          [TJ, 'tshark', ['-r', cap.path, ...tsharkArgs, ...TSHARK_JSON]],
          [TJ_TEXT, 'tshark', ['-r', cap.path, ...tsharkArgs, ...TSHARK_JSON_TEXT]],
          ['tshark (one-line summary)', 'tshark', ['-r', cap.path, ...tsharkArgs, '-Y', 'websocket']],
        ]
      : []),
  ];
  // Round by round, every tool once per round: load from anything else on the machine then
  // falls on all of them alike, and the ratios compare runs made minutes, not tens of minutes, apart.
  const results = new Map(tools.map(([tool]) => [tool, []]));
  for (let round = 0; round < RUNS; round++) {
    for (const [tool, cmd, args] of tools) {
      process.stderr.write(`bench: ${label}: ${tool} (round ${round + 1} of ${RUNS})\n`);
      results.get(tool).push(await run(cmd, args, { warm: cap.path }));
    }
  }
  const rows = tools.map(([tool, cmd, args]) => ({ tool, ...medianOf(results.get(tool), cmd, args) }));
  const by = (tool) => rows.find((r) => r.tool === tool);
  const json = by('wsdump --json');
  const tj = by(TJ);
  const tjText = by(TJ_TEXT);
  const ts = by('tshark (one-line summary)');
  console.log(`\n### ${label}: ${mb.toFixed(1)} MB, ${fmt.int(cap.frames)} WebSocket frames, ${fmt.int(cap.packets)} packets\n`);
  console.log('| tool | wall time | CPU time | frames/s | MB/s | peak RSS |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.tool} | ${fmt.s(r.seconds)} | ${Number.isNaN(r.cpuSeconds) ? '-' : fmt.s(r.cpuSeconds)} | ${fmt.int(cap.frames / r.seconds)} | ${(mb / r.seconds).toFixed(1)} | ${fmt.mb(r.rssMB)} |`);
  if (tj && tjText && ts) {
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
    console.log(`${line('wsdump --json', TJ_TEXT, targets.json)}; peak RSS ${fmt.mb(json.rssMB)} vs ${fmt.mb(tjText.rssMB)}`);
    console.log(`${line('wsdump --json', TJ, targets.json)}; peak RSS ${fmt.mb(json.rssMB)} vs ${fmt.mb(tj.rssMB)}`);
    console.log(line('wsdump (table)', 'tshark (one-line summary)', targets.table));
  }
  return rows;
}

/**
 * Issue 20: the Socket.IO capture through the application layer, next to the plain bulk
 * capture measured in the same run: time per WebSocket frame of each, and what the layer's
 * events add (each Socket.IO message is an `app` event and a line of its own).
 */
function compareWithBulk(sio, sioRows, bulk, bulkRows) {
  console.log(`\nSocket.IO next to the plain bulk capture (same run): µs per WebSocket frame; the Socket.IO capture has ${fmt.int(sio.events)} application messages in ${fmt.int(sio.frames)} frames\n`);
  console.log('| view | bulk: µs/frame | Socket.IO: µs/frame | Socket.IO: µs/application message |');
  console.log('|---|---|---|---|');
  for (const tool of ['wsdump --json', 'wsdump (table)', 'wsdump --summary']) {
    const b = bulkRows.find((r) => r.tool === tool);
    const x = sioRows.find((r) => r.tool === tool);
    if (!b || !x) continue;
    console.log(`| ${tool} | ${((b.seconds / bulk.frames) * 1e6).toFixed(2)} | ${((x.seconds / sio.frames) * 1e6).toFixed(2)} | ${((x.seconds / sio.events) * 1e6).toFixed(2)} |`);
  }
}

/**
 * The scaling run. Each round runs each tool on the bulk capture and then at once on the
 * doubled one, so each ratio compares two runs made seconds apart: measured in separate
 * sections minutes apart, tshark's own doubled / single ratio had come out at 2.5x, the machine
 * having become busier in between. tshark's ratio in the same rounds is the reference for what
 * the machine did.
 */
async function measureScaling(single, doubled) {
  const tools = [
    ['wsdump --json', NODE, (path) => [WSDUMP, '--json', path]],
    ['wsdump (table)', NODE, (path) => [WSDUMP, path]],
    ...(tshark ? [['tshark (one-line summary)', 'tshark', (path) => ['-r', path, ...decodeAs, '-Y', 'websocket']]] : []),
  ];
  const results = new Map(tools.map(([tool]) => [tool, { single: [], doubled: [] }]));
  for (let round = 0; round < RUNS; round++) {
    for (const [tool, cmd, args] of tools) {
      process.stderr.write(`bench: scaling: ${tool} (round ${round + 1} of ${RUNS})\n`);
      const r = results.get(tool);
      r.single.push(await run(cmd, args(single.path), { warm: single.path }));
      r.doubled.push(await run(cmd, args(doubled.path), { warm: doubled.path }));
    }
  }
  const mb = (cap) => (statSync(cap.path).size / 1e6).toFixed(1);
  console.log(`\n### Scaling: the bulk capture (${mb(single)} MB) against the bulk capture doubled (${mb(doubled)} MB, ${fmt.int(doubled.frames)} WebSocket frames), in the same rounds\n`);
  console.log('| tool | single: wall time | doubled: wall time | doubled / single, wall time | doubled / single, CPU time | peak RSS single / doubled |');
  console.log('|---|---|---|---|---|---|');
  for (const [tool, cmd, args] of tools) {
    const r = results.get(tool);
    const one = medianOf(r.single, cmd, args(single.path));
    const two = medianOf(r.doubled, cmd, args(doubled.path));
    const ratio = (key) => {
      const each = r.doubled.map((x, i) => x[key] / r.single[i][key]).sort((a, b) => a - b);
      return { median: each[Math.floor(each.length / 2)], low: each[0], high: each.at(-1) };
    };
    const wall = ratio('seconds');
    const cpu = ratio('cpuSeconds');
    const range = RUNS > 1 ? ` (rounds ${fmt.x(wall.low)}-${fmt.x(wall.high)})` : '';
    console.log(`| ${tool} | ${fmt.s(one.seconds)} | ${fmt.s(two.seconds)} | **${fmt.x(wall.median)}**${range} | ${Number.isNaN(cpu.median) ? '-' : fmt.x(cpu.median)} | ${fmt.mb(one.rssMB)} / ${fmt.mb(two.rssMB)} |`);
  }
  console.log('\nTarget: wsdump at most ~2x the time on the doubled capture, with the same peak memory.');
}

function versions() {
  const line = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8' }).stdout?.split('\n')[0] ?? '?';
  const os = existsSync('/etc/debian_version') ? `Debian ${readFileSync('/etc/debian_version', 'utf8').trim()}` : process.platform;
  return `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${os}; Node ${NODE === process.execPath ? process.version : spawnSync(NODE, ['--version'], { encoding: 'utf8' }).stdout.trim()}; ${tshark ? line('tshark', ['--version']) : 'tshark not installed'}; ${hasGnuTime ? 'peak RSS and CPU time (user + system) from GNU time' : 'peak RSS from /proc VmHWM, no CPU time (GNU time missing)'}`;
}

try {
  console.log(`## wsdump against tshark (\`bench/dissect.mjs\`, BENCH_SCALE=${SCALE}, ${RUNS === 1 ? 'one run' : `median of ${RUNS} runs`} each)\n`);
  console.log(versions());
  let bulk = null;
  if (ONLY.has('bulk') || ONLY.has('scaling')) {
    const cap = await capture('bulk', (p) => writeBulk(p, Math.round(300_000 * SCALE)));
    if (ONLY.has('bulk')) bulk = { cap, rows: await measureCapture('Bulk capture', cap, { withoutPayload: true }) };
    if (ONLY.has('scaling')) {
      const big = await capture('bulk-x2', (p) => writeBulk(p, Math.round(600_000 * SCALE)));
      await measureScaling(cap, big);
    }
  }
  if (ONLY.has('tls')) {
    // The bulk writes again (same seed), sealed in TLS 1.3 records: decryption's cost, and tshark's with the same key log.
    const keylog = join(dir, `bulk-tls-${SCALE}.keys`);
    const cap = await capture('bulk-tls', (p) => writeBulkTls(p, keylog, Math.round(300_000 * SCALE)));
    await measureCapture('Bulk capture in TLS 1.3 (wsdump --keylog, tshark -o tls.keylog_file:)', cap, {
      wsdumpArgs: ['--keylog', keylog],
      tsharkArgs: ['-o', `tls.keylog_file:${keylog}`, '-d', `tcp.port==${TLS_SERVER_PORT},tls`],
      // Issue 21: with the same key log, at most half of tshark's time.
      targets: { json: '0.5x', table: '0.5x' },
    });
  }
  if (ONLY.has('socketio')) {
    // Issue 20: ~300,000 Socket.IO events (Engine.IO v4 packets over WebSocket) decoded by the application layer.
    const cap = await capture('socketio', (p) => writeSocketIo(p, Math.round(300_000 * SCALE)));
    const rows = await measureCapture(`Socket.IO capture (${fmt.int(cap.events)} application messages)`, cap, { withTshark: false, extra: [['wsdump --events', ['--events']], ['wsdump --json --app none', ['--json', '--app', 'none']]] });
    if (bulk !== null) compareWithBulk(cap, rows, bulk.cap, bulk.rows);
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
