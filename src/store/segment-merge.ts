/**
 * Compaction: rewrites the live documents of several segments into one, dropping tombstoned ones.
 * Dense and ColBERT codes are copied as they are (ColBERT is re-coded only where the index's codec changed);
 * sparse postings are re-laid out (and re-scaled to the merged segment's max weight); BM25 postings are carried
 * over by term, with their positions. A segment without positions (schema 4) gets them from its documents'
 * texts when the caller passes them (`reanalyze`): the merged segment then stores positions for all, else for none.
 */
import type { AnalyzerOptions } from '../rank/analyzer.ts';
import { analyzeTermPositions } from '../rank/term-stats.ts';
import { bm25ListBound, decodeBm25Into, forEachBm25Positions, forEachBm25Term, MAX_STORED_TF, positionCount, type TermPositions } from './bm25-postings.ts';
import { forEachSparseEntry, forEachSparseList } from './sparse-postings.ts';
import { buildSegment, type PreparedDoc, type PreparedRow } from './segment-builder.ts';
import type { ColbertBits, SegmentRecord } from './types.ts';

/** Texts of documents (by key) and the index's analyzer, to give positions to segments stored without. */
export interface Reanalyze {
  textOf: (key: number) => string | undefined;
  analyzer: AnalyzerOptions;
}

/** `colbertBits`: the codec of the merged ColBERT block (the index's); parts in another codec are re-coded. */
export function mergeSegments(
  seq: number,
  parts: SegmentRecord[],
  alive: (key: number) => boolean,
  dims: number,
  colbertBits: ColbertBits = 8,
  reanalyze?: Reanalyze,
): SegmentRecord {
  const docs: PreparedDoc[] = [];
  for (const seg of parts) {
    const rowsOf = rowsByDoc(seg);
    const sparseRows = seg.sparse ? sparseByRow(seg) : null;
    const bm25 = seg.bm25 ? bm25ByDoc(seg) : null;
    if (bm25 && !seg.bm25!.positions && reanalyze) addPositions(seg, bm25, alive, reanalyze);
    for (let i = 0; i < seg.keys.length; i++) {
      if (!alive(seg.keys[i])) continue;
      const rows: PreparedRow[] = rowsOf[i].map((r) => {
        const row: PreparedRow = {};
        if (seg.dense) {
          const rb = (dims + 1) >> 1;
          const residual = seg.dense.residual?.subarray(r * rb, (r + 1) * rb);
          row.denseQ = { codes: seg.dense.codes.subarray(r * dims, (r + 1) * dims), scale: seg.dense.scales[r], ...(residual ? { residual } : {}) };
        }
        if (sparseRows) row.sparse = sparseRows[r];
        if (seg.colbert) {
          const c = seg.colbert;
          const from = c.rowOffsets[r];
          const to = c.rowOffsets[r + 1];
          if (c.codec === 'bits') {
            const stride = (c.bits * c.dims) / 8;
            const steps = c.bits === 1 ? new Float32Array(to - from).fill(c.steps[0]) : c.steps.subarray(from, to);
            row.colbertB = { bits: c.bits, planes: c.planes.subarray(from * stride, to * stride), steps };
          } else row.colbertQ = { codes: c.codes.subarray(from * c.dims, to * c.dims), scales: c.scales.subarray(from, to) };
        }
        if (seg.rowSpans.length) row.span = [seg.rowSpans[2 * r], seg.rowSpans[2 * r + 1]];
        return row;
      });
      docs.push({ key: seg.keys[i], id: seg.ids[i], metadata: seg.metadata[i], rows, bm25: bm25?.[i] });
    }
  }
  const colbert = parts.some((p) => p.colbert);
  return buildSegment(seq, docs, { dims, colbert, colbertBits });
}

/** Row indexes of each document of a segment (a chunked document has several). */
export function rowsByDoc(seg: SegmentRecord): number[][] {
  const out: number[][] = Array.from({ length: seg.keys.length }, () => []);
  for (let r = 0; r < seg.rowDoc.length; r++) out[seg.rowDoc[r]].push(r);
  return out;
}

/** A segment's sparse postings (by token) turned back into per-row weights, ids ascending. */
export function sparseByRow(seg: SegmentRecord): { ids: Uint32Array; weights: Float32Array }[] {
  const s = seg.sparse!;
  const n = seg.rowDoc.length;
  const counts = new Uint32Array(n);
  forEachSparseList(s, (_, start, end) => forEachSparseEntry(s, start, end, (r) => counts[r]++));
  const out = Array.from(counts, (c) => ({ ids: new Uint32Array(c), weights: new Float32Array(c) }));
  const fill = new Uint32Array(n);
  forEachSparseList(s, (token, start, end) =>
    forEachSparseEntry(s, start, end, (r, q) => {
      const at = fill[r]++;
      out[r].ids[at] = token; // tokens ascending, so each row's ids come out ascending
      out[r].weights[at] = q * s.scale;
    }),
  );
  return out;
}

type DocTerms = NonNullable<PreparedDoc['bm25']>;

function bm25ByDoc(seg: SegmentRecord): DocTerms[] {
  const b = seg.bm25!;
  if (b.positions) {
    const out = Array.from(b.lengths, (length) => ({ positions: new Map<string, TermPositions>(), length }));
    forEachBm25Term(b, (term, t) =>
      forEachBm25Positions(
        b,
        t,
        () => true,
        (doc, pos, n) => out[doc].positions.set(term, pos.slice(0, n)),
      ),
    );
    return out;
  }
  const out = Array.from(b.lengths, (length) => ({ tf: new Map<string, number>(), length }));
  let docs = new Uint32Array(0);
  let tfs = new Uint32Array(0);
  forEachBm25Term(b, (term, t) => {
    const bound = bm25ListBound(b, t);
    if (docs.length < bound) [docs, tfs] = [new Uint32Array(bound * 2), new Uint32Array(bound * 2)];
    const n = decodeBm25Into(b, t, docs, tfs, 0);
    for (let e = 0; e < n; e++) out[docs[e]].tf.set(term, tfs[e]);
  });
  return out;
}

/**
 * Positions for a schema 4 segment's live documents, from their texts: kept only where the text analyzes to
 * exactly the stored terms, frequencies and length (so scores stay as they were); a document left without
 * keeps the merged segment without positions.
 */
function addPositions(seg: SegmentRecord, docs: DocTerms[], alive: (key: number) => boolean, re: Reanalyze): void {
  for (let i = 0; i < docs.length; i++) {
    if (!alive(seg.keys[i])) continue;
    const text = re.textOf(seg.keys[i]);
    if (text === undefined) return;
    const { positions, length } = analyzeTermPositions(text, re.analyzer);
    const tf = docs[i].tf!;
    if (length !== docs[i].length || positions.size !== tf.size) return;
    for (const [term, p] of positions) if (tf.get(term) !== Math.min(positionCount(p), MAX_STORED_TF)) return;
    docs[i] = { positions, length };
  }
}
