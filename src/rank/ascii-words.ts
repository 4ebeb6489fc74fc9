/** The analyzer's ASCII fast path: word breaking of pure-ASCII text without Intl.Segmenter (analyzer.ts). */

/*
 * ASCII fast path. For text made only of code points < 0x80, UAX #29 word breaking reduces to a few
 * classes (WB5–WB13b): letters [A-Za-z] and digits join each other (WB5, WB8–WB10); '_' joins
 * anything word-ish on either side (WB13a/b); one MidLetter / MidNumLet character joins two letters
 * (WB6/7) and one MidNum / MidNumLet character joins two digits (WB11/12); everything else breaks.
 * ICU marks a segment word-like when it holds a letter or digit, or is a run of two or more
 * underscores ("_" alone is not). Which mid characters join is where engines differ: Node's ICU
 * joins "a:b", "a.b", "a'b" and "1,2", "1;2", "1.2", "1'2"; Chromium's tailored rules join only
 * "a'b" between letters. So the joining characters are read off the runtime's own segmenter (once
 * per segmenter), the whole rule set is then checked against it on probe texts, and on any
 * disagreement the segmenter is used for everything. The scan yields exactly the segmenter's words
 * (tests compare them on random and real text); it is about 10× faster.
 */
const C_OTHER = 0;
const C_LETTER = 1;
const C_DIGIT = 2;
const C_UNDER = 3;
const C_MID = 4; // one of ':' '.' '\'' ',' ';' (what it joins is per runtime)
const MID_CHARS = ":.',;";
const ASCII_CLASS = new Uint8Array(128);
for (let c = 65; c <= 90; c++) ASCII_CLASS[c] = C_LETTER;
for (let c = 97; c <= 122; c++) ASCII_CLASS[c] = C_LETTER;
for (let c = 48; c <= 57; c++) ASCII_CLASS[c] = C_DIGIT;
ASCII_CLASS[95] = C_UNDER;
for (const ch of MID_CHARS) ASCII_CLASS[ch.charCodeAt(0)] = C_MID;

export const NON_ASCII = /[^\x00-\x7f]/;

/** Which mid characters join two letters / two digits (1 = joins), indexed by char code. */
export interface AsciiWordRules {
  betweenLetters: Uint8Array;
  betweenDigits: Uint8Array;
}

function rules(letters: string, digits: string): AsciiWordRules {
  const r = { betweenLetters: new Uint8Array(128), betweenDigits: new Uint8Array(128) };
  for (const ch of letters) r.betweenLetters[ch.charCodeAt(0)] = 1;
  for (const ch of digits) r.betweenDigits[ch.charCodeAt(0)] = 1;
  return r;
}

/** Unicode's default rules (and Node's ICU). */
export const UAX29_ASCII_RULES: AsciiWordRules = rules(":.'", ",;.'");

/** Words of pure-ASCII text as Intl.Segmenter's word-like segments: cb(start, end, hasUpper). */
export function forEachAsciiWord(text: string, cb: (start: number, end: number, hasUpper: boolean) => void, r: AsciiWordRules = UAX29_ASCII_RULES): void {
  const n = text.length;
  const cls = ASCII_CLASS;
  const { betweenLetters, betweenDigits } = r;
  let i = 0;
  while (i < n) {
    const c0 = cls[text.charCodeAt(i)];
    if (c0 === C_OTHER || c0 === C_MID) {
      i++;
      continue;
    }
    const start = i;
    let upper = false;
    let wordish = c0 !== C_UNDER;
    let prev = c0;
    let ch = text.charCodeAt(i);
    if (ch >= 65 && ch <= 90) upper = true;
    i++;
    while (i < n) {
      ch = text.charCodeAt(i);
      const c = ch < 128 ? cls[ch] : C_OTHER;
      if (c === C_OTHER) break;
      if (c !== C_MID) {
        if (ch >= 65 && ch <= 90) upper = true;
        if (c !== C_UNDER) wordish = true;
        prev = c;
        i++;
        continue;
      }
      // A mid character joins only between two letters or two digits, and only some of them.
      if (i + 1 >= n) break;
      const ch2 = text.charCodeAt(i + 1);
      const next = ch2 < 128 ? cls[ch2] : C_OTHER;
      const joins = (prev === C_LETTER && next === C_LETTER && betweenLetters[ch] === 1) || (prev === C_DIGIT && next === C_DIGIT && betweenDigits[ch] === 1);
      if (!joins) break;
      if (ch2 >= 65 && ch2 <= 90) upper = true;
      i += 2;
    }
    if (wordish || i - start >= 2) cb(start, i, upper);
  }
}

/** Texts that pin down the rules; the fast path runs only where the segmenter agrees on all. */
const PROBES = [
  "a:b a.b a'b 1,2 1;2 1.2 1:2 a.1 1.a a1.2 _ __ ___ a_ _a 1_ a_.b a..b a.b.c 3.14. 'a' a__b _1_ ._. a,b a;b x\ty a\u007fb",
  "O'Neil's e.g. 1,000.5 rock'n'roll foo_bar:baz x86_64 v1.2.3-rc.1 a:1 1'2 ::a:: __init__ 'quoted' end. A.B 9.Z z,9 _._ a'_ 1__2",
];

function words(seg: Intl.Segmenter, text: string): string {
  const out: string[] = [];
  for (const s of seg.segment(text)) if (s.isWordLike) out.push(`${s.index}:${s.segment}`);
  return out.join('|');
}

const fastRules = new WeakMap<Intl.Segmenter, AsciiWordRules | null>();
/** The runtime's ASCII rules for this segmenter, or null when the fast path can't reproduce it. */
export function asciiRulesFor(seg: Intl.Segmenter): AsciiWordRules | null {
  let r = fastRules.get(seg);
  if (r === undefined) {
    let letters = '';
    let digits = '';
    for (const ch of MID_CHARS) {
      if (words(seg, `a${ch}b`) === `0:a${ch}b`) letters += ch;
      if (words(seg, `1${ch}2`) === `0:1${ch}2`) digits += ch;
    }
    r = rules(letters, digits);
    for (const p of PROBES) {
      const got: string[] = [];
      forEachAsciiWord(p, (a, b) => got.push(`${a}:${p.slice(a, b)}`), r);
      if (got.join('|') !== words(seg, p)) r = null;
      if (!r) break;
    }
    fastRules.set(seg, r);
  }
  return r;
}
