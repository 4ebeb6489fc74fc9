/**
 * Text → model input the way FlagEmbedding's tokenizer call does it (truncation=True, max_length):
 * the content is cut to maxLength − 2 tokens and `<s>` … `</s>` wrap it, so `</s>` is always last.
 * (Transformers.js's own `truncation: true` cuts the tail and drops `</s>`.)
 */
export const CLS_ID = 0;
export const PAD_ID = 1;
export const EOS_ID = 2;

export interface Prepared {
  ids: number[];
  truncated: boolean;
}

export type ContentTokenizer = (text: string) => number[];

/** Replaces lone UTF-16 surrogates (invalid Unicode that a UTF-8 tokenizer cannot take) with U+FFFD. */
export function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

export function validateTexts(texts: unknown): asserts texts is string[] {
  if (!Array.isArray(texts)) throw new TypeError(`texts must be an array of strings, got ${texts === null ? 'null' : typeof texts}`);
  texts.forEach((t, i) => {
    if (typeof t !== 'string') throw new TypeError(`texts[${i}] must be a string, got ${t === null ? 'null' : typeof t}`);
  });
}

/**
 * Most characters handed to the tokenizer in one call. Transformers.js tokenizes a whitespace-free run as
 * one word (its Unigram lattice and a `push(...pieces)` grow with the run: a 300 KB run overflowed the stack,
 * 5 MB took gigabytes), so long texts go through in windows of bounded size.
 */
export const TOKENIZE_WINDOW = 4096;

/**
 * Token ids of `text`, tokenized window by window; stops once more than `limit` ids are out. Windows end
 * before a run of spaces (the next one starts with it), where the Metaspace pre-tokenizer splits anyway,
 * so the ids are those of the whole text; only a run of over `window` characters without a space is cut
 * inside (keeping surrogate pairs whole), which can change the tokens at that cut.
 */
export function tokenizeBounded(text: string, tokenize: ContentTokenizer, limit = Infinity, window = TOKENIZE_WINDOW): number[] {
  const out: number[] = [];
  let at = 0;
  while (at < text.length && out.length <= limit) {
    let end = Math.min(text.length, at + window);
    if (end < text.length) {
      let ws = end;
      while (ws > at + 1 && !isSpace(text.charCodeAt(ws))) ws--;
      while (ws > at + 1 && isSpace(text.charCodeAt(ws - 1))) ws--; // the whole run of spaces starts the next window
      if (ws > at + 1) end = ws;
      else if (isHighSurrogate(text.charCodeAt(end - 1))) end--;
    }
    for (const id of tokenize(text.slice(at, end))) out.push(id);
    at = end;
  }
  return out;
}

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;
// Only U+0020: Metaspace prepends `▁` to every call's text, which a window starting with a space absorbs
// ("▁▁at" → "▁at" after the normaliser folds the run) but one starting with a newline does not.
const isSpace = (c: number) => c === 0x20;

export function prepareText(text: string, maxLength: number, tokenize: ContentTokenizer): Prepared {
  const budget = maxLength - 2;
  // Windowed, and stopping past the budget: a long text costs what its first maxLength tokens cost.
  const content = tokenizeBounded(wellFormed(text), tokenize, budget);
  const truncated = content.length > budget;
  if (truncated) content.length = budget;
  content.unshift(CLS_ID);
  content.push(EOS_ID);
  return { ids: content, truncated };
}

/** Groups text indices into batches of similar length (longest first) so padding stays small. */
export function batchByLength(lengths: number[], batchSize: number): number[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b] - lengths[a] || a - b);
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) batches.push(order.slice(i, i + batchSize));
  return batches;
}

/** Builds the padded int64 input_ids / attention_mask of one batch. */
export function padBatch(seqs: number[][]): { inputIds: BigInt64Array; attentionMask: BigInt64Array; seqLen: number } {
  const seqLen = seqs.reduce((m, s) => Math.max(m, s.length), 0);
  const inputIds = new BigInt64Array(seqs.length * seqLen).fill(BigInt(PAD_ID));
  const attentionMask = new BigInt64Array(seqs.length * seqLen);
  seqs.forEach((s, b) => {
    for (let i = 0; i < s.length; i++) {
      inputIds[b * seqLen + i] = BigInt(s[i]);
      attentionMask[b * seqLen + i] = 1n;
    }
  });
  return { inputIds, attentionMask, seqLen };
}
