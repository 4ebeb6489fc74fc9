/**
 * The ASCII fast path must give exactly what Intl.Segmenter gives: same words at the same offsets,
 * and through the analyzer the same tokens, on random ASCII (biased towards the characters UAX #29
 * treats specially), on real text (Cranfield, the README, this repository's code) and on long texts
 * (the segmenter path cuts those into pieces).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { analyze, analyzerInternals, asciiFastPathActive, asciiRulesInUse, forEachAsciiWord, type AnalyzerOptions } from './analyzer.ts';
import { mulberry32 } from '../util/random.ts';

const seg = new Intl.Segmenter(undefined, { granularity: 'word' });

function segmenterWords(text: string): string[] {
  const out: string[] = [];
  for (const s of seg.segment(text)) if (s.isWordLike) out.push(`${s.index}+${s.segment}`);
  return out;
}

function fastWords(text: string): string[] {
  const out: string[] = [];
  forEachAsciiWord(text, (a, b) => out.push(`${a}+${text.slice(a, b)}`), asciiRulesInUse()!);
  return out;
}

function slow<T>(fn: () => T): T {
  analyzerInternals.asciiFastPath = false;
  try {
    return fn();
  } finally {
    analyzerInternals.asciiFastPath = true;
  }
}

/** Random ASCII: every code point 0..127 can occur, the rule-relevant ones far more often. */
function randomAscii(r: () => number, len: number): string {
  const hot = "aZ9_:.',; \t\n\r'sS";
  let s = '';
  for (let i = 0; i < len; i++) {
    const x = r();
    if (x < 0.55) s += hot[Math.floor(r() * hot.length)];
    else if (x < 0.85) s += String.fromCharCode(97 + Math.floor(r() * 26));
    else s += String.fromCharCode(Math.floor(r() * 128));
  }
  return s;
}

function realTexts(): string[] {
  const out: string[] = [];
  const cran = readFileSync(join(__dirname, '../../data/cranfield/cran.all.1400'), 'utf8');
  out.push(...cran.split('\n.I ').slice(0, 1400));
  out.push(readFileSync(join(__dirname, '../../README.md'), 'utf8').replace(/[^\x00-\x7f]/g, ' '));
  for (const dir of ['.', '../search', '../store']) {
    for (const f of readdirSync(join(__dirname, dir))) {
      if (f.endsWith('.ts')) out.push(readFileSync(join(__dirname, dir, f), 'utf8').replace(/[^\x00-\x7f]/g, ' '));
    }
  }
  return out;
}

describe('analyzer ASCII fast path', () => {
  afterEach(() => {
    analyzerInternals.asciiFastPath = true;
  });

  it('is active on this runtime (its segmenter agrees on the probe cases)', () => {
    expect(asciiFastPathActive()).toBe(true);
    // Node's ICU: Unicode's default joiners (Chromium's tailoring joins only "'" between letters).
    const r = asciiRulesInUse()!;
    expect([...":.',;"].filter((c) => r.betweenLetters[c.charCodeAt(0)])).toEqual([':', '.', "'"]);
    expect([...":.',;"].filter((c) => r.betweenDigits[c.charCodeAt(0)])).toEqual(['.', "'", ',', ';']);
  });

  it('finds the same words as Intl.Segmenter on random ASCII', () => {
    const r = mulberry32(7);
    for (let i = 0; i < 20_000; i++) {
      const t = randomAscii(r, 1 + Math.floor(r() * 40));
      expect(fastWords(t), JSON.stringify(t)).toEqual(segmenterWords(t));
    }
  });

  it('finds the same words as Intl.Segmenter on real text (Cranfield, README, code)', () => {
    for (const t of realTexts()) expect(fastWords(t)).toEqual(segmenterWords(t));
  });

  it('gives the analyzer the same tokens as the segmenter path, with every option', () => {
    const r = mulberry32(11);
    const texts = [...realTexts(), ...Array.from({ length: 2000 }, () => randomAscii(r, 1 + Math.floor(r() * 200)))];
    // Long texts: the segmenter path cuts them into pieces; the fast path must still agree.
    texts.push(Array.from({ length: 400 }, () => randomAscii(r, 30)).join(' '), texts.slice(0, 50).join('\n'));
    const options: AnalyzerOptions[] = [{}, { stopWords: true, stem: true }, { maxTokenLength: 5 }];
    for (const o of options) {
      for (const t of texts) expect(analyze(t, o)).toEqual(slow(() => analyze(t, o)));
    }
  });

  it('leaves non-ASCII text to the segmenter', () => {
    const t = 'Ångström café: naïve 3,14 don’t';
    expect(analyze(t)).toEqual(slow(() => analyze(t)));
  });
});
