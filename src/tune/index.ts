/** Sparse-head tuning (issue 5): the public surface. */
export {
  tuneSparseHead,
  revertSparseHead,
  activateSparseHead,
  listSparseHeads,
  postingsPerDoc,
  type TuneOptions,
  type TuneProgress,
  type TuneResult,
  type Teacher,
} from './tune.ts';
export { HiddenCache, type HiddenCacheOptions, type CachedText } from './hidden-cache.ts';
export { minePseudoQueries, parsePairs, type TrainingPair, type PairSource, type PseudoQueryOptions } from './pairs.ts';
export type { TunedHeadRecord } from './head-codec.ts';
export type { HeldOutMetrics } from './train.ts';
export type { ComputeKind } from './matrix-ops.ts';
