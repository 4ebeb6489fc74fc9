/**
 * Compaction: rewrites the live documents of several segments into one, dropping tombstoned ones.
 * Dense and ColBERT codes are copied as they are (ColBERT is re-coded only where the index's codec changed);
 * sparse postings are re-laid out (and re-scaled to the merged segment's max weight); BM25 postings are carried
 * over by term, with their positions. A segment without positions (schema 4) gets them from its documents'
 * texts when the caller passes them (`reanalyze`): the merged segment then stores positions for all, else for none.
 */
import { residualBytes } from '../rank/dense-residual.ts';
import type { AnalyzerOptions } from '../rank/analyzer.ts';
import { analyzeTermPositions } from '../rank/term-stats.ts';
import { concatBm25Blocks } from './bm25-concat.ts';
import { bm25ListBound, decodeBm25Into, forEachBm25Positions, forEachBm25Term, MAX_STORED_TF, positionCount, type TermPositions } from './bm25-postings.ts';
import { encodeSparse, forEachSparseEntry, forEachSparseList } from './sparse-postings.ts';
import { quantizeUint8 } from './quantize.ts';
import { buildSegment, type PreparedDoc, type PreparedRow, sortByToken } from './segment-builder.ts';
import type { Bm25Block, ColbertBits, SegmentRecord, SparseBlock } from './types.ts';

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
          const rb = residualBytes(dims);
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

/**
 * Tiered merging's fast path (index-writer.ts merge): neighbouring segments concatenated whole, every row kept
 * (dead ones too), without going through per-document terms and rows: dense codes, ids, keys and metadata are
 * copied, sparse entries re-laid out by token (weights copied where the parts share one scale, else re-quantised
 * to the largest), BM25 postings carried term by term with their positions. Null where it does not apply
 * (ColBERT vectors, a block some parts lack, BM25 blocks with and without positions): mergeSegments then.
 */
export function concatSegments(seq: number, parts: SegmentRecord[], dims: number): SegmentRecord | null {
  const all = (has: (s: SegmentRecord) => boolean) => parts.every(has) || !parts.some(has);
  if (!parts.length || parts.some((p) => p.colbert) || !all((p) => !!p.dense) || !all((p) => !!p.sparse) || !all((p) => !!p.bm25)) return null;
  if (!all((p) => !!p.bm25?.positions)) return null;
  const docBase: number[] = [];
  const rowBase: number[] = [];
  let docs = 0;
  let rows = 0;
  for (const p of parts) {
    docBase.push(docs);
    rowBase.push(rows);
    docs += p.keys.length;
    rows += p.rowDoc.length;
  }
  const keys = new Uint32Array(docs);
  const rowDoc = new Uint32Array(rows);
  const chunked = parts.some((p) => p.rowSpans.length);
  const rowSpans = new Uint32Array(chunked ? rows * 2 : 0);
  const ids: string[] = [];
  const metadata: (Record<string, unknown> | null)[] = [];
  parts.forEach((p, j) => {
    keys.set(p.keys, docBase[j]);
    for (let r = 0; r < p.rowDoc.length; r++) rowDoc[rowBase[j] + r] = p.rowDoc[r] + docBase[j];
    if (p.rowSpans.length) rowSpans.set(p.rowSpans, rowBase[j] * 2);
    for (const id of p.ids) ids.push(id);
    for (const m of p.metadata) metadata.push(m);
  });
  let dense: SegmentRecord['dense'] = null;
  if (parts[0].dense) {
    const codes = new Int8Array(rows * dims);
    const scales = new Float32Array(rows);
    // Residuals (denseRefine) carried where a part has them; a part without reads as its int8 codes (zeros).
    const rb = residualBytes(dims);
    const residual = parts.some((p) => p.dense!.residual) ? new Uint8Array(rows * rb) : null;
    parts.forEach((p, j) => {
      codes.set(p.dense!.codes, rowBase[j] * dims);
      scales.set(p.dense!.scales, rowBase[j]);
      if (residual && p.dense!.residual) residual.set(p.dense!.residual, rowBase[j] * rb);
    });
    dense = residual ? { dims, codes, scales, residual } : { dims, codes, scales };
  }
  return {
    seq,
    keys,
    ids,
    metadata,
    rowDoc,
    rowSpans,
    dense,
    sparse: parts[0].sparse ? concatSparse(parts, rowBase) : null,
    colbert: null,
    bm25: parts[0].bm25 ? concatBm25(parts, docBase, docs) : null,
  };
}

function concatSparse(parts: SegmentRecord[], rowBase: number[]): SparseBlock {
  let total = 0;
  let scale = 0;
  for (const p of parts) {
    total += p.sparse!.entries;
    if (p.sparse!.entries && p.sparse!.scale > scale) scale = p.sparse!.scale;
  }
  if (!total) return { ...parts[0].sparse!, scale: 1 };
  const tok = new Uint32Array(total);
  const row = new Uint32Array(total);
  const q = new Uint8Array(total);
  let e = 0;
  parts.forEach((p, j) => {
    const s = p.sparse!;
    const base = rowBase[j];
    const same = s.scale === scale;
    forEachSparseList(s, (token, start, end) =>
      forEachSparseEntry(s, start, end, (r, w) => {
        tok[e] = token;
        row[e] = base + r;
        q[e++] = same ? w : quantizeUint8(w * s.scale, scale);
      }),
    );
  });
  // Parts in row order, so a stable sort by token leaves each token's rows ascending.
  const order = sortByToken(tok, e);
  let distinct = 0;
  for (let i = 0; i < e; i++) if (i === 0 || tok[order[i]] !== tok[order[i - 1]]) distinct++;
  const tokens = new Uint32Array(distinct);
  const offsets = new Uint32Array(distinct + 1);
  const rowsOut = new Uint32Array(e);
  const weights = new Uint8Array(e);
  let t = -1;
  for (let i = 0; i < e; i++) {
    const k = order[i];
    if (i === 0 || tok[k] !== tok[order[i - 1]]) (tokens[++t] = tok[k]), (offsets[t] = i);
    rowsOut[i] = row[k];
    weights[i] = q[k];
  }
  offsets[distinct] = e;
  return encodeSparse(tokens, offsets, rowsOut, weights, scale);
}

function concatBm25(parts: SegmentRecord[], docBase: number[], docs: number): Bm25Block {
  const lengths = new Uint32Array(docs);
  parts.forEach((p, j) => lengths.set(p.bm25!.lengths, docBase[j]));
  return concatBm25Blocks(
    parts.map((p) => p.bm25!),
    docBase,
    lengths,
  );
}
