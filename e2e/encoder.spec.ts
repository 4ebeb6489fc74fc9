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
      const enc = await (window as any).m3.M3Encoder.load({ model: MODEL, device, dtype, verify: 'never' });
      const out = await enc.encode(TEXTS, { colbert: true });
      const info = enc.info;
      await enc.dispose();
      return {
        info,
        out: out.map((e: any) => ({
          dense: Array.from(e.dense),
          ids: Array.from(e.sparse.ids),
          w: Array.from(e.sparse.weights),
          colbert: Array.from(e.colbert),
        })),
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
  // Measured here (Chromium 14x, SwiftShader): max |WASM − WebGPU| 2e-7 for fp32. The limit is 10x that.
  test(`WASM and WebGPU (SwiftShader) agree to 2e-6 for ${dtype}, with no request off the origin`, async ({ page }) => {
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
    expect(worst).toBeLessThanOrEqual(2e-6);
    expect(urls.length).toBeGreaterThan(0);
    // blob: URLs of this origin are ORT's in-memory wasm factory, not network requests.
    expect(urls.filter((u) => !u.replace(/^blob:/, '').startsWith(ORIGIN))).toEqual([]);
  });
}

/** Loads the tiny model in the harness page; `hooks` is the source of a testHooks object literal. */
async function loadInfo(page: import('@playwright/test').Page, options: Record<string, unknown>, hooks = '{}'): Promise<any> {
  return page.evaluate(
    async ({ MODEL, options, hooks }) => {
      const testHooks = (0, eval)(`(${hooks})`);
      const enc = await (window as any).m3.M3Encoder.load({ model: MODEL, ...options, testHooks });
      const info = enc.info;
      await enc.dispose();
      return info;
    },
    { MODEL, options, hooks },
  );
}

/** Hooks that make WebGPU's output NaN: a load that probes WebGPU must then fall back. */
const NAN_ON_WEBGPU = `{ corruptHidden: (d, h) => d === 'webgpu' && h.fill(Number.NaN) }`;
/** Pretends SwiftShader is a hardware adapter, so 'auto' runs its timed choice on it. */
const AS_HARDWARE = `{ adapter: { software: undefined } }`;

test('auto never uses a software adapter: WASM, no WebGPU graph loaded, and the reason', async ({ page }) => {
  const urls = recordRequests(page);
  await openHarness(page);
  const info = await loadInfo(page, { device: 'auto' });
  expect(info.device).toBe('wasm');
  expect(info.dtype).toBe('q8');
  // Chromium flags SwiftShader as a fallback adapter; its name would give it away too (device.test.ts).
  expect(info.fallbackReason).toMatch(/adapter \(.*swiftshader.*\) is software: .*; WASM is faster/i);
  expect(info.choice).toMatchObject({ device: 'wasm', dtype: 'q8', timings: {}, cached: false, addedMs: 0 });
  expect(info.verification).toBeUndefined(); // nothing was probed
  expect(urls.filter((u) => u.endsWith('/onnx/model.onnx'))).toEqual([]); // the fp32 WebGPU graph was never fetched
});

for (const against of ['known-answers', 'wasm'] as const) {
  test(`webgpu by name is verified against ${against} and used when it agrees`, async ({ page }) => {
    // Without the shipped m3-probe.json the encoder must compare with a WASM run of the same graph.
    if (against === 'wasm') await page.route('**/m3-probe.json', (r) => r.fulfill({ status: 404, body: '' }));
    await openHarness(page);
    const info = await loadInfo(page, { device: 'webgpu', verify: 'always' });
    expect(info.device).toBe('webgpu');
    expect(info.dtype).toBe('fp32'); // SwiftShader has no shader-f16; the tiny fp32 graph fits a tab
    expect(info.verification).toMatchObject({ ok: true, against });
    expect(info.verification.minCosine).toBeGreaterThan(0.999);
    expect(info.fallbackReason).toBeUndefined();
  });
}

test('auto times the verified WebGPU probe against WASM and keeps the faster, with both timings', async ({ page }) => {
  await openHarness(page);
  const first = await loadInfo(page, { device: 'auto' }, AS_HARDWARE);
  const { webgpu, wasm } = first.choice.timings;
  expect(webgpu).toMatchObject({ dtype: 'fp32' });
  expect(wasm).toMatchObject({ dtype: 'q8' });
  for (const t of [webgpu, wasm]) expect(t.ms).toBeGreaterThan(0);
  const faster = wasm.ms < webgpu.ms ? 'wasm' : 'webgpu';
  console.log(
    `probe: WebGPU ${webgpu.ms.toFixed(1)} ms (first ${webgpu.firstMs.toFixed(0)} ms), WASM ${wasm.ms.toFixed(1)} ms (first ${wasm.firstMs.toFixed(0)} ms); deciding added ${first.choice.addedMs.toFixed(0)} ms`,
  );
  expect(first.device).toBe(faster);
  expect(first.choice).toMatchObject({ device: faster, cached: false });
  expect(first.choice.reason).toMatch(faster === 'wasm' ? /^WASM is faster/ : /^WebGPU is faster/);
  expect(first.choice.addedMs).toBeGreaterThan(0);
  expect(first.verification).toMatchObject({ ok: true });
  // SwiftShader emulates the GPU on the CPU: WASM must win here by far.
  expect(faster).toBe('wasm');
  expect(webgpu.ms / wasm.ms).toBeGreaterThan(3);

  // The second load takes the cached decision: nothing is probed (NaN on WebGPU goes unnoticed), nothing added.
  const second = await loadInfo(page, { device: 'auto' }, `{ ...${AS_HARDWARE}, ...${NAN_ON_WEBGPU} }`);
  expect(second.device).toBe('wasm');
  expect(second.choice).toEqual({ ...first.choice, cached: true, addedMs: 0 });
});

test('a cached verdict is reused, and re-verified when the model, dtype, adapter or runtime version changes', async ({ page }) => {
  // The same files under another URL: another model as far as the cache can tell.
  await page.route('**/models/tiny-m3-copy/**', async (r) => {
    const response = await page.request.fetch(r.request().url().replace('/tiny-m3-copy/', '/tiny-m3/'));
    await r.fulfill({ response });
  });
  await openHarness(page);
  const base = { device: 'webgpu', dtype: 'fp32' };
  const first = await loadInfo(page, base);
  expect(first.device).toBe('webgpu');
  expect(first.verification.ok).toBe(true);
  // Same identity: the cached verdict is used, so a broken WebGPU goes unnoticed (proof that no probe ran).
  const same = await loadInfo(page, base, NAN_ON_WEBGPU);
  expect(same.device).toBe('webgpu');
  expect(same.verification).toEqual(first.verification);
  // Each change alone must miss the cache: the probe runs, sees the NaN and falls back to WASM.
  const changes: [string, Record<string, unknown>, string][] = [
    ['dtype', { ...base, dtype: 'q8' }, NAN_ON_WEBGPU],
    ['adapter', base, `{ ...${NAN_ON_WEBGPU}, adapter: { description: 'another adapter' } }`],
    ['runtime version', base, `{ ...${NAN_ON_WEBGPU}, runtimeVersion: 'transformers.js 9.9.9' }`],
    ['model', { ...base, model: '/models/tiny-m3-copy' }, NAN_ON_WEBGPU],
  ];
  for (const [what, options, hooks] of changes) {
    const info = await page.evaluate(
      async ({ MODEL, options, hooks }) => {
        const testHooks = (0, eval)(`(${hooks})`);
        const enc = await (window as any).m3.M3Encoder.load({ model: MODEL, ...options, testHooks });
        return enc.info;
      },
      { MODEL, options, hooks },
    );
    expect(info.device, `a changed ${what} re-verifies`).toBe('wasm');
    expect(info.fallbackReason, what).toMatch(/failed verification: probe 0: output has NaN/);
  }
});

/** Serves m3-probe.json with the answers changed by `edit` (in the page's terms: a wrong reference). */
async function wrongAnswers(page: import('@playwright/test').Page, edit: (a: { dense: number[]; topTokens: number[] }) => void): Promise<void> {
  await page.route('**/models/tiny-m3/m3-probe.json', async (r) => {
    const file = await (await page.request.fetch(r.request().url())).json();
    for (const list of Object.values(file.answers) as { dense: number[]; topTokens: number[] }[][]) list.forEach(edit);
    await r.fulfill({ json: file });
  });
}

test.describe('each verification limit, broken alone, makes WebGPU fall back with that limit named', () => {
  test('NaN in the output', async ({ page }) => {
    await openHarness(page);
    const info = await loadInfo(page, { device: 'webgpu', verify: 'always' }, NAN_ON_WEBGPU);
    expect(info.device).toBe('wasm');
    expect(info.verification).toMatchObject({ ok: false, against: 'known-answers' });
    expect(info.fallbackReason).toMatch(/WebGPU output failed verification: probe 0: output has NaN or Infinity/);
  });

  test('dense cosine below 0.99', async ({ page }) => {
    // Rotate every pair of dense components by the same angle: cosine with the true answer exactly 0.98.
    await wrongAnswers(page, (a) => {
      const c = 0.98;
      const s = Math.sqrt(1 - c * c);
      for (let i = 0; i + 1 < a.dense.length; i += 2) [a.dense[i], a.dense[i + 1]] = [c * a.dense[i] - s * a.dense[i + 1], s * a.dense[i] + c * a.dense[i + 1]];
    });
    await openHarness(page);
    const info = await loadInfo(page, { device: 'webgpu', verify: 'always' });
    expect(info.device).toBe('wasm');
    expect(info.fallbackReason).toMatch(/failed verification: probe 0: dense cosine 0\.98\d* < 0\.99 against known-answers/);
    expect(info.verification.minCosine).toBeCloseTo(0.98, 3);
  });

  test('different top tokens', async ({ page }) => {
    // Dense answers untouched; the top tokens become ids the sparse output never has (special tokens).
    await wrongAnswers(page, (a) => (a.topTokens = [0, 1, 2, 3, 4]));
    await openHarness(page);
    const info = await loadInfo(page, { device: 'webgpu', verify: 'always' });
    expect(info.device).toBe('wasm');
    expect(info.fallbackReason).toMatch(/failed verification: probe 0: top tokens \[[\d,]+\] differ from \[0,1,2,3,4\]/);
    expect(info.verification.minCosine).toBeGreaterThan(0.999); // the dense side passed
  });
});

test('auto (timing a hardware-looking adapter) falls back to WASM, with the reason, when WebGPU output is wrong', async ({ page }) => {
  await openHarness(page);
  const info = await page.evaluate(async (MODEL) => {
    const corruptHidden = (device: string, hidden: Float32Array) => {
      if (device === 'webgpu') for (let i = 0; i < hidden.length; i += 3) hidden[i] = -hidden[i] + 0.5;
    };
    const enc = await (window as any).m3.M3Encoder.load({
      model: MODEL,
      device: 'auto',
      verify: 'always',
      testHooks: { corruptHidden, adapter: { software: undefined } },
    });
    const [e] = await enc.encode(['still works']);
    return { ...enc.info, denseOk: e.dense.every(Number.isFinite) };
  }, MODEL);
  expect(info.device).toBe('wasm');
  expect(info.verification.ok).toBe(false);
  expect(info.fallbackReason).toMatch(/failed verification.*(cosine|top tokens|NaN)/);
  expect(info.choice.reason).toBe(info.fallbackReason);
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
    expect(info.choice).toMatchObject({ device: 'wasm', timings: {}, addedMs: 0 });
    expect(info.threads.used).toBeGreaterThanOrEqual(1);
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
