/**
 * ONNX sessions through Transformers.js: opening one on a device and dtype, the thread count (onnxruntime-web
 * fixes it for the page at its first start) and where onnxruntime-web's .wasm files are served from.
 */
import { planThreads, type DType, type ResolvedDevice } from './device.ts';
import type { EncoderInfo } from './load-options.ts';
import { isNode, nodeImport } from './model-source.ts';
import type { Transformers } from './transformers.ts';

/** A loaded ONNX encoder graph and what it runs on. */
export interface Session {
  model: any;
  device: ResolvedDevice;
  dtype: DType;
}

const ONNX_FILE: Record<DType, string> = { fp32: 'onnx/model.onnx', fp16: 'onnx/model_fp16.onnx', q8: 'onnx/model_quantized.onnx' };

/** Transformers.js and onnxruntime-web versions: either changing re-verifies a cached decision. */
export function runtimeVersion(tf: Transformers): string {
  const ort = (tf.env.backends.onnx as any)?.versions ?? {};
  return `transformers.js ${(tf.env as any).version ?? '?'}, onnxruntime-web ${ort.web ?? ort.common ?? '?'}`;
}

/** The thread count onnxruntime-web started with in this page (it cannot change later). */
let wasmThreadsStarted: number | undefined;

export async function resolveThreads(tf: Transformers, requested: number | undefined): Promise<EncoderInfo['threads']> {
  if (isNode) {
    const os = await nodeImport<typeof import('node:os')>('node:os');
    const plan = planThreads(requested, { cores: os.availableParallelism?.() ?? os.cpus().length, isolated: true, node: true });
    return { used: plan.threads, ...(plan.reason ? { reason: plan.reason } : {}) };
  }
  const plan = planThreads(requested, {
    cores: globalThis.navigator?.hardwareConcurrency ?? 1,
    isolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
    node: false,
  });
  if (wasmThreadsStarted !== undefined && wasmThreadsStarted !== plan.threads) {
    return {
      used: wasmThreadsStarted,
      reason: `onnxruntime-web started with ${wasmThreadsStarted} in this page and cannot change (reload the page for ${plan.threads})`,
    };
  }
  const wasm = (tf.env.backends.onnx as any).wasm;
  if (wasm) wasm.numThreads = plan.threads;
  return { used: plan.threads, ...(plan.reason ? { reason: plan.reason } : {}) };
}

export async function openSession(
  tf: Transformers,
  id: string,
  where: string,
  device: ResolvedDevice,
  dtype: DType,
  progress_callback: (e: any) => void,
  threads: number,
  use_external_data_format?: Record<string, boolean>,
): Promise<Session> {
  try {
    // onnxruntime-node takes its thread count per session; onnxruntime-web from env (resolveThreads).
    const session_options = isNode ? { intraOpNumThreads: threads } : {};
    const model = await tf.AutoModel.from_pretrained(id, {
      device,
      dtype,
      progress_callback,
      session_options,
      ...(use_external_data_format ? { use_external_data_format } : {}),
    } as any);
    if (!isNode) wasmThreadsStarted ??= threads; // onnxruntime-web fixes its thread count at start
    return { model, device, dtype };
  } catch (e: any) {
    throw new Error(`Failed to load ${ONNX_FILE[dtype]} of ${where} on ${device}: ${e?.message ?? e}`);
  }
}

export function setWasmPaths(tf: Transformers, prefix = '/ort/'): void {
  const wasm = (tf.env.backends.onnx as any).wasm;
  if (!wasm) return;
  const base = new URL(prefix, globalThis.location?.href).href.replace(/\/?$/, '/');
  // The asyncify build is the one that also carries the native WebGPU execution provider.
  wasm.wasmPaths = { mjs: `${base}ort-wasm-simd-threaded.asyncify.mjs`, wasm: `${base}ort-wasm-simd-threaded.asyncify.wasm` };
}
