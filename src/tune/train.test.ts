import { describe, expect, it } from 'vitest';
import type { CachedText } from './hidden-cache.ts';
import { idfLogScale, tokenIdf } from './idf.ts';
import { distill, infoNce, teacherProbs } from './losses.ts';
import { mulberry32 } from '../util/random.ts';
import { clipGradients, SparseHeadModel } from './sparse-model.ts';
import { batchLoss, DEFAULT_TRAIN, trainSparseHead, type TrainExample } from './train.ts';

const H = 6;
const V = 40;

function text(r: () => number, ids: number[]): CachedText {
  const hidden = new Float32Array(ids.length * H);
  for (let i = 0; i < hidden.length; i++) hidden[i] = r() * 2 - 1;
  return { ids: Uint32Array.from(ids), hidden, truncated: false };
}

/** A small synthetic corpus: document d holds tokens 4 + (d·3 … d·3+5); a query shares two with its doc. */
function corpus(seed = 1, n = 12) {
  const r = mulberry32(seed);
  const docs: CachedText[] = [];
  for (let d = 0; d < n; d++) docs.push(text(r, [0, ...Array.from({ length: 6 }, (_, k) => 4 + ((d * 3 + k) % (V - 4))), 2]));
  const examples: TrainExample[] = [];
  for (let d = 0; d < n; d++) {
    examples.push({
      query: text(r, [0, 4 + ((d * 3) % (V - 4)), 4 + ((d * 3 + 5) % (V - 4)), 2]),
      doc: d,
      negatives: [(d + 1) % n, (d + 2) % n, (d + 5) % n],
      mask: [1, 2],
    });
  }
  return { docs, examples };
}

function head(seed = 3) {
  const r = mulberry32(seed);
  return { weight: Float32Array.from({ length: H }, () => r() * 0.6 - 0.1), bias: 0.4 };
}

const cfg = { temperature: 0.05, hardNegatives: 3, l1: 0.01, idfPrior: 0.05, distillWeight: 0.5, teacherTemperature: 0.05 };

describe('sparse head gradients', () => {
  it('match finite differences for W, b, the per-token log-scale and shift (InfoNCE + distillation + L1 + prior)', async () => {
    const { docs, examples } = corpus();
    const model = new SparseHeadModel(head(), V, true);
    const r = mulberry32(9);
    for (let t = 0; t < V; t++) (model.logScale![t] = (r() - 0.5) * 0.4), (model.shift![t] = (r() - 0.5) * 0.1);
    const prior = Float32Array.from({ length: V }, () => (r() - 0.5) * 0.2);
    const teacher = (_j: number, cands: { doc: number }[]) => Float64Array.from(cands, (c) => Math.sin(c.doc));
    const batch = examples.slice(0, 5);
    const f = async () => (await batchLoss(model, docs, batch, prior, cfg, teacher)).loss;
    const { grads } = await batchLoss(model, docs, batch, prior, cfg, teacher);
    const eps = 1e-3;
    const fd = async (get: () => number, set: (v: number) => void) => {
      const x = get();
      set(x + eps);
      const up = await f();
      set(x - eps);
      const down = await f();
      set(x);
      return (up - down) / (2 * eps);
    };
    for (let j = 0; j < H; j++) {
      const num = await fd(
        () => model.weight[j],
        (v) => (model.weight[j] = v),
      );
      expect(grads.weight[j]).toBeCloseTo(num, 2);
    }
    expect(grads.bias).toBeCloseTo(
      await fd(
        () => model.bias,
        (v) => (model.bias = v),
      ),
      2,
    );
    let checked = 0;
    for (const [t, [gs, gc]] of grads.vocab) {
      expect(gs).toBeCloseTo(
        await fd(
          () => model.logScale![t],
          (v) => (model.logScale![t] = v),
        ),
        2,
      );
      expect(gc).toBeCloseTo(
        await fd(
          () => model.shift![t],
          (v) => (model.shift![t] = v),
        ),
        2,
      );
      checked++;
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('with the per-token map off, forward is exactly relu(h·W + b) max-pooled per id (M3)', () => {
    const r = mulberry32(4);
    const t = text(r, [0, 7, 9, 7, 3, 2]);
    const hd = head();
    const a = new SparseHeadModel(hd, V, false).forward(t);
    const ref = new Map<number, number>();
    for (let i = 1; i < 5; i++) {
      const id = t.ids[i];
      if (id === 3) continue; // <unk> never appears
      let z = hd.bias;
      for (let j = 0; j < H; j++) z += t.hidden[i * H + j] * hd.weight[j];
      if (z > 0) ref.set(id, Math.max(ref.get(id) ?? 0, z));
    }
    expect([...a.ids]).toEqual([...ref.keys()].sort((x, y) => x - y));
    a.ids.forEach((id, k) => expect(a.w[k]).toBeCloseTo(ref.get(id)!, 6));
  });
});

describe('losses', () => {
  it('InfoNCE at τ: value and gradient', () => {
    const s = [0.3, 0.1, 0.25];
    const { loss, grad } = infoNce(s, 0, 0.02);
    const z = s.map((x) => Math.exp(x / 0.02));
    expect(loss).toBeCloseTo(-Math.log(z[0] / (z[0] + z[1] + z[2])), 8);
    const eps = 1e-6;
    for (let i = 0; i < 3; i++) {
      const up = s.slice();
      up[i] += eps;
      expect(grad[i]).toBeCloseTo((infoNce(up, 0, 0.02).loss - loss) / eps, 2);
    }
  });

  it('distillation is the cross-entropy to the teacher, minimal where the student matches it', () => {
    const p = teacherProbs([1, 0, 2], 1);
    expect(p.reduce((a, b) => a + b)).toBeCloseTo(1, 10);
    const matched = distill([1, 0, 2], p, 1);
    const off = distill([2, 0, 1], p, 1);
    expect(matched.loss).toBeLessThan(off.loss);
    matched.grad.forEach((g) => expect(g).toBeCloseTo(0, 10));
  });
});

describe('IDF prior', () => {
  it('gives rare tokens a larger initial scale, ignores specials, leaves unseen tokens at 0', () => {
    const docs = [
      [0, 5, 6, 2],
      [0, 5, 7, 2],
      [0, 5, 7, 7, 2],
      [0, 5, 2],
    ];
    const { idf, df, n } = tokenIdf(docs, 10);
    expect(n).toBe(4);
    expect([df[5], df[6], df[7], df[0], df[2]]).toEqual([4, 1, 2, 0, 0]);
    expect(idf[6]).toBeCloseTo(Math.log(1 + (4 - 1 + 0.5) / 1.5), 6);
    const s = idfLogScale(idf, df);
    expect(s[6]).toBeGreaterThan(s[7]);
    expect(s[7]).toBeGreaterThan(s[5]);
    expect(s[9]).toBe(0);
  });
});

describe('regularisation and safety', () => {
  it('clipGradients bounds the global norm', () => {
    const g = { weight: Float64Array.from([3, 4]), bias: 0, vocab: new Map([[1, [0, 12] as [number, number]]]) };
    expect(clipGradients(g, 1)).toBeCloseTo(13, 10);
    const n = Math.hypot(g.weight[0], g.weight[1], g.vocab.get(1)![1]);
    expect(n).toBeCloseTo(1, 10);
  });

  it('L1 makes the head produce fewer, smaller weights; a pruning threshold drops the small ones', async () => {
    const { docs, examples } = corpus(2, 16);
    const run = async (l1: number) => {
      const model = new SparseHeadModel(head(), V, true);
      await trainSparseHead({
        model,
        docs,
        train: examples,
        heldOut: [],
        prior: null,
        config: { ...DEFAULT_TRAIN, hardNegatives: 3, l1, maxEpochs: 30, lr: 0.01, vocabLr: 0.05 },
      });
      let sum = 0;
      let n = 0;
      for (const d of docs) for (const w of model.forward(d).w) (sum += w), n++;
      return { model, sum, n };
    };
    const plain = await run(0);
    const sparse = await run(0.5);
    expect(sparse.sum).toBeLessThan(plain.sum * 0.7);
    const h = sparse.model.toHead(0.1);
    expect(h.threshold).toBe(0.1);
  });

  it('stops early when the held-out metric does not improve, keeping the best head', async () => {
    const { docs, examples } = corpus(3, 16);
    const model = new SparseHeadModel(head(), V, true);
    const before = model.snapshot();
    // lr 0: nothing changes, so the held-out metric never improves.
    const out = await trainSparseHead({
      model,
      docs,
      train: examples.slice(0, 12),
      heldOut: examples.slice(12),
      prior: null,
      config: { ...DEFAULT_TRAIN, hardNegatives: 3, lr: 0, vocabLr: 0, patience: 1, maxEpochs: 10 },
    });
    expect(out.status).toBe('early-stopped');
    expect(out.epochs).toBe(2);
    expect(Array.from(model.weight)).toEqual(Array.from(before.weight));
  });

  it('NaN or exploding loss stops training with a reason and restores the previous head', async () => {
    const { docs, examples } = corpus(4, 16);
    const model = new SparseHeadModel(head(), V, true);
    const before = model.snapshot();
    const out = await trainSparseHead({
      model,
      docs,
      train: examples,
      heldOut: [],
      prior: null,
      config: { ...DEFAULT_TRAIN, hardNegatives: 3, lr: 1e30, vocabLr: 1e30, clip: 0, maxEpochs: 5 },
    });
    expect(out.status).toBe('failed');
    expect(out.reason).toMatch(/NaN|Infinity|exploded|non-finite/);
    expect(out.reason).toMatch(/previous head is kept/);
    expect(Array.from(model.weight)).toEqual(Array.from(before.weight));
  });

  it('training on pairs raises the held-out ranking of the positives', async () => {
    const { docs, examples } = corpus(5, 20);
    const model = new SparseHeadModel(head(), V, true);
    const out = await trainSparseHead({
      model,
      docs,
      train: examples.slice(0, 16),
      heldOut: examples,
      prior: null,
      config: { ...DEFAULT_TRAIN, hardNegatives: 3, maxEpochs: 20, patience: 20, lr: 0.01, vocabLr: 0.05 },
    });
    expect(out.after.mrr10).toBeGreaterThan(out.before.mrr10);
  });

  it('a cancelled signal aborts between steps', async () => {
    const { docs, examples } = corpus(6);
    const model = new SparseHeadModel(head(), V, true);
    const ctl = new AbortController();
    ctl.abort();
    await expect(
      trainSparseHead({ model, docs, train: examples, heldOut: [], prior: null, config: { ...DEFAULT_TRAIN, hardNegatives: 3 }, signal: ctl.signal }),
    ).rejects.toThrow(/abort/);
  });
});
