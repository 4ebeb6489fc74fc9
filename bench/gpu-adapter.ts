/**
 * Which WebGPU adapter headless Chromium gets on this machine with the flags for a real GPU, as one JSON line:
 *   {"ok":true,"adapter":"nvidia hopper …","software":null,"f16":true,"chromium":"…"}
 *   {"ok":false,"reason":"…"}   (no browser, no adapter, or a launch failure: said, never guessed)
 * Used by bench/gpu-encoder.sh before it spends time on a WebGPU run.
 */
import { BASE_ARGS, CHROMIUM } from '../playwright.config.ts';
import { softwareAdapter } from '../src/encoder/device.ts';
import { REAL_GPU_ARGS } from './gpu-flags.ts';

async function main(): Promise<Record<string, unknown>> {
  const { chromium } = await import('playwright-core');
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_ARGS, '--enable-unsafe-webgpu', ...REAL_GPU_ARGS] });
  } catch (e: any) {
    return { ok: false, reason: `cannot launch Chromium at ${CHROMIUM}: ${String(e?.message ?? e).split('\n')[0]}` };
  }
  try {
    const page = await browser.newPage();
    // navigator.gpu exists only in a secure context: a (routed, serverless) page on http://localhost is one.
    await page.route('http://localhost/**', (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>adapter probe</title>' }));
    await page.goto('http://localhost/');
    const r = await page.evaluate(async () => {
      const gpu = (navigator as any).gpu;
      if (!gpu) return { reason: 'navigator.gpu is missing' };
      const a = await gpu.requestAdapter({ powerPreference: 'high-performance' });
      if (!a) return { reason: 'requestAdapter returned null (no usable GPU driver for Chromium)' };
      const i = a.info ?? {};
      return {
        info: {
          vendor: i.vendor,
          architecture: i.architecture,
          device: i.device,
          description: i.description,
          isFallbackAdapter: i.isFallbackAdapter ?? a.isFallbackAdapter,
        },
        f16: a.features.has('shader-f16'),
      };
    });
    if (!r.info) return { ok: false, reason: r.reason, chromium: browser.version() };
    const adapter = [r.info.vendor, r.info.architecture, r.info.device, r.info.description].filter(Boolean).join(' ');
    return { ok: true, adapter, software: softwareAdapter(r.info) ?? null, f16: r.f16, chromium: browser.version() };
  } finally {
    await browser.close();
  }
}

main().then(
  (r) => {
    console.log(JSON.stringify(r));
    process.exit(0);
  },
  (e) => {
    console.log(JSON.stringify({ ok: false, reason: String(e?.message ?? e) }));
    process.exit(0);
  },
);
