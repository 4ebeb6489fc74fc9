// SentencePiece-Unigram vocabulary for the tiny test tokenizer. Ids follow XLM-R: <s>=0 <pad>=1 </s>=2 <unk>=3,
// <mask> last. Scores are log-probabilities arranged in bands so Viterbi prefers, in order: a whole listed
// word ("▁flow", -4.5..-8.5) over any split of it (every non-word piece is <= -8.6, so two pieces sum to
// < -12), affixes over letter pairs over single characters. Everything is derived from committed data.
import { readFileSync } from 'node:fs';

// English word list (words-en.txt, one a line): ~650 hand-picked common English words followed by the
// frequent (>= 3 occurrences) lowercase words of the Cranfield titles/abstracts/queries, most frequent first.
// Extracted once while developing and committed, so the generator never reads the dataset.
export const WORDS_EN: readonly string[] = readFileSync(new URL('./words-en.txt', import.meta.url), 'utf8')
  .trim()
  .split('\n');

export const SPECIALS = { bos: '<s>', pad: '<pad>', eos: '</s>', unk: '<unk>', mask: '<mask>' } as const;
export const WORD_MARK = '\u2581'; // ▁

export type Piece = [piece: string, score: number];

const PUNCT = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const DIGITS = '0123456789';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = LOWER.toUpperCase();

// Frequent English sub-word units (suffixes first, then prefixes usable word-initially).
const SUFFIXES = (
  'ing ed s es er ers est ly tion tions sion sions ation ations ment ments ness ity ities ive ively al ally ' +
  'ial ic ical ically ous ously able ably ible ance ence ant ent ism ist ists ize ized izing ise ful less ' +
  'ship ward wards wise like y ies ied ier iest ate ated ating ator ators ure ures age ary ory ery ish ' +
  'ism th ward en ened ening ify ified ics logy meter meters metric graph graphs'
).split(' ');
const PREFIXES = (
  'un re in im dis non pre post sub super hyper hypo inter intra trans anti counter over under semi multi ' +
  'poly mono bi tri de mis co ex micro macro aero thermo hydro electro magneto'
).split(' ');

// CJK coverage: a hand-picked list of frequent Chinese characters and common Hangul syllables, then the start
// of the unified-ideograph block (U+4E00..), all hiragana and katakana, and the first Hangul syllables. Real
// XLM-R covers far more; this is enough to exercise per-character tokenisation.
const COMMON_HANZI =
  '的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事其里所去' +
  '行过家十用发天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前面又定见只主没公从知样现已' +
  '长物问情回感理本但最高力明果间外别重相全老手口体走电话头海开工动实点新文两意机关气部水正想些通向因位代' +
  '第入社政产次名西东南北万内化何题被把性由它合各世表更常加系教特信提命设平应期利先结使书路东字解数据计算' +
  '模型检索搜查询向量稀疏稠密语言义词句段篇索引排序相似度嵌入编码器训练测试评估结果流压速温热传边界层激波超' +
  '音翼飞航空器翼面升阻马赫数湍涡粘性可压缩理论实验方程解析数值边界条件流场机翼喷管燃烧';
const COMMON_HANGUL = '한국어안녕하세요감사합니다대한민국서울검색모델문서질문답변언어학습데이터는이가을를에서의로와과도';
function range(from: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => String.fromCodePoint(from + i));
}
const CJK = [
  ...COMMON_HANZI,
  ...range(0x4e00, 2000),
  ...range(0x3041, 0x3096 - 0x3041 + 1), // hiragana
  ...range(0x30a1, 0x30fa - 0x30a1 + 1), // katakana
  ...COMMON_HANGUL,
  ...range(0xac00, 300), // Hangul syllables 가..
  '\u3001', // 、
  '\u3002', // 。
  '\uff0c', // ，
  '\uff1f', // ？
];
// Latin-1 letters (NFKC keeps é, ü, ß... composed), so accented European words do not fall to <unk>.
const LATIN1 = range(0xc0, 0x100 - 0xc0).filter((ch) => ch !== '\u00d7' && ch !== '\u00f7');

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** The vocabulary in id order. Pure function of committed data: deterministic. */
export function buildVocab(): Piece[] {
  const seen = new Map<string, number>();
  const out: Piece[] = [];
  const add = (piece: string, score: number) => {
    if (piece.length === 0 || seen.has(piece)) return; // first (higher-priority) occurrence wins
    seen.set(piece, out.length);
    out.push([piece, round4(score)]);
  };
  // XLM-R gives its specials score 0; Transformers.js replaces <unk>'s score by (min - 10) anyway.
  add(SPECIALS.bos, 0);
  add(SPECIALS.pad, 0);
  add(SPECIALS.eos, 0);
  add(SPECIALS.unk, 0);
  add(WORD_MARK, -3); // bare word marker: before digits/CJK/unknown-start words
  for (const p of ',.') add(p, -3.5);

  const n = WORDS_EN.length;
  WORDS_EN.forEach((w, r) => add(WORD_MARK + w, -(4.5 + (4 * r) / n)));
  // Capitalised sentence-initial forms of the most frequent words.
  WORDS_EN.slice(0, 600).forEach((w, r) => add(WORD_MARK + w[0].toUpperCase() + w.slice(1), -(6 + (2.5 * r) / 600)));
  for (const p of PREFIXES) add(WORD_MARK + p, -8.6);
  // Non-initial forms: suffixes, then words that occur inside compounds ("boundary-layer", "re-entry").
  for (const s of SUFFIXES) add(s, -8.7);
  WORDS_EN.slice(0, 1500).forEach((w, r) => add(w, -(9 + (1.5 * r) / 1500)));
  for (const p of PREFIXES) add(p, -10.6);
  // Single characters with and without the marker, then lowercase letter pairs as a fallback for unlisted words.
  for (const c of LOWER + UPPER + DIGITS + PUNCT) add(WORD_MARK + c, -10.5);
  for (const c of LOWER + UPPER + DIGITS + PUNCT) add(c, -11);
  for (const a of LOWER) for (const b of LOWER) add(a + b, -10.8);
  for (const c of LATIN1) add(c, -11);
  CJK.forEach((c, r) => add(c, -(9 + (3 * r) / CJK.length)));
  add(SPECIALS.mask, 0);
  return out;
}

export const VOCAB: Piece[] = buildVocab();
export const VOCAB_SIZE = VOCAB.length;

/**
 * The tiny vocabulary grown to `size` pieces (BGE-M3: 250,002) with deterministic filler pieces ("▁qa", "zkb"
 * …) scored below every real piece, `<mask>` still last: the tokenizer file, its trie and the embedding table
 * get the real model's size while the tiny model's words still tokenise the same way.
 */
export function paddedVocab(size: number, base: Piece[] = VOCAB): Piece[] {
  const mask = base[base.length - 1];
  if (mask[0] !== SPECIALS.mask) throw new Error('paddedVocab: the base vocabulary must end with <mask>');
  if (size < base.length) throw new Error(`paddedVocab: ${size} is smaller than the base vocabulary (${base.length})`);
  const out = base.slice(0, -1);
  const seen = new Set(out.map(([p]) => p));
  const need = size - 1;
  for (let i = 0; out.length < need; i++) {
    // bijective base 26 of i + 702 (three letters and up), alternately word-initial and inner
    let n = i + 702;
    let w = '';
    while (n > 0) {
      n--;
      w = LOWER[n % 26] + w;
      n = Math.floor(n / 26);
    }
    const piece = i % 2 ? w : WORD_MARK + w;
    if (seen.has(piece)) continue;
    seen.add(piece);
    out.push([piece, round4(-14 - (4 * out.length) / size)]);
  }
  out.push(mask);
  return out;
}
