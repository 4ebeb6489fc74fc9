/**
 * The query syntax inside M3Index.search: what a query asks (parse or validate), which documents may be
 * hits (src/query/match.ts over the BM25 term dictionary) and what explain says about each hit.
 *
 * Modes: in 'bm25' the constraint selects and BM25 ranks by the clauses' terms; in the model modes it
 * filters the candidates and the model's signals rank. A query of plain optional words only is the bag
 * of words it always was: BM25 ranks every document holding one of them, and the model modes search
 * semantically with no constraint (a dense hit need not contain the words).
 */
import type { M3Embedding } from '../encoder/types.ts';
import { M3InputError } from '../errors.ts';
import type { AnalyzerOptions } from '../rank/analyzer.ts';
import { compileQuery, explainClauses, selectCandidates, type ClauseMatch, type CompiledQuery, type Selection } from '../query/match.ts';
import { isPlain, normalizeQuery, parseQuery, positiveText, QuerySyntaxError, type NormalQuery } from '../query/parse.ts';
import type { LiveIndex } from './live-index.ts';
import type { RankedHit } from './ranker.ts';
import type { SearchMode, SearchQuery } from './types.ts';

export interface QueryPlan {
  /** Text for the encoder and the bag-of-words BM25 (operators and excluded words removed). */
  text: string | undefined;
  embedding: M3Embedding | undefined;
  /** The parsed or given Boolean query; null with syntax 'plain' or an embedding-only query. */
  bool: NormalQuery | null;
}

/** Reads a search's query argument; throws QuerySyntaxError (with a position) for malformed syntax. */
export function planQuery(query: SearchQuery, syntax: 'query' | 'plain' = 'query'): QueryPlan {
  if (syntax !== 'query' && syntax !== 'plain') throw new Error(`unknown syntax "${String(syntax)}"; valid: query, plain`);
  if (typeof query === 'string') {
    if (syntax === 'plain') return { text: query, embedding: undefined, bool: null };
    const bool = parseQuery(query);
    return { text: positiveText(bool), embedding: undefined, bool };
  }
  if (query === null || typeof query !== 'object') throw new M3InputError('query must be a string, { text?, embedding? } or { must?, should?, mustNot? }');
  const { text, embedding } = query;
  if (text !== undefined && typeof text !== 'string') throw new M3InputError('query text must be a string');
  if ('must' in query || 'should' in query || 'mustNot' in query) {
    // Structured: the clauses constrain; `text`, when given, is only what the encoder reads.
    const bool = normalizeQuery(query);
    return { text: text ?? positiveText(bool), embedding, bool };
  }
  if (text === undefined || syntax === 'plain' || (embedding && !text.trim())) return { text, embedding, bool: null };
  const bool = parseQuery(text);
  return { text: positiveText(bool), embedding, bool };
}

/** Whether the query constrains the results (see the file comment): it has an operator. */
export function constrains(bool: NormalQuery | null): bool is NormalQuery {
  return !!bool && !isPlain(bool);
}

export interface Constraint {
  compiled: CompiledQuery;
  selection: Selection;
}

/** The documents that may satisfy `bool` (exact but for phrase checks, which rankVerified does). */
export function resolveConstraint(live: LiveIndex, bool: NormalQuery, mode: SearchMode, analyzer: AnalyzerOptions): Constraint {
  const bm25 = live.bm25;
  if (!bm25)
    throw new Error(
      'this query uses the query syntax (+, -, "…", *, ~), which needs BM25 indexing: open without { bm25: false }, or search with { syntax: "plain" }',
    );
  const compiled = compileQuery(bool, analyzer, bm25);
  if (compiled.negativeOnly && mode === 'bm25' && bool.must.length + bool.should.length === 0) {
    throw new QuerySyntaxError('only excluded clauses: bm25 mode needs a word to search for (the model modes accept { embedding } with exclusions)', 0);
  }
  const universe = () => Uint32Array.from([...live.idToKey.values()].sort((a, b) => a - b));
  return { compiled, selection: selectCandidates(compiled, analyzer, mode === 'bm25' ? undefined : universe, bm25) };
}

/**
 * The top k of `rank` over the constraint's documents, phrases verified lazily: rank, read the texts of the
 * unverified documents in the top `want`, drop the failures and rank again (`want` × 4) until the top is
 * all verified. With k ≥ the matches, every candidate is checked: the result is exact.
 */
export async function rankVerified(
  c: Constraint,
  k: number,
  rank: (keys: Uint32Array, k: number) => RankedHit[],
  texts: (keys: Uint32Array) => Promise<(string | undefined)[]>,
): Promise<RankedHit[]> {
  const { selection } = c;
  let keys = selection.keys;
  if (!selection.pending.length) return rank(keys, k);
  const pending = new Set(selection.pending);
  for (let want = k; ; want *= 4) {
    const ranked = rank(keys, want);
    const check = ranked.filter((r) => pending.has(r.key)).map((r) => r.key);
    if (!check.length) return ranked.slice(0, k);
    const got = await texts(Uint32Array.from(check));
    const failed = new Set<number>();
    check.forEach((key, i) => {
      pending.delete(key);
      if (!selection.verify(key, got[i])) failed.add(key);
    });
    if (!failed.size) return ranked.slice(0, k);
    keys = keys.filter((x) => !failed.has(x));
  }
}

/** Explain for one hit: the clauses its text satisfies, and their spans (not the excluded ones'). */
export function explainHit(c: Constraint, text: string, analyzer: AnalyzerOptions): { clauses: ClauseMatch[]; spans: { start: number; end: number }[] } {
  const clauses = explainClauses(c.compiled, text, analyzer);
  return { clauses, spans: clauses.filter((m) => m.occur !== 'mustNot').flatMap((m) => m.spans) };
}
