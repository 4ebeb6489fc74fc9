/**
 * A WebGPU result is trusted only after it agrees with a reference on probe texts: no NaN, dense cosine
 * ≥ 0.99 and the same top tokens. The reference is either known answers shipped with the model
 * (`m3-probe.json`, written by `m3-search probe`) or the same texts encoded on WASM.
 */
import type { M3Embedding } from './types.ts';

export const PROBE_TEXTS = ['What is BGE M3?', 'Dense, sparse and multi-vector retrieval run in the browser, offline.', '机器学习 と 検索 エンジン'];

export interface ProbeAnswer {
  dense: number[];
  topTokens: number[];
}

/** Known answers per dtype, as shipped in a model folder's m3-probe.json. */
export interface ProbeFile {
  texts: string[];
  answers: Record<string, ProbeAnswer[]>;
}

export interface Verdict {
  ok: boolean;
  reason?: string;
  minCosine: number;
  against: 'known-answers' | 'wasm';
}

export const MIN_COSINE = 0.99;
const TOP_K = 5;

export function topTokens(e: M3Embedding, k = TOP_K): number[] {
  if (!e.sparse) return [];
  const idx = [...e.sparse.ids.keys()].sort((a, b) => e.sparse!.weights[b] - e.sparse!.weights[a] || a - b);
  return idx.slice(0, k).map((i) => e.sparse!.ids[i]);
}

export function toProbeAnswer(e: M3Embedding): ProbeAnswer {
  return { dense: Array.from(e.dense ?? []), topTokens: topTokens(e) };
}

/**
 * Compares a candidate device's outputs with the reference. Top tokens agree when the reference's
 * strongest token is among the candidate's top 5 and the two top-5 sets share at least 4 (all of them
 * when fewer than 5 exist): ranks 5 and 6 may legitimately swap between dtypes, a broken kernel does more.
 */
export function compareProbe(candidate: M3Embedding[], reference: ProbeAnswer[], against: Verdict['against']): Verdict {
  let minCosine = 1;
  for (let t = 0; t < reference.length; t++) {
    const c = candidate[t];
    const r = reference[t];
    const d = c.dense ?? new Float32Array();
    if (d.some((x) => !Number.isFinite(x)) || c.sparse?.weights.some((x) => !Number.isFinite(x))) {
      return { ok: false, reason: `probe ${t}: output has NaN or Infinity`, minCosine: NaN, against };
    }
    const cos = cosine(d, r.dense);
    minCosine = Math.min(minCosine, cos);
    if (!(cos >= MIN_COSINE)) {
      return { ok: false, reason: `probe ${t}: dense cosine ${cos.toFixed(4)} < ${MIN_COSINE} against ${against}`, minCosine: cos, against };
    }
    const mine = topTokens(c);
    const shared = mine.filter((id) => r.topTokens.includes(id)).length;
    const need = Math.min(r.topTokens.length, TOP_K) - (r.topTokens.length >= TOP_K ? 1 : 0);
    if ((r.topTokens.length > 0 && !mine.includes(r.topTokens[0])) || shared < need) {
      return {
        ok: false,
        reason: `probe ${t}: top tokens [${mine}] differ from [${r.topTokens}] (${against})`,
        minCosine,
        against,
      };
    }
  }
  return { ok: true, minCosine, against };
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) return NaN;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}
