import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeTier, planCompaction, planMerges, shouldCompact } from './compaction-plan.ts';

const seg = (seq: number, keys: number[]) => ({ seq, keys: Uint32Array.from(keys) });

describe('compaction plan', () => {
  it('compacts from 64 tombstones up, and only past the threshold share of stored documents', () => {
    expect(shouldCompact(63, 0)).toBe(false);
    expect(shouldCompact(64, 100)).toBe(true); // 64 > 0.25 · 164
    expect(shouldCompact(64, 192)).toBe(false); // 64 = 0.25 · 256
    expect(shouldCompact(64, 191)).toBe(true);
    expect(shouldCompact(100, 100, 0.5)).toBe(false);
    expect(shouldCompact(100, 99, 0.5)).toBe(true);
  });

  it('keeps a lone clean segment, rewrites neighbours and segments with dead keys', () => {
    const a = seg(0, [0, 1, 2]);
    const b = seg(1, [3, 4]);
    const c = seg(2, [5, 6, 7]);
    // Everything fits one group: merged whole, even the clean ones.
    expect(planCompaction([a, b, c], new Set([4]))).toEqual({ keep: [], rewrite: [[a, b, c]] });
    // Groups of at most 3 live documents: a alone (clean, kept), b + c's live docs exceed 3 → separate groups.
    const p = planCompaction([a, b, c], new Set([4]), 3);
    expect(p.keep).toEqual([a, c]);
    expect(p.rewrite).toEqual([[b]]);
  });

  it('counts only live documents against the group size, in the given (key) order', () => {
    const a = seg(5, [0, 1, 2, 3]);
    const b = seg(2, [4, 5, 6, 7]);
    const dead = new Set([0, 1, 2, 4, 5, 6]);
    // 1 + 1 live documents fit a group of 2: both rewritten together.
    expect(planCompaction([a, b], dead, 2)).toEqual({ keep: [], rewrite: [[a, b]] });
    expect(planCompaction([], dead)).toEqual({ keep: [], rewrite: [] });
  });
});

describe('tiered merge policy', () => {
  it('merges F neighbours of one tier into the next tier, cheapest first, never a big segment for a small one', () => {
    expect(mergeTier(0)).toBe(0);
    expect(mergeTier(9)).toBe(0);
    expect(mergeTier(10)).toBe(1);
    expect(mergeTier(999)).toBe(2);
    expect(mergeTier(1000)).toBe(3);
    expect(planMerges(Array(10).fill(1000))).toEqual([[0, 10]]);
    expect(planMerges(Array(9).fill(1000))).toEqual([]);
    // A big segment stays; the ten small ones behind it merge.
    expect(planMerges([10000, ...Array(10).fill(1000)])).toEqual([[1, 11]]);
    expect(planMerges([10000, 5])).toEqual([]);
    // Cascades: 100 single documents become one of 100 (each rewritten once in this call).
    expect(planMerges(Array(100).fill(1))).toEqual([[0, 100]]);
    // The output may not pass maxDocs: two tier-3 segments of 9,000 stay apart under 16,384.
    expect(planMerges([9000, 9000])).toEqual([]);
    expect(planMerges([9000, 9000], { maxDocs: 20000 })).toEqual([[0, 2]]);
    expect(planMerges([1, 1, 1], { fanIn: 2 })).toEqual([[0, 2]]);
    expect(() => planMerges([1], { fanIn: 1 })).toThrow(/fanIn/);
    expect(() => planMerges([1], { maxDocs: 0 })).toThrow(/maxDocs/);
  });

  it('bounds rewrites per document, loses none, keeps order and leaves nothing mergeable (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 600 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 20, max: 5000 }),
        (adds, batch, fanIn, maxDocs) => {
          const policy = { fanIn, maxDocs };
          // Segments as runs [first, end) of document numbers; rewrites per document.
          let segs: [number, number][] = [];
          const rewrites: number[] = [];
          const size = (s: [number, number]) => s[1] - s[0];
          for (const n of adds) {
            for (let at = 0; at < n; at += batch) {
              const m = Math.min(batch, n - at);
              segs.push([rewrites.length, rewrites.length + m]);
              for (let i = 0; i < m; i++) rewrites.push(0);
            }
            let last = 0;
            const next: [number, number][] = [];
            for (const [a, b] of planMerges(segs.map(size), policy)) {
              expect(a).toBeGreaterThanOrEqual(last);
              expect(b - a).toBeGreaterThan(1);
              next.push(...segs.slice(last, a));
              const run = segs.slice(a, b);
              for (let i = 1; i < run.length; i++) expect(run[i][0]).toBe(run[i - 1][1]); // neighbours only
              const merged: [number, number] = [run[0][0], run[run.length - 1][1]];
              expect(size(merged)).toBeLessThanOrEqual(maxDocs);
              expect(mergeTier(size(merged), fanIn)).toBeGreaterThan(Math.max(...run.map((s) => mergeTier(size(s), fanIn))));
              for (let d = merged[0]; d < merged[1]; d++) rewrites[d]++;
              next.push(merged);
              last = b;
            }
            segs = [...next, ...segs.slice(last)];
            expect(planMerges(segs.map(size), policy)).toEqual([]);
          }
          // Every document once, in order.
          segs.forEach((s, i) => expect(s[0]).toBe(i ? segs[i - 1][1] : 0));
          expect(segs[segs.length - 1][1]).toBe(rewrites.length);
          const bound = mergeTier(maxDocs, fanIn) + 1;
          expect(Math.max(...rewrites)).toBeLessThanOrEqual(bound);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never merges a segment of unbounded size (schema 4 BM25 without positions), and still merges around it', () => {
    expect(mergeTier(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
    const sizes = [...Array(10).fill(1000), Number.POSITIVE_INFINITY, ...Array(10).fill(1000)];
    expect(planMerges(sizes)).toEqual([
      [0, 10],
      [11, 21],
    ]);
  });

  it('leaves few segments: 100 batches of 1,000 become 10 of 10,000; 10,000 single adds become 1', () => {
    let sizes: number[] = [];
    const add = (n: number) => {
      sizes.push(n);
      for (const [a, b] of planMerges(sizes).reverse())
        sizes.splice(
          a,
          b - a,
          sizes.slice(a, b).reduce((x, y) => x + y, 0),
        );
    };
    for (let i = 0; i < 100; i++) add(1000);
    expect(sizes).toEqual(Array(10).fill(10000));
    sizes = [];
    for (let i = 0; i < 10000; i++) add(1);
    expect(sizes).toEqual([10000]);
  });
});
