import { describe, expect, it } from 'vitest';
import { TopK } from './topk.ts';

function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

const bySort = (items: { key: number; score: number }[], k: number) => [...items].sort((a, b) => b.score - a.score || a.key - b.key).slice(0, k);

describe('TopK', () => {
  it('matches a full sort on random data, with many ties', () => {
    const r = rng(1);
    for (let trial = 0; trial < 200; trial++) {
      const n = Math.floor(r() * 300);
      const k = Math.floor(r() * 40);
      // Coarse scores force ties, which must break by key ascending.
      const items = Array.from({ length: n }, () => ({ key: Math.floor(r() * 1000), score: Math.floor(r() * 20) / 4 - 1 }));
      const top = new TopK(k);
      for (const it of items) top.push(it.key, it.score);
      expect(top.results()).toEqual(bySort(items, k));
      expect(top.size).toBe(Math.min(k, n));
    }
  });

  it('is independent of push order', () => {
    const items = [5, 3, 9, 1, 7].map((key) => ({ key, score: 1 }));
    const a = new TopK(3);
    const b = new TopK(3);
    for (const it of items) a.push(it.key, it.score);
    for (const it of [...items].reverse()) b.push(it.key, it.score);
    expect(a.results()).toEqual(b.results());
    expect(a.results().map((x) => x.key)).toEqual([1, 3, 5]);
  });

  it('reports threshold/accepts consistently with push', () => {
    const t = new TopK(2);
    expect(t.threshold).toBe(-Infinity);
    t.push(1, 5);
    t.push(2, 3);
    expect(t.threshold).toBe(3);
    expect(t.accepts(9, 3)).toBe(false); // same score, higher key than the worst kept (2)
    expect(t.accepts(0, 3)).toBe(true);
    expect(t.accepts(9, 4)).toBe(true);
    t.push(0, 3);
    expect(t.results()).toEqual([
      { key: 1, score: 5 },
      { key: 0, score: 3 },
    ]);
  });

  it('handles k = 0, NaN, infinities, and clear()', () => {
    const z = new TopK(0);
    z.push(1, 1);
    expect(z.results()).toEqual([]);
    const t = new TopK(3);
    t.push(1, NaN);
    t.push(2, -Infinity);
    t.push(3, Infinity);
    t.push(4, 0);
    expect(t.results()).toEqual([
      { key: 3, score: Infinity },
      { key: 4, score: 0 },
      { key: 2, score: -Infinity },
    ]);
    t.clear();
    expect(t.results()).toEqual([]);
    expect(() => new TopK(-1)).toThrow(RangeError);
    expect(() => new TopK(1.5)).toThrow(RangeError);
  });
});
