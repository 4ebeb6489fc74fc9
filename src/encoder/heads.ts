/**
 * M3's two heads applied to `last_hidden_state` (shared/M3.md, FlagEmbedding's m3.py):
 * dense = normalize(h[0]); sparse = relu(h·Ws + bs) per non-special token, max per token id;
 * colbert = normalize(h·Wcᵀ + bc) for rows 1 … L−1 (CLS dropped, `</s>` kept, padding dropped).
 */
import type { M3Embedding, SparseWeights } from './types.ts';

/** Token ids the sparse output never contains: `<s>`, `<pad>`, `</s>`, `<unk>`. */
export const SPECIAL_IDS: ReadonlySet<number> = new Set([0, 1, 2, 3]);

export interface SparseHead {
  weight: Float32Array; // [H]  (stored [1, H])
  bias: number;
  /**
   * Optional learned per-token-id affine map over the vocabulary (issue 5, src/tune):
   * w = relu(scale[id]·(h·W + b) + shift[id]). Absent means exactly M3's head.
   */
  vocab?: { scale: Float32Array; shift: Float32Array };
  /** Weights ≤ threshold are dropped (a tuned head's pruning threshold); absent = 0, M3's relu. */
  threshold?: number;
}

export interface ColbertHead {
  weight: Float32Array; // [H_out, H_in] row-major, as torch.nn.Linear stores it
  bias: Float32Array; // [H_out]
  dim: number; // H_out
}

export interface Heads {
  sparse?: SparseHead;
  colbert?: ColbertHead;
}

export interface HeadRequest {
  dense: boolean;
  sparse: boolean;
  colbert: boolean;
}

/**
 * Applies the heads to one text's hidden states.
 * @param hidden hidden states of the whole batch, row-major [B, S, H]
 * @param offset index of this text's first row in `hidden` (b·S·H)
 * @param ids this text's token ids without padding (length L, `<s>` first, `</s>` last)
 */
export function applyHeads(
  hidden: Float32Array,
  offset: number,
  hiddenSize: number,
  ids: ArrayLike<number>,
  heads: Heads,
  want: HeadRequest,
  truncated: boolean,
): M3Embedding {
  const H = hiddenSize;
  const L = ids.length;
  const out: M3Embedding = { tokens: L, truncated };
  if (want.dense) out.dense = normalize(hidden.slice(offset, offset + H));
  if (want.sparse) {
    if (!heads.sparse) throw new Error('This model has no sparse head (sparse_linear): sparse weights are unavailable.');
    out.sparse = sparseWeights(hidden, offset, H, ids, heads.sparse);
  }
  if (want.colbert) {
    if (!heads.colbert) throw new Error('This model has no ColBERT head (colbert_linear): ColBERT vectors are unavailable.');
    out.colbert = colbertVectors(hidden, offset, H, L, heads.colbert);
  }
  return out;
}

function sparseWeights(hidden: Float32Array, offset: number, H: number, ids: ArrayLike<number>, head: SparseHead): SparseWeights {
  const best = new Map<number, number>();
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (SPECIAL_IDS.has(id)) continue;
    let s = head.bias;
    const row = offset + i * H;
    for (let j = 0; j < H; j++) s += hidden[row + j] * head.weight[j];
    if (head.vocab && id < head.vocab.scale.length) s = head.vocab.scale[id] * s + head.vocab.shift[id];
    if (s <= (head.threshold ?? 0)) continue; // relu, and FlagEmbedding drops zero weights
    const prev = best.get(id);
    if (prev === undefined || s > prev) best.set(id, s);
  }
  const sorted = [...best.keys()].sort((a, b) => a - b);
  const weights = new Float32Array(sorted.length);
  sorted.forEach((id, i) => (weights[i] = best.get(id)!));
  return { ids: Uint32Array.from(sorted), weights };
}

function colbertVectors(hidden: Float32Array, offset: number, H: number, L: number, head: ColbertHead): Float32Array {
  const D = head.dim;
  const rows = Math.max(0, L - 1);
  const out = new Float32Array(rows * D);
  for (let r = 0; r < rows; r++) {
    const src = offset + (r + 1) * H;
    const dst = r * D;
    for (let o = 0; o < D; o++) {
      let s = head.bias[o];
      const w = o * H;
      for (let j = 0; j < H; j++) s += hidden[src + j] * head.weight[w + j];
      out[dst + o] = s;
    }
    normalizeInPlace(out, dst, D);
  }
  return out;
}

export function normalize(v: Float32Array): Float32Array {
  normalizeInPlace(v, 0, v.length);
  return v;
}

/** L2-normalises v[start … start+n) like torch.nn.functional.normalize (eps 1e-12). */
function normalizeInPlace(v: Float32Array, start: number, n: number): void {
  let ss = 0;
  for (let i = start; i < start + n; i++) ss += v[i] * v[i];
  const inv = 1 / Math.max(Math.sqrt(ss), 1e-12);
  for (let i = start; i < start + n; i++) v[i] *= inv;
}

/** Lexical score: Σ over shared token ids of w_q · w_d (both arrays sorted by id). */
export function lexicalScore(q: SparseWeights, d: SparseWeights): number {
  return sparseDot(q.ids, q.weights, d.ids, d.weights);
}

/** Σ over the ids both lists hold of wa · wb; ids ascending in each (a merge, no lookups). */
export function sparseDot(aIds: ArrayLike<number>, aW: ArrayLike<number>, bIds: ArrayLike<number>, bW: ArrayLike<number>): number {
  let i = 0;
  let j = 0;
  let s = 0;
  while (i < aIds.length && j < bIds.length) {
    const a = aIds[i];
    const b = bIds[j];
    if (a === b) s += aW[i++] * bW[j++];
    else if (a < b) i++;
    else j++;
  }
  return s;
}

/** ColBERT score: (1/|q|) Σ_i max_j q_i · d_j over row-major [n × dim] matrices. */
export function colbertScore(q: Float32Array, d: Float32Array, dim: number): number {
  const nq = q.length / dim;
  const nd = d.length / dim;
  if (nq === 0 || nd === 0) return 0;
  let total = 0;
  for (let i = 0; i < nq; i++) {
    let best = -Infinity;
    for (let j = 0; j < nd; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += q[i * dim + k] * d[j * dim + k];
      if (s > best) best = s;
    }
    total += best;
  }
  return total / nq;
}

export function denseScore(q: Float32Array, d: Float32Array): number {
  let s = 0;
  for (let i = 0; i < q.length; i++) s += q[i] * d[i];
  return s;
}
