/** What indexing keeps of a text's terms: their counts (BM25) or their positions (schema 5 phrases). */
import { forEachTerm, type AnalyzerOptions } from './analyzer.ts';

/** Term frequencies of the text's terms (what indexing needs), without the intermediate array. */
export function analyzeTermCounts(text: string, opts?: AnalyzerOptions): { counts: Map<string, number>; length: number } {
  const counts = new Map<string, number>();
  let length = 0;
  forEachTerm(text, opts, (term) => {
    counts.set(term, (counts.get(term) ?? 0) + 1);
    length++;
  });
  return { counts, length };
}

/**
 * Each term's positions in the text (ascending; a term twice at one position is listed twice, so each list's
 * length is the term's count; a term seen once gets its position as a number, no array), and the length in terms. A position is a distinct start offset, in text
 * order: tokens that start together share one (CJK: the segmenter's word and the bigram starting there), as
 * the query side groups them (src/query/match.ts positionsOf), so phrases match the same either way.
 */
export function analyzeTermPositions(text: string, opts?: AnalyzerOptions): { positions: Map<string, number | number[]>; length: number } {
  const positions = new Map<string, number | number[]>();
  let length = 0;
  let at = -1;
  let lastStart = -1;
  forEachTerm(text, opts, (term, start) => {
    if (start !== lastStart) {
      at++;
      lastStart = start;
    }
    const seen = positions.get(term);
    if (seen === undefined) positions.set(term, at);
    else if (typeof seen === 'number') positions.set(term, [seen, at]);
    else seen.push(at);
    length++;
  });
  return { positions, length };
}
