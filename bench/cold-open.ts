/**
 * npx tsx bench/cold-open.ts [--n 100000] [--rounds 3] [--base DIR] [--dir PROFILE] [--port P] [--profile]
 *
 * Cold open to first answer against the IndexedDB read limit (issue 14), in one run, as bench/run.ts measures them
 * (the bench page's coldOpen, then idbReadLimit in the same relaunched browser), but on an index built once and
 * kept: the first run ingests workload m3-bench-v1 into a persistent Chromium profile (`--dir`, default
 * /tmp/m3-cold-open-<n>), later runs reuse it. With `--base DIR` (another checkout of this repository with its
 * node_modules, e.g. `git worktree add /tmp/base main`) the page is built from both and the two alternate round by
 * round on the same stored index: an A/B of the open path on one machine state. `--profile` adds a CDP CPU profile
 * of the first round's cold open (top functions by self time). Prints each round's figures, the main thread's CPU
 * time of the cold open (CDP ThreadTime: holds on a shared machine, where wall times also measure the others), and
 * the load average.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { build, preview } from 'vite';
import { BASE_ARGS, CHROMIUM } from '../playwright.config.ts';
import { call } from './page-host.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const n = Number(arg('n', '100000'));
const rounds = Number(arg('rounds', '3'));
const baseRoot = arg('base', '');
const profileDir = arg('dir', join(os.tmpdir(), `m3-cold-open-${n}`));
const port = Number(arg('port', '0'));
const cpuProfile = process.argv.includes('--profile');
const pages = join(os.tmpdir(), `m3-cold-open-pages-${process.pid}`);
const name = `bench-${n}`;
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/** Builds the bench page of checkout `root` under pages/<label>/ (served at /<label>/). */
async function buildAt(root: string, label: string): Promise<void> {
  await build({
    configFile: false,
    root,
    base: `/${label}/`,
    publicDir: false,
    logLevel: 'warn',
    build: {
      outDir: join(pages, label),
      emptyOutDir: true,
      target: 'es2022',
      minify: false,
      rollupOptions: { input: { bench: resolve(root, 'bench/page/index.html') } },
    },
  });
}

async function launch(url: string): Promise<{ close: () => Promise<void>; page: Page }> {
  const ctx = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: BASE_ARGS });
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { benchReady?: boolean }).benchReady === true);
  await call(page, 'init', n);
  return { close: () => ctx.close(), page };
}

/** Self time per function over a CDP profile of `work`, top 20. */
async function profiled(page: Page, work: () => Promise<unknown>): Promise<[string, number][]> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  await work();
  const { profile: p } = await cdp.send('Profiler.stop');
  await cdp.detach();
  const self = new Map<number, number>();
  const deltas = p.timeDeltas ?? [];
  (p.samples ?? []).forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (deltas[i + 1] ?? 0) / 1000));
  const byFn = new Map<string, number>();
  for (const node of p.nodes) {
    const cf = node.callFrame;
    const file = cf.url ? cf.url.split('/').pop()!.replace(/\?.*$/, '') : '';
    const fn = `${cf.functionName || '(anonymous)'}${file ? ` ${file}:${cf.lineNumber + 1}` : ''}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + (self.get(node.id) ?? 0));
  }
  return [...byFn.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20);
}

async function main(): Promise<void> {
  const labels = baseRoot ? ['base', 'new'] : ['new'];
  await buildAt(process.cwd(), 'new');
  if (baseRoot) await buildAt(resolve(baseRoot), 'base');
  const server = await preview({ configFile: resolve('vite.config.ts'), logLevel: 'warn', build: { outDir: pages }, preview: { port, host: '127.0.0.1' } });
  const origin = `http://127.0.0.1:${(server.httpServer.address() as { port: number }).port}`;
  const url = (label: string) => `${origin}/${label}/bench/page/index.html`;
  try {
    const marker = join(profileDir, `.m3-built-${n}`);
    if (!existsSync(marker)) {
      mkdirSync(profileDir, { recursive: true });
      console.log(`ingesting ${n} documents into ${profileDir} (once; load ${load()})`);
      const { close, page } = await launch(url('new'));
      const ing = await call(page, 'ingest', { name });
      console.log(`  ${ing.docsPerSec.toFixed(0)} docs/s`);
      await close();
      writeFileSync(marker, `${new Date().toISOString()}\n`);
    }
    const rows: Record<string, { total: number[]; open: number[]; first: number[]; read: number[]; cpu: number[] }> = {};
    for (let r = 0; r < rounds; r++) {
      for (const label of r % 2 ? [...labels].reverse() : labels) {
        const { close, page } = await launch(url(label));
        const cdp = await page.context().newCDPSession(page);
        await cdp.send('Performance.enable');
        const cpu = async () => ((await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'ThreadTime')?.value ?? NaN) * 1000;
        const c0 = await cpu();
        let cold!: Awaited<ReturnType<typeof call<'coldOpen'>>>;
        const top = cpuProfile && r === 0 ? await profiled(page, async () => (cold = await call(page, 'coldOpen', name))) : null;
        if (!top) cold = await call(page, 'coldOpen', name);
        const cpuMs = (await cpu()) - c0;
        await call(page, 'closeIndex', name);
        const read = await call(page, 'idbReadLimit', name);
        await close();
        const row = (rows[label] ??= { total: [], open: [], first: [], read: [], cpu: [] });
        row.total.push(cold.totalMs);
        row.open.push(cold.openMs);
        row.first.push(cold.firstSearchMs);
        row.read.push(read.readMs);
        row.cpu.push(cpuMs);
        console.log(
          `round ${r + 1} ${label}: cold open ${cold.totalMs.toFixed(0)} ms (open ${cold.openMs.toFixed(0)} + first search ${cold.firstSearchMs.toFixed(0)}), ` +
            `main-thread CPU ${cpuMs.toFixed(0)} ms; getAll ${read.readMs.toFixed(0)} ms for ${(read.bytes / 1e6).toFixed(1)} MB; ratio ${(cold.totalMs / read.readMs).toFixed(2)}× (load ${load()})`,
        );
        if (top) for (const [fn, ms] of top) console.log(`    ${ms.toFixed(0).padStart(6)} ms  ${fn}`);
      }
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    for (const [label, r] of Object.entries(rows))
      console.log(
        `${label}: median cold open ${med(r.total).toFixed(0)} ms (open ${med(r.open).toFixed(0)} + first ${med(r.first).toFixed(0)}), CPU ${med(r.cpu).toFixed(0)} ms, ` +
          `getAll ${med(r.read).toFixed(0)} ms; median ratio ${med(r.total.map((t, i) => t / r.read[i])).toFixed(2)}×`,
      );
  } finally {
    await new Promise<void>((res) => server.httpServer.close(() => res()));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
