/**
 * The training's H-wide matrix work, behind one interface so it can run on WebGPU compute or in JS:
 * - project: z = h·W + b for every hidden-state row of the batch's texts (the bulk of an epoch: every
 *   row of every candidate, every step);
 * - accumulate: dL/dW = Σ coef·h_row over the rows that won the max-pool.
 * Everything else (max-pool, losses, the per-token map, Adam) is sparse bookkeeping and stays in JS.
 */
import type { CachedText } from './hidden-cache.ts';
import { accumulateRows, type SparseHeadModel, type WeightTerm } from './sparse-model.ts';

export type ComputeKind = 'js' | 'webgpu';

export interface MatrixOps {
  readonly kind: ComputeKind;
  /** Pre-activations of every row of each text, with the model's current W and b. */
  project(model: SparseHeadModel, texts: readonly CachedText[]): ArrayLike<number>[] | Promise<ArrayLike<number>[]>;
  /** out[j] += Σ coef·h_row[j]. */
  accumulate(model: SparseHeadModel, terms: readonly WeightTerm[], out: Float64Array): void | Promise<void>;
  /** Frees what the backend holds (GPU buffers). */
  destroy?(): void;
}

/** The JS path: f64 arithmetic, exactly what SparseHeadModel.forward/backward compute. */
export const jsMatrixOps: MatrixOps = {
  kind: 'js',
  project: (model, texts) => texts.map((t) => model.project(t)),
  accumulate: (model, terms, out) => accumulateRows(model.H, terms, out),
};
