/** The options, progress reports and result of head tuning (tuneSparseHead, src/tune/tune.ts). */
import type { SearchMode } from '../search/types.ts';
import type { HiddenCache } from './hidden-cache.ts';
import type { ComputeKind } from './matrix-ops.ts';
import type { PairSource, PseudoQueryOptions } from './pairs.ts';
import type { Teacher } from './teacher.ts';
import type { HeldOutMetrics } from './train.ts';

export interface TuneOptions {
  /** The user's (query, relevant document id) pairs. */
  pairs?: { query: string; docId: string }[];
  /** Clicks logged by a UI: (query, clicked document id). */
  clicks?: { query: string; docId: string }[];
  /** Mine pseudo-queries from the documents (default: on when no pairs or clicks are given). */
  pseudoQueries?: boolean | PseudoQueryOptions;
  /** Fraction of pairs held out for early stopping and the before/after metrics (default 0.1). */
  heldOut?: number;
  /** Learn the per-token scale/shift over the vocabulary (default true); false = exactly M3's head. */
  vocab?: boolean;
  /** Weight of the IDF prior on the per-token log-scale (default 1e-3); false = no IDF init and no prior. */
  idfPrior?: number | false;
  /** L1 penalty on the produced weights (default 1e-3). */
  l1?: number;
  /** Pruning threshold at index time, as a fraction of the mean document weight (default 0.7; 0 = off). */
  prune?: number;
  /** Global gradient-norm clip (default 1; 0 = off). */
  clip?: number;
  /** Self-distillation teacher (default 'ensemble': dense + 0.3·sparse + colbert, M3's recipe). */
  teacher?: Teacher;
  /** Weight of the distillation loss (default ½: M3's mean of the two losses). */
  distillWeight?: number;
  /** InfoNCE temperature (default 0.02, as M3). */
  temperature?: number;
  batchSize?: number;
  /** Hard negatives per pair (default 7), mined with the current index. */
  hardNegatives?: number;
  /** Which ranking mines them (default 'hybrid'). */
  negatives?: Extract<SearchMode, 'hybrid' | 'sparse' | 'bm25' | 'dense'>;
  maxEpochs?: number;
  patience?: number;
  lr?: number;
  vocabLr?: number;
  seed?: number;
  /** Training wall-clock budget in ms (default 60,000). */
  maxMs?: number;
  /** Bound on the hidden-state cache in bytes (default 256 MiB). */
  cacheBytes?: number;
  /** A cache to share between runs (evaluations); overrides cacheBytes. */
  cache?: HiddenCache;
  /** Progressive stages: only ['sparse'] (the default) is accepted; ColBERT's head is not trained yet. */
  stages?: ('sparse' | 'colbert')[];
  /**
   * Where the training's matrix work (projections, dL/dW) runs: 'auto' (default) = WebGPU compute when
   * navigator.gpu gives an adapter, else JS; 'webgpu' = the same, but asked for explicitly; 'js' = JS.
   * Any WebGPU failure falls back to JS; TuneResult.compute says which ran and why.
   */
  compute?: 'auto' | ComputeKind;
  /** Rebuild the sparse postings with the tuned head and make it active (default true). */
  activate?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: TuneProgress) => void;
}

export interface TuneProgress {
  phase: 'pairs' | 'encode' | 'negatives' | 'train' | 'reindex';
  done: number;
  total: number;
  epoch?: number;
  loss?: number;
  /** Held-out nDCG@10 after an epoch. */
  heldOut?: number;
}

export interface TuneResult {
  status: 'tuned' | 'failed';
  reason?: string;
  version?: number;
  hash?: string;
  pairs: { train: number; heldOut: number; bySource: Partial<Record<PairSource, number>>; unknownIds: string[]; skipped: number };
  heldOut: { before: HeldOutMetrics; after: HeldOutMetrics };
  postingsPerDoc: { before: number; after: number };
  training: { status: string; reason?: string; epochs: number; steps: number };
  curve: { step: number; epoch: number; loss: number; heldOut?: number }[];
  ms: { total: number; encode: number; negatives: number; train: number; reindex: number };
  cache: { bytes: number; hits: number; misses: number };
  /** Which backend ran the training's matrix work; `reason` when it is JS although WebGPU was asked for (or 'auto'). */
  compute: { requested: 'auto' | ComputeKind; used: ComputeKind; reason?: string };
}
