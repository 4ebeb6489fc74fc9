/**
 * The query string syntax (Lucene's simple query string, the parts search boxes use):
 *
 *   word      optional: adds score; with no required clause, a document needs at least one optional one
 *   +word     required            -word     excluded
 *   "a b c"   phrase: the words adjacent and in order (also +"…" and -"…")
 *   pre*      any word starting with "pre"
 *   word~1    any word within 1 edit (Levenshtein); word~2 or word~ within 2
 *   \x        x taken literally (\" \* \~ \+ \- \\)
 *
 * `+` and `-` are operators only at the start of a word ("high-speed" is one word). A query whose
 * clauses are all plain optional words is a bag of words (see isPlain).
 */
import { M3Error } from '../errors.ts';
import { clauseLabel, type BoolQuery, type Clause, type NormalClause, type Occur } from './types.ts';

/** A malformed query: `position` is the UTF-16 offset in the query string where the problem is. */
export class QuerySyntaxError extends M3Error {
  override name = 'QuerySyntaxError';
  constructor(
    message: string,
    readonly position: number,
  ) {
    super('QUERY_SYNTAX', `${message} (at character ${position + 1})`);
  }
}

export interface NormalQuery {
  must: NormalClause[];
  should: NormalClause[];
  mustNot: NormalClause[];
}

const WORDISH = /[\p{L}\p{N}]/u;
const isSpace = (c: string) => /\s/u.test(c);

/** Parses the query syntax; throws QuerySyntaxError with a position for malformed input. */
export function parseQuery(query: string): NormalQuery {
  if (typeof query !== 'string') throw new TypeError('query must be a string');
  const out: NormalQuery = { must: [], should: [], mustNot: [] };
  const n = query.length;
  let i = 0;
  while (i < n) {
    if (isSpace(query[i])) {
      i++;
      continue;
    }
    const start = i;
    let occur: Occur = 'should';
    if (query[i] === '+' || query[i] === '-') {
      occur = query[i] === '+' ? 'must' : 'mustNot';
      i++;
      if (i >= n || isSpace(query[i])) throw new QuerySyntaxError(`"${query[start]}" needs a word or a phrase right after it`, start);
      if (query[i] === '+' || query[i] === '-') throw new QuerySyntaxError(`two operators in a row ("${query[start]}${query[i]}")`, i);
    }
    let clause: NormalClause;
    if (query[i] === '"') {
      const open = i;
      let text = '';
      i++;
      for (; i < n && query[i] !== '"'; i++) {
        if (query[i] === '\\' && i + 1 < n) i++;
        text += query[i];
      }
      if (i >= n) throw new QuerySyntaxError('unbalanced quote: this phrase is never closed', open);
      i++; // the closing quote
      if (i < n && !isSpace(query[i])) throw new QuerySyntaxError(`unexpected "${query[i]}" right after a phrase (put a space between)`, i);
      if (!WORDISH.test(text)) throw new QuerySyntaxError('empty phrase: it holds no letters or digits', open);
      clause = { kind: 'phrase', text };
    } else {
      let text = '';
      let star = -1;
      let tilde = -1;
      for (; i < n && !isSpace(query[i]); i++) {
        const c = query[i];
        if (c === '\\' && i + 1 < n) {
          text += query[++i];
          continue;
        }
        if (c === '"') throw new QuerySyntaxError('a quote inside a word: a phrase starts after a space', i);
        if (tilde >= 0) continue; // the distance, read below
        if (c === '*') {
          if (query[i + 1] === '~') throw new QuerySyntaxError('a word can be a prefix (*) or fuzzy (~), not both', i);
          if (star >= 0 || (i + 1 < n && !isSpace(query[i + 1]))) throw new QuerySyntaxError('"*" only works at the end of a word (a prefix: wing*)', i);
          star = i;
          continue;
        }
        if (c === '~') {
          if (star >= 0) throw new QuerySyntaxError('a word can be a prefix (*) or fuzzy (~), not both', i);
          tilde = i;
          continue;
        }
        text += c;
      }
      if (!WORDISH.test(text)) {
        if (star >= 0 || tilde >= 0 || occur !== 'should')
          throw new QuerySyntaxError(`"${query.slice(start, i)}" has no word: an operator needs letters or digits to apply to`, start);
        continue; // stray punctuation among plain words ("what is lift ?") is not a clause
      }
      if (star >= 0) clause = { kind: 'prefix', text };
      else if (tilde >= 0) {
        const d = query.slice(tilde + 1, i);
        if (d !== '' && d !== '1' && d !== '2') throw new QuerySyntaxError(`fuzzy distance must be 1 or 2 (word~1, word~2), got "~${d}"`, tilde);
        clause = { kind: 'fuzzy', text, distance: d === '1' ? 1 : 2 };
      } else clause = { kind: 'term', text };
    }
    out[occur].push(clause);
  }
  if (!out.must.length && !out.should.length && !out.mustNot.length) throw new QuerySyntaxError('empty query: type a word to search for', 0);
  return out;
}

/** Validates the structured form (what programs pass) into NormalQuery. */
export function normalizeQuery(q: BoolQuery): NormalQuery {
  if (q === null || typeof q !== 'object') throw new TypeError('a structured query must be an object { must?, should?, mustNot? }');
  const out: NormalQuery = { must: [], should: [], mustNot: [] };
  for (const occur of ['must', 'should', 'mustNot'] as const) {
    const list = q[occur];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new TypeError(`query.${occur} must be an array of clauses`);
    list.forEach((c, i) => out[occur].push(normalClause(c, `query.${occur}[${i}]`)));
  }
  if (!out.must.length && !out.should.length && !out.mustNot.length) throw new QuerySyntaxError('empty query: must, should and mustNot are all empty', 0);
  return out;
}

function normalClause(c: Clause, where: string): NormalClause {
  let out: NormalClause;
  if (typeof c === 'string') out = { kind: 'term', text: c };
  else if (c && typeof c === 'object') {
    const o = c as Record<string, unknown>;
    const kinds = (['term', 'phrase', 'prefix', 'fuzzy'] as const).filter((k) => k in o);
    if (kinds.length !== 1) throw new TypeError(`${where}: a clause is a string or one of { term }, { phrase }, { prefix }, { fuzzy, distance? }`);
    const kind = kinds[0];
    const text = o[kind];
    if (typeof text !== 'string') throw new TypeError(`${where}.${kind} must be a string`);
    out = { kind, text };
    if (kind === 'fuzzy') {
      const d = o.distance ?? 2;
      if (d !== 1 && d !== 2) throw new RangeError(`${where}: fuzzy distance must be 1 or 2, got ${String(d)}`);
      out.distance = d;
    }
  } else throw new TypeError(`${where}: a clause is a string or one of { term }, { phrase }, { prefix }, { fuzzy, distance? }`);
  if (!WORDISH.test(out.text)) throw new QuerySyntaxError(`${where} (${clauseLabel(out)}) has no letters or digits`, 0);
  return out;
}

/** Only optional plain words: a bag of words, which model modes use as it is (no constraint). */
export function isPlain(q: NormalQuery): boolean {
  return q.must.length === 0 && q.mustNot.length === 0 && q.should.every((c) => c.kind === 'term');
}

/** The words to give the encoder: the required and optional clauses' text, without operators or excluded words. */
export function positiveText(q: NormalQuery): string {
  return [...q.must, ...q.should].map((c) => c.text).join(' ');
}

/** Back to the query syntax (escaping what would read as an operator). parseQuery(format(q)) equals q. */
export function formatQuery(q: NormalQuery): string {
  const esc = (s: string, inPhrase: boolean) => (inPhrase ? s.replace(/["\\]/g, '\\$&') : s.replace(/["*~\\]|\s/g, '\\$&').replace(/^[+-]/, '\\$&'));
  const one = (c: NormalClause) => {
    if (c.kind === 'phrase') return `"${esc(c.text, true)}"`;
    const t = esc(c.text, false);
    return c.kind === 'prefix' ? `${t}*` : c.kind === 'fuzzy' ? `${t}~${c.distance ?? 2}` : t;
  };
  return [...q.must.map((c) => `+${one(c)}`), ...q.should.map(one), ...q.mustNot.map((c) => `-${one(c)}`)].join(' ');
}
