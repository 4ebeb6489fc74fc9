/**
 * The training loop over cached hidden states: batches of (query, positive) pairs, candidates = every
 * positive in the batch (in-batch negatives) + the batch's mined hard negatives, InfoNCE at τ = 0.02 plus
 * optional distillation from a teacher; L1 on the weights, an IDF prior on the per-token scale, Adam,
 * global-norm gradient clipping, early stopping on held-out pairs, NaN / explosion detection, cancel.
 */
import { abortError } from '../store/errors.ts';
import type { CachedText } from './hidden-cache.ts';
import { distill, infoNce, M3_TEMPERATURE, teacherProbs } from './losses.ts';
import { mulberry32 } from '../util/random.ts';
import { jsMatrixOps, type MatrixOps } from './matrix-ops.ts';
import { Adam, clipGradients, dot, dotBackward, type SparseHeadModel, type Activation, type Grads, type WeightTerm } from './sparse-model.ts';

export interface TrainExample {
  query: CachedText;
  /** Index of the positive document in `docs`. */
  doc: number;
  /** Token positions of the positive held out of it (a pseudo-query's span). */
  mask?: [number, number];
  /** Hard negatives: indices into `docs`, best first. */
  negatives: number[];
}

export interface Candidate {
  doc: number;
  /** The candidate is the masked positive of example `of` (else the full document). */
  of?: number;
}

export interface TrainConfig {
  temperature: number;
  batchSize: number;
  hardNegatives: number;
  maxEpochs: number;
  patience: number;
  lr: number;
  vocabLr: number;
  l1: number;
  idfPrior: number;
  clip: number;
  /** Weight of the distillation loss: L = (1 − d)·InfoNCE + d·distill (M3: d = ½). 0 = off. */
  distillWeight: number;
  teacherTemperature: number;
  /** A loss above this (or NaN) stops training: the head before it stays. */
  maxLoss: number;
  seed: number;
  /** Wall-clock budget in ms (after it, the best head so far is kept). */
  maxMs: number;
}

export interface TrainInput {
  model: SparseHeadModel;
  docs: CachedText[];
  train: TrainExample[];
  heldOut: TrainExample[];
  /** σ0: the IDF prior of the per-token log-scale (zeros = no prior, only shrinkage). */
  prior: Float32Array | null;
  /** Teacher logits for example j over the candidates, given the student's current scores (self-distillation). */
  teacher?: (j: number, cands: Candidate[], student: Float64Array) => Float64Array;
  config: TrainConfig;
  /** Where the batch's matrix work runs (default JS). The held-out evaluation stays in JS. */
  ops?: MatrixOps;
  signal?: AbortSignal;
  onStep?: (p: { epoch: number; step: number; steps: number; loss: number; gradNorm: number }) => void;
  onEpoch?: (p: { epoch: number; loss: number; heldOut: HeldOutMetrics }) => void;
}

export interface HeldOutMetrics {
  /** Mean reciprocal rank (cut at 10) of the positive among itself + its hard negatives. */
  mrr10: number;
  /** nDCG@10 with one relevant document. */
  ndcg10: number;
  pairs: number;
}

export interface TrainOutcome {
  status: 'done' | 'early-stopped' | 'time-budget' | 'failed';
  reason?: string;
  epochs: number;
  steps: number;
  before: HeldOutMetrics;
  after: HeldOutMetrics;
  curve: { step: number; epoch: number; loss: number; heldOut?: number }[];
}

export function evaluateHeldOut(model: SparseHeadModel, docs: CachedText[], examples: TrainExample[], depth = 50): HeldOutMetrics {
  let mrr = 0;
  let ndcg = 0;
  const docAct = new Map<number, Activation>();
  const actOf = (d: number) => {
    let a = docAct.get(d);
    if (!a) docAct.set(d, (a = model.forward(docs[d])));
    return a;
  };
  for (const ex of examples) {
    const q = model.forward(ex.query);
    const pos = dot(q, model.forward(docs[ex.doc], ex.mask));
    let rank = 1;
    for (const n of ex.negatives.slice(0, depth)) if (n !== ex.doc && dot(q, actOf(n)) >= pos) rank++; // ties count against
    if (rank <= 10) {
      mrr += 1 / rank;
      ndcg += 1 / Math.log2(rank + 1);
    }
  }
  const n = Math.max(1, examples.length);
  return { mrr10: mrr / n, ndcg10: ndcg / n, pairs: examples.length };
}

export async function trainSparseHead(input: TrainInput): Promise<TrainOutcome> {
  const { model, docs, train, heldOut, prior, config: c } = input;
  const t0 = performance.now();
  const opt = new Adam(model, { head: c.lr, vocab: c.vocabLr });
  const rand = mulberry32(c.seed);
  const curve: TrainOutcome['curve'] = [];
  const before = evaluateHeldOut(model, docs, heldOut);
  const initial = model.snapshot();
  let best = initial;
  let bestScore = before.ndcg10;
  let bestAfter = before;
  let patience = c.patience;
  let step = 0;
  const stepsPerEpoch = Math.ceil(train.length / c.batchSize);
  const order = train.map((_, i) => i);
  const fail = (reason: string, epoch: number): TrainOutcome => {
    model.restore(initial); // the head in use before training: a run that blew up is not trusted at all
    return { status: 'failed', reason, epochs: epoch, steps: step, before, after: bestAfter, curve };
  };

  for (let epoch = 1; epoch <= c.maxEpochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    let epochLoss = 0;
    for (let b = 0; b < stepsPerEpoch; b++) {
      if (input.signal?.aborted) throw abortError(input.signal.reason);
      const at = order.slice(b * c.batchSize, (b + 1) * c.batchSize);
      const batch = at.map((i) => train[i]);
      const { loss, grads } = await batchLoss(
        model,
        docs,
        batch,
        prior,
        c,
        input.teacher ? (j, cands, s) => input.teacher!(at[j], cands, s) : undefined,
        input.ops,
      );
      if (!Number.isFinite(loss)) return fail(`loss became ${loss} at step ${step + 1} (epoch ${epoch}); the previous head is kept`, epoch);
      if (loss > c.maxLoss)
        return fail(`loss exploded to ${loss.toExponential(2)} at step ${step + 1} (epoch ${epoch}, limit ${c.maxLoss}); the previous head is kept`, epoch);
      const gradNorm = clipGradients(grads, c.clip);
      if (!Number.isFinite(gradNorm)) return fail(`gradient norm became ${gradNorm} at step ${step + 1}; the previous head is kept`, epoch);
      opt.apply(grads);
      if (!finiteParams(model)) return fail(`parameters became non-finite at step ${step + 1}; the previous head is kept`, epoch);
      step++;
      epochLoss += loss;
      curve.push({ step, epoch, loss });
      input.onStep?.({ epoch, step, steps: stepsPerEpoch * c.maxEpochs, loss, gradNorm });
      if (performance.now() - t0 > c.maxMs) break; // the epoch's held-out check below still runs
    }
    const h = evaluateHeldOut(model, docs, heldOut);
    curve[curve.length - 1].heldOut = h.ndcg10;
    input.onEpoch?.({ epoch, loss: epochLoss / stepsPerEpoch, heldOut: h });
    if (h.ndcg10 > bestScore + 1e-4 || heldOut.length === 0) {
      bestScore = h.ndcg10;
      bestAfter = h;
      best = model.snapshot();
      patience = c.patience;
    } else if (--patience < 0) {
      model.restore(best);
      return {
        status: 'early-stopped',
        reason: `held-out nDCG@10 did not improve for ${c.patience + 1} epoch(s)`,
        epochs: epoch,
        steps: step,
        before,
        after: bestAfter,
        curve,
      };
    }
    if (performance.now() - t0 > c.maxMs) {
      model.restore(best);
      return { status: 'time-budget', reason: `time budget of ${c.maxMs} ms reached`, epochs: epoch, steps: step, before, after: bestAfter, curve };
    }
  }
  model.restore(best);
  return { status: 'done', epochs: c.maxEpochs, steps: step, before, after: bestAfter, curve };
}

function finiteParams(m: SparseHeadModel): boolean {
  if (!Number.isFinite(m.bias)) return false;
  for (let j = 0; j < m.H; j++) if (!Number.isFinite(m.weight[j])) return false;
  return true;
}

/** Loss and gradients of one batch (exported for the finite-difference test). */
export async function batchLoss(
  model: SparseHeadModel,
  docs: CachedText[],
  batch: TrainExample[],
  prior: Float32Array | null,
  c: Pick<TrainConfig, 'temperature' | 'hardNegatives' | 'l1' | 'idfPrior' | 'distillWeight' | 'teacherTemperature'>,
  teacher?: (j: number, cands: Candidate[], student: Float64Array) => Float64Array,
  ops: MatrixOps = jsMatrixOps,
): Promise<{ loss: number; grads: Grads }> {
  const grads = model.zeroGrads();
  // Candidates: each example's masked positive, then the batch's hard negatives (full documents, once each).
  const cands: Candidate[] = batch.map((ex, j) => ({ doc: ex.doc, of: j }));
  const seen = new Set<number>();
  for (const ex of batch) {
    for (const n of ex.negatives.slice(0, c.hardNegatives)) {
      if (!seen.has(n)) seen.add(n), cands.push({ doc: n });
    }
  }
  // One projection call for the whole batch (a document that is both a masked positive and a negative is
  // projected once): on WebGPU that is one dispatch and one read-back per step.
  const unique = [...new Set<CachedText>([...cands.map((cd) => docs[cd.doc]), ...batch.map((ex) => ex.query)])];
  const projected = await ops.project(model, unique);
  const zOf = new Map(unique.map((t, i) => [t, projected[i]]));
  const texts: { text: CachedText; act: Activation; g: Float64Array }[] = cands.map((cd) => {
    const text = docs[cd.doc];
    const act = model.forwardFrom(text, zOf.get(text)!, cd.of !== undefined ? batch[cd.of].mask : undefined);
    return { text, act, g: new Float64Array(act.ids.length) };
  });
  const queries = batch.map((ex) => {
    const act = model.forwardFrom(ex.query, zOf.get(ex.query)!);
    return { text: ex.query, act, g: new Float64Array(act.ids.length) };
  });
  let loss = 0;
  const B = batch.length;
  for (let j = 0; j < B; j++) {
    // Another example's positive or a negative that is this query's own document would be a false negative.
    const idx: number[] = [];
    cands.forEach((cd, k) => {
      if (k === j || cd.doc !== batch[j].doc) idx.push(k);
    });
    const s = new Float64Array(idx.length);
    idx.forEach((k, i) => (s[i] = dot(queries[j].act, texts[k].act)));
    const posAt = idx.indexOf(j);
    const nce = infoNce(s, posAt, c.temperature);
    const gs = new Float64Array(idx.length);
    const d = teacher && c.distillWeight > 0 ? c.distillWeight : 0;
    loss += ((1 - d) * nce.loss) / B;
    for (let i = 0; i < idx.length; i++) gs[i] += ((1 - d) * nce.grad[i]) / B;
    if (d > 0) {
      // The teacher may score only some candidates (NaN elsewhere, e.g. only the query's own group):
      // the distillation runs over those.
      const t = teacher!(
        j,
        idx.map((k) => cands[k]),
        s,
      );
      const sub: number[] = [];
      for (let i = 0; i < idx.length; i++) if (Number.isFinite(t[i])) sub.push(i);
      if (sub.length > 1) {
        const p = teacherProbs(
          sub.map((i) => t[i]),
          c.teacherTemperature,
        );
        const dl = distill(
          sub.map((i) => s[i]),
          p,
          c.temperature,
        );
        loss += (d * dl.loss) / B;
        sub.forEach((i, m) => (gs[i] += (d * dl.grad[m]) / B));
      }
    }
    idx.forEach((k, i) => {
      if (gs[i] !== 0) dotBackward(queries[j].act, texts[k].act, gs[i], queries[j].g, texts[k].g);
    });
  }
  // L1 on the weights every text produced (mean per text): sparser postings.
  const all = [...texts, ...queries];
  if (c.l1 > 0) {
    for (const t of all) {
      for (let k = 0; k < t.act.w.length; k++) {
        loss += (c.l1 * t.act.w[k]) / all.length;
        t.g[k] += c.l1 / all.length;
      }
    }
  }
  const terms: WeightTerm[] = [];
  for (const t of all) model.backwardTerms(t.text, t.act, t.g, grads, terms);
  await ops.accumulate(model, terms, grads.weight);
  // IDF prior (and shrinkage of the shift) on the tokens this batch touched.
  if (model.logScale && c.idfPrior > 0) {
    for (const [t, v] of grads.vocab) {
      const ds = model.logScale[t] - (prior ? prior[t] : 0);
      const sh = model.shift![t];
      loss += c.idfPrior * (ds * ds + sh * sh);
      v[0] += 2 * c.idfPrior * ds;
      v[1] += 2 * c.idfPrior * sh;
    }
  }
  return { loss, grads };
}

export const DEFAULT_TRAIN: TrainConfig = {
  temperature: M3_TEMPERATURE,
  batchSize: 32,
  hardNegatives: 7,
  maxEpochs: 5,
  patience: 1,
  lr: 5e-4,
  vocabLr: 2e-3,
  l1: 0,
  idfPrior: 1e-3,
  clip: 1,
  distillWeight: 0.5,
  teacherTemperature: M3_TEMPERATURE,
  maxLoss: 1e6,
  seed: 1,
  maxMs: 60_000,
};
