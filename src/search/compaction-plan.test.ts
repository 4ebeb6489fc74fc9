import { describe, expect, it } from 'vitest';
import { planCompaction, shouldCompact } from './compaction-plan.ts';

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
