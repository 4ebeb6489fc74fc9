/**
 * Structural checks of a decoded segment: every length and index agrees with the others, so a damaged or
 * forged segment is refused on open or import instead of giving wrong scores (or a RangeError) later.
 * O(entries) over offsets and indexes; vector bytes themselves are covered by checksums, not here.
 */
import { crc32 } from '../util/crc32.ts';
import type { SegmentRecord } from './types.ts';

/** Returns why `seg` is inconsistent, or null when it is whole. `dims`: the index's, when known. */
export function segmentProblem(seg: SegmentRecord, dims?: number): string | null {
  const n = seg.keys?.length;
  if (!(seg.keys instanceof Uint32Array) || !Array.isArray(seg.ids) || !Array.isArray(seg.metadata)) return 'keys, ids or metadata missing';
  if (!Number.isSafeInteger(seg.seq) || seg.seq < 0) return `bad sequence number ${seg.seq}`;
  if (seg.ids.length !== n || seg.metadata.length !== n) return `${n} keys but ${seg.ids.length} ids and ${seg.metadata.length} metadata entries`;
  const seenKeys = new Set<number>();
  const seenIds = new Set<string>();
  for (let i = 0; i < n; i++) {
    const id = seg.ids[i];
    if (typeof id !== 'string' || id === '') return `document ${i} has no id`;
    if (seenKeys.has(seg.keys[i])) return `key ${seg.keys[i]} appears twice`;
    if (seenIds.has(id)) return `id ${JSON.stringify(id)} appears twice`;
    seenKeys.add(seg.keys[i]);
    seenIds.add(id);
    const m = seg.metadata[i];
    if (m !== null && (typeof m !== 'object' || Array.isArray(m))) return `metadata of ${JSON.stringify(id)} is not an object`;
  }
  const rows = seg.rowDoc?.length;
  if (!(seg.rowDoc instanceof Uint32Array) || !(seg.rowSpans instanceof Uint32Array)) return 'row tables missing';
  if ((n > 0 && (rows < n || seg.rowDoc[rows - 1] !== n - 1)) || (n === 0 && rows > 0)) return `${rows} vector rows do not cover ${n} documents`;
  for (let r = 0; r < rows; r++) {
    const d = seg.rowDoc[r];
    if (d >= n || (r > 0 && d < seg.rowDoc[r - 1]) || (r > 0 && d > seg.rowDoc[r - 1] + 1) || (r === 0 && d !== 0)) return `row ${r} belongs to document ${d}: rows must cover documents in order`;
  }
  if (seg.rowSpans.length !== 0 && seg.rowSpans.length !== 2 * rows) return `${seg.rowSpans.length} span entries for ${rows} rows`;
  if (seg.dense) {
    const { dims: dd, codes, scales } = seg.dense;
    if (!Number.isInteger(dd) || dd <= 0 || (dims !== undefined && dd !== dims)) return `dense vectors of ${dd} dims${dims !== undefined ? ` in a ${dims}-dim index` : ''}`;
    if (!(codes instanceof Int8Array) || codes.length !== rows * dd) return `dense block holds ${codes?.length} codes, ${rows} rows × ${dd} dims need ${rows * dd}`;
    if (!(scales instanceof Float32Array) || scales.length !== rows) return `dense block holds ${scales?.length} scales for ${rows} rows`;
    for (let r = 0; r < rows; r++) if (!Number.isFinite(scales[r])) return `dense scale of row ${r} is not a finite number`;
  }
  if (seg.sparse) {
    const { tokens, offsets, rows: srows, weights, scale } = seg.sparse;
    const bad = csrProblem('sparse', tokens?.length, offsets, srows?.length);
    if (bad) return bad;
    if (weights?.length !== srows.length) return `sparse block has ${srows.length} entries but ${weights?.length} weights`;
    if (!Number.isFinite(scale) || scale < 0) return `sparse scale ${scale} is not a finite number ≥ 0`;
    for (let t = 1; t < tokens.length; t++) if (tokens[t] <= tokens[t - 1]) return 'sparse token ids are not strictly ascending';
    for (let e = 0; e < srows.length; e++) if (srows[e] >= rows) return `sparse entry ${e} names row ${srows[e]} of ${rows}`;
  }
  if (seg.colbert) {
    const { dims: cd, rowOffsets, codes, scales } = seg.colbert;
    if (!Number.isInteger(cd) || cd <= 0) return `ColBERT vectors of ${cd} dims`;
    const bad = csrProblem('ColBERT', rows, rowOffsets, scales?.length);
    if (bad) return bad;
    if (codes?.length !== scales.length * cd) return `ColBERT block holds ${codes?.length} codes, ${scales.length} vectors × ${cd} dims need ${scales.length * cd}`;
  }
  if (seg.bm25) {
    const { terms, offsets, docs, tfs, lengths } = seg.bm25;
    if (!Array.isArray(terms) || terms.some((t) => typeof t !== 'string')) return 'BM25 terms are not strings';
    const bad = csrProblem('BM25', terms.length, offsets, docs?.length);
    if (bad) return bad;
    if (tfs?.length !== docs.length) return `BM25 block has ${docs.length} postings but ${tfs?.length} term frequencies`;
    if (lengths?.length !== n) return `BM25 block has ${lengths?.length} document lengths for ${n} documents`;
    for (let t = 1; t < terms.length; t++) if (!(terms[t] > terms[t - 1])) return 'BM25 terms are not strictly ascending';
    for (let e = 0; e < docs.length; e++) if (docs[e] >= n) return `BM25 posting ${e} names document ${docs[e]} of ${n}`;
  }
  return null;
}

/** offsets: length groups + 1, from 0, never decreasing, ending at `entries`. */
function csrProblem(what: string, groups: number, offsets: Uint32Array | undefined, entries: number | undefined): string | null {
  if (!(offsets instanceof Uint32Array) || offsets.length !== groups + 1) return `${what} offsets: ${offsets?.length} for ${groups} groups`;
  if (offsets[0] !== 0 || offsets[groups] !== entries) return `${what} offsets run from ${offsets[0]} to ${offsets[groups]}, over ${entries} entries`;
  for (let i = 1; i <= groups; i++) if (offsets[i] < offsets[i - 1]) return `${what} offsets decrease at ${i}`;
  return null;
}

const enc = new TextEncoder();

/**
 * CRC-32 of a segment record's content (IdbStore keeps it in the record and checks it on open; the
 * FileStore's files carry a checksum of their bytes instead). Typed arrays in a fixed order, then the
 * JSON of the rest.
 */
export function segmentChecksum(seg: SegmentRecord): number {
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let c = 0;
  for (const a of [seg.keys, seg.rowDoc, seg.rowSpans]) c = crc32(bytes(a), c);
  if (seg.dense) c = crc32(bytes(seg.dense.scales), crc32(bytes(seg.dense.codes), c));
  if (seg.sparse) for (const a of [seg.sparse.tokens, seg.sparse.offsets, seg.sparse.rows, seg.sparse.weights]) c = crc32(bytes(a), c);
  if (seg.colbert) for (const a of [seg.colbert.rowOffsets, seg.colbert.codes, seg.colbert.scales]) c = crc32(bytes(a), c);
  if (seg.bm25) for (const a of [seg.bm25.offsets, seg.bm25.docs, seg.bm25.tfs, seg.bm25.lengths]) c = crc32(bytes(a), c);
  const rest = [seg.seq, seg.ids, seg.metadata, seg.dense?.dims ?? null, seg.sparse?.scale ?? null, seg.colbert?.dims ?? null, seg.bm25?.terms ?? null];
  return crc32(enc.encode(JSON.stringify(rest)), c);
}
