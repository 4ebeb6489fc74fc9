/**
 * What an index was built with, and what to do when it is opened with something else: the model identity
 * (model id, dims, head hash, dtype) and the BM25 analyzer. Both change what is stored, so a mismatch is
 * refused (M3IndexMismatchError), reset, or re-embedded, as OpenOptions.onMismatch says.
 */
import { checkMergePolicy } from './merge-policy.ts';
import type { AnalyzerOptions } from '../rank/analyzer.ts';
import { cloneableAnalyzerOptions } from '../rank/analyzer.ts';
import { M3IndexMismatchError, modelMismatch } from '../store/errors.ts';
import { freshMeta, identity } from '../store/fresh-meta.ts';
import { IdbStore } from '../store/idb-store.ts';
import { COLBERT_BIT_WIDTHS, DEFAULT_COLBERT_BITS } from '../store/colbert-bits.ts';
import type { MetaRecord, ModelIdentity, Store } from '../store/types.ts';
import type { EncoderLike, OpenOptions } from './types.ts';

/** The identity of the vectors an encoder makes (also what a static package is checked against). */
export function encoderIdentity(info: EncoderLike['info']): ModelIdentity {
  return { modelId: info.modelId ?? info.model ?? '', dims: info.hidden, headHash: info.headHash ?? '', dtype: String(info.dtype ?? '') };
}

export function defaultStore(name: string): Store {
  if (typeof indexedDB !== 'undefined') return new IdbStore(name);
  throw new Error('no IndexedDB here: pass { store: new FileStore(dir) } (Node) or { store: new MemoryStore() }');
}

/** How an index opens: its meta (stored, migrated or fresh) and whether every stored text is re-encoded first. */
export interface OpenPlan {
  meta: MetaRecord;
  /** Set for onMismatch 're-embed': the fresh meta the stored texts are re-encoded into. */
  reembed: MetaRecord | null;
}

/** Checks the stored identity against the given one and applies onMismatch (a 'reset' empties the store). */
export async function planOpen(store: Store, stored: MetaRecord | null, opts: OpenOptions): Promise<OpenPlan> {
  const given = identityOf(opts, stored);
  const analyzer = opts.analyzer ? cloneableAnalyzerOptions(opts.analyzer) : (stored?.analyzer ?? {});
  const bits = opts.colbertBits;
  if (bits !== undefined && !COLBERT_BIT_WIDTHS.includes(bits)) throw new RangeError(`colbertBits must be 1, 2, 4 or 8, got ${String(bits)}`);
  if (opts.merge) checkMergePolicy(opts.merge); // before anything is written
  // A reset or re-embed keeps the stored width unless another is given (int8 for indexes before schema 5).
  const fresh = freshMeta(given, opts.colbert ?? false, analyzer, undefined, bits ?? (stored ? (stored.colbertBits ?? 8) : DEFAULT_COLBERT_BITS));
  if (opts.denseRefine !== undefined && typeof opts.denseRefine !== 'boolean')
    throw new TypeError(`denseRefine must be true or false, got ${String(opts.denseRefine)}`);
  const refine = opts.denseRefine ?? stored?.denseRefine === true;
  if (!stored) return { meta: withRefine(fresh, refine), reembed: null };
  let meta = stored;
  let reembed: MetaRecord | null = null;
  const legacy = stored.headHash === '' && stored.dtype === ''; // migrated from v1: not recorded
  const diff = modelMismatch(stored, given);
  if (opts.analyzer && !sameAnalyzer(stored.analyzer ?? {}, analyzer)) diff.push('analyzer');
  if (diff.length) {
    const mode = opts.onMismatch ?? 'error';
    if (mode === 'error') {
      store.close();
      throw new M3IndexMismatchError(identity(stored), given, diff);
    }
    if (mode === 'reset') {
      await store.reset(fresh);
      meta = fresh;
    } else {
      if (!opts.encoder) throw new Error("onMismatch: 're-embed' needs an encoder");
      reembed = fresh;
    }
  } else if (legacy) meta = { ...stored, headHash: given.headHash, dtype: given.dtype };
  if (opts.colbert === true && !meta.colbert) meta = { ...meta, colbert: true }; // from now on
  if (bits !== undefined && bits !== (meta.colbertBits ?? 8)) meta = { ...meta, colbertBits: bits }; // from now on, as well
  return { meta: withRefine(meta, refine), reembed: reembed && withRefine(reembed, refine) };
}

/** `meta` writing dense residuals (OpenOptions.denseRefine) or not, from now on. */
function withRefine(meta: MetaRecord, refine: boolean): MetaRecord {
  if (refine === (meta.denseRefine === true)) return meta;
  if (refine) return { ...meta, denseRefine: true };
  const { denseRefine: _, ...rest } = meta;
  return rest;
}

function identityOf(opts: OpenOptions, stored: MetaRecord | null): ModelIdentity {
  const e = opts.encoder?.info;
  if (e) {
    if (!(e.modelId ?? e.model)) throw new Error('encoder.info needs modelId (or model)');
    return encoderIdentity(e);
  }
  if (opts.model) return { modelId: opts.model.modelId, dims: opts.model.dims, headHash: opts.model.headHash ?? '', dtype: opts.model.dtype ?? '' };
  if (stored) return identity(stored);
  throw new Error('a new index needs an encoder, or { model: { modelId, dims } } for precomputed embeddings');
}

/** Same analysis, option by option (a stop-word list compares as a set). */
function sameAnalyzer(a: AnalyzerOptions, b: AnalyzerOptions): boolean {
  const norm = (o: AnalyzerOptions) => {
    const c = cloneableAnalyzerOptions(o);
    if (Array.isArray(c.stopWords)) c.stopWords = [...new Set(c.stopWords)].sort();
    return JSON.stringify(Object.entries(c).sort(([x], [y]) => (x < y ? -1 : 1)));
  };
  return norm(a) === norm(b);
}
