import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../store/memory-store.ts';
import { FakeEncoder } from '../../test/support/fake-encoder.ts';
import { M3Index } from './m3-index.ts';
import { QuerySyntaxError } from '../query/parse.ts';
import type { SearchMode } from './types.ts';

const DOCS = [
  { id: 'wing', text: 'The wing in a propeller slipstream: lift and drag of the wing.' },
  { id: 'layer', text: 'Laminar boundary layer on a flat plate at high speed.' },
  { id: 'layer-wing', text: 'The boundary layer of a swept wing at supersonic speed.' },
  { id: 'reversed', text: 'A layer boundary is not the same phrase.' },
  { id: 'heat', text: 'Heat transfer in hypersonic flow past a blunt body.' },
  { id: 'cjk', text: '東京大学の学生が空気力学を研究する。' },
];

async function open(colbert = false): Promise<M3Index> {
  const idx = await M3Index.open('b', { store: new MemoryStore(), encoder: new FakeEncoder({ dims: 16 }), colbert });
  await idx.add(DOCS);
  return idx;
}

const ids = (hits: { id: string }[]) => hits.map((h) => h.id).sort();

describe('query syntax in M3Index.search', () => {
  it('bm25: required, excluded, phrases (order matters), prefixes, typos, CJK', async () => {
    const idx = await open();
    const q = async (s: string) => ids(await idx.search(s, { mode: 'bm25', k: 100 }));
    expect(await q('+wing')).toEqual(['layer-wing', 'wing']);
    expect(await q('+wing -"boundary layer"')).toEqual(['wing']);
    expect(await q('"boundary layer"')).toEqual(['layer', 'layer-wing']);
    expect(await q('"layer boundary"')).toEqual(['reversed']);
    expect(await q('+hyper*')).toEqual(['heat']);
    expect(await q('+bondary~1')).toEqual(['layer', 'layer-wing', 'reversed']);
    expect(await q('+bondary~1 -swept')).toEqual(['layer', 'reversed']);
    expect(await q('+"空気力学"')).toEqual(['cjk']);
    expect(await q('+東京 -wing')).toEqual(['cjk']);
    // No required clause: at least one optional one.
    expect(await q('slipstream hypersonic -blunt')).toEqual(['wing']);
  });

  it('optional clauses add score when something is required', async () => {
    const idx = await open();
    const hits = await idx.search('+"boundary layer" swept', { mode: 'bm25', k: 10 });
    expect(ids(hits)).toEqual(['layer', 'layer-wing']);
    expect(hits[0].id).toBe('layer-wing');
  });

  it.each(['dense', 'sparse', 'hybrid', 'colbert'] as SearchMode[])('%s: the constraint filters, the model ranks', async (mode) => {
    const idx = await open(true);
    const all = await idx.search(
      { embedding: (await new FakeEncoder({ dims: 16 }).encode(['wing'], { dense: true, sparse: true, colbert: true }))[0] },
      { mode, k: 100 },
    );
    const hits = await idx.search('wing -"boundary layer"', { mode, k: 100 });
    expect(hits.length).toBeGreaterThan(0);
    for (const h of hits) expect(h.text).not.toMatch(/boundary layer/);
    for (const h of hits) expect(h.text).toMatch(/wing/i);
    if (mode !== 'sparse') expect(all.length).toBeGreaterThan(hits.length); // the unconstrained search finds more
  });

  it('ColBERT rerank keeps the constraint', async () => {
    const idx = await open(true);
    const hits = await idx.search('+speed', { mode: 'hybrid', k: 10, rerank: { colbert: true, topN: 10 } });
    expect(ids(hits)).toEqual(['layer', 'layer-wing']);
  });

  it('plain words in a model mode are a semantic query, not a filter', async () => {
    const idx = await open();
    const hits = await idx.search('wing', { mode: 'dense', k: 100 });
    expect(hits.length).toBe(DOCS.length);
  });

  it('the encoder reads the positive words only', async () => {
    const enc = new FakeEncoder({ dims: 16 });
    const seen: string[] = [];
    const encode = enc.encode.bind(enc);
    enc.encode = (texts, o) => (seen.push(...texts), encode(texts, o));
    const idx = await M3Index.open('e', { store: new MemoryStore(), encoder: enc });
    await idx.add(DOCS);
    seen.length = 0;
    await idx.search('like +wing "boundary layer" -never super*', { mode: 'dense' });
    expect(seen).toEqual(['wing like boundary layer super']);
  });

  it('explain: which clause each hit satisfied, and highlights of phrases, prefixes and typos', async () => {
    const idx = await open();
    const [hit] = await idx.search('+"boundary layer" swep* wng~1 -heat', { mode: 'bm25', k: 1, explain: true });
    expect(hit.id).toBe('layer-wing');
    const by = Object.fromEntries(hit.clauses!.map((c) => [c.clause, c]));
    expect(by['+"boundary layer"']).toMatchObject({ occur: 'must', matched: true, terms: ['boundary', 'layer'] });
    expect(by['swep*']).toMatchObject({ matched: true, terms: ['swept'] });
    expect(by['wng~1']).toMatchObject({ matched: true, terms: ['wing'] });
    expect(by['-heat']).toMatchObject({ occur: 'mustNot', matched: false });
    const lit = hit.highlights!.map((s) => hit.text!.slice(s.start, s.end));
    expect(lit).toEqual(expect.arrayContaining(['boundary layer', 'swept', 'wing']));
    expect(hit.terms!.map((t) => t.term).sort()).toEqual(['boundary', 'layer', 'swept', 'wing']);
  });

  it('structured queries, and clear errors', async () => {
    const idx = await open();
    expect(ids(await idx.search({ must: [{ phrase: 'boundary layer' }], mustNot: ['swept'] }, { mode: 'bm25' }))).toEqual(['layer']);
    expect(ids(await idx.search({ should: [{ prefix: 'hyper' }, { fuzzy: 'slipstram', distance: 1 }] }, { mode: 'bm25' }))).toEqual(['heat', 'wing']);
    await expect(idx.search('wing "boundary', { mode: 'bm25' })).rejects.toThrow(QuerySyntaxError);
    await expect(idx.search('-wing', { mode: 'bm25' })).rejects.toThrow(/only excluded clauses/);
    await expect(idx.search({ must: [{ nope: 'x' } as never] })).rejects.toThrow(/a clause is/);
    // Exclusions alone are fine next to an embedding: "like this vector, never 'wing'".
    const emb = (await new FakeEncoder({ dims: 16 }).encode(['wing'], { dense: true, sparse: true, colbert: true }))[0];
    const hits = await idx.search({ mustNot: ['wing'], embedding: emb }, { mode: 'dense', k: 100 });
    expect(ids(hits)).toEqual(['cjk', 'heat', 'layer', 'reversed']);
    // An index without BM25 says what to do.
    const nob = await M3Index.open('n', { store: new MemoryStore(), encoder: new FakeEncoder({ dims: 16 }), bm25: false });
    await nob.add(DOCS);
    await expect(nob.search('+wing', { mode: 'dense' })).rejects.toThrow(/needs BM25 indexing/);
    expect((await nob.search('+wing', { mode: 'dense', syntax: 'plain' })).length).toBeGreaterThan(0);
  });

  it('removed and replaced documents never match', async () => {
    const idx = await open();
    await idx.remove(['wing']);
    await idx.upsert([{ id: 'heat', text: 'a wing again' }]);
    expect(ids(await idx.search('+wing', { mode: 'bm25' }))).toEqual(['heat', 'layer-wing']);
    expect(ids(await idx.search('+hyper*', { mode: 'bm25' }))).toEqual([]);
    expect(ids(await idx.search('+slipstrem~1', { mode: 'bm25' }))).toEqual([]);
  });
});
