/**
 * Boolean matching over an inverted index, exactly (no top-N cut): which documents satisfy a query.
 *
 * A clause becomes a sequence of *positions*, each a set of alternative index terms:
 *   - the clause text is analyzed with the index's analyzer; tokens that start at the same offset share a
 *     position (CJK: the segmenter's word and the bigram starting there), so "any alternative at each
 *     position" treats CJK like the index does;
 *   - prefix: the last position's terms become every dictionary term starting with them (not stemmed);
 *   - fuzzy: every position's terms become every dictionary term within the distance.
 * One position: the documents are the union of the alternatives' postings (exact). Several positions (a
 * phrase, or a word the analyzer splits): the intersection of the positions' unions gives candidates,
 * and a candidate is verified from the term positions its segment stores (schema 5, phrase-positions.ts),
 * or, for segments written before, on its stored text when a search is about to return it.
 */
import { analyze, analyzeTerms, type AnalyzerOptions } from '../rank/analyzer.ts';
import type { NormalQuery } from './parse.ts';
import { clauseLabel, type NormalClause, type Occur } from './types.ts';
import { hasSorted, intersectSorted, subtractSorted, unionSorted } from '../util/sorted-sets.ts';
import { decideFromPositions, type PositionIndex } from './phrase-positions.ts';

/** What matching needs from an index's BM25 term dictionary. */
export interface TermDictionary {
  /** Live documents holding the (analyzed) term, keys ascending. */
  keysOf(term: string): Uint32Array;
  /** Distinct indexed terms starting with `prefix`. */
  termsWithPrefix(prefix: string): string[];
  /** Distinct indexed terms within `distance` edits of `term`. */
  termsWithin(term: string, distance: number): string[];
}

/** A term a clause scores with; expansions (prefix, fuzzy) other than the typed word weigh EXPANSION_WEIGHT. */
export interface WeightedTerm {
  term: string;
  weight: number;
}

export const EXPANSION_WEIGHT = 0.5;

export interface CompiledClause {
  occur: Occur;
  clause: NormalClause;
  label: string;
  /** Alternatives per position (terms present in the index only). */
  positions: WeightedTerm[][];
  /** Documents holding every position somewhere (exact when one position), ascending. */
  candidates: Uint32Array;
}

export interface CompiledQuery {
  clauses: CompiledClause[];
  /** Every term of the required and optional clauses, weights summed per term: what BM25 ranks by. */
  scoring: WeightedTerm[];
  /** No required or optional clause that can match: only exclusions (or clauses the analyzer drops). */
  negativeOnly: boolean;
}

interface Position {
  terms: string[];
  start: number;
  end: number;
}

/** Tokens grouped into positions: one per distinct start offset, in text order. */
export function positionsOf(text: string, analyzer: AnalyzerOptions): Position[] {
  const out: Position[] = [];
  for (const t of analyze(text, analyzer)) {
    const last = out[out.length - 1];
    if (last && last.start === t.start) {
      if (!last.terms.includes(t.term)) last.terms.push(t.term);
      if (t.end > last.end) last.end = t.end;
    } else out.push({ terms: [t.term], start: t.start, end: t.end });
  }
  return out;
}

function clausePositions(c: NormalClause, analyzer: AnalyzerOptions, dict: TermDictionary): WeightedTerm[][] {
  if (c.kind === 'prefix') {
    // The typed stem is normalised (case, accents) but not stemmed: "aerodyn*" must not become "aerodyn" → "aerodyn".
    const pos = positionsOf(c.text, { ...analyzer, stem: false, stopWords: false });
    return pos.map((p, i) => {
      if (i < pos.length - 1) return p.terms.flatMap((t) => analyzeTerms(t, analyzer)).map((term) => ({ term, weight: 1 }));
      const exact = new Set(p.terms);
      const seen = new Set<string>();
      for (const t of p.terms) for (const x of dict.termsWithPrefix(t)) seen.add(x);
      return [...seen].map((term) => ({ term, weight: exact.has(term) ? 1 : EXPANSION_WEIGHT }));
    });
  }
  const pos = positionsOf(c.text, analyzer);
  if (c.kind === 'fuzzy') {
    return pos.map((p) => {
      const exact = new Set(p.terms);
      const seen = new Set<string>();
      for (const t of p.terms) for (const x of dict.termsWithin(t, c.distance ?? 2)) seen.add(x);
      return [...seen].map((term) => ({ term, weight: exact.has(term) ? 1 : EXPANSION_WEIGHT }));
    });
  }
  return pos.map((p) => p.terms.map((term) => ({ term, weight: 1 })));
}

/** Resolves every clause against the dictionary: positions, expansions, candidate documents. */
export function compileQuery(q: NormalQuery, analyzer: AnalyzerOptions, dict: TermDictionary): CompiledQuery {
  const clauses: CompiledClause[] = [];
  const weights = new Map<string, number>();
  let positive = false;
  for (const occur of ['must', 'should', 'mustNot'] as const) {
    for (const clause of q[occur]) {
      const all = clausePositions(clause, analyzer, dict);
      // A clause the analyzer reduces to nothing (a stop word, an over-long token) is left out, as Lucene does.
      if (all.length === 0) continue;
      const positions = all.map((alts) => alts.filter((a) => dict.keysOf(a.term).length > 0));
      let candidates: Uint32Array = new Uint32Array(0);
      if (positions.every((p) => p.length > 0)) {
        const unions = positions.map((alts) => unionSorted(alts.map((a) => dict.keysOf(a.term))));
        candidates = intersectSorted(unions);
      }
      clauses.push({ occur, clause, label: clauseLabel(clause), positions, candidates });
      if (occur === 'mustNot') continue;
      positive = true;
      for (const p of positions) for (const a of p) weights.set(a.term, (weights.get(a.term) ?? 0) + a.weight);
    }
  }
  return { clauses, scoring: [...weights].map(([term, weight]) => ({ term, weight })), negativeOnly: !positive };
}

export interface Selection {
  /** Documents that may satisfy the query, ascending: every one, except that `pending` ones still need their text checked. */
  keys: Uint32Array;
  /** The keys whose stored text decides (phrases): check them with `verify`, ascending. */
  pending: Uint32Array;
  /** Whether a pending document's text satisfies the query (undefined text: the document is gone). */
  verify(key: number, text: string | undefined): boolean;
}

/**
 * The documents that satisfy the query, from postings alone, with the phrase checks left to the caller
 * (`pending`, `verify`), so a search verifies only the documents it is about to return. `universe` (all
 * live keys) is the start when the query has only exclusions. With `stored` (an index keeping term positions),
 * phrases are decided from positions here, and only documents stored without them stay pending.
 */
export function selectCandidates(cq: CompiledQuery, analyzer: AnalyzerOptions, universe?: () => Uint32Array, stored?: PositionIndex): Selection {
  const must = cq.clauses.filter((c) => c.occur === 'must');
  const should = cq.clauses.filter((c) => c.occur === 'should');
  const not = cq.clauses.filter((c) => c.occur === 'mustNot');
  const none: Selection = { keys: new Uint32Array(0), pending: new Uint32Array(0), verify: () => false };
  let keys: Uint32Array;
  if (must.length) keys = intersectSorted(must.map((c) => c.candidates));
  else if (should.length) keys = unionSorted(should.map((c) => c.candidates));
  else if (universe) keys = universe();
  else return none;
  for (const c of not) if (c.positions.length === 1) keys = subtractSorted(keys, c.candidates);

  const mustPhrases = must.filter((c) => c.positions.length > 1);
  const notPhrases = not.filter((c) => c.positions.length > 1);
  const shouldPhrases = must.length ? [] : should.filter((c) => c.positions.length > 1);
  const shouldExact =
    must.length || !shouldPhrases.length ? new Uint32Array(0) : unionSorted(should.filter((c) => c.positions.length === 1).map((c) => c.candidates));
  const pending: number[] = [];
  const phrases = mustPhrases.length + notPhrases.length + shouldPhrases.length > 0;
  if (phrases)
    for (const k of keys) {
      if (mustPhrases.length > 0 || notPhrases.some((c) => hasSorted(c.candidates, k)) || (shouldPhrases.length > 0 && !hasSorted(shouldExact, k)))
        pending.push(k);
    }
  // Whether document k satisfies the query, given which phrase clauses it holds.
  const satisfies = (k: number, holds: (c: CompiledClause) => boolean): boolean =>
    mustPhrases.every(holds) &&
    !notPhrases.some((c) => hasSorted(c.candidates, k) && holds(c)) &&
    (shouldPhrases.length === 0 || hasSorted(shouldExact, k) || shouldPhrases.some((c) => hasSorted(c.candidates, k) && holds(c)));
  const verify = (k: number, text: string | undefined): boolean => {
    const pos = text === undefined ? [] : positionsOf(text, analyzer);
    return satisfies(k, (c) => findSequence(pos, c.positions) >= 0);
  };
  if (!stored || pending.length === 0) return { keys, pending: Uint32Array.from(pending), verify };
  // Stored positions decide now; only documents of segments without them wait for their text.
  const { failed, undecided } = decideFromPositions(Uint32Array.from(pending), [...mustPhrases, ...notPhrases, ...shouldPhrases], stored, satisfies);
  return { keys: failed.length ? subtractSorted(keys, failed) : keys, pending: undecided, verify };
}

/** First document position where the clause's positions follow one another, or −1. */
function findSequence(doc: Position[], seq: WeightedTerm[][], from = 0): number {
  const m = seq.length;
  outer: for (let i = from; i + m <= doc.length; i++) {
    for (let j = 0; j < m; j++) if (!seq[j].some((a) => doc[i + j].terms.includes(a.term))) continue outer;
    return i;
  }
  return -1;
}

export interface ClauseMatch {
  occur: Occur;
  /** The clause as typed: wing, +"boundary layer", super*, lft~1. */
  clause: string;
  /** Whether the document satisfies it. */
  matched: boolean;
  /** The document's words that matched it (expansions of prefixes and typos included). */
  terms: string[];
  /** Where in the text: character spans, sorted. */
  spans: { start: number; end: number }[];
}

/** Which clause a document's text satisfies, and where (explain). */
export function explainClauses(cq: CompiledQuery, text: string, analyzer: AnalyzerOptions): ClauseMatch[] {
  const pos = positionsOf(text, analyzer);
  return cq.clauses.map((c) => {
    const spans: { start: number; end: number }[] = [];
    const terms = new Set<string>();
    const m = c.positions.length;
    for (let at = findSequence(pos, c.positions); at >= 0; at = findSequence(pos, c.positions, at + 1)) {
      spans.push({ start: pos[at].start, end: pos[at + m - 1].end });
      for (let j = 0; j < m; j++) for (const t of pos[at + j].terms) if (c.positions[j].some((a) => a.term === t)) terms.add(t);
    }
    return {
      occur: c.occur,
      clause: (c.occur === 'must' ? '+' : c.occur === 'mustNot' ? '-' : '') + c.label,
      matched: spans.length > 0,
      terms: [...terms],
      spans,
    };
  });
}
