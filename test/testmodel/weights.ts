// Model dimensions and the deterministic weight function shared by the ONNX generator and the float64
// reference forward. Tensor names and layouts follow the Hugging Face XLMRobertaModel state dict
// (Linear weights are [out, in]); the graph builder transposes them into ONNX MatMul layout.
import { normalArray } from './prng.ts';
import { VOCAB_SIZE } from './vocab.ts';

export interface TestModelConfig {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  layerNormEps: number;
  padTokenId: number;
  seed: number;
}

export function tinyConfig(): TestModelConfig {
  return {
    vocabSize: VOCAB_SIZE,
    hiddenSize: 32,
    numLayers: 2,
    numHeads: 4,
    intermediateSize: 64,
    maxPositions: 514,
    layerNormEps: 1e-5,
    padTokenId: 1,
    seed: 20240913,
  };
}

/** BGE-M3's shape (24 × 1024, 16 heads, 8194 positions) with the tiny tokenizer's vocabulary. */
export function fullConfig(): TestModelConfig {
  return { ...tinyConfig(), hiddenSize: 1024, numLayers: 24, numHeads: 16, intermediateSize: 4096, maxPositions: 8194 };
}

/**
 * BGE-M3's exact shape: XLM-R large's 250,002-piece vocabulary, 24 × 1024, 16 heads, 8194 positions. Its
 * weights are generated lazily (see generateWeights' `lazy`): 2.27 GB of fp32 never sits in memory at once.
 */
export function realShapeConfig(): TestModelConfig {
  return { ...fullConfig(), vocabSize: 250_002 };
}

export interface Tensor {
  shape: number[];
  data: Float32Array;
}
export type TensorMap = Map<string, Tensor>;

export interface TestModelWeights {
  config: TestModelConfig;
  /** Encoder tensors by HF name, e.g. `encoder.layer.0.attention.self.query.weight` ([out, in]). */
  tensors: TensorMap;
}

export const layerPrefix = (i: number) => `encoder.layer.${i}.`;

/**
 * Init scales: Linear weights ~ N(0, 1/fan_in) so that at hidden 32 attention is not uniform and every
 * sublayer visibly changes the residual stream (a masking or position bug shows up as an O(0.1) error), while
 * at hidden 1024 this is ~0.03, i.e. BERT-like. Word embeddings (std 0.1) dominate position/type embeddings
 * (0.02) so different tokens get clearly different hidden states after the embedding LayerNorm.
 */
export function generateWeights(config: TestModelConfig, options: { lazy?: boolean } = {}): TestModelWeights {
  const { seed, hiddenSize: H, intermediateSize: I, vocabSize: V, maxPositions: P } = config;
  if (H % config.numHeads) throw new Error(`hiddenSize ${H} not divisible by numHeads ${config.numHeads}`);
  const tensors: TensorMap = new Map();
  const pad = config.padTokenId;
  // nn.Embedding(padding_idx=1) keeps the padding rows at zero, as in the real model.
  const padRow = new Set(['embeddings.word_embeddings.weight', 'embeddings.position_embeddings.weight']);
  const normal = (name: string, shape: number[], std: number, mean = 0) => {
    const make = () => {
      const data = normalArray(
        seed,
        name,
        shape.reduce((a, b) => a * b, 1),
        std,
        mean,
      );
      if (padRow.has(name)) data.fill(0, pad * H, (pad + 1) * H);
      return data;
    };
    // Lazy: each read generates the tensor afresh (same bytes every time), and nothing keeps it.
    tensors.set(
      name,
      options.lazy
        ? {
            shape,
            get data() {
              return make();
            },
          }
        : { shape, data: make() },
    );
  };
  const linear = (name: string, out: number, inp: number) => {
    normal(`${name}.weight`, [out, inp], 1 / Math.sqrt(inp));
    normal(`${name}.bias`, [out], 0.02);
  };
  const layerNorm = (name: string) => {
    normal(`${name}.weight`, [H], 0.05, 1);
    normal(`${name}.bias`, [H], 0.02);
  };
  normal('embeddings.word_embeddings.weight', [V, H], 0.1);
  normal('embeddings.position_embeddings.weight', [P, H], 0.02);
  normal('embeddings.token_type_embeddings.weight', [1, H], 0.02);
  layerNorm('embeddings.LayerNorm');
  for (let l = 0; l < config.numLayers; l++) {
    const p = layerPrefix(l);
    linear(`${p}attention.self.query`, H, H);
    linear(`${p}attention.self.key`, H, H);
    linear(`${p}attention.self.value`, H, H);
    linear(`${p}attention.output.dense`, H, H);
    layerNorm(`${p}attention.output.LayerNorm`);
    linear(`${p}intermediate.dense`, I, H);
    linear(`${p}output.dense`, H, I);
    layerNorm(`${p}output.LayerNorm`);
  }
  return { config, tensors };
}

export interface HeadWeights {
  /** sparse_linear: weight [1, H], bias [1]. */
  sparse: { weight: Tensor; bias: Tensor };
  /** colbert_linear: weight [H, H] ([out, in], v = h·Wᵀ + b), bias [H]. */
  colbert: { weight: Tensor; bias: Tensor };
}

/**
 * The M3 heads. Final hidden states are LayerNorm outputs (~unit variance per dim), so h·w_s has std ≈ 0.3;
 * with bias +0.1 relu(h·w_s + b_s) is positive for roughly 60% of tokens, giving non-empty sparse outputs.
 */
export function generateHeadWeights(config: TestModelConfig): HeadWeights {
  const { seed, hiddenSize: H } = config;
  const t = (name: string, shape: number[], std: number, mean = 0): Tensor => ({
    shape,
    data: normalArray(
      seed,
      name,
      shape.reduce((a, b) => a * b, 1),
      std,
      mean,
    ),
  });
  return {
    sparse: { weight: t('sparse_linear.weight', [1, H], 0.3 / Math.sqrt(H)), bias: { shape: [1], data: Float32Array.of(0.1) } },
    colbert: { weight: t('colbert_linear.weight', [H, H], 1 / Math.sqrt(H)), bias: t('colbert_linear.bias', [H], 0.02) },
  };
}
