/**
 * Losses over one query's candidate scores (row j of the query × candidate score matrix), each returning
 * the loss and dL/ds per candidate.
 *
 * - InfoNCE (FlagEmbedding's per-head loss): −log softmax(s/τ)[positive], τ = 0.02 as in M3.md.
 * - Distillation: cross-entropy from a teacher distribution p = softmax(t/τ_t) to softmax(s/τ): M3's
 *   self-distillation when t is the ensemble dense + 0.3·sparse + colbert, or a BM25 teacher.
 */
export const M3_TEMPERATURE = 0.02;

function logSoftmax(x: ArrayLike<number>, tau: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) max = Math.max(max, x[i] / tau);
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(x[i] / tau - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] / tau - lse;
  return out;
}

export function infoNce(scores: ArrayLike<number>, positive: number, tau = M3_TEMPERATURE): { loss: number; grad: Float64Array } {
  const lp = logSoftmax(scores, tau);
  const grad = new Float64Array(scores.length);
  for (let i = 0; i < scores.length; i++) grad[i] = (Math.exp(lp[i]) - (i === positive ? 1 : 0)) / tau;
  return { loss: -lp[positive], grad };
}

/** Teacher distribution softmax(t/τ_t). */
export function teacherProbs(teacher: ArrayLike<number>, tau: number): Float64Array {
  return logSoftmax(teacher, tau).map(Math.exp);
}

export function distill(scores: ArrayLike<number>, p: ArrayLike<number>, tau = M3_TEMPERATURE): { loss: number; grad: Float64Array } {
  const lq = logSoftmax(scores, tau);
  let loss = 0;
  const grad = new Float64Array(scores.length);
  for (let i = 0; i < scores.length; i++) {
    if (p[i] > 0) loss -= p[i] * lq[i];
    grad[i] = (Math.exp(lq[i]) - p[i]) / tau;
  }
  return { loss, grad };
}
