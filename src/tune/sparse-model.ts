/**
 * The trainable sparse head: M3's `sparse_linear` (w_i = relu(h_i·W + b)) plus an optional per-token-id
 * affine map over the vocabulary, w_i = relu(e^{σ[t]}·(h_i·W + b) + c[t]), max-pooled per token id.
 *
 * Why the extension: a 1×H map can only weight what the hidden states already encode. A trained 1024-d
 * model carries term importance there; a small or random one cannot (33 parameters for thousands of
 * tokens). σ (a log-scale, so the scale stays positive) starts at the corpus IDF prior and is pulled back
 * towards it; c starts at 0. With σ = c = 0 (or the extension off) this is exactly M3's head.
 *
 * Forward and backward work on cached hidden states (typed arrays); nothing here touches the encoder.
 */
import { SPECIAL_IDS, sparseDot, type SparseHead } from '../encoder/heads.ts';
import type { CachedText } from './hidden-cache.ts';

/** One text's sparse weights, plus what backward needs: the winning position and its pre-activation z. */
export interface Activation {
  ids: Uint32Array; // ascending
  w: Float32Array;
  pos: Int32Array;
  z: Float32Array;
}

export interface Grads {
  weight: Float64Array;
  bias: number;
  /** Per touched token id: dσ, dc. */
  vocab: Map<number, [number, number]>;
}

/** One row's share of dL/dW: coef · hidden row `pos` of `text`. */
export interface WeightTerm {
  text: CachedText;
  pos: number;
  coef: number;
}

/** out[j] += Σ coef·h_row[j] over the terms, in order (the JS path of the gradient's matrix work). */
export function accumulateRows(H: number, terms: readonly WeightTerm[], out: Float64Array): void {
  for (const { text, pos, coef } of terms) {
    const row = pos * H;
    const h = text.hidden;
    for (let j = 0; j < H; j++) out[j] += coef * h[row + j];
  }
}

export class SparseHeadModel {
  readonly H: number;
  readonly weight: Float32Array;
  bias: number;
  /** log-scale σ and shift c over the vocabulary, or null (M3's head exactly). */
  readonly logScale: Float32Array | null;
  readonly shift: Float32Array | null;
  private readonly best: Float32Array;
  private readonly bestPos: Int32Array;
  private readonly bestZ: Float32Array;

  constructor(head: SparseHead, vocabSize: number, vocab: boolean) {
    this.H = head.weight.length;
    this.weight = Float32Array.from(head.weight);
    this.bias = head.bias;
    if (vocab) {
      this.logScale = new Float32Array(vocabSize);
      this.shift = new Float32Array(vocabSize);
      if (head.vocab) {
        for (let t = 0; t < vocabSize; t++) {
          this.logScale[t] = Math.log(head.vocab.scale[t]);
          this.shift[t] = head.vocab.shift[t];
        }
      }
    } else {
      this.logScale = this.shift = null;
    }
    this.best = new Float32Array(vocabSize).fill(-Infinity);
    this.bestPos = new Int32Array(vocabSize);
    this.bestZ = new Float32Array(vocabSize);
  }

  get vocabSize(): number {
    return this.best.length;
  }

  /** Copies parameters (for keeping the best epoch's head). */
  snapshot(): { weight: Float32Array; bias: number; logScale: Float32Array | null; shift: Float32Array | null } {
    return { weight: this.weight.slice(), bias: this.bias, logScale: this.logScale?.slice() ?? null, shift: this.shift?.slice() ?? null };
  }

  restore(s: ReturnType<SparseHeadModel['snapshot']>): void {
    this.weight.set(s.weight);
    this.bias = s.bias;
    if (s.logScale) this.logScale!.set(s.logScale);
    if (s.shift) this.shift!.set(s.shift);
  }

  /** The head as the encoder applies it (weights ≤ threshold dropped at index time). */
  toHead(threshold = 0): SparseHead {
    const head: SparseHead = { weight: this.weight.slice(), bias: this.bias };
    if (this.logScale && this.shift) head.vocab = { scale: this.logScale.map(Math.exp), shift: this.shift.slice() };
    if (threshold > 0) head.threshold = threshold;
    return head;
  }

  /** Pre-activations z_i = h_i·W + b of every row of `text`, in f64 (the reference the WebGPU path is checked against). */
  project(text: CachedText): Float64Array {
    const { hidden } = text;
    const H = this.H;
    const n = text.ids.length;
    const z = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = this.bias;
      const row = i * H;
      for (let j = 0; j < H; j++) s += hidden[row + j] * this.weight[j];
      z[i] = s;
    }
    return z;
  }

  /**
   * Sparse weights of one cached text. Positions in [mask[0], mask[1]) are left out: a pseudo-query's
   * span held out of its document.
   */
  forward(text: CachedText, mask?: [number, number]): Activation {
    return this.forwardFrom(text, this.project(text), mask);
  }

  /** forward() given the rows' pre-activations z (from project() or a MatrixOps): the per-id map and max-pool. */
  forwardFrom(text: CachedText, zs: ArrayLike<number>, mask?: [number, number]): Activation {
    const { ids } = text;
    const touched: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const t = ids[i];
      if (SPECIAL_IDS.has(t) || t >= this.best.length) continue;
      if (mask && i >= mask[0] && i < mask[1]) continue;
      const z = zs[i];
      const u = this.logScale ? Math.exp(this.logScale[t]) * z + this.shift![t] : z;
      if (this.best[t] === -Infinity) touched.push(t);
      if (u > this.best[t]) {
        this.best[t] = u;
        this.bestPos[t] = i;
        this.bestZ[t] = z;
      }
    }
    touched.sort((a, b) => a - b);
    let n = 0;
    for (const t of touched) if (this.best[t] > 0) n++;
    const act: Activation = { ids: new Uint32Array(n), w: new Float32Array(n), pos: new Int32Array(n), z: new Float32Array(n) };
    let k = 0;
    for (const t of touched) {
      if (this.best[t] > 0) {
        act.ids[k] = t;
        act.w[k] = this.best[t];
        act.pos[k] = this.bestPos[t];
        act.z[k] = this.bestZ[t];
        k++;
      }
      this.best[t] = -Infinity;
    }
    return act;
  }

  /** Accumulates dL/dparams given dL/dw per term of `act` (relu's gradient is 1: only w > 0 terms exist). */
  backward(text: CachedText, act: Activation, gw: Float32Array | Float64Array, grads: Grads): void {
    const terms: WeightTerm[] = [];
    this.backwardTerms(text, act, gw, grads, terms);
    accumulateRows(this.H, terms, grads.weight);
  }

  /**
   * backward() less dL/dW: the bias and per-token gradients are accumulated, and each winning row's
   * coefficient dL/dz is pushed to `terms`, so that Σ coef·h_row (the H-wide part) can run elsewhere.
   */
  backwardTerms(text: CachedText, act: Activation, gw: Float32Array | Float64Array, grads: Grads, terms: WeightTerm[]): void {
    for (let k = 0; k < act.ids.length; k++) {
      const g = gw[k];
      if (g === 0) continue;
      const t = act.ids[k];
      let gz = g;
      if (this.logScale) {
        const a = Math.exp(this.logScale[t]);
        const v = grads.vocab.get(t) ?? [0, 0];
        v[0] += g * a * act.z[k];
        v[1] += g;
        grads.vocab.set(t, v);
        gz = g * a;
      }
      terms.push({ text, pos: act.pos[k], coef: gz });
      grads.bias += gz;
    }
  }

  zeroGrads(): Grads {
    return { weight: new Float64Array(this.H), bias: 0, vocab: new Map() };
  }
}

/** Σ over shared ids of a[t]·b[t] (both ascending). */
export function dot(a: Activation, b: Activation): number {
  return sparseDot(a.ids, a.w, b.ids, b.w);
}

/** Adds g·(∂dot/∂a) to ga and g·(∂dot/∂b) to gb. */
export function dotBackward(a: Activation, b: Activation, g: number, ga: Float64Array, gb: Float64Array): void {
  let i = 0;
  let j = 0;
  while (i < a.ids.length && j < b.ids.length) {
    const x = a.ids[i];
    const y = b.ids[j];
    if (x === y) {
      ga[i] += g * b.w[j];
      gb[j] += g * a.w[i];
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
}

/**
 * Adam over the head's parameters; the vocabulary rows update lazily (only ids with a gradient this step),
 * so a 250k vocabulary costs only the tokens a batch touched.
 */
export class Adam {
  private step = 0;
  private readonly mW: Float64Array;
  private readonly vW: Float64Array;
  private mB = 0;
  private vB = 0;
  private readonly mV: Float64Array | null;
  private readonly vV: Float64Array | null;

  constructor(
    private readonly model: SparseHeadModel,
    private readonly lr: { head: number; vocab: number },
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    this.mW = new Float64Array(model.H);
    this.vW = new Float64Array(model.H);
    this.mV = model.logScale ? new Float64Array(2 * model.vocabSize) : null;
    this.vV = model.logScale ? new Float64Array(2 * model.vocabSize) : null;
  }

  apply(g: Grads): void {
    this.step++;
    const { beta1: b1, beta2: b2, eps } = this;
    const c1 = 1 - b1 ** this.step;
    const c2 = 1 - b2 ** this.step;
    const upd = (m: number, v: number, lr: number) => (lr * (m / c1)) / (Math.sqrt(v / c2) + eps);
    const m = this.model;
    for (let j = 0; j < m.H; j++) {
      this.mW[j] = b1 * this.mW[j] + (1 - b1) * g.weight[j];
      this.vW[j] = b2 * this.vW[j] + (1 - b2) * g.weight[j] ** 2;
      m.weight[j] -= upd(this.mW[j], this.vW[j], this.lr.head);
    }
    this.mB = b1 * this.mB + (1 - b1) * g.bias;
    this.vB = b2 * this.vB + (1 - b2) * g.bias ** 2;
    m.bias -= upd(this.mB, this.vB, this.lr.head);
    if (!m.logScale || !this.mV || !this.vV) return;
    for (const [t, [gs, gc]] of g.vocab) {
      const params: [Float32Array, number, number][] = [
        [m.logScale, gs, 2 * t],
        [m.shift!, gc, 2 * t + 1],
      ];
      for (const [arr, gi, slot] of params) {
        this.mV[slot] = b1 * this.mV[slot] + (1 - b1) * gi;
        this.vV[slot] = b2 * this.vV[slot] + (1 - b2) * gi * gi;
        arr[t] -= upd(this.mV[slot], this.vV[slot], this.lr.vocab);
      }
    }
  }
}

/** Scales all gradients so their global L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipGradients(g: Grads, maxNorm: number): number {
  let ss = g.bias * g.bias;
  for (let j = 0; j < g.weight.length; j++) ss += g.weight[j] * g.weight[j];
  for (const [a, b] of g.vocab.values()) ss += a * a + b * b;
  const norm = Math.sqrt(ss);
  if (Number.isFinite(norm) && maxNorm > 0 && norm > maxNorm) {
    const f = maxNorm / norm;
    for (let j = 0; j < g.weight.length; j++) g.weight[j] *= f;
    g.bias *= f;
    for (const v of g.vocab.values()) (v[0] *= f), (v[1] *= f);
  }
  return norm;
}
