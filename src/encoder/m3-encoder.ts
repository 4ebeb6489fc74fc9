/**
 * M3Encoder: BGE-M3's three outputs from one forward pass, in the browser (WebGPU, verified, or WASM) and in
 * Node (onnxruntime-node). Transformers.js runs the ONNX encoder and the tokenizer; the heads are applied here.
 */
import { applyHeads, type Heads, type SparseHead } from './heads.ts';
import { loadHeads } from './load-heads.ts';
import {
  configureTransformers,
  describeLocation,
  isNode,
  locateModel,
  readModelFile,
  type LoadProgress,
  type ModelLocation,
} from './model-source.ts';
import { batchByLength, padBatch, prepareText, validateTexts, type Prepared } from './prepare.ts';
import { DEVICES, DTYPES, planDevice, probeWebGpu, type DType, type Device, type ModelShape, type ResolvedDevice } from './device.ts';
import { compareProbe, PROBE_TEXTS, toProbeAnswer, type ProbeFile, type Verdict } from './verify.ts';
import { readVerdict, writeVerdict } from './verdict-cache.ts';
import type { EncodeOptions, M3Embedding } from './types.ts';
import { loadTransformers, type Transformers } from './transformers.ts';

export interface LoadOptions {
  /** A hub id (`Xenova/bge-m3`), a URL of a self-hosted model folder, or (Node) a local folder. */
  model: string;
  device?: Device;
  /** Defaults: fp16 on WebGPU with shader-f16, fp32 on WebGPU for small models, q8 on WASM and CPU. */
  dtype?: DType;
  /** Where sparse_linear / colbert_linear.safetensors live when not beside the model. */
  heads?: string;
  onProgress?: (p: LoadProgress) => void;
  /** WebGPU verification: 'cached' (default) reuses an earlier verdict, 'always' re-probes, 'never' skips. */
  verify?: 'cached' | 'always' | 'never';
  /** Browser: the folder serving onnxruntime-web's .wasm/.mjs files (default `/ort/` on this origin). */
  wasmPaths?: string;
  /** @internal Tests only (stripped from the published types): lets a test corrupt one device's hidden states to exercise the fallback. */
  testHooks?: { corruptHidden?: (device: ResolvedDevice, hidden: Float32Array) => void };
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
    const requested = options.device ?? 'auto';
    if (!DEVICES.includes(requested)) throw new Error(`Unknown device "${requested}"; valid: ${DEVICES.join(', ')}`);
    if (options.dtype !== undefined && !DTYPES.includes(options.dtype)) {
      throw new Error(`Unknown dtype "${options.dtype}"; valid: ${DTYPES.join(', ')}`);
    }
    const loc = await locateModel(options.model);
    const where = describeLocation(loc);
    const progress = progressTracker(options.onProgress);
    const tf = await loadTransformers();
    if (!isNode) setWasmPaths(tf.env, options.wasmPaths);

    const id = configureTransformers(tf.env, loc);
    const config = await readJson(loc, 'config.json', progress);
    const shape = modelShape(config, where);
    let tokenizer: any;
    try {
      tokenizer = await tf.AutoTokenizer.from_pretrained(id, { progress_callback: progress.transformers });
    } catch (e: any) {
      throw new Error(`Failed to load the tokenizer (tokenizer.json) of ${where}: ${e?.message ?? e}`);
    }
    const headLoc = options.heads ? await locateModel(options.heads) : loc;
    const { heads, hash } = await loadHeads(headLoc, shape.hidden, progress);
    const maxLength = Math.min(shape.maxPositions - 2, Number(tokenizer.model_max_length) || Infinity);

    const gpu = isNode ? { adapter: false, f16: false, description: 'Node' } : await probeWebGpu();
    const plan = planDevice(requested, options.dtype, { node: isNode, gpu }, shape);
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
      ...(plan.reason ? { fallbackReason: plan.reason } : {}),
    };
    const open = (device: ResolvedDevice, dtype: DType) => openSession(tf, id, where, device, dtype, progress.transformers);
    let session = await open(plan.device, plan.dtype);
    const encoder = new M3Encoder(info, session, tokenizer, heads, options.testHooks);

    if (session.device === 'webgpu' && options.verify !== 'never') {
      const key = `${where}|${session.dtype}|${gpu.description}|${(tf.env as any).version ?? ''}`;
      let verdict = options.verify === 'always' ? undefined : await readVerdict(key);
      let wasmSession: Session | undefined;
      if (!verdict) {
        const probe = await encoder.encode(PROBE_TEXTS, { dense: true, sparse: !!heads.sparse });
        const known = await readProbeFile(loc);
        const answers = known?.answers[session.dtype];
        if (answers && sameTexts(known!.texts, PROBE_TEXTS)) {
          verdict = compareProbe(probe, answers, 'known-answers');
        } else {
          wasmSession = await open('wasm', session.dtype === 'fp16' ? 'q8' : session.dtype);
          encoder.session = wasmSession;
          const reference = await encoder.encode(PROBE_TEXTS, { dense: true, sparse: !!heads.sparse });
          encoder.session = session;
          verdict = compareProbe(probe, reference.map(toProbeAnswer), 'wasm');
        }
        await writeVerdict(key, verdict);
      }
      info.verification = verdict;
      if (!verdict.ok) {
        await session.model.dispose?.();
        session = wasmSession ?? (await open('wasm', 'q8'));
        encoder.session = session;
        info.fallbackReason = `WebGPU output failed verification: ${verdict.reason}`;
      } else if (wasmSession) {
        await wasmSession.model.dispose?.();
      }
      info.device = session.device;
      info.dtype = session.dtype;
    }
    return encoder;
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
    for (const batch of batchByLength(prepared.map((p) => p.ids.length), batchSize)) {
      const seqs = batch.map((i) => prepared[i].ids);
      const hidden = await this.forward(seqs);
      const seqLen = Math.max(...seqs.map((s) => s.length));
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
    const H = this.info.hidden;
    const prepared = texts.map((t) => this.prepare(t, maxLength));
    const out = new Array<HiddenStates>(texts.length);
    for (const batch of batchByLength(prepared.map((p) => p.ids.length), batchSize)) {
      const seqs = batch.map((i) => prepared[i].ids);
      const hidden = await this.forward(seqs);
      const seqLen = Math.max(...seqs.map((s) => s.length));
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
    const { Tensor } = await loadTransformers(); // already loaded by load()
    const result = await this.session.model({
      input_ids: new Tensor('int64', inputIds, dims),
      attention_mask: new Tensor('int64', attentionMask, dims),
    });
    const tensor = result.last_hidden_state;
    if (!tensor) throw new Error(`${this.info.model}: the ONNX graph has no last_hidden_state output`);
    const hidden = tensor.type === 'float32' ? (tensor.data as Float32Array) : (tensor.to('float32').data as Float32Array);
    this.hooks?.corruptHidden?.(this.session.device, hidden);
    return hidden;
  }
}

async function openSession(
  tf: Transformers,
  id: string,
  where: string,
  device: ResolvedDevice,
  dtype: DType,
  progress_callback: (e: any) => void,
): Promise<Session> {
  try {
    const model = await tf.AutoModel.from_pretrained(id, { device, dtype, progress_callback } as any);
    return { model, device, dtype };
  } catch (e: any) {
    throw new Error(`Failed to load ${ONNX_FILE[dtype]} of ${where} on ${device}: ${e?.message ?? e}`);
  }
}

function setWasmPaths(env: Transformers['env'], prefix = '/ort/'): void {
  const wasm = (env.backends.onnx as any).wasm;
  if (!wasm) return;
  const base = new URL(prefix, globalThis.location?.href).href.replace(/\/?$/, '/');
  // The asyncify build is the one that also carries the native WebGPU execution provider.
  wasm.wasmPaths = { mjs: `${base}ort-wasm-simd-threaded.asyncify.mjs`, wasm: `${base}ort-wasm-simd-threaded.asyncify.wasm` };
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

async function readJson(loc: ModelLocation, file: string, progress: ReturnType<typeof progressTracker>): Promise<any> {
  const bytes = await readModelFile(loc, file, progress.file(file));
  if (!bytes) throw new Error(`Model file missing: ${file} in ${describeLocation(loc)}`);
  progress.done(file);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e: any) {
    throw new Error(`Model file ${file} in ${describeLocation(loc)} is not valid JSON: ${e?.message ?? e}`);
  }
}

async function readProbeFile(loc: ModelLocation): Promise<ProbeFile | undefined> {
  const bytes = await readModelFile(loc, 'm3-probe.json').catch(() => null);
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
