/** Calls the bench page's window.bench[fn](...args) from Node (bench/run.ts, bench/ingest-profile.ts). */
import type { Page } from 'playwright-core';
import type { Bench } from './page/main.ts';

export function call<F extends keyof Bench>(page: Page, fn: F, ...args: Parameters<Bench[F]>): Promise<Awaited<ReturnType<Bench[F]>>> {
  return page.evaluate(
    ([f, a]) => (window as unknown as { bench: Record<string, (...x: unknown[]) => unknown> }).bench[f as string](...(a as unknown[])) as Promise<never>,
    [fn, args] as const,
  ) as Promise<Awaited<ReturnType<Bench[F]>>>;
}
