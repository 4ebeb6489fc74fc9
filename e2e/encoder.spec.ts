import { test, expect } from '@playwright/test';
import { launchWithoutWebGpu, openHarness, ORIGIN, recordRequests } from './helpers.ts';

const MODEL = '/models/tiny-m3';
const TEXTS = ['What is BGE M3?', 'the boundary layer flow over a flat plate', '机器学习 と 検索', ''];

/** Encodes TEXTS on one device/dtype inside the page; returns plain arrays. */
interface Encoded {
  info: any;
  out: { dense: number[]; ids: number[]; w: number[]; colbert: number[] }[];
}

async function encodeIn(page: import('@playwright/test').Page, device: string, dtype: string): Promise<Encoded> {
  return page.evaluate(
    async ({ MODEL, TEXTS, device, dtype }) => {
      const enc = await (window as any).m3.M3Encoder.load({ model: MODEL, device, dtype, verify: "never" });
      const out = await enc.encode(TEXTS, { colbert: true });
      const info = enc.info;
      await enc.dispose();
      return {
        info,
        out: out.map((e: any) => ({ dense: Array.from(e.dense), ids: Array.from(e.sparse.ids), w: Array.from(e.sparse.weights), colbert: Array.from(e.colbert) })),
      };
    },
    { MODEL, TEXTS, device, dtype },
  );
}

function maxDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
}

for (const dtype of ['fp32', 'q8']) {
  test(`WASM and WebGPU (SwiftShader) agree to 1e-4 for ${dtype}, with no request off the origin`, async ({ page }) => {
    const urls = recordRequests(page);
    await openHarness(page);
    const wasm = await encodeIn(page, 'wasm', dtype);
    const gpu = await encodeIn(page, 'webgpu', dtype);
    expect(wasm.info.device).toBe('wasm');
    expect(gpu.info.device).toBe('webgpu');
    let worst = 0;
    wasm.out.forEach((w, t) => {
      const g = gpu.out[t];
      expect(g.ids).toEqual(w.ids);
      worst = Math.max(worst, maxDiff(w.dense, g.dense), maxDiff(w.w, g.w), maxDiff(w.colbert, g.colbert));
    });
    console.log(`${dtype}: max |WASM − WebGPU| = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-4);
    expect(urls.length).toBeGreaterThan(0);
    // blob: URLs of this origin are ORT's in-memory wasm factory, not network requests.
    expect(urls.filter((u) => !u.replace(/^blob:/, '').startsWith(ORIGIN))).toEqual([]);
  });
}

for (const against of ['known-answers', 'wasm'] as const) {
  test(`auto verifies WebGPU against ${against} and uses it when it agrees`, async ({ page }) => {
    // Without the shipped m3-probe.json the encoder must compare with a WASM run of the same graph.
    if (against === 'wasm') await page.route('**/m3-probe.json', (r) => r.fulfill({ status: 404, body: '' }));
    await openHarness(page);
    const info = await page.evaluate(async (MODEL) => {
      const enc = await (window as any).m3.M3Encoder.load({ model: MODEL, device: 'auto', verify: 'always' });
      return enc.info;
    }, MODEL);
    expect(info.device).toBe('webgpu');
    expect(info.dtype).toBe('fp32'); // SwiftShader has no shader-f16; the tiny fp32 graph fits a tab
    expect(info.verification).toMatchObject({ ok: true, against });
    expect(info.verification.minCosine).toBeGreaterThan(0.999);
    expect(info.fallbackReason).toBeUndefined();
  });
}

test('a verdict is cached per model, device and dtype', async ({ page }) => {
  await openHarness(page);
  const [first, second] = await page.evaluate(async (MODEL) => {
    const load = () => (window as any).m3.M3Encoder.load({ model: MODEL, device: 'auto' }).then((e: any) => e.info);
    const a = await load();
    // A second load reuses the stored verdict: corrupting WebGPU now goes unnoticed, proving no probe ran.
    const b = await (window as any).m3.M3Encoder.load({
      model: MODEL,
      device: 'auto',
      testHooks: { corruptHidden: (d: string, h: Float32Array) => d === 'webgpu' && h.fill(Number.NaN) },
    }).then((e: any) => e.info);
    return [a, b];
  }, MODEL);
  expect(first.device).toBe('webgpu');
  expect(second.device).toBe('webgpu');
  expect(second.verification).toEqual(first.verification);
});

test('auto falls back to WASM, with the reason, when WebGPU output is wrong', async ({ page }) => {
  await openHarness(page);
  const info = await page.evaluate(async (MODEL) => {
    const corruptHidden = (device: string, hidden: Float32Array) => {
      if (device === 'webgpu') for (let i = 0; i < hidden.length; i += 3) hidden[i] = -hidden[i] + 0.5;
    };
    const enc = await (window as any).m3.M3Encoder.load({ model: MODEL, device: 'auto', verify: 'always', testHooks: { corruptHidden } });
    const [e] = await enc.encode(['still works']);
    return { ...enc.info, denseOk: e.dense.every(Number.isFinite) };
  }, MODEL);
  expect(info.device).toBe('wasm');
  expect(info.verification.ok).toBe(false);
  expect(info.fallbackReason).toMatch(/failed verification.*(cosine|top tokens|NaN)/);
  expect(info.denseOk).toBe(true);
});

test('auto falls back to WASM, with the reason, when there is no WebGPU adapter', async () => {
  const browser = await launchWithoutWebGpu();
  try {
    const page = await browser.newPage({ baseURL: ORIGIN });
    await openHarness(page);
    const info = await page.evaluate(async (MODEL) => {
      const enc = await (window as any).m3.M3Encoder.load({ model: MODEL, device: 'auto' });
      const [e] = await enc.encode(['offline search']);
      return { ...enc.info, n: e.dense.length };
    }, MODEL);
    expect(info.device).toBe('wasm');
    expect(info.dtype).toBe('q8');
    expect(info.fallbackReason).toMatch(/WebGPU unavailable/);
    expect(info.n).toBe(32);
  } finally {
    await browser.close();
  }
});

test('a model URL that does not exist fails with the file named', async ({ page }) => {
  await openHarness(page);
  const message = await page.evaluate(async () => {
    try {
      await (window as any).m3.M3Encoder.load({ model: '/models/no-such-model', device: 'wasm' });
      return 'loaded?!';
    } catch (e: any) {
      return String(e.message);
    }
  });
  expect(message).toMatch(/config\.json/);
});
