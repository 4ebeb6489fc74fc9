/**
 * The three verification limits, each on its own: a candidate that breaks exactly one of them fails with that
 * limit named, and one just inside every limit passes.
 */
import { describe, expect, it } from 'vitest';
import { compareProbe, MIN_COSINE, type ProbeAnswer } from './verify.ts';
import type { M3Embedding } from './types.ts';

/** A unit vector in 8 dimensions whose cosine with e0 is exactly `cos`. */
const atCosine = (cos: number) => [cos, Math.sqrt(1 - cos * cos), 0, 0, 0, 0, 0, 0];
const E0 = atCosine(1);

function embedding(dense: number[], sparse: [number, number][]): M3Embedding {
  const sorted = [...sparse].sort((a, b) => a[0] - b[0]);
  return {
    dense: Float32Array.from(dense),
    sparse: { ids: Uint32Array.from(sorted.map((s) => s[0])), weights: Float32Array.from(sorted.map((s) => s[1])) },
    tokens: 8,
    truncated: false,
  };
}

// Reference top tokens, strongest first: 10 > 11 > 12 > 13 > 14.
const REF_SPARSE: [number, number][] = [
  [10, 0.9],
  [11, 0.8],
  [12, 0.7],
  [13, 0.6],
  [14, 0.5],
  [15, 0.1],
];
const reference: ProbeAnswer[] = [{ dense: E0, topTokens: [10, 11, 12, 13, 14] }];

describe('compareProbe', () => {
  it('passes a candidate inside every limit (cosine just above 0.99, ranks 5 and 6 swapped)', () => {
    const swapped: [number, number][] = [
      [10, 0.9],
      [11, 0.8],
      [12, 0.7],
      [13, 0.6],
      [14, 0.05],
      [15, 0.1],
    ];
    const v = compareProbe([embedding(atCosine(0.9901), swapped)], reference, 'wasm');
    expect(v.ok).toBe(true);
    expect(v.minCosine).toBeCloseTo(0.9901, 4);
  });

  it('fails on NaN (or Infinity) in the dense vector or the sparse weights', () => {
    const nanDense = compareProbe([embedding([Number.NaN, ...E0.slice(1)], REF_SPARSE)], reference, 'wasm');
    expect(nanDense.ok).toBe(false);
    expect(nanDense.reason).toMatch(/probe 0: output has NaN or Infinity/);
    const infSparse = compareProbe([embedding(E0, [[10, Number.POSITIVE_INFINITY], ...REF_SPARSE.slice(1)])], reference, 'known-answers');
    expect(infSparse.ok).toBe(false);
    expect(infSparse.reason).toMatch(/NaN or Infinity/);
  });

  it(`fails below cosine ${MIN_COSINE}, with the cosine in the reason`, () => {
    const v = compareProbe([embedding(atCosine(0.9899), REF_SPARSE)], reference, 'wasm');
    expect(v.ok).toBe(false);
    expect(v.reason).toMatch(/probe 0: dense cosine 0\.9899 < 0\.99 against wasm/);
    expect(v.minCosine).toBeCloseTo(0.9899, 4);
  });

  it('fails when the strongest token is missing or two of the top 5 differ', () => {
    // Same dense vector, the reference's strongest token demoted out of the top 5.
    const lostTop: [number, number][] = [
      [10, 0.01],
      [11, 0.8],
      [12, 0.7],
      [13, 0.6],
      [14, 0.5],
      [15, 0.4],
    ];
    const a = compareProbe([embedding(E0, lostTop)], reference, 'wasm');
    expect(a.ok).toBe(false);
    expect(a.reason).toMatch(/probe 0: top tokens \[11,12,13,14,15\] differ from \[10,11,12,13,14\]/);
    // Strongest token kept, but two others replaced: only 3 of 5 shared.
    const twoNew: [number, number][] = [
      [10, 0.9],
      [11, 0.8],
      [12, 0.7],
      [20, 0.65],
      [21, 0.64],
    ];
    const b = compareProbe([embedding(E0, twoNew)], reference, 'wasm');
    expect(b.ok).toBe(false);
    expect(b.reason).toMatch(/top tokens/);
  });

  it('reports the first failing probe text', () => {
    const refs: ProbeAnswer[] = [reference[0], reference[0]];
    const v = compareProbe([embedding(E0, REF_SPARSE), embedding(atCosine(0.5), REF_SPARSE)], refs, 'wasm');
    expect(v.reason).toMatch(/^probe 1: dense cosine 0\.5000/);
  });
});
