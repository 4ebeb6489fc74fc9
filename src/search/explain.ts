/**
 * Why a document matched: its learned-sparse token matches (query weight × document weight, which
 * sum to the sparse score of its best passage) and highlight spans in its text, from the BM25
 * analyzer's offsets of matched terms and from the text of the matched sparse tokens.
 */
import { analyze, type AnalyzerOptions } from '../rank/analyzer.ts';
import type { SparseWeights } from '../encoder/types.ts';
import type { LiveIndex } from './live-index.ts';
import { docWeight } from './sparse-scan.ts';
import type { TokenMatch } from './types.ts';

/** Sparse matches of `key`'s best-matching row (by sparse score). */
export function sparseMatches(live: LiveIndex, key: number, query: SparseWeights, tokenText: (id: number) => string): { matches: TokenMatch[]; row: number } {
  let best: TokenMatch[] = [];
  let bestScore = -1;
  let bestRow = live.keyRow0[key];
  for (let r = 0; r < live.keyRows[key]; r++) {
    const row = live.keyRow0[key] + r;
    const seg = live.segmentOfRow(row);
    if (!seg.sparse) continue;
    const local = row - seg.rowBase;
    const matches: TokenMatch[] = [];
    let score = 0;
    for (let i = 0; i < query.ids.length; i++) {
      const qw = query.weights[i];
      if (!(qw > 0)) continue;
      const dw = docWeight(seg.sparse, query.ids[i], local);
      if (dw === 0) continue;
      const contribution = qw * dw;
      score += contribution;
      matches.push({ token: tokenText(query.ids[i]), tokenId: query.ids[i], queryWeight: qw, docWeight: dw, contribution });
    }
    if (score > bestScore) {
      bestScore = score;
      best = matches;
      bestRow = row;
    }
  }
  best.sort((a, b) => b.contribution - a.contribution || a.tokenId - b.tokenId);
  return { matches: best, row: bestRow };
}

/** Spans of `text` to highlight: analyzer tokens whose term matched, occurrences of matched token texts, and `extra` (a query's phrases, prefixes, typos). */
export function highlightSpans(
  text: string,
  terms: ReadonlySet<string>,
  tokenTexts: readonly string[],
  analyzer?: AnalyzerOptions,
  extra: readonly { start: number; end: number }[] = [],
): { start: number; end: number }[] {
  const spans: [number, number][] = extra.map((s) => [s.start, s.end]);
  if (terms.size) for (const t of analyze(text, analyzer)) if (terms.has(t.term)) spans.push([t.start, t.end]);
  const lower = text.toLowerCase();
  if (lower.length !== text.length) tokenTexts = []; // case mapping moved offsets (e.g. İ): analyzer spans only
  for (const raw of tokenTexts) {
    const piece = raw.replace(/^▁/, '').trim().toLowerCase();
    if (piece.length < 2 && !/[^\p{ASCII}]/u.test(piece)) continue; // single Latin letters light up everything
    if (!/[\p{L}\p{N}]/u.test(piece)) continue; // punctuation pieces
    for (let at = lower.indexOf(piece); at >= 0; at = lower.indexOf(piece, at + piece.length)) spans.push([at, at + piece.length]);
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: { start: number; end: number }[] = [];
  for (const [s, e] of spans) {
    const last = out[out.length - 1];
    if (last && s <= last.end) last.end = Math.max(last.end, e);
    else out.push({ start: s, end: e });
  }
  return out;
}
