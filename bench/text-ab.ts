/**
 * npx tsx bench/text-ab.ts <old-checkout> [--n 20000] [--rounds 6]
 *
 * The old checkout's bench page must have timeTextCost (copy this checkout's bench/page/main.ts there).
 *
 * The cost of a page of hits' texts (issue 14), this checkout against another one, in one run under the same
 * load: each checkout's bench page is built and served on its own origin (so each has its own IndexedDB) in
 * one headless Chromium; each ingests the workload's first n documents (IdbStore, default batches), is closed
 * and reopened (a cold cache), then both answer the same 200 hybrid queries with and without texts, in
 * alternating rounds (old, new, old, new, …), each query without texts and then with them (bench page's
 * timeTextCost). Prints per side p50 with texts, p50 without and the p50 of the per-query differences (what
 * the texts cost per query, the figure issue 14 asks for), the stored text bytes per
 * document, and, on the old side's stored groups, where a page's time goes with the raw APIs: ten separate
 * transactions vs one, DecompressionStream per group, JSON.parse of a group.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { preview } from 'vite';
import { BASE_ARGS, CHROMIUM } from '../playwright.config.ts';
import { buildPage, call } from './page-host.ts';
import { QUERIES } from './workload.ts';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : dflt);
const oldRoot = resolve(argv[0] ?? '');
const n = opt('--n', 20_000);
const rounds = opt('--rounds', 6);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x: number) => x.toFixed(2);

const sides = [
  { name: 'old', root: oldRoot, port: 5311 },
  { name: 'new', root: resolve('.'), port: 5312 },
];
const servers = [];
for (const s of sides) {
  const outDir = `/tmp/text-ab-${s.name}`;
  await buildPage(s.root, outDir);
  servers.push(
    await preview({
      configFile: resolve('vite.config.ts'),
      logLevel: 'warn',
      build: { outDir },
      preview: { port: s.port, strictPort: true, host: '127.0.0.1' },
    }),
  );
}
const profile = mkdtempSync(join(os.tmpdir(), 'text-ab-'));
const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: BASE_ARGS });
try {
  const pages = [];
  for (const s of sides) {
    const page = await ctx.newPage();
    page.on('pageerror', (e) => console.log(`  [${s.name} page error] ${e.message}`));
    await page.goto(`http://127.0.0.1:${s.port}/bench/page/index.html`);
    await page.waitForFunction(() => (window as unknown as { benchReady?: boolean }).benchReady === true);
    await call(page, 'init', n);
    const ing = await call(page, 'ingest', { name: 'text-ab' });
    const b = ing.recordBreakdownPerDoc.docRecords;
    console.log(
      `${s.name}: ingested ${n} in ${(ing.addMs / 1000).toFixed(1)} s; text bytes/doc ${b} (of which text models ${ing.recordBreakdownPerDoc.textModels ?? 0})`,
    );
    await call(page, 'openIndex', 'text-ab');
    pages.push(page);
  }
  const got = sides.map(() => ({ text: [] as number[], none: [] as number[], cost: [] as number[] }));
  for (let r = 0; r < rounds; r++) {
    for (const [i, page] of pages.entries()) {
      // Each round reopens the index: the text caches start empty.
      await call(page, 'closeIndex', 'text-ab');
      await call(page, 'openIndex', 'text-ab');
      const t = await call(page, 'timeTextCost', 'text-ab', QUERIES);
      got[i].text.push(t.withText);
      got[i].none.push(t.without);
      got[i].cost.push(t.textCost);
    }
  }
  console.log(`\nhybrid p50 over ${rounds} rounds × ${QUERIES} queries, n ${n} (median of the rounds' p50s), load ${os.loadavg().map(fmt).join(' ')}`);
  for (const [i, s] of sides.entries()) {
    const g = got[i];
    console.log(
      `  ${s.name}: with texts ${fmt(median(g.text))} ms, without ${fmt(median(g.none))} ms, texts cost ${fmt(median(g.cost))} ms/query (p50 of per-query differences; per round: ${g.cost.map(fmt).join(' ')})`,
    );
  }
  console.log('\nwhere the old side\'s time goes (raw APIs on its stored groups, 10 random groups per "page", 100 pages):');
  await pages[0].evaluate('globalThis.__name = (f) => f'); // tsx names functions with a helper the page lacks
  const parts = await pages[0].evaluate(async () => {
    const db = await new Promise<IDBDatabase>((res, rej) => {
      const r = indexedDB.open('m3-search:text-ab');
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    const keys = await new Promise<IDBValidKey[]>((res) => {
      const r = db.transaction('texts').objectStore('texts').getAllKeys();
      r.onsuccess = () => res(r.result);
    });
    const req = <T>(r: IDBRequest<T>) => new Promise<T>((res, rej) => ((r.onsuccess = () => res(r.result)), (r.onerror = () => rej(r.error))));
    const inflate = async (z: Uint8Array) => {
      const ds = new DecompressionStream('deflate-raw');
      const w = ds.writable.getWriter();
      w.write(z as Uint8Array<ArrayBuffer>).catch(() => {});
      w.close().catch(() => {});
      const rd = ds.readable.getReader();
      const dec = new TextDecoder();
      let s = '';
      for (;;) {
        const { done, value } = await rd.read();
        if (done) break;
        s += dec.decode(value, { stream: true });
      }
      return s + dec.decode();
    };
    let seed = 7;
    const pick = () => keys[(seed = (seed * 1103515245 + 12345) >>> 0) % keys.length];
    const t = { separateTx: 0, oneTx: 0, inflate: 0, parse: 0, zBytes: 0, jsonBytes: 0 };
    const PAGES = 100;
    for (let p = 0; p < PAGES; p++) {
      const ks = Array.from({ length: 10 }, pick);
      let t0 = performance.now();
      await Promise.all(ks.map((k) => req(db.transaction('texts').objectStore('texts').get(k))));
      t.separateTx += performance.now() - t0;
      t0 = performance.now();
      const st = db.transaction('texts').objectStore('texts');
      const recs = (await Promise.all(ks.map((k) => req(st.get(k))))) as { z: Uint8Array }[];
      t.oneTx += performance.now() - t0;
      t0 = performance.now();
      const json = await Promise.all(recs.map((r) => inflate(r.z)));
      t.inflate += performance.now() - t0;
      t0 = performance.now();
      for (const j of json) JSON.parse(j);
      t.parse += performance.now() - t0;
      for (const r of recs) t.zBytes += r.z.byteLength;
      for (const j of json) t.jsonBytes += j.length;
    }
    db.close();
    for (const k of Object.keys(t) as (keyof typeof t)[]) t[k] /= PAGES;
    return t;
  });
  console.log(
    `  10 gets in 10 transactions ${fmt(parts.separateTx)} ms; in one ${fmt(parts.oneTx)} ms; DecompressionStream ×10 ${fmt(parts.inflate)} ms; ` +
      `JSON.parse ×10 ${fmt(parts.parse)} ms (per page: ${Math.round(parts.zBytes)} B deflated, ${Math.round(parts.jsonBytes)} chars of JSON)`,
  );
} finally {
  await ctx.close();
  for (const s of servers) await new Promise<void>((r) => s.httpServer.close(() => r()));
  rmSync(profile, { recursive: true, force: true });
}
