/** The meta record of an index with nothing in it yet: what a new index starts from, and the v1 migration too. */
import type { AnalyzerOptions } from '../rank/analyzer.ts';
import { SCHEMA_VERSION, type ColbertBits, type MetaRecord, type ModelIdentity } from './types.ts';

/** Only the identity fields of `m` (a caller may pass a wider object). */
export function identity(m: ModelIdentity): ModelIdentity {
  return { modelId: m.modelId, dims: m.dims, headHash: m.headHash, dtype: m.dtype };
}

/** `colbertBits`: the width ColBERT vectors are written with (absent: int8, as in every index before schema 5). */
export function freshMeta(
  id: ModelIdentity,
  colbert: boolean,
  analyzer: AnalyzerOptions = {},
  schemaVersion = SCHEMA_VERSION,
  colbertBits?: ColbertBits,
): MetaRecord {
  const now = Date.now();
  const meta: MetaRecord = {
    schemaVersion,
    ...identity(id),
    colbert,
    nextKey: 0,
    nextSeq: 0,
    docCount: 0,
    tombstones: [],
    segments: [],
    createdAt: now,
    updatedAt: now,
  };
  if (Object.keys(analyzer).length) meta.analyzer = analyzer; // absent = the default analyzer (older indexes too)
  if (colbertBits !== undefined) meta.colbertBits = colbertBits;
  return meta;
}
