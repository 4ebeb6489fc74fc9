/** Fusion formulas on hand-made columns: each expected value written out from the formula, not from fuse(). */
import { describe, expect, it } from 'vitest';
import { FUSIONS, fuse, normalizeScore, RRF_K, type SignalColumn } from './fusion.ts';

const col = (name: SignalColumn['name'], weight: number, scores: number[], ranks: number[] = scores.map(() => 0)): SignalColumn => ({
  name,
  weight,
  scores,
  ranks,
});

describe('fusion', () => {
  it('normalizeScore: Milvus maps inner products by 0.5 + atan(s)/π and BM25 by 2·atan(s)/π', () => {
    for (const s of [-3, -0.5, 0, 0.25, 1, 7.5, 40]) {
      for (const sig of ['dense', 'sparse', 'colbert'] as const) expect(normalizeScore(sig, s)).toBe(0.5 + Math.atan(s) / Math.PI);
      expect(normalizeScore('bm25', s)).toBe((2 * Math.atan(s)) / Math.PI);
    }
    expect(normalizeScore('bm25', 0)).toBe(0);
    expect(normalizeScore('dense', 0)).toBe(0.5);
    expect(normalizeScore('bm25', 1)).toBeCloseTo(0.5, 15);
  });

  it('weighted: Σ w·s / Σ w on raw M3 scores, BM25 divided by the best BM25 among the candidates', () => {
    const cols = [col('dense', 0.4, [0.5, 0.25, -0.125]), col('sparse', 0.2, [0.1, 0, 0.3]), col('bm25', 0.3, [12, 3, 0])];
    const out = fuse('weighted', cols, 3);
    expect(out).toBeInstanceOf(Float64Array);
    const w = 0.4 + 0.2 + 0.3;
    expect(out[0]).toBeCloseTo((0.4 * 0.5 + 0.2 * 0.1 + 0.3 * (12 / 12)) / w, 15);
    expect(out[1]).toBeCloseTo((0.4 * 0.25 + 0.2 * 0 + 0.3 * (3 / 12)) / w, 15);
    expect(out[2]).toBeCloseTo((0.4 * -0.125 + 0.2 * 0.3 + 0) / w, 15);
    // Only BM25 is divided: the same numbers under another signal's name are used raw.
    const asSparse = fuse('weighted', [col('dense', 0.4, [0.5, 0.25, -0.125]), col('sparse', 0.3, [12, 3, 0])], 3);
    expect(asSparse[1]).toBeCloseTo((0.4 * 0.25 + 0.3 * 3) / 0.7, 15);
    // The best BM25 is looked up over the first n candidates only.
    const firstTwo = fuse('weighted', [col('bm25', 1, [2, 4, 100])], 2);
    expect(Array.from(firstTwo)).toEqual([0.5, 1]);
  });

  it('weighted: all-zero BM25 stays 0, weight 0 drops a signal exactly, no weight at all gives zeros', () => {
    expect(Array.from(fuse('weighted', [col('dense', 0.5, [0.2, 0.4]), col('bm25', 0.5, [0, 0])], 2))).toEqual([(0.2 * 0.5) / 1, (0.4 * 0.5) / 1]);
    const m3Only = fuse('weighted', [col('dense', 0.4, [0.3, 0.1]), col('colbert', 0.4, [0.6, 0.2]), col('bm25', 0, [50, 9])], 2);
    expect(m3Only[0]).toBe((0.4 * 0.3 + 0.4 * 0.6) / 0.8);
    expect(m3Only[1]).toBe((0.4 * 0.1 + 0.4 * 0.2) / 0.8);
    expect(Array.from(fuse('weighted', [col('dense', 0, [0.3, 0.1])], 2))).toEqual([0, 0]);
    // A signal weighted 0 is left out, not multiplied by 0: a score it cannot compute (NaN) does not leak in.
    expect(Array.from(fuse('weighted', [col('dense', 1, [0.3, 0.1]), col('colbert', 0, [NaN, Infinity])], 2))).toEqual([0.3, 0.1]);
    expect(Array.from(fuse('normalized', [col('dense', 1, [0, 0]), col('colbert', 0, [NaN, NaN])], 2))).toEqual([0.5, 0.5]);
    expect(Array.from(fuse('normalized', [], 2))).toEqual([0, 0]);
  });

  it('normalized: the Milvus mapping per signal, then the weighted mean', () => {
    const ip = (s: number) => 0.5 + Math.atan(s) / Math.PI;
    const bm = (s: number) => (2 * Math.atan(s)) / Math.PI;
    const out = fuse('normalized', [col('dense', 0.4, [0.5, -0.2]), col('colbert', 0.1, [0.7, 0.1]), col('bm25', 0.5, [12, 0.5])], 2);
    expect(out[0]).toBeCloseTo((0.4 * ip(0.5) + 0.1 * ip(0.7) + 0.5 * bm(12)) / 1, 15);
    expect(out[1]).toBeCloseTo((0.4 * ip(-0.2) + 0.1 * ip(0.1) + 0.5 * bm(0.5)) / 1, 15);
    // No division by the best BM25 here: the mapping already bounds it.
    const one = fuse('normalized', [col('bm25', 1, [1, 3])], 2);
    expect(one[0]).toBeCloseTo(0.5, 15);
    expect(one[1]).toBeCloseTo(bm(3), 15);
  });

  it('the fusion modes search() accepts', () => {
    expect(FUSIONS).toEqual(['weighted', 'rrf', 'normalized']);
  });

  it('rrf: Σ 1/(60 + rank) over the lists holding the document, weights ignored', () => {
    expect(RRF_K).toBe(60);
    const out = fuse('rrf', [col('dense', 0.9, [0.5, 0.4, 0.3], [1, 0, 3]), col('sparse', 0, [1, 2, 3], [2, 1, 0]), col('bm25', 0.1, [9, 9, 9], [0, 0, 0])], 3);
    expect(out[0]).toBe(1 / 61 + 1 / 62);
    expect(out[1]).toBe(1 / 61);
    expect(out[2]).toBe(1 / 63);
    expect(Array.from(fuse('rrf', [col('dense', 1, [1], [0])], 1))).toEqual([0]);
  });
});
