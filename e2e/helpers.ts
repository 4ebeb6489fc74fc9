import { chromium, type Browser, type Page } from '@playwright/test';
import { BASE_ARGS, CHROMIUM, PORT } from '../playwright.config.ts';

export const ORIGIN = `http://127.0.0.1:${PORT}`;

/** Opens a harness page and waits until it has exposed the library as window.m3. */
export async function openHarness(page: Page, path = '/e2e/pages/encoder.html'): Promise<void> {
  await page.goto(path);
  await page.waitForFunction(() => (window as any).m3Ready === true);
}

/** Records every request the page makes, to prove none leaves the origin. */
export function recordRequests(page: Page): string[] {
  const urls: string[] = [];
  page.on('request', (r) => urls.push(r.url()));
  return urls;
}

/** A browser launched without --enable-unsafe-webgpu: no WebGPU adapter, as on many real machines. */
export function launchWithoutWebGpu(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: BASE_ARGS });
}
