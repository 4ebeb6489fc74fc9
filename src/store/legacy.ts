/**
 * Layout of schema version 1 (the prototype: one IndexedDB record per document with its vectors
 * inline) and what migration needs from it. Kept so a v1 database opens and migrates; see
 * IdbStore's upgrade and M3Index.open, which re-ingests the legacy records as segments in batches,
 * each batch deleting its legacy records in the same transaction (a crash resumes where it stopped).
 */
export interface V1Meta {
  modelId: string;
  dims: number;
  count: number;
}

export interface LegacyDoc {
  id: string;
  text: string;
  metadata?: Record<string, unknown>;
  dense?: Float32Array;
  sparse?: { ids: Uint32Array; weights: Float32Array };
}
