/** The model's config.json (its shape, whether fp32 needs external data) and the optional known probe answers. */
import type { ModelShape } from './device.ts';
import type { LoadTracker } from './load-progress.ts';
import type { ModelStore } from './model-cache.ts';
import { describeLocation, readModelFile, type ModelLocation } from './model-source.ts';
import type { ProbeFile } from './verify.ts';

/**
 * fp32 BGE-M3 is 2.27 GB: over protobuf's 2 GB limit, so its tensors sit in onnx/model.onnx_data, and
 * Transformers.js fetches that file only when told. A config.json that says so itself
 * (`transformers.js_config.use_external_data_format`) is followed as is.
 */
export function externalDataFormat(config: any, shape: ModelShape): Record<string, boolean> | undefined {
  if (config?.['transformers.js_config']?.use_external_data_format !== undefined) return undefined;
  const { vocabSize: V, hidden: H, layers: L, intermediate: I, maxPositions: P } = shape;
  const fp32Bytes = 4 * ((V + P) * H + L * (4 * H * H + 2 * H * I));
  return fp32Bytes >= 2 ** 31 ? { 'model.onnx': true } : undefined;
}

export function modelShape(config: any, where: string): ModelShape {
  const need = (k: string) => {
    const v = config?.[k];
    if (!Number.isInteger(v) || v <= 0) throw new Error(`config.json of ${where}: "${k}" must be a positive integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  return {
    vocabSize: need('vocab_size'),
    hidden: need('hidden_size'),
    layers: need('num_hidden_layers'),
    intermediate: need('intermediate_size'),
    maxPositions: need('max_position_embeddings'),
  };
}

export async function readJson(loc: ModelLocation, file: string, progress: LoadTracker, store: ModelStore | null): Promise<any> {
  const bytes = await readModelFile(loc, file, progress.file(file), store);
  if (!bytes) throw new Error(`Model file missing: ${file} in ${describeLocation(loc)}`);
  progress.done(file);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e: any) {
    throw new Error(`Model file ${file} in ${describeLocation(loc)} is not valid JSON: ${e?.message ?? e}`);
  }
}

export async function readProbeFile(loc: ModelLocation, store: ModelStore | null): Promise<ProbeFile | undefined> {
  const bytes = await readModelFile(loc, 'm3-probe.json', undefined, store).catch(() => null);
  if (!bytes) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as ProbeFile;
  } catch {
    return undefined;
  }
}
