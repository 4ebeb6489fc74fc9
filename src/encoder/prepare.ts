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

export function prepareText(text: string, maxLength: number, tokenize: ContentTokenizer): Prepared {
  const budget = maxLength - 2;
  const clean = wellFormed(text);
  // Tokenising a 100k-character text only to keep its first few hundred tokens is wasteful: a prefix cut
  // at whitespace (where the Metaspace pre-tokenizer splits anyway) yields the same leading tokens.
  const prefixChars = budget * 12;
  let content: number[] | undefined;
  if (clean.length > prefixChars * 2) {
    const ws = clean.indexOf(' ', prefixChars);
    if (ws > 0) {
      const head = tokenize(clean.slice(0, ws));
      if (head.length > budget) content = head;
    }
  }
  content ??= tokenize(clean);
  const truncated = content.length > budget;
  const kept = truncated ? content.slice(0, budget) : content;
  return { ids: [CLS_ID, ...kept, EOS_ID], truncated };
}

/** Groups text indices into batches of similar length (longest first) so padding stays small. */
export function batchByLength(lengths: number[], batchSize: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b] - lengths[a] || a - b);
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) batches.push(order.slice(i, i + batchSize));
  return batches;
}

/** Builds the padded int64 input_ids / attention_mask of one batch. */
export function padBatch(seqs: number[][]): { inputIds: BigInt64Array; attentionMask: BigInt64Array; seqLen: number } {
  const seqLen = Math.max(...seqs.map((s) => s.length));
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
