/**
 * Self-distillation teachers of head tuning: 'bm25' (the index's own BM25 engine, SegmentBm25, over the
 * tuning documents) or M3's 'ensemble' (dense + 0.3·sparse + ColBERT, the student's own sparse scores).
 */
import { applyHeads, colbertScore, denseScore } from '../encoder/heads.ts';
import type { AnalyzerOptions } from '../rank/analyzer.ts';
import { analyzeTermCounts } from '../rank/term-stats.ts';
import { DEFAULT_BM25_PARAMS } from '../rank/bm25.ts';
import { SegmentBm25 } from '../search/segment-bm25.ts';
import { buildBm25 } from '../store/segment-builder.ts';
import type { CachedText } from './hidden-cache.ts';
import type { TrainingPair } from './pairs.ts';
import type { TunableEncoder } from './tunable.ts';
import type { Candidate, TrainExample } from './train.ts';

export type Teacher = 'ensemble' | 'bm25' | 'none';

export function makeTeacher(
  kind: Teacher,
  encoder: TunableEncoder,
  docs: { id: string; text: string }[],
  docHidden: CachedText[],
  pairs: TrainingPair[],
  examples: TrainExample[],
  hardNegatives: number,
  analyzer: AnalyzerOptions,
): ((ex: TrainExample, cands: Candidate[], student: Float64Array) => Float64Array) | undefined {
  if (kind === 'none') return undefined;
  if (kind === 'bm25') {
    const bm25 = bm25Teacher(
      docs.map((d) => d.text),
      analyzer,
    );
    const queryOf = new Map(examples.map((e, i) => [e, pairs[i].query]));
    return (ex, cands) =>
      bm25(
        queryOf.get(ex)!,
        cands.map((c) => c.doc),
      );
  }
  // M3's ensemble: dense + 0.3·sparse + colbert, with the student's own (current) sparse scores.
  const H = encoder.info.hidden;
  const heads = encoder.getHeads();
  const dense = new WeakMap<CachedText, Float32Array>();
  const colbert = new WeakMap<CachedText, Float32Array>();
  const denseOf = (t: CachedText) => {
    let v = dense.get(t);
    if (!v) dense.set(t, (v = applyHeads(t.hidden, 0, H, t.ids, heads, { dense: true, sparse: false, colbert: false }, false).dense!));
    return v;
  };
  const colbertOf = (t: CachedText) => {
    let v = colbert.get(t);
    if (!v) colbert.set(t, (v = applyHeads(t.hidden, 0, H, t.ids, heads, { dense: false, sparse: false, colbert: true }, false).colbert!));
    return v;
  };
  // Dense and ColBERT scores are frozen: computed once per (query, document) of the query's own group
  // (positive + hard negatives), which is what the distillation covers; MaxSim over every in-batch pair
  // would cost Lq·Ld·D per pair, every step.
  const frozen = new Map<TrainExample, Map<number, number>>();
  const frozenOf = (ex: TrainExample) => {
    let m = frozen.get(ex);
    if (!m) {
      m = new Map();
      for (const doc of [ex.doc, ...ex.negatives.slice(0, hardNegatives)]) {
        const d = docHidden[doc];
        let s = denseScore(denseOf(ex.query), denseOf(d));
        if (heads.colbert) s += colbertScore(colbertOf(ex.query), colbertOf(d), heads.colbert.dim);
        m.set(doc, s);
      }
      frozen.set(ex, m);
    }
    return m;
  };
  return (ex, cands, student) => {
    const m = frozenOf(ex);
    return Float64Array.from(cands, (c, i) => {
      const f = c.of !== undefined || c.doc !== ex.doc ? m.get(c.doc) : undefined;
      return f === undefined ? NaN : f + 0.3 * student[i];
    });
  };
}

/** Scores documents (by position in `texts`) for a query, as the index's BM25 would rank them. */
export function bm25Teacher(texts: readonly string[], analyzer: AnalyzerOptions = {}): (query: string, docs: ArrayLike<number>) => Float64Array {
  const block = buildBm25(
    texts.map((text) => {
      const { counts, length } = analyzeTermCounts(text, analyzer);
      return { key: 0, id: '', metadata: null, rows: [], bm25: { tf: counts, length } };
    }),
  );
  const bm25 = new SegmentBm25(DEFAULT_BM25_PARAMS, analyzer);
  if (block) bm25.addBlocks([{ keys: Uint32Array.from(texts, (_, i) => i), bm25: block }]);
  return (query, docs) => bm25.scoreDocs(query, docs);
}
