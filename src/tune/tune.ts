/**
 * tuneSparseHead(index, options): fine-tunes the sparse head on the index's own documents, on the device.
 * The encoder stays frozen; only the sparse head (M3's 1×H `sparse_linear`, plus the optional per-token map)
 * trains, on hidden states cached once. The result is stored as a new head version beside the base head,
 * the sparse postings are rebuilt with it (from the cached hidden states) and the index records which head
 * made them. Failure (NaN, explosion) or cancel leaves the active head and the index as they were.
 */
import { applyHeads } from '../encoder/heads.ts';
import type { M3Index } from '../search/m3-index.ts';
import { tuningAccess } from '../search/tuning-access.ts';
import { abortError } from '../store/errors.ts';
import type { Store } from '../store/types.ts';
import { hashHead, type TunedHeadRecord } from './head-codec.ts';
import { nextHeadVersion, writeHead } from './head-store.ts';
import { postingsPerDoc, reindexSparse } from './head-switch.ts';
import { HiddenCache, type CachedText } from './hidden-cache.ts';
import { idfLogScale, tokenIdf } from './idf.ts';
import { checkPairs, minePseudoQueries, splitHeldOut, type PairSource, type TrainingPair } from './pairs.ts';
import { jsMatrixOps, type MatrixOps } from './matrix-ops.ts';
import { SparseHeadModel } from './sparse-model.ts';
import { makeTeacher, type Teacher } from './teacher.ts';
import type { TuneOptions, TuneProgress, TuneResult } from './types.ts';
import { type TunableEncoder, tunable } from './tunable.ts';
import { DEFAULT_TRAIN, trainSparseHead, type TrainExample, type TrainInput } from './train.ts';
import { createWebGpuOps } from './webgpu-ops.ts';

export type { Teacher } from './teacher.ts';
export type { TuneOptions, TuneProgress, TuneResult } from './types.ts';
export { activateSparseHead, postingsPerDoc, revertSparseHead } from './head-switch.ts';
export { listHeads as listSparseHeads } from './head-store.ts';

const now = () => performance.now();

type Progress = (p: TuneProgress) => void;

/**
 * Tunes the index's sparse head, in phases: pairs → hidden states → hard negatives → training → (pruning
 * threshold, head record, re-indexed postings). Each phase is one function below.
 *
 *   const r = await tuneSparseHead(index, { pairs: [{ query: 'laminar flow', docId: 'd17' }] });
 */
export async function tuneSparseHead(index: M3Index, options: TuneOptions = {}): Promise<TuneResult> {
  const t0 = now();
  const o = options;
  const signal = o.signal;
  const check = () => {
    if (signal?.aborted) throw abortError(signal.reason);
  };
  if ((o.stages ?? ['sparse']).some((s) => s !== 'sparse')) throw new Error("only the 'sparse' stage is implemented; the ColBERT stage is not yet");
  const encoder = tunable(index);
  const { store } = tuningAccess(index);
  if (!store.writeHead) throw new Error(`this ${store.kind} store cannot keep tuned heads`);
  const progress: Progress = (p) => o.onProgress?.(p);

  const pairs = await gatherPairs(index, store, o);
  progress({ phase: 'pairs', done: pairs.all.length, total: pairs.all.length });

  const cache = o.cache ?? new HiddenCache(encoder, { maxBytes: o.cacheBytes });
  const tEnc = now();
  const { docHidden, queryHidden } = await hiddenStates(cache, pairs, signal, progress);
  const msEncode = now() - tEnc;
  check();

  const tNeg = now();
  const K = o.hardNegatives ?? DEFAULT_TRAIN.hardNegatives;
  const examples = await mineNegatives(index, encoder, pairs, queryHidden, K, o.negatives ?? 'hybrid', check, progress);
  const msNeg = now() - tNeg;
  const exOf = new Map(pairs.all.map((p, i) => [p, examples[i]]));
  const train = pairs.split.train.map((p) => exOf.get(p)!);
  const held = pairs.split.heldOut.map((p) => exOf.get(p)!);

  const { model, prior } = initialModel(encoder, docHidden, o);
  const teacherKind = o.teacher ?? 'ensemble';
  const teacher = makeTeacher(teacherKind, encoder, pairs.docs, docHidden, pairs.all, examples, K, tuningAccess(index).meta.analyzer ?? {});
  const config = trainConfig(o, K, !!teacher, teacherKind);
  const tTrain = now();
  const { trained, compute } = await runTraining(o, encoder.info.hidden, {
    model,
    docs: docHidden,
    train,
    heldOut: held,
    prior: o.idfPrior === false ? null : prior,
    teacher: teacher ? (j, cands, s) => teacher(train[j], cands, s) : undefined,
    config,
    ops: jsMatrixOps,
    signal,
    onStep: (p) => progress({ phase: 'train', done: p.step, total: p.steps, epoch: p.epoch, loss: p.loss }),
    onEpoch: (p) => progress({ phase: 'train', done: p.epoch, total: config.maxEpochs, epoch: p.epoch, loss: p.loss, heldOut: p.heldOut.ndcg10 }),
  });
  const msTrain = now() - tTrain;
  const postingsBefore = postingsPerDoc(index);
  const { checked, userPairs, bySource } = pairs;
  const result: TuneResult = {
    status: trained.status === 'failed' ? 'failed' : 'tuned',
    ...(trained.reason && trained.status === 'failed' ? { reason: trained.reason } : {}),
    pairs: { train: train.length, heldOut: held.length, bySource, unknownIds: checked.unknownIds, skipped: userPairs.length - checked.ok.length },
    heldOut: { before: trained.before, after: trained.after },
    postingsPerDoc: { before: postingsBefore, after: postingsBefore },
    training: { status: trained.status, ...(trained.reason ? { reason: trained.reason } : {}), epochs: trained.epochs, steps: trained.steps },
    curve: trained.curve,
    ms: { total: 0, encode: msEncode, negatives: msNeg, train: msTrain, reindex: 0 },
    cache: { bytes: cache.bytes, hits: cache.hits, misses: cache.misses },
    compute,
  };
  if (result.status === 'failed') {
    result.ms.total = now() - t0;
    return result; // nothing written: the active head and the postings stay
  }
  check();

  const threshold = pruneThreshold(model, docHidden, o.prune ?? 0.7);
  const head = model.toHead(threshold);
  const rec: TunedHeadRecord = {
    version: await nextHeadVersion(store),
    hash: await hashHead(head),
    baseHeadHash: encoder.info.headHash,
    modelId: String(encoder.info.modelId ?? encoder.info.model ?? ''),
    hidden: encoder.info.hidden,
    createdAt: Date.now(),
    options: recordableOptions(o, config, teacherKind, threshold),
    metrics: {
      heldOutBefore: trained.before,
      heldOutAfter: trained.after,
      training: result.training,
      pairs: result.pairs,
      postingsPerDocBefore: postingsBefore,
    },
    head,
  };
  result.version = rec.version;
  result.hash = rec.hash;
  if (o.activate === false) {
    await writeHead(store, rec);
    result.ms.total = now() - t0;
    return result;
  }
  const tRe = now();
  await writeHead(store, rec); // immutable version; it becomes active only with the meta commit below
  await reindexSparse(index, encoder.withSparseHead(head, { version: rec.version, hash: rec.hash }), rec, cache, encoder, signal, (d, t) =>
    progress({ phase: 'reindex', done: d, total: t }),
  );
  result.ms.reindex = now() - tRe;
  result.postingsPerDoc.after = postingsPerDoc(index);
  result.ms.total = now() - t0;
  result.cache = { bytes: cache.bytes, hits: cache.hits, misses: cache.misses };
  return result;
}

interface Pairs {
  docs: { id: string; text: string }[];
  docIndex: Map<string, number>;
  userPairs: { query: string; docId: string; source: 'user' | 'click' }[];
  checked: ReturnType<typeof checkPairs>;
  all: TrainingPair[];
  bySource: Partial<Record<PairSource, number>>;
  split: { train: TrainingPair[]; heldOut: TrainingPair[] };
}

/** Phase 1: the index's live documents, the user's pairs and clicks checked, pseudo-queries mined, a held-out split. */
async function gatherPairs(index: M3Index, store: Store, o: TuneOptions): Promise<Pairs> {
  const docs = (await store.allDocs()).filter((d) => index.has(d.id));
  const userPairs = [...(o.pairs ?? []).map((p) => ({ ...p, source: 'user' as const })), ...(o.clicks ?? []).map((p) => ({ ...p, source: 'click' as const }))];
  if (docs.length === 0) throw new Error('the index is empty: there are no documents to tune on (add documents first)');
  const docIndex = new Map(docs.map((d, i) => [d.id, i]));
  const checked = checkPairs(userPairs, (id) => docIndex.has(id));
  const mine = o.pseudoQueries ?? userPairs.length === 0;
  const mined = mine ? minePseudoQueries(docs, typeof mine === 'object' ? mine : {}) : [];
  const all: TrainingPair[] = [...checked.ok, ...mined];
  if (all.length === 0) {
    const why = userPairs.length
      ? `none of the ${userPairs.length} pairs names a document in the index (unknown ids: ${checked.unknownIds.slice(0, 5).join(', ')})`
      : 'no pairs were given and pseudo-query mining found none';
    throw new Error(`no training pairs: ${why}`);
  }
  const bySource: Partial<Record<PairSource, number>> = {};
  for (const p of all) bySource[p.source] = (bySource[p.source] ?? 0) + 1;
  return { docs, docIndex, userPairs, checked, all, bySource, split: splitHeldOut(all, o.heldOut ?? 0.1, o.seed ?? 7) };
}

/** Phase 2: hidden states of every document and query (the one expensive step: a forward pass per text, cached). */
async function hiddenStates(
  cache: HiddenCache,
  pairs: Pairs,
  signal: AbortSignal | undefined,
  progress: Progress,
): Promise<{ docHidden: CachedText[]; queryHidden: CachedText[] }> {
  const docTexts = pairs.docs.map((d) => d.text);
  const queryTexts = pairs.all.map((p) => p.query);
  const totalTexts = docTexts.length + queryTexts.length;
  const docHidden = await cache.get(docTexts, { signal, onProgress: (d) => progress({ phase: 'encode', done: d, total: totalTexts }) });
  const queryHidden = await cache.get(queryTexts, { signal, onProgress: (d) => progress({ phase: 'encode', done: docTexts.length + d, total: totalTexts }) });
  progress({ phase: 'encode', done: totalTexts, total: totalTexts }); // cached texts were never counted above
  return { docHidden, queryHidden };
}

/** Phase 3: hard negatives, mined with the current index (queries embedded from the cache: no extra forward). */
async function mineNegatives(
  index: M3Index,
  encoder: TunableEncoder,
  pairs: Pairs,
  queryHidden: CachedText[],
  K: number,
  mode: NonNullable<TuneOptions['negatives']>,
  check: () => void,
  progress: Progress,
): Promise<TrainExample[]> {
  const current = (tuningAccess(index).encoder ?? encoder) as Partial<TunableEncoder>;
  const currentHeads = typeof current.getHeads === 'function' ? current.getHeads() : encoder.getHeads();
  const H = encoder.info.hidden;
  const depth = Math.max(K, 30); // held-out pairs are ranked against this many
  const { all, docIndex, docs } = pairs;
  const examples: TrainExample[] = [];
  for (let i = 0; i < all.length; i++) {
    if (i % 64 === 0) {
      check();
      progress({ phase: 'negatives', done: i, total: all.length });
    }
    const p = all[i];
    const q = queryHidden[i];
    const embedding = applyHeads(q.hidden, 0, H, q.ids, currentHeads, { dense: true, sparse: true, colbert: false }, q.truncated);
    const hits = await index.search(
      { text: p.query, embedding },
      { mode, syntax: 'plain', k: depth + 1, candidates: Math.max(100, depth + 1), includeText: false },
    );
    const pos = docIndex.get(p.docId)!;
    const negatives = hits.map((h) => docIndex.get(h.id)).filter((d): d is number => d !== undefined && d !== pos);
    examples.push({ query: q, doc: pos, negatives, mask: p.span ? tokenSpan(encoder, docs[pos].text, p.span) : undefined });
  }
  return examples;
}

/** Phase 4: the model, from the base head, its per-token map initialised from the corpus IDF. */
function initialModel(encoder: TunableEncoder, docHidden: CachedText[], o: TuneOptions): { model: SparseHeadModel; prior: Float32Array | null } {
  const base = encoder.getHeads().sparse!;
  const vocabSize = encoder.info.vocabSize ?? 1 + maxTokenId(docHidden);
  const useVocab = o.vocab !== false;
  const model = new SparseHeadModel(base, vocabSize, useVocab);
  let prior: Float32Array | null = null;
  if (useVocab && o.idfPrior !== false) {
    const { idf, df } = tokenIdf(
      docHidden.map((d) => d.ids),
      vocabSize,
    );
    prior = idfLogScale(idf, df);
    model.logScale!.set(prior);
  }
  return { model, prior };
}

function trainConfig(o: TuneOptions, K: number, hasTeacher: boolean, teacherKind: Teacher): typeof DEFAULT_TRAIN {
  return {
    ...DEFAULT_TRAIN,
    ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
    ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
    hardNegatives: K,
    ...(o.maxEpochs !== undefined ? { maxEpochs: o.maxEpochs } : {}),
    ...(o.patience !== undefined ? { patience: o.patience } : {}),
    ...(o.lr !== undefined ? { lr: o.lr } : {}),
    ...(o.vocabLr !== undefined ? { vocabLr: o.vocabLr } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.maxMs !== undefined ? { maxMs: o.maxMs } : {}),
    l1: o.l1 ?? 1e-3,
    idfPrior: o.idfPrior === false ? 0 : (o.idfPrior ?? DEFAULT_TRAIN.idfPrior),
    clip: o.clip ?? DEFAULT_TRAIN.clip,
    distillWeight: hasTeacher ? (o.distillWeight ?? DEFAULT_TRAIN.distillWeight) : 0,
    teacherTemperature: teacherKind === 'bm25' ? 1 : DEFAULT_TRAIN.teacherTemperature,
  };
}

/** Phase 5: training, its matrix work on WebGPU where asked and available; a GPU failure starts over on JS. */
async function runTraining(
  o: TuneOptions,
  H: number,
  input: TrainInput,
): Promise<{ trained: Awaited<ReturnType<typeof trainSparseHead>>; compute: TuneResult['compute'] }> {
  const requested = o.compute ?? 'auto';
  const compute: TuneResult['compute'] = { requested, used: 'js' };
  let ops: MatrixOps = jsMatrixOps;
  if (requested !== 'js') {
    const gpu = await createWebGpuOps([...input.docs, ...input.train.map((e) => e.query)], H);
    if ('ops' in gpu) ops = gpu.ops;
    else compute.reason = gpu.reason;
  }
  compute.used = ops.kind;
  const start = input.model.snapshot();
  try {
    return { trained: await trainSparseHead({ ...input, ops }), compute };
  } catch (e) {
    if (ops === jsMatrixOps || input.signal?.aborted) throw e;
    // A GPU error mid-run: start over on JS from the same initial head (the partial run is not trusted).
    input.model.restore(start);
    compute.used = 'js';
    compute.reason = `WebGPU failed during training (${(e as Error).message}); trained in JS instead`;
    return { trained: await trainSparseHead({ ...input, ops: jsMatrixOps }), compute };
  } finally {
    ops.destroy?.();
  }
}

/** Phase 6: the pruning threshold, a fraction of the mean weight the tuned head gives document terms. */
function pruneThreshold(model: SparseHeadModel, docHidden: CachedText[], prune: number): number {
  if (!(prune > 0)) return 0;
  let sum = 0;
  let n = 0;
  for (const d of docHidden) {
    const a = model.forward(d);
    for (const w of a.w) (sum += w), n++;
  }
  return n ? (prune * sum) / n : 0;
}

/** Token positions [a, b) of characters [start, end) of `text` as the model sees it (`<s>` at 0). */
function tokenSpan(encoder: TunableEncoder, text: string, span: [number, number]): [number, number] {
  const count = (s: string) => (s.trim() ? encoder.tokenize(s, 1 << 30).ids.length - 2 : 0);
  return [1 + count(text.slice(0, span[0])), 1 + count(text.slice(0, span[1]))];
}

function recordableOptions(o: TuneOptions, config: typeof DEFAULT_TRAIN, teacher: Teacher, threshold: number): Record<string, unknown> {
  return {
    vocab: o.vocab !== false,
    idfPrior: config.idfPrior,
    l1: config.l1,
    prune: o.prune ?? 0.7,
    threshold,
    clip: config.clip,
    teacher,
    distillWeight: config.distillWeight,
    temperature: config.temperature,
    batchSize: config.batchSize,
    hardNegatives: config.hardNegatives,
    negatives: o.negatives ?? 'hybrid',
    maxEpochs: config.maxEpochs,
    lr: config.lr,
    vocabLr: config.vocabLr,
    pseudoQueries: o.pseudoQueries ?? !(o.pairs?.length || o.clicks?.length),
    userPairs: o.pairs?.length ?? 0,
    clicks: o.clicks?.length ?? 0,
  };
}

/** Largest token id in the texts (a loop: spreading thousands of texts into Math.max overflows the stack). */
function maxTokenId(texts: { ids: ArrayLike<number> }[]): number {
  let max = 0;
  for (const t of texts) for (let i = 0; i < t.ids.length; i++) if (t.ids[i] > max) max = t.ids[i];
  return max;
}
