/**
 * `npm run fuzz`: the same property tests as `npm test`, FUZZ_FACTOR times longer. Properties
 * without their own run count get fast-check's default times the factor; those with one use
 * runs(n) from test/helpers/fuzz.ts. The seed is printed so a failure replays with FUZZ_SEED.
 */
import fc from 'fast-check';
import { FUZZ_FACTOR } from '../helpers/fuzz.js';

if (FUZZ_FACTOR > 1) {
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
  console.log(`fuzz: ${FUZZ_FACTOR}x the runs of every property, seed ${seed}`);
  fc.configureGlobal({ numRuns: 100 * FUZZ_FACTOR, seed });
}
