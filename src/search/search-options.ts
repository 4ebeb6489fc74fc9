/** SearchOptions checked and given their defaults: every bad value is an M3InputError naming it. */
import { M3InputError } from '../errors.ts';
import { compileFilter } from './filter.ts';
import { FUSIONS } from './fusion.ts';
import type { FusionMode, SearchMode, SearchOptions, SignalWeights } from './types.ts';

export const MODES: readonly SearchMode[] = ['hybrid', 'dense', 'sparse', 'bm25', 'colbert'];

/** M3's README weights for dense/sparse/colbert; BM25 (scaled to [0, 1] by every fusion) as much as sparse. */
export const DEFAULT_WEIGHTS: Readonly<Required<SignalWeights>> = Object.freeze({ dense: 0.4, sparse: 0.2, colbert: 0.4, bm25: 0.2 });

export interface ResolvedSearch {
  k: number;
  mode: SearchMode;
  fusion: FusionMode;
  candidates: number;
  rerank: { topN: number } | null;
  weights: Required<SignalWeights>;
  filter: ReturnType<typeof compileFilter>;
  dense: SearchOptions['dense'];
}

export function resolveSearchOptions(options: SearchOptions): ResolvedSearch {
  const k = options.k ?? 10;
  if (!Number.isInteger(k) || k <= 0) throw new M3InputError(`k must be a positive integer, got ${k}`);
  const mode = options.mode ?? 'hybrid';
  if (!MODES.includes(mode)) throw new M3InputError(`unknown mode "${mode}"; valid modes: ${MODES.join(', ')}`);
  const fusion: FusionMode = options.fusion ?? 'weighted';
  if (!FUSIONS.includes(fusion)) throw new M3InputError(`unknown fusion "${fusion}"; valid: ${FUSIONS.join(', ')}`);
  const candidates = options.candidates ?? 100;
  if (!Number.isInteger(candidates) || candidates <= 0) throw new M3InputError(`candidates must be a positive integer, got ${candidates}`);
  const rerank = options.rerank?.colbert ? { topN: options.rerank.topN ?? 100 } : null;
  const weights = { ...DEFAULT_WEIGHTS, ...options.weights };
  for (const [s, w] of Object.entries(weights))
    if (!(w >= 0) || !Number.isFinite(w)) throw new M3InputError(`weight ${s} must be a finite number >= 0, got ${w}`);
  const filter = compileFilter(options.filter);
  const dense = options.dense;
  if (dense?.firstStage !== undefined && dense.firstStage !== 'binary' && dense.firstStage !== 'int8')
    throw new M3InputError(`dense.firstStage must be 'binary' or 'int8', got ${JSON.stringify(dense.firstStage)}`);
  if (dense?.rescore !== undefined && !(Number.isInteger(dense.rescore) && dense.rescore > 0))
    throw new M3InputError(`dense.rescore must be a positive integer, got ${dense.rescore}`);
  if (dense?.refine !== undefined && typeof dense.refine !== 'boolean')
    throw new M3InputError(`dense.refine must be true or false, got ${JSON.stringify(dense.refine)}`);
  return { k, mode, fusion, candidates, rerank, weights, filter, dense };
}
