/**
 * `exportIndex`: writes what Qdrant, Milvus or Vespa ingest from an m3-search index, plus `m3-export.json`
 * (model identity, counts, the fusion settings that reproduce m3-search's ranking). `readExport` is the way
 * back: it turns an export into documents with precomputed embeddings for M3Index.add (the round trip).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IndexDoc } from '../search/types.ts';
import type { ColbertBits, ModelIdentity, Store } from '../store/types.ts';
import { exportMilvus, fromMilvusRow, MILVUS_FILES } from './milvus.ts';
import { exportQdrant, fromQdrantPoint, QDRANT_FILES } from './qdrant.ts';
import { openExportSource } from './reader.ts';
import { exportVespa, fromVespaPut, VESPA_FILES } from './vespa.ts';
import { writeJson } from './write.ts';

export const ENGINES = ['qdrant', 'milvus', 'vespa'] as const;
export type Engine = (typeof ENGINES)[number];
export const EXPORT_MANIFEST = 'm3-export.json';

export interface ExportManifest {
  format: 'm3-search-export';
  version: 1;
  engine: Engine;
  model: ModelIdentity;
  colbert: boolean;
  /** Bits per dimension the index kept ColBERT vectors in (8 = int8; absent in exports before schema 5). */
  colbertBits?: ColbertBits;
  docs: number;
  points: number;
  files: string[];
  exportedAt: string;
}

export interface ExportResult extends ExportManifest {
  truncatedTexts?: number;
}

export async function exportIndex(store: Store, engine: Engine, out: string): Promise<ExportResult> {
  if (!ENGINES.includes(engine)) throw new Error(`unknown engine "${engine}"; valid: ${ENGINES.join(', ')}`);
  const src = await openExportSource(store);
  await mkdir(out, { recursive: true });
  const r = engine === 'qdrant' ? await exportQdrant(src, out) : engine === 'milvus' ? await exportMilvus(src, out) : await exportVespa(src, out);
  const m = src.meta;
  const manifest: ExportManifest = {
    format: 'm3-search-export',
    version: 1,
    engine,
    model: { modelId: m.modelId, dims: m.dims, headHash: m.headHash, dtype: m.dtype },
    colbert: m.colbert && engine !== 'milvus',
    colbertBits: m.colbertBits ?? 8,
    docs: m.docCount,
    points: r.points,
    files: r.files,
    exportedAt: new Date().toISOString(),
  };
  await writeJson(join(out, EXPORT_MANIFEST), manifest);
  const truncatedTexts = (r as { truncatedTexts?: number }).truncatedTexts;
  return { ...manifest, ...(truncatedTexts ? { truncatedTexts } : {}) };
}

/** Reads an export back as documents with their M3 outputs (float32, as exported). */
export async function readExport(dir: string): Promise<{ manifest: ExportManifest; docs: IndexDoc[] }> {
  const manifest = JSON.parse(await readFile(join(dir, EXPORT_MANIFEST), 'utf8')) as ExportManifest;
  if (manifest.format !== 'm3-search-export' || manifest.version !== 1) throw new Error(`${dir}: not an m3-search export (version 1)`);
  const file = manifest.engine === 'qdrant' ? QDRANT_FILES.points : manifest.engine === 'milvus' ? MILVUS_FILES.rows : VESPA_FILES.feed;
  const parse = manifest.engine === 'qdrant' ? fromQdrantPoint : manifest.engine === 'milvus' ? fromMilvusRow : fromVespaPut;
  const text = await readFile(join(dir, file), 'utf8');
  const docs: IndexDoc[] = [];
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const p = parse(JSON.parse(line)) as ReturnType<typeof fromQdrantPoint>;
    if (p.passage > 0 || seen.has(p.docId))
      throw new Error(
        `document "${p.docId}" was chunked into passages; importing passages back is not supported (precomputed embeddings are one row per document)`,
      );
    seen.add(p.docId);
    docs.push({
      id: p.docId,
      text: p.text,
      ...(p.metadata ? { metadata: p.metadata } : {}),
      embedding: {
        ...(p.dense ? { dense: Float32Array.from(p.dense) } : {}),
        ...(p.sparse ? { sparse: { ids: Uint32Array.from(p.sparse.ids), weights: Float32Array.from(p.sparse.weights) } } : {}),
        ...(p.colbert ? { colbert: Float32Array.from(p.colbert.flat()) } : {}),
        tokens: 0,
        truncated: false,
      },
    });
  }
  return { manifest, docs };
}
