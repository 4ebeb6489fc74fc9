/**
 * M3Encoder: BGE-M3's three outputs from one forward pass, in the browser (WebGPU, verified, or WASM) and in
 * Node (onnxruntime-node). Transformers.js runs the ONNX encoder and the tokenizer; the heads are applied here.
 */
import { applyHeads, type Heads, type SparseHead } from './heads.ts';
import { loadHeads } from './load-heads.ts';
import { browserModelStore, type ModelStore } from './model-cache.ts';
import {
  configureTransformers,
  describeLocation,
  isNode,
  locateModel,
  nodeImport,
  readModelFile,
  saveTransformersEnv,
  useResumableFetch,
  type LoadProgress,
  type ModelLocation,
} from './model-source.ts';
import { batchByLength, padBatch, prepareText, validateTexts, type Prepared } from './prepare.ts';
import {
  DEVICES,
  DTYPES,
  planDevice,
  planThreads,
  probeWebGpu,
  type DType,
  type Device,
  type GpuProbe,
  type ModelShape,
  type ResolvedDevice,
} from './device.ts';
import { compareProbe, PROBE_TEXTS, toProbeAnswer, type ProbeFile, type Verdict } from './verify.ts';
import { readDecision, writeDecision, type DeviceChoice } from './verdict-cache.ts';
import type { EncodeOptions, M3Embedding } from './types.ts';
import { loadTransformers, type Transformers } from './transformers.ts';

/** Transformers.js, set by the first M3Encoder.load (imported on first use: see transformers.ts). */
let tf: Transformers;

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

interface Session {
  model: any;
  device: ResolvedDevice;
  dtype: DType;
}

let loadChain: Promise<unknown> = Promise.resolve();

const ONNX_FILE: Record<DType, string> = { fp32: 'onnx/model.onnx', fp16: 'onnx/model_fp16.onnx', q8: 'onnx/model_quantized.onnx' };

export class M3Encoder {
  private constructor(
    readonly info: EncoderInfo,
    private session: Session,
    private readonly tokenizer: any,
    private readonly heads: Heads,
    private readonly hooks: LoadOptions['testHooks'],
    /** A view made by withSparseHead shares the session; only the encoder that loaded it disposes it. */
    private readonly ownsSession = true,
  ) {}

  static load(options: LoadOptions): Promise<M3Encoder> {
    // Transformers.js keeps its file settings in one global env: loads take turns.
    const next = loadChain.then(() => M3Encoder.loadNow(options));
    loadChain = next.catch(() => undefined);
    return next;
  }

  private static async loadNow(options: LoadOptions): Promise<M3Encoder> {
    if (!options || typeof options !== 'object') throw new TypeError('M3Encoder.load needs an options object with a model');
    // Our settings (model URL as host, the cache wrapper) last for this load only; the app's stay.
    const restore = saveTransformersEnv((await loadTransformers()).env);
    try {
      return await M3Encoder.loadWithEnv(options);
    } finally {
      restore();
    }
  }

  private static async loadWithEnv(options: LoadOptions): Promise<M3Encoder> {
    const requested = options.device ?? 'auto';
    if (!DEVICES.includes(requested)) throw new Error(`Unknown device "${requested}"; valid: ${DEVICES.join(', ')}`);
    if (options.dtype !== undefined && !DTYPES.includes(options.dtype)) {
      throw new Error(`Unknown dtype "${options.dtype}"; valid: ${DTYPES.join(', ')}`);
    }
    const loc = await locateModel(options.model);
    const where = describeLocation(loc);
    const progress = progressTracker(options.onProgress);
    tf = await loadTransformers();
    if (!isNode) setWasmPaths(options.wasmPaths);

    const id = configureTransformers(tf.env, loc, options);
    if (isNode && options.cacheDir) tf.env.cacheDir = options.cacheDir;
    useResumableFetch(tf.env);
    const store = isNode ? null : browserModelStore(tf.env);
    const config = await readJson(loc, 'config.json', progress, store);
    const shape = modelShape(config, where);
    const probedGpu = isNode ? { adapter: false, f16: false, description: 'Node' } : await probeWebGpu();
    const gpu: GpuProbe = { ...probedGpu, ...options.testHooks?.adapter };
    const plan = planDevice(requested, options.dtype, { node: isNode, gpu }, shape);
    const threads = await resolveThreads(options.threads);
    const external = externalDataFormat(config, shape);
    const open = async (device: ResolvedDevice, dtype: DType) => {
      const s = await openSession(id, where, device, dtype, progress.transformers, threads.used, external);
      if (!isNode) wasmThreadsStarted ??= threads.used; // onnxruntime-web fixes its thread count at start
      return s;
    };
    const decide = plan.device === 'webgpu' && options.verify !== 'never';
    // Without a WebGPU decision (which probes with the tokenizer and heads) the session needs neither: it opens
    // beside them, so the runtime's start (ORT's wasm fetched and compiled, the graph loaded) is not queued
    // behind the tokenizer and head files.
    const early = decide ? null : open(plan.device, plan.dtype);
    early?.catch(() => undefined); // awaited below; a failure meanwhile must not count as unhandled
    let tokenizer: any;
    let heads: Heads;
    let hash: string;
    try {
      try {
        tokenizer = await tf.AutoTokenizer.from_pretrained(id, { progress_callback: progress.transformers });
      } catch (e: any) {
        throw new Error(`Failed to load the tokenizer (tokenizer.json) of ${where}: ${e?.message ?? e}`);
      }
      const headLoc = options.heads ? await locateModel(options.heads) : loc;
      ({ heads, hash } = await loadHeads(headLoc, shape.hidden, progress, store));
    } catch (e) {
      void early?.then(
        (s) => s.model.dispose?.(),
        () => undefined,
      );
      throw e;
    }
    const maxLength = Math.min(shape.maxPositions - 2, Number(tokenizer.model_max_length) || Infinity);
    const info: EncoderInfo = {
      model: where,
      modelId: loc.kind === 'hub' ? loc.id : where.replace(/\/+$/, '').split('/').pop()!,
      device: plan.device,
      dtype: plan.dtype,
      hidden: shape.hidden,
      maxLength,
      vocabSize: shape.vocabSize,
      heads: { sparse: !!heads.sparse, colbert: !!heads.colbert },
      headHash: hash,
      threads,
      ...(plan.reason ? { fallbackReason: plan.reason } : {}),
    };
    const encoder = new M3Encoder(info, undefined as unknown as Session, tokenizer, heads, options.testHooks);
    if (decide) {
      await M3Encoder.decideWebGpu(encoder, {
        requested,
        dtype: options.dtype,
        plan,
        gpu,
        loc,
        where,
        threads: threads.used,
        verify: options.verify,
        runtime: options.testHooks?.runtimeVersion,
        open,
      });
    } else {
      encoder.session = await early!;
      if (requested === 'auto' && !isNode) {
        info.choice = {
          device: plan.device,
          dtype: plan.dtype,
          reason: plan.reason ?? 'WebGPU verification skipped (verify: never)',
          timings: {},
          cached: false,
          addedMs: 0,
        };
      }
    }
    info.device = encoder.session.device;
    info.dtype = encoder.session.dtype;
    const warning = await store?.warning();
    if (warning) info.storageWarning = warning;
    return encoder;
  }

  /**
   * WebGPU is trusted only after its probe answers agree with a reference (verify.ts). For 'auto' it must also
   * be faster: the probe runs on WASM too (its answers are the reference when the model ships none), and the
   * device with the shorter warm probe wins. The decision is cached (verdict-cache.ts), so only a page's first
   * load with this model, dtype, adapter and runtime pays for the second session and the probes.
   */
  private static async decideWebGpu(encoder: M3Encoder, c: DecideContext): Promise<void> {
    const info = encoder.info;
    const timed = c.requested === 'auto';
    const gpuDtype = c.plan.dtype;
    // For 'auto' WASM competes with what it would run by default (q8 unless a WASM-able dtype was asked for);
    // for a named 'webgpu' it is only the reference, so it runs WebGPU's dtype where WASM can.
    const wasmDtype: DType = timed ? (c.dtype && c.dtype !== 'fp16' ? c.dtype : 'q8') : gpuDtype === 'fp16' ? 'q8' : gpuDtype;
    const key = {
      model: c.where,
      dtype: timed ? `${gpuDtype} vs wasm ${wasmDtype}` : gpuDtype,
      adapter: c.gpu.description,
      runtime: c.runtime ?? runtimeVersion(),
      mode: timed ? `auto, ${c.threads} WASM threads` : 'webgpu',
    };
    const started = performance.now();
    const cached = c.verify === 'always' ? undefined : await readDecision(key);
    if (cached && (!timed || cached.choice)) {
      info.verification = cached.verdict;
      const choice = cached.choice ?? (cached.verdict.ok ? { device: 'webgpu' as const, dtype: gpuDtype } : { device: 'wasm' as const, dtype: 'q8' as const });
      encoder.session = await c.open(choice.device, choice.dtype);
      if (!cached.verdict.ok) info.fallbackReason = `WebGPU output failed verification: ${cached.verdict.reason}`;
      if (cached.choice) info.choice = { ...cached.choice, cached: true, addedMs: 0 };
      return;
    }

    const gpuOpen = performance.now();
    const gpuSession = await c.open('webgpu', gpuDtype);
    const gpuOpenMs = performance.now() - gpuOpen;
    const gpuRun = await M3Encoder.timeProbe(encoder, gpuSession);
    const known = await readProbeFile(c.loc, null); // optional; the verdict is cached, so offline never needs it
    const answers = known && sameTexts(known.texts, PROBE_TEXTS) ? known.answers[gpuDtype] : undefined;
    let wasmSession: Session | undefined;
    let wasmRun: Awaited<ReturnType<typeof M3Encoder.timeProbe>> | undefined;
    let wasmOpenMs = 0;
    if (timed || !answers) {
      const t = performance.now();
      wasmSession = await c.open('wasm', wasmDtype);
      wasmOpenMs = performance.now() - t;
      wasmRun = await M3Encoder.timeProbe(encoder, wasmSession);
    }
    const verdict = answers ? compareProbe(gpuRun.out, answers, 'known-answers') : compareProbe(gpuRun.out, wasmRun!.out.map(toProbeAnswer), 'wasm');
    info.verification = verdict;

    const timings: DeviceChoice['timings'] = { webgpu: { dtype: gpuDtype, ms: gpuRun.ms, firstMs: gpuRun.firstMs } };
    if (wasmRun) timings.wasm = { dtype: wasmDtype, ms: wasmRun.ms, firstMs: wasmRun.firstMs };
    const fmt = (d: 'webgpu' | 'wasm') => `${d === 'webgpu' ? 'WebGPU' : 'WASM'} (${timings[d]!.dtype}) ${timings[d]!.ms.toFixed(1)} ms`;
    let choice: DeviceChoice;
    if (!verdict.ok) {
      info.fallbackReason = `WebGPU output failed verification: ${verdict.reason}`;
      choice = { device: 'wasm', dtype: wasmSession?.dtype ?? 'q8', reason: info.fallbackReason, timings };
    } else if (timed && wasmRun!.ms < gpuRun.ms) {
      choice = { device: 'wasm', dtype: wasmDtype, reason: `WASM is faster: warm probe ${fmt('wasm')} against ${fmt('webgpu')}`, timings };
    } else {
      choice = {
        device: 'webgpu',
        dtype: gpuDtype,
        reason: timed ? `WebGPU is faster: warm probe ${fmt('webgpu')} against ${fmt('wasm')}` : 'WebGPU asked for by name and verified',
        timings,
      };
    }
    // Keep the winner, free the other graph.
    if (choice.device === 'webgpu') {
      encoder.session = gpuSession;
      await wasmSession?.model.dispose?.();
    } else {
      await gpuSession.model.dispose?.();
      encoder.session = wasmSession ?? (await c.open('wasm', 'q8'));
    }
    await writeDecision(key, { verdict, ...(timed ? { choice } : {}) });
    if (timed) {
      // What deciding cost on top of opening the winner: the other session and the probe runs.
      const winnerOpenMs = choice.device === 'webgpu' ? gpuOpenMs : wasmOpenMs;
      info.choice = { ...choice, cached: false, addedMs: Math.max(0, performance.now() - started - winnerOpenMs) };
    }
  }

  /** Encodes the probe texts twice on a session: the first answers verification, the second is the timing. */
  private static async timeProbe(encoder: M3Encoder, session: Session): Promise<{ out: M3Embedding[]; ms: number; firstMs: number }> {
    const sparse = encoder.info.heads.sparse;
    encoder.session = session;
    let t = performance.now();
    const out = await encoder.encode(PROBE_TEXTS, { dense: true, sparse });
    const firstMs = performance.now() - t;
    t = performance.now();
    await encoder.encode(PROBE_TEXTS, { dense: true, sparse });
    return { out, ms: performance.now() - t, firstMs };
  }

  /** Encodes texts; outputs keep the input order. */
  async encode(texts: string[], options: EncodeOptions = {}): Promise<M3Embedding[]> {
    validateTexts(texts);
    if (texts.length === 0) return [];
    const want = { dense: options.dense ?? true, sparse: options.sparse ?? true, colbert: options.colbert ?? false };
    if (want.sparse && !this.heads.sparse) throw new Error(`${this.info.model} has no sparse head (sparse_linear.safetensors)`);
    if (want.colbert && !this.heads.colbert) throw new Error(`${this.info.model} has no ColBERT head (colbert_linear.safetensors)`);
    const maxLength = options.maxLength ?? this.info.maxLength;
    if (!Number.isInteger(maxLength) || maxLength < 3 || maxLength > this.info.maxLength) {
      throw new RangeError(`maxLength must be an integer in [3, ${this.info.maxLength}], got ${maxLength}`);
    }
    const batchSize = options.batchSize ?? 8;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);

    const prepared = texts.map((t) => this.prepare(t, maxLength));
    const out = new Array<M3Embedding>(texts.length);
    for (const batch of batchByLength(
      prepared.map((p) => p.ids.length),
      batchSize,
    )) {
      const seqs = batch.map((i) => prepared[i].ids);
      const hidden = await this.forward(seqs);
      const seqLen = seqs.reduce((m, s) => Math.max(m, s.length), 0);
      batch.forEach((textIndex, b) => {
        const p = prepared[textIndex];
        out[textIndex] = applyHeads(hidden, b * seqLen * this.info.hidden, this.info.hidden, p.ids, this.heads, want, p.truncated);
      });
    }
    return out;
  }

  /**
   * last_hidden_state per text (ids with `<s>`/`</s>`, rows [L × H]): what a head sees. Head tuning
   * (src/tune) caches these so training and re-indexing need no further forward passes.
   */
  async encodeHidden(texts: string[], options: { maxLength?: number; batchSize?: number } = {}): Promise<HiddenStates[]> {
    validateTexts(texts);
    const maxLength = options.maxLength ?? this.info.maxLength;
    const batchSize = options.batchSize ?? 8;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    const H = this.info.hidden;
    const prepared = texts.map((t) => this.prepare(t, maxLength));
    const out = new Array<HiddenStates>(texts.length);
    for (const batch of batchByLength(
      prepared.map((p) => p.ids.length),
      batchSize,
    )) {
      const seqs = batch.map((i) => prepared[i].ids);
      const hidden = await this.forward(seqs);
      const seqLen = seqs.reduce((m, s) => Math.max(m, s.length), 0);
      batch.forEach((t, b) => {
        const L = prepared[t].ids.length;
        out[t] = { ids: Uint32Array.from(prepared[t].ids), hidden: hidden.slice(b * seqLen * H, (b * seqLen + L) * H), truncated: prepared[t].truncated };
      });
    }
    return out;
  }

  /** The heads in use (read-only: tuning starts from them; teachers score with them). */
  getHeads(): Readonly<Heads> {
    return this.heads;
  }

  /**
   * The same model with another sparse head (a tuned version, or null for the base head loaded from the
   * files). Shares the ONNX session and tokenizer; dispose the encoder that was loaded, not this view.
   */
  withSparseHead(head: SparseHead | null, tag?: { version: number; hash: string }): M3Encoder {
    const base = this.baseSparse ?? this.heads.sparse;
    const info: EncoderInfo = { ...this.info, heads: { ...this.info.heads, sparse: !!(head ?? base) } };
    if (head && tag) info.sparseHead = tag;
    else delete info.sparseHead;
    const view = new M3Encoder(info, this.session, this.tokenizer, { ...this.heads, sparse: head ?? base }, this.hooks, false);
    view.baseSparse = base;
    return view;
  }

  private baseSparse: SparseHead | undefined;

  /** Token ids of a text as the model sees it (`<s>` … `</s>`, truncated like encode). */
  tokenize(text: string, maxLength = this.info.maxLength): Prepared {
    return this.prepare(text, maxLength);
  }

  /** A token id as people read it (the `▁` word marker removed). */
  tokenText(id: number): string {
    return String(this.tokenizer.decode([id], { skip_special_tokens: false })).trim();
  }

  async dispose(): Promise<void> {
    if (!this.ownsSession) return;
    await this.session.model.dispose?.();
  }

  private prepare(text: string, maxLength: number): Prepared {
    return prepareText(text, maxLength, (t) => Array.from(this.tokenizer.encode(t, { add_special_tokens: false }) as number[]));
  }

  private async forward(seqs: number[][]): Promise<Float32Array> {
    const { inputIds, attentionMask, seqLen } = padBatch(seqs);
    const dims = [seqs.length, seqLen];
    const result = await this.session.model({
      input_ids: new tf.Tensor('int64', inputIds, dims),
      attention_mask: new tf.Tensor('int64', attentionMask, dims),
    });
    const tensor = result.last_hidden_state;
    if (!tensor) throw new Error(`${this.info.model}: the ONNX graph has no last_hidden_state output`);
    const hidden = tensor.type === 'float32' ? (tensor.data as Float32Array) : (tensor.to('float32').data as Float32Array);
    this.hooks?.corruptHidden?.(this.session.device, hidden);
    return hidden;
  }
}

/** What decideWebGpu needs from the load. */
interface DecideContext {
  requested: Device;
  dtype: DType | undefined;
  plan: { device: ResolvedDevice; dtype: DType };
  gpu: GpuProbe;
  loc: ModelLocation;
  where: string;
  threads: number;
  verify: LoadOptions['verify'];
  runtime: string | undefined;
  open: (device: ResolvedDevice, dtype: DType) => Promise<Session>;
}

/** Transformers.js and onnxruntime-web versions: either changing re-verifies a cached decision. */
function runtimeVersion(): string {
  const ort = (tf.env.backends.onnx as any)?.versions ?? {};
  return `transformers.js ${(tf.env as any).version ?? '?'}, onnxruntime-web ${ort.web ?? ort.common ?? '?'}`;
}

/** The thread count onnxruntime-web started with in this page (it cannot change later). */
let wasmThreadsStarted: number | undefined;

async function resolveThreads(requested: number | undefined): Promise<EncoderInfo['threads']> {
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

async function openSession(
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
    return { model, device, dtype };
  } catch (e: any) {
    throw new Error(`Failed to load ${ONNX_FILE[dtype]} of ${where} on ${device}: ${e?.message ?? e}`);
  }
}

function setWasmPaths(prefix = '/ort/'): void {
  const wasm = (tf.env.backends.onnx as any).wasm;
  if (!wasm) return;
  const base = new URL(prefix, globalThis.location?.href).href.replace(/\/?$/, '/');
  // The asyncify build is the one that also carries the native WebGPU execution provider.
  wasm.wasmPaths = { mjs: `${base}ort-wasm-simd-threaded.asyncify.mjs`, wasm: `${base}ort-wasm-simd-threaded.asyncify.wasm` };
}

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

function modelShape(config: any, where: string): ModelShape {
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

async function readJson(loc: ModelLocation, file: string, progress: ReturnType<typeof progressTracker>, store: ModelStore | null): Promise<any> {
  const bytes = await readModelFile(loc, file, progress.file(file), store);
  if (!bytes) throw new Error(`Model file missing: ${file} in ${describeLocation(loc)}`);
  progress.done(file);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e: any) {
    throw new Error(`Model file ${file} in ${describeLocation(loc)} is not valid JSON: ${e?.message ?? e}`);
  }
}

async function readProbeFile(loc: ModelLocation, store: ModelStore | null): Promise<ProbeFile | undefined> {
  const bytes = await readModelFile(loc, 'm3-probe.json', undefined, store).catch(() => null);
  if (!bytes) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as ProbeFile;
  } catch {
    return undefined;
  }
}

function sameTexts(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

/** Merges Transformers.js's per-file events and our own head/config reads into one progress stream. */
function progressTracker(onProgress?: (p: LoadProgress) => void) {
  const files = new Map<string, { loaded: number; total?: number; done: boolean }>();
  const emit = (file: string, status: LoadProgress['status']) => {
    if (!onProgress) return;
    let loadedBytes = 0;
    let totalBytes = 0;
    let filesDone = 0;
    for (const f of files.values()) {
      loadedBytes += f.loaded;
      totalBytes += f.total ?? f.loaded;
      if (f.done) filesDone++;
    }
    const f = files.get(file)!;
    onProgress({ file, loaded: f.loaded, total: f.total, loadedBytes, totalBytes, filesDone, filesSeen: files.size, status });
  };
  const update = (file: string, loaded: number, total: number | undefined, status: LoadProgress['status']) => {
    const f = files.get(file) ?? { loaded: 0, done: false };
    f.loaded = loaded;
    if (total !== undefined) f.total = total;
    if (status === 'done') f.done = true;
    files.set(file, f);
    emit(file, status);
  };
  return {
    file: (name: string) => (loaded: number, total: number | undefined) => update(name, loaded, total, 'progress'),
    done: (name: string) => {
      const f = files.get(name);
      update(name, f?.loaded ?? 0, f?.total, 'done');
    },
    transformers: (e: any) => {
      if (!e?.file) return;
      if (e.status === 'initiate') update(e.file, 0, undefined, 'start');
      else if (e.status === 'progress') update(e.file, e.loaded ?? 0, e.total, 'progress');
      else if (e.status === 'done') update(e.file, files.get(e.file)?.total ?? files.get(e.file)?.loaded ?? 0, undefined, 'done');
    },
  };
}
