// The test-model generator as the scripts and the encoder tests use it.
export { tinyConfig, fullConfig, realShapeConfig, generateWeights, generateHeadWeights } from './weights.ts';
export { referenceForward } from './reference.ts';
export type { Variant } from './xlmr-graph.ts';
export type { WriteResult } from './make.ts';
export { modelFiles, headFiles, writeModelDir } from './make.ts';
