import 'fake-indexeddb/auto'; // idb's instanceof checks need the IDB globals
import { IDBFactory } from 'fake-indexeddb';
import { openDB } from 'idb';
import { describe, expect, it } from 'vitest';
import { M3Index } from '../search/m3-index.ts';
import { IDB_VERSION } from './idb-schema.ts';
import { DICT_BYTES, DICT_SEQ, trainDict } from './idb-text-dict.ts';
import { TEXT_GROUP, TEXT_PART, type TextEntry, TextGroup } from './idb-text-groups.ts';
import { packEntries } from './idb-text-pack.ts';
import { IdbStore } from './idb-store.ts';

const DIMS = 4;
const model = { modelId: 'precomputed', dims: DIMS, headHash: 'h' };
/** A deterministic generator (an LCG): the texts below are the same in every run. */
const lcg = (seed: number) => () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
const letters = lcg(1);
const WORDS = Array.from({ length: 400 }, () =>
  Array.from({ length: 3 + Math.floor(letters() * 7) }, () => String.fromCharCode(97 + Math.floor(letters() * 26))).join(''),
);
/** A text of `n` words, frequent words far more often than rare ones (as in prose). */
const text = (i: number, n = 60) => {
  const r = lcg(i + 7);
  return Array.from({ length: n }, () => WORDS[Math.floor(WORDS.length * r() ** 3)]).join(' ');
};
const doc = (i: number, n?: number) => ({ id: `d${i}`, text: text(i, n), embedding: { dense: Float32Array.of(1, i, 0, 0), tokens: 0, truncated: false } });

async function rawDb(factory: IDBFactory, name: string) {
  const g = globalThis as { indexedDB: IDBFactory };
  const prev = g.indexedDB;
  g.indexedDB = factory;
  try {
    return await openDB(`m3-search:${name}`);
  } finally {
    g.indexedDB = prev;
  }
}

/** What IndexedDB ≤ 6 stored: the group's entries as JSON, deflate-raw through CompressionStream. */
async function oldZ(entries: TextEntry[]): Promise<Uint8Array> {
  const stream = new Blob([JSON.stringify(entries)]).stream().pipeThrough(new CompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe('text dictionary', () => {
  it('is trained from enough text only, fits the deflate window, puts the most valuable words last, same id for same texts', () => {
    expect(trainDict(['a few words', 'too few'])).toBeNull();
    const texts = Array.from({ length: 400 }, (_, i) => text(i));
    const a = trainDict(texts)!;
    expect(a.bytes.length).toBeGreaterThan(0);
    expect(a.bytes.length).toBeLessThanOrEqual(DICT_BYTES);
    expect(trainDict(texts)!.id).toBe(a.id);
    expect(trainDict(texts.map((t) => t.toUpperCase()))!.id).not.toBe(a.id);
    const counts = new Map<string, number>();
    for (const t of texts) for (const w of t.split(' ')) counts.set(w, (counts.get(w) ?? 0) + 1);
    const best = [...counts].sort((x, y) => y[1] * (y[0].length + 1) - x[1] * (x[0].length + 1))[0][0];
    expect(new TextDecoder().decode(a.bytes).endsWith(`${best} `)).toBe(true);
  });

  it('packed groups read back row by row, with and without a dictionary, and the dictionary makes them smaller', () => {
    const entries: TextEntry[] = Array.from({ length: 75 }, (_, i) =>
      i === 9
        ? null
        : i % 5
          ? [text(i)]
          : [
              text(i),
              [
                [0, 5],
                [5, text(i).length],
              ],
            ],
    );
    const dict = trainDict(entries.map((e) => e?.[0] ?? ''))!;
    const plain = packEntries(entries, null);
    const packed = packEntries(entries, dict);
    expect(packed).toHaveLength(Math.ceil(75 / TEXT_GROUP));
    for (const [records, d] of [
      [plain, undefined],
      [packed, dict.bytes],
    ] as const) {
      for (let i = 0; i < 80; i++) {
        const group = new TextGroup(null, records[Math.floor(Math.min(i, 74) / TEXT_GROUP)], d);
        expect(group.entry(i % TEXT_GROUP)).toEqual(
          i < 75 ? entries[Math.floor(Math.min(i, 74) / TEXT_GROUP) * TEXT_GROUP + (i % TEXT_GROUP)] : (entries[64 + (i % TEXT_GROUP)] ?? null),
        );
      }
    }
    const size = (rs: Uint8Array[]) => rs.reduce((a, r) => a + r.length, 0);
    expect(size(packed)).toBeLessThan(size(plain) * 0.9);
    // A group holds TEXT_GROUP / TEXT_PART parts, each inflated on its own.
    expect(packed[0][0]).toBe(TEXT_GROUP / TEXT_PART);
    expect(() => new TextGroup(null, packed[0].subarray(0, packed[0].length - 1), dict.bytes)).toThrow(/damaged text record/);
  });
});

describe('IdbStore text groups', () => {
  it('IndexedDB 6 → 7: old deflate-stream groups keep reading beside new dictionary-packed ones; compaction repacks them', async () => {
    const factory = new IDBFactory();
    const docs = Array.from({ length: 40 }, (_, i) => doc(i, 8)); // few words: no dictionary
    const idx = await M3Index.open('src', { store: new IdbStore('src', { indexedDB: factory }), model });
    await idx.add(docs, { batchSize: 20 });
    idx.close();
    // Rebuild the database as IndexedDB 6 wrote it: same segments and meta, text groups as `z` records.
    const src = await rawDb(factory, 'src');
    const segs = await src.getAll('segments');
    const meta = await src.get('meta', 'meta');
    const blocks = await src.getAll('texts');
    src.close();
    expect(blocks.every((b) => b.p && b.d === undefined)).toBe(true);
    const g = globalThis as { indexedDB: IDBFactory };
    const prev = g.indexedDB;
    g.indexedDB = factory;
    const v6 = await openDB('m3-search:old', 6, {
      upgrade(db) {
        db.createObjectStore('meta');
        db.createObjectStore('segments', { keyPath: 'seq' });
        db.createObjectStore('texts', { keyPath: ['seq', 'g'] });
      },
    });
    g.indexedDB = prev;
    await v6.put('meta', meta, 'meta');
    for (const s of segs) await v6.put('segments', s);
    for (const b of blocks) {
      const group = new TextGroup(null, b.p);
      const n = segs.find((s) => s.seq === b.seq)!.ids.length - b.g * TEXT_GROUP;
      await v6.put('texts', { seq: b.seq, g: b.g, z: await oldZ(Array.from({ length: Math.min(n, TEXT_GROUP) }, (_, i) => group.entry(i))) });
    }
    v6.close();

    const old = await M3Index.open('old', { store: new IdbStore('old', { indexedDB: factory }), model });
    for (const i of [0, 19, 33]) expect(await old.get(`d${i}`)).toEqual({ id: `d${i}`, text: docs[i].text });
    const more = Array.from({ length: 100 }, (_, i) => doc(100 + i)); // enough text to train a dictionary
    await old.add(more);
    const hits = await old.search({ embedding: { dense: Float32Array.of(1, 133, 0, 0), tokens: 0, truncated: false } }, { k: 3, mode: 'dense' });
    expect(hits.map((h) => h.text)).toEqual(
      hits.map((h) => (Number(h.id.slice(1)) >= 100 ? more[Number(h.id.slice(1)) - 100].text : docs[Number(h.id.slice(1))].text)),
    );
    old.close();
    let raw = await rawDb(factory, 'old');
    expect(raw.version).toBe(IDB_VERSION);
    let stored = await raw.getAll('texts');
    raw.close();
    const dicts = stored.filter((b) => b.seq === DICT_SEQ);
    expect(dicts).toHaveLength(1);
    expect(stored.filter((b) => b.z)).toHaveLength(blocks.length);
    expect(stored.filter((b) => b.p && b.d === dicts[0].g).length).toBeGreaterThan(0);

    // A new connection reads the dictionary from the database; compaction repacks the old groups with it.
    const again = await M3Index.open('old', { store: new IdbStore('old', { indexedDB: factory }), model });
    expect(await again.get('d150')).toEqual({ id: 'd150', text: more[50].text });
    await again.compact();
    for (const i of [5, 39]) expect(await again.get(`d${i}`)).toEqual({ id: `d${i}`, text: docs[i].text });
    expect(await again.get('d199')).toEqual({ id: 'd199', text: more[99].text });
    again.close();
    raw = await rawDb(factory, 'old');
    stored = await raw.getAll('texts');
    raw.close();
    expect(stored.filter((b) => b.z)).toHaveLength(0);
    expect(stored.filter((b) => b.seq !== DICT_SEQ).every((b) => b.d === dicts[0].g)).toBe(true);
  });

  it('clear() drops the dictionary with the texts; the next ingest trains and stores one again; an import (replace) keeps its texts', async () => {
    const factory = new IDBFactory();
    const store = new IdbStore('c', { indexedDB: factory });
    const idx = await M3Index.open('c', { store, model });
    await idx.add(Array.from({ length: 100 }, (_, i) => doc(i)));
    const dictOf = async () => {
      const raw = await rawDb(factory, 'c');
      const ds = (await raw.getAll('texts')).filter((b) => b.seq === DICT_SEQ);
      raw.close();
      return ds.map((d) => d.g);
    };
    const first = await dictOf();
    expect(first).toHaveLength(1);
    const exported = { meta: (await store.readMeta())!, segments: await store.readSegments(), docs: await store.allDocs() };
    await idx.clear();
    expect(await dictOf()).toEqual([]);
    await idx.add(Array.from({ length: 100 }, (_, i) => doc(500 + i)));
    const second = await dictOf();
    expect(second).toHaveLength(1);
    expect(second[0]).not.toBe(first[0]);
    expect(await idx.get('d550')).toEqual({ id: 'd550', text: text(550) });
    idx.close();
    const importer = new IdbStore('c', { indexedDB: factory });
    await importer.open();
    await importer.replace(exported.meta, exported.segments, exported.docs); // what an import does
    importer.close();
    const reopened = await M3Index.open('c', { store: new IdbStore('c', { indexedDB: factory }), model });
    expect(await reopened.get('d99')).toEqual({ id: 'd99', text: text(99) });
    expect(await reopened.get('d42')).toEqual({ id: 'd42', text: text(42) });
    expect(await reopened.get('d550')).toBeUndefined();
    expect(await dictOf()).toHaveLength(1);
    reopened.close();
  });
});
