/** Learned-sparse (lexical) weights of one text: parallel arrays, ids ascending, one entry per token id. */
export interface SparseWeights {
  ids: Uint32Array;
  weights: Float32Array;
}

/** The M3 outputs of one text. Which fields are present depends on the encode options. */
export interface M3Embedding {
  /** CLS vector, L2-normalised, length = hidden size. */
  dense?: Float32Array;
  /** relu(h·Ws + bs) per token, special tokens dropped, max per token id, weights > 0 only. */
  sparse?: SparseWeights;
  /** ColBERT rows (CLS dropped, `</s>` kept), each L2-normalised, row-major [rows × hidden]. */
  colbert?: Float32Array;
  /** Tokens fed to the model, `<s>` and `</s>` included. */
  tokens: number;
  /** True when the text was longer than maxLength and its content was cut. */
  truncated: boolean;
}

export interface EncodeOptions {
  dense?: boolean;
  sparse?: boolean;
  colbert?: boolean;
  maxLength?: number;
  batchSize?: number;
}
