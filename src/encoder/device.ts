/**
 * Which device and dtype to run on. 'auto' considers WebGPU when a hardware adapter exists (a software one,
 * SwiftShader or llvmpipe, is ~50x slower than WASM and is used only when WebGPU is asked for by name): fp16
 * when the adapter has `shader-f16`, fp32 only when the fp32 graph fits a tab, else WASM with q8. The caller
 * then verifies the WebGPU choice (verify.ts) and, for 'auto', times it against WASM before trusting it.
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
  /** Set when the adapter is a CPU emulation (isFallbackAdapter, or a known software renderer): why we think so. */
  software?: string;
}

/** Software renderers by the names their adapters report (vendor / architecture / description). */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i;

/** Why an adapter is a software (CPU-emulated) one, or undefined for a hardware adapter. */
export function softwareAdapter(info: {
  isFallbackAdapter?: boolean;
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
}): string | undefined {
  if (info.isFallbackAdapter) return 'the browser marks it as a fallback adapter';
  const text = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
  const m = SOFTWARE_ADAPTER.exec(text);
  return m ? `${m[0]} is a software renderer` : undefined;
}

export async function probeWebGpu(): Promise<GpuProbe> {
  const gpu = (globalThis.navigator as any)?.gpu;
  if (!gpu) return { adapter: false, f16: false, description: 'navigator.gpu is missing' };
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { adapter: false, f16: false, description: 'no WebGPU adapter' };
    const info = adapter.info ?? {};
    // Older Chromium exposes isFallbackAdapter on the adapter, newer on its info.
    const software = softwareAdapter({ ...info, isFallbackAdapter: info.isFallbackAdapter ?? adapter.isFallbackAdapter });
    return {
      adapter: true,
      f16: adapter.features?.has?.('shader-f16') ?? false,
      description: [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter',
      ...(software ? { software } : {}),
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
export function planDevice(requested: Device, dtype: DType | undefined, env: { node: boolean; gpu: GpuProbe }, shape: ModelShape): Plan {
  if (env.node) {
    if (requested === 'webgpu' || requested === 'wasm') {
      return { device: 'cpu', dtype: dtype ?? 'q8', reason: `${requested} is a browser device; Node runs onnxruntime-node on the CPU` };
    }
    return { device: 'cpu', dtype: dtype ?? 'q8' };
  }
  if (requested === 'cpu') return { device: 'wasm', dtype: dtype ?? 'q8', reason: 'the browser CPU device is WASM' };
  if (requested === 'wasm') return { device: 'wasm', dtype: dtype ?? 'q8' };
  if (!env.gpu.adapter) {
    return { device: 'wasm', dtype: dtype === 'fp16' ? 'q8' : (dtype ?? 'q8'), reason: `WebGPU unavailable (${env.gpu.description})` };
  }
  if (requested === 'auto' && env.gpu.software) {
    return {
      device: 'wasm',
      dtype: dtype === 'fp16' ? 'q8' : (dtype ?? 'q8'),
      reason: `the WebGPU adapter (${env.gpu.description}) is software: ${env.gpu.software}; WASM is faster (ask for device 'webgpu' to use it anyway)`,
    };
  }
  if (dtype === 'fp16' && !env.gpu.f16) {
    return { device: 'wasm', dtype: 'q8', reason: 'the WebGPU adapter lacks shader-f16, needed for fp16' };
  }
  if (dtype) return { device: 'webgpu', dtype };
  if (env.gpu.f16) return { device: 'webgpu', dtype: 'fp16' };
  if (fp32Bytes(shape) <= TAB_FP32_LIMIT_BYTES) return { device: 'webgpu', dtype: 'fp32' };
  return { device: 'wasm', dtype: 'q8', reason: 'the WebGPU adapter lacks shader-f16 and the fp32 model is too large for a tab' };
}

/** The most WASM / intra-op threads used when none are asked for: more rarely pays for a BERT-sized graph. */
export const MAX_DEFAULT_THREADS = 8;

export interface ThreadPlan {
  threads: number;
  /** Why fewer than asked for (or than the machine has) run. */
  reason?: string;
}

/**
 * WASM threads need SharedArrayBuffer, i.e. a cross-origin isolated page (COOP/COEP); Node's intra-op threads
 * need nothing. Default: every core up to MAX_DEFAULT_THREADS.
 */
export function planThreads(requested: number | undefined, env: { cores: number; isolated: boolean; node: boolean }): ThreadPlan {
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 1 || requested > 256)) {
    throw new RangeError(`threads must be an integer in [1, 256], got ${requested}`);
  }
  const cores = Math.max(1, Math.floor(env.cores) || 1);
  if (!env.node && !env.isolated) {
    return { threads: 1, reason: 'the page is not cross-origin isolated (COOP/COEP headers), so WASM has no SharedArrayBuffer for threads' };
  }
  if (requested !== undefined) return { threads: requested };
  const threads = Math.min(cores, MAX_DEFAULT_THREADS);
  return threads < cores ? { threads, reason: `capped at ${MAX_DEFAULT_THREADS} of ${cores} cores (pass threads to use more)` } : { threads };
}
