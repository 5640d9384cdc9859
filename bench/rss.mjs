// Peak RSS of every wsdump command of bench/dissect.mjs under several Node versions (issue 25).
// Prints one Markdown table: a row per capture and command, a column per Node binary.
//   BENCH_NODES=/path/to/node,/other/node   the binaries to compare (default: the node running this)
//   BENCH_RUNS=2      runs per command and binary (default 1), alternating the binaries; a cell
//                     shows the highest peak of its runs, with the lowest after it when they differ
//   BENCH_WSDUMP=dir/bin/wsdump.js   another build (copy one aside before rebuilding: a run that
//                     starts on one dist/ and ends on another measures neither)
//   BENCH_SCALE, BENCH_DIR, BENCH_ONLY   as for bench/dissect.mjs (same capture names, so a
//                     BENCH_DIR built by either is reused by the other)
// Only peak RSS (GNU time's %M) and CPU time are measured: the wall time of one command under
// three Node versions in turn is no comparison of the versions' speed.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { benchCapture, writeBulk, writeBulkTls, writeCompressed, writeManyConnections, writeSocketIo } from './captures.mjs';
import { fmt, hasGnuTime, run } from './measure.mjs';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const RUNS = Number(process.env.BENCH_RUNS ?? 1);
const ONLY = new Set((process.env.BENCH_ONLY ?? 'bulk,compressed,many,scaling,tls,socketio').split(','));
const NODES = (process.env.BENCH_NODES ?? process.execPath).split(',').filter(Boolean);
const WSDUMP = process.env.BENCH_WSDUMP ?? new URL('../bin/wsdump.js', import.meta.url).pathname;
const TARGET_MB = 150;

const dir = process.env.BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'wsdump-bench-'));
mkdirSync(dir, { recursive: true });
const capture = (name, build) => benchCapture(dir, SCALE, name, build);

/** The wsdump commands bench/dissect.mjs runs on each capture, by section. */
async function sections() {
  const list = [];
  if (ONLY.has('bulk') || ONLY.has('scaling')) {
    const bulk = await capture('bulk', (p) => writeBulk(p, Math.round(300_000 * SCALE)));
    const commands = ONLY.has('bulk') ? [['--json'], ['--json', '--payload', '0'], [], ['--summary']] : [['--json'], []];
    list.push({ label: 'bulk', path: bulk.path, commands });
    if (ONLY.has('scaling')) {
      const doubled = await capture('bulk-x2', (p) => writeBulk(p, Math.round(600_000 * SCALE)));
      list.push({ label: 'bulk doubled', path: doubled.path, commands: [['--json'], []] });
    }
  }
  if (ONLY.has('tls')) {
    const keylog = join(dir, `bulk-tls-${SCALE}.keys`);
    const cap = await capture('bulk-tls', (p) => writeBulkTls(p, keylog, Math.round(300_000 * SCALE)));
    list.push({ label: 'TLS 1.3 bulk', path: cap.path, commands: [['--json'], [], ['--summary']].map((c) => ['--keylog', keylog, ...c]) });
  }
  if (ONLY.has('socketio')) {
    const cap = await capture('socketio', (p) => writeSocketIo(p, Math.round(300_000 * SCALE)));
    list.push({ label: 'Socket.IO', path: cap.path, commands: [['--json'], [], ['--summary'], ['--events'], ['--json', '--app', 'none']] });
  }
  if (ONLY.has('compressed')) {
    const cap = await capture('compressed', (p) => writeCompressed(p, Math.round(100_000 * SCALE)));
    list.push({ label: 'permessage-deflate', path: cap.path, commands: [['--json'], [], ['--summary']] });
  }
  if (ONLY.has('many')) {
    const cap = await capture('many', (p) => writeManyConnections(p, Math.round(10_000 * SCALE)));
    list.push({ label: `${fmt.int(Math.round(10_000 * SCALE))} connections`, path: cap.path, commands: [['--json'], [], ['--summary']] });
  }
  return list;
}

const version = (node) => spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
const shown = (args) => (args.length === 0 ? '(table)' : args.map((a) => (a.includes('/') ? a.replace(/.*\//, '') : a)).join(' '));

try {
  if (!hasGnuTime) process.stderr.write('bench: GNU time missing, peak RSS is polled from /proc and may miss short peaks\n');
  const list = await sections();
  const versions = NODES.map(version);
  const cells = new Map();
  for (const { label, path, commands } of list) {
    for (const args of commands) {
      const row = [];
      for (let n = 0; n < NODES.length; n++) row.push({ rss: [], cpu: [] });
      for (let round = 0; round < RUNS; round++) {
        for (let n = 0; n < NODES.length; n++) {
          process.stderr.write(`bench: rss: ${label}: wsdump ${shown(args)} on ${versions[n]} (round ${round + 1} of ${RUNS})\n`);
          const r = await run(NODES[n], [WSDUMP, ...args, path], { warm: path });
          if (r.code !== 0) throw new Error(`${NODES[n]} wsdump ${args.join(' ')} ${path} exited ${r.code}: ${r.stderr}`);
          row[n].rss.push(r.rssMB);
          row[n].cpu.push(r.cpuSeconds);
        }
      }
      cells.set(`${label}\0${shown(args)}`, row);
    }
  }
  console.log(`\n### Peak RSS of wsdump by Node version (\`bench/rss.mjs\`, BENCH_SCALE=${SCALE}, ${RUNS === 1 ? 'one run' : `${RUNS} runs`} each: highest peak, lowest after it when they differ; CPU time median)\n`);
  console.log(`| capture | wsdump | ${versions.join(' | ')} |`);
  console.log(`|---|---|${versions.map(() => '---|').join('')}`);
  let over = 0;
  for (const [key, row] of cells) {
    const [label, command] = key.split('\0');
    const text = row.map(({ rss, cpu }) => {
      const high = Math.max(...rss);
      const low = Math.min(...rss);
      if (high > TARGET_MB) over++;
      const peak = Math.round(high) === Math.round(low) ? fmt.mb(high) : `${fmt.mb(high)} (${low.toFixed(0)})`;
      const middle = [...cpu].sort((a, b) => a - b)[Math.floor(cpu.length / 2)];
      return `${high > TARGET_MB ? `**${peak}**` : peak}, ${Number.isNaN(middle) ? '-' : fmt.s(middle)}`;
    });
    console.log(`| ${label} | ${command} | ${text.join(' | ')} |`);
  }
  console.log(`\nTarget: at most ${TARGET_MB} MB everywhere; ${over === 0 ? 'met' : `${over} cell(s) above it (in bold)`}. Each cell: peak RSS, CPU time (user + system).`);
} finally {
  if (process.env.BENCH_DIR === undefined) rmSync(dir, { recursive: true, force: true });
}
