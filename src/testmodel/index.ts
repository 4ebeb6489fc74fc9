// Public surface of the deterministic tiny (and full-size) BGE-M3-shaped test model generator.
export { tinyConfig, fullConfig, generateWeights, generateHeadWeights, layerPrefix } from './weights.ts';
export type { TestModelConfig, TestModelWeights, HeadWeights, Tensor, TensorMap } from './weights.ts';
export { referenceForward } from './reference.ts';
export { buildXlmrModel, OPSET, type Variant } from './xlmr-graph.ts';
export { modelFiles, writeModelDir, configJson, sha256, sha256sumsText, ONNX_FILES } from './make.ts';
export { VOCAB, VOCAB_SIZE, buildVocab, SPECIALS } from './vocab.ts';
export { tokenizerJson, tokenizerConfigJson, specialTokensMapJson } from './tokenizer-json.ts';
export { float32ToFloat16Bits, float16BitsToFloat32, toFloat16Array, roundToFloat16 } from '../encoder/float16.ts';
