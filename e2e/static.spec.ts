/**
 * Static index packages in real Chromium, through an example site page (e2e/pages/static-site.html):
 *   - first visit online installs the package into IndexedDB; with the network cut (context.setOffline) a
 *     reload still starts (the page's service worker) and still searches (IndexedDB), from that first visit;
 *   - bad packages (bad checksum, missing chunk, other model or dtype, unknown schema version) are refused with their
 *     reasons while the current index keeps answering, and a good update replaces it atomically;
 *   - a cut chunk transfer resumes with a Range request against the real server (vite preview);
 *   - load time and bytes of a 2,000-document, 1,024-dim package (printed).
 * Packages are built at test time (e2e/fixtures/make-static.ts) into dist-demo/ (the demo and test pages' build, apart from the package's dist/), which vite preview serves.
 */
import { test, expect, type Page } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { ORIGIN } from './helpers.ts';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

const RUN = `static-test/${process.pid}-${Date.now().toString(36)}`;
const DIR = join('dist-demo', RUN);
let info: Record<string, { version: string; totalBytes: number; chunks: number; docs: number; files: string[] }>;

test.beforeAll(() => {
  const r = spawnSync('npx', ['tsx', 'e2e/fixtures/make-static.ts', DIR], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make-static failed: ${r.stderr}`);
  info = JSON.parse(r.stdout);
});
test.afterAll(() => rmSync(DIR, { recursive: true, force: true }));

const pkg = (name: string) => `/${RUN}/${name}/`;
const site = (name: string, extra = '') => `/e2e/pages/static-site.html?pkg=${encodeURIComponent(pkg(name))}${extra}`;

async function ready(page: Page): Promise<any> {
  await page.waitForFunction(() => (window as any).site?.ready === true, undefined, { timeout: 60_000 });
  return page.evaluate(() => ({ report: (window as any).site.report, error: (window as any).site.error, progress: (window as any).site.progress }));
}
const search = (page: Page, q: string) => page.evaluate((q) => (window as any).site.search(q), q) as Promise<{ id: string; text: string }[]>;

test('a site serves search offline from its first visit: network cut after the first load, reload, still searches', async ({ browser }) => {
  const context = await browser.newContext(); // a first visit: empty storage, no service worker
  const page = await context.newPage();
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(site('v1'));
  const first = await ready(page);
  expect(first.error).toBeNull();
  expect(first.report).toMatchObject({ status: 'installed', version: info.v1.version, bytesFetched: info.v1.totalBytes, chunksFetched: info.v1.chunks });
  expect(first.progress).toEqual(['manifest', 'download', 'verify', 'install', 'ready']);
  const online = await search(page, 'supersonic shock waves alpha1');
  expect(online[0].id).toBe('alpha-1');
  expect(requests.every((u) => u.startsWith(`${ORIGIN}/`))).toBe(true);

  await context.setOffline(true);
  await page.reload();
  const offline = await ready(page);
  expect(offline.error).toBeNull();
  expect(offline.report.status).toBe('offline');
  expect(offline.report.version).toBe(info.v1.version);
  expect(offline.report.reason).toMatch(/network/);
  expect(await search(page, 'supersonic shock waves alpha1')).toEqual(online);
  // The UI too: type, see results.
  await page.fill('#q', 'vortex shedding alpha3');
  await expect(page.locator('#results li').first()).toHaveText(/^alpha-3: vortex shedding/);

  // A second offline reload, and one in a new tab of the same profile, both still answer.
  await page.reload();
  expect((await ready(page)).report.status).toBe('offline');
  const tab = await context.newPage();
  await tab.goto(site('v1'));
  expect((await ready(tab)).report.status).toBe('offline');
  expect((await search(tab, 'heat transfer alpha2'))[0].id).toBe('alpha-2');
  await context.close();
});

test('bad packages are refused with their reasons while the current index keeps answering; a good update replaces it', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(site('v1'));
  expect((await ready(page)).report.status).toBe('installed');
  const before = await search(page, 'laminar turbulent transition alpha4');
  expect(before[0].id).toBe('alpha-4');
  const dbs = await page.evaluate(() => (window as any).site.databases());

  const update = (name: string) => page.evaluate((u) => (window as any).site.update(u), pkg(name));
  const refused = {
    checksum: (await update('bad-checksum')).refused,
    missing: (await update('missing-chunk')).refused,
    schema: (await update('schema-99')).refused,
  };
  // Another model or another dtype: the index's own mismatch error (code MODEL_MISMATCH), before any chunk.
  const requested: string[] = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  const model = await update('other-model');
  const dtype = await update('other-dtype');
  expect(requested.filter((p) => p.startsWith(pkg('other-model')) || p.startsWith(pkg('other-dtype'))).sort()).toEqual([
    `${pkg('other-dtype')}manifest.json`,
    `${pkg('other-model')}manifest.json`,
  ]);
  expect(refused.checksum).toMatch(/^chunk 2 of 4 \(chunks\/[0-9a-f]{32}\.bin\) is corrupt \(SHA-256 checksum mismatch\)$/);
  expect(refused.missing).toMatch(/^chunk 2 of 4 \(chunks\/[0-9a-f]{32}\.bin\) is missing \(HTTP 404\)$/);
  expect(model).toMatchObject({ code: 'MODEL_MISMATCH', fields: ['model id'] });
  expect(model.refused).toMatch(
    /^static index package was built with model "BAAI\/bge-m3" \(dims 16, head fake-head-1, dtype fp32\) but opened with model "fake-m3" /,
  );
  expect(dtype).toMatchObject({ code: 'MODEL_MISMATCH', fields: ['dtype'] });
  expect(dtype.refused).toContain(
    'built with model "fake-m3" (dims 16, head fake-head-1, dtype q8) but opened with model "fake-m3" (dims 16, head fake-head-1, dtype fp32) (differs in dtype)',
  );
  expect(refused.schema).toMatch(/^it was built with index schema version 99; this version of m3-search reads versions \d+ to \d+$/);
  // Nothing replaced: same databases, same version, same answers, no beta documents.
  expect(await page.evaluate(() => (window as any).site.databases())).toEqual(dbs);
  expect(await page.evaluate(() => (window as any).site.version())).toBe(info.v1.version);
  expect(await search(page, 'laminar turbulent transition alpha4')).toEqual(before);
  expect(await page.evaluate(() => (window as any).site.count())).toBe(40);

  const good = await update('v2');
  expect(good.report).toMatchObject({ status: 'installed', version: info.v2.version });
  expect(await page.evaluate(() => (window as any).site.count())).toBe(70);
  expect((await search(page, 'heat transfer beta7'))[0].id).toBe('beta-7');
  await expect.poll(() => page.evaluate(() => (window as any).site.databases())).toEqual(['m3-search-static:site', `m3-search:site@${info.v2.version}`].sort());
  // A reload finds v2 current: nothing downloaded again.
  await page.goto(site('v2'));
  expect((await ready(page)).report).toMatchObject({ status: 'current', bytesFetched: 0 });
  await context.close();
});

test('a cut chunk transfer resumes with a Range request to the real server', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const victim = info.v2.files[2];
  const seen: (string | null)[] = [];
  let cut = false;
  await page.route(`**/${RUN}/v2/${victim}`, async (route) => {
    seen.push(route.request().headers()['range'] ?? null);
    if (!cut) {
      cut = true;
      const res = await route.fetch();
      const body = await res.body();
      return route.fulfill({ status: 200, body: body.subarray(0, Math.floor(body.length / 2)), contentType: 'application/octet-stream' });
    }
    return route.continue();
  });
  await page.goto(site('v2'));
  const r = await ready(page);
  expect(r.error).toBeNull();
  expect(r.report).toMatchObject({ status: 'installed', rangeResumes: 1, version: info.v2.version });
  expect(seen).toEqual([null, expect.stringMatching(/^bytes=\d+-$/)]);
  expect(await page.evaluate(() => (window as any).site.count())).toBe(70);
  await context.close();
});

test('load time and bytes of a 2,000-document package at 1,024 dims', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(site('big', '&dims=1024'));
  const first = await ready(page);
  expect(first.report.status).toBe('installed');
  const t0 = Date.now();
  await page.reload();
  const again = await ready(page);
  const reloadMs = Date.now() - t0;
  expect(again.report.status).toBe('current');
  await context.setOffline(true);
  await page.reload();
  const off = await ready(page);
  expect(off.report.status).toBe('offline');
  const q = await page.evaluate(async () => {
    const t = performance.now();
    const hits = await (window as any).site.search('supersonic shock waves big1');
    return { ms: performance.now() - t, top: hits[0].id };
  });
  expect(q.top).toBe('big-1');
  console.log(
    `static package: ${info.big.docs} docs, ${info.big.chunks} chunks, ${(info.big.totalBytes / 1e6).toFixed(2)} MB; ` +
      `first visit install ${first.report.ms.toFixed(0)} ms (${first.report.bytesFetched} bytes fetched); ` +
      `later visit (version current) ${again.report.ms.toFixed(0)} ms to confirm, ${reloadMs} ms reload-to-ready; ` +
      `offline ${off.report.ms.toFixed(0)} ms; a query ${q.ms.toFixed(1)} ms`,
  );
  await context.close();
});
