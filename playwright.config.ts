import { defineConfig } from '@playwright/test';

/** Debian's Chromium (npx playwright install cannot download here); flags that keep it off the network. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/lib/chromium/chromium';
export const BASE_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
// E2E_PORT lets several checkouts run their browser tests side by side without reusing each other's server.
export const PORT = Number(process.env.E2E_PORT ?? 4173);

export default defineConfig({
  testDir: 'e2e',
  // The full-size rehearsal moves gigabytes: only `npm run test:real-shape` runs it (it sets M3_REAL_SHAPE).
  testIgnore: process.env.M3_REAL_SHAPE ? [] : ['**/real-shape.spec.ts'],
  timeout: 120_000,
  workers: 1,
  // In CI a skipped test fails the run (scripts/test-rules).
  reporter: [['list'], ['./scripts/test-rules/playwright-no-skip.ts']],
  use: { baseURL: `http://127.0.0.1:${PORT}`, launchOptions: { executablePath: CHROMIUM, args: [...BASE_ARGS, '--enable-unsafe-webgpu'] } },
  webServer: {
    command: `npx vite build --logLevel warn && npx vite preview --port ${PORT} --strictPort`,
    url: `http://127.0.0.1:${PORT}/e2e/pages/encoder.html`,
    timeout: 300_000,
    reuseExistingServer: !process.env.CI,
  },
});
