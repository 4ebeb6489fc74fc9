/**
 * Which device and dtype to run on. 'auto' prefers WebGPU when an adapter exists: fp16 when the adapter has
 * `shader-f16`, fp32 only when the fp32 graph fits a tab, else WASM with q8. The caller then verifies the
 * WebGPU choice (verify.ts) before trusting it.
 */
export type Device = 'auto' | 'webgpu' | 'wasm' | 'cpu';
export type ResolvedDevice = 'webgpu' | 'wasm' | 'cpu';
export type DType = 'fp32' | 'fp16' | 'q8';

export const DTYPES: readonly DType[] = ['fp32', 'fp16', 'q8'];
export const DEVICES: readonly Device[] = ['auto', 'webgpu', 'wasm', 'cpu'];

/** Largest fp32 graph we load into a tab: one ArrayBuffer and the usual 1 GiB WebGPU max buffer. */
export const TAB_FP32_LIMIT_BYTES = 1 << 30;

export interface ModelShape {
  vocabSize: number;
  hidden: number;
  layers: number;
  intermediate: number;
  maxPositions: number;
}

export function fp32Bytes(s: ModelShape): number {
  const embeddings = (s.vocabSize + s.maxPositions + 1) * s.hidden;
  const perLayer = 4 * s.hidden * s.hidden + 2 * s.hidden * s.intermediate;
  return 4 * (embeddings + s.layers * perLayer);
}

export interface GpuProbe {
  adapter: boolean;
  f16: boolean;
  description: string;
}

export async function probeWebGpu(): Promise<GpuProbe> {
  const gpu = (globalThis.navigator as any)?.gpu;
  if (!gpu) return { adapter: false, f16: false, description: 'navigator.gpu is missing' };
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { adapter: false, f16: false, description: 'no WebGPU adapter' };
    const info = adapter.info ?? {};
    return {
      adapter: true,
      f16: adapter.features?.has?.('shader-f16') ?? false,
      description: [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter',
    };
  } catch (e: any) {
    return { adapter: false, f16: false, description: `requestAdapter failed: ${e?.message ?? e}` };
  }
}

export interface Plan {
  device: ResolvedDevice;
  dtype: DType;
  /** Why the plan is not what the user asked for, if it isn't. */
  reason?: string;
}

/** Turns the user's device/dtype request into a first plan (before verification). */
export function planDevice(
  requested: Device,
  dtype: DType | undefined,
  env: { node: boolean; gpu: GpuProbe },
  shape: ModelShape,
): Plan {
  if (env.node) {
    if (requested === 'webgpu' || requested === 'wasm') {
      return { device: 'cpu', dtype: dtype ?? 'q8', reason: `${requested} is a browser device; Node runs onnxruntime-node on the CPU` };
    }
    return { device: 'cpu', dtype: dtype ?? 'q8' };
  }
  if (requested === 'cpu') return { device: 'wasm', dtype: dtype ?? 'q8', reason: 'the browser CPU device is WASM' };
  if (requested === 'wasm') return { device: 'wasm', dtype: dtype ?? 'q8' };
  if (!env.gpu.adapter) {
    return { device: 'wasm', dtype: dtype === 'fp16' ? 'q8' : dtype ?? 'q8', reason: `WebGPU unavailable (${env.gpu.description})` };
  }
  if (dtype === 'fp16' && !env.gpu.f16) {
    return { device: 'wasm', dtype: 'q8', reason: 'the WebGPU adapter lacks shader-f16, needed for fp16' };
  }
  if (dtype) return { device: 'webgpu', dtype };
  if (env.gpu.f16) return { device: 'webgpu', dtype: 'fp16' };
  if (fp32Bytes(shape) <= TAB_FP32_LIMIT_BYTES) return { device: 'webgpu', dtype: 'fp32' };
  return { device: 'wasm', dtype: 'q8', reason: 'the WebGPU adapter lacks shader-f16 and the fp32 model is too large for a tab' };
}
