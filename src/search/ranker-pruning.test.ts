/** Searches with the pruned sparse and BM25 top-N (sparse-top.ts, bm25-top.ts) answer exactly as with the exhaustive scan, in every mode that uses it. */
import { describe, expect, it } from 'vitest';
import { corpus, gaussianUnit, randomSparse } from '../../test/support/test-corpus.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { mulberry32 } from '../util/random.ts';
import { M3Index } from './m3-index.ts';
import type { SearchOptions } from './types.ts';

const DIMS = 16;

/** The open index's ranker (internal): its pruning is flipped per search. */
const rankerOf = (idx: M3Index) => (idx as unknown as { state: { ranker: { pruning: boolean } } }).state.ranker;

describe('Ranker pruning', () => {
  it('gives the same hits, scores and signals as the exhaustive scan: sparse, BM25 and hybrid, every fusion, filters, Boolean queries, dead documents', async () => {
    // Few frequent tokens (vocab 60) and coarse query weights: many shared tokens and tied scores.
    const docs = corpus(1200, DIMS, 5, { pairs: 12 }).map((d, i) => ({
      ...d,
      embedding: { ...d.embedding!, sparse: randomSparse(mulberry32(1000 + i), 1 + (i % 12), 60) },
    }));
    const idx = await M3Index.open('p', { store: new MemoryStore(), model: { modelId: 'test', dims: DIMS } });
    await idx.add(docs, { batchSize: 200 }); // 6 segments
    await idx.remove(['d3', 'd400', 'd999']);
    await idx.upsert([docs[10]]); // replaced: its old row stays, dead
    const r = mulberry32(77);
    const variants: SearchOptions[] = [
      { mode: 'sparse', k: 10 },
      { mode: 'sparse', k: 1 },
      { mode: 'sparse', k: 300 },
      { mode: 'hybrid', k: 10 },
      { mode: 'hybrid', k: 10, candidates: 5 },
      { mode: 'hybrid', k: 20, fusion: 'rrf' },
      { mode: 'hybrid', k: 10, fusion: 'normalized', weights: { bm25: 0 } },
      { mode: 'sparse', k: 10, filter: { group: 'a' } },
      { mode: 'bm25', k: 10 },
      { mode: 'bm25', k: 2 },
      { mode: 'bm25', k: 5, filter: { group: 'a' } },
      { mode: 'hybrid', k: 10, filter: { group: 'b' } },
    ];
    let compared = 0;
    for (let qn = 0; qn < 12; qn++) {
      const target = docs[Math.floor(r() * docs.length)].embedding!;
      const dense = gaussianUnit(r, DIMS).map((x, i) => 0.6 * target.dense![i] + 0.4 * x);
      const sparse = randomSparse(r, 1 + (qn % 8), 60);
      sparse.weights.forEach((w, i) => (sparse.weights[i] = Math.round(w * 10) / 10 || 0.1)); // ties
      const text = qn % 3 === 0 ? '+alpha beta' : ['beta gamma delta', 'alpha alpha zeta omega', 'pi rho'][qn % 3];
      for (const opts of variants) {
        const answers: string[] = [];
        for (const pruning of [false, true]) {
          rankerOf(idx).pruning = pruning;
          answers.push(JSON.stringify(await idx.search({ text, embedding: { dense, sparse, tokens: 4, truncated: false } }, { ...opts, includeText: false })));
        }
        expect(answers[1]).toBe(answers[0]);
        if (answers[0] !== '[]') compared++;
      }
    }
    expect(compared).toBeGreaterThan(120);
    idx.close();
  });
});
