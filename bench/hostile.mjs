// wsdump on the traffic shapes of an adversarial probe (issue 26): what each costs in time and
// peak memory. Before the fixes, memory or time grew with the capture instead of with the limits.
//   BENCH_SCALE=0.1  a tenth of the sizes (default 1: a 1 GB capture among them)
//   BENCH_DIR=dir    keep the captures there and reuse them on the next run of the same scale
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBombs, writeDeclared, writeMalformed, writePinned } from './hostile-captures.mjs';
import { fmt, run } from './measure.mjs';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const WSDUMP = new URL('../bin/wsdump.js', import.meta.url).pathname;
const dir = process.env.BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'wsdump-hostile-'));
mkdirSync(dir, { recursive: true });
const n = (count) => Math.max(1, Math.round(count * SCALE));

const SHAPES = [
  ['open fragmented message, a 1-byte fragment per 256 KiB', `pinned-${n(4000)}.pcap`, (p) => writePinned(p, n(4000)), ['--summary']],
  ['the same bytes as whole messages (control)', `unpinned-${n(4000)}.pcap`, (p) => writePinned(p, n(4000), { fragmented: false }), ['--summary']],
  ['the open message, --max-message 1000', `pinned-${n(4000)}.pcap`, null, ['--summary', '--max-message', '1000']],
  ['connections declaring 1 MiB, sending 1 byte', `declared-1m-${n(16000)}.pcap`, (p) => writeDeclared(p, n(16000), 1 << 20), ['--summary']],
  ['connections declaring 100 bytes, sending 1 (control)', `declared-100-${n(16000)}.pcap`, (p) => writeDeclared(p, n(16000), 100), ['--summary']],
  ['permessage-deflate bombs, context takeover', `bombs-${n(100)}.pcap`, (p) => writeBombs(p, n(100)), ['--summary']],
  ['permessage-deflate bombs, no context takeover', `bombs-nct-${n(100)}.pcap`, (p) => writeBombs(p, n(100), { noContextTakeover: true }), ['--summary']],
  ['packets malformed each with other numbers', `malformed-${n(1_000_000)}.pcap`, (p) => writeMalformed(p, n(1_000_000)), []],
];

console.log(`\n### wsdump on hostile shapes (issue 26), scale ${SCALE}\n`);
console.log('| shape | capture | wsdump | wall time | CPU time | peak RSS | exit |');
console.log('|---|---|---|---|---|---|---|');
for (const [label, name, build, args] of SHAPES) {
  const path = join(dir, name);
  if (!existsSync(path)) {
    if (build === null) throw new Error(`${name} is built by an earlier shape`);
    process.stderr.write(`bench: writing ${path}\n`);
    await build(path);
  }
  process.stderr.write(`bench: ${label}\n`);
  const r = await run(process.execPath, [WSDUMP, ...args, path], { warm: path });
  console.log(`| ${label} | ${(statSync(path).size / 1e6).toFixed(1)} MB | ${args.join(' ') || '(table)'} | ${fmt.s(r.seconds)} | ${Number.isNaN(r.cpuSeconds) ? '-' : fmt.s(r.cpuSeconds)} | ${fmt.mb(r.rssMB)} | ${r.code} |`);
}
if (process.env.BENCH_DIR === undefined) rmSync(dir, { recursive: true, force: true });
