/**
 * Dense-scan micro-benchmark.
 *   npx tsx bench/dense-scan.bench.ts              # Node
 *   npx tsx bench/dense-scan.bench.ts --chromium   # also inside headless Chromium (esbuild bundle)
 *   --quick: n = 10k only, 50 queries.
 * Reports p50/p95 per query (quantise + scan + top-10) and recall@10 / top-1 agreement of the
 * int8 ranking against the exact fp32 top-10, for near-document and pure random queries.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import { defaultConfig, formatRows, runBench, type BenchConfig } from './dense-scan.core.ts';

const args = new Set(process.argv.slice(2));
const cfg: BenchConfig = args.has('--quick') ? { ...defaultConfig, sizes: [10_000], queries: 50, slowQueries: 20 } : defaultConfig;

async function chromium(): Promise<string> {
  const { build } = await import('esbuild');
  const { chromium: pw } = await import('playwright-core');
  const bundle = await build({
    stdin: {
      contents: `import { runBench, formatRows } from './bench/dense-scan.core.ts'; globalThis.__bench = { runBench, formatRows };`,
      resolveDir: process.cwd(),
      loader: 'ts',
    },
    bundle: true,
    format: 'iife',
    write: false,
    target: 'es2022',
  });
  const exe = ['/usr/bin/chromium', '/usr/lib/chromium/chromium'].find((p) => existsSync(p));
  const browser = await pw.launch({
    executablePath: exe ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => console.log(`  [chromium] ${m.text()}`));
    // Cross-origin isolation: performance.now() resolution goes from 100 µs to 5 µs.
    await page.route('http://bench.localhost/', (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: '<!doctype html><title>dense-scan</title>',
        headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
      }),
    );
    await page.goto('http://bench.localhost/');
    if (!(await page.evaluate(() => crossOriginIsolated))) console.log('  [chromium] not cross-origin isolated: timer resolution 0.1 ms');
    await page.addScriptTag({ content: bundle.outputFiles[0].text });
    const ua = await page.evaluate(() => navigator.userAgent);
    const out = await page.evaluate((c) => {
      const b = (globalThis as unknown as { __bench: { runBench: typeof runBench; formatRows: typeof formatRows } }).__bench;
      const r = b.runBench(c, (s) => console.log(s));
      return { env: r.env, table: b.formatRows(r.rows) };
    }, cfg);
    return `Chromium (${ua.match(/Chrome\/[\d.]+/)?.[0]}), ${JSON.stringify(out.env)}\n${out.table}`;
  } finally {
    await browser.close();
  }
}

const cpu = os.cpus()[0]?.model ?? '?';
console.log(`dense-scan bench: d=${cfg.dim}, ${cfg.queries} queries (half near 0.6·d+0.4·u, half random), k=${cfg.k}; ${cpu}, ${os.cpus().length} cores`);
if (!args.has('--chromium-only')) {
  const r = runBench(cfg, (s) => console.log(`  ${s}`));
  console.log(`\nNode ${process.version}, ${JSON.stringify(r.env)}\n${formatRows(r.rows)}\n`);
}
if (args.has('--chromium') || args.has('--chromium-only')) console.log(await chromium());
