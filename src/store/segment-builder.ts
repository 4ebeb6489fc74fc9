/**
 * Turns one batch of prepared rows into an immutable SegmentRecord (typed arrays only).
 */
import { quantizeInt8Into } from '../rank/dense-scan.ts';
import { encodeResidualInto, residualBytes } from '../rank/dense-residual.ts';
import { bm25BlockBytes, encodeBm25, MAX_STORED_TF, positionCount, type TermPositions } from './bm25-postings.ts';
import { encodeSparse } from './sparse-postings.ts';
import { colbertArrays, decodeColbertVector, encodeBitsVector } from './colbert-bits.ts';
import { quantizeInt8Rows, quantizeUint8, uint8Scale } from './quantize.ts';
import type { Bm25Block, ColbertBits, ColbertBitsBlock, ColbertBlock, ColbertInt8Block, DenseBlock, SegmentRecord, SparseBlock } from './types.ts';
import type { SparseWeights } from '../encoder/types.ts';

/** One vector row (a whole document, or one passage of a chunked document). */
export interface PreparedRow {
  dense?: Float32Array;
  /** Already-quantised dense row (compaction copies codes instead of re-quantising). */
  denseQ?: { codes: Int8Array; scale: number; residual?: Uint8Array };
  sparse?: SparseWeights;
  colbert?: Float32Array;
  colbertQ?: { codes: Int8Array; scales: Float32Array };
  /** Already-coded bit-plane vectors (compaction): planes as stored, a step per vector. */
  colbertB?: { bits: 1 | 2 | 4; planes: Uint8Array; steps: Float32Array };
  span?: [number, number];
}

export interface PreparedDoc {
  key: number;
  id: string;
  metadata: Record<string, unknown> | null;
  rows: PreparedRow[];
  /**
   * Analysed BM25 terms and the document length in terms: each term's positions (analyzeTermPositions; its
   * frequency is their count), or, where they are not known (a schema 4 segment merged), its frequency.
   */
  bm25?: { length: number; positions?: Map<string, TermPositions>; tf?: Map<string, number> };
}

export interface BuildOptions {
  dims: number;
  colbert: boolean;
  /** How ColBERT vectors are coded (colbert-bits.ts); default 8 (int8). */
  colbertBits?: ColbertBits;
  /** Store each dense row's 4-bit residual (OpenOptions.denseRefine); copied rows keep theirs either way. */
  denseRefine?: boolean;
}

export function buildSegment(seq: number, docs: PreparedDoc[], opts: BuildOptions): SegmentRecord {
  const nDocs = docs.length;
  let nRows = 0;
  for (const d of docs) nRows += d.rows.length;
  const keys = new Uint32Array(nDocs);
  const ids: string[] = new Array(nDocs);
  const metadata: (Record<string, unknown> | null)[] = new Array(nDocs);
  const rowDoc = new Uint32Array(nRows);
  const chunked = docs.some((d) => d.rows.length > 1 || d.rows[0]?.span);
  const rowSpans = new Uint32Array(chunked ? nRows * 2 : 0);
  const rows: PreparedRow[] = new Array(nRows);
  let r = 0;
  for (let i = 0; i < nDocs; i++) {
    const d = docs[i];
    keys[i] = d.key;
    ids[i] = d.id;
    metadata[i] = d.metadata;
    for (const row of d.rows) {
      rowDoc[r] = i;
      if (chunked && row.span) {
        rowSpans[2 * r] = row.span[0];
        rowSpans[2 * r + 1] = row.span[1];
      }
      rows[r++] = row;
    }
  }
  return {
    seq,
    keys,
    ids,
    metadata,
    rowDoc,
    rowSpans,
    dense: buildDense(rows, opts.dims, opts.denseRefine ?? false),
    sparse: buildSparse(rows),
    colbert: opts.colbert ? buildColbert(rows, opts.dims, opts.colbertBits ?? 8) : null,
    bm25: buildBm25(docs),
  };
}

function buildDense(rows: PreparedRow[], dims: number, refine: boolean): DenseBlock | null {
  if (!rows.some((r) => r.dense || r.denseQ)) return null;
  const codes = new Int8Array(rows.length * dims);
  const scales = new Float32Array(rows.length);
  const vecs: (Float32Array | undefined)[] = new Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const q = rows[r].denseQ;
    if (q) {
      codes.set(q.codes, r * dims);
      scales[r] = q.scale;
      continue;
    }
    const v = rows[r].dense; // none: a zero row, scores 0, never wins over a real match
    if (v && v.length !== dims) throw new Error(`dense vector has ${v.length} dims, the index has ${dims}`);
    vecs[r] = v;
  }
  quantizeInt8Rows(vecs, dims, codes, scales);
  if (!refine && !rows.some((r) => r.denseQ?.residual)) return { dims, codes, scales };
  // Residuals: computed for new rows, copied for compacted ones; a row with neither (a copied row from a
  // segment without residuals, or no vector) reads as its int8 code.
  const rb = residualBytes(dims);
  const residual = new Uint8Array(rows.length * rb);
  for (let r = 0; r < rows.length; r++) {
    const q = rows[r].denseQ;
    if (q?.residual) residual.set(q.residual, r * rb);
    else if (vecs[r]) encodeResidualInto(vecs[r]!, codes, r * dims, scales[r], dims, residual, r * rb);
  }
  return { dims, codes, scales, residual };
}

export function buildSparse(rows: PreparedRow[]): SparseBlock | null {
  let total = 0;
  let max = 0;
  for (const row of rows) {
    const s = row.sparse;
    if (!s) continue;
    total += s.ids.length;
    for (let i = 0; i < s.weights.length; i++) if (s.weights[i] > max) max = s.weights[i];
  }
  if (total === 0) return rows.some((r) => r.sparse) ? emptySparse() : null;
  // Counting sort of (token, row) entries by token; rows come out ascending because we scan in row order.
  const entTok = new Uint32Array(total);
  const entRow = new Uint32Array(total);
  const entW = new Float32Array(total);
  let e = 0;
  for (let r = 0; r < rows.length; r++) {
    const s = rows[r].sparse;
    if (!s) continue;
    for (let i = 0; i < s.ids.length; i++) {
      const w = s.weights[i];
      if (!(w > 0)) continue; // M3 keeps weights > 0 only
      entTok[e] = s.ids[i];
      entRow[e] = r;
      entW[e] = w;
      e++;
    }
  }
  if (e >= 1 << 21) throw new Error('a segment holds at most 2,097,151 sparse entries; use smaller batches');
  const sorted = sortByToken(entTok, e);
  let distinct = 0;
  for (let i = 0; i < e; i++) if (i === 0 || entTok[sorted[i]] !== entTok[sorted[i - 1]]) distinct++;
  const tokens = new Uint32Array(distinct);
  const offsets = new Uint32Array(distinct + 1);
  const rowsOut = new Uint32Array(e);
  const weights = new Uint8Array(e);
  const scale = uint8Scale(max);
  let t = -1;
  for (let i = 0; i < e; i++) {
    const j = sorted[i];
    if (i === 0 || entTok[j] !== entTok[sorted[i - 1]]) {
      t++;
      tokens[t] = entTok[j];
      offsets[t] = i;
    }
    rowsOut[i] = entRow[j];
    weights[i] = quantizeUint8(entW[j], scale);
  }
  offsets[distinct] = e;
  return encodeSparse(tokens, offsets, rowsOut, weights, scale);
}

/**
 * Entry indexes 0..e-1 ordered by token, and by index within a token (entries were made in row order, so rows
 * stay ascending). Vocabulary-sized token ids (M3's are < 250,002) take a counting sort: one pass to count, one
 * to place, ~5× faster than sorting; larger ids one native numeric sort over packed keys (token · 2^21 + index).
 */
export function sortByToken(entTok: Uint32Array, e: number): Uint32Array {
  const sorted = new Uint32Array(e);
  let maxTok = 0;
  for (let i = 0; i < e; i++) if (entTok[i] > maxTok) maxTok = entTok[i];
  if (maxTok < COUNTING_SORT_MAX_TOKEN) {
    const next = new Uint32Array(maxTok + 2); // next[t]: where token t's next entry goes
    for (let i = 0; i < e; i++) next[entTok[i] + 1]++;
    for (let t = 1; t <= maxTok + 1; t++) next[t] += next[t - 1];
    for (let i = 0; i < e; i++) sorted[next[entTok[i]]++] = i;
    return sorted;
  }
  const packed = new Float64Array(e);
  for (let i = 0; i < e; i++) packed[i] = entTok[i] * 2097152 + i;
  packed.sort();
  for (let i = 0; i < e; i++) sorted[i] = packed[i] % 2097152;
  return sorted;
}

/** Token ids below this take the counting sort (its table: 4 bytes per id, 4 MB at most). */
const COUNTING_SORT_MAX_TOKEN = 1 << 20;

function emptySparse(): SparseBlock {
  return { groupTokens: new Uint32Array(0), groupOffsets: new Uint32Array(1), postings: new Uint8Array(0), tokens: 0, entries: 0, scale: 1 };
}

function buildColbert(rows: PreparedRow[], dims: number, bits: ColbertBits): ColbertBlock | null {
  if (!rows.some((r) => r.colbert || r.colbertQ || r.colbertB)) return null;
  const rowOffsets = new Uint32Array(rows.length + 1);
  let vecs = 0;
  for (let r = 0; r < rows.length; r++) {
    const { colbert: c, colbertQ, colbertB } = rows[r];
    if (c && c.length % dims !== 0) throw new Error(`colbert matrix length ${c.length} is not a multiple of ${dims}`);
    rowOffsets[r] = vecs;
    vecs += c ? c.length / dims : (colbertQ?.scales.length ?? colbertB?.steps.length ?? 0);
  }
  rowOffsets[rows.length] = vecs;
  return bits === 8 ? buildInt8(rows, dims, rowOffsets, vecs) : buildBits(rows, dims, bits, rowOffsets, vecs);
}

/** A row's vectors as floats (compaction into another codec decodes what the old segment stored). */
function colbertFloats(row: PreparedRow, dims: number): Float32Array | undefined {
  if (row.colbert) return row.colbert;
  const q = row.colbertQ;
  if (q) {
    const block: ColbertInt8Block = { dims, rowOffsets: Uint32Array.of(0, q.scales.length), codes: q.codes, scales: q.scales };
    return decodeAll(block, q.scales.length, dims);
  }
  const b = row.colbertB;
  if (b) {
    const block: ColbertBitsBlock = { codec: 'bits', dims, bits: b.bits, rowOffsets: Uint32Array.of(0, b.steps.length), planes: b.planes, steps: b.steps };
    return decodeAll(b.bits === 1 ? { ...block, steps: b.steps.subarray(0, 1) } : block, b.steps.length, dims);
  }
  return undefined;
}

function decodeAll(block: ColbertBlock, n: number, dims: number): Float32Array {
  const out = new Float32Array(n * dims);
  for (let j = 0; j < n; j++) decodeColbertVector(block, j, out, j * dims);
  return out;
}

function buildInt8(rows: PreparedRow[], dims: number, rowOffsets: Uint32Array, vecs: number): ColbertInt8Block {
  const codes = new Int8Array(vecs * dims);
  const scales = new Float32Array(vecs);
  fillColbert(
    rows,
    dims,
    rowOffsets,
    (row, at) => {
      const q = row.colbertQ;
      if (!q) return false;
      codes.set(q.codes, at * dims);
      scales.set(q.scales, at);
      return true;
    },
    (c, from, v) => {
      scales[v] = quantizeInt8Into(c, from, dims, codes, v * dims);
    },
  );
  return { dims, rowOffsets, codes, scales };
}

/**
 * Each row's ColBERT vectors into a block: `reuse` copies a row that arrived coded this way (returns false
 * when it did not), else `encode` codes the row's float vectors one by one (floats from `from`, vector index v).
 */
function fillColbert(
  rows: PreparedRow[],
  dims: number,
  rowOffsets: Uint32Array,
  reuse: (row: PreparedRow, at: number) => boolean,
  encode: (c: Float32Array, from: number, v: number) => void,
): void {
  for (let r = 0; r < rows.length; r++) {
    if (reuse(rows[r], rowOffsets[r])) continue;
    const c = colbertFloats(rows[r], dims);
    if (!c) continue;
    const n = c.length / dims;
    for (let j = 0; j < n; j++) encode(c, j * dims, rowOffsets[r] + j);
  }
}

function buildBits(rows: PreparedRow[], dims: number, bits: 1 | 2 | 4, rowOffsets: Uint32Array, vecs: number): ColbertBitsBlock {
  if (dims % 8 !== 0) throw new Error(`ColBERT vectors of ${dims} dims cannot be bit-coded (dims must be a multiple of 8); use colbertBits: 8`);
  const stride = (bits * dims) / 8;
  const planes = new Uint8Array(vecs * stride);
  const steps = new Float32Array(vecs);
  fillColbert(
    rows,
    dims,
    rowOffsets,
    (row, at) => {
      const b = row.colbertB;
      if (!b || b.bits !== bits) return false;
      planes.set(b.planes, at * stride);
      steps.set(b.steps, at);
      return true;
    },
    (c, from, v) => {
      steps[v] = encodeBitsVector(c, from, dims, bits, planes, v * stride);
    },
  );
  if (bits !== 1) return { codec: 'bits', dims, bits, rowOffsets, planes, steps };
  // One step for the block: the mean of its vectors' (zero vectors have none).
  let sum = 0;
  let count = 0;
  for (const s of steps) if (s > 0) (sum += s), count++;
  return { codec: 'bits', dims, bits, rowOffsets, planes, steps: Float32Array.of(count ? sum / count : 0) };
}

export function buildBm25(docs: PreparedDoc[]): Bm25Block | null {
  if (!docs.some((d) => d.bm25)) return null;
  // Positions are stored when every document brings them (a merge of schema 4 segments may not).
  const withPositions = docs.every((d) => !d.bm25 || d.bm25.positions);
  const byTerm = new Map<string, number[]>(); // term → [doc, tf, doc, tf, …], docs ascending
  const posOf = new Map<string, TermPositions[]>(); // term → positions per posting
  const lengths = new Uint32Array(docs.length);
  let entries = 0;
  const add = (term: string, i: number, tf: number, positions?: TermPositions) => {
    let list = byTerm.get(term);
    if (!list) {
      byTerm.set(term, (list = []));
      if (withPositions) posOf.set(term, []);
    }
    list.push(i, tf);
    if (positions !== undefined) posOf.get(term)!.push(positions);
    entries++;
  };
  for (let i = 0; i < docs.length; i++) {
    const b = docs[i].bm25;
    if (!b) continue;
    lengths[i] = b.length;
    if (withPositions) for (const [term, p] of b.positions!) add(term, i, positionCount(p), p);
    else if (b.tf) for (const [term, tf] of b.tf) add(term, i, tf);
    else for (const [term, p] of b.positions!) add(term, i, positionCount(p));
  }
  const terms = [...byTerm.keys()].sort();
  const offsets = new Uint32Array(terms.length + 1);
  const docsOut = new Uint32Array(entries);
  const tfs = new Uint32Array(entries);
  const positions: TermPositions[] = withPositions ? new Array(entries) : [];
  let e = 0;
  for (let t = 0; t < terms.length; t++) {
    offsets[t] = e;
    const list = byTerm.get(terms[t])!;
    const pos = posOf.get(terms[t]);
    for (let i = 0; i < list.length; i += 2) {
      docsOut[e] = list[i];
      tfs[e] = Math.min(list[i + 1], MAX_STORED_TF);
      if (pos) positions[e] = pos[i / 2];
      e++;
    }
  }
  offsets[terms.length] = e;
  return encodeBm25(terms, offsets, docsOut, tfs, lengths, withPositions ? positions : undefined);
}

/** Rough byte size of a segment's typed arrays and strings (quota reports, bench). */
export function segmentBytes(s: SegmentRecord): number {
  let b = s.keys.byteLength + s.rowDoc.byteLength + s.rowSpans.byteLength;
  for (const id of s.ids) b += id.length * 2;
  for (const m of s.metadata) if (m) b += JSON.stringify(m).length;
  if (s.dense) b += s.dense.codes.byteLength + s.dense.scales.byteLength + (s.dense.residual?.byteLength ?? 0);
  if (s.sparse) b += s.sparse.groupTokens.byteLength + s.sparse.groupOffsets.byteLength + s.sparse.postings.byteLength;
  if (s.colbert) for (const [, a] of colbertArrays(s.colbert)) b += a.byteLength;
  if (s.bm25) b += bm25BlockBytes(s.bm25);
  return b;
}
