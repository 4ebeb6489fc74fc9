/** The pruned BM25 top-k (bm25-top.ts, SegmentBm25's default) against SegmentBm25's exhaustive scan: same hits, same scores, ties included. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BM25_PARAMS } from '../rank/bm25.ts';
import { mulberry32 } from '../util/random.ts';
import { SegmentBm25 } from './segment-bm25.ts';
import { plainBm25Block as plainBlock } from '../../test/support/bm25-plain-block.ts';

describe('bm25TopPruned', () => {
  it('returns the exhaustive top-k over keys spread across blocks, with weighted and repeated terms and filters', () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer(),
          docs: fc.integer({ min: 1, max: 400 }),
          vocab: fc.integer({ min: 1, max: 12 }),
          // Keys far apart cross the 4,096-key blocks; equal lengths and tfs give tied scores.
          stride: fc.constantFrom(1, 37, 4096, 9001),
          sameLength: fc.boolean(),
        }),
        fc.array(
          fc.record({
            terms: fc.array(fc.tuple(fc.integer({ min: 0, max: 13 }), fc.constantFrom(1, 2, 0.5)), { maxLength: 6 }),
            k: fc.integer({ min: 1, max: 40 }),
            filtered: fc.boolean(),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        (p, queries) => {
          const r = mulberry32(p.seed);
          const docs = Array.from({ length: p.docs }, (_, i) => {
            const terms = new Map<string, number>();
            for (let j = Math.floor(r() * 5); j >= 0; j--) {
              const t = `t${Math.floor(p.vocab * r() * r())}`;
              terms.set(t, (terms.get(t) ?? 0) + 1 + (p.sameLength ? 0 : Math.floor(r() * 2)));
            }
            return { key: 5 + i * p.stride, terms: [...terms], length: p.sameLength ? 6 : 1 + Math.floor(r() * 30) };
          });
          const bm25 = new SegmentBm25(DEFAULT_BM25_PARAMS);
          const half = docs.length >> 1;
          bm25.addBlocks([plainBlock(docs.slice(0, half)), plainBlock(docs.slice(half))]);
          for (const q of queries) {
            const terms = q.terms.map(([t, weight]) => ({ term: `t${t}`, weight }));
            const opts = q.filtered ? { filter: (key: number) => key % 3 !== 0 } : undefined;
            expect(bm25.search(terms, q.k, opts)).toEqual(bm25.search(terms, q.k, opts, true));
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
