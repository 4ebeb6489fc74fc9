// Independent float64 implementation of HF XLMRobertaModel's forward pass (eval mode) over the generated
// weights. Shares only the weight function with the ONNX path, never ORT, so it can validate both the graph
// and downstream M3 post-processing.
import type { TestModelWeights } from './weights.ts';
import { layerPrefix } from './weights.ts';

type Seq = ArrayLike<number | bigint>;

/**
 * Hidden states for a padded batch: `inputIds[b]` and `attentionMask[b]` are rows of equal length S.
 * Returns row-major [B, S, H] float64. Padded positions are computed exactly as the graph does (their
 * outputs are meaningless but defined); keys with mask 0 get zero attention weight.
 */
export function referenceForward(weights: TestModelWeights, inputIds: Seq[], attentionMask: Seq[]): Float64Array {
  const c = weights.config;
  const H = c.hiddenSize;
  const nh = c.numHeads;
  const dh = H / nh;
  const B = inputIds.length;
  const S = B ? inputIds[0].length : 0;
  const w = (name: string) => {
    const t = weights.tensors.get(name);
    if (!t) throw new Error(`referenceForward: missing tensor ${name}`);
    return t.data;
  };
  const out = new Float64Array(B * S * H);
  const wordE = w('embeddings.word_embeddings.weight');
  const posE = w('embeddings.position_embeddings.weight');
  const typeE = w('embeddings.token_type_embeddings.weight');

  const layerNorm = (x: Float64Array, prefix: string) => {
    const g = w(`${prefix}.weight`);
    const b = w(`${prefix}.bias`);
    for (let s = 0; s < S; s++) {
      let mean = 0;
      for (let i = 0; i < H; i++) mean += x[s * H + i];
      mean /= H;
      let v = 0;
      for (let i = 0; i < H; i++) v += (x[s * H + i] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / H + c.layerNormEps);
      for (let i = 0; i < H; i++) x[s * H + i] = (x[s * H + i] - mean) * inv * g[i] + b[i];
    }
  };
  // y[s, o] = Σ_i x[s, i] W[o, i] + bias[o]  (nn.Linear, W is [out, in])
  const linear = (x: Float64Array, inDim: number, prefix: string, outDim: number) => {
    const W = w(`${prefix}.weight`);
    const bias = w(`${prefix}.bias`);
    const y = new Float64Array(S * outDim);
    for (let s = 0; s < S; s++)
      for (let o = 0; o < outDim; o++) {
        let acc = bias[o];
        for (let i = 0; i < inDim; i++) acc += x[s * inDim + i] * W[o * inDim + i];
        y[s * outDim + o] = acc;
      }
    return y;
  };
  const erf = (x: number) => {
    // Abramowitz–Stegun 7.1.26 is only 1e-7 accurate; use a series / continued fraction pair instead.
    const ax = Math.abs(x);
    let r: number;
    if (ax < 2.5) {
      // Maclaurin series: erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
      let term = ax;
      let sum = ax;
      for (let n = 1; n < 60; n++) {
        term *= (-ax * ax) / n;
        const add = term / (2 * n + 1);
        sum += add;
        if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
      }
      r = (2 / Math.sqrt(Math.PI)) * sum;
    } else {
      // erfc continued fraction (Lentz), converges fast for x ≥ 2.5
      let f = ax;
      let C = ax;
      let D = 0;
      for (let k = 1; k < 200; k++) {
        const a = k / 2;
        D = ax + a * D;
        D = 1 / D;
        C = ax + a / C;
        const delta = C * D;
        f *= delta;
        if (Math.abs(delta - 1) < 1e-16) break;
      }
      r = 1 - Math.exp(-ax * ax) / (f * Math.sqrt(Math.PI));
    }
    return x < 0 ? -r : r;
  };

  for (let b = 0; b < B; b++) {
    const ids = Array.from(inputIds[b], Number);
    const mask = Array.from(attentionMask[b], Number);
    // RoBERTa position ids: cumulative count of non-pad tokens, offset by padding_idx; pads get padding_idx.
    let run = 0;
    let x = new Float64Array(S * H);
    for (let s = 0; s < S; s++) {
      const notPad = ids[s] !== c.padTokenId ? 1 : 0;
      run += notPad;
      const pos = run * notPad + c.padTokenId;
      for (let i = 0; i < H; i++) x[s * H + i] = wordE[ids[s] * H + i] + posE[pos * H + i] + typeE[i];
    }
    layerNorm(x, 'embeddings.LayerNorm');
    for (let l = 0; l < c.numLayers; l++) {
      const p = layerPrefix(l);
      const q = linear(x, H, `${p}attention.self.query`, H);
      const k = linear(x, H, `${p}attention.self.key`, H);
      const v = linear(x, H, `${p}attention.self.value`, H);
      const ctx = new Float64Array(S * H);
      const scores = new Float64Array(S);
      for (let h = 0; h < nh; h++)
        for (let i = 0; i < S; i++) {
          let max = -Infinity;
          for (let j = 0; j < S; j++) {
            if (!mask[j]) continue;
            let dot = 0;
            for (let d = 0; d < dh; d++) dot += q[i * H + h * dh + d] * k[j * H + h * dh + d];
            scores[j] = dot / Math.sqrt(dh);
            if (scores[j] > max) max = scores[j];
          }
          let z = 0;
          for (let j = 0; j < S; j++) {
            scores[j] = mask[j] ? Math.exp(scores[j] - max) : 0;
            z += scores[j];
          }
          for (let j = 0; j < S; j++) {
            const pj = scores[j] / z;
            if (!pj) continue;
            for (let d = 0; d < dh; d++) ctx[i * H + h * dh + d] += pj * v[j * H + h * dh + d];
          }
        }
      const a = linear(ctx, H, `${p}attention.output.dense`, H);
      for (let i = 0; i < S * H; i++) a[i] += x[i];
      layerNorm(a, `${p}attention.output.LayerNorm`);
      const inter = linear(a, H, `${p}intermediate.dense`, c.intermediateSize);
      for (let i = 0; i < inter.length; i++) inter[i] = 0.5 * inter[i] * (1 + erf(inter[i] / Math.SQRT2));
      const o = linear(inter, c.intermediateSize, `${p}output.dense`, H);
      for (let i = 0; i < S * H; i++) o[i] += a[i];
      layerNorm(o, `${p}output.LayerNorm`);
      x = o;
    }
    out.set(x, b * S * H);
  }
  return out;
}
