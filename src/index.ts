/** m3-search: BGE-M3 retrieval in the browser and in Node. */
export { M3Encoder, type LoadOptions, type EncoderInfo } from './encoder/m3-encoder.ts';
export type { M3Embedding, SparseWeights, EncodeOptions } from './encoder/types.ts';
export type { Device, DType } from './encoder/device.ts';
export type { LoadProgress } from './encoder/model-source.ts';
export { lexicalScore, colbertScore, denseScore } from './encoder/heads.ts';
