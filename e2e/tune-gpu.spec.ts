import { test, expect } from '@playwright/test';
import { openHarness } from './helpers.ts';

// The sparse-head training's matrix work on WebGPU compute (issue 5) against the JS path, in real Chromium.
// Its adapter here is SwiftShader (a CPU emulation): right answers, meaningless speed; the sizes stay small.
const PAGE = '/e2e/pages/tune.html';

test('a training step on WebGPU matches the JS step (loss and gradients to 1e-4 relative)', async ({ page }) => {
  await openHarness(page, PAGE);
  const r = await page.evaluate(async () => {
    const m3 = (window as any).m3;
    let seed = 5;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const H = 96;
    const V = 500;
    const text = (n: number) => {
      const ids = Uint32Array.from({ length: n }, (_, i) => (i === 0 ? 0 : i === n - 1 ? 2 : 4 + Math.floor(rand() * (V - 4))));
      return { ids, hidden: Float32Array.from({ length: n * H }, () => rand() * 2 - 1), truncated: false };
    };
    const docs = Array.from({ length: 40 }, () => text(48));
    const batch = Array.from({ length: 8 }, (_, d) => ({ query: text(8), doc: d, mask: [3, 6], negatives: [8 + d, 16 + d, 24 + d, 32 + d] }));
    const model = new m3.SparseHeadModel({ weight: Float32Array.from({ length: H }, () => (rand() - 0.4) * 0.2), bias: 0.05 }, V, true);
    for (let t = 0; t < V; t++) model.logScale[t] = (rand() - 0.5) * 0.5;
    const gpu = await m3.createWebGpuOps([...docs, ...batch.map((b) => b.query)], H);
    if (!gpu.ops) return { reason: gpu.reason };
    const cfg = { temperature: 0.02, hardNegatives: 4, l1: 1e-3, idfPrior: 1e-3, distillWeight: 0.5, teacherTemperature: 0.02 };
    const teacher = (_j: number, cands: { doc: number }[]) => Float64Array.from(cands, (c) => Math.cos(c.doc));
    const t0 = performance.now();
    const js = await m3.batchLoss(model, docs, batch, null, cfg, teacher, m3.jsMatrixOps);
    const t1 = performance.now();
    const wg = await m3.batchLoss(model, docs, batch, null, cfg, teacher, gpu.ops);
    const t2 = performance.now();
    // The projections themselves, row by row.
    const zj = m3.jsMatrixOps.project(model, docs);
    const zg = await gpu.ops.project(model, docs);
    gpu.ops.destroy();
    let zErr = 0;
    let zMax = 0;
    zj.forEach((z: Float64Array, i: number) => z.forEach((v, k) => ((zErr = Math.max(zErr, Math.abs(v - zg[i][k]))), (zMax = Math.max(zMax, Math.abs(v))))));
    const norm = Math.hypot(...js.grads.weight);
    let wErr = 0;
    for (let j = 0; j < H; j++) wErr = Math.max(wErr, Math.abs(wg.grads.weight[j] - js.grads.weight[j]) / norm);
    let vErr = 0;
    for (const [t, [s, c]] of js.grads.vocab) {
      const [s2, c2] = wg.grads.vocab.get(t) ?? [NaN, NaN];
      vErr = Math.max(vErr, Math.abs(s2 - s) / Math.max(1, Math.abs(s)), Math.abs(c2 - c) / Math.max(1, Math.abs(c)));
    }
    return {
      loss: [js.loss, wg.loss],
      lossRel: Math.abs(js.loss - wg.loss) / Math.abs(js.loss),
      biasRel: Math.abs(js.grads.bias - wg.grads.bias) / Math.abs(js.grads.bias),
      wErr,
      vErr,
      vocab: [js.grads.vocab.size, wg.grads.vocab.size],
      zRel: zErr / zMax,
      ms: { js: t1 - t0, webgpu: t2 - t1 },
    };
  });
  console.log('webgpu vs js step:', JSON.stringify(r));
  expect(r.reason).toBeUndefined();
  expect(r.zRel).toBeLessThan(1e-5);
  expect(r.lossRel).toBeLessThan(1e-4);
  expect(r.biasRel).toBeLessThan(1e-4);
  expect(r.wErr).toBeLessThan(1e-4);
  expect(r.vErr).toBeLessThan(1e-4);
  expect(r.vocab![1]).toBe(r.vocab![0]);
});

test("tuneSparseHead with compute 'webgpu' trains on the GPU end to end; 'js' reports JS", async ({ page }) => {
  await openHarness(page, PAGE);
  const r = await page.evaluate(async () => {
    const w = window as any;
    const { index } = await w.openTuneIndex('wasm', 'tune-gpu', true);
    const opts = { maxEpochs: 2, teacher: 'none', seed: 3, activate: false };
    const gpu = await w.m3.tuneSparseHead(index, { ...opts, compute: 'webgpu' });
    const js = await w.m3.tuneSparseHead(index, { ...opts, compute: 'js' });
    index.close();
    const pick = (x: any) => ({ status: x.status, compute: x.compute, steps: x.training.steps, ms: x.ms.train, loss: x.curve.map((c: any) => c.loss) });
    return { gpu: pick(gpu), js: pick(js) };
  });
  console.log('tune webgpu vs js:', JSON.stringify({ gpu: { ...r.gpu, loss: r.gpu.loss.slice(0, 3) }, js: { ...r.js, loss: r.js.loss.slice(0, 3) } }));
  expect(r.gpu.status).toBe('tuned');
  expect(r.gpu.compute).toEqual({ requested: 'webgpu', used: 'webgpu' });
  expect(r.js.compute).toEqual({ requested: 'js', used: 'js' });
  expect(r.gpu.steps).toBe(r.js.steps);
  // Same seed, same data: the loss curves agree up to f32 drift compounded over the steps.
  r.gpu.loss.forEach((l: number, i: number) => expect(Math.abs(l - r.js.loss[i]) / Math.abs(r.js.loss[i])).toBeLessThan(1e-3));
});
