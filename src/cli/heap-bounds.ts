import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';

/**
 * wsdump's peak memory, the same on Node 20, 22 and 24 (issue 25). What wsdump keeps is small
 * and flat (10-18 MB live after each full collection, whatever the capture's size); what made
 * the peak is how far V8 lets the heap grow between collections, and newer V8 lets it grow
 * further:
 *
 * - the young generation grows (doubling, up to V8's maximum) while objects keep surviving
 *   scavenges, as the state of a capture's open connections does. Node 20 stops at 2 x 16 MB,
 *   Node 24 at 2 x 64 MB: on the bench's 10,000 connections Node 24 peaked at 276-278 MB. It is
 *   stopped at YOUNG_BYTES: the growth factor is set to 1 once it has got there. The size itself
 *   (--max-semi-space-size) is fixed when the heap is made, so cannot be set from here.
 * - a full collection comes when the old generation reaches a limit computed after the last
 *   one: what was live times a factor (up to 4 on a machine with memory to spare) or plus 8 MB,
 *   whichever is more, plus the young generation's capacity. OLD_GROWTH_PERCENT sets the factor.
 *
 * Neither costs time here: a scavenge's work is what survives it, which in wsdump is little
 * whatever the young generation's size, and the smaller heap touches fewer pages (Node 20, CPU time of 5-6 runs alternating
 * with the build before: the bulk capture's table 2.12 s against 2.40 s, `--json` 3.03 s
 * against 3.29 s, the 10,000 connections 3.16 s against 3.44 s; docs/performance.md, "The
 * eighth round, second session: memory"). A flag given to node (NODE_OPTIONS or the command
 * line) wins: a user who sized the heap keeps their sizes.
 */

/** Both semi-spaces of the young generation (as `node --max-semi-space-size=8`). */
export const YOUNG_BYTES = 16 * 1024 * 1024;
/** The old generation may grow to twice what the last full collection left alive (+ V8's 8 MB step). */
export const OLD_GROWTH_PERCENT = 100;

const YOUNG_FLAGS = /--(?:(?:max|min)[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor)\b/;
const OLD_FLAGS = /--heap[-_]growing[-_]percent\b/;

export interface HeapBounds {
  /** Call now and then (wsdump: once per chunk of input): ~2 µs until the young generation is bounded, nothing after. */
  check(): void;
  /** Gives V8 back its own growth (defaults: factor 2, dynamic old growth), for a process that goes on (tests run main() in theirs). */
  release(): void;
}

/**
 * Sets the old generation's growth at once; `check` stops the young generation growing when it
 * has reached YOUNG_BYTES. `nodeFlags`: the flags node was started with (process.execArgv and
 * NODE_OPTIONS); a bound the user set is left alone.
 */
export function boundHeap(nodeFlags: string = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ')): HeapBounds {
  const old = !OLD_FLAGS.test(nodeFlags);
  const young = !YOUNG_FLAGS.test(nodeFlags);
  if (old) setFlagsFromString(`--heap-growing-percent=${OLD_GROWTH_PERCENT}`);
  let total = -1;
  let bounded = !young;
  let set = false;
  const check = (): void => {
    if (bounded) return;
    // The young generation changes size only in a collection, which changes the heap's total:
    // a look at the spaces (~11 µs) only then.
    const now = getHeapStatistics().total_heap_size;
    if (now === total) return;
    total = now;
    const size = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
    if (size < YOUNG_BYTES) return;
    setFlagsFromString('--semi-space-growth-factor=1');
    bounded = set = true;
  };
  check();
  return {
    check,
    release() {
      bounded = true;
      if (old) setFlagsFromString('--heap-growing-percent=0');
      if (set) setFlagsFromString('--semi-space-growth-factor=2');
    },
  };
}
