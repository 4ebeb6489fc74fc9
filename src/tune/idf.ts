/**
 * The IDF prior over token ids: BM25's idf from the documents' token ids, turned into the initial log-scale
 * of the per-token map so that a shared term's contribution (scale_q · scale_d) starts proportional to its IDF.
 */
import { SPECIAL_IDS } from '../encoder/heads.ts';

export function tokenIdf(docs: Iterable<ArrayLike<number>>, vocabSize: number): { idf: Float32Array; df: Uint32Array; n: number } {
  const df = new Uint32Array(vocabSize);
  const seen = new Int32Array(vocabSize).fill(-1);
  let n = 0;
  for (const ids of docs) {
    for (let i = 0; i < ids.length; i++) {
      const t = ids[i];
      if (t >= vocabSize || SPECIAL_IDS.has(t) || seen[t] === n) continue;
      seen[t] = n;
      df[t]++;
    }
    n++;
  }
  const idf = new Float32Array(vocabSize);
  for (let t = 0; t < vocabSize; t++) idf[t] = Math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5));
  return { idf, df, n };
}

/**
 * σ0[t] = ½·ln(idf[t] / mean idf), mean over the tokens that occur (so the prior rescales, it doesn't
 * shift the overall magnitude the base head produces). Tokens absent from the corpus get 0.
 */
export function idfLogScale(idf: Float32Array, df: Uint32Array): Float32Array {
  let sum = 0;
  let cnt = 0;
  for (let t = 0; t < idf.length; t++) if (df[t] > 0) (sum += idf[t]), cnt++;
  const mean = cnt ? sum / cnt : 1;
  const out = new Float32Array(idf.length);
  for (let t = 0; t < idf.length; t++) if (df[t] > 0) out[t] = 0.5 * Math.log(idf[t] / mean);
  return out;
}
