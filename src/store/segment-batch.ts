/**
 * One add() batch to its segment (BM25 block included), and the same batch packed into a few typed arrays for
 * the segment builder worker (worker/segment-build-client.ts): one copy of the vectors, buffers transferred,
 * no per-row objects to clone. Both sides build through batchSegment, so a worker's segment is the main
 * thread's, byte for byte (segment-batch.test.ts and e2e/index.spec.ts compare them).
 */
import type { AnalyzerOptions } from '../rank/analyzer.ts';
import { bm25BlockOf } from './bm25-batch.ts';
import { type BuildOptions, buildSegment, type PreparedDoc, type PreparedRow } from './segment-builder.ts';
import type { SegmentRecord } from './types.ts';

/** A batch as ingest hands it over: documents (key 0, metadata null) and their texts, or null for no BM25 block. */
export interface BatchInput {
  docs: PreparedDoc[];
  texts: string[] | null;
  analyzer: AnalyzerOptions | undefined;
  opts: BuildOptions;
}

/** The segment of a batch: seq and keys are placeholders (0) until the commit fills them in. */
export function batchSegment({ docs, texts, analyzer, opts }: BatchInput): SegmentRecord {
  return { ...buildSegment(0, docs, opts), bm25: texts ? bm25BlockOf(texts, analyzer) : null };
}

/** BatchInput with its rows in flat arrays (row r of the batch: flags[r], its slices of the arrays). */
export interface PackedBatch {
  ids: string[];
  texts: string[] | null;
  analyzer: AnalyzerOptions | undefined;
  opts: BuildOptions;
  /** Rows per document. */
  docRows: Uint32Array;
  /** Per row: DENSE | SPARSE | COLBERT | SPAN, the fields the row has. */
  flags: Uint8Array;
  spans: Uint32Array;
  dense: Float32Array;
  sparseOffsets: Uint32Array;
  sparseIds: Uint32Array;
  sparseWeights: Float32Array;
  colbertOffsets: Uint32Array;
  colbert: Float32Array;
}

const DENSE = 1;
const SPARSE = 2;
const COLBERT = 4;
const SPAN = 8;

/**
 * The batch packed, or null when a row holds anything but the typed arrays an encoder gives (plain arrays,
 * already-coded rows): those build on the main thread, so packing never converts a number.
 */
export function packBatch({ docs, texts, analyzer, opts }: BatchInput): PackedBatch | null {
  const dims = opts.dims;
  let nRows = 0;
  let sparseN = 0;
  let colbertN = 0;
  for (const d of docs)
    for (const row of d.rows) {
      nRows++;
      if (row.denseQ || row.colbertQ || row.colbertB) return null;
      if (row.dense && !(row.dense instanceof Float32Array && row.dense.length === dims)) return null;
      const s = row.sparse;
      if (s) {
        if (!(s.ids instanceof Uint32Array && s.weights instanceof Float32Array && s.ids.length === s.weights.length)) return null;
        sparseN += s.ids.length;
      }
      if (row.colbert) {
        if (!(row.colbert instanceof Float32Array)) return null;
        colbertN += row.colbert.length;
      }
    }
  const p: PackedBatch = {
    ids: docs.map((d) => d.id),
    texts,
    analyzer,
    opts,
    docRows: new Uint32Array(docs.length),
    flags: new Uint8Array(nRows),
    spans: new Uint32Array(nRows * 2),
    dense: new Float32Array(nRows * dims),
    sparseOffsets: new Uint32Array(nRows + 1),
    sparseIds: new Uint32Array(sparseN),
    sparseWeights: new Float32Array(sparseN),
    colbertOffsets: new Uint32Array(nRows + 1),
    colbert: new Float32Array(colbertN),
  };
  let r = 0;
  let s = 0;
  let c = 0;
  docs.forEach((d, i) => {
    p.docRows[i] = d.rows.length;
    for (const row of d.rows) {
      let f = 0;
      if (row.dense) p.dense.set(row.dense, r * dims), (f |= DENSE);
      if (row.sparse) {
        p.sparseIds.set(row.sparse.ids, s);
        p.sparseWeights.set(row.sparse.weights, s);
        s += row.sparse.ids.length;
        f |= SPARSE;
      }
      if (row.colbert) p.colbert.set(row.colbert, c), (c += row.colbert.length), (f |= COLBERT);
      if (row.span) (p.spans[2 * r] = row.span[0]), (p.spans[2 * r + 1] = row.span[1]), (f |= SPAN);
      p.flags[r++] = f;
      p.sparseOffsets[r] = s;
      p.colbertOffsets[r] = c;
    }
  });
  return p;
}

/** The BatchInput a PackedBatch was made from (its rows as views of the packed arrays). */
export function unpackBatch(p: PackedBatch): BatchInput {
  const dims = p.opts.dims;
  let r = 0;
  const docs: PreparedDoc[] = p.ids.map((id, i) => {
    const rows: PreparedRow[] = [];
    for (let k = 0; k < p.docRows[i]; k++, r++) {
      const f = p.flags[r];
      const row: PreparedRow = {};
      if (f & DENSE) row.dense = p.dense.subarray(r * dims, (r + 1) * dims);
      if (f & SPARSE) {
        const [a, b] = [p.sparseOffsets[r], p.sparseOffsets[r + 1]];
        row.sparse = { ids: p.sparseIds.subarray(a, b), weights: p.sparseWeights.subarray(a, b) };
      }
      if (f & COLBERT) row.colbert = p.colbert.subarray(p.colbertOffsets[r], p.colbertOffsets[r + 1]);
      if (f & SPAN) row.span = [p.spans[2 * r], p.spans[2 * r + 1]];
      rows.push(row);
    }
    return { key: 0, id, metadata: null, rows };
  });
  return { docs, texts: p.texts, analyzer: p.analyzer, opts: p.opts };
}

/** The distinct buffers under a value's typed arrays (its objects and arrays walked): what a postMessage can transfer. */
export function buffersOf(value: unknown, out = new Set<ArrayBuffer>()): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) out.add(value.buffer as ArrayBuffer);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) if (v && typeof v === 'object') buffersOf(v, out);
  return [...out];
}
