/**
 * Schema 5 → 6 (front-coded BM25 terms) against an index schema 5 itself wrote (test/fixtures/schema5, made by
 * scripts/fixtures/make-schema5-index.ts): its segments are read as they are — every query (every mode, phrases
 * from positions, prefix and fuzzy terms) gives the same hits with the same scores, from a FileStore folder, an
 * IndexedDB database and a portable export — and compaction rewrites them in the schema 6 layout, after which
 * the answers stay the same (sparse scores aside: compaction re-scales their quantisation, as it always has).
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { M3Index } from '../search/m3-index.ts';
import { exportStore, parsePortable, writePortable } from '../search/portable.ts';
import { FIXTURE_MODEL, fixtureDocs, schema5Answers, type FixtureAnswers } from '../../test/fixtures/schema5-queries.ts';
import { loadIdbFixture, readIdbFixture, withRawDb } from '../../test/support/idb-fixture.ts';
import { decodeSegmentFile } from './segment-file.ts';
import { FileStore } from './file-store.ts';
import { IdbStore } from './idb-store.ts';
import { MemoryStore } from './memory-store.ts';
import { SCHEMA_VERSION } from './types.ts';

const FIXTURE = join(import.meta.dirname, '../../test/fixtures/schema5');
const expected: FixtureAnswers = JSON.parse(readFileSync(join(FIXTURE, 'answers.json'), 'utf8'));
const docs = fixtureDocs();
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function fixtureCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'm3-schema5-'));
  dirs.push(dir);
  cpSync(join(FIXTURE, 'files'), dir, { recursive: true });
  return dir;
}

const segFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.m3s'));
/** Per segment file: its BM25 block's layout ('dict' is schema 6's) and whether it holds positions. */
const layoutsIn = (dir: string) =>
  segFiles(dir).map((f) => {
    const b = decodeSegmentFile(new Uint8Array(readFileSync(join(dir, f))), f, { inflate: (x) => inflateRawSync(x) }).segment.bm25!;
    return `${b.dict ? 'dict' : 'array'}${b.positions ? '+positions' : ''}`;
  });

/** Compaction re-scales sparse weights to the merged segment's maximum (as before), so every other answer stays exact. */
function exactAfterCompaction(got: FixtureAnswers): void {
  const keys = Object.keys(expected).filter((k) => /:(dense|bm25)$/.test(k) || /^(phrase|term):/.test(k));
  expect(keys.length).toBeGreaterThan(50);
  for (const key of keys) expect(got[key], key).toEqual(expected[key]);
}

describe('schema 5 → 6', () => {
  it('the fixture is what schema 5 wrote: string terms with positions, prefix and fuzzy answers that are not trivial', () => {
    expect(SCHEMA_VERSION).toBe(6);
    expect(JSON.parse(readFileSync(join(FIXTURE, 'files', 'meta.json'), 'utf8')).schemaVersion).toBe(5);
    expect(layoutsIn(join(FIXTURE, 'files'))).toEqual(Array(5).fill('array+positions'));
    const terms = Object.keys(expected).filter((k) => k.startsWith('term:'));
    expect(terms).toHaveLength(15);
    expect(terms.filter((k) => expected[k].length > 0)).toHaveLength(14);
    expect(Object.keys(expected).filter((k) => k.startsWith('phrase:') && expected[k].length > 0)).toHaveLength(25);
  });

  it('FileStore: old segments answer the same read-only and after the open stamps schema 6; compaction rewrites them as schema 6, same answers', async () => {
    const dir = fixtureCopy();
    const ro = await M3Index.open('f', { store: new FileStore(dir, { readOnly: true }), model: FIXTURE_MODEL });
    expect(await schema5Answers(ro, docs)).toEqual(expected);
    ro.close();
    const idx = await M3Index.open('f', { store: new FileStore(dir), model: FIXTURE_MODEL });
    expect(idx.count()).toBe(406);
    expect(await schema5Answers(idx, docs)).toEqual(expected);
    idx.close();
    expect(JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')).schemaVersion).toBe(6);
    expect(layoutsIn(dir).every((l) => l === 'array+positions')).toBe(true); // read as they are

    const again = await M3Index.open('f', { store: new FileStore(dir), model: FIXTURE_MODEL });
    await again.compact();
    expect(layoutsIn(dir).length).toBeGreaterThan(0);
    expect(layoutsIn(dir).every((l) => l === 'dict+positions')).toBe(true);
    exactAfterCompaction(await schema5Answers(again, docs));
    again.close();
    const reopened = await M3Index.open('f', { store: new FileStore(dir, { readOnly: true }), model: FIXTURE_MODEL });
    exactAfterCompaction(await schema5Answers(reopened, docs));
    reopened.close();
  });

  it('FileStore: a schema 6 segment beside schema 5 ones; prefix, fuzzy and phrase queries answer from both', async () => {
    const dir = fixtureCopy();
    const idx = await M3Index.open('f', { store: new FileStore(dir), model: FIXTURE_MODEL });
    const copies = docs.filter((d) => /^(d(28|97|120|212|330)|m[0-7])$/.test(d.id)).map((d) => ({ ...d, id: `new-${d.id}` }));
    await idx.add(copies);
    expect(layoutsIn(dir).filter((l) => l === 'dict+positions')).toHaveLength(1);
    for (const q of ['"omicron omega"', '"机器学习"', 'stra*', 'über*', '大*', 'gehn~1', '+"大学" -"京都"']) {
      const hits = (await idx.search(q, { mode: 'bm25', k: 1000 })).map((h) => h.id);
      const old = (expected[`phrase:${q}`] ?? expected[`term:${q}`]).map((h) => h.id);
      const added = copies.filter((c) => old.includes(c.id.slice(4))).map((c) => c.id);
      expect(added.length, q).toBeGreaterThan(0);
      expect(hits.sort(), q).toEqual([...old, ...added].sort());
    }
    idx.close();
  });

  it('IndexedDB 6 → 8: records untouched, meta stamped schema 6, same answers; compaction rewrites them as schema 6', async () => {
    const records = readIdbFixture(join(FIXTURE, 'idb.v8'));
    expect(records.version).toBe(6);
    const factory = new IDBFactory();
    await loadIdbFixture(factory, 'old', records);
    const open = () => M3Index.open('old', { store: new IdbStore('old', { indexedDB: factory, persist: false }), model: FIXTURE_MODEL });
    const idx = await open();
    expect(idx.count()).toBe(406);
    expect(await schema5Answers(idx, docs)).toEqual(expected);
    idx.close();
    await withRawDb(factory, 'old', async (raw) => {
      expect(raw.version).toBe(8);
      expect((await raw.get('meta', 'meta')).schemaVersion).toBe(6);
      const stored = await raw.getAll('segments');
      expect(stored.map((s) => s.checksum)).toEqual(records.segments.map((s) => s.checksum));
    });

    const again = await open();
    await again.compact();
    exactAfterCompaction(await schema5Answers(again, docs));
    again.close();
    const segs = await withRawDb(factory, 'old', (raw) => raw.getAll('segments'));
    expect(segs.length).toBeGreaterThan(0);
    expect(segs.every((s) => s.bm25.dict instanceof Uint8Array && s.bm25.terms === undefined && s.bm25.positions === true && s.sparse.singles === true)).toBe(
      true,
    );
    const reopened = await open();
    exactAfterCompaction(await schema5Answers(reopened, docs));
    reopened.close();
  });

  it('a schema 5 export imports into schema 6, same answers; a schema 6 export of it imports again, same answers', async () => {
    const parsed = await parsePortable(new Uint8Array(readFileSync(join(FIXTURE, 'index.m3idx'))), { ...FIXTURE_MODEL, dtype: '' });
    expect(parsed.meta.schemaVersion).toBe(SCHEMA_VERSION);
    const store = new MemoryStore();
    await writePortable(store, parsed);
    const idx = await M3Index.open('m', { store, model: FIXTURE_MODEL });
    expect(await schema5Answers(idx, docs)).toEqual(expected);
    await idx.compact();
    const exported = await exportStore(store);
    idx.close();
    const again = await parsePortable(exported, { ...FIXTURE_MODEL, dtype: '' });
    expect(again.segments.every((s) => s.bm25?.dict instanceof Uint8Array)).toBe(true);
    const store2 = new MemoryStore();
    await writePortable(store2, again);
    const idx2 = await M3Index.open('m', { store: store2, model: FIXTURE_MODEL });
    exactAfterCompaction(await schema5Answers(idx2, docs));
    idx2.close();
  });
});
