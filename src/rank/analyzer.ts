/**
 * Multilingual analyzer for the BM25 side of the hybrid ranker.
 *
 * Pipeline per word: Intl.Segmenter (UAX #29 + ICU dictionaries) on the ORIGINAL text → NFKC →
 * lower case (locale-independent) → diacritic folding → optional stop words → optional English
 * stemming. Every step runs on one segment at a time, so a token's offsets are simply its
 * segment's offsets in the original text, whatever the normalisation does to the length
 * (ligatures, full-width forms, decomposed accents).
 *
 * CJK: Node's ICU segments Chinese and Japanese with a dictionary and Thai/Lao/Khmer/Burmese too,
 * but Korean only at spaces (eojeol, with particles glued on: "세계입니다"), and a dictionary
 * segmenter can cut a short query differently from the same words inside a long document. So for
 * runs of Han/Kana/Hangul we emit the segmenter's words AND overlapping character bigrams of the
 * run (Lucene's CJKBigramFilter idea). Bigrams guarantee recall whatever the segmentation;
 * the words keep single-character words (都, 水) and make exact-word matches score higher, as they
 * match twice. Two-character words equal a bigram at the same offsets and are emitted once.
 */
import { stemmer } from 'stemmer';
import { asciiRulesFor, type AsciiWordRules, forEachAsciiWord, NON_ASCII } from './ascii-words.ts';
import { TermIds } from './term-ids.ts';

export { forEachAsciiWord } from './ascii-words.ts';

export interface Token {
  term: string;
  /** UTF-16 offsets into the original text: text.slice(start, end) is what the term came from. */
  start: number;
  end: number;
}

export interface AnalyzerOptions {
  /** English Porter stemming of terms made of a-z letters only. Default false. */
  stem?: boolean;
  /** true: the default English list; or your own words (compared after folding). Default false. */
  stopWords?: boolean | readonly string[] | ReadonlySet<string>;
  /** Overlapping bigrams for Han/Kana/Hangul runs. Default true. */
  cjkBigrams?: boolean;
  /**
   * 'unicode' (default): the pipeline above. 'ascii': lower-cased `[a-z0-9]+` runs, nothing else;
   * the classic baseline tokenizer, kept to reproduce published figures.
   */
  tokenizer?: 'unicode' | 'ascii';
  /** Words longer than this (UTF-16 units, after normalisation) are dropped: blobs, not words. Default 64. */
  maxTokenLength?: number;
  /** Segmenter locale; undefined = runtime default. Word breaking hardly depends on it. */
  locale?: string;
}

/** Lucene's classic English stop set: short, so it removes noise without hurting phrase-like queries. */
export const ENGLISH_STOP_WORDS: readonly string[] = [
  'a',
  'an',
  'and',
  'are',
  'as',
  'at',
  'be',
  'but',
  'by',
  'for',
  'if',
  'in',
  'into',
  'is',
  'it',
  'no',
  'not',
  'of',
  'on',
  'or',
  'such',
  'that',
  'the',
  'their',
  'then',
  'there',
  'these',
  'they',
  'this',
  'to',
  'was',
  'will',
  'with',
];

const DEFAULT_STOP = new Set(ENGLISH_STOP_WORDS);

// Constructing a segmenter costs far more than using one.
const segmenters = new Map<string, Intl.Segmenter>();
function segmenterFor(locale: string | undefined): Intl.Segmenter {
  const id = locale ?? '';
  let s = segmenters.get(id);
  if (!s) {
    s = new Intl.Segmenter(locale, { granularity: 'word' });
    segmenters.set(id, s);
  }
  return s;
}

/*
 * Only the combining marks that act as accents on Latin/Greek/Cyrillic are stripped. Stripping
 * every \p{M} would destroy Indic/Thai vowel signs and the kana voicing mark (が → か).
 */
const ACCENT_MARKS = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// NFKC can turn a word into something with edge punctuation (㈱ → "(株)"); words don't keep it.
const EDGE_JUNK = /^[^\p{L}\p{N}\p{M}]+|[^\p{L}\p{N}\p{M}]+$/gu;
const CJK_CHAR = /[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}]/u;
// A CJK "unit": one letter-ish code point of those scripts plus the marks that attach to it
// (combining voicing marks, half-width ﾞ ﾟ), so NFKC sees ｶﾞ as one character.
const CJK_RUN = /(?:(?=[\p{L}\p{Nl}])[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}][\p{M}\uff9e\uff9f]*)+/gu;
const CJK_UNIT = /(?=[\p{L}\p{Nl}])[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}][\p{M}\uff9e\uff9f]*/gu;

function isPlainAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7e || c < 0x20) return false;
  }
  return true;
}

/** NFKC + lower case + accent folding of one word, with small fix-ups. May return ''. */
export function normalizeTerm(word: string): string {
  let s: string;
  if (isPlainAscii(word)) {
    s = word.toLowerCase();
  } else {
    s = word.replace(LONE_SURROGATE, '').normalize('NFKC').toLowerCase();
    s = s.normalize('NFD').replace(ACCENT_MARKS, '').normalize('NFC');
    // Case-folding fix-ups toLowerCase leaves: ß/ẞ and final sigma fold like their plain forms;
    // typographic apostrophes become ASCII so "don’t" = "don't".
    s = s
      .replace(/ß/g, 'ss')
      .replace(/ς/g, 'σ')
      .replace(/[\u2019\u02bc\uff07]/g, "'");
    s = s.replace(EDGE_JUNK, '');
  }
  // English possessive (Lucene's EnglishPossessiveFilter): "wing's" indexes as "wing".
  const n = s.length;
  if (n > 2 && s.charCodeAt(n - 2) === 39 /* ' */ && s.charCodeAt(n - 1) === 115 /* s */) s = s.slice(0, n - 2);
  return s;
}

interface Resolved {
  stem: boolean;
  stop: ReadonlySet<string> | null;
  bigrams: boolean;
  ascii: boolean;
  maxLen: number;
  segmenter: Intl.Segmenter | null;
}

function resolve(opts: AnalyzerOptions | undefined): Resolved {
  const o = opts ?? {};
  const sw = o.stopWords;
  let stop: ReadonlySet<string> | null = null;
  if (sw === true) stop = DEFAULT_STOP;
  else if (sw && typeof sw === 'object') stop = sw instanceof Set ? (sw as ReadonlySet<string>) : new Set(sw as readonly string[]);
  const ascii = o.tokenizer === 'ascii';
  return {
    stem: o.stem === true,
    stop,
    bigrams: o.cjkBigrams !== false,
    ascii,
    maxLen: o.maxTokenLength ?? 64,
    segmenter: ascii ? null : segmenterFor(o.locale),
  };
}

const ONLY_AZ = /^[a-z]+$/;

// Word frequencies are Zipfian, so a small memo spares most Porter runs; cleared when full
// rather than LRU-managed, which is cheaper and good enough.
const stemCache = new Map<string, string>();
function stemCached(term: string): string {
  let s = stemCache.get(term);
  if (s === undefined) {
    if (stemCache.size >= 50_000) stemCache.clear();
    s = stemmer(term);
    stemCache.set(term, s);
  }
  return s;
}

/** Stop-word check and stemming of a normalised term; '' means "drop". */
function finish(term: string, r: Resolved): string {
  if (term.length === 0 || term.length > r.maxLen) return '';
  if (r.stop?.has(term)) return '';
  if (r.stem && term.length > 2 && ONLY_AZ.test(term)) return stemCached(term);
  return term;
}

const ASCII_WORD = /[A-Za-z0-9]+/g;

/*
 * V8's segment iterator gets slower per segment as the string grows (100 kB of text: ~0.7 s in
 * one piece, ~25 ms in 1 kB pieces), so long texts are segmented in chunks cut where UAX #29
 * always breaks: before a letter/digit that follows whitespace or CJK sentence punctuation
 * (never inside "3.14" or "don't", never inside a Han run the dictionary would see).
 */
const CHUNK = 1024;
const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;

function isBreakBefore(text: string, i: number): boolean {
  const p = text.charCodeAt(i - 1);
  const safePrev =
    p === 32 ||
    (p >= 9 && p <= 13) ||
    p === 0xa0 ||
    p === 0x3000 || // whitespace
    p === 0x3001 ||
    p === 0x3002 ||
    p === 0xff0c ||
    p === 0xff01 ||
    p === 0xff1f ||
    p === 0xff1b ||
    p === 0xff1a;
  if (!safePrev) return false;
  const c = text.charCodeAt(i);
  if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57)) return true;
  return c > 127 && LETTER_OR_DIGIT.test(text[i]) && !(c >= 0xdc00 && c <= 0xdfff);
}

function forEachWord(text: string, seg: Intl.Segmenter, cb: (word: string, index: number) => void): void {
  const n = text.length;
  let pos = 0;
  while (pos < n) {
    let end = n;
    if (n - pos > 2 * CHUNK) {
      end = -1;
      const limit = pos + 2 * CHUNK;
      for (let i = pos + CHUNK; i < limit; i++) {
        if (isBreakBefore(text, i)) {
          end = i;
          break;
        }
      }
      if (end < 0) {
        // No safe break (a huge unspaced run): cut anyway, but not inside a surrogate pair.
        end = limit;
        const c = text.charCodeAt(end);
        if (c >= 0xdc00 && c <= 0xdfff) end++;
      }
    }
    const piece = pos === 0 && end === n ? text : text.slice(pos, end);
    for (const s of seg.segment(piece)) if (s.isWordLike) cb(s.segment, pos + s.index);
    pos = end;
  }
}

/** For tests: whether the ASCII fast path is in use with these options on this runtime. */
export function asciiFastPathActive(opts?: AnalyzerOptions): boolean {
  const r = resolve(opts);
  return !r.ascii && r.segmenter !== null && asciiRulesFor(r.segmenter) !== null;
}

/** For tests: the ASCII rules in use with these options on this runtime (null: segmenter only). */
export function asciiRulesInUse(opts?: AnalyzerOptions): AsciiWordRules | null {
  const r = resolve(opts);
  return r.segmenter ? asciiRulesFor(r.segmenter) : null;
}

/** Set false (tests) to force Intl.Segmenter on every text. */
export const analyzerInternals = { asciiFastPath: true };

/** normalizeTerm + finish for an ASCII word (normalizeTerm's ASCII branch). */
function asciiTerm(text: string, start: number, end: number, upper: boolean, r: Resolved): string {
  let s = text.slice(start, end);
  if (upper) s = s.toLowerCase();
  const n = s.length;
  if (n > 2 && s.charCodeAt(n - 2) === 39 /* ' */ && s.charCodeAt(n - 1) === 115 /* s */) s = s.slice(0, n - 2);
  return finish(s, r);
}

/**
 * Tokens in text order (by start, then end). `emit` gets each token; returning the array form is
 * a thin wrapper so hot paths (indexing, queries) can skip the objects.
 */
function run(text: string, r: Resolved, emit: (term: string, start: number, end: number) => void): void {
  if (typeof text !== 'string' || text.length === 0) return;
  if (r.ascii) {
    // Matching on the original (not a lower-cased copy) keeps offsets exact: toLowerCase can
    // change lengths (İ → i̇).
    ASCII_WORD.lastIndex = 0;
    for (let m = ASCII_WORD.exec(text); m !== null; m = ASCII_WORD.exec(text)) {
      const t = finish(m[0].toLowerCase(), r);
      if (t) emit(t, m.index, m.index + m[0].length);
    }
    return;
  }
  if (analyzerInternals.asciiFastPath && !NON_ASCII.test(text)) {
    const rules = asciiRulesFor(r.segmenter!);
    if (rules) {
      forEachAsciiWord(
        text,
        (start, end, upper) => {
          const t = asciiTerm(text, start, end, upper, r);
          if (t) emit(t, start, end);
        },
        rules,
      );
      return;
    }
  }
  const hasCjk = r.bigrams && CJK_CHAR.test(text);
  if (!hasCjk) {
    forEachWord(text, r.segmenter!, (word, index) => {
      const t = finish(normalizeTerm(word), r);
      if (t) emit(t, index, index + word.length);
    });
    return;
  }
  // With CJK: collect words and bigrams, then merge in offset order, dropping exact duplicates.
  const toks: Token[] = [];
  forEachWord(text, r.segmenter!, (word, index) => {
    const t = finish(normalizeTerm(word), r);
    if (t) toks.push({ term: t, start: index, end: index + word.length });
  });
  CJK_RUN.lastIndex = 0;
  for (let m = CJK_RUN.exec(text); m !== null; m = CJK_RUN.exec(text)) {
    const base = m.index;
    const units: { s: string; start: number; end: number }[] = [];
    CJK_UNIT.lastIndex = 0;
    const runText = m[0];
    for (let u = CJK_UNIT.exec(runText); u !== null; u = CJK_UNIT.exec(runText)) {
      units.push({ s: normalizeTerm(u[0]), start: base + u.index, end: base + u.index + u[0].length });
    }
    // A one-character run is covered by the segmenter's word for it.
    for (let i = 0; i + 1 < units.length; i++) {
      const t = finish(units[i].s + units[i + 1].s, r);
      if (t) toks.push({ term: t, start: units[i].start, end: units[i + 1].end });
    }
  }
  toks.sort((a, b) => a.start - b.start || a.end - b.end || (a.term < b.term ? -1 : a.term > b.term ? 1 : 0));
  let prev: Token | null = null;
  for (const t of toks) {
    if (prev !== null && prev.start === t.start && prev.end === t.end && prev.term === t.term) continue;
    emit(t.term, t.start, t.end);
    prev = t;
  }
}

/** Analyze text into tokens with offsets into the original string (for highlighting). */
export function analyze(text: string, opts?: AnalyzerOptions): Token[] {
  const out: Token[] = [];
  run(text, resolve(opts), (term, start, end) => out.push({ term, start, end }));
  return out;
}

/** Same terms as analyze(), without offsets: what indexing and query parsing need. */
export function analyzeTerms(text: string, opts?: AnalyzerOptions): string[] {
  const out: string[] = [];
  run(text, resolve(opts), (term) => out.push(term));
  return out;
}

/** Calls `emit` for each term of the text, in text order, with its character span (term-stats.ts builds on it). */
export function forEachTerm(text: string, opts: AnalyzerOptions | undefined, emit: (term: string, start: number, end: number) => void): void {
  run(text, resolve(opts), emit);
}

/** forEachTerm with each term as its TermIds id (the same terms, in the same order, at the same starts). */
export function forEachTermId(text: string, opts: AnalyzerOptions | undefined, ids: TermIds, emit: (id: number, start: number) => void): void {
  const r = resolve(opts);
  if (typeof text === 'string' && !r.ascii && analyzerInternals.asciiFastPath && !NON_ASCII.test(text)) {
    const rules = asciiRulesFor(r.segmenter!);
    if (rules) {
      forEachAsciiWord(
        text,
        (start, end, upper) => {
          let id = ids.lookup(text, start, end);
          if (id === TermIds.MISS) id = ids.insert(text, start, end, asciiTerm(text, start, end, upper, r));
          if (id >= 0) emit(id, start);
        },
        rules,
      );
      return;
    }
  }
  run(text, r, (term, start) => emit(ids.of(term), start));
}

/**
 * A structured-cloneable copy of the options (stop-word sets become arrays), for storing next to
 * an index so queries are later analyzed exactly like the documents were.
 */
export function cloneableAnalyzerOptions(opts?: AnalyzerOptions): AnalyzerOptions {
  const o = opts ?? {};
  const out: AnalyzerOptions = {};
  if (o.stem !== undefined) out.stem = o.stem;
  if (o.stopWords !== undefined) out.stopWords = typeof o.stopWords === 'boolean' ? o.stopWords : [...o.stopWords];
  if (o.cjkBigrams !== undefined) out.cjkBigrams = o.cjkBigrams;
  if (o.tokenizer !== undefined) out.tokenizer = o.tokenizer;
  if (o.maxTokenLength !== undefined) out.maxTokenLength = o.maxTokenLength;
  if (o.locale !== undefined) out.locale = o.locale;
  return out;
}
