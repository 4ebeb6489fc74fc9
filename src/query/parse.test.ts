import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatQuery, isPlain, normalizeQuery, parseQuery, positiveText, QuerySyntaxError, type NormalQuery } from './parse.ts';
import { termsWithinSorted } from './levenshtein.ts';

const t = (text: string) => ({ kind: 'term', text });

describe('parseQuery', () => {
  it('reads every clause form', () => {
    expect(parseQuery('wing +lift -"boundary layer" aero* flw~1 drag~ +"mach number" -super*')).toEqual({
      must: [t('lift'), { kind: 'phrase', text: 'mach number' }],
      should: [t('wing'), { kind: 'prefix', text: 'aero' }, { kind: 'fuzzy', text: 'flw', distance: 1 }, { kind: 'fuzzy', text: 'drag', distance: 2 }],
      mustNot: [
        { kind: 'phrase', text: 'boundary layer' },
        { kind: 'prefix', text: 'super' },
      ],
    });
  });

  it('treats + and - inside a word as part of it, and \\ as an escape', () => {
    expect(parseQuery('high-speed c++ \\-dash \\"quoted\\" a\\*b')).toEqual({
      must: [],
      should: [t('high-speed'), t('c++'), t('-dash'), t('"quoted"'), t('a*b')],
      mustNot: [],
    });
    expect(parseQuery('"say \\"hi\\" now"').should).toEqual([{ kind: 'phrase', text: 'say "hi" now' }]);
  });

  it('skips stray punctuation among plain words, but not after an operator', () => {
    expect(parseQuery('what is lift ?').should.map((c) => c.text)).toEqual(['what', 'is', 'lift']);
    expectError('lift +?', 'has no word', 5);
    expectError('lift ?*', 'has no word', 5);
  });

  it.each([
    ['"boundary layer', 'unbalanced quote', 0],
    ['wing "boundary layer', 'unbalanced quote', 5],
    ['wing + lift', 'needs a word or a phrase', 5],
    ['wing -', 'needs a word or a phrase', 5],
    ['+-wing', 'two operators', 1],
    ['', 'empty query', 0],
    ['   ', 'empty query', 0],
    ['?!', 'empty query', 0],
    ['"  "', 'empty phrase', 0],
    ['"a b"c', 'right after a phrase', 5],
    ['wi"ng', 'quote inside a word', 2],
    ['a*b', 'only works at the end', 1],
    ['*', 'has no word', 0],
    ['wing~3', 'must be 1 or 2', 4],
    ['wing~x', 'must be 1 or 2', 4],
    ['wing*~1', 'not both', 4],
  ])('%j is a QuerySyntaxError (%s) at %i', (q, msg, pos) => expectError(q, msg, pos));

  it('round-trips through formatQuery on generated queries', () => {
    const word = fc.stringMatching(/^[a-zé+\-*~"\\ 東京]{1,8}$/).filter((s) => /[a-zé東京]/.test(s));
    const clause = fc.oneof(
      word.map((text) => ({ kind: 'term' as const, text })),
      word.map((text) => ({ kind: 'phrase' as const, text })),
      word.filter((s) => !/\s/.test(s)).map((text) => ({ kind: 'prefix' as const, text })),
      fc
        .tuple(
          word.filter((s) => !/\s/.test(s)),
          fc.constantFrom(1 as const, 2 as const),
        )
        .map(([text, distance]) => ({ kind: 'fuzzy' as const, text, distance })),
    );
    const query = fc
      .record({ must: fc.array(clause, { maxLength: 3 }), should: fc.array(clause, { maxLength: 3 }), mustNot: fc.array(clause, { maxLength: 3 }) })
      .filter((q) => q.must.length + q.should.length + q.mustNot.length > 0);
    fc.assert(
      fc.property(query, (q: NormalQuery) => {
        const norm = (x: NormalQuery) => ({ ...x, should: x.should });
        expect(parseQuery(formatQuery(q))).toEqual(norm(q));
      }),
      { numRuns: 300 },
    );
  });
});

function expectError(q: string, msg: string, position: number): void {
  let err: unknown;
  try {
    parseQuery(q);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(QuerySyntaxError);
  expect((err as QuerySyntaxError).message).toContain(msg);
  expect((err as QuerySyntaxError).position).toBe(position);
}

describe('normalizeQuery (the structured form)', () => {
  it('accepts strings and one-key clause objects', () => {
    expect(
      normalizeQuery({
        must: ['wing', { phrase: 'boundary layer' }],
        mustNot: [{ prefix: 'super' }],
        should: [{ fuzzy: 'lft', distance: 1 }, { fuzzy: 'drg' }, { term: 'x' }],
      }),
    ).toEqual({
      must: [t('wing'), { kind: 'phrase', text: 'boundary layer' }],
      should: [{ kind: 'fuzzy', text: 'lft', distance: 1 }, { kind: 'fuzzy', text: 'drg', distance: 2 }, t('x')],
      mustNot: [{ kind: 'prefix', text: 'super' }],
    });
  });

  it('rejects malformed clauses with the path of the culprit', () => {
    expect(() => normalizeQuery({ must: 'wing' as never })).toThrow(/query.must must be an array/);
    expect(() => normalizeQuery({ must: [{ phrase: 'a', prefix: 'b' } as never] })).toThrow(/query.must\[0\]: a clause is/);
    expect(() => normalizeQuery({ should: [{ fuzzy: 'a', distance: 3 as never }] })).toThrow(/fuzzy distance must be 1 or 2/);
    expect(() => normalizeQuery({ should: [{ phrase: 5 as never }] })).toThrow(/query.should\[0\].phrase must be a string/);
    expect(() => normalizeQuery({ mustNot: ['  '] })).toThrow(QuerySyntaxError);
    expect(() => normalizeQuery({})).toThrow(/empty query/);
  });
});

describe('isPlain / positiveText', () => {
  it('plain optional words are a bag of words; any operator makes a Boolean query', () => {
    expect(isPlain(parseQuery('wing lift'))).toBe(true);
    for (const q of ['+wing', '-wing lift', '"a b"', 'wi*', 'wing~1']) expect(isPlain(parseQuery(q))).toBe(false);
  });
  it('the encoder reads required and optional words, never the excluded ones', () => {
    expect(positiveText(parseQuery('like +this "and that" -never pre* typo~1'))).toBe('this like and that pre typo');
  });
});

const editDistance = (a: string, b: string) => {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
};

describe('termsWithinSorted', () => {
  it('finds exactly the dictionary terms within the distance (full DP reference)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[abcé]{1,7}$/), { maxLength: 60 }),
        fc.stringMatching(/^[abcé]{0,7}$/),
        fc.integer({ min: 0, max: 2 }),
        (dict, q, max) => {
          const sorted = [...dict].sort();
          expect(termsWithinSorted(sorted, q, max)).toEqual(sorted.filter((t) => editDistance(q, t) <= max));
        },
      ),
      { numRuns: 1500 },
    );
  });
});
