import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Property tests and end-to-end tests over loopback can take a few seconds each.
    testTimeout: 30_000,
  },
});
