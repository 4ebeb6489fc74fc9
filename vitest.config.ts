import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts', 'scripts/**/*.test.ts', 'demo/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'forks',
    // In CI a skipped test fails the run (scripts/test-rules).
    reporters: ['default', './scripts/test-rules/vitest-no-skip.ts'],
  },
});
