// Vitest for the mutation run only (`npm run test:mutation`): the unit tests of the scoring core, nothing else.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/search/fusion.test.ts', 'src/search/sparse-scan.test.ts', 'src/search/segment-bm25.test.ts', 'src/search/colbert.test.ts'],
    testTimeout: 60_000,
  },
});
