/**
 * M3Encoder: BGE-M3's three outputs from one forward pass, in the browser (WebGPU, verified, or WASM) and in
 * Node (onnxruntime-node). Transformers.js runs the ONNX encoder and the tokenizer; the heads are applied here.
 */
import { decideWebGpu } from './device-choice.ts';
import { DEVICES, DTYPES, planDevice, probeWebGpu, type DType, type GpuProbe, type ResolvedDevice } from './device.ts';
import { applyHeads, type Heads, type SparseHead } from './heads.ts';
import { loadHeads } from './load-heads.ts';
import type { EncoderInfo, HiddenStates, LoadOptions } from './load-options.ts';
import { progressTracker } from './load-progress.ts';
import { browserModelStore } from './model-cache.ts';
import { externalDataFormat, modelShape, readJson } from './model-config.ts';
import { configureTransformers, describeLocation, isNode, locateModel, saveTransformersEnv, useResumableFetch } from './model-source.ts';
import { openSession, resolveThreads, setWasmPaths, type Session } from './ort-session.ts';
import { batchByLength, padBatch, prepareText, validateTexts, type Prepared } from './prepare.ts';
import { loadTransformers, type Transformers } from './transformers.ts';
import type { EncodeOptions, M3Embedding } from './types.ts';
import { PROBE_TEXTS } from './verify.ts';

/** Transformers.js, set by the first M3Encoder.load (imported on first use: see transformers.ts). */
let tf: Transformers;

let loadChain: Promise<unknown> = Promise.resolve();

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
    if (!isNode) setWasmPaths(tf, options.wasmPaths);

    const id = configureTransformers(tf.env, loc, options);
    if (isNode && options.cacheDir) tf.env.cacheDir = options.cacheDir;
    useResumableFetch(tf.env);
    const store = isNode ? null : browserModelStore(tf.env);
    const config = await readJson(loc, 'config.json', progress, store);
    const shape = modelShape(config, where);
    const probedGpu = isNode ? { adapter: false, f16: false, description: 'Node' } : await probeWebGpu();
    const gpu: GpuProbe = { ...probedGpu, ...options.testHooks?.adapter };
    const plan = planDevice(requested, options.dtype, { node: isNode, gpu }, shape);
    const threads = await resolveThreads(tf, options.threads);
    const external = externalDataFormat(config, shape);
    const open = (device: ResolvedDevice, dtype: DType) => openSession(tf, id, where, device, dtype, progress.transformers, threads.used, external);
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
      encoder.session = await decideWebGpu({
        tf,
        info,
        probe: (session) => {
          encoder.session = session;
          return encoder.encode(PROBE_TEXTS, { dense: true, sparse: info.heads.sparse });
        },
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

    const H = this.info.hidden;
    return this.forwardEach(texts, maxLength, batchSize, (p, hidden, row0) => applyHeads(hidden, row0 * H, H, p.ids, this.heads, want, p.truncated));
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
    return this.forwardEach(texts, maxLength, batchSize, (p, hidden, row0) => ({
      ids: Uint32Array.from(p.ids),
      hidden: hidden.slice(row0 * H, (row0 + p.ids.length) * H),
      truncated: p.truncated,
    }));
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

  /**
   * Texts tokenized, batched by length (less padding), run through the graph; `read` turns one text's rows
   * (its first row's index in the batch's hidden states) into the output, kept in input order.
   */
  private async forwardEach<T>(
    texts: string[],
    maxLength: number,
    batchSize: number,
    read: (p: Prepared, hidden: Float32Array, row0: number) => T,
  ): Promise<T[]> {
    const prepared = texts.map((t) => this.prepare(t, maxLength));
    const out = new Array<T>(texts.length);
    for (const batch of batchByLength(
      prepared.map((p) => p.ids.length),
      batchSize,
    )) {
      const seqs = batch.map((i) => prepared[i].ids);
      const hidden = await this.forward(seqs);
      const seqLen = seqs.reduce((m, s) => Math.max(m, s.length), 0);
      batch.forEach((t, b) => {
        out[t] = read(prepared[t], hidden, b * seqLen);
      });
    }
    return out;
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
