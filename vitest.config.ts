import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup/fuzz.ts', 'test/setup/app.ts'],
    // Property tests and end-to-end tests over loopback can take a few seconds each; under
    // `npm run fuzz` properties run FUZZ_FACTOR times longer.
    testTimeout: process.env.FUZZ_FACTOR ? 30 * 60_000 : 30_000,
  },
});
