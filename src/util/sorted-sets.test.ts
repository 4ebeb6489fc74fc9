import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { intersectSorted, subtractSorted, unionSorted } from './sorted-sets.ts';

const sortedList = (max: number) => fc.uniqueArray(fc.integer({ min: 0, max }), { maxLength: 60 }).map((a) => Uint32Array.from(a.sort((x, y) => x - y)));
const lists = (max: number) => fc.array(sortedList(max), { maxLength: 8 });
const refUnion = (ls: Uint32Array[]) => [...new Set(ls.flatMap((l) => [...l]))].sort((a, b) => a - b);

describe('sorted key sets', () => {
  it('union equals the set union, ascending, for dense keys (bitmap) and sparse keys up to 2^32 − 1 (sort)', () => {
    for (const max of [200, 0xffffffff]) {
      fc.assert(
        fc.property(lists(max), (ls) => {
          expect(Array.from(unionSorted(ls))).toEqual(refUnion(ls));
        }),
      );
    }
  });

  it('union of many dense lists keeps the keys next to 32-bit word edges (bit 31, key 2^31)', () => {
    const ls = [Uint32Array.of(0, 31, 32, 63), Uint32Array.of(31, 64), Uint32Array.of(2 ** 31 - 1, 2 ** 31, 2 ** 31 + 31)];
    expect(Array.from(unionSorted(ls))).toEqual(refUnion(ls));
    const dense = Array.from({ length: 5 }, (_, j) => Uint32Array.from({ length: 100 }, (_, i) => 2 ** 31 + i * 5 + j));
    expect(Array.from(unionSorted(dense))).toEqual(refUnion(dense));
  });

  it('intersection and difference equal the set operations', () => {
    fc.assert(
      fc.property(lists(100), sortedList(100), (ls, b) => {
        const inter = ls.length === 0 ? [] : refUnion(ls).filter((x) => ls.every((l) => l.includes(x)));
        expect(Array.from(intersectSorted(ls))).toEqual(inter);
        const a = Uint32Array.from(refUnion(ls));
        expect(Array.from(subtractSorted(a, b))).toEqual([...a].filter((x) => !b.includes(x)));
      }),
    );
  });
});
