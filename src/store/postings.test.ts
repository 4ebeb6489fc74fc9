/** Coded postings: lookups over the grouped dictionary, round trips with long gaps, and damage refused. */
import { describe, expect, it } from 'vitest';
import { SparseAccumulator } from '../search/sparse-scan.ts';
import { mulberry32 } from '../util/random.ts';
import {
  bm25ListBound,
  bm25PositionBytes,
  bm25PostingsProblem,
  decodeBm25Into,
  encodeBm25,
  forEachBm25Positions,
  forEachBm25Term,
  MAX_STORED_TF,
} from './bm25-postings.ts';
import { locateTerm } from './bm25-terms.ts';
import { ByteWriter } from './postings.ts';
import type { Bm25ArrayBlock, Bm25DictBlock, SparseBlock } from './types.ts';
import { encodeSparse, findSparseList, forEachSparseEntry, forEachSparseList, sparsePostingsProblem, SPARSE_GROUP } from './sparse-postings.ts';

/** tokens → sorted rows with weights, over `rows` rows; gaps up to ~rows (multi-byte varints). */
function randomLists(seed: number, nTokens: number, rows: number) {
  const r = mulberry32(seed);
  const tokens: number[] = [];
  let t = 0;
  for (let i = 0; i < nTokens; i++) tokens.push((t += 1 + Math.floor(r() * (i % 5 === 0 ? 300_000 : 40))));
  const lists = tokens.map(() => {
    const set = new Set<number>();
    const n = 1 + Math.floor(r() * 6);
    while (set.size < n) set.add(Math.floor(r() * rows));
    return [...set].sort((a, b) => a - b).map((row) => [row, 1 + Math.floor(r() * 255)] as [number, number]);
  });
  const offsets = [0];
  const flatRows: number[] = [];
  const weights: number[] = [];
  for (const l of lists) {
    for (const [row, w] of l) flatRows.push(row), weights.push(w);
    offsets.push(flatRows.length);
  }
  return { tokens, lists, block: encodeSparse(tokens, offsets, flatRows, weights, 0.5) };
}

/** A schema 6 block as schema 4/5 stored it: the terms as strings, uint32 run offsets, every df in its run. */
function arrayBlock(b: Bm25DictBlock): Bm25ArrayBlock {
  const terms: string[] = [];
  forEachBm25Term(b, (t) => terms.push(t));
  const offsets = new Uint32Array(terms.length + 1);
  const runs: number[] = [];
  for (let t = 0; t < terms.length; t++) {
    const { start, end, df1 } = locateTerm(b, t);
    if (df1) runs.push(1);
    runs.push(...b.postings.subarray(start, end));
    offsets[t + 1] = runs.length;
  }
  const out: Bm25ArrayBlock = { terms, offsets, postings: Uint8Array.from(runs), lengths: b.lengths };
  if (b.positions) out.positions = true;
  return out;
}

/** A schema 6 sparse block as schema 4/5 stored it: every token's byte length in its header. */
function withoutSingles(s: SparseBlock): SparseBlock {
  const w = new ByteWriter();
  const groupOffsets = new Uint32Array(s.groupOffsets.length);
  let t = 0;
  let prev = 0;
  forEachSparseList(s, (token, start, end) => {
    if (t % SPARSE_GROUP === 0) groupOffsets[t / SPARSE_GROUP] = w.length;
    w.varint(t % SPARSE_GROUP === 0 ? 0 : token - prev);
    w.varint(end - start);
    for (let i = start; i < end; i++) w.byte(s.postings[i]);
    prev = token;
    t++;
  });
  groupOffsets[groupOffsets.length - 1] = w.length;
  const { singles: _, ...rest } = s;
  return { ...rest, groupOffsets, postings: w.bytes() };
}

describe('sparse postings', () => {
  it.each(['schema 6', 'schema 4/5'])('%s: every token is found with its entries; ids between, below and above are not', (schema) => {
    const lists6 = randomLists(3, 5 * SPARSE_GROUP + 3, 70_000);
    const { tokens, lists } = lists6;
    const block = schema === 'schema 6' ? lists6.block : withoutSingles(lists6.block);
    expect(block.singles).toBe(schema === 'schema 6' ? true : undefined);
    if (!block.singles) expect(block.postings.length).toBeGreaterThan(lists6.block.postings.length);
    expect(block.groupTokens.length).toBe(6);
    expect(sparsePostingsProblem(block, 70_000)).toBeNull();
    const at = { pos: 0, end: 0 };
    tokens.forEach((t, i) => {
      expect(findSparseList(block, t, at)).toBe(true);
      const got: [number, number][] = [];
      forEachSparseEntry(block, at.pos, at.end, (row, q) => got.push([row, q]));
      expect(got).toEqual(lists[i]);
      if (!tokens.includes(t + 1)) expect(findSparseList(block, t + 1, at)).toBe(false);
    });
    expect(findSparseList(block, tokens[0] - 1, at)).toBe(false);
    expect(findSparseList(block, 2 ** 32 - 1, at)).toBe(false);
    const seen: number[] = [];
    forEachSparseList(block, (t) => seen.push(t));
    expect(seen).toEqual(tokens);
  });

  it('a row named twice for one token (its input repeated the token) keeps both entries, as schema 3 did', () => {
    const b = encodeSparse([7], [0, 4], [3, 3, 200, 200], [10, 20, 30, 40], 1);
    expect(sparsePostingsProblem(b, 201)).toBeNull();
    const at = { pos: 0, end: 0 };
    expect(findSparseList(b, 7, at)).toBe(true);
    const got: number[][] = [];
    forEachSparseEntry(b, at.pos, at.end, (row, q) => got.push([row, q]));
    expect(got).toEqual([
      [3, 10],
      [3, 20],
      [200, 30],
      [200, 40],
    ]);
    const acc = new SparseAccumulator();
    const touched = acc.run({ ids: Uint32Array.of(7), weights: Float32Array.of(0.5) }, [{ rowBase: 0, sparse: b }], 201);
    expect([...touched]).toEqual([3, 200]);
    expect(acc.score(3)).toBe(Math.fround(Math.fround(0.5 * 10) + 0.5 * 20));
    expect(() => encodeSparse([7], [0, 2], [5, 4], [1, 1], 1)).toThrow(/cannot be stored/);
  });

  it('refuses a row past the segment, a cut list, wrong counts and bytes that do not parse', () => {
    const { block } = randomLists(4, 40, 300);
    expect(sparsePostingsProblem(block, 300)).toBeNull();
    expect(sparsePostingsProblem(block, 10)).toMatch(/names row \d+ of 10/);
    expect(sparsePostingsProblem({ ...block, entries: block.entries + 1 }, 300)).toMatch(/entries/);
    expect(sparsePostingsProblem({ ...block, tokens: 3 }, 300)).toMatch(/tokens/);
    expect(sparsePostingsProblem({ ...block, postings: block.postings.slice(0, -1) }, 300)).toMatch(/sparse groups/);
    const junk = { ...block, postings: block.postings.map(() => 0xff) };
    expect(sparsePostingsProblem(junk, 300)).toMatch(/malformed|ascending/);
    const swapped = { ...block, groupTokens: block.groupTokens.slice().reverse() };
    expect(sparsePostingsProblem(swapped, 300)).toMatch(/ascending/);
  });
});

describe('BM25 postings', () => {
  it('round-trips documents and term frequencies (1 in the gap bit, others after), gaps of any size', () => {
    const docs = [0, 1, 200, 70_000, 2 ** 20, 5, 6, 7];
    const tfs = [1, 2, 1, 65_535, 3, 1, 1, 300];
    const b = encodeBm25(['a', 'b'], [0, 5, 8], docs, tfs, new Uint32Array(2 ** 20 + 1));
    expect(bm25PostingsProblem(b, 2 ** 20 + 1)).toBeNull();
    expect(bm25PostingsProblem(b, 70_001)).toMatch(/names document 1048576/);
    const d = new Uint32Array(32);
    const t = new Uint32Array(32);
    expect(decodeBm25Into(b, 0, d, t, 0)).toBe(5);
    expect(decodeBm25Into(b, 1, d, t, 5)).toBe(8);
    expect([...d.subarray(0, 8)]).toEqual(docs);
    expect([...t.subarray(0, 8)]).toEqual(tfs);
    const a = arrayBlock(b);
    expect(bm25PostingsProblem(a, 2 ** 20 + 1)).toBeNull();
    expect(
      bm25PostingsProblem({ ...a, postings: a.postings.slice(0, -1), offsets: Uint32Array.of(0, a.offsets[1], a.postings.length - 1) }, 2 ** 20 + 1),
    ).toMatch(/cut short/);
  });

  it("schema 5: round-trips each posting's positions (repeats, long gaps, a tf at the cap with more positions); walks skip the unwanted", () => {
    const docs = [0, 3, 900, 1, 2];
    const big = Array.from({ length: 70_000 }, (_, i) => i * 2);
    const positions = [[0, 0, 5], [7], [3, 200, 20_000], big, [1, 2]];
    const tfs = [3, 1, 3, MAX_STORED_TF, 2];
    const lengths = new Uint32Array(901).fill(30);
    lengths[900] = 20_001;
    lengths[1] = 140_000;
    const b = encodeBm25(['a', 'b'], [0, 3, 5], docs, tfs, lengths, positions);
    expect(b.positions).toBe(true);
    expect(bm25PostingsProblem(b, 901)).toBeNull();
    expect(bm25ListBound(b, 0)).toBe(3);
    const d = new Uint32Array(8);
    const t = new Uint32Array(8);
    expect(decodeBm25Into(b, 0, d, t, 0)).toBe(3);
    expect(decodeBm25Into(b, 1, d, t, 3)).toBe(5);
    expect([...d.subarray(0, 5)]).toEqual(docs);
    expect([...t.subarray(0, 5)]).toEqual(tfs);
    const got: [number, number[]][] = [];
    for (const term of [0, 1])
      forEachBm25Positions(
        b,
        term,
        (doc) => doc !== 3,
        (doc, pos, n) => got.push([doc, [...pos.subarray(0, n)]]),
      );
    expect(got).toEqual([
      [0, [0, 0, 5]],
      [900, [3, 200, 20_000]],
      [1, big],
      [2, [1, 2]],
    ]);
    expect(bm25PositionBytes(b)).toBeGreaterThan(70_000);
    expect(bm25PositionBytes(encodeBm25(['a'], [0, 1], [0], [1], lengths))).toBe(0);
  });

  it('schema 5: refuses positions that disagree with the tfs, run past the document, or are cut short', () => {
    const lengths = Uint32Array.of(4, 4);
    expect(() => encodeBm25(['a'], [0, 1], [0], [2], lengths, [[1]])).toThrow(/1 positions for tf 2/);
    expect(() => encodeBm25(['a'], [0, 1], [0], [2], lengths, [[3, 1]])).toThrow(/not ascending/);
    const b = arrayBlock(encodeBm25(['a', 'b'], [0, 1, 2], [0, 1], [2, 1], lengths, [[1, 3], [2]]));
    expect(bm25PostingsProblem(b, 2)).toBeNull();
    expect(bm25PostingsProblem({ ...b, lengths: Uint32Array.of(3, 4) }, 2)).toMatch(/run past document 0's 3 terms/);
    const cut = { ...b, postings: b.postings.slice(0, -1), offsets: Uint32Array.of(0, b.offsets[1], b.postings.length - 1) };
    expect(bm25PostingsProblem(cut, 2)).toMatch(/malformed or cut short/);
    const dfWrong = b.postings.slice();
    dfWrong[0] = 2; // says two postings where one is
    expect(bm25PostingsProblem({ ...b, postings: dfWrong }, 2)).not.toBeNull();
    const extra = { ...b, postings: Uint8Array.from([...b.postings, 0]), offsets: Uint32Array.of(0, b.offsets[1], b.postings.length + 1) };
    expect(bm25PostingsProblem(extra, 2)).toMatch(/malformed or cut short/);
    expect(bm25PostingsProblem({ ...b, positions: 1 as unknown as true }, 2)).toMatch(/positions must be true/);
    // Read without positions, the same bytes are refused rather than misread.
    expect(bm25PostingsProblem({ ...b, positions: undefined }, 2)).not.toBeNull();
  });
});
