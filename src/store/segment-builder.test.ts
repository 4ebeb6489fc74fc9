import { describe, expect, it } from 'vitest';
import { sortByToken } from './segment-builder.ts';

/** Indexes ordered by (token, index): what buildSparse needs (rows ascending within a token). */
function reference(tok: Uint32Array, e: number): number[] {
  return Array.from({ length: e }, (_, i) => i).sort((a, b) => tok[a] - tok[b] || a - b);
}

describe('sortByToken', () => {
  it('orders entries by token and keeps entry order within a token, for vocabulary ids (counting sort) and huge ids', () => {
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (const maxId of [1, 50, 250_002, 2 ** 20 - 1, 2 ** 20, 2 ** 32 - 1]) {
      const e = 3000;
      const tok = new Uint32Array(e + 5); // entries past e are ignored
      for (let i = 0; i < tok.length; i++) tok[i] = Math.min(maxId, Math.floor(rnd() * rnd() * (maxId + 1)));
      tok[e - 1] = maxId;
      expect(Array.from(sortByToken(tok, e))).toEqual(reference(tok, e));
    }
    expect(sortByToken(new Uint32Array(0), 0)).toEqual(new Uint32Array(0));
  });
});
