/**
 * Document texts in real Chromium (issue 14): groups that IndexedDB 6 wrote (deflate-raw through
 * CompressionStream) open at IndexedDB 7 and keep reading beside new groups packed in parts with the trained
 * preset dictionary, across a reload; search hits carry exactly the texts that were added.
 */
import { expect, test } from '@playwright/test';
import { openHarness } from './helpers.ts';

const PAGE = '/e2e/pages/index.html';

test('texts: IndexedDB 6 groups read after the upgrade, beside dictionary-packed ones, across a reload', async ({ page }) => {
  await openHarness(page, PAGE);
  const first = await page.evaluate(async () => {
    const M = (window as any).m3index;
    const req = <T>(r: IDBRequest<T>) => new Promise<T>((res, rej) => ((r.onsuccess = () => res(r.result)), (r.onerror = () => rej(r.error))));
    const encoder = new M.FakeEncoder({ dims: 16 });
    // ~130 characters each, one word only document i has: 200 of them are enough to train the dictionary.
    const docs = M.corpus(300, 16, 3).map((d: any, i: number) => ({ id: d.id, text: `${d.text} ${d.text.split(' ').reverse().join(' ')} only${i}` }));
    // An index as the current code writes it, then rebuilt as IndexedDB 6 stored one: z groups of 32.
    const src = await M.M3Index.open('texts-src', { encoder });
    await src.add(docs.slice(0, 100));
    src.close();
    const raw = await req(indexedDB.open('m3-search:texts-src'));
    const tx = raw.transaction(['meta', 'segments']);
    const meta = await req(tx.objectStore('meta').get('meta'));
    const segs: any[] = await req(tx.objectStore('segments').getAll());
    raw.close();
    const byId = new Map(docs.map((d: any) => [d.id, d.text]));
    const z = async (entries: unknown[]) =>
      new Uint8Array(await new Response(new Blob([JSON.stringify(entries)]).stream().pipeThrough(new CompressionStream('deflate-raw'))).arrayBuffer());
    const old = indexedDB.open('m3-search:texts-old', 6);
    old.onupgradeneeded = () => {
      old.result.createObjectStore('meta');
      old.result.createObjectStore('segments', { keyPath: 'seq' });
      old.result.createObjectStore('texts', { keyPath: ['seq', 'g'] });
    };
    const v6 = await req(old);
    const groups: { seq: number; g: number; z: Uint8Array }[] = [];
    for (const s of segs)
      for (let g = 0; g * 32 < s.ids.length; g++)
        groups.push({ seq: s.seq, g, z: await z(s.ids.slice(g * 32, g * 32 + 32).map((id: string) => [byId.get(id)])) });
    const w = v6.transaction(['meta', 'segments', 'texts'], 'readwrite');
    w.objectStore('meta').put(meta, 'meta');
    for (const s of segs) w.objectStore('segments').put(s);
    for (const b of groups) w.objectStore('texts').put(b);
    await new Promise((res) => (w.oncomplete = res));
    v6.close();

    const idx = await M.M3Index.open('texts-old', { encoder });
    const oldTexts = await Promise.all(['d0', 'd31', 'd32', 'd99'].map(async (id) => (await idx.get(id))?.text));
    await idx.add(docs.slice(100)); // 200 more: enough text to train the dictionary
    const hits = await idx.search(`only250 ${docs[250].text}`, { k: 10, mode: 'bm25' });
    idx.close();
    const after = await req(indexedDB.open('m3-search:texts-old'));
    const texts: any[] = await req(after.transaction('texts').objectStore('texts').getAll());
    after.close();
    return {
      version: after.version,
      oldTexts,
      expected: ['d0', 'd31', 'd32', 'd99'].map((id) => byId.get(id)),
      hits: hits.map((h: any) => [h.id, h.text === byId.get(h.id)]),
      top: hits[0]?.id,
      zGroups: texts.filter((t) => t.z).length,
      dicts: texts.filter((t) => t.seq === -1).length,
      withDict: texts.filter((t) => t.p && t.d !== undefined).length,
      groups: groups.length,
    };
  });
  expect(first.version).toBe(7);
  expect(first.oldTexts).toEqual(first.expected);
  expect(first.top).toBe('d250');
  expect(first.hits.length).toBe(10);
  expect(first.hits.every(([, same]: [string, boolean]) => same)).toBe(true);
  expect(first.zGroups).toBe(first.groups);
  expect(first.dicts).toBe(1);
  expect(first.withDict).toBeGreaterThan(0);

  await page.reload();
  await page.waitForFunction(() => (window as any).m3Ready === true);
  const second = await page.evaluate(async () => {
    const M = (window as any).m3index;
    const docs = M.corpus(300, 16, 3).map((d: any, i: number) => ({ id: d.id, text: `${d.text} ${d.text.split(' ').reverse().join(' ')} only${i}` }));
    const idx = await M.M3Index.open('texts-old', { encoder: new M.FakeEncoder({ dims: 16 }) });
    const ids = ['d1', 'd64', 'd150', 'd299'];
    const got = await Promise.all(ids.map(async (id) => (await idx.get(id))?.text));
    const hits = await idx.search(`only64 ${docs[64].text}`, { k: 5, mode: 'hybrid' });
    const top = (await idx.search('only64', { k: 1, mode: 'bm25' }))[0];
    await idx.compact(); // the z groups are repacked with the dictionary
    const again = await Promise.all(ids.map(async (id) => (await idx.get(id))?.text));
    idx.close();
    const want = ids.map((id) => docs[Number(id.slice(1))].text);
    return { got, again, want, hitsOk: hits.every((h: any) => h.text === docs[Number(h.id.slice(1))].text), top: top?.id, hits: hits.length };
  });
  expect(second.got).toEqual(second.want);
  expect(second.again).toEqual(second.want);
  expect(second.top).toBe('d64');
  expect(second.hits).toBe(5);
  expect(second.hitsOk).toBe(true);
});
