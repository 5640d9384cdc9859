/** min / median / max of a set of durations, in milliseconds. */
export interface Spread {
  min: number;
  median: number;
  max: number;
}

/** Samples kept exactly; beyond, a uniform sample of this many stands for them all (for the median). */
const KEPT = 4096;

/** Milliseconds rounded to the microsecond: what a capture's timestamps can tell apart, without float noise. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * Durations whose min, median and max are wanted, in bounded memory: min and max are exact, the
 * median is exact up to 4,096 samples and taken from a uniform sample of 4,096 beyond (reservoir
 * sampling, Vitter's algorithm R, with a fixed-seed generator so the same traffic gives the same
 * figures). Nothing is allocated until the first sample: most connections never ping.
 */
export class Samples {
  private kept: number[] | null = null;
  private seen = 0;
  private min = Infinity;
  private max = -Infinity;
  /** xorshift32 state: deterministic, and cheap enough to run per sample. */
  private seed = 0x9e3779b9;

  get count(): number {
    return this.seen;
  }

  add(value: number): void {
    if (!Number.isFinite(value)) return;
    this.seen++;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    const kept = (this.kept ??= []);
    if (kept.length < KEPT) {
      kept.push(value);
      return;
    }
    const slot = this.random() % this.seen;
    if (slot < KEPT) kept[slot] = value;
  }

  /** null when there is no sample. */
  spread(): Spread | null {
    const kept = this.kept;
    if (kept === null || kept.length === 0) return null;
    const sorted = Float64Array.from(kept).sort();
    const mid = sorted.length >> 1;
    const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    return { min: roundMs(this.min), median: roundMs(median), max: roundMs(this.max) };
  }

  private random(): number {
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return this.seed;
  }
}
