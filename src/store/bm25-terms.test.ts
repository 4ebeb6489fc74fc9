/**
 * Schema 6's BM25 dictionary (bm25-terms.ts) through the block API (bm25-postings.ts): generated term sets
 * (any UTF-16, lone surrogates included) and postings round-trip, lookups and prefix walks agree with the
 * strings themselves, and damaged dictionaries are refused by the structure check, never misread.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mutated, RUNS } from '../../test/support/fuzz.ts';
import {
  bm25ListBound,
  bm25PostingsProblem,
  bm25TermCount,
  bm25TermIndex,
  decodeBm25Into,
  encodeBm25,
  forEachBm25Positions,
  forEachBm25Term,
  forEachBm25TermWithPrefix,
} from './bm25-postings.ts';
import { BM25_TERM_GROUP, termBytesInto, termString } from './bm25-terms.ts';
import type { Bm25DictBlock } from './types.ts';

const DOCS = 50;

/** Short strings over a small alphabet (so prefixes are shared) with accents, CJK, astral and lone surrogates. */
const unit = fc.constantFrom('a', 'b', 'ab', 'z', 'é', 'ß', '東', '京', '😀', '\ud800', '\udfff', '\uffff', '\u0000', '~');
const term = fc.array(unit, { minLength: 1, maxLength: 6 }).map((u) => u.join(''));

interface Case {
  terms: string[];
  postings: { doc: number; positions: number[] }[][];
}

const caseArb: fc.Arbitrary<Case> = fc.uniqueArray(term, { minLength: 0, maxLength: 3 * BM25_TERM_GROUP + 3, size: 'max' }).chain((set) => {
  const terms = [...set].sort();
  const list = fc
    .uniqueArray(fc.integer({ min: 0, max: DOCS - 1 }), { minLength: 1, maxLength: 6 })
    .chain((docs) =>
      fc.tuple(
        ...[...docs]
          .sort((x, y) => x - y)
          .map((doc) =>
            fc.uniqueArray(fc.integer({ min: 0, max: 199 }), { minLength: 1, maxLength: 4 }).map((p) => ({ doc, positions: [...p].sort((x, y) => x - y) })),
          ),
      ),
    );
  return fc.tuple(...terms.map(() => list)).map((postings) => ({ terms, postings }));
});

function encode(c: Case, positions: boolean): Bm25DictBlock {
  const offsets = [0];
  const docs: number[] = [];
  const tfs: number[] = [];
  const pos: number[][] = [];
  for (const list of c.postings) {
    for (const p of list) {
      docs.push(p.doc);
      tfs.push(p.positions.length);
      pos.push(p.positions);
    }
    offsets.push(docs.length);
  }
  return encodeBm25(c.terms, offsets, docs, tfs, new Uint32Array(DOCS).fill(200), positions ? pos : undefined);
}

describe('BM25 dictionary (schema 6)', () => {
  it('term bytes order terms as JavaScript orders the strings, and decode back to them', () => {
    const buf = new Uint8Array(64);
    const other = new Uint8Array(64);
    fc.assert(
      fc.property(term, term, (a, b) => {
        const n = termBytesInto(a, buf);
        const m = termBytesInto(b, other);
        expect(termString(buf, 0, n)).toBe(a);
        const byBytes = Math.sign(Buffer.compare(buf.subarray(0, n), other.subarray(0, m)));
        expect(byBytes).toBe(a < b ? -1 : a > b ? 1 : 0);
      }),
      { numRuns: RUNS },
    );
  });

  it('round-trips terms, postings and positions; lookups and prefix walks agree with the strings', () => {
    fc.assert(
      fc.property(caseArb, fc.boolean(), fc.array(term, { maxLength: 8 }), (c, withPositions, probes) => {
        const b = encode(c, withPositions);
        expect(bm25PostingsProblem(b, DOCS)).toBeNull();
        expect(bm25TermCount(b)).toBe(c.terms.length);
        const back: string[] = [];
        forEachBm25Term(b, (t, i) => {
          expect(i).toBe(back.length);
          back.push(t);
        });
        expect(back).toEqual(c.terms);
        // Out of order on purpose: the located-run memo must not leak between terms.
        for (let t = c.terms.length - 1; t >= 0; t--) {
          expect(bm25TermIndex(b, c.terms[t])).toBe(t);
          const d = new Uint32Array(bm25ListBound(b, t));
          const f = new Uint32Array(d.length);
          const n = decodeBm25Into(b, t, d, f, 0);
          expect([...d.subarray(0, n)]).toEqual(c.postings[t].map((p) => p.doc));
          expect([...f.subarray(0, n)]).toEqual(c.postings[t].map((p) => p.positions.length));
          if (!withPositions) continue;
          const got: number[][] = [];
          forEachBm25Positions(
            b,
            t,
            () => true,
            (_, p, k) => got.push([...p.subarray(0, k)]),
          );
          expect(got).toEqual(c.postings[t].map((p) => p.positions));
        }
        for (const probe of [...probes, '', ...c.terms.map((t) => t.slice(0, 1))]) {
          if (probe) expect(bm25TermIndex(b, probe)).toBe(c.terms.indexOf(probe));
          const found: [string, number][] = [];
          forEachBm25TermWithPrefix(b, probe, (t, i) => found.push([t, i]));
          expect(found).toEqual(c.terms.flatMap((t, i) => (t.startsWith(probe) ? [[t, i]] : [])));
        }
      }),
      { numRuns: RUNS / 10 },
    );
  });

  it('refuses damaged dictionaries and index entries by name; what passes the check reads without throwing', () => {
    // 40 terms (three groups) sharing prefixes, with accents and CJK.
    const terms = Array.from({ length: 40 }, (_, i) => `${['ab', 'abé', 'b', '東京'][i % 4]}${'xyz'.slice(0, i % 3)}${i}`).sort();
    const c: Case = { terms, postings: terms.map((_, i) => [{ doc: i % DOCS, positions: [i % 7, 9] }]) };
    const b = encode(c, true);
    expect(bm25PostingsProblem(b, DOCS)).toBeNull();
    expect(bm25PostingsProblem({ ...b, termCount: b.termCount - 1 }, DOCS)).toMatch(/index|past its/);
    expect(bm25PostingsProblem({ ...b, dictIndex: b.dictIndex.map((v, i) => (i === 2 ? v + 1 : v)) }, DOCS)).toMatch(/group 1/);
    expect(bm25PostingsProblem({ ...b, postings: b.postings.slice(0, -1) }, DOCS)).not.toBeNull();
    fc.assert(
      fc.property(mutated(b.dict), (dict) => {
        const m = { ...b, dict };
        const problem = bm25PostingsProblem(m, DOCS);
        if (problem !== null) {
          expect(problem).toMatch(/^BM25 /);
          return;
        }
        // Accepted: a well-formed dictionary, so reading it is safe and consistent.
        const terms: string[] = [];
        forEachBm25Term(m, (t) => terms.push(t));
        expect([...terms].sort()).toEqual(terms);
        expect(new Set(terms).size).toBe(terms.length);
        terms.forEach((t, i) => expect(bm25TermIndex(m, t)).toBe(i));
      }),
      { numRuns: RUNS / 2 },
    );
  });

  it('refuses to encode terms out of order or repeated', () => {
    const one = [{ doc: 0, positions: [0] }];
    expect(() => encode({ terms: ['b', 'a'], postings: [one, one] }, true)).toThrow(/not strictly ascending/);
    expect(() => encode({ terms: ['a', 'a'], postings: [one, one] }, false)).toThrow(/not strictly ascending/);
  });
});
