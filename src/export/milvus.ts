/**
 * Milvus export: a collection description in pymilvus' terms (DataType names FLOAT_VECTOR,
 * SPARSE_FLOAT_VECTOR, VARCHAR, INT64, JSON; index params as `add_index` takes them) and insert rows as
 * JSON lines, sparse vectors as { "tokenId": weight } (the dict form pymilvus and the RESTful v2 insert
 * both accept). The guide shows the ten lines of pymilvus that create the collection from it.
 *
 * No ColBERT here: Milvus's dense + sparse hybrid search is what the issue targets; multi-vector fields
 * differ across Milvus versions.
 */
import { join } from 'node:path';
import { f32, f32s, type ExportRow, type ExportSource } from './reader.ts';
import { LineWriter, writeJson } from './write.ts';

export const MILVUS_FILES = { schema: 'schema.json', rows: 'rows.jsonl' } as const;
/** Milvus's VARCHAR limits are in bytes; 65,535 is the most a VARCHAR holds. */
export const MILVUS_ID_BYTES = 512;
export const MILVUS_TEXT_BYTES = 65535;

export function milvusSchema(dims: number, collection = 'm3'): Record<string, unknown> {
  return {
    collection_name: collection,
    auto_id: false,
    enable_dynamic_field: false,
    fields: [
      { name: 'id', data_type: 'VARCHAR', is_primary: true, max_length: MILVUS_ID_BYTES },
      { name: 'doc_id', data_type: 'VARCHAR', max_length: MILVUS_ID_BYTES },
      { name: 'passage', data_type: 'INT64' },
      { name: 'text', data_type: 'VARCHAR', max_length: MILVUS_TEXT_BYTES },
      { name: 'metadata', data_type: 'JSON' },
      { name: 'dense', data_type: 'FLOAT_VECTOR', dim: dims },
      { name: 'sparse', data_type: 'SPARSE_FLOAT_VECTOR' },
    ],
    // FLAT scans exactly, as m3-search does; switch dense to HNSW/AUTOINDEX when the corpus is large.
    index_params: [
      { field_name: 'dense', index_type: 'FLAT', metric_type: 'IP' },
      { field_name: 'sparse', index_type: 'SPARSE_INVERTED_INDEX', metric_type: 'IP' },
    ],
  };
}

const utf8 = new TextEncoder();

export function milvusRow(row: ExportRow, dims: number): { row: Record<string, unknown>; truncated: boolean } {
  if (utf8.encode(row.pointId).byteLength > MILVUS_ID_BYTES)
    throw new Error(`document id "${row.pointId.slice(0, 40)}…" is over ${MILVUS_ID_BYTES} bytes, the primary key's max_length`);
  let text = row.text;
  let truncated = false;
  if (utf8.encode(text).byteLength > MILVUS_TEXT_BYTES) {
    // Cut at a character boundary; the vectors still describe the whole text.
    const bytes = utf8.encode(text).subarray(0, MILVUS_TEXT_BYTES);
    text = new TextDecoder().decode(bytes).replace(/\uFFFD+$/, '');
    truncated = true;
  }
  const sparse: Record<string, number> = {};
  if (row.sparse) row.sparse.ids.forEach((id, i) => (sparse[String(id)] = f32(row.sparse!.weights[i])));
  const out: Record<string, unknown> = {
    id: row.pointId,
    doc_id: row.docId,
    passage: row.passage,
    text,
    metadata: { ...(row.metadata ?? {}), ...(row.span ? { _span: row.span } : {}), ...(truncated ? { _text_truncated: true } : {}) },
    dense: row.dense ? f32s(row.dense) : new Array(dims).fill(0),
    sparse,
  };
  return { row: out, truncated };
}

export async function exportMilvus(src: ExportSource, out: string): Promise<{ points: number; files: string[]; truncatedTexts: number }> {
  await writeJson(join(out, MILVUS_FILES.schema), milvusSchema(src.meta.dims));
  const w = await LineWriter.create(join(out, MILVUS_FILES.rows));
  let truncatedTexts = 0;
  try {
    for await (const r of src.rows()) {
      const { row, truncated } = milvusRow(r, src.meta.dims);
      if (truncated) truncatedTexts++;
      await w.write(row);
    }
  } finally {
    await w.close();
  }
  return { points: w.lines, files: Object.values(MILVUS_FILES), truncatedTexts };
}

export function fromMilvusRow(r: any) {
  const meta = { ...(r.metadata ?? {}) };
  delete meta._span;
  delete meta._text_truncated;
  const ids = Object.keys(r.sparse ?? {})
    .map(Number)
    .sort((a, b) => a - b);
  return {
    docId: r.doc_id as string,
    text: r.text as string,
    metadata: Object.keys(meta).length ? meta : null,
    passage: r.passage as number,
    dense: r.dense as number[],
    sparse: { ids, weights: ids.map((i) => r.sparse[String(i)] as number) },
  };
}
