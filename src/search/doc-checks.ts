/** Checks on documents and ids handed to M3Index, before anything is encoded or written. */
import { M3InputError } from '../errors.ts';
import { MAX_DOC_CHARS } from './chunking.ts';
import type { IndexDoc } from './types.ts';

export function checkId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) throw new M3InputError(`document id must be a non-empty string, got ${JSON.stringify(id)}`);
}

export function validateDocs(docs: IndexDoc[], dims: number): void {
  if (!Array.isArray(docs)) throw new M3InputError('docs must be an array');
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const d of docs) {
    if (d === null || typeof d !== 'object') throw new M3InputError('each document must be an object { id, text }');
    checkId(d.id);
    if (typeof d.text !== 'string') throw new M3InputError(`document "${d.id}": text must be a string`);
    if (d.text.length > MAX_DOC_CHARS)
      throw new M3InputError(`document "${d.id}" has ${d.text.length} characters; at most ${MAX_DOC_CHARS} are indexed: split it into several documents`);
    if (d.metadata !== undefined && (d.metadata === null || typeof d.metadata !== 'object'))
      throw new M3InputError(`document "${d.id}": metadata must be an object`);
    if (seen.has(d.id)) dup.add(d.id);
    seen.add(d.id);
    const e = d.embedding;
    if (e?.dense && e.dense.length !== dims) throw new M3InputError(`document "${d.id}": dense vector has ${e.dense.length} dims, the index has ${dims}`);
    if (e?.colbert && e.colbert.length % dims !== 0)
      throw new M3InputError(`document "${d.id}": colbert length ${e.colbert.length} is not a multiple of ${dims}`);
    if (e?.sparse && e.sparse.ids.length !== e.sparse.weights.length) throw new M3InputError(`document "${d.id}": sparse ids and weights differ in length`);
  }
  if (dup.size) throw new Error(`duplicate ids in one call: ${preview([...dup])}`);
}

/** The first few ids, quoted, for an error message. */
export function preview(ids: string[]): string {
  return (
    ids
      .slice(0, 5)
      .map((s) => JSON.stringify(s))
      .join(', ') + (ids.length > 5 ? ` and ${ids.length - 5} more` : '')
  );
}
