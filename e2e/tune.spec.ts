import { test, expect } from '@playwright/test';
import { openHarness } from './helpers.ts';

const PAGE = '/e2e/pages/tune.html';

for (const device of ['wasm', 'webgpu']) {
  test(`tunes the sparse head in the browser on ${device}; the tuned head persists across a reload and reverts`, async ({ page }) => {
    const name = `tune-${device}`;
    await openHarness(page, PAGE);
    const first = await page.evaluate(
      async ({ device, name }) => {
        const w = window as any;
        const { encoder, index } = await w.openTuneIndex(device, name, true);
        const query = 'boundary layer study';
        const base = await index.search(query, { mode: 'sparse', includeText: false });
        const phases = new Set<string>();
        const losses: number[] = [];
        const r = await w.m3.tuneSparseHead(index, {
          maxEpochs: 2,
          teacher: 'none',
          onProgress: (p: any) => {
            phases.add(p.phase);
            if (p.phase === 'train' && p.loss !== undefined) losses.push(p.loss);
          },
        });
        const tuned = await index.search(query, { mode: 'sparse', includeText: false });
        const out = {
          device: encoder.info.device,
          status: r.status,
          version: r.version,
          hash: r.hash,
          postings: r.postingsPerDoc,
          heldOut: r.heldOut,
          phases: [...phases],
          losses: losses.length,
          active: w.m3.tuningAccess(index).meta.sparseHead,
          base: base.map((h: any) => [h.id, h.score]),
          tuned: tuned.map((h: any) => [h.id, h.score]),
        };
        index.close();
        return out;
      },
      { device, name },
    );
    expect(first.device).toBe(device);
    expect(first.status).toBe('tuned');
    expect(first.version).toBe(1);
    expect(first.active).toEqual({ version: 1, hash: first.hash });
    expect(first.phases).toEqual(expect.arrayContaining(['encode', 'negatives', 'train', 'reindex']));
    expect(first.losses).toBeGreaterThan(0);
    expect(first.base.length).toBeGreaterThan(0);
    expect(first.tuned.length).toBeGreaterThan(0);
    expect(first.tuned).not.toEqual(first.base);

    await page.reload();
    await page.waitForFunction(() => (window as any).m3Ready === true);
    const second = await page.evaluate(
      async ({ device, name }) => {
        const w = window as any;
        const { encoder, index } = await w.openTuneIndex(device, name, false);
        const tuned = await index.search('boundary layer study', { mode: 'sparse', includeText: false });
        const active = w.m3.tuningAccess(index).meta.sparseHead;
        const viaEncoder = w.m3.tuningAccess(index).encoder.info.sparseHead;
        const versions = (await w.m3.listSparseHeads(w.m3.tuningAccess(index).store)).map((h: any) => h.version);
        await w.m3.revertSparseHead(index);
        const reverted = await index.search('boundary layer study', { mode: 'sparse', includeText: false });
        index.close();
        return {
          active,
          viaEncoder,
          versions,
          tuned: tuned.map((h: any) => [h.id, h.score]),
          reverted: reverted.map((h: any) => [h.id, h.score]),
          device: encoder.info.device,
        };
      },
      { device, name },
    );
    expect(second.active).toEqual(first.active);
    expect(second.viaEncoder).toEqual(first.active);
    expect(second.versions).toEqual([1]);
    // After a reload the tuned index answers exactly as before it; the revert restores the base answers
    // exactly (ids and scores, every hit: an empty list fails too).
    expect(second.tuned).toEqual(first.tuned);
    expect(second.reverted.length).toBe(first.base.length);
    expect(second.reverted).toEqual(first.base);

    await page.reload();
    await page.waitForFunction(() => (window as any).m3Ready === true);
    const third = await page.evaluate(
      async ({ device, name }) => {
        const w = window as any;
        const { index } = await w.openTuneIndex(device, name, false);
        const r = { active: w.m3.tuningAccess(index).meta.sparseHead ?? null, sparseHead: w.m3.tuningAccess(index).encoder.info.sparseHead ?? null };
        index.close();
        return r;
      },
      { device, name },
    );
    expect(third).toEqual({ active: null, sparseHead: null });
  });
}

test('the demo panel tunes in the worker with a live loss curve, before/after figures, and reverts', async ({ page }) => {
  await page.goto('/demo/?device=wasm');
  await page.waitForFunction(() => document.body.dataset.ready === 'yes', null, { timeout: 90_000 });
  await page.waitForFunction(() => !(document.getElementById('tune-start') as HTMLButtonElement)?.disabled, null, { timeout: 90_000 });
  // Opening a result logs a (query, doc) click, which the tuning then trains on beside the mined questions.
  await page.fill('#q', 'offline index storage');
  await page.waitForFunction(() => document.body.dataset.search === 'done', null, { timeout: 30_000 });
  const opened = await page.locator('#results [data-doc-id]').first().getAttribute('data-doc-id');
  await page.locator('#results [data-doc-id] h3').first().click();
  const logged = await page.evaluate(() =>
    Object.keys(localStorage)
      .filter((k) => k.startsWith('m3-search:clicks:'))
      .map((k) => JSON.parse(localStorage.getItem(k)!)),
  );
  expect(logged.flat()).toEqual([{ query: 'offline index storage', docId: opened }]);
  await page.click('#tune-start');
  await expect(page.locator('#tune-msg')).toHaveText(/Tuned head v\d+ is active|Tuning stopped/, { timeout: 110_000 });
  await expect(page.locator('#tune-metrics')).toContainText('Held-out nDCG@10');
  await expect(page.locator('#tune-metrics')).toContainText(/Training pairs\s*\d+: 1 from your clicks, \d+ mined/);
  await expect(page.locator('#tune-metrics')).toContainText(/Postings per document\s*[\d.]+ → [\d.]+/);
  await expect(page.locator('#tune-metrics')).toContainText(/Training compute\s*(WebGPU|JS)/); // the worker's pick (auto)
  const inked = await page.evaluate(() => {
    const c = document.getElementById('tune-curve') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  });
  expect(inked).toBeGreaterThan(50); // the loss curve was drawn
  await page.click('#tune-revert');
  await expect(page.locator('#tune-msg')).toHaveText('Back to the base head.', { timeout: 60_000 });
  await expect(page.locator('#tune-metrics')).toContainText('base (as loaded)');
});
