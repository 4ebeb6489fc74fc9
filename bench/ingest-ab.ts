/**
 * npx tsx bench/ingest-ab.ts [n=20000] [rounds=2] [--port P]
 *
 * add() with vectors given (the bench's ingest, default batches) with the segment builder worker and without it,
 * alternating in one browser so both see the same machine, and MiniSearch's addAll on the same documents each
 * round: docs/s, the ratio to MiniSearch, and CPU per document, which a shared machine moves far less than wall
 * time: the renderer main thread's (CDP ThreadTime) and all of Chromium's processes' (/proc: the main thread,
 * the builder worker, the IndexedDB backend), each less what generating the documents costs (measured alone).
 * Nothing is written outside the temporary browser profile.
 */

/** CPU ms of every process whose command line names `dir` (the browser's profile folder): Chromium's processes. */
function chromiumCpuMs(dir: string): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) continue;
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime
    } catch {
      // gone meanwhile
    }
  }
  return ticks * 10; // USER_HZ = 100
}
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { preview } from 'vite';
import { BASE_ARGS, CHROMIUM } from '../playwright.config.ts';
import { buildPage, call, OUT_DIR } from './page-host.ts';

const args = process.argv.slice(2);
const nums = args.filter((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--port');
const n = Number(nums[0] ?? 20_000);
const rounds = Number(nums[1] ?? 2);
const portArg = args.indexOf('--port');
const port = portArg >= 0 ? Number(args[portArg + 1]) : 0;
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  await buildPage();
  const server = await preview({ configFile: resolve('vite.config.ts'), logLevel: 'warn', build: { outDir: OUT_DIR }, preview: { port, host: '127.0.0.1' } });
  const addr = server.httpServer.address() as { port: number };
  const dir = mkdtempSync(join(os.tmpdir(), 'ingest-ab-'));
  const ctx = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: BASE_ARGS });
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
    await page.goto(`http://127.0.0.1:${addr.port}/bench/page/index.html`);
    await page.waitForFunction(() => (window as unknown as { benchReady?: boolean }).benchReady === true);
    await call(page, 'init', n);
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Performance.enable');
    const cpu = async () => ((await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'ThreadTime')?.value ?? NaN) * 1000;
    const measure = async <T>(f: () => Promise<T>): Promise<[T, number, number]> => {
      const [m0, a0] = [await cpu(), chromiumCpuMs(dir)];
      const r = await f();
      return [r, (await cpu()) - m0, chromiumCpuMs(dir) - a0];
    };
    const [, genMain, genAll] = await measure(() => call(page, 'ingest', { name: 'gen', generateOnly: true }));
    console.log(
      `${n} docs, vectors given, default batches; generation alone ${genMain.toFixed(0)} ms main-thread CPU, ${genAll.toFixed(0)} ms all; load ${load()}`,
    );
    const sums: Record<string, number[]> = {};
    for (let r = 0; r < rounds; r++) {
      const [mini, miniMain] = await measure(() => call(page, 'minisearch', 0, 1));
      console.log(
        `  round ${r + 1} MiniSearch addAll ${mini.addAllDocsPerSec.toFixed(0)} docs/s; main-thread CPU ${((miniMain / n) * 1000).toFixed(1)} µs/doc (its texts' generation and one query of each kind included)`,
      );
      for (const worker of r % 2 ? [false, true] : [true, false]) {
        const label = worker ? 'builder worker' : 'main thread';
        await call(page, 'builderWorker', worker);
        const before = await call(page, 'builderWorker');
        const [ing, mainCpu, allCpu] = await measure(() => call(page, 'ingest', { name: `ab-${worker}` }));
        const after = await call(page, 'builderWorker');
        const ratio = ing.docsPerSec / mini.addAllDocsPerSec;
        (sums[label] ??= []).push(ratio);
        const us = (ms: number) => ((ms / n) * 1000).toFixed(1);
        console.log(
          `  round ${r + 1} ${label.padEnd(14)} ${ing.docsPerSec.toFixed(0).padStart(6)} docs/s = ${ratio.toFixed(2)}× MiniSearch addAll (${mini.addAllDocsPerSec.toFixed(0)} docs/s); CPU µs/doc: main thread ${us(mainCpu - genMain)}, all Chromium ${us(allCpu - genAll)}; batches in worker ${after.worker - before.worker}, on main ${after.main - before.main}; load ${load()}`,
        );
      }
    }
    for (const [k, v] of Object.entries(sums))
      console.log(`${k}: ratio to MiniSearch addAll, mean of ${v.length}: ${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(2)}×`);
  } finally {
    await ctx.close();
    rmSync(dir, { recursive: true, force: true });
    await new Promise<void>((r) => server.httpServer.close(() => r()));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
