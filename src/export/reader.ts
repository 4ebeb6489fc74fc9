/**
 * Reads an index through the Store interface as plain float rows, the shape every engine ingests:
 * dense int8 codes × row scale → float, sparse uint8 × segment scale → { tokenId: weight }, ColBERT int8
 * or bit-plane codes → float vectors (colbert-bits.ts decodeColbertVector). One row per stored vector row: a whole document, or one passage of a chunked one.
 *
 * The floats are exactly the values m3-search scores with (the dequantised codes), so an engine that
 * scores them by inner product reproduces this library's scores up to float rounding.
 */
import { decodeColbertVector } from '../store/colbert-bits.ts';
import { SCHEMA_VERSION, type DocRecord, type MetaRecord, type SegmentRecord, type Store } from '../store/types.ts';
import { rowsByDoc, sparseByRow } from '../store/segment-merge.ts';

export interface ExportRow {
  /** The point's id: the document id, or `${docId}#${passage}` for passages of a chunked document. */
  pointId: string;
  docId: string;
  /** 0 for whole documents; the passage number otherwise. */
  passage: number;
  /** Character span of the passage in the document text (chunked documents only). */
  span: [number, number] | null;
  text: string;
  metadata: Record<string, unknown> | null;
  dense: Float32Array | null;
  sparse: { ids: Uint32Array; weights: Float32Array } | null;
  /** ColBERT vectors, each of `dims` floats (null when the index keeps none). */
  colbert: Float32Array[] | null;
}

export interface ExportSource {
  meta: MetaRecord;
  rows: () => AsyncGenerator<ExportRow>;
}

/** Opens a store for export. An empty index (no documents) exports valid, empty files. */
export async function openExportSource(store: Store): Promise<ExportSource> {
  const meta = await store.open();
  if (!meta) throw new Error('nothing to export: no index here (no meta record)');
  if (meta.schemaVersion !== SCHEMA_VERSION)
    throw new Error(`index schema version ${meta.schemaVersion}; this version of m3-search exports version ${SCHEMA_VERSION}`);
  return { meta, rows: () => readRows(store, meta) };
}

async function* readRows(store: Store, meta: MetaRecord): AsyncGenerator<ExportRow> {
  const dead = new Set(meta.tombstones);
  const segs = meta.segments.length ? await store.readSegments(meta.segments) : [];
  // Key order = insertion order, so an export lists documents the way they were added.
  segs.sort((a, b) => (a.keys[0] ?? 0) - (b.keys[0] ?? 0) || a.seq - b.seq);
  for (const seg of segs) {
    const liveIdx: number[] = [];
    for (let i = 0; i < seg.keys.length; i++) if (!dead.has(seg.keys[i])) liveIdx.push(i);
    if (!liveIdx.length) continue;
    const docs = await store.getDocs(liveIdx.map((i) => seg.ids[i]));
    const sparseRows = seg.sparse ? sparseByRow(seg) : null;
    const rowsOfDoc = rowsByDoc(seg);
    for (let j = 0; j < liveIdx.length; j++) {
      const i = liveIdx[j];
      const doc: DocRecord | undefined = docs[j];
      // A live key whose record is another version (an upsert committed after this segment) is not this row's document.
      if (!doc || doc.key !== seg.keys[i]) continue;
      const rows = rowsOfDoc[i];
      for (let p = 0; p < rows.length; p++) {
        const r = rows[p];
        const chunked = rows.length > 1;
        yield {
          pointId: chunked ? `${doc.id}#${p}` : doc.id,
          docId: doc.id,
          passage: p,
          span: seg.rowSpans.length && chunked ? [seg.rowSpans[2 * r], seg.rowSpans[2 * r + 1]] : null,
          text: doc.text,
          metadata: seg.metadata[i] ?? null,
          dense: seg.dense ? dequant(seg.dense.codes, r * seg.dense.dims, seg.dense.dims, seg.dense.scales[r]) : null,
          sparse: sparseRows ? sparseRows[r] : null,
          colbert: seg.colbert ? colbertRows(seg, r) : null,
        };
      }
    }
  }
}

function dequant(codes: Int8Array, at: number, dims: number, scale: number): Float32Array {
  const out = new Float32Array(dims);
  for (let i = 0; i < dims; i++) out[i] = codes[at + i] * scale;
  return out;
}

function colbertRows(seg: SegmentRecord, r: number): Float32Array[] {
  const c = seg.colbert!;
  const out: Float32Array[] = [];
  for (let v = c.rowOffsets[r]; v < c.rowOffsets[r + 1]; v++) out.push(decodeColbertVector(c, v));
  return out;
}

/**
 * A float32 as the shortest decimal that reads back as the same float32 (9 significant digits always
 * suffice), so JSON files stay small and an import gets the exact values back.
 */
export function f32(x: number): number {
  if (x === 0) return 0;
  for (let p = 6; p < 9; p++) {
    const v = Number(x.toPrecision(p));
    if (Math.fround(v) === x) return v;
  }
  return Number(x.toPrecision(9));
}

export function f32s(a: ArrayLike<number>): number[] {
  return Array.from(a, f32);
}
