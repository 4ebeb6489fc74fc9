/** The bench page from Node (bench/run.ts, bench/ingest-profile.ts): building it, and calling window.bench[fn](...args). */
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { build } from 'vite';
import type { Bench } from './page/main.ts';

/** Where the bench page is built (not dist/, which the e2e server uses). */
export const OUT_DIR = resolve('bench/.dist');

/** Builds only the bench page (of the checkout at `root`) into `outDir`, leaving dist/ alone. */
export async function buildPage(root = process.cwd(), outDir = OUT_DIR): Promise<void> {
  await build({
    configFile: false,
    root,
    publicDir: false,
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true, target: 'es2022', minify: false, rollupOptions: { input: { bench: resolve(root, 'bench/page/index.html') } } },
  });
}

export function call<F extends keyof Bench>(page: Page, fn: F, ...args: Parameters<Bench[F]>): Promise<Awaited<ReturnType<Bench[F]>>> {
  return page.evaluate(
    ([f, a]) => (window as unknown as { bench: Record<string, (...x: unknown[]) => unknown> }).bench[f as string](...(a as unknown[])) as Promise<never>,
    [fn, args] as const,
  ) as Promise<Awaited<ReturnType<Bench[F]>>>;
}
