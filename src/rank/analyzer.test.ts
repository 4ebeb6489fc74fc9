import { describe, expect, it } from 'vitest';
import { analyze, analyzeTerms, forEachTermId, normalizeTerm, type AnalyzerOptions } from './analyzer.ts';
import { TermIds } from './term-ids.ts';

const terms = (text: string, opts?: AnalyzerOptions): string[] => analyze(text, opts).map((t) => t.term);

/** Every token's source slice must normalise to the token (before stemming). */
function expectOffsetsFold(text: string): void {
  for (const t of analyze(text)) {
    expect(t.start).toBeGreaterThanOrEqual(0);
    expect(t.end).toBeLessThanOrEqual(text.length);
    expect(t.start).toBeLessThan(t.end);
    const slice = text.slice(t.start, t.end);
    // CJK bigrams span two normalised units; their concatenation folds the same way.
    expect(normalizeTerm(slice)).toBe(t.term);
  }
}

describe('analyzer', () => {
  it('splits words, lower-cases and keeps offsets into the original', () => {
    const text = 'Hello, World!  The wing’s LIFT.';
    const toks = analyze(text);
    expect(toks.map((t) => t.term)).toEqual(['hello', 'world', 'the', 'wing', 'lift']);
    expect(toks.map((t) => text.slice(t.start, t.end))).toEqual(['Hello', 'World', 'The', 'wing’s', 'LIFT']);
    expectOffsetsFold(text);
  });

  it('folds diacritics but keeps letters that are not accents', () => {
    expect(terms('café Naïve RÉSUMÉ Ångström')).toEqual(['cafe', 'naive', 'resume', 'angstrom']);
    // Decomposed input (e + U+0301) folds the same as precomposed.
    expect(terms('cafe\u0301')).toEqual(['cafe']);
    // Devanagari vowel signs and the kana voicing mark are \p{M} but not accents: kept.
    expect(terms('नमस्ते')).toEqual(['नमस्ते']);
    expect(terms('が', { cjkBigrams: false })).toEqual(['が']);
    expect(terms('Straße ΣΊΣΥΦΟΣ σίσυφος')).toEqual(['strasse', 'σισυφοσ', 'σισυφοσ']);
  });

  it('applies NFKC per segment with offsets on the original text', () => {
    const text = 'ﬁnance ＡＢＣ１２３ ｶﾀｶﾅ';
    const toks = analyze(text);
    expect(toks[0]).toEqual({ term: 'finance', start: 0, end: 6 });
    expect(toks[1]).toEqual({ term: 'abc123', start: 7, end: 13 });
    expect(toks.map((t) => t.term)).toContain('カタカナ');
    expectOffsetsFold(text);
  });

  it('emits CJK words and overlapping bigrams, so a sub-word query still matches', () => {
    const text = '我们在北京大学学习';
    const ts = terms(text);
    // Dictionary words from ICU …
    expect(ts).toEqual(expect.arrayContaining(['我们', '北京', '大学', '学习', '在']));
    // … plus bigrams across the word boundaries.
    expect(ts).toEqual(expect.arrayContaining(['京大', '们在']));
    // Two-character words are not doubled by their identical bigram.
    expect(ts.filter((t) => t === '北京')).toHaveLength(1);
    expectOffsetsFold(text);
    // Korean is segmented only at spaces; bigrams make 세계 findable inside 세계입니다.
    expect(terms('세계입니다')).toEqual(expect.arrayContaining(['세계입니다', '세계']));
    // A query cut differently from the document still shares terms with it.
    const doc = new Set(terms('東京都に住んでいます'));
    expect(terms('京都').some((t) => doc.has(t))).toBe(true);
    // Half-width kana with a voicing mark is one unit: ｶﾞ normalises to ガ.
    expect(terms('ｶﾞｷﾞ')).toEqual(expect.arrayContaining(['ガギ']));
    expectOffsetsFold('ｶﾞｷﾞ テスト');
    expect(terms('北京大学', { cjkBigrams: false })).toEqual(['北京', '大学']);
  });

  it('stems English only when asked, and only a-z words', () => {
    expect(terms('running flies')).toEqual(['running', 'flies']);
    expect(terms('running flies aerodynamics', { stem: true })).toEqual(['run', 'fli', 'aerodynam']);
    expect(terms('naïve café 北京', { stem: true })).toEqual(['naiv', 'cafe', '北京']);
    expect(terms('3.14 x2', { stem: true })).toEqual(['3.14', 'x2']);
  });

  it('drops stop words only when asked', () => {
    expect(terms('The flow of air')).toEqual(['the', 'flow', 'of', 'air']);
    expect(terms('The flow of air', { stopWords: true })).toEqual(['flow', 'air']);
    expect(terms('The flow of air', { stopWords: ['flow'] })).toEqual(['the', 'of', 'air']);
  });

  it('has an ascii [a-z0-9]+ mode for reference baselines', () => {
    const text = "Boundary-layer 3.14 don't İx café";
    const toks = analyze(text, { tokenizer: 'ascii' });
    expect(toks.map((t) => t.term)).toEqual(['boundary', 'layer', '3', '14', 'don', 't', 'x', 'caf']);
    for (const t of toks) expect(text.slice(t.start, t.end).toLowerCase()).toBe(t.term);
  });

  it('survives weird input', () => {
    expect(analyze('')).toEqual([]);
    expect(analyze('   \n\t ')).toEqual([]);
    expect(analyze(undefined as unknown as string)).toEqual([]);
    expect(terms('a\u0000b\u0001c')).toEqual(['a', 'b', 'c']);
    const lone = 'ab\ud800cd \udc00ef \ud83d\ude00 gh';
    const ts = terms(lone);
    for (const t of ts) expect(t).not.toMatch(/[\ud800-\udfff]/);
    expect(ts).toContain('gh');
    expectOffsetsFold(lone);
    expect(terms('\u0301\u0301 ok')).toEqual(['ok']);
    // Longer than maxTokenLength: a blob, not a word.
    expect(terms('x'.repeat(100) + ' ok')).toEqual(['ok']);
  });

  it('segments long text in chunks without changing the words', () => {
    const words = ['alpha', 'Beta', "don't", '3.14', 'e-mail', 'café', 'x_y', 'U.S.A.', 'Ωmega'];
    const parts: string[] = [];
    let seed = 7;
    for (let i = 0; i < 1500; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      parts.push(words[seed % words.length], [' ', '\n', '. ', ', ', '  '][seed % 5]);
    }
    const text = parts.join('');
    expect(text.length).toBeGreaterThan(5000); // several 1-2k chunks
    const seg = new Intl.Segmenter(undefined, { granularity: 'word' });
    const expected = [...seg.segment(text)].filter((s) => s.isWordLike).map((s) => [s.index, normalizeTerm(s.segment)]);
    expect(analyze(text).map((t) => [t.start, t.term])).toEqual(expected);
  });

  it('scales linearly to 100k characters, including unspaced CJK and one giant word', () => {
    // A timing bound alone fails on a loaded machine and passes a quadratic path on a fast one; the ratio of
    // 100k to 10k characters (best of 3 each) separates linear (~10x) from quadratic (~100x) on any host.
    const cases = [
      { unit: 'The quick brown fox jumps over the lazy dog near café Zürich. ', kind: 'words' },
      { unit: '我们在北京大学学习自然语言处理', kind: 'cjk' },
      { unit: 'a', kind: 'blob' },
    ];
    const best = (text: string) => {
      let ms = Infinity;
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        analyzeTerms(text, { stem: true });
        ms = Math.min(ms, performance.now() - t0);
      }
      return ms;
    };
    for (const { unit, kind } of cases) {
      const big = unit.repeat(Math.ceil(100_000 / unit.length));
      const small = big.slice(0, big.length / 10);
      const toks = analyzeTerms(big, { stem: true });
      if (kind === 'words')
        expect(toks.length).toBe(analyzeTerms(unit, { stem: true }).length * Math.ceil(100_000 / unit.length)); // repeats analyse alike
      else if (kind === 'blob')
        expect(toks).toEqual([]); // one 100k-character word is a blob: dropped (maxTermLength)
      else expect(toks.length).toBeGreaterThan(10_000); // CJK bigrams
      expect(best(big) / Math.max(best(small), 0.5)).toBeLessThan(40);
    }
  });
});

describe('TermIds', () => {
  it('gives the surfaces of one term one id, and a dropped word −1', () => {
    const ids = new TermIds();
    const got = (text: string, opts?: AnalyzerOptions) => {
      const out: [number, number][] = [];
      forEachTermId(text, opts, ids, (id, start) => out.push([id, start]));
      return out.map(([id, start]) => [ids.names[id], start]);
    };
    expect(got("Wing wing's WING the wings")).toEqual([
      ['wing', 0],
      ['wing', 5],
      ['wing', 12],
      ['the', 17],
      ['wings', 21],
    ]);
    expect(ids.names).toEqual(['wing', 'the', 'wings']);
    const stop = new TermIds();
    const seen: number[] = [];
    forEachTermId('the Wing the', { stopWords: true }, stop, (id) => seen.push(id));
    expect(seen).toEqual([0]);
    expect(stop.lookup('the', 0, 3)).toBe(-1); // remembered as dropped
  });
});
