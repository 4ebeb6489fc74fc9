import { describe, expect, it } from 'vitest';
import type { CachedText } from './hidden-cache.ts';
import { jsMatrixOps, type MatrixOps } from './matrix-ops.ts';
import { mulberry32 } from '../util/random.ts';
import { SparseHeadModel, type Grads } from './sparse-model.ts';
import { batchLoss, type TrainExample } from './train.ts';
import { createWebGpuOps } from './webgpu-ops.ts';

const H = 16;
const V = 60;

function corpus() {
  const r = mulberry32(11);
  const text = (ids: number[]): CachedText => ({
    ids: Uint32Array.from(ids),
    hidden: Float32Array.from({ length: ids.length * H }, () => r() * 2 - 1),
    truncated: false,
  });
  const docs = Array.from({ length: 14 }, (_, d) => text([0, ...Array.from({ length: 9 }, (_, k) => 4 + ((d * 4 + k * 3) % (V - 4))), 2]));
  const examples: TrainExample[] = docs.map((_, d) => ({
    query: text([0, 4 + ((d * 4) % (V - 4)), 4 + ((d * 4 + 6) % (V - 4)), 2]),
    doc: d,
    negatives: [(d + 1) % 14, (d + 3) % 14, (d + 6) % 14],
    mask: [2, 4],
  }));
  const model = new SparseHeadModel({ weight: Float32Array.from({ length: H }, () => r() * 0.6 - 0.2), bias: 0.3 }, V, true);
  for (let t = 0; t < V; t++) (model.logScale![t] = (r() - 0.5) * 0.4), (model.shift![t] = (r() - 0.5) * 0.1);
  return { docs, examples, model };
}

/** Stand-in for the GPU path's arithmetic: f32 projections and f32 partial sums of the gradient, async. */
const f32Ops: MatrixOps = {
  kind: 'webgpu',
  project: async (m, texts) =>
    texts.map((t) => {
      const z = new Float32Array(t.ids.length);
      for (let i = 0; i < z.length; i++) {
        let s = 0;
        for (let j = 0; j < m.H; j++) s = Math.fround(s + Math.fround(t.hidden[i * m.H + j] * m.weight[j]));
        z[i] = s + m.bias;
      }
      return z;
    }),
  accumulate: async (m, terms, out) => {
    for (let a = 0; a < terms.length; a += 4) {
      const part = new Float32Array(m.H);
      for (const { text, pos, coef } of terms.slice(a, a + 4)) for (let j = 0; j < m.H; j++) part[j] += Math.fround(coef) * text.hidden[pos * m.H + j];
      for (let j = 0; j < m.H; j++) out[j] += part[j];
    }
  },
};

const cfg = { temperature: 0.02, hardNegatives: 3, l1: 1e-3, idfPrior: 1e-3, distillWeight: 0.5, teacherTemperature: 0.02 };
const teacher = (_j: number, cands: { doc: number }[]) => Float64Array.from(cands, (c) => Math.cos(c.doc));

/** Reference: the step as it was before the MatrixOps split, forward()/backward() per text. */
function reference(model: SparseHeadModel, docs: CachedText[], batch: TrainExample[]): Grads {
  const grads = model.zeroGrads();
  for (const ex of batch) {
    for (const [text, mask] of [
      [docs[ex.doc], ex.mask],
      [ex.query, undefined],
    ] as const) {
      const act = model.forward(text, mask);
      model.backward(
        text,
        act,
        Float64Array.from(act.w, (w, k) => Math.sin(w + k)),
        grads,
      );
    }
  }
  return grads;
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1e-12, Math.abs(a), Math.abs(b));

describe('MatrixOps', () => {
  it('the JS ops reproduce forward()/backward() exactly (projections and the split backward)', () => {
    const { docs, examples, model } = corpus();
    const batch = examples.slice(0, 6);
    const want = reference(model, docs, batch);
    const got = model.zeroGrads();
    const terms: Parameters<SparseHeadModel['backwardTerms']>[4] = [];
    for (const ex of batch) {
      for (const [text, mask] of [
        [docs[ex.doc], ex.mask],
        [ex.query, undefined],
      ] as const) {
        const z = (jsMatrixOps.project(model, [text]) as Float64Array[])[0];
        const act = model.forwardFrom(text, z, mask);
        expect(act).toEqual(model.forward(text, mask));
        model.backwardTerms(
          text,
          act,
          Float64Array.from(act.w, (w, k) => Math.sin(w + k)),
          got,
          terms,
        );
      }
    }
    jsMatrixOps.accumulate(model, terms, got.weight);
    expect(Array.from(got.weight)).toEqual(Array.from(want.weight));
    expect(got.bias).toBe(want.bias);
    expect([...got.vocab]).toEqual([...want.vocab]);
  });

  it("a training step with f32, async matrix work (the GPU path's arithmetic) matches the JS step to 1e-4 relative", async () => {
    const { docs, examples, model } = corpus();
    const batch = examples.slice(0, 8);
    const js = await batchLoss(model, docs, batch, null, cfg, teacher, jsMatrixOps);
    const f32 = await batchLoss(model, docs, batch, null, cfg, teacher, f32Ops);
    expect(rel(f32.loss, js.loss)).toBeLessThan(1e-4);
    const norm = Math.hypot(...js.grads.weight);
    for (let j = 0; j < H; j++) expect(Math.abs(f32.grads.weight[j] - js.grads.weight[j]) / norm).toBeLessThan(1e-4);
    expect(rel(f32.grads.bias, js.grads.bias)).toBeLessThan(1e-4);
    for (const [t, [s, c]] of js.grads.vocab) {
      const [s2, c2] = f32.grads.vocab.get(t)!;
      expect(Math.abs(s2 - s)).toBeLessThan(1e-4 * Math.max(1, Math.abs(s)));
      expect(Math.abs(c2 - c)).toBeLessThan(1e-4 * Math.max(1, Math.abs(c)));
    }
  });

  it('without navigator.gpu (Node) the WebGPU backend declines with a reason', async () => {
    const r = await createWebGpuOps([], H);
    expect('reason' in r && r.reason).toMatch(/navigator\.gpu/);
  });
});
