/**
 * Schema 3 → 4 (coded postings) against an index schema 3 itself wrote (test/fixtures/schema3, made by
 * scripts/fixtures/make-schema3-index.ts at schema 3): after each migration path — a FileStore folder, an
 * IndexedDB database, a portable export — every query gives the same hits with the same scores, bit for bit,
 * in every mode, and the stored postings are smaller.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { M3Index } from '../search/m3-index.ts';
import { parsePortable, writePortable } from '../search/portable.ts';
import { corpus } from '../../test/support/test-corpus.ts';
import { loadIdbFixture, readIdbFixture, withRawDb } from '../../test/support/idb-fixture.ts';
import { FileStore } from './file-store.ts';
import { FIXTURE_MODEL, fixtureAnswers, type FixtureAnswers } from '../../test/fixtures/schema3-queries.ts';
import { IdbStore } from './idb-store.ts';
import { MemoryStore } from './memory-store.ts';
import { SCHEMA_VERSION } from './types.ts';

const FIXTURE = join(import.meta.dirname, '../../test/fixtures/schema3');
const expected: FixtureAnswers = JSON.parse(readFileSync(join(FIXTURE, 'answers.json'), 'utf8'));
const docs = corpus(400, FIXTURE_MODEL.dims, 14, { colbert: true }); // what the fixture indexed (its queries)
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function fixtureCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'm3-schema3-'));
  dirs.push(dir);
  cpSync(join(FIXTURE, 'files'), dir, { recursive: true });
  return dir;
}

const bytesOf = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.m3s'))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);

describe('schema 3 → 4 (and on to the current schema)', () => {
  it('the fixture is what schema 3 wrote (so these tests exercise the old format)', () => {
    expect(SCHEMA_VERSION).toBe(6);
    expect(JSON.parse(readFileSync(join(FIXTURE, 'files', 'meta.json'), 'utf8')).schemaVersion).toBe(3);
    expect(readFileSync(join(FIXTURE, 'files', 'seg-00000000.m3s')).readUInt32LE(4)).toBe(2);
    expect(Object.keys(expected)).toHaveLength(60);
  });

  it('FileStore: a read-only open answers the same from the old files; a writable open migrates them, same answers', async () => {
    const dir = fixtureCopy();
    const before = bytesOf(dir);
    const ro = await M3Index.open('f', { store: new FileStore(dir, { readOnly: true }), model: FIXTURE_MODEL });
    expect(await fixtureAnswers(ro, docs)).toEqual(expected);
    ro.close();
    expect(readFileSync(join(dir, 'seg-00000000.m3s')).readUInt32LE(4)).toBe(2); // untouched

    const idx = await M3Index.open('f', { store: new FileStore(dir), model: FIXTURE_MODEL });
    expect(idx.count()).toBe(398);
    expect(await fixtureAnswers(idx, docs)).toEqual(expected);
    idx.close();
    expect(JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')).schemaVersion).toBe(SCHEMA_VERSION);
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.m3s'))) expect(readFileSync(join(dir, f)).readUInt32LE(4)).toBe(3);
    expect(bytesOf(dir)).toBeLessThan(before);
    // Reopened from the migrated files, then compacted (postings decoded and re-coded). Compaction re-scales
    // sparse weights to the merged segment's maximum (as schema 3 did), so dense and BM25 stay exact.
    const again = await M3Index.open('f', { store: new FileStore(dir), model: FIXTURE_MODEL });
    expect(await fixtureAnswers(again, docs)).toEqual(expected);
    await again.compact();
    const compacted = await fixtureAnswers(again, docs);
    for (const key of Object.keys(expected).filter((k) => /:(dense|bm25)$/.test(k))) expect(compacted[key]).toEqual(expected[key]);
    again.close();
  });

  it('FileStore: format 1 files (schema 2, no checksum) migrate straight to format 3, same answers', async () => {
    const { writeFileSync } = await import('node:fs');
    const dir = fixtureCopy();
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.m3s'))) {
      const b = readFileSync(join(dir, f));
      const v1 = Buffer.concat([b.subarray(0, b.length - 8), Buffer.alloc(4)]);
      v1.writeUInt32LE(1, 4);
      v1.writeUInt32LE(v1.length, v1.length - 4);
      writeFileSync(join(dir, f), v1);
    }
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ ...meta, schemaVersion: 2 }));
    const idx = await M3Index.open('f', { store: new FileStore(dir), model: FIXTURE_MODEL });
    expect(await fixtureAnswers(idx, docs)).toEqual(expected);
    idx.close();
    expect(readFileSync(join(dir, 'seg-00000001.m3s')).readUInt32LE(4)).toBe(3);
  });

  it('IndexedDB 4 → 5: records re-coded and resealed, same answers; a record damaged before the upgrade is refused by name', async () => {
    const records = readIdbFixture<{ seq: number; sparse: { weights: Uint8Array } }>(join(FIXTURE, 'idb.v8'));
    expect(records.version).toBe(4);
    // A flipped bit in segment `damage` that the old checksum catches.
    const load = (factory: IDBFactory, damage?: number) =>
      loadIdbFixture(factory, 'old', records, (seg) => {
        if (seg.seq === damage) seg.sparse.weights[3] ^= 1;
      });
    const factory = new IDBFactory();
    await load(factory);
    const idx = await M3Index.open('old', { store: new IdbStore('old', { indexedDB: factory, persist: false }), model: FIXTURE_MODEL });
    expect(idx.count()).toBe(398);
    expect(await fixtureAnswers(idx, docs)).toEqual(expected);
    expect(await idx.get('d7')).toMatchObject({ id: 'd7', text: `${docs[7].text} omega omega` });
    idx.close();
    await withRawDb(factory, 'old', async (raw) => {
      expect(raw.version).toBe(8);
      expect((await raw.get('meta', 'meta')).schemaVersion).toBe(SCHEMA_VERSION);
      for (const s of await raw.getAll('segments')) {
        expect(s.sparse.postings).toBeInstanceOf(Uint8Array);
        expect(s.sparse).not.toHaveProperty('rows');
        expect(s.bm25.postings).toBeInstanceOf(Uint8Array);
        expect(s.bm25).not.toHaveProperty('docs');
      }
    });

    const damaged = new IDBFactory();
    await load(damaged, 1);
    await expect(M3Index.open('old', { store: new IdbStore('old', { indexedDB: damaged, persist: false }), model: FIXTURE_MODEL })).rejects.toThrow(
      /"m3-search:old", segment record 1: sparse block is not in the schema 4 layout.*index again/,
    );
  });

  it('a schema 3 export imports into schema 4, same answers', async () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURE, 'index.m3idx')));
    const parsed = await parsePortable(bytes, { ...FIXTURE_MODEL, dtype: '' });
    expect(parsed.meta.schemaVersion).toBe(SCHEMA_VERSION);
    const store = new MemoryStore();
    await writePortable(store, parsed);
    const idx = await M3Index.open('p', { store, model: FIXTURE_MODEL });
    expect(await fixtureAnswers(idx, docs)).toEqual(expected);
    idx.close();
  });
});
