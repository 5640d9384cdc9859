/** How much longer property tests run: 1 under `npm test`, more under `npm run fuzz`. */
export const FUZZ_FACTOR = Math.max(1, Number(process.env.FUZZ_FACTOR ?? 1));

/** A property's run count, scaled for `npm run fuzz`. */
export function runs(n: number): number {
  return n * FUZZ_FACTOR;
}
