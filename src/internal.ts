/**
 * Test support for this repository's own browser pages (e2e/pages): internals that are not part of the public
 * API and not in the package (no `exports` entry, not built).
 */
// The training step and its compute backends, for checking WebGPU against JS on a given machine (e2e/tune-gpu.spec.ts).
export { batchLoss, type TrainExample } from './tune/train.ts';
export { SparseHeadModel } from './tune/sparse-model.ts';
export { jsMatrixOps, type MatrixOps } from './tune/matrix-ops.ts';
export { createWebGpuOps } from './tune/webgpu-ops.ts';
// What head tuning may reach inside an open index (e2e/tune.spec.ts reads the active head through it).
export { tuningAccess } from './search/tuning-access.ts';
