/**
 * Where a browser keeps model files: ONE place, Transformers.js's Cache API cache (`env.cacheKey`,
 * "transformers-cache"), keyed by the file's URL. The ONNX graph and tokenizer land there through
 * Transformers.js; config.json, the heads and the probe file land there through readModelFile; a service
 * worker must not keep a second copy (the demo's does not). Why this cache and not a service worker's:
 * it is where Transformers.js looks before the network, in a page or a worker, with or without a service
 * worker, so every app that installs the package gets "download once, offline after" without writing one.
 *
 * Writes go through this wrapper so that a full quota is not swallowed (Transformers.js only logs it): the
 * failure is recorded with the file's size, and the load reports how much space the model needs.
 */
import type { Transformers } from './transformers.ts';

export interface StoreFailure {
  url: string;
  bytes: number;
  quota: boolean;
  message: string;
}

export class ModelStore {
  readonly failures: StoreFailure[] = [];
  /** URL → bytes of every file stored or found stored during this load. */
  readonly files = new Map<string, number>();
  private cache: Promise<Cache | null> | undefined;

  constructor(readonly name: string) {}

  private open(): Promise<Cache | null> {
    return (this.cache ??= caches.open(this.name).catch(() => null));
  }

  async match(url: string): Promise<Response | undefined> {
    const c = await this.open();
    const hit = await c?.match(url);
    if (hit) this.files.set(url, Number(hit.headers.get('content-length')) || 0);
    return hit ?? undefined;
  }

  async put(url: string, response: Response): Promise<void> {
    const c = await this.open();
    if (!c) return;
    const bytes = Number(response.headers.get('content-length')) || 0;
    try {
      await c.put(url, response);
      this.files.set(url, bytes);
    } catch (e: any) {
      const quota = e?.name === 'QuotaExceededError' || /quota/i.test(String(e?.message ?? e));
      this.failures.push({ url, bytes, quota, message: String(e?.message ?? e) });
    }
  }

  /** A sentence for the user when some file could not be stored, or undefined when all were. */
  async warning(): Promise<string | undefined> {
    if (!this.failures.length) return undefined;
    const failed = this.failures.reduce((s, f) => s + f.bytes, 0);
    const model = [...this.files.values()].reduce((s, b) => s + b, 0) + failed;
    const names = this.failures.map((f) => f.url.split('/').pop()).join(', ');
    if (!this.failures.some((f) => f.quota)) {
      return `The model works now but was not stored for offline use (${names}: ${this.failures[0].message}); it will download again next time.`;
    }
    let room = '';
    try {
      const est = await navigator.storage.estimate();
      // (an estimate that still shows room contradicts the failure — another tab, an override — so say nothing)
      if (est.quota !== undefined && est.usage !== undefined && est.quota - est.usage < failed) {
        room = ` This site may use ${mb(est.quota)} and already uses ${mb(est.usage)}, so ${mb(Math.max(0, est.quota - est.usage))} is free.`;
      }
    } catch {
      // estimate() is missing in some contexts; the needed size alone still helps
    }
    return (
      `Not enough storage to keep the model for offline use: ${names} (${mb(failed)}) could not be stored. ` +
      `Storing this model needs ${mb(failed)} more free space (${mb(model)} in all).${room} ` +
      `Free some disk space or site data and load it again; until then it downloads on every visit.`
    );
  }
}

const mb = (b: number) => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : `${(b / 1e6).toFixed(1)} MB`);

/**
 * The store for this load, installed as Transformers.js's custom cache so the graph and the tokenizer go
 * through it too. Null where the Cache API is missing or the app turned browser caching off.
 */
export function browserModelStore(env: Transformers['env']): ModelStore | null {
  if (typeof caches === 'undefined' || !env.useBrowserCache) return null;
  const store = new ModelStore(env.cacheKey);
  env.useCustomCache = true;
  env.customCache = store as any;
  return store;
}
