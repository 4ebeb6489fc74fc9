/**
 * ColBERT late interaction, M3's formula: score(q, d) = (1/|q|) Σ_i max_j q_i · d_j
 * over the query's vectors q_i and the document's stored (int8, per-vector scale) vectors d_j.
 */
import type { ColbertBlock } from '../store/types.ts';

/** MaxSim of a query matrix [nq × dims] against segment-local row `row`'s vectors; 0 if it has none. */
export function maxSim(query: Float32Array, dims: number, block: ColbertBlock, row: number): number {
  const nq = query.length / dims;
  const from = block.rowOffsets[row];
  const to = block.rowOffsets[row + 1];
  if (nq === 0 || to === from) return 0;
  const { codes, scales } = block;
  let total = 0;
  for (let i = 0; i < nq; i++) {
    const qo = i * dims;
    let best = -Infinity;
    for (let j = from; j < to; j++) {
      const d = j * dims;
      let dot = 0;
      for (let x = 0; x < dims; x++) dot += query[qo + x] * codes[d + x];
      dot *= scales[j];
      if (dot > best) best = dot;
    }
    total += best;
  }
  return total / nq;
}
