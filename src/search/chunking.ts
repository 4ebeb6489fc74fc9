/**
 * Splits long documents into passages instead of letting the encoder truncate them silently.
 * Passages are cut at word starts: with XLM-R's SentencePiece every word starts a new token
 * (the `▁` marker), so a word boundary is always a token boundary.
 */
import type { ChunkOptions, EncoderLike } from './types.ts';

/**
 * A word, or a piece of 64 code points of a longer run without whitespace (a base64 blob, a text with no
 * spaces): such a run is cut into pieces so that windows stay bounded.
 */
const WORD = /\S{1,64}/gu;
/** Longest document accepted (UTF-16 code units); M3Index refuses longer ones with this limit named. */
export const MAX_DOC_CHARS = 32 * 2 ** 20;

/** Character spans [start, end) of windows of `maxWords` words overlapping by `overlapWords`. */
export function wordWindows(text: string, maxWords: number, overlapWords: number): [number, number][] {
  if (!(maxWords >= 1)) throw new RangeError(`maxWords must be >= 1, got ${maxWords}`);
  const overlap = Math.max(0, Math.min(overlapWords, maxWords - 1));
  const starts: number[] = [];
  const ends: number[] = [];
  for (const m of text.matchAll(WORD)) {
    starts.push(m.index!);
    ends.push(m.index! + m[0].length);
  }
  if (starts.length <= maxWords) return [[0, text.length]];
  const spans: [number, number][] = [];
  const step = maxWords - overlap;
  for (let w = 0; ; w += step) {
    const last = Math.min(w + maxWords, starts.length) - 1;
    spans.push([starts[w], ends[last]]);
    if (last === starts.length - 1) break;
  }
  return spans;
}

/**
 * Passages of `text`, or a single span covering it when it fits. With an encoder that can count
 * tokens, a text is chunked only if it exceeds maxLength, and windows shrink until each fits.
 */
export function passages(text: string, opts: ChunkOptions, encoder?: EncoderLike): [number, number][] {
  if (opts.chunker) {
    const spans = opts.chunker(text);
    return spans.length ? spans : [[0, text.length]];
  }
  const maxLen = encoder?.info.maxLength;
  // Whether a text fits maxLen tokens (<s> and </s> included). Asked with a limit just past maxLen, an
  // encoder that truncates tokenizes no further than that (prepare.ts): the cost of the test is bounded.
  const fits = encoder?.tokenize && maxLen ? (s: string) => encoder.tokenize!(s, maxLen + 1).ids.length <= maxLen : null;
  if (fits && maxLen) {
    if (fits(text)) return [[0, text.length]];
    // Start from ~0.75 words per token (generous for most languages) and halve until every window fits.
    let words = Math.max(1, Math.floor(opts.maxWords ?? maxLen * 0.6));
    for (;;) {
      const spans = wordWindows(text, words, Math.min(opts.overlapWords ?? 32, Math.floor(words / 4)));
      if (words === 1 || spans.every(([s, e]) => fits(text.slice(s, e)))) return spans;
      words = Math.max(1, Math.floor(words / 2));
    }
  }
  return wordWindows(text, opts.maxWords ?? 300, opts.overlapWords ?? 32);
}
