/**
 * Exporters: the round trip (export → readExport → a new M3Index answers with the same rankings), each
 * engine's files checked structurally against the formats the engines document, the fusion settings the
 * guide gives re-enacted on the exported vectors (each engine's documented formula, computed here — no
 * engine server runs in this test), and an empty index exporting valid empty files.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { M3Index } from '../search/m3-index.ts';
import { corpus } from '../../test/support/test-corpus.ts';
import type { IndexDoc, SearchOptions } from '../search/types.ts';
import { FileStore } from '../store/file-store.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { ENGINES, exportIndex, readExport } from './index.ts';
import { f32 } from './reader.ts';

const DIMS = 32;
const N = 240;
const model = { modelId: 'precomputed-m3', dims: DIMS, headHash: 'heads-1', dtype: 'fp32' };
const tmp = mkdtempSync(join(tmpdir(), 'm3-export-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** An index with several segments, an upsert (tombstone + newer version) and a removal. */
async function source(colbert: boolean) {
  const docs = corpus(N, DIMS, 11, { colbert });
  const store = new MemoryStore();
  // int8 ColBERT: its floats re-import as the same codes, so the copy ranks exactly alike. (A 1-bit block's
  // scale is its segment's mean, and an import groups documents into other segments.)
  const idx = await M3Index.open('src', { model, store, colbert, colbertBits: 8 });
  await idx.add(docs.slice(0, N - 20), { batchSize: 70 });
  const replaced = { ...docs[5], text: docs[5].text + ' upserted' };
  await idx.upsert([replaced, ...docs.slice(N - 20)], { batchSize: 50 });
  await idx.remove(['d7', 'd8']);
  return { idx, store };
}

const queries = corpus(12, DIMS, 99, { colbert: true }).map((d) => ({ text: d.text, embedding: d.embedding! }));

/**
 * Same ranking up to quantisation ties: sparse weights are stored as uint8 with one scale per segment, so a
 * re-import (other segments, other scales) moves each weight by at most half a step. Where the lists differ,
 * the original scores of the swapped documents must be that close; dense and BM25 must match exactly.
 */
function expectSameRanking(a: { id: string; score: number }[], b: { id: string; score: number }[], eps: number, what: string): number {
  expect(b.length, what).toBe(a.length);
  let swaps = 0;
  const scoreA = new Map(a.map((h) => [h.id, h.score]));
  b.forEach((h, i) => {
    if (h.id === a[i].id) return;
    swaps++;
    // b's document at i sits near a's score at i (inside a's list or just below its last entry).
    const sa = scoreA.get(h.id) ?? a[a.length - 1].score;
    expect(Math.abs(sa - a[i].score), `${what}: ${h.id} vs ${a[i].id} at ${i + 1}`).toBeLessThan(eps);
  });
  return swaps;
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('export → import round trip', () => {
  it.each(ENGINES)('%s: the re-imported index ranks like the original', async (engine) => {
    const colbert = engine !== 'milvus';
    const { idx, store } = await source(true);
    const out = join(tmp, `rt-${engine}`);
    const r = await exportIndex(store, engine, out);
    expect(r.docs).toBe(idx.count());
    expect(r.points).toBe(idx.count());
    const { manifest, docs } = await readExport(out);
    expect(manifest.model).toEqual(model);
    expect(docs.length).toBe(idx.count());
    const copy = await M3Index.open('copy', { model: manifest.model, store: new MemoryStore(), colbert: manifest.colbert, colbertBits: manifest.colbertBits });
    await copy.add(docs, { batchSize: 1000 });
    expect((await copy.get('d5'))?.text).toMatch(/upserted$/);
    expect(copy.has('d7')).toBe(false);

    const settings: SearchOptions[] = [
      { mode: 'dense' },
      { mode: 'sparse' },
      { mode: 'bm25' },
      { mode: 'hybrid', fusion: 'weighted' },
      { mode: 'hybrid', fusion: 'rrf' },
      { mode: 'hybrid', fusion: 'normalized' },
      ...(colbert ? [{ mode: 'colbert' } as SearchOptions] : []),
    ];
    let maxDiff = 0;
    let swaps = 0;
    let total = 0;
    for (const q of queries) {
      const query = colbert ? q : { text: q.text, embedding: { ...q.embedding, colbert: undefined } };
      for (const s of settings) {
        const a = await idx.search(query, { ...s, k: 10, includeText: false });
        const b = await copy.search(query, { ...s, k: 10, includeText: false });
        const what = `${engine} ${JSON.stringify(s)} "${q.text}"`;
        if (s.mode === 'dense' || s.mode === 'bm25' || s.mode === 'colbert')
          expect(
            b.map((h) => h.id),
            what,
          ).toEqual(a.map((h) => h.id));
        else swaps += expectSameRanking(a, b, 4e-3, what);
        const byId = new Map(b.map((h) => [h.id, h.score]));
        for (const h of a) if (byId.has(h.id)) maxDiff = Math.max(maxDiff, Math.abs(h.score - byId.get(h.id)!));
        total++;
      }
    }
    // Re-quantising the exported floats moves sparse weights by at most half a uint8 step.
    expect(maxDiff).toBeLessThan(2e-3);
    console.log(`${engine}: ${total} rankings compared, ${swaps} near-tie swaps, max score difference ${maxDiff.toExponential(2)}`);
  });
});

// ---------------------------------------------------------------- the engines' documented formats

const readJsonl = (p: string) =>
  readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
const isUint32 = (x: unknown) => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 0xffffffff;
const isFloat = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Qdrant (qdrant.tech/documentation: collections, points, vectors): `vectors` maps names to { size,
 * distance ∈ Cosine|Euclid|Dot|Manhattan } (multivectors add multivector_config.comparator = max_sim);
 * `sparse_vectors` maps names to SparseVectorParams (optional index, modifier none|idf); a point id is a
 * uint64 or a UUID; named vectors: dense = float array of `size`, sparse = { indices (uint32, unique),
 * values (same length) }, multivector = array of float arrays of `size`; payload is a JSON object.
 */
function checkQdrant(dir: string, dims: number, colbert: boolean) {
  const c = JSON.parse(readFileSync(join(dir, 'collection.json'), 'utf8'));
  expect(Object.keys(c).sort()).toEqual(['sparse_vectors', 'vectors']);
  expect(c.vectors.dense).toEqual({ size: dims, distance: 'Dot' });
  for (const v of Object.values<any>(c.vectors)) {
    expect(['Cosine', 'Euclid', 'Dot', 'Manhattan']).toContain(v.distance);
    expect(Number.isInteger(v.size) && v.size > 0).toBe(true);
  }
  if (colbert) expect(c.vectors.colbert.multivector_config).toEqual({ comparator: 'max_sim' });
  else expect(c.vectors.colbert).toBeUndefined();
  for (const s of Object.values<any>(c.sparse_vectors)) for (const k of Object.keys(s)) expect(['index', 'modifier']).toContain(k);
  const points = readJsonl(join(dir, 'points.jsonl'));
  const seen = new Set();
  for (const p of points) {
    expect(Object.keys(p).sort()).toEqual(['id', 'payload', 'vector']);
    expect(UUID.test(p.id) || isUint32(p.id)).toBe(true);
    expect(seen.has(p.id)).toBe(false);
    seen.add(p.id);
    expect(typeof p.payload).toBe('object');
    for (const name of Object.keys(p.vector)) expect(['dense', 'sparse', ...(colbert ? ['colbert'] : [])]).toContain(name);
    expect(p.vector.dense.length).toBe(dims);
    expect(p.vector.dense.every(isFloat)).toBe(true);
    const sp = p.vector.sparse;
    if (sp) {
      expect(Object.keys(sp).sort()).toEqual(['indices', 'values']);
      expect(sp.indices.length).toBe(sp.values.length);
      expect(sp.indices.every(isUint32)).toBe(true);
      expect(new Set(sp.indices).size).toBe(sp.indices.length);
      expect(sp.values.every(isFloat)).toBe(true);
    }
    if (colbert) for (const v of p.vector.colbert) expect(v.length === dims && v.every(isFloat)).toBe(true);
  }
  return points;
}

/**
 * Milvus (milvus.io docs: schema, DataType enum, sparse vectors): one primary field (INT64 or VARCHAR with
 * max_length ≤ 65,535), FLOAT_VECTOR with `dim`, SPARSE_FLOAT_VECTOR without `dim`; index metric IP for
 * both, SPARSE_INVERTED_INDEX for the sparse field; an entity has every schema field (no dynamic field);
 * sparse values as { "index": value } with indices in [0, 2^32 − 1) and values > 0 (float32).
 */
const MILVUS_TYPES = [
  'BOOL',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FLOAT',
  'DOUBLE',
  'VARCHAR',
  'ARRAY',
  'JSON',
  'BINARY_VECTOR',
  'FLOAT_VECTOR',
  'FLOAT16_VECTOR',
  'BFLOAT16_VECTOR',
  'SPARSE_FLOAT_VECTOR',
  'INT8_VECTOR',
];
function checkMilvus(dir: string, dims: number) {
  const s = JSON.parse(readFileSync(join(dir, 'schema.json'), 'utf8'));
  expect(s.enable_dynamic_field).toBe(false);
  expect(s.auto_id).toBe(false);
  const fields: any[] = s.fields;
  for (const f of fields) expect(MILVUS_TYPES).toContain(f.data_type);
  const primary = fields.filter((f) => f.is_primary);
  expect(primary.length).toBe(1);
  expect(['INT64', 'VARCHAR']).toContain(primary[0].data_type);
  for (const f of fields.filter((f) => f.data_type === 'VARCHAR')) expect(f.max_length > 0 && f.max_length <= 65535).toBe(true);
  expect(fields.find((f) => f.data_type === 'FLOAT_VECTOR')).toMatchObject({ name: 'dense', dim: dims });
  const sparseField = fields.find((f) => f.data_type === 'SPARSE_FLOAT_VECTOR');
  expect(sparseField.name).toBe('sparse');
  expect(sparseField.dim).toBeUndefined();
  expect(s.index_params).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ field_name: 'dense', metric_type: 'IP' }),
      { field_name: 'sparse', index_type: 'SPARSE_INVERTED_INDEX', metric_type: 'IP' },
    ]),
  );
  const rows = readJsonl(join(dir, 'rows.jsonl'));
  const names = fields.map((f) => f.name).sort();
  const enc = new TextEncoder();
  for (const r of rows) {
    expect(Object.keys(r).sort()).toEqual(names);
    expect(enc.encode(r.id).byteLength).toBeLessThanOrEqual(primary[0].max_length);
    expect(Number.isInteger(r.passage)).toBe(true);
    expect(typeof r.metadata === 'object' && r.metadata !== null && !Array.isArray(r.metadata)).toBe(true);
    expect(r.dense.length === dims && r.dense.every(isFloat)).toBe(true);
    for (const [k, v] of Object.entries<any>(r.sparse)) {
      expect(/^\d+$/.test(k) && Number(k) < 0xffffffff).toBe(true);
      expect(isFloat(v) && v > 0).toBe(true);
    }
  }
  return rows;
}

/**
 * Vespa (docs.vespa.ai: schema reference, tensor type spec, document JSON format): tensor<float>(t{}) for
 * lexical_rep, tensor<float>(x[dims]) for dense_rep, tensor<float>(t{}, x[dims]) for colbert_rep; a put is
 * { put: "id:<namespace>:<doctype>::<id>", fields }; a single-mapped-dimension tensor in short form is an
 * object label → number; an indexed tensor is an array of `dims` numbers; a mixed tensor with one mapped
 * dimension is an object label → array of `dims` numbers.
 */
function checkVespa(dir: string, dims: number, colbert: boolean) {
  const sd = readFileSync(join(dir, 'application/schemas/m3.sd'), 'utf8');
  expect(sd).toMatch(/^schema m3 \{/m);
  expect(sd).toMatch(/document m3 \{/);
  expect(sd).toContain('field lexical_rep type tensor<float>(t{})');
  expect(sd).toContain(`field dense_rep type tensor<float>(x[${dims}])`);
  expect(sd.includes(`field colbert_rep type tensor<float>(t{}, x[${dims}])`)).toBe(colbert);
  expect(sd).toMatch(/rank-profile m3 \{[\s\S]*first-phase \{\s*expression: /);
  // Braces balance (a truncated or mangled schema would not deploy).
  expect((sd.match(/\{/g) ?? []).length).toBe((sd.match(/\}/g) ?? []).length);
  const services = readFileSync(join(dir, 'application/services.xml'), 'utf8');
  expect(services).toMatch(/<document type="m3" mode="index" \/>/);
  const ops = readJsonl(join(dir, 'feed.jsonl'));
  const fieldNames = ['doc_id', 'passage', 'text', 'metadata', 'lexical_rep', 'dense_rep', ...(colbert ? ['colbert_rep'] : [])];
  for (const op of ops) {
    expect(Object.keys(op).sort()).toEqual(['fields', 'put']);
    expect(op.put).toMatch(/^id:m3:m3::.+/);
    for (const k of Object.keys(op.fields)) expect(fieldNames).toContain(k);
    const f = op.fields;
    expect(f.dense_rep.length === dims && f.dense_rep.every(isFloat)).toBe(true);
    if (f.lexical_rep) for (const [k, v] of Object.entries(f.lexical_rep)) expect(/^\d+$/.test(k) && isFloat(v)).toBe(true);
    if (f.metadata !== undefined) expect(typeof f.metadata).toBe('string');
    if (colbert) for (const v of Object.values<any>(f.colbert_rep)) expect(v.length === dims && v.every(isFloat)).toBe(true);
  }
  return ops;
}

describe('exported files follow each engine documented format', () => {
  it('qdrant, milvus, vespa — with and without ColBERT', async () => {
    for (const colbert of [true, false]) {
      const { store, idx } = await source(colbert);
      const n = idx.count();
      for (const engine of ENGINES) {
        const out = join(tmp, `fmt-${engine}-${colbert}`);
        await exportIndex(store, engine, out);
        const rows = engine === 'qdrant' ? checkQdrant(out, DIMS, colbert) : engine === 'milvus' ? checkMilvus(out, DIMS) : checkVespa(out, DIMS, colbert);
        expect(rows.length).toBe(n);
      }
    }
  });

  it('an empty index exports valid, empty files', async () => {
    // An index whose documents were all removed, and one cleared (a never-written index has no model
    // recorded, so there is nothing to describe: that is an error, tested below).
    const store = new MemoryStore();
    const idx = await M3Index.open('empty', { model, store });
    await idx.add(corpus(5, DIMS, 4));
    await idx.remove(['d0', 'd1', 'd2']);
    await idx.clear();
    await idx.add(corpus(2, DIMS, 4));
    await idx.remove(['d0', 'd1']);
    expect(idx.count()).toBe(0);
    for (const engine of ENGINES) {
      const out = join(tmp, `empty-${engine}`);
      const r = await exportIndex(store, engine, out);
      expect(r.points).toBe(0);
      const data = engine === 'qdrant' ? 'points.jsonl' : engine === 'milvus' ? 'rows.jsonl' : 'feed.jsonl';
      expect(statSync(join(out, data)).size).toBe(0);
      if (engine === 'qdrant') checkQdrant(out, DIMS, false);
      if (engine === 'milvus') checkMilvus(out, DIMS);
      if (engine === 'vespa') checkVespa(out, DIMS, false);
      expect((await readExport(out)).docs).toEqual([]);
    }
  });

  it('a FileStore index (what the CLI exports) and an index folder that is not there', async () => {
    const dir = join(tmp, 'fs-index');
    const idx = await M3Index.open('fs', { model, store: new FileStore(dir) });
    await idx.add(corpus(10, DIMS, 3));
    idx.close();
    const r = await exportIndex(new FileStore(dir), 'qdrant', join(tmp, 'fs-qdrant'));
    expect(r.points).toBe(10);
    await expect(exportIndex(new FileStore(join(tmp, 'nothing-here')), 'qdrant', join(tmp, 'x'))).rejects.toThrow(/nothing to export/);
  });
});

// ---------------------------------------------------------------- the guide's fusion settings, re-enacted

type Pt = { id: string; dense: number[]; sparse: Map<number, number>; colbert?: number[][] };
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
const sparseDot = (q: IndexDoc['embedding'], d: Map<number, number>) => {
  let s = 0;
  q!.sparse!.ids.forEach((id, i) => (s += q!.sparse!.weights[i] * (d.get(id) ?? 0)));
  return s;
};
/** Exact top-n by score (what a FLAT / exhaustive engine search returns), zero-score sparse hits dropped as engines do. */
function top(points: Pt[], score: (p: Pt) => number, n: number, positiveOnly = false): string[] {
  return points
    .map((p) => [p.id, score(p)] as const)
    .filter(([, s]) => !positiveOnly || s > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([id]) => id);
}

describe("the guide's engine settings reproduce m3-search's ranking (engine formulas re-enacted on the exported vectors)", () => {
  it('Qdrant RRF with k = 61 (0-based ranks) and Milvus RRFRanker(60) (1-based) = m3-search fusion rrf', async () => {
    const { store, idx } = await source(false);
    const out = join(tmp, 'sim-qdrant');
    await exportIndex(store, 'qdrant', out);
    const points: Pt[] = readJsonl(join(out, 'points.jsonl')).map((p) => ({
      id: p.payload.doc_id,
      dense: p.vector.dense,
      sparse: new Map<number, number>((p.vector.sparse?.indices ?? []).map((t: number, i: number) => [t, p.vector.sparse.values[i]])),
    }));
    const limit = 20;
    for (const q of queries) {
      const lists = [top(points, (p) => dot(q.embedding.dense!, p.dense), limit), top(points, (p) => sparseDot(q.embedding, p.sparse), limit, true)];
      const all = (k: number, base: number) => {
        const s = new Map<string, number>();
        for (const l of lists) l.forEach((id, r) => s.set(id, (s.get(id) ?? 0) + 1 / (k + r + base)));
        return s;
      };
      const fused = (k: number, base: number) => [...all(k, base)].sort((a, b) => b[1] - a[1]).slice(0, 10);
      const qdrant = fused(61, 0);
      const milvus = fused(60, 1);
      const m3 = await idx.search({ embedding: q.embedding }, { mode: 'hybrid', fusion: 'rrf', candidates: limit, k: 10, includeText: false });
      // RRF ties (a document at rank r of one list only, another at rank r of the other) may come in either
      // order; the fused scores, and each document's score, must agree.
      expect(qdrant.map((x) => x[1])).toEqual(milvus.map((x) => x[1]));
      m3.forEach((h, i) => {
        expect(h.score).toBeCloseTo(qdrant[i][1], 12);
        expect(all(61, 0).get(h.id)).toBeCloseTo(h.score, 12);
      });
    }
  });

  it('Vespa rank profile m3 over every document = m3-search fusion weighted (bm25 weight 0), with the same scores', async () => {
    const { store, idx } = await source(true);
    const out = join(tmp, 'sim-vespa');
    await exportIndex(store, 'vespa', out);
    const sd = readFileSync(join(out, 'application/schemas/m3.sd'), 'utf8');
    // The first-phase expression, evaluated as written in the schema.
    const expr = /first-phase \{\s*expression: (.+)\n/.exec(sd)![1];
    const m = /^\(([\d.]+) \* dense \+ ([\d.]+) \* lexical \+ ([\d.]+) \* max_sim\) \/ ([\d.]+)$/.exec(expr)!;
    expect(m).not.toBeNull();
    const [wd, wl, wc, wsum] = m.slice(1).map(Number);
    const ops = readJsonl(join(out, 'feed.jsonl'));
    const points: Pt[] = ops.map((o) => ({
      id: o.fields.doc_id,
      dense: o.fields.dense_rep,
      sparse: new Map(Object.entries<number>(o.fields.lexical_rep ?? {}).map(([k, v]) => [Number(k), v])),
      colbert: Object.values<number[]>(o.fields.colbert_rep ?? {}),
    }));
    for (const q of queries) {
      const qc = ids(q.embedding.colbert!.length / DIMS).map((i) => q.embedding.colbert!.subarray(i * DIMS, (i + 1) * DIMS));
      const maxSim = (p: Pt) => qc.reduce((s, v) => s + Math.max(...p.colbert!.map((d) => dot(v, d))), 0) / qc.length;
      const score = (p: Pt) => (wd * dot(q.embedding.dense!, p.dense) + wl * sparseDot(q.embedding, p.sparse) + wc * maxSim(p)) / wsum;
      const vespa = points
        .map((p) => ({ id: p.id, score: score(p) }))
        .sort((a, b) => b.score - a.score)
        .slice(0, 10);
      const m3 = await idx.search(
        { embedding: q.embedding },
        { mode: 'hybrid', fusion: 'weighted', weights: { bm25: 0 }, candidates: N, k: 10, includeText: false },
      );
      expect(m3.map((h) => h.id)).toEqual(vespa.map((h) => h.id));
      m3.forEach((h, i) => expect(Math.abs(h.score - vespa[i].score)).toBeLessThan(1e-3));
    }
  });

  it('floats are written as the shortest decimal that reads back as the same float32', () => {
    for (const x of [0.1, 1 / 3, -0.0123456789, 1e-8, 123456.789]) {
      const v = Math.fround(x);
      expect(Math.fround(f32(v))).toBe(v);
      expect(
        String(f32(v))
          .replace(/[-.]|e.*$/g, '')
          .replace(/^0+/, '').length,
      ).toBeLessThanOrEqual(9);
    }
  });
});
