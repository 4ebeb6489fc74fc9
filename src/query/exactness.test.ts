/**
 * Exactness of the query syntax: in bm25 mode with k ≥ the number of matches, a search returns exactly the
 * documents a brute-force reference says satisfy the query, over Cranfield and a multilingual corpus (CJK
 * included), on generated queries. The reference reads each document's analyzed tokens directly: no term
 * dictionary, postings, intersections or phrase candidates; prefixes by startsWith, typos by a full DP.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCranfield } from '../eval/cranfield.ts';
import { analyze, analyzeTerms } from '../rank/analyzer.ts';
import { M3Index } from '../search/m3-index.ts';
import { MemoryStore } from '../store/memory-store.ts';
import { bm25ListBound, decodeBm25Into, encodeBm25, forEachBm25Term } from '../store/bm25-postings.ts';
import type { Bm25Block } from '../store/types.ts';
import { gaussianUnit } from '../../test/support/test-corpus.ts';
import { mulberry32 } from '../util/random.ts';
import { formatQuery, isPlain, type NormalQuery } from './parse.ts';
import type { NormalClause } from './types.ts';

const DIMS = 8;
const ANALYZER = {}; // what M3Index uses

// ------------------------------------------------------------------ reference

type Pos = string[]; // the terms starting at one offset

function refPositions(text: string, opts = ANALYZER): Pos[] {
  const byStart = new Map<number, string[]>();
  for (const t of analyze(text, opts)) {
    const l = byStart.get(t.start) ?? [];
    if (!l.includes(t.term)) l.push(t.term);
    byStart.set(t.start, l);
  }
  return [...byStart.keys()].sort((a, b) => a - b).map((s) => byStart.get(s)!);
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

/** Per clause position: does a document term match it? (memoised per term: documents repeat words) */
function matchers(c: NormalClause): ((docTerm: string) => boolean)[] {
  return rawMatchers(c).map((f) => {
    const memo = new Map<string, boolean>();
    return (t: string) => {
      let v = memo.get(t);
      if (v === undefined) memo.set(t, (v = f(t)));
      return v;
    };
  });
}

function rawMatchers(c: NormalClause): ((docTerm: string) => boolean)[] {
  if (c.kind === 'prefix') {
    const pos = refPositions(c.text, { stem: false, stopWords: false });
    return pos.map((alts, i) =>
      i < pos.length - 1 ? (t: string) => alts.flatMap((a) => analyzeTerms(a, ANALYZER)).includes(t) : (t: string) => alts.some((a) => t.startsWith(a)),
    );
  }
  const pos = refPositions(c.text);
  if (c.kind === 'fuzzy')
    return pos.map((alts) => (t: string) => alts.some((a) => Math.abs(a.length - t.length) <= c.distance! && editDistance(a, t) <= c.distance!));
  return pos.map((alts) => (t: string) => alts.includes(t));
}

function refSatisfies(doc: Pos[], m: ((t: string) => boolean)[]): boolean {
  for (let i = 0; i + m.length <= doc.length; i++) if (m.every((f, j) => doc[i + j].some(f))) return true;
  return false;
}

function reference(docs: Pos[][], q: NormalQuery): Set<number> {
  const out = new Set<number>();
  if (isPlain(q)) {
    // A bag of words: any analyzed term of the text.
    const terms = new Set(q.should.flatMap((c) => analyzeTerms(c.text, ANALYZER)));
    docs.forEach((d, i) => d.some((p) => p.some((t) => terms.has(t))) && out.add(i));
    return out;
  }
  const keep = (cs: NormalClause[]) => cs.map(matchers).filter((m) => m.length > 0); // the analyzer may drop a clause
  const must = keep(q.must);
  const should = keep(q.should);
  const not = keep(q.mustNot);
  docs.forEach((d, i) => {
    const ok = must.length ? must.every((m) => refSatisfies(d, m)) : should.some((m) => refSatisfies(d, m));
    if (ok && !not.some((m) => refSatisfies(d, m))) out.add(i);
  });
  return out;
}

// ------------------------------------------------------------------ corpora and query generators

interface Corpus {
  texts: string[];
  index: M3Index;
  positions: Pos[][];
  /** Words to build queries from (as they appear in the texts). */
  words: string[];
  /** Runs of 2–3 consecutive words from the texts (phrase material). */
  runs: string[];
}

const MODEL = { modelId: 'exactness', dims: DIMS };

/**
 * The index over `texts`, in several segments (batchSize), so the dictionary is searched across segments as
 * in real indexes. `mixed`: the first and last segments lose their term positions, as schema 4 wrote them,
 * so phrases are decided from positions in some segments and from the texts in others.
 */
async function build(texts: string[], mixed = false): Promise<Omit<Corpus, 'words' | 'runs'>> {
  const r = mulberry32(7);
  const store = new MemoryStore();
  let index = await M3Index.open('exact', { store, model: MODEL, merge: false }); // keep the segments apart
  await index.add(
    texts.map((text, i) => ({ id: String(i), text, embedding: { dense: gaussianUnit(r, DIMS), tokens: 1, truncated: false } })),
    { batchSize: Math.ceil(texts.length / 3) },
  );
  if (mixed) {
    const segs = await store.readSegments();
    expect(segs.length).toBe(3);
    expect(segs.every((s) => s.bm25?.positions)).toBe(true);
    const old = segs.map((s, i) => (i === 1 ? s : { ...s, bm25: withoutPositions(s.bm25!) }));
    const [meta, docs] = [(await store.readMeta())!, await store.allDocs()];
    index.close();
    const copy = new MemoryStore();
    await copy.replace(meta, old, docs);
    index = await M3Index.open('exact', { store: copy, model: MODEL });
  }
  return { texts, index, positions: texts.map((t) => refPositions(t)) };
}

/** The block as schema 4 stored it: the same postings, no positions. */
function withoutPositions(b: Bm25Block): Bm25Block {
  const offsets = [0];
  const docs: number[] = [];
  const tfs: number[] = [];
  const terms: string[] = [];
  forEachBm25Term(b, (term) => terms.push(term));
  for (let t = 0; t < terms.length; t++) {
    const d = new Uint32Array(bm25ListBound(b, t));
    const f = new Uint32Array(d.length);
    const n = decodeBm25Into(b, t, d, f, 0);
    docs.push(...d.subarray(0, n));
    tfs.push(...f.subarray(0, n));
    offsets.push(docs.length);
  }
  return encodeBm25(terms, offsets, docs, tfs, b.lengths);
}

function clauseArb(c: Corpus): fc.Arbitrary<NormalClause> {
  const word = fc.constantFrom(...c.words);
  const cased = fc
    .tuple(word, fc.constantFrom('same', 'upper', 'title'))
    .map(([w, how]) => (how === 'upper' ? w.toUpperCase() : how === 'title' ? w[0].toUpperCase() + w.slice(1) : w));
  const typo = fc.tuple(word, fc.nat(), fc.constantFrom('sub', 'del', 'ins', 'swap')).map(([w, n, op]) => {
    const i = n % w.length;
    if (op === 'del' && w.length > 2) return w.slice(0, i) + w.slice(i + 1);
    if (op === 'ins') return w.slice(0, i) + 'x' + w.slice(i);
    if (op === 'swap' && i + 1 < w.length) return w.slice(0, i) + w[i + 1] + w[i] + w.slice(i + 2);
    return w.slice(0, i) + (w[i] === 'e' ? 'a' : 'e') + w.slice(i + 1);
  });
  return fc.oneof(
    { weight: 4, arbitrary: cased.map((text) => ({ kind: 'term' as const, text })) },
    { weight: 3, arbitrary: fc.constantFrom(...c.runs).map((text) => ({ kind: 'phrase' as const, text })) },
    { weight: 2, arbitrary: fc.tuple(word, fc.integer({ min: 1, max: 4 })).map(([w, n]) => ({ kind: 'prefix' as const, text: [...w].slice(0, n).join('') })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.oneof(typo, word), fc.constantFrom(1 as const, 2 as const))
        .map(([text, distance]) => ({ kind: 'fuzzy' as const, text, distance })),
    },
  );
}

function queryArb(c: Corpus): fc.Arbitrary<NormalQuery> {
  const cl = clauseArb(c);
  return fc
    .record({ must: fc.array(cl, { maxLength: 2 }), should: fc.array(cl, { maxLength: 3 }), mustNot: fc.array(cl, { maxLength: 2 }) })
    .filter((q) => q.must.length + q.should.length > 0);
}

async function check(c: Corpus, q: NormalQuery, viaString: boolean): Promise<void> {
  const want = reference(c.positions, q);
  const query = viaString ? formatQuery(q) : { must: q.must.map(asInput), should: q.should.map(asInput), mustNot: q.mustNot.map(asInput) };
  const hits = await c.index.search(query, { mode: 'bm25', k: c.texts.length, includeText: false });
  const got = new Set(hits.map((h) => Number(h.id)));
  expect(
    [...got].sort((a, b) => a - b),
    `query ${formatQuery(q)}`,
  ).toEqual([...want].sort((a, b) => a - b));
  for (const h of hits) expect(h.score).toBeGreaterThan(0);
  if (q.mustNot.length + q.must.length) {
    // The model modes apply the same constraint: dense with k ≥ matches returns the same set.
    const embedding = { dense: gaussianUnit(mulberry32(q.must.length), DIMS), tokens: 1, truncated: false };
    const withVector = typeof query === 'string' ? { text: query, embedding } : { ...query, embedding };
    const dense = await c.index.search(withVector, { mode: 'dense', k: c.texts.length, includeText: false });
    expect(new Set(dense.map((h) => Number(h.id)))).toEqual(want);
  }
}

function asInput(c: NormalClause) {
  return c.kind === 'term'
    ? c.text
    : c.kind === 'phrase'
      ? { phrase: c.text }
      : c.kind === 'prefix'
        ? { prefix: c.text }
        : { fuzzy: c.text, distance: c.distance };
}

function material(texts: string[], split: (t: string) => string[]): { words: string[]; runs: string[] } {
  const words = new Set<string>();
  const runs = new Set<string>();
  const r = mulberry32(3);
  for (const t of texts) {
    const ws = split(t);
    for (const w of ws) if (/[\p{L}\p{N}]/u.test(w)) words.add(w);
    for (let k = 0; k < 3 && ws.length > 3; k++) {
      const i = Math.floor(r() * (ws.length - 2));
      runs.add(ws.slice(i, i + 2 + Math.floor(r() * 2)).join(' '));
    }
  }
  return { words: [...words].sort(), runs: [...runs].sort() };
}

// ------------------------------------------------------------------ multilingual corpus

const POOL = {
  en: ['wing', 'lift', 'drag', 'flow', 'boundary', 'layer', 'pressure', 'shock', 'wave', 'heat', 'speed', 'mach', 'number', 'high', 'e-mail', "o'neil"],
  fr: ['café', 'élève', 'été', 'résumé', 'naïve', 'vitesse', 'aile', 'écoulement'],
  de: ['Straße', 'Größe', 'Übung', 'Strömung', 'Flügel', 'Druck'],
  el: ['λόγος', 'Σοφία', 'ροή', 'πτέρυγα'],
  ru: ['Москва', 'поток', 'крыло', 'давление', 'скорость'],
};
const CJK = {
  zh: ['北京', '大学', '中国', '人民', '空气', '动力学', '机翼', '压力'],
  ja: ['東京', '京都', '大学', '学生', 'ひらがな', 'カタカナ', '空気', '翼'],
  ko: ['서울', '대학교', '학생', '공기', '날개'],
};

function multilingualTexts(n: number): string[] {
  const r = mulberry32(11);
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)];
  const langs = Object.values(POOL);
  const cjk = Object.values(CJK);
  return Array.from({ length: n }, () => {
    const parts: string[] = [];
    const chunks = 3 + Math.floor(r() * 10);
    for (let c = 0; c < chunks; c++) {
      if (r() < 0.35) {
        const pool = pick(cjk);
        parts.push(Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(pool)).join('') + (r() < 0.5 ? '。' : ''));
      } else {
        const pool = pick(langs);
        const w = pick(pool);
        parts.push(r() < 0.2 ? w.toUpperCase() : w);
      }
    }
    return parts.join(' ');
  });
}

// ------------------------------------------------------------------ the tests

describe('query syntax exactness (bm25 mode, k ≥ matches = brute force)', () => {
  let cran: Corpus;
  let multi: Corpus;
  let cranMixed: Corpus;
  let multiMixed: Corpus;

  beforeAll(async () => {
    const data = await loadCranfield();
    const ct = data.docs.map((d) => `${d.title}\n${d.abstract}`);
    cran = { ...(await build(ct)), ...material(ct, (t) => t.split(/\s+/).filter((w) => /^[a-z]+$/.test(w))) };
    const mt = multilingualTexts(600);
    // Query words: the pool's words (CJK ones alone and in pairs); runs: consecutive chunks of the texts.
    const words = [...Object.values(POOL).flat(), ...Object.values(CJK).flat()];
    multi = { ...(await build(mt)), words, runs: material(mt, (t) => t.split(' ')).runs };
    cranMixed = { ...cran, ...(await build(ct, true)) };
    multiMixed = { ...multi, ...(await build(mt, true)) };
  }, 120_000);

  it('Cranfield: generated queries (string form)', async () => {
    await fc.assert(
      fc.asyncProperty(queryArb(cran), (q) => check(cran, q, true)),
      { numRuns: 60, seed: 15 },
    );
  }, 60_000);

  it('Cranfield: generated queries (structured form)', async () => {
    await fc.assert(
      fc.asyncProperty(queryArb(cran), (q) => check(cran, q, false)),
      { numRuns: 30, seed: 16 },
    );
  }, 60_000);

  it('multilingual with CJK: generated queries', async () => {
    await fc.assert(
      fc.asyncProperty(queryArb(multi), (q) => check(multi, q, true)),
      { numRuns: 100, seed: 17 },
    );
  }, 60_000);

  it('segments with positions (schema 5) and without (schema 4) mixed: generated queries, Cranfield and multilingual', async () => {
    await fc.assert(
      fc.asyncProperty(queryArb(cranMixed), (q) => check(cranMixed, q, true)),
      { numRuns: 40, seed: 18 },
    );
    await fc.assert(
      fc.asyncProperty(queryArb(multiMixed), (q) => check(multiMixed, q, true)),
      { numRuns: 60, seed: 19 },
    );
  }, 120_000);

  it('known cases: case and accent folding, CJK words inside longer runs, phrases, exclusions', async () => {
    const ids = async (q: string) => new Set((await multi.index.search(q, { mode: 'bm25', k: 1000, includeText: false })).map((h) => Number(h.id)));
    const containing = (pred: (t: string) => boolean) => new Set(multi.texts.map((t, i) => (pred(t) ? i : -1)).filter((i) => i >= 0));
    expect(await ids('+CAFE')).toEqual(containing((t) => /café/i.test(t)));
    expect(await ids('+strasse')).toEqual(containing((t) => /straße|strasse/i.test(t)));
    expect(await ids('+"東京"')).toEqual(containing((t) => t.includes('東京')));
    expect(await ids('+東京 -京都')).toEqual(containing((t) => t.includes('東京') && !t.includes('京都')));
    expect(await ids('+flw~1')).toEqual(containing((t) => /\bflow\b/i.test(t)));
    expect(await ids('+"boundary layer" -wing')).toEqual(containing((t) => /\bboundary layer\b/i.test(t) && !/\bwing\b/i.test(t)));
    expect(await ids('+москв*')).toEqual(containing((t) => /москва/i.test(t)));
  });
});
