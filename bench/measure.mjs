// Shared helpers: run a command as a child with stdout to /dev/null and measure its wall time,
// CPU time and peak RSS, without the measurement itself adding load.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const GNU_TIME = '/usr/bin/time';
export const hasGnuTime = existsSync(GNU_TIME) && spawnSync(GNU_TIME, ['-f', '%M', 'true']).status === 0;

export function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** Peak RSS from /proc while the child runs (used when GNU time is missing). */
function pollPeak(pid) {
  let peak = 0;
  const timer = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]));
    } catch {
      // The child has exited.
    }
  }, 20);
  return () => {
    clearInterval(timer);
    return peak;
  };
}

/**
 * Reads a file through once, so that the run after it finds the file in the page cache. Which
 * part of a capture is cached is otherwise left to chance: on the machine of docs/performance.md
 * the cache gives pages back within seconds, and reading the bulk capture from the disk made a
 * wsdump or tshark run up to 1.5 s slower, mostly in system time.
 */
export function warmPageCache(path) {
  const fd = openSync(path, 'r');
  const buffer = Buffer.allocUnsafe(1 << 20);
  try {
    while (readSync(fd, buffer, 0, buffer.length, null) > 0);
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs `cmd args` once: { seconds, cpuSeconds, rssMB, code, stderr }. stdout goes to /dev/null,
 * as a user piping to a file or `> /dev/null` would have it (Node then writes stdout
 * synchronously). cpuSeconds is user + system time from GNU time (NaN without it): on a machine
 * that lends its CPUs to others, it moves less than the wall time, which counts the waits.
 * `warm`: a file to read through first (warmPageCache), outside the time measured.
 */
export function run(cmd, args, { env, warm } = {}) {
  if (warm !== undefined) warmPageCache(warm);
  return new Promise((resolve, reject) => {
    const devnull = openSync('/dev/null', 'w');
    const timeFile = join(tmpdir(), `wsdump-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const argv = hasGnuTime ? [GNU_TIME, '-f', '%M %U %S', '-o', timeFile, cmd, ...args] : [cmd, ...args];
    const start = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', devnull, 'pipe'], env: { ...process.env, ...env } });
    closeSync(devnull);
    const stop = hasGnuTime ? null : pollPeak(child.pid);
    let stderr = '';
    child.stderr.on('data', (d) => {
      if (stderr.length < 4000) stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      let rssKB = stop?.() ?? 0;
      let cpuSeconds = NaN;
      if (hasGnuTime) {
        try {
          const [maxKB, user, system] = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
          rssKB = maxKB;
          cpuSeconds = user + system;
        } catch {
          rssKB = NaN;
        }
        rmSync(timeFile, { force: true });
      }
      resolve({ seconds, cpuSeconds, rssMB: rssKB / 1024, code, stderr });
    });
  });
}

/**
 * The result with the median wall time, its cpuSeconds replaced by the median CPU time of the
 * runs (the two medians may come from different runs); throws if any run of `cmd args` failed.
 */
export function medianOf(results, cmd, args) {
  const bad = results.find((r) => r.code !== 0);
  if (bad) throw new Error(`${cmd} ${args.join(' ')} exited ${bad.code}: ${bad.stderr}`);
  const middle = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const sorted = [...results].sort((a, b) => a.seconds - b.seconds);
  return { ...sorted[Math.floor(sorted.length / 2)], cpuSeconds: middle(results.map((r) => r.cpuSeconds)) };
}

export const fmt = {
  s: (x) => `${x.toFixed(2)} s`,
  mb: (x) => `${x.toFixed(0)} MB`,
  x: (x) => `${x.toFixed(2)}x`,
  int: (x) => Math.round(x).toLocaleString('en-US'),
};
