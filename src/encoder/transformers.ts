/**
 * Transformers.js (with ONNX Runtime behind it, megabytes of JavaScript and wasm) is imported on first use:
 * an app that only opens an index and searches with precomputed or BM25 queries never loads it.
 */
export type Transformers = typeof import('@huggingface/transformers');

let loading: Promise<Transformers> | undefined;

export function loadTransformers(): Promise<Transformers> {
  return (loading ??= import('@huggingface/transformers'));
}
