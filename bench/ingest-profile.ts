/**
 * npx tsx bench/ingest-profile.ts [n=20000] [--port P] [--no-profile]
 *
 * Where the browser ingest and the cold open spend their time (issue 14): the bench page (bench/page) in
 * headless Chromium on a persistent profile, a CDP CPU profile around add() of n generated documents
 * (vectors given) and around the cold open + first answer in a relaunched browser, then MiniSearch's addAll
 * and the IndexedDB read limit in the same run. Prints the main thread's time by category (idle = waiting on
 * IndexedDB or the compression streams) and the top functions by self time. Nothing is written.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { preview } from 'vite';
import { BASE_ARGS, CHROMIUM } from '../playwright.config.ts';
import { buildPage, call, OUT_DIR } from './page-host.ts';
import type { Bench } from './page/main.ts';

const args = process.argv.slice(2);
const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 20_000);
const portArg = args.indexOf('--port');
const port = portArg >= 0 ? Number(args[portArg + 1]) : 0;
/** --no-profile: no CPU profiler running (its sampling costs CPU time too). */
const PROFILE = !args.includes('--no-profile');

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Self time per function and per category over a CDP profile of `work`. */
async function profile(page: Page, work: () => Promise<unknown>): Promise<{ wallMs: number; cats: Record<string, number>; top: [string, number][] }> {
  if (!PROFILE) {
    const t = Date.now();
    await work();
    return { wallMs: Date.now() - t, cats: {}, top: [] };
  }
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  const t = Date.now();
  await work();
  const wallMs = Date.now() - t;
  const { profile: p } = await cdp.send('Profiler.stop');
  await cdp.detach();
  const self = new Map<number, number>();
  const deltas = p.timeDeltas ?? [];
  (p.samples ?? []).forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (deltas[i + 1] ?? 0) / 1000));
  const byFn = new Map<string, number>();
  const cats: Record<string, number> = {};
  for (const node of p.nodes as Node[]) {
    const ms = self.get(node.id) ?? 0;
    const cf = node.callFrame;
    const file = cf.url ? cf.url.split('/').pop()!.replace(/\?.*$/, '') : '';
    const fn = `${cf.functionName || '(anonymous)'}${file ? ` ${file}:${cf.lineNumber + 1}` : ''}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + ms);
    const cat = cf.functionName.startsWith('(') ? cf.functionName : file || '(native)';
    cats[cat] = (cats[cat] ?? 0) + ms;
  }
  const top = [...byFn.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25);
  return { wallMs, cats, top };
}

function show(label: string, r: Awaited<ReturnType<typeof profile>>): void {
  console.log(
    `\n## ${label}: ${r.wallMs} ms wall (load ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')})`,
  );
  console.log('by file / category (self ms):');
  for (const [k, v] of Object.entries(r.cats)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 20))
    console.log(`  ${v.toFixed(0).padStart(7)}  ${k}`);
  console.log('top functions (self ms):');
  for (const [k, v] of r.top) console.log(`  ${v.toFixed(0).padStart(7)}  ${k}`);
}

async function main(): Promise<void> {
  await buildPage();
  const server = await preview({ configFile: resolve('vite.config.ts'), logLevel: 'warn', build: { outDir: OUT_DIR }, preview: { port, host: '127.0.0.1' } });
  const addr = server.httpServer.address() as { port: number };
  const url = `http://127.0.0.1:${addr.port}/bench/page/index.html`;
  const dir = mkdtempSync(join(os.tmpdir(), 'ingest-profile-'));
  const launch = async () => {
    const ctx = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: BASE_ARGS });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
    await page.goto(url);
    await page.waitForFunction(() => (window as unknown as { benchReady?: boolean }).benchReady === true);
    await call(page, 'init', n);
    return { ctx, page };
  };
  try {
    let { ctx, page } = await launch();
    // The renderer main thread's CPU time (CDP ThreadTime) says what the work costs on a loaded machine, where
    // wall times mostly say how busy the other processes were.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const cpu = async () => ((await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'ThreadTime')?.value ?? NaN) * 1000;
    let c0 = await cpu();
    await call(page, 'ingest', { name: 'gen-only', generateOnly: true });
    const genCpu = (await cpu()) - c0;
    let ing!: Awaited<ReturnType<Bench['ingest']>>;
    c0 = await cpu();
    const pi = await profile(page, async () => (ing = await call(page, 'ingest', { name: 'prof' })));
    const addCpu = (await cpu()) - c0 - genCpu;
    show(`ingest ${n} docs: add() ${ing.addMs.toFixed(0)} ms = ${ing.docsPerSec.toFixed(0)} docs/s (generation ${ing.genMs.toFixed(0)} ms)`, pi);
    c0 = await cpu();
    const mini = await call(page, 'minisearch', 0, 1);
    const miniCpu = (await cpu()) - c0; // addAll plus one query of each kind: a slight overestimate
    console.log(`\nMiniSearch addAll ${mini.addAllDocsPerSec.toFixed(0)} docs/s; ratio ${(ing.docsPerSec / mini.addAllDocsPerSec).toFixed(2)}×`);
    console.log(
      `main-thread CPU: add() ${addCpu.toFixed(0)} ms (${((n / addCpu) * 1000).toFixed(0)} docs/s), MiniSearch ${miniCpu.toFixed(0)} ms (generation included); CPU ratio ≥ ${(miniCpu / addCpu).toFixed(2)}× (generation alone ${genCpu.toFixed(0)} ms)`,
    );
    await ctx.close();
    ({ ctx, page } = await launch());
    let cold!: Awaited<ReturnType<Bench['coldOpen']>>;
    const po = await profile(page, async () => (cold = await call(page, 'coldOpen', 'prof')));
    const read = await call(page, 'idbReadLimit', 'prof');
    show(
      `cold open ${cold.totalMs.toFixed(0)} ms (open ${cold.openMs.toFixed(0)}, first search ${cold.firstSearchMs.toFixed(0)}); read limit ${read.readMs.toFixed(0)} ms; ratio ${(cold.totalMs / read.readMs).toFixed(2)}×`,
      po,
    );
    await ctx.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await new Promise<void>((r) => server.httpServer.close(() => r()));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
