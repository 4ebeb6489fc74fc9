// Public surface of the deterministic tiny (and full-size) BGE-M3-shaped test model generator.
export { tinyConfig, fullConfig, realShapeConfig, generateWeights, generateHeadWeights, layerPrefix } from './weights.ts';
export type { TestModelConfig, TestModelWeights, HeadWeights, Tensor, TensorMap } from './weights.ts';
export { referenceForward } from './reference.ts';
export { buildXlmrModel, buildXlmr, OPSET, type Variant } from './xlmr-graph.ts';
export type { WriteResult, ModelFile } from "./make.ts";
export { modelFiles, headFiles, writeModelDir, EXTERNAL_DATA_FILE, configJson, sha256, sha256sumsText, ONNX_FILES } from './make.ts';
export { VOCAB, VOCAB_SIZE, buildVocab, paddedVocab, SPECIALS } from './vocab.ts';
export { tokenizerJson, tokenizerConfigJson, specialTokensMapJson } from './tokenizer-json.ts';
export { float32ToFloat16Bits, float16BitsToFloat32, toFloat16Array, roundToFloat16 } from '../../src/encoder/float16.ts';
