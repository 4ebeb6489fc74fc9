/** The pruned sparse top-N against the exhaustive scan (SparseAccumulator + TopK): same keys, same scores, ties included. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TopK } from '../rank/topk.ts';
import { mulberry32 } from '../util/random.ts';
import { encodeSparse } from '../store/sparse-postings.ts';
import { SparseAccumulator } from './sparse-scan.ts';
import { SparseTop, type SparseTopSegment } from './sparse-top.ts';

/** One segment: per row, its (token, uint8 weight) entries; a token may repeat in a row (a list naming the row twice). */
type Rows = [number, number][][];

function segmentsOf(segRows: Rows[], scales: number[]): SparseTopSegment[] {
  let rowBase = 0;
  return segRows.map((rows, s) => {
    const entries = rows.flatMap((es, row) => es.map(([token, w]) => ({ token, row, w })));
    entries.sort((a, b) => a.token - b.token || a.row - b.row); // stable: a repeated row keeps its input order
    const tokens = [...new Set(entries.map((e) => e.token))];
    const offsets = [0];
    for (const t of tokens) offsets.push(offsets[offsets.length - 1] + entries.filter((e) => e.token === t).length);
    const sparse = encodeSparse(
      tokens,
      offsets,
      entries.map((e) => e.row),
      entries.map((e) => e.w),
      scales[s],
    );
    const seg = { rowBase, rows: rows.length, sparse };
    rowBase += rows.length;
    return seg;
  });
}

/** What the ranker's exhaustive path returns: every touched, accepted row with a score > 0, top N by score then key. */
function exhaustive(
  acc: SparseAccumulator,
  q: { ids: Uint32Array; weights: Float32Array },
  segs: SparseTopSegment[],
  N: number,
  rowKey: Uint32Array,
  accept: (k: number) => boolean,
) {
  const total = segs.reduce((n, s) => n + s.rows, 0);
  const touched = acc.run(q, segs, total);
  const top = new TopK(N);
  for (const row of touched) if (acc.score(row) > 0 && accept(rowKey[row])) top.push(rowKey[row], acc.score(row));
  const res = top.results();
  return { keys: res.map((r) => r.key), scores: res.map((r) => r.score) };
}

describe('SparseTop', () => {
  it('returns the exhaustive top-N and exact scores for the keys it must score, over many queries on the same segments', () => {
    fc.assert(
      fc.property(
        fc.record({
          // Few tokens and weights, equal scales: frequent tokens (cached columns), many tied scores.
          tokens: fc.integer({ min: 1, max: 12 }),
          weights: fc.constantFrom([0, 1, 2, 255], [1, 2, 3], [0, 7, 100, 200, 255]),
          segments: fc.integer({ min: 1, max: 4 }),
          seed: fc.integer(),
          equalScales: fc.boolean(),
          repeats: fc.boolean(),
        }),
        fc.infiniteStream(fc.tuple(fc.integer({ min: 1, max: 25 }), fc.integer({ min: 0, max: 2 ** 31 }))),
        (p, queries) => {
          const r = mulberry32(p.seed);
          const segRows: Rows[] = Array.from({ length: p.segments }, () =>
            Array.from({ length: 1 + Math.floor(r() * 60) }, () => {
              const n = Math.floor(r() * 6);
              const es = new Map<number, number>();
              for (let i = 0; i < n; i++) es.set(Math.floor(r() * p.tokens), p.weights[Math.floor(r() * p.weights.length)]);
              const out = [...es];
              if (p.repeats && out.length && r() < 0.05) out.push([out[0][0], p.weights[Math.floor(r() * p.weights.length)]]);
              return out;
            }),
          );
          const scales = segRows.map(() => (p.equalScales ? 0.4 / 255 : (0.1 + r()) / 255));
          const segs = segmentsOf(segRows, scales);
          const total = segs.reduce((n, s) => n + s.rows, 0);
          const rowKey = Uint32Array.from({ length: total }, (_, i) => (i * 7919) % 100_003); // distinct, not ascending
          const top = new SparseTop();
          const acc = new SparseAccumulator();
          const it = queries[Symbol.iterator]();
          for (let n = 0; n < 6; n++) {
            const [N, qs] = it.next().value!;
            const qr = mulberry32(qs);
            const len = Math.floor(qr() * 6);
            const ids = Uint32Array.from({ length: len }, () => Math.floor(qr() * (p.tokens + 2))); // repeats and unknown tokens
            const qw = [0, -0.1, Number.NaN, 0.05, 0.1, 0.2, 0.3];
            const weights = Float32Array.from(ids, () => (qr() < 0.2 ? qw[Math.floor(qr() * 3)] : qw[3 + Math.floor(qr() * 4)]));
            const q = { ids, weights };
            const rejected = new Set(Array.from({ length: Math.floor(qr() * 4) }, () => rowKey[Math.floor(qr() * total)]));
            const accept = (k: number) => !rejected.has(k);
            const must = Uint32Array.from({ length: Math.floor(qr() * 5) }, () => Math.floor(qr() * total)).sort();
            const got = top.run(q, segs, N, rowKey, accept, { rows: must });
            const want = exhaustive(acc, q, segs, N, rowKey, accept);
            expect(got.keys).toEqual(want.keys);
            expect(got.scores).toEqual(want.scores);
            expect(Array.from(got.mustScores)).toEqual(Array.from(must, (row) => acc.score(row)));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('prunes: once the N-th score is known, rows that only a light frequent token matches are not scored exactly', () => {
    // Every row holds token 0 at weight 1; every 10th row also token 1 at 255. A first segment of 50 rows fills
    // the top 5 with token-1 rows; in the second (400 rows) token 0 alone can no longer reach them.
    const rows = (n: number): Rows =>
      Array.from({ length: n }, (_, i) =>
        i % 10 === 0
          ? [
              [0, 1],
              [1, 255],
            ]
          : [[0, 1]],
      );
    const segs = segmentsOf([rows(50), rows(400)], [1 / 255, 1 / 255]);
    const rowKey = Uint32Array.from({ length: 450 }, (_, i) => i);
    const top = new SparseTop();
    const got = top.run({ ids: Uint32Array.of(0, 1), weights: Float32Array.of(0.1, 0.5) }, segs, 5, rowKey, () => true);
    expect(got.keys).toEqual([0, 10, 20, 30, 40]);
    expect(top.scored).toBeLessThanOrEqual(50 + 40); // the exhaustive scan scores all 450
    expect(got.scores[0]).toBe(Math.fround(Math.fround(0.1 * (1 / 255) * 1) + 0.5 * (1 / 255) * 255));
  });
});
