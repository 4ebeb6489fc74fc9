/**
 * Schema 4 → 5 (BM25 term positions) against an index schema 4 itself wrote (test/fixtures/schema4, made by
 * scripts/fixtures/make-schema4-index.ts): its segments are read as they are — every query, phrases
 * included (checked on the texts), gives the same hits with the same scores in every mode, from a FileStore
 * folder, an IndexedDB database and a portable export — and compaction rewrites them with positions, after
 * which phrases are decided from postings with the same answers.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { M3Index } from '../search/m3-index.ts';
import { parsePortable, writePortable } from '../search/portable.ts';
import { FIXTURE_MODEL, fixtureDocs, schema4Answers, type FixtureAnswers } from '../../test/fixtures/schema4-queries.ts';
import { loadIdbFixture, readIdbFixture, withRawDb } from '../../test/support/idb-fixture.ts';
import { decodeSegmentFile } from './segment-file.ts';
import { FileStore } from './file-store.ts';
import { IdbStore } from './idb-store.ts';
import { MemoryStore } from './memory-store.ts';
import { SCHEMA_VERSION } from './types.ts';

const FIXTURE = join(import.meta.dirname, '../../test/fixtures/schema4');
const expected: FixtureAnswers = JSON.parse(readFileSync(join(FIXTURE, 'answers.json'), 'utf8'));
const docs = fixtureDocs();
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function fixtureCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'm3-schema4-'));
  dirs.push(dir);
  cpSync(join(FIXTURE, 'files'), dir, { recursive: true });
  return dir;
}

const segFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.m3s'));
const positionsIn = (dir: string) =>
  segFiles(dir).map(
    (f) => decodeSegmentFile(new Uint8Array(readFileSync(join(dir, f))), f, { inflate: (b) => inflateRawSync(b) }).segment.bm25?.positions === true,
  );

/** Compaction re-scales sparse weights to the merged segment's maximum (as before), so dense, BM25 and phrases stay exact. */
function exactAfterCompaction(got: FixtureAnswers): void {
  const keys = Object.keys(expected).filter((k) => /:(dense|bm25)$/.test(k) || k.startsWith('phrase:'));
  expect(keys.length).toBeGreaterThan(40);
  for (const key of keys) expect(got[key], key).toEqual(expected[key]);
}

describe('schema 4 → 5 (and on to the current schema)', () => {
  it('the fixture is what schema 4 wrote: no positions, phrase answers that are not trivial', () => {
    expect(SCHEMA_VERSION).toBe(6);
    expect(JSON.parse(readFileSync(join(FIXTURE, 'files', 'meta.json'), 'utf8')).schemaVersion).toBe(4);
    expect(positionsIn(join(FIXTURE, 'files'))).toEqual([false, false, false, false, false]);
    const phrases = Object.keys(expected).filter((k) => k.startsWith('phrase:'));
    expect(phrases).toHaveLength(25);
    expect(phrases.filter((k) => expected[k].length > 0)).toHaveLength(25);
  });

  it('FileStore: old segments answer the same read-only and after the open stamps the current schema; compaction adds positions, same answers', async () => {
    const dir = fixtureCopy();
    const ro = await M3Index.open('f', { store: new FileStore(dir, { readOnly: true }), model: FIXTURE_MODEL });
    expect(await schema4Answers(ro, docs)).toEqual(expected);
    ro.close();
    const idx = await M3Index.open('f', { store: new FileStore(dir), model: FIXTURE_MODEL });
    expect(idx.count()).toBe(406);
    expect(await schema4Answers(idx, docs)).toEqual(expected);
    idx.close();
    expect(JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')).schemaVersion).toBe(SCHEMA_VERSION);
    expect(positionsIn(dir).every((p) => !p)).toBe(true); // read as they are

    const again = await M3Index.open('f', { store: new FileStore(dir), model: FIXTURE_MODEL });
    await again.compact();
    expect(positionsIn(dir).every((p) => p)).toBe(true);
    exactAfterCompaction(await schema4Answers(again, docs));
    again.close();
  });

  it('FileStore: new segments beside old ones store positions; a phrase over both answers from each', async () => {
    const dir = fixtureCopy();
    const idx = await M3Index.open('f', { store: new FileStore(dir), model: FIXTURE_MODEL });
    // Copies of old documents under new ids, in a schema 5 segment: each phrase then matches both.
    const copies = docs.filter((d) => /^(d(28|97|120|212)|m[0-7])$/.test(d.id)).map((d) => ({ ...d, id: `new-${d.id}` }));
    await idx.add(copies);
    expect(positionsIn(dir).filter((p) => p)).toHaveLength(1);
    for (const q of ['"omicron omega"', '"机器学习"', '"die straße"', '+"大学" -"京都"']) {
      const hits = (await idx.search(q, { mode: 'bm25', k: 1000 })).map((h) => h.id);
      const old = expected[`phrase:${q}`].map((h) => h.id);
      const added = copies.filter((c) => old.includes(c.id.slice(4))).map((c) => c.id);
      expect(added.length, q).toBeGreaterThan(0);
      expect(hits.sort(), q).toEqual([...old, ...added].sort());
    }
    idx.close();
  });

  it('IndexedDB 5 → 8: records untouched, meta stamped the current schema, same answers; compaction adds positions', async () => {
    const records = readIdbFixture(join(FIXTURE, 'idb.v8'));
    expect(records.version).toBe(5);
    const factory = new IDBFactory();
    await loadIdbFixture(factory, 'old', records);
    const open = () => M3Index.open('old', { store: new IdbStore('old', { indexedDB: factory, persist: false }), model: FIXTURE_MODEL });
    const idx = await open();
    expect(idx.count()).toBe(406);
    expect(await schema4Answers(idx, docs)).toEqual(expected);
    idx.close();
    await withRawDb(factory, 'old', async (raw) => {
      expect(raw.version).toBe(8);
      expect((await raw.get('meta', 'meta')).schemaVersion).toBe(SCHEMA_VERSION);
      const stored = await raw.getAll('segments');
      expect(stored.map((s) => s.checksum)).toEqual(records.segments.map((s) => s.checksum));
    });

    const again = await open();
    await again.compact();
    exactAfterCompaction(await schema4Answers(again, docs));
    again.close();
    const segs = await withRawDb(factory, 'old', (raw) => raw.getAll('segments'));
    expect(segs.length).toBeGreaterThan(0);
    expect(segs.every((s) => s.bm25.positions === true)).toBe(true);
  });

  it('a schema 4 export imports into the current schema, same answers', async () => {
    const parsed = await parsePortable(new Uint8Array(readFileSync(join(FIXTURE, 'index.m3idx'))), { ...FIXTURE_MODEL, dtype: '' });
    expect(parsed.meta.schemaVersion).toBe(SCHEMA_VERSION);
    const store = new MemoryStore();
    await writePortable(store, parsed);
    const idx = await M3Index.open('m', { store, model: FIXTURE_MODEL });
    expect(await schema4Answers(idx, docs)).toEqual(expected);
    idx.close();
  });
});
