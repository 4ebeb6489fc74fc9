/** loadStaticIndex: the function form of M3Index.fromStatic (a static package installed, verified and opened). */
import { M3Index } from '../search/m3-index.ts';
import type { StaticLoadOptions } from './loader.ts';

/** Installs (or confirms) the package at `url` and opens it as an M3Index. */
export function loadStaticIndex(url: string | URL, opts: StaticLoadOptions = {}): Promise<M3Index> {
  return M3Index.fromStatic(url, opts);
}
