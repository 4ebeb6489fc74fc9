/**
 * The structured form of a query: what the query string parses to, and what programs may pass
 * directly (`index.search({ must: ['wing', { phrase: 'boundary layer' }], mustNot: [{ prefix: 'super' }] })`).
 */

/**
 * One clause. A bare string is a word, matched as the index's analyzer sees it; when the analyzer
 * makes several words of it ("e-mail", "東京都"), they must be adjacent and in order, like a phrase.
 */
export type Clause = string | { term: string } | { phrase: string } | { prefix: string } | { fuzzy: string; distance?: 1 | 2 };

export interface BoolQuery {
  /** Every one must match. */
  must?: Clause[];
  /** With no `must`, at least one must match; otherwise they only add score. */
  should?: Clause[];
  /** None may match. */
  mustNot?: Clause[];
}

export type Occur = 'must' | 'should' | 'mustNot';
export type ClauseKind = 'term' | 'phrase' | 'prefix' | 'fuzzy';

/** A clause in one shape (what the parser and the matcher work with). */
export interface NormalClause {
  kind: ClauseKind;
  text: string;
  /** Fuzzy only: the edit distance (1 or 2). */
  distance?: 1 | 2;
}

/** The clause as it would be typed in a search box (explain, messages). */
export function clauseLabel(c: NormalClause): string {
  switch (c.kind) {
    case 'phrase':
      return `"${c.text}"`;
    case 'prefix':
      return `${c.text}*`;
    case 'fuzzy':
      return `${c.text}~${c.distance ?? 2}`;
    default:
      return c.text;
  }
}
