import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AnalyzerOptions } from '../rank/analyzer.ts';
import { analyzeTermPositions } from '../rank/term-stats.ts';
import { bm25BlockOf } from './bm25-batch.ts';
import { MAX_STORED_TF } from './bm25-postings.ts';
import { buildBm25, type PreparedDoc } from './segment-builder.ts';

/** The block the per-document path builds: analyzeTermPositions per text, then buildBm25. */
function reference(texts: string[], analyzer?: AnalyzerOptions) {
  const docs: PreparedDoc[] = texts.map((text, i) => ({ key: i, id: `d${i}`, metadata: null, rows: [], bm25: analyzeTermPositions(text, analyzer) }));
  return buildBm25(docs);
}

describe('bm25BlockOf', () => {
  it('builds the same block as analyzeTermPositions + buildBm25: repeats, shared starts (CJK), empty texts, other analyzers', () => {
    const texts = [
      'the wing the wing of the WING',
      '',
      '東京都に住んでいます 東京',
      'Ünïcödé café CAFE café naïve',
      '   ',
      'x',
      'a b a b a b a b c',
      '서울에서 만나요 서울',
    ];
    for (const analyzer of [undefined, { stem: true, stopWords: true }, { tokenizer: 'ascii' as const }, { cjkBigrams: false }]) {
      expect(bm25BlockOf(texts, analyzer)).toEqual(reference(texts, analyzer));
      expect(bm25BlockOf(texts.slice(1, 2), analyzer)).toEqual(reference(texts.slice(1, 2), analyzer));
    }
  });

  it('keeps every position of a term counted past MAX_STORED_TF', () => {
    const texts = ['z', `${'y '.repeat(MAX_STORED_TF + 3)}z`];
    expect(bm25BlockOf(texts)).toEqual(reference(texts));
  });

  it('matches the per-document path on plain-ASCII texts (the surface table), with every analyzer', () => {
    const word = fc.constantFrom('Wing', 'wing', "wing's", "WING'S", 'the', 'The', 'running', 'runs', 'x1', '3.14', 'a_b', "don't", 'e.g', 'U.S.A');
    const text = fc
      .array(
        fc.oneof(
          word,
          fc.string({ maxLength: 5 }).map((s) => s.replace(/[^\x00-\x7f]/g, '')),
        ),
        { maxLength: 40 },
      )
      .map((ws) => ws.join(' '));
    for (const analyzer of [undefined, { stem: true, stopWords: true }, { stopWords: ['wing'], maxTokenLength: 4 }]) {
      fc.assert(
        fc.property(fc.array(text, { minLength: 1, maxLength: 12 }), (texts) => {
          expect(bm25BlockOf(texts, analyzer)).toEqual(reference(texts, analyzer));
        }),
        { numRuns: 100 },
      );
    }
    // Enough distinct words to grow the surface table several times.
    const many = Array.from({ length: 300 }, (_, i) => Array.from({ length: 40 }, (_, j) => `W${(i * 41 + j * 7) % 5000}x`).join(' '));
    expect(bm25BlockOf(many)).toEqual(reference(many));
  });

  it('matches the per-document path on arbitrary texts', () => {
    const word = fc.constantFrom('alpha', 'beta', 'Gamma', 'δέλτα', '東京', '都', 'ab', "don't", 'x1', '3.14', '😀');
    const text = fc.array(fc.oneof(word, fc.string({ maxLength: 6 })), { maxLength: 30 }).map((ws) => ws.join(' '));
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 12 }), (texts) => {
        expect(bm25BlockOf(texts)).toEqual(reference(texts));
      }),
      { numRuns: 200 },
    );
  });
});
