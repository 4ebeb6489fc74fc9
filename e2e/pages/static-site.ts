// An example site that ships its search index as a static package: the page loads the package into
// IndexedDB (M3Index.fromStatic), then searches locally. A small service worker (public/e2e/static-site-sw.js)
// caches the page and its scripts, so a reload without network still starts, and search answers from
// IndexedDB. Playwright drives it through window.site (e2e/static.spec.ts).
//
// The "encoder" is the FakeEncoder: the packages the test builds use it too, so no model download is needed.
import { M3Index } from '../../src/search/m3-index.ts';
import { FakeEncoder } from '../../test/support/fake-encoder.ts';
import { installedStaticVersion, staticLoadReport, type StaticLoadReport, type StaticProgress } from '../../src/static/loader.ts';
import { StaticPackageError } from '../../src/static/manifest.ts';
import { M3IndexMismatchError } from '../../src/store/errors.ts';

const params = new URLSearchParams(location.search);
const pkg = params.get('pkg') ?? '/site-index/';
const encoder = new FakeEncoder({ dims: Number(params.get('dims') ?? 16) });
const statusEl = document.getElementById('status')!;
const results = document.getElementById('results')!;
const input = document.getElementById('q') as HTMLInputElement;

let index: M3Index | null = null;

const site = {
  ready: false,
  report: null as StaticLoadReport | null,
  error: null as string | null,
  progress: [] as StaticProgress['phase'][],
  async search(q: string, k = 5) {
    if (!index) throw new Error('no index');
    return (await index.search(q, { k })).map((h) => ({ id: h.id, text: h.text }));
  },
  count: () => index?.count() ?? 0,
  version: async () => (await installedStaticVersion('site'))?.version ?? null,
  /**
   * Loads another package (a site update); refusals come back as { refused: reason, code } and change nothing
   * (a package built by another model or dtype is refused with the index's M3IndexMismatchError).
   */
  async update(url: string): Promise<{ refused?: string; code?: string; fields?: string[]; report?: StaticLoadReport }> {
    try {
      const next = await M3Index.fromStatic(url, { name: 'site', encoder });
      const old = index;
      index = next;
      old?.close();
      return { report: staticLoadReport(next) };
    } catch (e) {
      if (e instanceof StaticPackageError) return { refused: e.reason, code: e.code };
      if (e instanceof M3IndexMismatchError) return { refused: e.message, code: e.code, fields: e.fields };
      throw e;
    }
  },
  databases: async () => (await indexedDB.databases()).map((d) => d.name).sort(),
};
(window as any).site = site;

async function shell(): Promise<void> {
  if (!('serviceWorker' in navigator)) return;
  await navigator.serviceWorker.register('/e2e/static-site-sw.js', { scope: '/e2e/pages/static-site' });
  await navigator.serviceWorker.ready;
  // The worker only sees requests made after it took control; put this page and the scripts it already
  // loaded in its cache now, so the very first visit is enough to start offline next time.
  const urls = [location.href, ...performance.getEntriesByType('resource').map((e) => e.name)].filter(
    (u) => new URL(u).origin === location.origin && (u === location.href || new URL(u).pathname.startsWith('/assets/')),
  );
  const cache = await caches.open('static-site-shell');
  await cache.addAll([...new Set(urls)]);
}

async function start(): Promise<void> {
  await shell().catch((e) => console.warn('no offline shell:', e));
  const t0 = performance.now();
  try {
    index = await M3Index.fromStatic(pkg, {
      name: 'site',
      encoder,
      onProgress: (p) => {
        if (site.progress.at(-1) !== p.phase) site.progress.push(p.phase);
        if (p.phase === 'download') statusEl.textContent = `downloading the index… ${Math.round((100 * p.loadedBytes) / (p.totalBytes || 1))}%`;
      },
    });
    site.report = staticLoadReport(index) ?? null;
    const r = site.report!;
    statusEl.textContent = `${index.count()} documents, version ${r.version} (${r.status}${r.reason ? `: ${r.reason}` : ''}) in ${Math.round(performance.now() - t0)} ms`;
  } catch (e) {
    site.error = e instanceof StaticPackageError ? e.reason : String(e);
    statusEl.textContent = `search unavailable: ${site.error}`;
  }
  site.ready = true;
}

input.addEventListener('input', async () => {
  const q = input.value;
  const hits = q.trim() && index ? await site.search(q) : [];
  if (input.value !== q) return;
  results.replaceChildren(
    ...hits.map((h) => {
      const li = document.createElement('li');
      li.textContent = `${h.id}: ${h.text ?? ''}`; // text, never HTML
      return li;
    }),
  );
});

void start();
