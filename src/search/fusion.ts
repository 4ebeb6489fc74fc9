/**
 * Score fusion over the candidates' per-signal scores.
 *   weighted   — M3's compute_score: Σ w_s · score_s / Σ w_s on raw scores. BM25 is not an M3 signal and its raw
 *                scores run 10–30× M3's inner products, so before weighting it is divided by the best BM25
 *                score among the candidates (query-relative, in [0, 1]); with w_bm25 = 0 this is exactly M3's.
 *   normalized — Milvus' weighted ranker: inner products mapped by 0.5 + atan(s)/π, BM25 by 2·atan(s)/π,
 *                then the same weighted mean (dividing by Σ w keeps the result in [0, 1]; Milvus doesn't
 *                divide, which changes no ranking).
 *   rrf        — Σ_s 1/(60 + rank_s) over the signals whose top-N list holds the document (weights unused,
 *                as in Milvus' RRFRanker).
 */
import type { FusionMode, SignalName } from './types.ts';

export const FUSIONS: readonly FusionMode[] = ['weighted', 'rrf', 'normalized'];
export const RRF_K = 60;

export function normalizeScore(signal: SignalName, s: number): number {
  return signal === 'bm25' ? (2 * Math.atan(s)) / Math.PI : 0.5 + Math.atan(s) / Math.PI;
}

export interface SignalColumn {
  name: SignalName;
  weight: number;
  /** Score per candidate (same order as the candidate list). */
  scores: ArrayLike<number>;
  /** 1-based rank per candidate in this signal's own top-N, 0 when outside it. */
  ranks: ArrayLike<number>;
}

export function fuse(mode: FusionMode, columns: readonly SignalColumn[], n: number): Float64Array {
  const out = new Float64Array(n);
  if (mode === 'rrf') {
    for (const c of columns) for (let i = 0; i < n; i++) if (c.ranks[i] > 0) out[i] += 1 / (RRF_K + c.ranks[i]);
    return out;
  }
  let wsum = 0;
  for (const c of columns) wsum += c.weight;
  if (wsum <= 0) return out;
  for (const c of columns) {
    if (c.weight === 0) continue;
    const bm25Max = mode === 'weighted' && c.name === 'bm25' ? maxOf(c.scores, n) : 0;
    for (let i = 0; i < n; i++) {
      const raw = c.scores[i];
      const s = mode === 'normalized' ? normalizeScore(c.name, raw) : bm25Max > 0 ? raw / bm25Max : raw;
      out[i] += c.weight * s;
    }
  }
  for (let i = 0; i < n; i++) out[i] /= wsum;
  return out;
}

function maxOf(a: ArrayLike<number>, n: number): number {
  let m = 0;
  for (let i = 0; i < n; i++) if (a[i] > m) m = a[i];
  return m;
}
