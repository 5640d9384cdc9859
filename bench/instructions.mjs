// Instructions per WebSocket frame of one wsdump command, counted by callgrind (issue 25).
//
//   node bench/instructions.mjs [--frames 12000,48000] [--wsdump path/to/bin/wsdump.js] -- --json
//
// Wall time on a shared 2-core machine moves by tens of percent; callgrind's instruction counts
// of `node --predictable` repeat within ~1%. A short run is mostly start-up (~1,600M
// instructions), so the cost per frame is the slope between two sizes of the bench's bulk
// capture (writeBulk, the same seed). Each count is split by where it was spent: the code V8
// compiled from ours (JIT), V8's builtins (the interpreter, ICs, typed arrays), the optimizing
// compiler, the garbage collector, libc and the rest of node. The compiler and the collector
// come in lumps (a function optimized, a full collection), and one such lump landing between
// the two sizes in one build and not in another moved a slope by 1,000-1,600 instructions per
// frame: compare builds on the "steady" slope, which leaves both out, and read those two apart.
// Also counts the bytes the command writes at the larger size (one run without valgrind).
// BENCH_DIR keeps the captures for the next run.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBulk } from './captures.mjs';
import { hasCommand } from './measure.mjs';

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const own = dash === -1 ? argv : argv.slice(0, dash);
const wsdumpArgs = dash === -1 ? [] : argv.slice(dash + 1);
const flag = (name, fallback) => {
  const i = own.indexOf(name);
  return i === -1 ? fallback : own[i + 1];
};
const sizes = flag('--frames', '12000,48000').split(',').map(Number);
const wsdump = flag('--wsdump', new URL('../bin/wsdump.js', import.meta.url).pathname);
if (sizes.length !== 2 || !sizes.every((n) => Number.isInteger(n) && n > 0) || sizes[0] >= sizes[1]) {
  console.error('bench/instructions: --frames takes two sizes, smaller first (e.g. 12000,48000)');
  process.exit(1);
}
for (const tool of ['valgrind', 'callgrind_annotate']) {
  if (!hasCommand(tool)) {
    console.error(`bench/instructions: ${tool} is needed (apt-get install valgrind)`);
    process.exit(1);
  }
}

const dir = process.env.BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'wsdump-instructions-'));
mkdirSync(dir, { recursive: true });

/** Where an instruction was spent, by the symbol callgrind gives it. */
function category(symbol) {
  if (/^\?\?\?:0x[0-9a-f]+/.test(symbol)) return 'jit';
  if (/compiler::|Turbofan|turboshaft|Maglev|Compil/.test(symbol)) return 'compiler';
  if (/Mark|Sweep|Incremental|Evacuat|Compactor|Heap|Scaveng|GC|Slot|RememberedSet|Pretenur/.test(symbol)) return 'collector';
  if (symbol.includes('Builtins_')) return 'builtins';
  if (symbol.includes('libc.so')) return 'libc';
  return 'node, other';
}
const CATEGORIES = ['jit', 'builtins', 'libc', 'node, other', 'compiler', 'collector'];

function count(capture, out) {
  const run = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, '--predictable', wsdump, ...wsdumpArgs, capture], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`valgrind failed (${run.status}): ${run.stderr.split('\n').slice(-5).join('\n')}`);
  const annotated = spawnSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', out], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const byCategory = Object.fromEntries(CATEGORIES.map((c) => [c, 0]));
  let total = 0;
  for (const line of annotated.stdout.split('\n')) {
    const m = /^\s*([\d,]+) \([^)]*\)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const n = Number(m[1].replaceAll(',', ''));
    if (m[2].startsWith('PROGRAM TOTALS')) total = n;
    else byCategory[category(m[2])] += n;
  }
  return { total, byCategory };
}

/** Bytes written to stdout. */
function outputBytes(capture) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [wsdump, ...wsdumpArgs, capture], { stdio: ['ignore', 'pipe', 'ignore'] });
    let bytes = 0;
    child.stdout.on('data', (chunk) => (bytes += chunk.length));
    child.on('error', reject);
    child.on('close', () => resolve(bytes));
  });
}

const runs = [];
for (const frames of sizes) {
  const capture = join(dir, `bulk-${frames}.pcap`);
  if (!existsSync(capture)) await writeBulk(capture, frames);
  process.stderr.write(`bench/instructions: ${frames} frames …\n`);
  runs.push({ frames, ...count(capture, join(dir, `callgrind-${process.pid}-${frames}.out`)) });
}
const bytes = await outputBytes(join(dir, `bulk-${sizes[1]}.pcap`));
const [small, large] = runs;
const per = (a, b) => (b - a) / (large.frames - small.frames);
const fmtM = (n) => `${(n / 1e6).toLocaleString('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 })}M`;
const fmtK = (n) => `${(n / 1000).toFixed(2)}k`;
const steady = (r) => CATEGORIES.slice(0, 4).reduce((sum, c) => sum + r.byCategory[c], 0);

console.log(`wsdump ${wsdumpArgs.join(' ')} on the bulk capture (callgrind, node --predictable, ${process.version})\n`);
console.log(`| where | ${small.frames} frames | ${large.frames} frames | per frame |`);
console.log('|---|---|---|---|');
for (const c of CATEGORIES) console.log(`| ${c} | ${fmtM(small.byCategory[c])} | ${fmtM(large.byCategory[c])} | ${fmtK(per(small.byCategory[c], large.byCategory[c]))} |`);
console.log(`| **steady** (without compiler and collector) | ${fmtM(steady(small))} | ${fmtM(steady(large))} | **${fmtK(per(steady(small), steady(large)))}** |`);
console.log(`| total | ${fmtM(small.total)} | ${fmtM(large.total)} | ${fmtK(per(small.total, large.total))} |`);
console.log(`\nOutput at ${large.frames} frames: ${bytes.toLocaleString('en-US')} bytes (${(bytes / large.frames).toFixed(0)} per frame)`);
if (process.env.BENCH_DIR === undefined) rmSync(dir, { recursive: true, force: true });
