/** What M3Encoder.load takes and what an encoder reports about itself (EncoderInfo). */
import type { DType, Device, GpuProbe, ResolvedDevice } from './device.ts';
import type { LoadProgress } from './model-source.ts';
import type { Verdict } from './verify.ts';
import type { DeviceChoice } from './verdict-cache.ts';

export interface LoadOptions {
  /** A hub id (`Xenova/bge-m3`), a URL of a self-hosted model folder, or (Node) a local folder. */
  model: string;
  device?: Device;
  /** Defaults: fp16 on WebGPU with shader-f16, fp32 on WebGPU for small models, q8 on WASM and CPU. */
  dtype?: DType;
  /** Where sparse_linear / colbert_linear.safetensors live when not beside the model. */
  heads?: string;
  /**
   * For a hub id: the hub to download from (Transformers.js's env.remoteHost, default https://huggingface.co/),
   * e.g. a mirror or a self-hosted copy laid out as `{model}/resolve/{revision}/…`. When left out, whatever
   * the app set in Transformers.js's env is used.
   */
  remoteHost?: string;
  /** For a hub id: the path template under remoteHost (env.remotePathTemplate, default `{model}/resolve/{revision}/`). */
  remotePathTemplate?: string;
  /** Node, hub id: the folder downloads are kept in (Transformers.js's env.cacheDir by default). */
  cacheDir?: string;
  onProgress?: (p: LoadProgress) => void;
  /** WebGPU verification: 'cached' (default) reuses an earlier verdict, 'always' re-probes, 'never' skips. */
  verify?: 'cached' | 'always' | 'never';
  /** Browser: the folder serving onnxruntime-web's .wasm/.mjs files (default `/ort/` on this origin). */
  wasmPaths?: string;
  /**
   * Threads: WASM threads in a browser (they need a cross-origin isolated page), onnxruntime-node intra-op
   * threads in Node. Default: every core, at most 8. A page keeps the count of its first load.
   */
  threads?: number;
  /** @internal Tests only (stripped from the published types): hooks that exercise verification, the timed choice and the decision cache. */
  testHooks?: {
    /** Corrupts one device's hidden states (to see verification fail). */
    corruptHidden?: (device: ResolvedDevice, hidden: Float32Array) => void;
    /** Overrides what probeWebGpu found, e.g. `{ software: undefined }` to time a software adapter as if real. */
    adapter?: Partial<GpuProbe>;
    /** Overrides the runtime version the decision cache is keyed by. */
    runtimeVersion?: string;
  };
}

export interface EncoderInfo {
  /** Where the model was loaded from (hub id, URL or folder). */
  model: string;
  /** The model's identity for an index: the hub id, or the folder's name (so an index survives a move). */
  modelId: string;
  device: ResolvedDevice;
  dtype: DType;
  hidden: number;
  maxLength: number;
  vocabSize: number;
  heads: { sparse: boolean; colbert: boolean };
  /** sha256 (hex) of the head files, so an index can tell which head produced its postings. */
  headHash: string;
  /** Set when a tuned sparse head replaces the base one (withSparseHead); headHash stays the base files'. */
  sparseHead?: { version: number; hash: string };
  /** Set when the encoder runs on another device or dtype than requested, and why. */
  fallbackReason?: string;
  verification?: Verdict;
  /**
   * How 'auto' chose (browser only): the device, why, each device's probe time, whether the decision came from
   * the cache, and the milliseconds deciding added to this load (0 when cached).
   */
  choice?: DeviceChoice & { cached: boolean; addedMs: number };
  /** Threads ORT runs on (WASM threads or Node intra-op threads) and, when fewer than the machine has, why. */
  threads: { used: number; reason?: string };
  /** Browser: set when the model could not be stored for offline use (a full quota says how much is needed). */
  storageWarning?: string;
}

/** Hidden states of one text (encodeHidden): its token ids and last_hidden_state rows [L × H]. */
export interface HiddenStates {
  ids: Uint32Array;
  hidden: Float32Array;
  truncated: boolean;
}
