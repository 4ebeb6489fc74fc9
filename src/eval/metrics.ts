/**
 * Retrieval metrics with graded judgements, and TREC run files.
 *
 * nDCG@k: DCG = Σ_{i=1..k} gain_i / log2(i + 1) (linear gains, as trec_eval's ndcg_cut), divided
 * by the DCG of the ideal ordering of ALL judged documents of the query (not just the retrieved
 * ones). Recall@k: relevant (gain > 0) documents in the top k / all relevant documents.
 * Queries without any relevant document are skipped (both metrics are undefined for them), so a
 * mean is over the queries that have at least one.
 */

/** qid → docid → gain (> 0 relevant; 0 judged not relevant). */
export type Qrels = Map<string, Map<string, number>>;

export interface RankedDoc {
  docId: string;
  score: number;
}

/** qid → documents, best first. */
export type Run = Map<string, RankedDoc[]>;

export function dcgAtK(gains: ArrayLike<number>, k: number): number {
  let dcg = 0;
  const n = Math.min(k, gains.length);
  for (let i = 0; i < n; i++) if (gains[i] > 0) dcg += gains[i] / Math.log2(i + 2);
  return dcg;
}

/** nDCG@k of one ranking; NaN when the query has no relevant document. */
export function ndcgAtK(ranked: readonly string[], judged: ReadonlyMap<string, number>, k: number): number {
  const ideal = [...judged.values()].filter((g) => g > 0).sort((a, b) => b - a);
  const idcg = dcgAtK(ideal, k);
  if (idcg === 0) return NaN;
  const gains = ranked.slice(0, k).map((d) => judged.get(d) ?? 0);
  return dcgAtK(gains, k) / idcg;
}

/** Recall@k of one ranking; NaN when the query has no relevant document. */
export function recallAtK(ranked: readonly string[], judged: ReadonlyMap<string, number>, k: number): number {
  let relevant = 0;
  for (const g of judged.values()) if (g > 0) relevant++;
  if (relevant === 0) return NaN;
  let hit = 0;
  const seen = new Set<string>();
  for (const d of ranked.slice(0, k)) {
    if (seen.has(d)) continue; // a duplicated docid must not count twice
    seen.add(d);
    if ((judged.get(d) ?? 0) > 0) hit++;
  }
  return hit / relevant;
}

/** Mean of the finite values (NaN = undefined for that query, skipped); NaN if none. */
export function mean(values: readonly number[]): number {
  let s = 0;
  let n = 0;
  for (const v of values) {
    if (Number.isFinite(v)) {
      s += v;
      n++;
    }
  }
  return n === 0 ? NaN : s / n;
}

export interface RunEvaluation {
  ndcg: number;
  recall: number;
  /** Queries the means are over (judged, with at least one relevant document). */
  queries: number;
  perQuery: Map<string, { ndcg: number; recall: number }>;
}

/**
 * nDCG@ndcgK and Recall@recallK of a run, averaged over the judged queries. A judged query
 * missing from the run scores 0 (it was asked and nothing came back).
 */
export function evaluateRun(run: Run, qrels: Qrels, ndcgK = 10, recallK = 100): RunEvaluation {
  const perQuery = new Map<string, { ndcg: number; recall: number }>();
  for (const [qid, judged] of qrels) {
    const ranked = (run.get(qid) ?? []).map((r) => r.docId);
    const ndcg = ndcgAtK(ranked, judged, ndcgK);
    if (Number.isNaN(ndcg)) continue;
    perQuery.set(qid, { ndcg, recall: recallAtK(ranked, judged, recallK) });
  }
  const rows = [...perQuery.values()];
  return { ndcg: mean(rows.map((r) => r.ndcg)), recall: mean(rows.map((r) => r.recall)), queries: rows.length, perQuery };
}

/** TREC run format: `qid Q0 docid rank score tag`, rank from 1, one line per document. */
export function writeTrecRun(run: Run, tag: string): string {
  if (!/^\S+$/.test(tag)) throw new Error(`TREC run tag must be one word, got ${JSON.stringify(tag)}`);
  const lines: string[] = [];
  for (const [qid, docs] of run) {
    docs.forEach((d, i) => {
      if (/\s/.test(qid) || /\s/.test(d.docId)) throw new Error(`TREC ids cannot contain spaces: ${qid} ${d.docId}`);
      lines.push(`${qid} Q0 ${d.docId} ${i + 1} ${d.score} ${tag}`);
    });
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

/**
 * Reads a TREC run. Each query's documents are ordered by the rank column (ties: file order);
 * unlike trec_eval, which re-sorts by score, the ranks written are trusted.
 */
export function parseTrecRun(text: string): { run: Run; tag: string | undefined } {
  const rows = new Map<string, { docId: string; score: number; rank: number; line: number }[]>();
  let tag: string | undefined;
  text.split(/\r?\n/).forEach((line, n) => {
    const t = line.trim();
    if (!t) return;
    const p = t.split(/\s+/);
    if (p.length < 6) throw new Error(`TREC run line ${n + 1}: expected 6 columns, got ${JSON.stringify(line)}`);
    const rank = Number(p[3]);
    const score = Number(p[4]);
    if (!Number.isFinite(rank) || Number.isNaN(score)) throw new Error(`TREC run line ${n + 1}: bad rank or score`);
    tag ??= p[5];
    let q = rows.get(p[0]);
    if (!q) rows.set(p[0], (q = []));
    q.push({ docId: p[2], score, rank, line: n });
  });
  const run: Run = new Map();
  for (const [qid, q] of rows) {
    q.sort((a, b) => a.rank - b.rank || a.line - b.line);
    run.set(
      qid,
      q.map(({ docId, score }) => ({ docId, score })),
    );
  }
  return { run, tag };
}
