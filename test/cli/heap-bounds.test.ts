import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { YOUNG_BYTES } from '../../src/cli/heap-bounds.js';

// The bound on V8's young generation (src/cli/heap-bounds.ts), seen from a child node running
// the built module (dist/, which `npm ci` builds) on a load that keeps objects surviving
// scavenges, as a capture's open connections do: each object lives for the next 50,000
// allocations, so V8 grows the young generation to its maximum (2 x 16 MB on Node 20,
// 2 x 64 MB on Node 24) unless it is bounded.
const LOAD = `
import { getHeapSpaceStatistics } from 'node:v8';
import { boundHeap } from './dist/cli/heap-bounds.js';
const young = () => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size;
const bounds = process.argv.includes('bound') ? boundHeap() : null;
const ring = new Array(50_000);
const grow = (n) => {
  let max = 0;
  for (let i = 0; i < n; i++) {
    ring[i % ring.length] = { i, s: 'x' + i, a: [i, i + 1] };
    if (i % 1000 === 0) {
      bounds?.check();
      max = Math.max(max, young());
    }
  }
  return max;
};
const bounded = grow(500_000);
bounds?.release();
console.log(JSON.stringify({ bounded, released: process.argv.includes('release') ? grow(500_000) : null }));
`;

function youngPeak(args: string[], nodeOptions = ''): Promise<{ bounded: number; released: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', LOAD, ...args], { env: { ...process.env, NODE_OPTIONS: nodeOptions } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}: ${err}`))));
  });
}

/** Node 24 reports its young generation a page or so above the size it was stopped at. */
const SLACK = 2 * 1024 * 1024;

describe('the young generation bound', () => {
  it('stops the young generation at YOUNG_BYTES, where V8 alone grows it further', { timeout: 60_000 }, async () => {
    const [free, bound] = await Promise.all([youngPeak([]), youngPeak(['bound'])]);
    expect(free.bounded).toBeGreaterThan(YOUNG_BYTES + SLACK);
    expect(bound.bounded).toBeGreaterThanOrEqual(YOUNG_BYTES);
    expect(bound.bounded).toBeLessThanOrEqual(YOUNG_BYTES + SLACK);
  });

  it('gives V8 its growth back on release(), and leaves a size the user set', { timeout: 60_000 }, async () => {
    const [released, user] = await Promise.all([youngPeak(['bound', 'release']), youngPeak(['bound'], '--max-semi-space-size=32')]);
    expect(released.bounded).toBeLessThanOrEqual(YOUNG_BYTES + SLACK);
    expect(released.released).toBeGreaterThan(YOUNG_BYTES + SLACK);
    expect(user.bounded).toBeGreaterThan(YOUNG_BYTES + SLACK);
  });
});
