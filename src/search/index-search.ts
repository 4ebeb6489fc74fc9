/**
 * One search over an open index: the query planned (query syntax, Boolean constraints), encoded when it
 * carries no embedding, ranked (src/search/ranker.ts), and the hits given their ids, text and, on request,
 * an explanation (matched tokens and terms, highlights, clauses).
 */
import type { M3Embedding } from '../encoder/types.ts';
import type { DocRecord } from '../store/types.ts';
import { constrains, explainHit, planQuery, rankVerified, resolveConstraint, type Constraint } from './boolean-search.ts';
import { loadColbert } from './colbert-loading.ts';
import { highlightSpans, sparseMatches } from './explain.ts';
import type { IndexState } from './index-state.ts';
import { resolveSearchOptions } from './search-options.ts';
import type { Hit, SearchOptions, SearchQuery } from './types.ts';

const hasWords = (text: string | undefined): text is string => !!text && /[\p{L}\p{N}]/u.test(text);

export async function searchIndex(state: IndexState, query: SearchQuery, options: SearchOptions): Promise<Hit[]> {
  state.check();
  const { k, mode, fusion, candidates, rerank, weights, filter, dense } = resolveSearchOptions(options);
  const plan = planQuery(query, options.syntax);
  const text = plan.text;
  let embedding = plan.embedding;
  if (!embedding && !plan.bool && !hasWords(text)) return []; // plain syntax: empty or punctuation only
  const { live, encoder } = state;
  if (live.liveDocs === 0) return [];
  const analyzer = state.analyzer;
  const constraint = constrains(plan.bool) ? resolveConstraint(live, plan.bool, mode, analyzer) : null;
  const needColbert = mode === 'colbert' || !!rerank || (mode === 'hybrid' && live.hasColbert && weights.colbert > 0);
  if (!embedding && mode !== 'bm25') {
    if (!encoder) throw new Error(`mode "${mode}" needs an encoder (or pass { embedding } in the query)`);
    if (!hasWords(text)) throw new Error(`mode "${mode}" needs words to encode: a query of only excluded clauses needs { embedding }`);
    const heads = (encoder.info as { heads?: { sparse?: boolean; colbert?: boolean } }).heads;
    [embedding] = await encoder.encode([text], {
      dense: true,
      sparse: heads?.sparse !== false,
      colbert: needColbert && heads?.colbert !== false,
    });
    state.check();
  }
  if (live.hasColbert && embedding?.colbert) await loadColbert(); // the only searches that score ColBERT
  const request = {
    text,
    embedding,
    k,
    mode,
    fusion,
    weights,
    candidates,
    rerank,
    filter,
    aggregate: state.opts.chunk?.aggregate ?? 'max',
    ...(dense ? { dense } : {}),
  } as const;
  const ranked = constraint
    ? await rankVerified(
        constraint,
        k,
        (keys, n) => state.ranker.rank({ ...request, k: n, constraint: { keys, bm25: constraint.compiled.scoring } }),
        (keys) => textsOf(state, keys),
      )
    : state.ranker.rank(request);
  state.check();
  const hits: Hit[] = ranked.map((r) => {
    const meta = state.live.keyMeta[r.key];
    return { id: state.live.keyId[r.key]!, score: r.score, signals: r.signals, ...(meta ? { metadata: meta } : {}) };
  });
  const wantText = options.includeText !== false || options.explain;
  if (!wantText) return hits;
  const docs = await state.docs(hits.map((h) => h.id));
  hits.forEach((h, i) => {
    const d = docs[i];
    if (!d) return;
    if (options.includeText !== false) h.text = d.text;
    if (options.explain) explain(state, h, ranked[i].key, d, text, embedding, constraint);
  });
  return hits;
}

function explain(
  state: IndexState,
  hit: Hit,
  key: number,
  doc: DocRecord,
  text: string | undefined,
  emb: M3Embedding | undefined,
  constraint: Constraint | null,
): void {
  const { live, encoder, analyzer } = state;
  const tokenText = (id: number) => encoder?.tokenText?.(id) ?? `#${id}`;
  let tokenTexts: string[] = [];
  if (emb?.sparse && live.sparseSegments.length) {
    const { matches, row } = sparseMatches(live, key, emb.sparse, tokenText);
    hit.matches = matches;
    tokenTexts = encoder?.tokenText ? matches.map((m) => m.token) : [];
    const seg = live.segmentOfRow(row);
    const local = row - seg.rowBase;
    if (seg.rowSpans.length) hit.passage = { start: seg.rowSpans[2 * local], end: seg.rowSpans[2 * local + 1] };
  }
  const bm25Query = constraint?.compiled.scoring ?? text;
  const terms = bm25Query && live.bm25 ? live.bm25.matchedTerms(bm25Query, key) : [];
  hit.terms = terms.map((t) => ({ term: t.term, contribution: t.weight }));
  const why = constraint ? explainHit(constraint, doc.text, analyzer) : null;
  if (why) hit.clauses = why.clauses;
  hit.highlights = highlightSpans(doc.text, new Set(terms.map((t) => t.term)), tokenTexts, analyzer, why?.spans);
}

/** Stored texts of live documents by key (phrase checks), read in one store call. */
async function textsOf(state: IndexState, keys: Uint32Array): Promise<(string | undefined)[]> {
  const ids = Array.from(keys, (k) => state.live.keyId[k]!);
  const docs = await state.store.getDocs(ids);
  return docs.map((d) => d?.text);
}
