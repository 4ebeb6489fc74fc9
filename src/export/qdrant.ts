/**
 * Qdrant export: the body of `PUT /collections/{name}` (named vectors `dense` (Dot) and optionally
 * `colbert` (multivector, max_sim), sparse vectors `sparse`) and points as JSON lines, each line one
 * PointStruct for `PUT /collections/{name}/points` ({ "points": [ …lines… ] }).
 *
 * Dot, not Cosine: Qdrant normalises vectors for Cosine on upload, and the dequantised int8 rows are
 * unit length only to ~1e-3; Dot keeps the exact values m3-search scores with.
 */
import { join } from 'node:path';
import { f32s, type ExportRow, type ExportSource } from './reader.ts';
import { idToUuid, LineWriter, writeJson } from './write.ts';

export const QDRANT_FILES = { collection: 'collection.json', points: 'points.jsonl' } as const;

export function qdrantCollection(dims: number, colbert: boolean): Record<string, unknown> {
  const vectors: Record<string, unknown> = { dense: { size: dims, distance: 'Dot' } };
  if (colbert) vectors.colbert = { size: dims, distance: 'Dot', multivector_config: { comparator: 'max_sim' } };
  return { vectors, sparse_vectors: { sparse: {} } };
}

export function qdrantPoint(row: ExportRow): Record<string, unknown> {
  const vector: Record<string, unknown> = {};
  if (row.dense) vector.dense = f32s(row.dense);
  if (row.sparse?.ids.length) vector.sparse = { indices: Array.from(row.sparse.ids), values: f32s(row.sparse.weights) };
  if (row.colbert?.length) vector.colbert = row.colbert.map(f32s);
  const payload: Record<string, unknown> = { doc_id: row.docId, text: row.text };
  if (row.metadata) payload.metadata = row.metadata;
  if (row.span) {
    payload.passage = row.passage;
    payload.span = row.span;
  }
  return { id: idToUuid(row.pointId), vector, payload };
}

export async function exportQdrant(src: ExportSource, out: string): Promise<{ points: number; files: string[] }> {
  await writeJson(join(out, QDRANT_FILES.collection), qdrantCollection(src.meta.dims, src.meta.colbert));
  const w = await LineWriter.create(join(out, QDRANT_FILES.points));
  try {
    for await (const row of src.rows()) await w.write(qdrantPoint(row));
  } finally {
    await w.close();
  }
  return { points: w.lines, files: Object.values(QDRANT_FILES) };
}

/** Back from a points line to M3 outputs (the round trip). */
export function fromQdrantPoint(p: any): {
  docId: string;
  text: string;
  metadata: Record<string, unknown> | null;
  passage: number;
  dense?: number[];
  sparse?: { ids: number[]; weights: number[] };
  colbert?: number[][];
} {
  const v = p.vector ?? {};
  return {
    docId: p.payload.doc_id,
    text: p.payload.text,
    metadata: p.payload.metadata ?? null,
    passage: p.payload.passage ?? 0,
    ...(v.dense ? { dense: v.dense } : {}),
    sparse: v.sparse ? { ids: v.sparse.indices, weights: v.sparse.values } : { ids: [], weights: [] },
    ...(v.colbert ? { colbert: v.colbert } : {}),
  };
}
