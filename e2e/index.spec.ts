/**
 * M3Index in real Chromium over IndexedDB: persistence across reloads, a tab killed mid-ingest (many times),
 * a real QuotaExceededError, two tabs writing one index, persistent storage, HTML as data, searches that
 * never touch IndexedDB after a cold open, and bad input. The page is e2e/pages/index.html (window.m3index).
 */
import { test, expect, chromium, type BrowserContext, type Page } from '@playwright/test';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE_ARGS, CHROMIUM } from '../playwright.config.ts';
import { openHarness, ORIGIN } from './helpers.ts';
import { mulberry32 as prng } from '../src/util/random.ts';

const PAGE = '/e2e/pages/index.html';

async function reload(page: Page): Promise<void> {
  await page.reload();
  await page.waitForFunction(() => (window as any).m3Ready === true);
}

function launchPersistent(dir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, args: BASE_ARGS, baseURL: ORIGIN });
}

/**
 * Every process of a persistent context's browser: the browser itself and its children (renderers, GPU, network
 * and the storage service, which is where IndexedDB writes LevelDB), all of which name the profile directory.
 */
function profilePids(profileDir: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(`--user-data-dir=${profileDir}`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); // a zombie holds no files
  } catch {
    return false;
  }
}

/**
 * SIGKILLs the whole browser at once, as a power cut or an OOM kill would. Killing only the browser process is
 * not enough: the storage service lives in its own process, would finish the transaction in flight, and would
 * keep the LevelDB lock until it notices, so a relaunch could fail to open the backing store. Waits until all
 * are gone.
 */
async function killBrowser(profileDir: string): Promise<number> {
  const pids = profilePids(profileDir);
  if (!pids.length) throw new Error(`no browser process found for ${profileDir}`);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (let t = Date.now(); pids.some(alive); ) {
    if (Date.now() - t > 10_000) throw new Error(`browser processes ${pids.filter(alive).join(', ')} survived SIGKILL`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return pids.length;
}

/**
 * The first IndexedDB open after a kill, as an app would make it. If it fails, says whether Chromium recorded
 * corruption (corruption_info.json), which means it has deleted the origin's whole IndexedDB.
 */
async function firstOpenAfterKill(page: Page, profileDir: string): Promise<void> {
  const err = await page.evaluate(
    () =>
      new Promise<string | null>((res) => {
        const r = indexedDB.open('m3-probe');
        r.onsuccess = () => {
          r.result.close();
          indexedDB.deleteDatabase('m3-probe').onsuccess = () => res(null);
        };
        r.onerror = () => res(`${r.error?.name}: ${r.error?.message}`);
      }),
  );
  if (err === null) return;
  const idbDir = join(profileDir, 'Default', 'IndexedDB');
  const marked = existsSync(idbDir) && readdirSync(idbDir).some((d) => existsSync(join(idbDir, d, 'corruption_info.json')));
  throw new Error(
    `the first IndexedDB open after the kill failed: ${err}${marked ? " (Chromium recorded corruption_info.json: it has discarded the origin's IndexedDB)" : ''}`,
  );
}

interface Family {
  prefix: string;
  dims: number;
  tokenBase: number;
}

interface Consistency {
  count: number;
  metaDocCount: number;
  storedDocs: number;
  segments: number;
  problems: string[];
}

/**
 * Opens index `name` in the page (a fresh M3Index over IdbStore, no encoder) and checks it against the raw
 * database and against the documents it should hold: `families[f]` documents 0..n_f-1 for some n_f (whole
 * prefixes), every one found by its own dense vector at rank 1, by its unique sparse token and by its unique
 * word (BM25), with its exact text; meta, segments and document records agree (no orphan segment, no
 * record without a segment, no key used twice). Returns the per-family survivors and the problems found.
 */
async function checkIndex(page: Page, name: string, families: Family[]): Promise<Consistency & { perFamily: number[] }> {
  return page.evaluate(
    async ({ name, families }) => {
      const M = (window as any).m3index;
      const problems: string[] = [];
      const raw = await M.rawDump(name);
      if (!raw.exists || !raw.meta)
        return { count: 0, metaDocCount: 0, storedDocs: 0, segments: 0, perFamily: families.map(() => 0), problems: ['no database or no meta'] };
      const idx = await M.M3Index.open(name);
      const count: number = idx.count();
      const meta = raw.meta;
      // Segments: what the meta lists is exactly what is stored.
      const stored = raw.segments.map((s: any) => s.seq).sort((a: number, b: number) => a - b);
      const listed = [...meta.segments].sort((a: number, b: number) => a - b);
      if (JSON.stringify(stored) !== JSON.stringify(listed))
        problems.push(`segments stored ${JSON.stringify(stored)} but meta lists ${JSON.stringify(listed)}`);
      const dead = new Set<number>(meta.tombstones);
      const keyToId = new Map<number, string>();
      for (const s of raw.segments)
        s.keys.forEach((k: number, j: number) => {
          if (keyToId.has(k)) problems.push(`key ${k} in two segments`);
          keyToId.set(k, s.ids[j]);
          if (k >= meta.nextKey) problems.push(`key ${k} >= nextKey ${meta.nextKey}`);
        });
      const liveInSegments = [...keyToId.keys()].filter((k) => !dead.has(k)).length;
      if (liveInSegments !== count) problems.push(`segments hold ${liveInSegments} live docs, count() says ${count}`);
      if (meta.docCount !== count) problems.push(`meta.docCount ${meta.docCount} != count() ${count}`);
      if (raw.docs.length !== count) problems.push(`${raw.docs.length} document records for ${count} docs`);
      const textOf = new Map<string, string>();
      for (const d of raw.docs) {
        if (keyToId.get(d.key) !== d.id || dead.has(d.key)) problems.push(`document record ${d.id} (key ${d.key}) has no live segment row`);
        textOf.set(d.id, d.text);
      }
      // Which documents survived: per family a prefix 0..n-1.
      const perFamily: number[] = [];
      for (const f of families) {
        let n = 0;
        while (idx.has(`${f.prefix}-${n}`)) n++;
        perFamily.push(n);
      }
      const expected = perFamily.reduce((a, b) => a + b, 0);
      if (expected !== count) problems.push(`count ${count} but the surviving documents are not whole prefixes (${perFamily.join('+')})`);
      for (let f = 0; f < families.length; f++) {
        const { prefix, dims, tokenBase } = families[f];
        for (let i = 0; i < perFamily[f]; i++) {
          const doc = M.familyDoc(prefix, i, dims, tokenBase);
          if (problems.length > 20) break;
          if (textOf.get(doc.id) !== doc.text) problems.push(`${doc.id}: stored text differs`);
          const dense = await idx.search({ embedding: { dense: doc.embedding.dense } }, { mode: 'dense', k: 1, includeText: false });
          if (dense[0]?.id !== doc.id) problems.push(`${doc.id}: own dense vector finds ${dense[0]?.id}`);
          const sparse = await idx.search(
            { embedding: { sparse: { ids: Uint32Array.of(tokenBase + i), weights: Float32Array.of(1) } } },
            { mode: 'sparse', k: 3, includeText: false },
          );
          if (sparse.length !== 1 || sparse[0].id !== doc.id)
            problems.push(`${doc.id}: own sparse token finds ${JSON.stringify(sparse.map((h: any) => h.id))}`);
          const bm25 = await idx.search(M.uniqueWord(prefix, i), { mode: 'bm25', k: 3, includeText: false });
          if (bm25.length !== 1 || bm25[0].id !== doc.id) problems.push(`${doc.id}: own word finds ${JSON.stringify(bm25.map((h: any) => h.id))}`);
        }
      }
      idx.close();
      return { count, metaDocCount: meta.docCount, storedDocs: raw.docs.length, segments: stored.length, perFamily, problems };
    },
    { name, families },
  );
}

test('persistence across reloads: count, get and every search identical (ids and scores)', async ({ page }) => {
  await openHarness(page, PAGE);
  const QUERIES = ['alpha beta', 'gamma omega psi', 'kappa', 'theta iota sigma tau', 'zeta'];
  const OPTS = [
    { mode: 'hybrid' },
    { mode: 'hybrid', fusion: 'rrf' },
    { mode: 'hybrid', fusion: 'normalized', weights: { dense: 1, sparse: 1, bm25: 1, colbert: 0 } },
    { mode: 'dense' },
    { mode: 'sparse' },
    { mode: 'bm25' },
    { mode: 'colbert' },
    { mode: 'hybrid', rerank: { colbert: true, topN: 20 } },
    { mode: 'hybrid', filter: { group: 'a' } },
    { mode: 'bm25', explain: true },
  ];
  const snapshot = (write: boolean) =>
    page.evaluate(
      async ({ write, QUERIES, OPTS }) => {
        const M = (window as any).m3index;
        const encoder = new M.FakeEncoder({ dims: 32 });
        const idx = await M.M3Index.open('persist', { encoder, colbert: true });
        if (write) {
          // Texts only: the encoder embeds them. 3 batches, then deletes and replacements (tombstones).
          const docs = M.corpus(600, 32, 7).map((d: any) => ({ id: d.id, text: d.text, metadata: d.metadata }));
          await idx.add(docs, { batchSize: 250 });
          await idx.remove(['d1', 'd2', 'd3', 'd400', 'nope']);
          await idx.upsert([
            { id: 'd10', text: 'kappa kappa replaced', metadata: { group: 'a' } },
            { id: 'new1', text: 'zeta psi new', metadata: { group: 'a' } },
          ]);
        }
        const hits = [];
        for (const q of QUERIES) for (const o of OPTS) hits.push(await idx.search(q, { k: 10, ...o }));
        const got = await Promise.all(['d0', 'd1', 'd10', 'd599', 'new1'].map((id) => idx.get(id)));
        const out = { count: idx.count(), info: idx.info, got, hits };
        idx.close();
        return out;
      },
      { write, QUERIES, OPTS },
    );
  const before = await snapshot(true);
  expect(before.count).toBe(600 - 4 + 1);
  expect(before.got[1]).toBeUndefined();
  expect(before.got[2]).toEqual({ id: 'd10', text: 'kappa kappa replaced', metadata: { group: 'a' } });
  expect(before.hits.every((h: any[]) => h.length > 0)).toBe(true);
  await reload(page);
  const after = await snapshot(false);
  expect(after.count).toBe(before.count);
  expect(after.info).toEqual(before.info);
  expect(after.got).toEqual(before.got);
  // Same ids, same order, same scores to the last bit, same per-signal scores and ranks, texts, explanations.
  expect(after.hits).toEqual(before.hits);
  console.log(
    `persistence: ${after.count} docs in ${after.info.segments} segments (${after.info.tombstones} tombstones), ${after.hits.length} searches identical after reload`,
  );
});

test('ingest builds segments in the builder worker, byte for byte what the main thread builds', async ({ page }) => {
  await openHarness(page, PAGE);
  const out = await page.evaluate(async () => {
    const M = (window as any).m3index;
    // Vectors given (dense, sparse, ColBERT on every other document, metadata on some) and texts the encoder embeds.
    const docs = () =>
      M.familyDocs('wk', 0, 700, 32, 5000).map((d: any, i: number) => {
        if (i % 7 === 3) return { id: d.id, text: d.text };
        const r = M.rng(i + 1);
        const colbert = i % 2 ? M.gaussianUnit(r, 32 * 3) : undefined;
        return { ...d, metadata: i % 3 ? d.metadata : undefined, embedding: { ...d.embedding, ...(colbert ? { colbert } : {}) } };
      });
    const build = async (name: string, worker: boolean) => {
      M.builder.useBuilderWorker(worker);
      await M.deleteDatabase(name);
      const before = M.builder.builderCounts();
      const idx = await M.M3Index.open(name, { encoder: new M.FakeEncoder({ dims: 32 }), colbert: true });
      await idx.add(docs(), { batchSize: 150 });
      const hits = await idx.search('alpha beta', { k: 10 });
      idx.close();
      const after = M.builder.builderCounts();
      return { segments: await M.rawSegments(name), hits, worker: after.worker - before.worker, main: after.main - before.main };
    };
    const inWorker = await build('wk-worker', true);
    const onMain = await build('wk-main', false);
    M.builder.useBuilderWorker(true);
    return { inWorker, onMain };
  });
  expect(out.inWorker.worker).toBe(5); // 700 documents in batches of 150
  expect(out.inWorker.main).toBe(0);
  expect(out.onMain).toMatchObject({ worker: 0, main: 5 });
  expect(out.inWorker.segments.length).toBeGreaterThan(100_000);
  expect(out.inWorker.segments).toBe(out.onMain.segments);
  expect(out.inWorker.hits).toEqual(out.onMain.hits);
});

test('a page killed mid-ingest reopens consistent: whole batches or nothing (15 kills)', async () => {
  test.setTimeout(180_000);
  const ITERATIONS = 15;
  const BATCH = 200;
  const BATCHES = 20;
  const DIMS = 64;
  const seed = Number(process.env.M3_KILL_SEED ?? Date.now() % 1e9);
  console.log(`kill test seed ${seed} (M3_KILL_SEED=${seed} replays it)`);
  const rand = prng(seed);
  const dir = mkdtempSync(join(tmpdir(), 'm3-kill-'));
  let ctx = await launchPersistent(dir);
  const results: string[] = [];
  const partial: number[] = [];
  try {
    let page: Page;
    const methods = ['renderer crash (CDP Page.crash)', 'page.close({ runBeforeUnload: false })', 'SIGKILL of every browser process'] as const;
    for (let iter = 0; iter < ITERATIONS; iter++) {
      const name = `kill-${iter}`;
      const fam: Family = { prefix: `k${iter}`, dims: DIMS, tokenBase: 10_000 + iter * 10_000 };
      const method = methods[iter % methods.length];
      let phase = 'setup (open, first batch)';
      // The kill is tied to a progress point of the add, never to the clock, and the page holds still there until
      // it dies: right after batch k's writes were queued in its transaction (the page's thread then spins, so
      // the transaction cannot commit: mid-commit), or right after batch k committed (the next batch's write lock
      // is held back: between commits). A spinning renderer cannot serve CDP's Page.crash, so that method gets
      // the between-commits point. k leaves at least two batches to come.
      const kind = method === 'renderer crash (CDP Page.crash)' || rand() < 0.5 ? 'committed' : 'queued';
      const point = { kind, k: 1 + Math.floor(rand() * (BATCHES - 3)) };
      const at = `${point.kind} ${point.k}`;
      try {
        page = await ctx.newPage();
        await openHarness(page, PAGE);
        // Batches the page reported committed before the kill: those must survive (durability: 'strict').
        let reported = 0;
        let reached!: () => void;
        let finished!: (why: string) => void;
        const atPoint = new Promise<void>((res, rej) => ((reached = res), (finished = (why) => rej(new Error(why)))));
        atPoint.catch(() => {});
        await page.exposeFunction('reportProgress', (kind: string, n: number) => {
          if (kind === 'committed') reported = Math.max(reported, n * BATCH);
          if (kind === 'done') finished(`the add finished before the progress point ${at}`);
          if (kind === point.kind && n === point.k) reached();
        });
        await page.evaluate(
          async ({ name, fam, BATCH, BATCHES, point }) => {
            const M = (window as any).m3index;
            const w = window as any;
            // The store reports when a commit's writes are queued (the transaction in flight), once armed.
            const store = new M.IdbStore(name);
            const commit = store.commit.bind(store);
            const lock = store.withWriteLock.bind(store);
            w.queued = 0;
            w.committed = 0;
            store.commit = (batch: unknown, o: any = {}) =>
              commit(batch, {
                ...o,
                onQueued: () => {
                  o.onQueued?.();
                  if (!w.armed) return;
                  w.reportProgress('queued', ++w.queued);
                  if (point.kind === 'queued' && w.queued === point.k) for (const t = performance.now(); performance.now() - t < 60_000; );
                },
              });
            store.withWriteLock = async (fn: () => Promise<unknown>) => {
              if (w.armed && point.kind === 'committed' && w.committed >= point.k) await new Promise(() => {});
              return lock(fn);
            };
            const idx = await M.M3Index.open(name, { model: { modelId: 'kill', dims: fam.dims }, store });
            await idx.add(M.familyDocs(fam.prefix, 0, BATCH, fam.dims, fam.tokenBase)); // one batch before
            w.pending = M.familyDocs(fam.prefix, BATCH, BATCH * BATCHES, fam.dims, fam.tokenBase);
            w.idx = idx;
          },
          { name, fam, BATCH, BATCHES, point },
        );
        const cdp = await ctx.newCDPSession(page);
        // Start the big add without waiting for it; kill when it reaches the chosen progress point.
        await page.evaluate((BATCH) => {
          const w = window as any;
          w.armed = true;
          const onProgress = (p: any) => p.phase === 'write' && w.reportProgress('committed', (w.committed = p.done / BATCH));
          w.ingest = w.idx.add(w.pending, { batchSize: BATCH, onProgress });
          w.ingest.then(
            () => w.reportProgress('done', 0),
            () => {},
          );
        }, BATCH);
        phase = 'ingest and kill';
        await atPoint;
        if (method === 'renderer crash (CDP Page.crash)') {
          const crashed = page.waitForEvent('crash');
          cdp.send('Page.crash').catch(() => {});
          await crashed;
          await page.close();
        } else if (method === 'page.close({ runBeforeUnload: false })') {
          await page.close({ runBeforeUnload: false });
        } else {
          await killBrowser(dir);
          await ctx.close().catch(() => {});
          ctx = await launchPersistent(dir);
        }
        const seenBeforeKill = reported;

        phase = 'reopen and check';
        page = await ctx.newPage();
        await openHarness(page, PAGE);
        await firstOpenAfterKill(page, dir);
        const c = await checkIndex(page, name, [fam]);
        const committed = c.count - BATCH;
        results.push(`${iter}: ${method} at ${at} → ${committed / BATCH}/${BATCHES} batches (page had reported ${seenBeforeKill / BATCH})`);
        expect(c.problems, `iteration ${iter} (${method}, at ${at})`).toEqual([]);
        expect(c.count % BATCH).toBe(0);
        expect(c.count).toBeGreaterThanOrEqual(BATCH + seenBeforeKill);
        // Held between commits: exactly batches 1..k. Held mid-commit of batch k: 1..k-1, batch k not (its
        // transaction never got to commit).
        expect(committed).toBe(BATCH * (point.kind === 'committed' ? point.k : point.k - 1));
        expect(c.count).toBeLessThanOrEqual(BATCH * (BATCHES + 1));
        if (committed > 0 && committed < BATCH * BATCHES) partial.push(iter);
        // A further add after the kill works and is found.
        phase = 'further add';
        const further = await page.evaluate(
          async ({ name, fam, from }) => {
            const M = (window as any).m3index;
            const idx = await M.M3Index.open(name, { model: { modelId: 'kill', dims: fam.dims } });
            const docs = M.familyDocs(fam.prefix, from, 50, fam.dims, fam.tokenBase);
            await idx.add(docs);
            const hit = await idx.search(M.uniqueWord(fam.prefix, from + 49), { mode: 'bm25', k: 1, includeText: false });
            const out = { count: idx.count(), hit: hit[0]?.id };
            idx.close();
            return out;
          },
          { name, fam, from: c.count },
        );
        expect(further).toEqual({ count: c.count + 50, hit: `${fam.prefix}-${c.count + 49}` });
        await page.close();
      } catch (e) {
        results.push(`${iter}: ${method} at ${at} — FAILED during ${phase}: ${(e as Error).message.split('\n')[0]}`);
        throw e;
      }
    }
  } finally {
    console.log(`kill mid-ingest:\n  ${results.join('\n  ')}\n  ${partial.length} kills landed mid-ingest and were checked`);
    await ctx.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  // The kills must really have landed mid-ingest, not only before or after it.
  expect(partial.length).toBeGreaterThanOrEqual(5);
});

test('quota: a real QuotaExceededError becomes M3QuotaError, the index stays consistent and reopens', async ({ page, context }) => {
  await openHarness(page, PAGE);
  const cdp = await context.newCDPSession(page);
  const QUOTA = 3_000_000;
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: ORIGIN, quotaSize: QUOTA });
  const fam: Family = { prefix: 'q', dims: 256, tokenBase: 500_000 };
  const r = await page.evaluate(
    async ({ fam }) => {
      const M = (window as any).m3index;
      const idx = await M.M3Index.open('quota', { model: { modelId: 'quota', dims: fam.dims } });
      await idx.add(M.familyDocs(fam.prefix, 0, 500, fam.dims, fam.tokenBase), { batchSize: 250 });
      let err: any = null;
      try {
        await idx.add(M.familyDocs(fam.prefix, 500, 10_000, fam.dims, fam.tokenBase), { batchSize: 250 });
      } catch (e: any) {
        err = {
          isQuota: e instanceof M.M3QuotaError,
          name: e.name,
          message: e.message,
          docsStored: e.docsStored,
          bytesStored: e.bytesStored,
          cause: e.cause?.name,
        };
      }
      const out = { err, count: idx.count(), storage: await idx.storage() };
      idx.close();
      return out;
    },
    { fam },
  );
  console.log(`quota ${QUOTA} B: ${r.err?.message}; usage ${r.storage.usage}`);
  expect(r.err).not.toBeNull();
  expect(r.err.isQuota).toBe(true);
  expect(r.err.cause).toBe('QuotaExceededError');
  expect(r.err.docsStored % 250).toBe(0);
  expect(r.err.docsStored).toBeGreaterThan(0);
  expect(r.err.docsStored).toBeLessThan(10_000);
  expect(r.err.bytesStored).toBeGreaterThan(0);
  expect(r.err.message).toContain(`${r.err.docsStored} documents`);
  expect(r.count).toBe(500 + r.err.docsStored);
  // Reopen (after a reload) finds exactly the committed batches, all searchable, nothing orphaned.
  await reload(page);
  const c = await checkIndex(page, 'quota', [fam]);
  expect(c.problems).toEqual([]);
  expect(c.count).toBe(r.count);
  // With room again, the same index takes more.
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: ORIGIN });
  const more = await page.evaluate(
    async ({ fam, from }) => {
      const M = (window as any).m3index;
      const idx = await M.M3Index.open('quota');
      await idx.add(M.familyDocs(fam.prefix, from, 500, fam.dims, fam.tokenBase), { batchSize: 250 });
      const n = idx.count();
      idx.close();
      return n;
    },
    { fam, from: r.count },
  );
  expect(more).toBe(r.count + 500);
});

test('two tabs write one index concurrently: the write lock handed over every round, all docs, exact count, no key collisions', async ({ context }) => {
  const committed = [0, 0];
  const waiters: (() => void)[] = [];
  await context.exposeFunction('reportCommitted', (tab: number, n: number) => {
    committed[tab] = n;
    for (const w of waiters.splice(0)) w();
  });
  // The write lock's history, as the tabs report it: a request, entering the critical section, leaving it.
  // A tab that enters holds it until the other tab has requested it too, so every round hands the lock over
  // from one tab to the other while the second waits; a broken lock (both inside at once) shows as overlap.
  const lockLog: { tab: number; kind: 'request' | 'enter' | 'exit' }[] = [];
  const requests = [0, 0];
  const lockWaiters: (() => void)[] = [];
  await context.exposeFunction('lockEvent', async (tab: number, kind: 'request' | 'enter' | 'exit') => {
    lockLog.push({ tab, kind });
    if (kind === 'request') {
      requests[tab]++;
      for (const w of lockWaiters.splice(0)) w();
    }
    if (kind === 'enter')
      await new Promise<void>((res) => {
        const check = () => (requests[1 - tab] >= requests[tab] ? res() : lockWaiters.push(check));
        check();
      });
  });
  const bothCommitted = (n: number) =>
    new Promise<void>((res) => {
      const check = () => (committed[0] >= n && committed[1] >= n ? res() : waiters.push(check));
      check();
    });
  const fams: Family[] = [
    { prefix: 'ta', dims: 64, tokenBase: 700_000 },
    { prefix: 'tb', dims: 64, tokenBase: 800_000 },
  ];
  const N = 1000;
  const BATCH = 100;
  // Each tab opens the index and builds its documents. Its store holds every write-lock request at a gate until
  // the test grants a turn: in each round both tabs get one turn at once and race for the lock (Web Locks), and
  // the next round starts when both have reported that batch committed. The interleaving is set by progress
  // (commits and lock events), not by the clock.
  const A = await context.newPage();
  const B = await context.newPage();
  await openHarness(A, PAGE);
  await openHarness(B, PAGE);
  for (const [tab, p, fam] of [
    [0, A, fams[0]],
    [1, B, fams[1]],
  ] as const)
    await p.evaluate(
      async ({ tab, fam, N }) => {
        const M = (window as any).m3index;
        const w = window as any;
        const store = new M.IdbStore('tabs');
        const lock = store.withWriteLock.bind(store);
        w.turns = 0;
        w.waiting = [] as (() => void)[];
        w.grant = () => (w.waiting.length ? w.waiting.shift()() : w.turns++);
        store.withWriteLock = async (fn: () => Promise<unknown>) => {
          if (!w.gated) return lock(fn);
          await new Promise<void>((r) => (w.turns > 0 ? (w.turns--, r()) : w.waiting.push(r)));
          await w.lockEvent(tab, 'request');
          return lock(async () => {
            await w.lockEvent(tab, 'enter');
            try {
              return await fn();
            } finally {
              await w.lockEvent(tab, 'exit');
            }
          });
        };
        w.tab = tab;
        // merge: false: after its batches add() would merge, under the gated lock the test never grants again
        w.idx = await M.M3Index.open('tabs', { model: { modelId: 'tabs', dims: fam.dims }, store, merge: false });
        w.docs = M.familyDocs(fam.prefix, 0, N, fam.dims, fam.tokenBase);
      },
      { tab, fam, N },
    );
  const ingest = (p: Page) =>
    p.evaluate(async (BATCH) => {
      const w = window as any;
      w.gated = true;
      await w.idx.add(w.docs, { batchSize: BATCH, onProgress: (pr: any) => pr.phase === 'write' && w.reportCommitted(w.tab, pr.done / BATCH) });
      w.gated = false;
      return w.idx.count();
    }, BATCH);
  const adds = Promise.all([ingest(A), ingest(B)]);
  for (let round = 1; round <= N / BATCH; round++) {
    await Promise.all([A.evaluate(() => (window as any).grant()), B.evaluate(() => (window as any).grant())]);
    await bothCommitted(round);
  }
  await adds;
  // The lock, event by event: never held by both tabs; in every round both requested it, one entered and left,
  // and only then the other, which had been waiting (one handover per round).
  const rounds = N / BATCH;
  const entries: string[] = [];
  let holder = -1;
  let handovers = 0;
  for (const [i, e] of lockLog.entries()) {
    if (e.kind === 'enter') {
      expect(holder, `event ${i}: tab ${e.tab} entered while tab ${holder} held the lock`).toBe(-1);
      holder = e.tab;
      entries.push(e.tab === 0 ? 'A' : 'B');
      // A handover: the last release was the other tab's, and this tab had asked before it.
      const released = lockLog.slice(0, i).findLastIndex((x) => x.kind === 'exit');
      const asked = lockLog.slice(0, i).findLastIndex((x) => x.kind === 'request' && x.tab === e.tab);
      if (released >= 0 && lockLog[released].tab !== e.tab && asked < released) handovers++;
    }
    if (e.kind === 'exit') {
      expect(holder, `event ${i}: tab ${e.tab} left a lock it did not hold`).toBe(e.tab);
      holder = -1;
    }
  }
  expect(lockLog.filter((e) => e.kind === 'request').length).toBe(2 * rounds);
  // Within each round the second tab entered on the first one's release, having requested before it.
  expect(handovers).toBeGreaterThanOrEqual(rounds);
  console.log(`two tabs: ${lockLog.length} lock events, ${handovers} handovers from a waiting tab`);
  // Whichever tab finished first learns of the other's last batches through the BroadcastChannel refresh.
  for (const p of [A, B]) await p.waitForFunction((n) => (window as any).idx.count() === n, 2 * N, { timeout: 10_000 });
  // The writes really interleaved: segment order alternates between the tabs.
  const order: string = await A.evaluate(async () => {
    const raw = await (window as any).m3index.rawDump('tabs');
    const bySeq = new Map(raw.segments.map((s: any) => [s.seq, s.ids[0].slice(0, 2)]));
    return raw.meta.segments.map((s: number) => (bySeq.get(s) === 'ta' ? 'A' : 'B')).join('');
  });
  console.log(`two tabs: segment order ${order}`);
  expect(order.length).toBe((2 * N) / BATCH);
  // One segment of each tab per round, in whichever order the lock gave them.
  expect(order).toMatch(new RegExp(`^(AB|BA){${N / BATCH}}$`));
  // The segments were written in the order the lock was entered.
  expect(entries.join('')).toBe(order);
  // Each tab, without reopening, gets every id's own text and finds the other tab's docs.
  for (const [p, other] of [
    [A, fams[1]],
    [B, fams[0]],
  ] as const) {
    const bad = await p.evaluate(
      async ({ fams, N, other }) => {
        const M = (window as any).m3index;
        const idx = (window as any).idx;
        const bad: string[] = [];
        for (const f of fams)
          for (let i = 0; i < N; i++) {
            const d = M.familyDoc(f.prefix, i, f.dims, f.tokenBase);
            const got = await idx.get(d.id);
            if (got?.text !== d.text) bad.push(`${d.id}: get() → ${got?.id}`);
          }
        for (let i = 0; i < N; i += 7) {
          const d = M.familyDoc(other.prefix, i, other.dims, other.tokenBase);
          const w = await idx.search(M.uniqueWord(other.prefix, i), { mode: 'bm25', k: 1, includeText: false });
          const v = await idx.search({ embedding: { dense: d.embedding.dense } }, { mode: 'dense', k: 1, includeText: false });
          if (w[0]?.id !== d.id || v[0]?.id !== d.id) bad.push(`${d.id}: search finds ${w[0]?.id} / ${v[0]?.id}`);
        }
        return bad;
      },
      { fams, N, other },
    );
    expect(bad.slice(0, 10)).toEqual([]);
  }
  // A delete in tab A reaches tab B's memory too.
  await A.evaluate(() => (window as any).idx.remove(['tb-0', 'tb-1', 'ta-2']));
  await B.waitForFunction(() => (window as any).idx.count() === 1997, undefined, { timeout: 10_000 });
  expect(await B.evaluate(async () => [(window as any).idx.has('tb-0'), await (window as any).idx.get('ta-2')])).toEqual([false, undefined]);
  // A third tab's cold open agrees, and the stored keys are unique.
  const C = await context.newPage();
  await openHarness(C, PAGE);
  const raw = await C.evaluate(async () => {
    const raw = await (window as any).m3index.rawDump('tabs');
    const keys = raw.docs.map((d: any) => d.key);
    return { docs: raw.docs.length, uniqueKeys: new Set(keys).size, nextKey: raw.meta.nextKey, docCount: raw.meta.docCount };
  });
  expect(raw).toEqual({ docs: 1997, uniqueKeys: 1997, nextKey: 2000, docCount: 1997 });
  for (const p of [A, B]) await p.evaluate(() => (window as any).idx.close());
});

test('persistent storage is requested; storage() reports usage, quota and the real persisted flag', async () => {
  // Playwright's default contexts are off-the-record (persist() is always false there): use a real profile.
  const dir = mkdtempSync(join(tmpdir(), 'm3-persist-'));
  const ctx = await launchPersistent(dir);
  try {
    await ctx.addInitScript(() => {
      const w = window as any;
      w.persistCalls = 0;
      const persist = StorageManager.prototype.persist;
      StorageManager.prototype.persist = function (this: StorageManager) {
        w.persistCalls++;
        return persist.call(this);
      };
    });
    const page = await ctx.newPage();
    await openHarness(page, PAGE);
    const open = (name: string, persist: boolean) =>
      page.evaluate(
        async ({ name, persist }) => {
          const M = (window as any).m3index;
          const w = window as any;
          w.persistCalls = 0;
          const idx = await M.M3Index.open(name, { model: { modelId: 'p', dims: 256 }, store: new M.IdbStore(name, { persist }) });
          const calls = w.persistCalls;
          const empty = await idx.storage();
          await idx.add(M.familyDocs(name, 0, 2000, 256, 0), { batchSize: 500 });
          const full = await idx.storage();
          idx.close();
          return { calls, empty, full, browserSays: await navigator.storage.persisted() };
        },
        { name, persist },
      );
    const denied = await open('p1', true);
    expect(denied.calls).toBe(1);
    // Headless Chromium with no site engagement refuses; the flag says so rather than claiming durability.
    expect(denied.empty.persisted).toBe(false);
    expect(denied.browserSays).toBe(false);
    expect(denied.empty.quota).toBeGreaterThan(0);
    expect(typeof denied.empty.usage).toBe('number');
    expect(denied.full.usage).toBeGreaterThan(denied.empty.usage + 2000 * 256);
    const off = await open('p2', false);
    expect(off.calls).toBe(0);
    expect(off.empty.persisted).toBeNull();
    // Once the user (here CDP) grants persistent storage, the index's request succeeds and says so.
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Browser.setPermission', { permission: { name: 'persistent-storage' }, setting: 'granted', origin: ORIGIN });
    const granted = await open('p3', true);
    expect(granted.empty.persisted).toBe(true);
    expect(granted.browserSays).toBe(true);
    console.log(`storage(): denied ${JSON.stringify(denied.full)}, granted ${JSON.stringify(granted.full)}`);
  } finally {
    await ctx.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('HTML in documents is data: exact round trip through add, get, search and a reload; nothing runs', async ({ page }) => {
  await openHarness(page, PAGE);
  const HTML = [
    '<script>window.pwned = "script"</script> alpha',
    '<img src=x onerror="window.pwned = \'img\'"> beta',
    'gamma &amp; &lt;b&gt; <b>bold</b> <!-- comment --> "quoted" \'single\'',
    '<svg onload="window.pwned = \'svg\'"></svg><iframe srcdoc="<script>parent.pwned=1</script>"></iframe> delta',
  ];
  const run = (write: boolean) =>
    page.evaluate(
      async ({ HTML, write }) => {
        const M = (window as any).m3index;
        const idx = await M.M3Index.open('html', { encoder: new M.FakeEncoder({ dims: 32 }) });
        if (write) await idx.add(HTML.map((text, i) => ({ id: `<b id="${i}">`, text, metadata: { title: text } })));
        const got = await Promise.all(HTML.map((_, i) => idx.get(`<b id="${i}">`)));
        const hits = await idx.search('alpha beta gamma delta script img bold svg', { k: 10, explain: true });
        idx.close();
        await new Promise((r) => setTimeout(r, 100)); // give any injected handler time to fire
        return {
          got,
          hits,
          pwned: (window as any).pwned ?? null,
          elements: document.querySelectorAll('img, script:not([type=module]), svg, iframe, b').length,
        };
      },
      { HTML, write },
    );
  for (const write of [true, false]) {
    if (!write) await reload(page);
    const r = await run(write);
    expect(r.got).toEqual(HTML.map((text, i) => ({ id: `<b id="${i}">`, text, metadata: { title: text } })));
    expect(r.hits.length).toBe(HTML.length);
    for (const h of r.hits) {
      const i = Number(/\d/.exec(h.id)![0]);
      expect(h.text).toBe(HTML[i]);
      expect(h.metadata).toEqual({ title: HTML[i] });
      for (const s of h.highlights) expect(s.end).toBeLessThanOrEqual(HTML[i].length);
    }
    expect(r.pwned).toBeNull();
    expect(r.elements).toBe(0);
  }
});

test('after a cold open, 50 searches read nothing from IndexedDB', async ({ page }) => {
  // Count every IndexedDB read request this page makes (idb calls these native methods underneath).
  await page.addInitScript(() => {
    const w = window as any;
    w.idbReads = 0;
    for (const proto of [IDBObjectStore.prototype, IDBIndex.prototype] as any[])
      for (const m of ['get', 'getAll', 'getAllKeys', 'getKey', 'openCursor', 'openKeyCursor', 'count']) {
        const orig = proto[m];
        if (typeof orig !== 'function') continue;
        proto[m] = function (this: unknown, ...args: unknown[]) {
          w.idbReads++;
          return orig.apply(this, args);
        };
      }
  });
  await openHarness(page, PAGE);
  await page.evaluate(async () => {
    const M = (window as any).m3index;
    const idx = await M.M3Index.open('cold', { encoder: new M.FakeEncoder({ dims: 64 }), colbert: true });
    await idx.add(M.corpus(3000, 64, 3, { colbert: true }), { batchSize: 500 });
    idx.close();
  });
  await reload(page);
  const r = await page.evaluate(async () => {
    const M = (window as any).m3index;
    const w = window as any;
    w.idbReads = 0;
    const t0 = performance.now();
    const idx = await M.M3Index.open('cold', { encoder: new M.FakeEncoder({ dims: 64 }), colbert: true });
    const openMs = performance.now() - t0;
    const openReads = w.idbReads;
    w.idbReads = 0;
    const modes = ['hybrid', 'dense', 'sparse', 'bm25', 'colbert'];
    let hits = 0;
    for (let i = 0; i < 50; i++) {
      const q = M.randomText(M.rng(i + 1), 3);
      const opts: any = { mode: modes[i % 5], k: 10, includeText: false };
      if (i % 10 === 9) opts.rerank = { colbert: true, topN: 50 };
      if (i % 7 === 3) opts.filter = { group: 'a' };
      hits += (await idx.search(q, opts)).length;
    }
    hits += idx.count() + (idx.has('d5') ? 1 : 0);
    const searchReads = w.idbReads;
    // The counter does see this page's reads: a search that returns texts reads documents.
    await idx.search('alpha', { k: 5 });
    const textReads = w.idbReads - searchReads;
    idx.close();
    return { openMs, openReads, searchReads, textReads, hits };
  });
  console.log(`cold open: ${r.openMs.toFixed(0)} ms, ${r.openReads} IndexedDB reads; 50 searches: ${r.searchReads} reads; a search with texts: ${r.textReads}`);
  expect(r.hits).toBeGreaterThan(400);
  expect(r.openReads).toBeGreaterThan(0);
  expect(r.openReads).toBeLessThanOrEqual(10);
  expect(r.searchReads).toBe(0);
  expect(r.textReads).toBeGreaterThan(0);
});

test('a forged posting list (valid checksum) opens, fails the first search that reads it and every later use the same way, writes nothing; clear() recovers', async ({
  page,
}) => {
  await openHarness(page, PAGE);
  const forged = await page.evaluate(async () => {
    const M = (window as any).m3index;
    const idx = await M.M3Index.open('forged', { encoder: new M.FakeEncoder({ dims: 64 }) });
    await idx.add(M.familyDocs('f', 0, 300, 64, 50_000), { batchSize: 100 });
    // A sound index: the idle checks after the open finish with nothing found.
    idx.close();
    const again = await M.M3Index.open('forged', { encoder: new M.FakeEncoder({ dims: 64 }) });
    await again.search('fu3', { mode: 'bm25' }); // the idle checks follow the first answer
    const clean = await again.state.checked;
    const left = again.state.checks.left;
    again.close();
    return { clean, left, ...(await M.forgeSparseList('forged', 'f-150', 50_150)) };
  });
  expect(forged.clean).toBeNull();
  expect(forged.left).toBe(0);
  await reload(page);
  const r = await page.evaluate(async () => {
    const M = (window as any).m3index;
    const idx = await M.M3Index.open('forged', { encoder: new M.FakeEncoder({ dims: 64 }) });
    const count = idx.count();
    const doc = M.familyDoc('f', 150, 64, 50_000);
    const attempt = async (f: () => Promise<unknown> | unknown) => {
      try {
        await f();
        return null;
      } catch (e) {
        return { name: (e as Error).name, code: (e as any).code, message: (e as Error).message, storage: e instanceof M.M3StorageError };
      }
    };
    const first = await attempt(() => idx.search({ embedding: doc.embedding }, { mode: 'sparse' }));
    const later = await attempt(() => idx.search({ embedding: doc.embedding }, { mode: 'dense' }));
    const write = await attempt(() => idx.add(M.familyDocs('g', 0, 1, 64, 90_000)));
    const counted = await attempt(() => idx.count());
    const idle = await idx.state.checked;
    const records = await M.segmentChecksums('forged');
    await idx.clear();
    const cleared = { count: idx.count(), hits: (await idx.search('fu150', { mode: 'bm25' })).length };
    idx.close();
    return { count, first, later, write, counted, idle: idle?.message ?? null, records, cleared };
  });
  expect(r.count).toBe(300);
  const message = new RegExp(`"m3-search:forged", segment record ${forged.seq}: sparse entry \\d+ names row 127 of 100; clear the index`);
  expect(r.first).toMatchObject({ storage: true, code: 'CORRUPT' });
  expect(r.first!.message).toMatch(message);
  for (const e of [r.later, r.write, r.counted]) expect(e).toEqual(r.first);
  expect(r.idle).toBe(r.first!.message);
  expect(r.records).toEqual(forged.checksums); // nothing written
  expect(r.cleared).toEqual({ count: 0, hits: 0 });
});

test('bad input in the browser: duplicates write nothing, empty query, k, mode, ids, abort keeps finished batches', async ({ page }) => {
  await openHarness(page, PAGE);
  const fam: Family = { prefix: 'bad', dims: 32, tokenBase: 900_000 };
  const r = await page.evaluate(
    async ({ fam }) => {
      const M = (window as any).m3index;
      const idx = await M.M3Index.open('bad', { model: { modelId: 'bad', dims: fam.dims } });
      await idx.add(M.familyDocs(fam.prefix, 0, 100, fam.dims, fam.tokenBase));
      const before = JSON.stringify(await M.rawDump('bad'));
      const err = async (f: () => Promise<unknown>) => {
        try {
          await f();
          return 'no error';
        } catch (e: any) {
          return `${e.name}: ${e.message}`;
        }
      };
      const next = M.familyDocs(fam.prefix, 100, 600, fam.dims, fam.tokenBase);
      const out: Record<string, unknown> = {};
      // Duplicate ids in one call, even across its batches (first batch is clean): nothing written.
      out.dupInCall = await err(() => idx.add([...next, { ...next[550] }], { batchSize: 200 }));
      out.dupExisting = await err(() => idx.add([...next.slice(0, 5), M.familyDoc(fam.prefix, 3, fam.dims, fam.tokenBase)]));
      out.badId = await err(() => idx.add([...next.slice(0, 5), { id: 42, text: 'x' }]));
      out.emptyId = await err(() => idx.add([{ id: '', text: 'x' }]));
      out.unchanged = JSON.stringify(await M.rawDump('bad')) === before && idx.count() === 100;
      out.empty = await err(() => idx.search('', { mode: 'bm25' }));
      out.punct = await err(() => idx.search('  ?! … — ¿¡ ', { mode: 'bm25' }));
      out.emptyPlain = await idx.search('', { mode: 'bm25', syntax: 'plain' });
      out.quote = await err(() => idx.search('alpha "beta', { mode: 'bm25' }));
      out.k0 = await err(() => idx.search('alpha', { k: 0, mode: 'bm25' }));
      out.kNeg = await err(() => idx.search('alpha', { k: -3, mode: 'bm25' }));
      out.kFrac = await err(() => idx.search('alpha', { k: 2.5, mode: 'bm25' }));
      out.mode = await err(() => idx.search('alpha', { mode: 'fuzzy' }));
      out.fusion = await err(() => idx.search('alpha', { mode: 'bm25', fusion: 'max' }));
      // Abort after the third batch is written: those stay, the rest is never written.
      const ac = new AbortController();
      out.abort = await err(() =>
        idx.add(next, { batchSize: 100, signal: ac.signal, onProgress: (p: any) => p.phase === 'write' && p.done === 300 && ac.abort() }),
      );
      out.afterAbort = idx.count();
      // Abort at a random moment of a bigger add (a few ms after a random batch, so possibly mid-commit; tied to
      // progress, not the clock, so a fast machine can't finish first): whole batches only.
      const more = M.familyDocs(fam.prefix, 400, 3000, fam.dims, fam.tokenBase);
      const ac2 = new AbortController();
      const t0 = performance.now();
      const after = 100 * (1 + Math.floor(Math.random() * 20)); // at least 10 batches still to come
      let armed = true;
      const onProgress = (p: any) => {
        if (!armed || p.done < after) return;
        armed = false;
        setTimeout(() => ac2.abort(), Math.random() * 4);
      };
      out.abort2 = await err(() => idx.add(more, { batchSize: 100, signal: ac2.signal, onProgress }));
      out.abort2Ms = performance.now() - t0;
      out.afterAbort2 = idx.count();
      idx.close();
      return out;
    },
    { fam },
  );
  expect(r.dupInCall).toMatch(/^Error: duplicate ids in one call: "bad-650"/);
  expect(r.dupExisting).toMatch(/^Error: ids already in the index.*"bad-3"/);
  expect(r.badId).toMatch(/^M3InputError: /);
  expect(r.emptyId).toMatch(/^M3InputError: /);
  expect(r.unchanged).toBe(true);
  expect(r.empty).toMatch(/^QuerySyntaxError: empty query/);
  expect(r.punct).toMatch(/^QuerySyntaxError: empty query/);
  expect(r.emptyPlain).toEqual([]);
  expect(r.quote).toMatch(/^QuerySyntaxError: unbalanced quote.*character 7/);
  for (const k of ['k0', 'kNeg', 'kFrac']) expect(r[k]).toMatch(/^M3InputError: /);
  expect(r.mode).toMatch(/hybrid, dense, sparse, bm25, colbert/);
  expect(r.fusion).toMatch(/weighted, rrf, normalized/);
  expect(r.abort).toMatch(/^AbortError: /);
  expect(r.afterAbort).toBe(400);
  expect(r.abort2).toMatch(/^AbortError: /);
  expect((r.afterAbort2 as number) % 100).toBe(0);
  expect(r.afterAbort2).toBeLessThan(3400);
  console.log(`abort: after 3 batches → ${r.afterAbort} docs; timer abort at ${(r.abort2Ms as number).toFixed(0)} ms → ${r.afterAbort2} docs`);
  // What is on disk agrees after a reload.
  await reload(page);
  const c = await checkIndex(page, 'bad', [fam]);
  expect(c.problems).toEqual([]);
  expect(c.count).toBe(r.afterAbort2);
});
