import 'fake-indexeddb/auto'; // idb's instanceof checks need the IDB globals
import { IDBFactory } from 'fake-indexeddb';
import { openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import { M3Index } from '../search/m3-index.ts';
import { corpus } from '../../test/support/test-corpus.ts';
import { M3StorageError } from './errors.ts';
import { withFactory } from './idb-factory.ts';
import { IdbStore } from './idb-store.ts';
import { MODEL_SEQ } from './idb-text-groups.ts';

const DIMS = 16;
const model = { modelId: 'precomputed', dims: DIMS, headHash: 'h' };
const WORDS = Array.from({ length: 3000 }, (_, i) => `w${(i * 7919).toString(36)}`);

/** Documents with texts of Zipf-ish words (enough to train a text model), some with odd Unicode. */
function docs(n: number, from: number, vocab = 1000) {
  return corpus(n, DIMS, from + 1).map((d, i) => {
    const k = from + i;
    const words = Array.from({ length: 30 + (k % 50) }, (_, j) => WORDS[Math.floor(vocab * (((k * 31 + j * 17) % 997) / 997) ** 2)]);
    const tail = k % 9 === 0 ? ` — naïve, 東京!\uD800 ${k}` : '';
    return { ...d, id: `d${k}`, text: words.join(' ') + tail };
  });
}

const raw = (factory: IDBFactory, name: string) => withFactory(factory, () => openDB(`m3-search:${name}`));

describe('IdbStore texts coded with a text model', () => {
  it('codes a large batch with a trained model (stored once), reads every text back exactly, in this and a new connection', async () => {
    const factory = new IDBFactory();
    const store = () => new IdbStore('t', { indexedDB: factory, persist: false });
    const all = [...docs(300, 0), ...docs(40, 300), ...docs(300, 340, 3000)];
    const idx = await M3Index.open('t', { store: store(), model });
    await idx.add(all.slice(0, 300)); // trains the model
    await idx.add(all.slice(300, 340)); // small: coded with it
    await idx.add(all.slice(340)); // new vocabulary: trains a successor
    for (const d of all.slice(0, 50)) expect(await idx.get(d.id)).toEqual({ id: d.id, text: d.text, metadata: d.metadata });
    idx.close();

    const db = await raw(factory, 't');
    const records = await db.getAll('texts');
    db.close();
    const models = records.filter((r) => r.seq === MODEL_SEQ);
    const groups = records.filter((r) => r.seq !== MODEL_SEQ);
    expect(models.length).toBe(2);
    expect(groups.every((g) => g.c instanceof Uint8Array && models.some((m) => m.g === g.m) && g.z === undefined)).toBe(true);
    const coded = groups.reduce((a, g) => a + g.c.length, 0);
    expect(coded).toBeLessThan(all.reduce((a, d) => a + d.text.length, 0) / 2.5);

    const again = await M3Index.open('t', { store: store(), model });
    const hits = await again.search({ embedding: { dense: all[600].embedding!.dense, tokens: 1, truncated: false } }, { mode: 'dense', k: 5 });
    expect(hits[0]).toMatchObject({ id: all[600].id, text: all[600].text });
    for (const d of all) expect((await again.get(d.id))?.text).toBe(d.text);
    // A compaction rewrites the texts of its segments with the current model; removed rows are gone.
    await again.remove(all.slice(0, 200).map((d) => d.id));
    await again.compact();
    for (const d of all.slice(200)) expect((await again.get(d.id))?.text).toBe(d.text);
    expect(await again.get(all[0].id)).toBeUndefined();
    // clear() drops the models with the texts: the next large batch trains a fresh one.
    await again.clear();
    await again.add(all.slice(0, 300));
    expect((await again.get(all[5].id))?.text).toBe(all[5].text);
    again.close();
    const db2 = await raw(factory, 't');
    expect((await db2.getAll('texts')).filter((r) => r.seq === MODEL_SEQ).length).toBe(1);
    db2.close();
  });

  it('after the first page of texts, reads every text record once in the background and decodes later pages from memory', async () => {
    const all = docs(300, 0);
    for (const preloadTexts of [true, false]) {
      const factory = new IDBFactory();
      const idx = await M3Index.open('mem', { store: new IdbStore('mem', { indexedDB: factory, persist: false, preloadTexts }), model });
      await idx.add(all);
      expect((await idx.get(all[0].id))?.text).toBe(all[0].text); // the first page: read from IndexedDB, starts the preload
      for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5)); // the background getAll lands
      // Every text record gone behind the connection's back: only a preloaded copy can still answer.
      const db = await raw(factory, 'mem');
      await db.clear('texts');
      db.close();
      const text = (await idx.get(all[150].id))?.text;
      expect(text).toBe(preloadTexts ? all[150].text : undefined);
      // Groups written after the preload are read from IndexedDB.
      const more = docs(40, 300);
      await idx.add(more);
      expect((await idx.get(more[7].id))?.text).toBe(more[7].text);
      idx.close();
    }
  });

  it('refuses a damaged coded group and a missing model by name, and still reads the other groups', async () => {
    const factory = new IDBFactory();
    const all = docs(300, 0);
    const idx = await M3Index.open('bad', { store: new IdbStore('bad', { indexedDB: factory, persist: false }), model });
    await idx.add(all);
    idx.close();
    const db = await raw(factory, 'bad');
    const g0 = await db.get('texts', [0, 0]);
    const flipped = g0.c.slice();
    flipped[flipped.length >> 1] ^= 4;
    await db.put('texts', { ...g0, c: flipped });
    const g1 = await db.get('texts', [0, 1]);
    await db.put('texts', { ...g1, m: 12345 });
    db.close();
    const again = await M3Index.open('bad', { store: new IdbStore('bad', { indexedDB: factory, persist: false }), model });
    const err = await again.get('d3').catch((e) => e);
    expect(err).toBeInstanceOf(M3StorageError);
    expect(err.code).toBe('CORRUPT');
    expect(err.message).toMatch(/text record \[0, 0\]: checksum mismatch/);
    await expect(again.get('d40')).rejects.toThrow(/text model 12345: missing/);
    expect((await again.get('d70'))?.text).toBe(all[70].text);
    again.close();
  });
});
