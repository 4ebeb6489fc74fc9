/**
 * Structural checks of a decoded segment: every length and index agrees with the others, so a damaged or
 * forged segment is refused on open or import instead of giving wrong scores (or a RangeError) later.
 * O(entries) over offsets and indexes; vector bytes themselves are covered by checksums, not here.
 */
import { residualBytes } from '../rank/dense-residual.ts';
import { crc32 } from '../util/crc32.ts';
import { crc32Fast } from './crc32-wasm.ts';
import { bm25RunCheck } from './bm25-postings.ts';
import { bm25DictDirectoryProblem, bm25DictGroupProblem } from './bm25-terms.ts';
import type { LegacyBm25Block, LegacySegment, LegacySparseBlock } from './legacy-postings.ts';
import { sparseCountsProblem, sparseDirectoryProblem, sparseGroupProblem } from './sparse-postings.ts';
import { colbertArrays } from './colbert-bits.ts';
import type { ColbertBlock, DocRecord, MetaRecord, SegmentRecord } from './types.ts';

/**
 * What segmentProblem does with a block's posting-list checks: its `groups` group checks (`group(g)`: why group g is
 * bad, or null), then `whole()`. Returns a problem found now, or null (passed, or left for later: posting-checks.ts).
 */
export type DeferChecks = (block: object, groups: number, group: (g: number) => string | null, whole: () => string | null) => string | null;

/** Every group now (imports, FileStore, compaction: whole-index readers check everything before using any). */
const checkNow: DeferChecks = (_block, groups, group, whole) => {
  for (let g = 0; g < groups; g++) {
    const p = group(g);
    if (p) return p;
  }
  return whole();
};

/**
 * Returns why `seg` is inconsistent, or null when it is whole. `dims`: the index's, when known. With `defer`, the
 * sparse and (schema 6) BM25 posting lists are only checked as far as their directories, and their groups handed
 * to `defer`: what a cold open does.
 */
export function segmentProblem(seg: SegmentRecord, dims?: number, defer = checkNow): string | null {
  const n = seg.keys?.length;
  if (!(seg.keys instanceof Uint32Array) || !Array.isArray(seg.ids) || !Array.isArray(seg.metadata)) return 'keys, ids or metadata missing';
  if (!Number.isSafeInteger(seg.seq) || seg.seq < 0) return `bad sequence number ${seg.seq}`;
  if (seg.ids.length !== n || seg.metadata.length !== n) return `${n} keys but ${seg.ids.length} ids and ${seg.metadata.length} metadata entries`;
  // Keys come ascending from ingest and compaction: then none repeats, and no set of them is needed (an open
  // checks every stored document).
  let ascending = true;
  for (let i = 1; i < n && ascending; i++) ascending = seg.keys[i] > seg.keys[i - 1];
  const seenKeys = ascending ? null : new Set<number>();
  const seenIds = new Set<string>();
  for (let i = 0; i < n; i++) {
    const id = seg.ids[i];
    if (typeof id !== 'string' || id === '') return `document ${i} has no id`;
    if (seenKeys?.has(seg.keys[i])) return `key ${seg.keys[i]} appears twice`;
    if (seenIds.has(id)) return `id ${JSON.stringify(id)} appears twice`;
    seenKeys?.add(seg.keys[i]);
    seenIds.add(id);
    const m = seg.metadata[i];
    if (m !== null && (typeof m !== 'object' || Array.isArray(m))) return `metadata of ${JSON.stringify(id)} is not an object`;
  }
  const rows = seg.rowDoc?.length;
  if (!(seg.rowDoc instanceof Uint32Array) || !(seg.rowSpans instanceof Uint32Array)) return 'row tables missing';
  if ((n > 0 && (rows < n || seg.rowDoc[rows - 1] !== n - 1)) || (n === 0 && rows > 0)) return `${rows} vector rows do not cover ${n} documents`;
  for (let r = 0; r < rows; r++) {
    const d = seg.rowDoc[r];
    if (d >= n || (r > 0 && d < seg.rowDoc[r - 1]) || (r > 0 && d > seg.rowDoc[r - 1] + 1) || (r === 0 && d !== 0))
      return `row ${r} belongs to document ${d}: rows must cover documents in order`;
  }
  if (seg.rowSpans.length !== 0 && seg.rowSpans.length !== 2 * rows) return `${seg.rowSpans.length} span entries for ${rows} rows`;
  if (seg.dense) {
    const { dims: dd, codes, scales } = seg.dense;
    if (!Number.isInteger(dd) || dd <= 0 || (dims !== undefined && dd !== dims))
      return `dense vectors of ${dd} dims${dims !== undefined ? ` in a ${dims}-dim index` : ''}`;
    if (!(codes instanceof Int8Array) || codes.length !== rows * dd)
      return `dense block holds ${codes?.length} codes, ${rows} rows × ${dd} dims need ${rows * dd}`;
    if (!(scales instanceof Float32Array) || scales.length !== rows) return `dense block holds ${scales?.length} scales for ${rows} rows`;
    for (let r = 0; r < rows; r++) if (!Number.isFinite(scales[r])) return `dense scale of row ${r} is not a finite number`;
    const res = seg.dense.residual;
    if (res !== undefined && (!(res instanceof Uint8Array) || res.length !== rows * residualBytes(dd)))
      return `dense block holds ${res?.length} residual bytes, ${rows} rows × ${dd} dims need ${rows * residualBytes(dd)}`;
  }
  if (seg.sparse) {
    const { groupTokens, groupOffsets, postings, scale, tokens, entries } = seg.sparse;
    if (
      !(groupTokens instanceof Uint32Array) ||
      !(groupOffsets instanceof Uint32Array) ||
      !(postings instanceof Uint8Array) ||
      !Number.isSafeInteger(tokens) ||
      !Number.isSafeInteger(entries)
    ) {
      return 'sparse block is not in the schema 4 layout';
    }
    if (!Number.isFinite(scale) || scale < 0) return `sparse scale ${scale} is not a finite number ≥ 0`;
    const sp = seg.sparse;
    const p = sparseDirectoryProblem(sp);
    if (p) return p;
    const counts = { tokens: 0, entries: 0 };
    const q = defer(
      sp,
      groupTokens.length,
      (g) => sparseGroupProblem(sp, g, rows, counts),
      () => sparseCountsProblem(sp, counts),
    );
    if (q) return q;
  }
  if (seg.colbert) {
    const p = colbertProblem(seg.colbert, rows);
    if (p) return p;
  }
  if (seg.bm25) {
    const b = seg.bm25;
    if (!(b.postings instanceof Uint8Array)) return 'BM25 block is not in the schema 4 layout';
    if (!(b.lengths instanceof Uint32Array) || b.lengths.length !== n) return `BM25 block has ${b.lengths?.length} document lengths for ${n} documents`;
    if (b.dict !== undefined || b.terms === undefined) {
      // Schema 6: the dictionary's terms, order and runs are checked along the postings.
      if (!(b.dict instanceof Uint8Array) || !(b.dictIndex instanceof Uint32Array)) return 'BM25 block is not in the schema 6 layout';
    } else {
      const { terms, offsets } = b;
      if (!Array.isArray(terms) || terms.some((t) => typeof t !== 'string')) return 'BM25 terms are not strings';
      const bad = csrProblem('BM25', terms.length, offsets, b.postings.length);
      if (bad) return bad;
      for (let t = 1; t < terms.length; t++) if (!(terms[t] > terms[t - 1])) return 'BM25 terms are not strictly ascending';
    }
    if (b.positions !== undefined && b.positions !== true) return 'BM25 block: positions must be true or absent';
    const run = bm25RunCheck(b, n);
    if (b.dict) {
      const p =
        bm25DictDirectoryProblem(b) ??
        defer(
          b,
          b.dictIndex.length / 2,
          (g) => bm25DictGroupProblem(b, g, run),
          () => null,
        );
      if (p) return p;
    } else
      for (let t = 0; t < b.terms.length; t++) {
        const p = run(t, b.offsets[t], b.offsets[t + 1], false);
        if (p) return p;
      }
  }
  return null;
}

/** A ColBERT block of either codec against the segment's `rows` vector rows. */
function colbertProblem(c: ColbertBlock, rows: number): string | null {
  const cd = c.dims;
  if (!Number.isInteger(cd) || cd <= 0) return `ColBERT vectors of ${cd} dims`;
  if (c.codec === undefined) {
    const { rowOffsets, codes, scales } = c;
    const bad = csrProblem('ColBERT', rows, rowOffsets, scales?.length);
    if (bad) return bad;
    if (!(codes instanceof Int8Array) || codes.length !== scales.length * cd)
      return `ColBERT block holds ${codes?.length} codes, ${scales.length} vectors × ${cd} dims need ${scales.length * cd}`;
    return null;
  }
  if (c.codec !== 'bits') return `ColBERT block codec ${JSON.stringify((c as { codec: unknown }).codec)} is not one this version of m3-search reads`;
  const { bits, rowOffsets, planes, steps } = c;
  if (bits !== 1 && bits !== 2 && bits !== 4) return `ColBERT block of ${bits} bits per dimension (1, 2 or 4)`;
  if (cd % 8 !== 0) return `bit-coded ColBERT vectors of ${cd} dims (a multiple of 8)`;
  const vectors = rowOffsets instanceof Uint32Array ? rowOffsets[rows] : undefined;
  const bad = csrProblem('ColBERT', rows, rowOffsets, vectors);
  if (bad) return bad;
  const n = vectors!;
  if (!(planes instanceof Uint8Array) || planes.length !== (n * bits * cd) / 8)
    return `ColBERT block holds ${planes?.length} plane bytes, ${n} vectors × ${bits} bits × ${cd} dims need ${(n * bits * cd) / 8}`;
  const want = bits === 1 ? 1 : n;
  if (!(steps instanceof Float32Array) || steps.length !== want) return `ColBERT block holds ${steps?.length} steps, ${want} needed`;
  for (let j = 0; j < steps.length; j++) if (!(steps[j] >= 0 && steps[j] < Infinity)) return `ColBERT step ${j} is not a finite number ≥ 0`;
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
  for (const a of [seg.keys, seg.rowDoc, seg.rowSpans]) c = crc32Fast(bytes(a), c);
  if (seg.dense) c = crc32Fast(bytes(seg.dense.scales), crc32Fast(bytes(seg.dense.codes), c));
  if (seg.dense?.residual) c = crc32Fast(bytes(seg.dense.residual), c); // denseRefine; other records' checksums stay as they were
  if (seg.sparse) for (const a of [seg.sparse.groupTokens, seg.sparse.groupOffsets, seg.sparse.postings]) c = crc32Fast(bytes(a), c);
  if (seg.colbert) for (const [, a] of colbertArrays(seg.colbert)) c = crc32Fast(bytes(a), c);
  const bm = seg.bm25;
  if (bm) for (const a of bm.dict ? [bm.dict, bm.dictIndex, bm.postings, bm.lengths] : [bm.offsets, bm.postings, bm.lengths]) c = crc32Fast(bytes(a), c);
  const rest: unknown[] = [
    seg.seq,
    seg.ids,
    seg.metadata,
    seg.dense?.dims ?? null,
    seg.sparse?.scale ?? null,
    seg.sparse?.tokens ?? null,
    seg.sparse?.entries ?? null,
    seg.colbert?.dims ?? null,
    bm?.dict ? bm.termCount : (bm?.terms ?? null), // schema 6: the count; older records' checksums stay as they were
  ];
  if (seg.bm25?.positions !== undefined) rest.push(seg.bm25.positions); // schema 5; older records' checksums stay as they were
  if (seg.sparse?.singles !== undefined) rest.push(['sparse', seg.sparse.singles]); // schema 6
  if (seg.colbert?.codec === 'bits') rest.push(['colbert', seg.colbert.codec, seg.colbert.bits]); // int8 blocks: as schema 4 sealed them
  return crc32Fast(enc.encode(JSON.stringify(rest)), c);
}

/** The checksum schema 3 sealed its segment records with (postings as parallel arrays); migrations check it. */
export function legacySegmentChecksum(seg: LegacySegment): number {
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const sp = seg.sparse as LegacySparseBlock | null;
  const bm = seg.bm25 as LegacyBm25Block | null;
  let c = 0;
  for (const a of [seg.keys, seg.rowDoc, seg.rowSpans]) c = crc32(bytes(a), c);
  if (seg.dense) c = crc32(bytes(seg.dense.scales), crc32(bytes(seg.dense.codes), c));
  if (sp) for (const a of [sp.tokens, sp.offsets, sp.rows, sp.weights]) c = crc32(bytes(a), c);
  if (seg.colbert) for (const [, a] of colbertArrays(seg.colbert)) c = crc32(bytes(a), c); // int8 only before schema 5
  if (bm) for (const a of [bm.offsets, bm.docs, bm.tfs, bm.lengths]) c = crc32(bytes(a), c);
  const rest = [seg.seq, seg.ids, seg.metadata, seg.dense?.dims ?? null, sp?.scale ?? null, seg.colbert?.dims ?? null, bm?.terms ?? null];
  return crc32(enc.encode(JSON.stringify(rest)), c);
}

/** What a MetaRecord must hold to be used (meta.json and imported headers are read from outside: anything can be there). */
export function metaProblem(m: unknown): string | null {
  if (!m || typeof m !== 'object') return 'not an object';
  const r = m as Record<string, unknown>;
  const ints = (a: unknown) => Array.isArray(a) && a.every((x) => Number.isSafeInteger(x) && x >= 0);
  if (!Number.isInteger(r.schemaVersion)) return 'no schemaVersion';
  if (typeof r.modelId !== 'string' || !Number.isInteger(r.dims) || (r.dims as number) < 0) return 'no model identity';
  if (!ints(r.segments) || !ints(r.tombstones)) return 'segments or tombstones are not lists of numbers';
  if (![r.nextKey, r.nextSeq, r.docCount].every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) return 'bad counters';
  if (r.denseRefine !== undefined && r.denseRefine !== true) return 'denseRefine is neither true nor absent';
  return null;
}

/**
 * A whole index from outside (an import, a static package) against its meta: segments as listed, keys
 * unique and below nextKey, live ids unique and as many as docCount, and in each segment a document
 * record for every live row, with that row's id and key (`docs[i]`: the records segment i carries).
 * Returns why not, or null.
 */
export function contentsProblem(meta: MetaRecord, segments: SegmentRecord[], docs: DocRecord[][]): string | null {
  const mp = metaProblem(meta);
  if (mp) return `its index description is malformed (${mp})`;
  if (segments.map((s) => s.seq).join() !== meta.segments.join()) return 'its segments do not match its description';
  const dead = new Set(meta.tombstones);
  const keys = new Set<number>();
  const liveIds = new Set<string>();
  for (let j = 0; j < segments.length; j++) {
    const s = segments[j];
    if (s.seq >= meta.nextSeq) return `segment ${s.seq} is numbered past nextSeq ${meta.nextSeq}`;
    const p = segmentProblem(s, meta.dims);
    if (p) return `segment ${s.seq}: ${p}`;
    const rowOf = new Map<number, string>();
    for (let i = 0; i < s.keys.length; i++) {
      const k = s.keys[i];
      if (keys.has(k)) return `key ${k} appears in two segments`;
      if (k >= meta.nextKey) return `key ${k} is at or past nextKey ${meta.nextKey}`;
      keys.add(k);
      rowOf.set(k, s.ids[i]);
      if (dead.has(k)) continue;
      if (liveIds.has(s.ids[i])) return `document ${JSON.stringify(s.ids[i])} is live twice`;
      liveIds.add(s.ids[i]);
    }
    const recorded = new Set<number>();
    for (const d of docs[j] ?? []) {
      if (rowOf.get(d.key) !== d.id) return `segment ${s.seq}: document record ${JSON.stringify(d.id)} (key ${d.key}) matches none of its rows`;
      if (recorded.has(d.key)) return `segment ${s.seq}: document record ${JSON.stringify(d.id)} appears twice`;
      recorded.add(d.key);
    }
    for (const [k, id] of rowOf) if (!dead.has(k) && !recorded.has(k)) return `segment ${s.seq}: document ${JSON.stringify(id)} has no record (no text)`;
  }
  for (const k of dead) if (!keys.has(k)) return `tombstone ${k} names no stored row`;
  if (liveIds.size !== meta.docCount) return `${liveIds.size} live documents, the description says ${meta.docCount}`;
  return null;
}
